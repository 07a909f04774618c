// Package seccomp compiles the runtime-spec linux.seccomp section into a
// classic BPF program and installs it with seccomp(2).
//
// The work is split the way crun splits it, so that the container's init
// stage does as little as possible:
//
//   - Compile (or CompileCached) runs in the runtime parent while the child
//     sets up its namespaces. It validates the profile (errors name the
//     field, e.g. linux.seccomp.syscalls[3].action), builds the filter with
//     libseccomp, exports the BPF and prepends an -ENOSYS stub like runc's
//     patchbpf, so that syscalls newer than the profile fail with ENOSYS (and
//     libc falls back) instead of the profile's default errno.
//   - The Program crosses to init as bytes (MarshalBinary/UnmarshalBinary).
//   - Load runs in init on the thread that will execve, right before it. It
//     is one raw seccomp(2) call: no libseccomp, no allocation, no goroutine.
//   - When a rule uses SCMP_ACT_NOTIFY, Load returns the listener fd, and
//     SendListener hands it to the seccomp agent at linux.seccomp.listenerPath.
//
// CompileCached keeps compiled programs in a directory keyed by the SHA-256 of
// the canonical profile, the libseccomp version and the architecture; a
// damaged or foreign entry is ignored and rewritten.
package seccomp
