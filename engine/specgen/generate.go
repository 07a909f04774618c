package specgen

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Generate returns the runtime spec of a container, as dockerd's createSpec
// builds it. With o.Rootfs set it reads the image's /etc/passwd and
// /etc/group and creates the working directory in it.
func Generate(o *Options) (*specs.Spec, error) {
	if o == nil {
		return nil, errors.New("specgen: nil options")
	}
	args, err := Args(o.Image.Entrypoint, o.Image.Cmd, o.Entrypoint, o.Cmd)
	if err != nil {
		return nil, err
	}
	if _, err := StopSignal(o.Image.StopSignal, o.StopSignal); err != nil {
		return nil, fmt.Errorf("stop signal: %w", err)
	}
	if err := checkResources(&o.Resources); err != nil {
		return nil, err
	}

	// User: -u, else the image's; --group-add after the passwd groups.
	userSpec := o.User
	if userSpec == "" {
		userSpec = o.Image.User
	}
	uid, gid, gids, home, err := LookupUser(o.Rootfs, userSpec)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", userSpec, err)
	}
	added, err := LookupGroups(o.Rootfs, o.GroupAdd)
	if err != nil {
		return nil, fmt.Errorf("--group-add: %w", err)
	}
	gids = append(gids, added...)

	ns, err := namespaces(o)
	if err != nil {
		return nil, err
	}
	// sethostname(2) and setdomainname(2) take at most 64 bytes.
	if len(o.Hostname) > 64 || strings.ContainsAny(o.Hostname, "/ \t\n\x00") {
		return nil, fmt.Errorf("invalid hostname %q: at most 64 characters, no spaces or slashes", o.Hostname)
	}
	if len(o.Domainname) > 64 || strings.ContainsAny(o.Domainname, "/ \t\n\x00") {
		return nil, fmt.Errorf("invalid domainname %q: at most 64 characters, no spaces or slashes", o.Domainname)
	}
	hostname := o.Hostname
	if hostname == "" && (networkHost(o) || o.Namespaces.UTSHost) {
		hostname, _ = os.Hostname() // Docker shows the host's name then
	}

	cwd := o.WorkingDir
	if cwd == "" {
		cwd = o.Image.WorkingDir
	}
	if cwd != "" {
		if !path.IsAbs(cwd) {
			return nil, fmt.Errorf("the working directory %q is invalid, it needs to be an absolute path", cwd)
		}
		cwd = path.Clean(cwd)
	} else {
		cwd = "/"
	}

	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: o.Tty,
			User:     specs.User{UID: uid, GID: gid, AdditionalGids: gids},
			Args:     args,
			Env:      containerEnv(MergeEnv(o.Image.Env, o.Env), hostname, o.Tty, home),
			Cwd:      cwd,
			Rlimits:  append([]specs.POSIXRlimit(nil), o.Ulimits...),

			NoNewPrivileges: o.NoNewPrivileges,
		},
		Root:   &specs.Root{Path: o.Rootfs, Readonly: o.ReadOnly},
		Mounts: defaultMounts(),
		Linux: &specs.Linux{
			Namespaces:    ns,
			MaskedPaths:   DefaultMaskedPaths(),
			ReadonlyPaths: DefaultReadonlyPaths(),
			Devices:       []specs.LinuxDevice{},
			CgroupsPath:   o.CgroupsPath,
		},
	}
	if !o.Namespaces.UTSHost {
		s.Hostname = hostname
	}
	if o.Tty && o.ConsoleSize != nil {
		cs := *o.ConsoleSize
		s.Process.ConsoleSize = &cs
	}
	oom := o.OOMScoreAdj
	s.Process.OOMScoreAdj = &oom
	if err := checkRlimits(s.Process.Rlimits); err != nil {
		return nil, err
	}

	if s.Linux.Sysctl, err = sysctls(o); err != nil {
		return nil, err
	}

	s.Linux.Resources = linuxResources(o.Resources)
	s.Linux.Resources.Devices = defaultDeviceRules()
	if err := applyDevices(o, s); err != nil {
		return nil, err
	}

	capList, err := Capabilities(o.CapAdd, o.CapDrop, o.Privileged)
	if err != nil {
		return nil, err
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: capList}
	// A non-root process loses them at execve anyway; dockerd drops them
	// up front (its SetCapabilities), which also keeps them out of exec.
	if uid == 0 {
		s.Process.Capabilities.Effective = append([]string(nil), capList...)
		s.Process.Capabilities.Permitted = append([]string(nil), capList...)
	}
	// After the capabilities: the default profile depends on them.
	if s.Linux.Seccomp, err = seccompProfile(o, s); err != nil {
		return nil, err
	}

	// --init, only where the container has its own pid namespace.
	if o.Init != "" && !o.Namespaces.PIDHost && o.Namespaces.PIDPath == "" {
		if err := checkInit(o.Init); err != nil {
			return nil, err
		}
		s.Process.Args = append([]string{initPath, "--"}, s.Process.Args...)
		s.Mounts = append(s.Mounts, specs.Mount{Destination: initPath, Type: "bind", Source: o.Init, Options: []string{"bind", "ro"}})
	}
	um, err := userMounts(o)
	if err != nil {
		return nil, err
	}
	buildMounts(o, s, um)

	if s.Process.ApparmorProfile, err = apparmorProfile(o); err != nil {
		return nil, err
	}
	if s.Process.SelinuxLabel, err = selinuxLabel(o); err != nil {
		return nil, err
	}
	if len(o.Annotations) > 0 {
		s.Annotations = maps.Clone(o.Annotations)
	}
	// Last, so that a rejected option leaves the rootfs untouched. Docker
	// creates it owned by its root identity.
	if o.Rootfs != "" && cwd != "/" {
		if err := EnsureWorkdir(o.Rootfs, cwd, 0, 0); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// rlimitTypes are the process.rlimits types Linux has.
var rlimitTypes = map[string]bool{
	"RLIMIT_AS": true, "RLIMIT_CORE": true, "RLIMIT_CPU": true, "RLIMIT_DATA": true,
	"RLIMIT_FSIZE": true, "RLIMIT_LOCKS": true, "RLIMIT_MEMLOCK": true, "RLIMIT_MSGQUEUE": true,
	"RLIMIT_NICE": true, "RLIMIT_NOFILE": true, "RLIMIT_NPROC": true, "RLIMIT_RSS": true,
	"RLIMIT_RTPRIO": true, "RLIMIT_RTTIME": true, "RLIMIT_SIGPENDING": true, "RLIMIT_STACK": true,
}

func checkRlimits(rl []specs.POSIXRlimit) error {
	seen := map[string]bool{}
	for _, r := range rl {
		name := strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))
		if !rlimitTypes[r.Type] {
			return fmt.Errorf("ulimit %q: unknown limit (want one of core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack, as)", name)
		}
		if r.Soft > r.Hard {
			return fmt.Errorf("ulimit %s: soft limit %d is larger than hard limit %d", name, r.Soft, r.Hard)
		}
		if seen[r.Type] {
			return fmt.Errorf("ulimit %s: given twice", name)
		}
		seen[r.Type] = true
	}
	return nil
}
