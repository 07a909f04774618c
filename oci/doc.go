// Package oci is berth's OCI runtime: given a bundle (config.json and a
// root filesystem) it creates an isolated container process and manages
// its life: state, start, kill, pause, exec, update and delete. Its command
// line is runc's (see cli/runtime.go), so containerd, Podman, CRI-O and
// dockerd can use berth as their runc.
//
// Process model (chosen for start-up speed, see DESIGN.md): the runtime
// clones its child with every new namespace at once (SysProcAttr
// Cloneflags and uid/gid maps), joins existing net/ipc/uts/pid/cgroup/time
// namespaces on the cloning thread beforehand, and re-execs a sealed,
// read-only view of its own (static) binary. In that child no Go runtime
// starts: a C constructor (package initproc) runs the plan the runtime
// compiled from config.json, builds the rootfs and execs the container
// process. Joining an existing mount or user namespace (and exec into a
// running container) goes through the same constructor first. Seccomp is
// compiled here, in the parent, and cached. A container's state is one
// file, <root>/<id>.json, plus <root>/<id>.fifo until it is started.
package oci
