package oci

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/oci/caps"
	"github.com/berth-dev/berth/oci/initproc"
	"github.com/berth-dev/berth/oci/specjson"
)

// ConfigError is bad input in config.json; Field names where.
type ConfigError struct {
	File  string
	Field string
	Msg   string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// LoadSpec reads and validates bundle/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	p := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("bundle %s: no config.json: %w", bundle, err)
		}
		return nil, err
	}
	var s specs.Spec
	if err := specjson.Unmarshal(b, &s); err != nil {
		return nil, &ConfigError{File: p, Msg: "malformed JSON: " + err.Error()}
	}
	if err := Validate(&s, bundle); err != nil {
		if ce, ok := err.(*ConfigError); ok {
			ce.File = p
		}
		return nil, err
	}
	return &s, nil
}

var nsTypes = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// Validate checks what the runtime relies on, naming the field at fault.
func Validate(s *specs.Spec, bundle string) error {
	bad := func(field, f string, a ...any) error {
		return &ConfigError{File: "config.json", Field: field, Msg: fmt.Sprintf(f, a...)}
	}
	if s.Version == "" {
		return bad("ociVersion", "missing")
	}
	if !strings.HasPrefix(s.Version, "1.") {
		return bad("ociVersion", "%q is not a supported version (1.x)", s.Version)
	}
	if s.Root == nil || s.Root.Path == "" {
		return bad("root.path", "missing")
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if st, err := os.Stat(rootfs); err != nil {
		return bad("root.path", "rootfs %s: %v", rootfs, err)
	} else if !st.IsDir() {
		return bad("root.path", "rootfs %s is not a directory", rootfs)
	}
	if s.Process == nil {
		return bad("process", "missing")
	}
	if len(s.Process.Args) == 0 {
		return bad("process.args", "empty: nothing to run")
	}
	if s.Process.Cwd != "" && !filepath.IsAbs(s.Process.Cwd) {
		return bad("process.cwd", "%q is not absolute", s.Process.Cwd)
	}
	if _, err := caps.Compile(s.Process.Capabilities); err != nil {
		return bad("process.capabilities", "%v", err)
	}
	for i, r := range s.Process.Rlimits {
		if _, ok := initproc.Rlimits[r.Type]; !ok {
			return bad(fmt.Sprintf("process.rlimits[%d].type", i), "unknown rlimit %q", r.Type)
		}
		if r.Soft > r.Hard {
			return bad(fmt.Sprintf("process.rlimits[%d]", i), "soft limit %d above hard limit %d", r.Soft, r.Hard)
		}
	}
	if s.Linux == nil {
		return bad("linux", "missing (berth runs Linux containers)")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, n := range s.Linux.Namespaces {
		if _, ok := nsTypes[n.Type]; !ok {
			return bad(fmt.Sprintf("linux.namespaces[%d].type", i), "unknown namespace type %q", n.Type)
		}
		if seen[n.Type] {
			return bad(fmt.Sprintf("linux.namespaces[%d]", i), "namespace %q listed twice", n.Type)
		}
		seen[n.Type] = true
		if n.Path != "" {
			if !filepath.IsAbs(n.Path) {
				return bad(fmt.Sprintf("linux.namespaces[%d].path", i), "%q is not absolute", n.Path)
			}
			if _, err := os.Stat(n.Path); err != nil {
				return bad(fmt.Sprintf("linux.namespaces[%d].path", i), "%v", err)
			}
		}
	}
	if (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return bad("linux.uidMappings", "mappings need a user namespace")
	}
	if (s.Hostname != "" || s.Domainname != "") && !seen[specs.UTSNamespace] {
		return bad("hostname", "setting the hostname needs a uts namespace")
	}
	for k := range s.Linux.Sysctl {
		if strings.Contains(k, "..") || strings.Contains(k, "/") {
			return bad("linux.sysctl", "invalid key %q", k)
		}
		// Only sysctls of a namespace the container has of its own: any
		// other would be written to the host's kernel (runc's list).
		ns, name := sysctlNamespace(k)
		if ns == "" {
			return bad("linux.sysctl", "%q is not in a separate kernel namespace", k)
		}
		if !privateNS(s.Linux, ns) {
			return bad("linux.sysctl", "%q needs a %s namespace of the container's own", k, name)
		}
	}
	if s.Linux.TimeOffsets != nil && !seen[specs.TimeNamespace] {
		return bad("linux.timeOffsets", "offsets need a time namespace")
	}
	for i, m := range s.Mounts {
		if m.Destination == "" {
			return bad(fmt.Sprintf("mounts[%d].destination", i), "empty")
		}
	}
	for i, d := range s.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return bad(fmt.Sprintf("linux.devices[%d].path", i), "%q is not absolute", d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return bad(fmt.Sprintf("linux.devices[%d].type", i), "%q: want c, b, u or p", d.Type)
		}
	}
	if p := s.Linux.RootfsPropagation; p != "" {
		switch p {
		case "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable":
		default:
			return bad("linux.rootfsPropagation", "unknown propagation %q", p)
		}
	}
	if s.Process.ApparmorProfile != "" && !initproc.AppArmorEnabled() {
		return bad("process.apparmorProfile", "%q requested but AppArmor is not enabled on this host", s.Process.ApparmorProfile)
	}
	if s.Process.SelinuxLabel != "" && !initproc.SELinuxEnabled() {
		return bad("process.selinuxLabel", "%q requested but SELinux is not enabled on this host", s.Process.SelinuxLabel)
	}
	if s.Hooks != nil {
		for kind, hs := range map[string][]specs.Hook{"prestart": s.Hooks.Prestart, "createRuntime": s.Hooks.CreateRuntime,
			"createContainer": s.Hooks.CreateContainer, "startContainer": s.Hooks.StartContainer,
			"poststart": s.Hooks.Poststart, "poststop": s.Hooks.Poststop} {
			for i, h := range hs {
				if !filepath.IsAbs(h.Path) {
					return bad(fmt.Sprintf("hooks.%s[%d].path", kind, i), "%q is not absolute", h.Path)
				}
				if h.Timeout != nil && *h.Timeout <= 0 {
					return bad(fmt.Sprintf("hooks.%s[%d].timeout", kind, i), "must be positive")
				}
			}
		}
	}
	return nil
}

// ipcSysctls are the kernel.* sysctls an ipc namespace has of its own.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// sysctlNamespace returns the namespace that sysctl k belongs to, if any.
func sysctlNamespace(k string) (specs.LinuxNamespaceType, string) {
	switch {
	case ipcSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
		return specs.IPCNamespace, "ipc"
	case strings.HasPrefix(k, "net."):
		return specs.NetworkNamespace, "network"
	case k == "kernel.hostname" || k == "kernel.domainname":
		return specs.UTSNamespace, "uts"
	}
	return "", ""
}

// privateNS: the container has a namespace of type t that is not this
// process's (a new one, or a path to another).
func privateNS(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	for _, n := range l.Namespaces {
		if n.Type == t {
			return n.Path == "" || !sameNS(n.Path, "/proc/self/ns/"+nsTypes[t])
		}
	}
	return false
}
