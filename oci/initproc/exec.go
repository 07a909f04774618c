package initproc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// runExec prepares a process that joins a running container. The nsenter
// constructor already entered the container's namespaces (and root) before
// the Go runtime started; the runtime has put us in the container's cgroup.
func (s *stage) runExec() error {
	proc := s.cfg.Process
	if proc == nil {
		return fmt.Errorf("exec: no process")
	}
	if proc.Terminal {
		// nsenter may have forked after entering the pid namespace: this
		// process is then not the session leader the runtime made, and a
		// controlling terminal needs one.
		if _, err := unix.Setsid(); err != nil && err != unix.EPERM {
			return fmt.Errorf("setsid: %w", err)
		}
		if err := s.setupConsole(false); err != nil {
			return err
		}
	}
	if err := applyProcessAttrs(proc, s.cfg.Spec); err != nil {
		return err
	}
	if err := setLSMLabels(proc); err != nil {
		return err
	}
	argv0, err := lookPath(proc)
	if err != nil {
		return &execError{127, err}
	}
	return s.finalize(proc, argv0, false)
}
