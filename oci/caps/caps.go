// Package caps maps capability names to numbers and applies the five
// capability sets of an OCI process to the calling thread.
package caps

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// names in kernel order: names[n] is capability n.
var names = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Names returns every capability name this build knows, in kernel order.
func Names() []string { return append([]string(nil), names...) }

var lastOnce sync.Once
var lastCap = len(names) - 1

// Last is the highest capability number the running kernel supports.
func Last() int {
	lastOnce.Do(func() {
		b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
		if err != nil {
			return
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			lastCap = n
		}
	})
	return lastCap
}

// ErrUnknown is returned for a capability name that is not known.
type ErrUnknown struct{ Name string }

func (e *ErrUnknown) Error() string { return fmt.Sprintf("unknown capability %q", e.Name) }

// Parse converts a name like "CAP_NET_ADMIN" (or "net_admin") to its number.
func Parse(name string) (int, error) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range names {
		if c == n {
			return i, nil
		}
	}
	return 0, &ErrUnknown{name}
}

// Set is a capability bit mask.
type Set uint64

// FromNames builds a Set; names the kernel does not support are dropped
// (like runc, so that one config works on older kernels), unknown names fail.
func FromNames(list []string) (Set, error) {
	var s Set
	last := Last()
	for _, n := range list {
		c, err := Parse(n)
		if err != nil {
			return 0, err
		}
		if c <= last {
			s |= 1 << uint(c)
		}
	}
	return s, nil
}

// Has reports whether capability c is in s.
func (s Set) Has(c int) bool { return s&(1<<uint(c)) != 0 }

// Sets are the five capability sets of a process, as masks.
type Sets struct {
	Bounding, Effective, Inheritable, Permitted, Ambient Set
}

// Compile checks the names of every set in c and turns them into masks.
func Compile(c *specs.LinuxCapabilities) (*Sets, error) {
	if c == nil {
		return &Sets{}, nil
	}
	var s Sets
	var err error
	for _, f := range []struct {
		field string
		in    []string
		out   *Set
	}{
		{"bounding", c.Bounding, &s.Bounding},
		{"effective", c.Effective, &s.Effective},
		{"inheritable", c.Inheritable, &s.Inheritable},
		{"permitted", c.Permitted, &s.Permitted},
		{"ambient", c.Ambient, &s.Ambient},
	} {
		if *f.out, err = FromNames(f.in); err != nil {
			return nil, fmt.Errorf("process.capabilities.%s: %w", f.field, err)
		}
	}
	return &s, nil
}

// DropBounding removes every capability not in s.Bounding from the calling
// thread's bounding set. It needs CAP_SETPCAP, so it runs before the user
// switch and before ApplyAll.
func (s *Sets) DropBounding() error {
	last := Last()
	for c := 0; c <= last; c++ {
		if s.Bounding.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if err == unix.EINVAL {
				continue
			}
			return fmt.Errorf("drop bounding capability %s: %w", names[c], err)
		}
	}
	return nil
}

// Apply sets effective, permitted and inheritable sets on the calling
// thread, then raises the ambient ones.
func (s *Sets) Apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[1].Effective = uint32(s.Effective), uint32(s.Effective>>32)
	data[0].Permitted, data[1].Permitted = uint32(s.Permitted), uint32(s.Permitted>>32)
	data[0].Inheritable, data[1].Inheritable = uint32(s.Inheritable), uint32(s.Inheritable>>32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset (effective %v, permitted %v, inheritable %v): %w",
			s.Effective.List(), s.Permitted.List(), s.Inheritable.List(), err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	last := Last()
	for c := 0; c <= last; c++ {
		if !s.Ambient.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			// like runc: an ambient capability not in permitted+inheritable is not an error
			continue
		}
	}
	return nil
}

// Current reads the capability sets of process pid (0 = self) from /proc.
func Current(pid int) (*Sets, error) {
	p := "/proc/self/status"
	if pid > 0 {
		p = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var s Sets
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":\t")
		if !ok {
			continue
		}
		var dst *Set
		switch k {
		case "CapInh":
			dst = &s.Inheritable
		case "CapPrm":
			dst = &s.Permitted
		case "CapEff":
			dst = &s.Effective
		case "CapBnd":
			dst = &s.Bounding
		case "CapAmb":
			dst = &s.Ambient
		default:
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s in %s: %w", k, p, err)
		}
		*dst = Set(n)
	}
	return &s, nil
}

// List returns the names of the capabilities in s.
func (s Set) List() []string {
	var out []string
	for c := range names {
		if s.Has(c) {
			out = append(out, names[c])
		}
	}
	return out
}
