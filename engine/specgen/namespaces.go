package specgen

import (
	"fmt"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func networkHost(o *Options) bool {
	return o.Namespaces.NetworkHost || o.Namespaces.NetworkPath == "host"
}

// cgroup2Host reports whether /sys/fs/cgroup is a pure cgroup v2 mount.
func cgroup2Host() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// namespaces is dockerd's WithNamespaces: mount, network, uts, pid and ipc
// of its own unless shared; a cgroup namespace on cgroup v2 hosts (and
// with --cgroupns private).
func namespaces(o *Options) ([]specs.LinuxNamespace, error) {
	n := o.Namespaces
	joinable := func(field, p string) error {
		if p != "" && !path.IsAbs(p) {
			return fmt.Errorf("%s %q: must be an absolute path to a namespace file", field, p)
		}
		return nil
	}
	netPath := n.NetworkPath
	if netPath == "host" {
		netPath = ""
	}
	for _, c := range []struct{ field, p string }{{"network namespace", netPath}, {"pid namespace", n.PIDPath}, {"ipc namespace", n.IPCPath}} {
		if err := joinable(c.field, c.p); err != nil {
			return nil, err
		}
	}
	if n.IPCHost && (n.IPCPath != "" || n.IPCNone) {
		return nil, fmt.Errorf("ipc namespace: host conflicts with a path or none")
	}
	if n.PIDHost && n.PIDPath != "" {
		return nil, fmt.Errorf("pid namespace: host conflicts with path %q", n.PIDPath)
	}
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if !networkHost(o) {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netPath})
	}
	if !n.UTSHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.UTSNamespace})
	}
	if !n.PIDHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: n.PIDPath})
	}
	if !n.IPCHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: n.IPCPath})
	}
	switch n.Cgroup {
	case "private":
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	case "host":
	case "":
		if cgroup2Host() {
			ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		}
	default:
		return nil, fmt.Errorf("cgroup namespace mode %q: want host or private", n.Cgroup)
	}
	return ns, nil
}
