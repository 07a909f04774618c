package specgen

import (
	"fmt"
	"os"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// seccompProfile picks the container's filter the way dockerd's
// WithSeccomp does; s must already hold the final capabilities, since the
// default profile allows some syscalls only with some capabilities.
func seccompProfile(o *Options, s *specs.Spec) (*specs.LinuxSeccomp, error) {
	switch {
	case o.Seccomp == "unconfined", o.Privileged:
		return nil, nil
	case o.Seccomp == "" || o.Seccomp == "builtin":
		p, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			return nil, fmt.Errorf("default seccomp profile: %w", err)
		}
		return p, nil
	}
	body, err := os.ReadFile(o.Seccomp)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", o.Seccomp, err)
	}
	// One loader for both formats: Docker's profile and the OCI
	// linux.seccomp object share their field names.
	p, err := seccomp.LoadProfile(string(body), s)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", o.Seccomp, err)
	}
	if p == nil {
		return nil, nil
	}
	if err := checkSeccomp(p); err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", o.Seccomp, err)
	}
	return p, nil
}

var seccompActions = map[specs.LinuxSeccompAction]bool{
	specs.ActKill: true, specs.ActKillProcess: true, specs.ActKillThread: true,
	specs.ActTrap: true, specs.ActErrno: true, specs.ActTrace: true,
	specs.ActAllow: true, specs.ActLog: true, specs.ActNotify: true,
}

// checkSeccomp catches what would otherwise surface only when the runtime
// compiles the filter: a missing or unknown action, a rule without names.
func checkSeccomp(p *specs.LinuxSeccomp) error {
	if p.DefaultAction == "" {
		return fmt.Errorf("defaultAction: missing")
	}
	if !seccompActions[p.DefaultAction] {
		return fmt.Errorf("defaultAction: unknown action %q", p.DefaultAction)
	}
	for i, sc := range p.Syscalls {
		if len(sc.Names) == 0 {
			return fmt.Errorf("syscalls[%d]: no names", i)
		}
		if !seccompActions[sc.Action] {
			return fmt.Errorf("syscalls[%d] (%s): unknown action %q", i, sc.Names[0], sc.Action)
		}
	}
	return nil
}
