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
//   - The runtime's init plan carries the filter (Filter, LoadFlags); the
//     init stage (C, oci/initproc) loads it with one raw seccomp(2) call on
//     the thread that will execve, right before it. Load does the same from
//     Go, for callers that are not the init stage.
//   - When a rule uses SCMP_ACT_NOTIFY, loading returns the listener fd,
//     and SendListener hands it to the seccomp agent at
//     linux.seccomp.listenerPath.
//
// Typical use in the runtime:
//
//	// parent, while the child sets up
//	prog, err := seccomp.CompileCached(spec.Linux.Seccomp, filepath.Join(stateRoot, ".seccomp"))
//	// -> initproc.Config.Seccomp; the stage loads prog.Filter with prog.LoadFlags()
//
//	// parent, if prog.Notify and listenerPath is set, with the fd init sent
//	err = seccomp.SendListener(cfg.ListenerPath, fd, state)
//
// CompileCached keeps compiled programs in a directory keyed by the SHA-256 of
// the canonical profile, the libseccomp version and the architecture; a
// damaged or foreign entry is ignored and rewritten.
package seccomp
