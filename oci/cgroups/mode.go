package cgroups

import (
	"bufio"
	"os"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Mode is the cgroup layout of a host.
type Mode int

const (
	// Legacy is cgroup v1 only.
	Legacy Mode = iota + 1
	// Hybrid is cgroup v1 plus a cgroup2 mount at /sys/fs/cgroup/unified.
	Hybrid
	// Unified is pure cgroup v2.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	}
	return "unknown"
}

// DefaultRoot is where the host's cgroup filesystems are mounted.
const DefaultRoot = "/sys/fs/cgroup"

var (
	hostModeOnce sync.Once
	hostMode     Mode
)

// HostMode reports the host's cgroup layout. It is detected once per
// process with statfs(2) and cached.
func HostMode() Mode {
	hostModeOnce.Do(func() {
		hostMode = detectMode(DefaultRoot)
	})
	return hostMode
}

func isCgroup2(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

func detectMode(root string) Mode {
	if isCgroup2(root) {
		return Unified
	}
	if isCgroup2(root + "/unified") {
		return Hybrid
	}
	return Legacy
}

// hierarchy is one mounted cgroup v1 hierarchy.
type hierarchy struct {
	mount       string   // mount point, e.g. /sys/fs/cgroup/cpu,cpuacct
	controllers []string // e.g. ["cpu", "cpuacct"] or ["name=systemd"]
}

var (
	v1Once        sync.Once
	v1Hierarchies []hierarchy
)

// v1Mounts returns the v1 hierarchies mounted on the host, read once from
// /proc/self/mountinfo.
func v1Mounts() []hierarchy {
	v1Once.Do(func() {
		if hs, ok := v1MountsStandard(); ok {
			v1Hierarchies = hs
			return
		}
		f, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			return
		}
		defer f.Close()
		v1Hierarchies = parseV1Mounts(bufio.NewScanner(f))
	})
	return v1Hierarchies
}

var knownV1 = map[string]bool{
	"cpuset": true, "cpu": true, "cpuacct": true, "memory": true,
	"devices": true, "freezer": true, "blkio": true, "pids": true,
	"hugetlb": true, "net_cls": true, "net_prio": true, "perf_event": true,
	"rdma": true, "misc": true,
}

// v1MountsStandard finds the hierarchies from /proc/self/cgroup at the
// places systemd (and every distribution) mounts them, DefaultRoot/<the
// controllers> and DefaultRoot/<name> for named ones, each checked to be a
// cgroup v1 mount. Generating /proc/self/mountinfo costs ~0.2 ms at every
// start of the runtime; false sends the caller to it.
func v1MountsStandard() ([]hierarchy, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, false
	}
	var out []hierarchy
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// 4:cpu,cpuacct:/path; 0::/path is v2
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		var ctrls []string
		for _, o := range strings.Split(parts[1], ",") {
			if knownV1[o] || strings.HasPrefix(o, "name=") {
				ctrls = append(ctrls, o)
			}
		}
		if len(ctrls) == 0 {
			continue
		}
		dir := parts[1]
		if name, ok := strings.CutPrefix(dir, "name="); ok {
			dir = name
		}
		mnt := DefaultRoot + "/" + dir
		var st unix.Statfs_t
		if unix.Statfs(mnt, &st) != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
			return nil, false
		}
		out = append(out, hierarchy{mount: mnt, controllers: ctrls})
	}
	if len(out) == 0 {
		return nil, false
	}
	sortCpusetFirst(out)
	return out, true
}

func sortCpusetFirst(out []hierarchy) {
	// cpuset first: its dirs must be filled before other work, and a stable
	// order keeps Paths and error messages deterministic.
	sort.SliceStable(out, func(i, j int) bool {
		return has(out[i].controllers, "cpuset") && !has(out[j].controllers, "cpuset")
	})
}

func parseV1Mounts(sc *bufio.Scanner) []hierarchy {
	var out []hierarchy
	seen := map[string]bool{}
	for sc.Scan() {
		// 32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf := strings.Fields(post)
		if len(pf) < 3 || pf[0] != "cgroup" {
			continue
		}
		fields := strings.Fields(pre)
		if len(fields) < 5 {
			continue
		}
		mnt := unescapeMount(fields[4])
		if seen[mnt] {
			continue
		}
		var ctrls []string
		for _, o := range strings.Split(pf[2], ",") {
			if knownV1[o] || strings.HasPrefix(o, "name=") {
				ctrls = append(ctrls, o)
			}
		}
		if len(ctrls) == 0 {
			continue
		}
		// The same hierarchy may be mounted twice (bind mounts): keep the
		// first mount of each controller set.
		key := strings.Join(ctrls, ",")
		if seen[key] {
			continue
		}
		seen[key], seen[mnt] = true, true
		out = append(out, hierarchy{mount: mnt, controllers: ctrls})
	}
	sortCpusetFirst(out)
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := (int(s[i+1]-'0') << 6) | (int(s[i+2]-'0') << 3) | int(s[i+3]-'0')
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
