package oci

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/berth-dev/berth/oci/caps"
	"github.com/berth-dev/berth/oci/cgroups"
	"github.com/berth-dev/berth/oci/initproc"
	"github.com/berth-dev/berth/oci/seccomp"
)

// Features describes what this runtime supports (`runc features`).
func Features() *features.Features {
	t := true
	var opts []string
	for _, m := range initproc.MountOptionNames() {
		opts = append(opts, m)
	}
	sort.Strings(opts)
	var ns []string
	for t := range nsTypes {
		ns = append(ns, string(t))
	}
	sort.Strings(ns)
	actions, ops, archs, flags := seccomp.Known()
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  opts,
		Linux: &features.Linux{
			Namespaces:   ns,
			Capabilities: caps.Names(),
			Cgroup: &features.Cgroup{
				V1: &t, V2: &t, Systemd: &t, SystemdUser: &t,
			},
			Seccomp: &features.Seccomp{
				Enabled: &t, Actions: actions, Operators: ops, Archs: archs,
				KnownFlags: flags, SupportedFlags: flags,
			},
			Apparmor:        &features.Apparmor{Enabled: boolp(initproc.AppArmorEnabled())},
			Selinux:         &features.Selinux{Enabled: boolp(initproc.SELinuxEnabled())},
			IntelRdt:        &features.IntelRdt{Enabled: boolp(false)},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: boolp(false)}},
		},
		Annotations: map[string]string{
			"org.opencontainers.runtime-spec.features.host.cgroup-mode": cgroups.HostMode().String(),
			"io.github.berth.runtime":                                   "berth",
		},
	}
	return f
}

func boolp(b bool) *bool { return &b }

// Stats reads the container's cgroup counters.
func (c *Container) Stats() (*cgroups.Stats, error) {
	m, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return m.Stats()
}
