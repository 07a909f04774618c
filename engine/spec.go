package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/engine/specgen"
)

// buildSpec turns the record into the runtime spec. It runs at start, with
// the rootfs mounted: users are looked up in the image's /etc/passwd then,
// as Docker does.
// The /etc files it names are written by start (writeEtcFiles).
func (e *Engine) buildSpec(ctx context.Context, c *Container) (*specs.Spec, error) {
	dir := e.containerDir(c.ID)
	o := &specgen.Options{
		Rootfs:       e.rootfs(c.ID),
		Cmd:          c.Config.Cmd,
		Env:          c.Config.Env,
		WorkingDir:   c.Config.WorkingDir,
		User:         c.Config.User,
		GroupAdd:     c.HostConfig.GroupAdd,
		Hostname:     hostname(c),
		Domainname:   c.Config.Domainname,
		Tty:          c.Config.Tty,
		OpenStdin:    c.Config.OpenStdin,
		ReadOnly:     c.HostConfig.ReadonlyRootfs,
		Privileged:   c.HostConfig.Privileged,
		CapAdd:       c.HostConfig.CapAdd,
		CapDrop:      c.HostConfig.CapDrop,
		Sysctls:      c.HostConfig.Sysctls,
		ShmSize:      c.HostConfig.ShmSize,
		CgroupsPath:  "/berth/" + c.ID,
		HostsFile:    e.hostsFile(c),
		HostnameFile: filepath.Join(dir, "hostname"),
		ResolvConf:   filepath.Join(dir, "resolv.conf"),
		Labels:       c.Config.Labels,
		StopSignal:   c.Config.StopSignal,
		Image:        c.ImageConfig,
	}
	if c.Config.Entrypoint != nil {
		ep := c.Config.Entrypoint
		o.Entrypoint = &ep
	}
	if err := securityOpts(o, c.HostConfig.SecurityOpt); err != nil {
		return nil, err
	}
	o.Resources = specgen.Resources{
		Memory:            c.HostConfig.Memory,
		MemoryReservation: c.HostConfig.MemoryReservation,
		MemorySwap:        c.HostConfig.MemorySwap,
		NanoCPUs:          c.HostConfig.NanoCpus,
		CPUShares:         c.HostConfig.CpuShares,
		CPUSetCPUs:        c.HostConfig.CpusetCpus,
	}
	if c.HostConfig.PidsLimit != nil {
		o.Resources.PidsLimit = *c.HostConfig.PidsLimit
	}
	for _, u := range c.HostConfig.Ulimits {
		o.Ulimits = append(o.Ulimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	for _, d := range c.HostConfig.Devices {
		dev, err := specgen.ParseDevice(d)
		if err != nil {
			return nil, err
		}
		o.Devices = append(o.Devices, dev)
	}
	vpaths, err := e.mountVolumes(c)
	if err != nil {
		return nil, err
	}
	for _, m := range c.Mounts {
		if p, ok := vpaths[m.Name]; ok && m.Type == "volume" {
			m.Source = p
		}
		opts := []string{"rbind"}
		if !m.RW {
			opts = append(opts, "ro")
		}
		if m.Propagation != "" {
			opts = append(opts, m.Propagation)
		}
		o.Mounts = append(o.Mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	for dst, opt := range c.HostConfig.Tmpfs {
		opts := []string{"nosuid", "nodev", "noexec"}
		if opt != "" {
			opts = append(opts, strings.Split(opt, ",")...)
		}
		o.Mounts = append(o.Mounts, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	switch {
	case c.HostConfig.NetworkMode == "host":
		o.Namespaces.NetworkHost = true
	case c.Network != nil && c.Network.NetNS != "":
		o.Namespaces.NetworkPath = c.Network.NetNS
		o.Namespaces.NetworkShared = c.Network.HostsFrom != ""
	}
	if c.HostConfig.Init {
		init, err := specgen.FindInit()
		if err != nil {
			return nil, err
		}
		o.Init = init
	}
	s, err := specgen.Generate(o)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// securityOpts applies --security-opt values.
func securityOpts(o *specgen.Options, list []string) error {
	for _, s := range list {
		k, v, _ := strings.Cut(s, "=")
		if !strings.Contains(s, "=") {
			k, v, _ = strings.Cut(s, ":")
		}
		switch k {
		case "seccomp":
			o.Seccomp = v
		case "no-new-privileges":
			o.NoNewPrivileges = v == "" || v == "true"
		case "apparmor":
			o.AppArmor = v
		case "label":
			if v == "disable" {
				continue
			}
			o.SELinuxLabel = v
		default:
			return fmt.Errorf("invalid --security-opt: %q", s)
		}
	}
	return nil
}
