package specgen

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var propagations = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}

// userMounts returns the container's own mounts, normalized like dockerd
// does and sorted parents first: the options' mounts, then the engine's
// network files and the IPC mount, skipping those a user mount replaces.
func userMounts(o *Options) ([]specs.Mount, error) {
	var ms []specs.Mount
	dests := map[string]bool{}
	for i, m := range o.Mounts {
		if m.Destination == "" || !path.IsAbs(m.Destination) {
			return nil, fmt.Errorf("mount %d (source %q): destination %q must be an absolute path", i, m.Source, m.Destination)
		}
		m.Destination = path.Clean(m.Destination)
		if dests[m.Destination] {
			return nil, fmt.Errorf("duplicate mount point: %s", m.Destination)
		}
		dests[m.Destination] = true
		var err error
		switch {
		case m.Type == "tmpfs":
			m.Options, err = mergeTmpfsOptions(append([]string{"noexec", "nosuid", "nodev", "rprivate"}, m.Options...))
			if err != nil {
				return nil, fmt.Errorf("tmpfs mount %s: %w", m.Destination, err)
			}
			if m.Source == "" {
				m.Source = "tmpfs"
			}
		case m.Type == "bind" || m.Type == "" && (slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")):
			m.Type = "bind"
			if !path.IsAbs(m.Source) {
				return nil, fmt.Errorf("bind mount %s: source %q must be an absolute path", m.Destination, m.Source)
			}
			opts := append([]string{}, m.Options...)
			if !slices.Contains(opts, "bind") && !slices.Contains(opts, "rbind") {
				opts = append([]string{"rbind"}, opts...)
			}
			if !slices.ContainsFunc(opts, func(s string) bool { return slices.Contains(propagations, s) }) {
				opts = append(opts, "rprivate")
			}
			m.Options = opts
		}
		ms = append(ms, m)
	}
	bind := func(src, dst string, writable bool) {
		if src == "" || dests[dst] {
			return
		}
		opts := []string{"rbind"}
		if !writable {
			opts = append(opts, "ro")
		}
		ms = append(ms, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append(opts, "rprivate")})
		dests[dst] = true
	}
	bind(o.ResolvConf, "/etc/resolv.conf", !o.ReadOnly)
	bind(o.HostnameFile, "/etc/hostname", !o.ReadOnly)
	bind(o.HostsFile, "/etc/hosts", !o.ReadOnly)
	switch {
	case o.Namespaces.IPCNone:
	case o.Namespaces.ShmPath != "":
		bind(o.Namespaces.ShmPath, "/dev/shm", true)
	case o.Namespaces.IPCHost:
		bind("/dev/shm", "/dev/shm", true)
	}
	// Parents before children: Docker sorts by the number of path elements.
	sort.SliceStable(ms, func(i, j int) bool { return depth(ms[i].Destination) < depth(ms[j].Destination) })
	return ms, nil
}

func depth(p string) int { return len(strings.Split(path.Clean(p), "/")) }

// buildMounts is dockerd's WithMounts: defaults minus those a user mount
// replaces (all of /dev/* when /dev is replaced; /dev/shm with --ipc none),
// /dev/shm sized, then the user mounts; --read-only makes the remaining
// defaults read-only, --privileged makes /sys and cgroups writable.
func buildMounts(o *Options, s *specs.Spec, user []specs.Mount) {
	own := map[string]bool{}
	for _, m := range user {
		own[m.Destination] = true
	}
	shm := o.ShmSize
	if shm <= 0 {
		shm = DefaultShmSize
	}
	var out []specs.Mount
	for _, m := range s.Mounts {
		if own[m.Destination] || own["/dev"] && strings.HasPrefix(m.Destination, "/dev/") {
			continue
		}
		if m.Destination == "/dev/shm" {
			if o.Namespaces.IPCNone {
				continue
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(shm, 10))
		}
		out = append(out, m)
	}
	out = append(out, user...)
	if o.ReadOnly {
		for i, m := range out {
			switch m.Destination {
			case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
				continue
			}
			if !own[m.Destination] && !slices.Contains(m.Options, "ro") {
				out[i].Options = append(out[i].Options, "ro")
			}
		}
	}
	if o.Privileged {
		for i, m := range out {
			if m.Destination == "/sys" || m.Type == "cgroup" {
				out[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(s string) bool { return s == "ro" })
			}
		}
		s.Linux.MaskedPaths = nil
		s.Linux.ReadonlyPaths = nil
	}
	// A shared or slave bind needs a root propagation that lets events through.
	for _, m := range user {
		switch {
		case slices.Contains(m.Options, "shared") || slices.Contains(m.Options, "rshared"):
			if p := s.Linux.RootfsPropagation; p != "shared" && p != "rshared" {
				s.Linux.RootfsPropagation = "shared"
			}
		case slices.Contains(m.Options, "slave") || slices.Contains(m.Options, "rslave"):
			switch s.Linux.RootfsPropagation {
			case "shared", "rshared", "slave", "rslave":
			default:
				s.Linux.RootfsPropagation = "rslave"
			}
		}
	}
	s.Mounts = out
}

// tmpfs data options Docker accepts.
var tmpfsData = map[string]bool{"size": true, "mode": true, "uid": true, "gid": true, "nr_inodes": true, "nr_blocks": true, "mpol": true}

// tmpfs flag options, keyed by the flag they set or clear ("exec" undoes
// "noexec"); all propagation modes share one key.
var tmpfsFlags = map[string]string{
	"ro": "ro", "rw": "ro",
	"suid": "suid", "nosuid": "suid",
	"dev": "dev", "nodev": "dev",
	"exec": "exec", "noexec": "exec",
	"sync": "sync", "async": "sync",
	"dirsync": "dirsync",
	"remount": "remount",
	"mand":    "mand", "nomand": "mand",
	"atime": "atime", "noatime": "atime",
	"diratime": "diratime", "nodiratime": "diratime",
	"bind": "bind", "rbind": "bind",
	"relatime": "relatime", "norelatime": "relatime",
	"strictatime": "strictatime", "nostrictatime": "strictatime",
	"private": "prop", "rprivate": "prop", "shared": "prop", "rshared": "prop",
	"slave": "prop", "rslave": "prop", "unbindable": "prop", "runbindable": "prop",
}

// mergeTmpfsOptions is moby's MergeTmpfsOptions: later options win, one per
// flag and per data key, order otherwise kept.
func mergeTmpfsOptions(opts []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i := len(opts) - 1; i >= 0; i-- {
		o := opts[i]
		if o == "defaults" || o == "" {
			continue
		}
		key, ok := tmpfsFlags[o]
		if !ok {
			k, _, hasValue := strings.Cut(o, "=")
			if !hasValue || !tmpfsData[k] {
				return nil, fmt.Errorf("invalid tmpfs option %q", o)
			}
			key = "=" + k
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append([]string{o}, out...)
	}
	return out, nil
}
