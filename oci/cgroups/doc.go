// Package cgroups is the cgroup manager of berth's OCI runtime.
//
// It turns the linux.resources section of an OCI runtime spec into cgroup
// files, on every host layout:
//
//   - Legacy: cgroup v1 only, one hierarchy per mounted controller set;
//   - Hybrid: v1 hierarchies plus an empty cgroup2 at /sys/fs/cgroup/unified,
//     where the container's dir is created and joined too (like runc), while
//     limits go through v1 (hugetlb falls back to v2 when only v2 has it);
//   - Unified: pure cgroup v2.
//
// The driver is always cgroupfs: a systemd-style cgroupsPath
// ("slice:prefix:name") is only translated to the directory systemd would
// use, without talking to systemd over D-Bus.
//
// Device rules become a BPF_PROG_TYPE_CGROUP_DEVICE program on v2 (built by
// a small assembler of our own and loaded with plain bpf(2): cilium/ebpf's
// feature probes and imports cost every runtime start ~0.5 ms; its tests
// still check our bytes against it) and devices.allow/deny writes on v1.
//
// Paths maps each v1 controller to its dir and "" to the v2 dir (pure v2,
// or the unified dir of a hybrid host).
//
// Create, Apply and Destroy are on the critical path of every container
// start, so the manager only touches files for resources that are set, uses
// raw syscalls for the writes, and reads the mount table once per process.
package cgroups
