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
// Typical use in the runtime:
//
//	// parent, while the child sets up
//	prog, err := seccomp.CompileCached(spec.Linux.Seccomp, filepath.Join(stateRoot, "cache", "seccomp"))
//	data, _ := prog.MarshalBinary() // write to init's pipe (at most MaxEncodedSize bytes)
//
//	// init, last step before execve, goroutine locked to its thread
//	var p seccomp.Program
//	err := p.UnmarshalBinary(data)
//	unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) // if process.noNewPrivileges
//	fd, err := seccomp.Load(&p) // fd >= 0 only if p.Notify: pass it to the parent
//
//	// parent, if p.Notify and listenerPath is set
//	err = seccomp.SendListener(cfg.ListenerPath, fd, state)
//
// CompileCached keeps compiled programs in a directory keyed by the SHA-256 of
// the canonical profile, the libseccomp version and the architecture; a
// damaged or foreign entry is ignored and rewritten.
package seccomp
