package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func setV2(d string, r *specs.LinuxResources, create bool) error {
	if r.Memory != nil {
		if err := v2Memory(d, r.Memory, create); err != nil {
			return err
		}
	}
	if r.CPU != nil {
		if err := v2CPU(d, r.CPU); err != nil {
			return err
		}
	}
	if r.Pids != nil {
		if err := writeFile(d, "pids.max", pidsMax(r.Pids.Limit), "pids.limit"); err != nil {
			return err
		}
	}
	if r.BlockIO != nil {
		if err := v2IO(d, r.BlockIO); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if err := setHugetlb(d, r.HugepageLimits, true); err != nil {
			return err
		}
	}
	if r.Network != nil && (r.Network.ClassID != nil || len(r.Network.Priorities) > 0) {
		return unsupported("network", "net_cls and net_prio do not exist in cgroup v2")
	}
	if len(r.Rdma) > 0 {
		if err := setRdma(d, r.Rdma); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		if err := setDevicesV2(d, r.Devices); err != nil {
			return err
		}
	}
	// Unified keys go last so that they override the mapped values.
	if len(r.Unified) > 0 {
		if err := setUnified(d, r.Unified); err != nil {
			return err
		}
	}
	return nil
}

// SwapV2 converts the spec's memory.swap (memory+swap, as in v1) into the
// value of v2's memory.swap.max (swap alone): -1 means "max", and set is
// false when the spec leaves swap alone.
func SwapV2(swap, limit int64) (v int64, set bool, err error) {
	switch {
	case swap == 0:
		return 0, false, nil
	case swap == -1:
		return -1, true, nil
	case swap < -1:
		return 0, false, fmt.Errorf("%d is not a valid limit", swap)
	case limit == -1:
		// Unlimited memory: the swap figure cannot be split; take it whole.
		return swap, true, nil
	case limit == 0:
		return 0, false, errors.New("a swap limit needs a memory limit")
	case swap < limit:
		return 0, false, fmt.Errorf("memory+swap %d is below the memory limit %d", swap, limit)
	}
	return swap - limit, true, nil
}

func maxStr(v int64) string {
	if v == -1 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func v2Memory(d string, mem *specs.LinuxMemory, create bool) error {
	var limit, swap int64
	if mem.Limit != nil {
		limit = *mem.Limit
	}
	if mem.Swap != nil {
		swap = *mem.Swap
	}
	if limit < -1 {
		return invalid("memory.limit", "%d is not a valid limit", limit)
	}
	sw, swSet, err := SwapV2(swap, limit)
	if err != nil {
		return &ResourceError{Field: "memory.swap", Err: err}
	}
	if !create && limit > 0 && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		usage, err := readUint(d, "memory.current", 0)
		if err != nil {
			return &ResourceError{Field: "memory.checkBeforeUpdate", File: "memory.current", Op: "read", Err: err}
		}
		if uint64(limit) < usage {
			return invalid("memory.limit", "new limit %d is below the current usage %d (checkBeforeUpdate)", limit, usage)
		}
	}
	if swSet {
		err := writeFile(d, "memory.swap.max", maxStr(sw), "memory.swap")
		if isErrno(err, unix.ENOENT) {
			return unsupported("memory.swap", "no memory.swap.max (swap accounting disabled or memory controller not enabled)")
		}
		if err != nil {
			return err
		}
	}
	if limit != 0 {
		if err := writeFile(d, "memory.max", maxStr(limit), "memory.limit"); err != nil {
			return err
		}
	}
	if v := nz(mem.Reservation); v != nil {
		if err := writeFile(d, "memory.low", maxStr(*v), "memory.reservation"); err != nil {
			return err
		}
	}
	// kernel and kernelTCP are deprecated and have no v2 file: ignored,
	// as runc does. Swappiness and the OOM killer switch have no v2
	// equivalent, so asking for them is an error.
	if mem.Swappiness != nil {
		return unsupported("memory.swappiness", "cgroup v2 has no per-cgroup swappiness")
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		return unsupported("memory.disableOOMKiller", "cgroup v2 cannot disable the OOM killer")
	}
	return nil
}

// SharesToWeight converts v1 cpu.shares (2..262144) to v2 cpu.weight
// (1..10000), the mapping runc, crun and systemd share.
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// BlkioToIOWeight converts a v1 blkio weight (10..1000) to io.weight
// (1..10000).
func BlkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	v := uint64(min(max(w, 10), 1000))
	return 1 + (v-10)*9999/990
}

func v2CPU(d string, cpu *specs.LinuxCPU) error {
	if s := nzu(cpu.Shares); s != nil {
		if err := writeFile(d, "cpu.weight", strconv.FormatUint(SharesToWeight(*s), 10), "cpu.shares"); err != nil {
			return err
		}
	}
	quota, period := nz(cpu.Quota), nzu(cpu.Period)
	if quota != nil || period != nil {
		v := "max"
		if quota != nil && *quota > 0 {
			v = strconv.FormatInt(*quota, 10)
		}
		if period != nil {
			v += " " + strconv.FormatUint(*period, 10)
		}
		field := "cpu.quota"
		if quota == nil {
			field = "cpu.period"
		}
		if err := writeFile(d, "cpu.max", v, field); err != nil {
			return err
		}
	}
	if cpu.Burst != nil {
		if err := writeFile(d, "cpu.max.burst", strconv.FormatUint(*cpu.Burst, 10), "cpu.burst"); err != nil {
			return err
		}
	}
	if cpu.Idle != nil {
		if err := writeFile(d, "cpu.idle", strconv.FormatInt(*cpu.Idle, 10), "cpu.idle"); err != nil {
			return err
		}
	}
	if nz(cpu.RealtimeRuntime) != nil || nzu(cpu.RealtimePeriod) != nil {
		return unsupported("cpu.realtimeRuntime", "cgroup v2 has no realtime CPU limits")
	}
	if cpu.Cpus != "" {
		if err := writeFile(d, "cpuset.cpus", cpu.Cpus, "cpu.cpus"); err != nil {
			return err
		}
	}
	if cpu.Mems != "" {
		if err := writeFile(d, "cpuset.mems", cpu.Mems, "cpu.mems"); err != nil {
			return err
		}
	}
	return nil
}

func v2IO(d string, b *specs.LinuxBlockIO) error {
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		return unsupported("blockIO.leafWeight", "cgroup v2 has no leaf weights")
	}
	bfq := false
	if (b.Weight != nil && *b.Weight != 0) || len(b.WeightDevice) > 0 {
		bfq = exists(d + "/io.bfq.weight")
	}
	// io.bfq.weight takes blkio's 1..1000 scale as is; io.weight needs
	// converting to 1..10000.
	weight := func(w uint16) (string, string) {
		if bfq {
			return "io.bfq.weight", strconv.Itoa(int(w))
		}
		return "io.weight", strconv.FormatUint(BlkioToIOWeight(w), 10)
	}
	if b.Weight != nil && *b.Weight != 0 {
		f, v := weight(*b.Weight)
		if err := writeFile(d, f, v, "blockIO.weight"); err != nil {
			return err
		}
	}
	for i, wd := range b.WeightDevice {
		if wd.LeafWeight != nil && *wd.LeafWeight != 0 {
			return unsupported(fmt.Sprintf("blockIO.weightDevice[%d].leafWeight", i), "cgroup v2 has no leaf weights")
		}
		if wd.Weight == nil {
			continue
		}
		f, v := weight(*wd.Weight)
		if err := writeFile(d, f, fmt.Sprintf("%d:%d %s", wd.Major, wd.Minor, v), fmt.Sprintf("blockIO.weightDevice[%d].weight", i)); err != nil {
			return err
		}
	}
	for _, t := range []struct {
		list  []specs.LinuxThrottleDevice
		key   string
		field string
	}{
		{b.ThrottleReadBpsDevice, "rbps", "blockIO.throttleReadBpsDevice"},
		{b.ThrottleWriteBpsDevice, "wbps", "blockIO.throttleWriteBpsDevice"},
		{b.ThrottleReadIOPSDevice, "riops", "blockIO.throttleReadIOPSDevice"},
		{b.ThrottleWriteIOPSDevice, "wiops", "blockIO.throttleWriteIOPSDevice"},
	} {
		for i, td := range t.list {
			rate := strconv.FormatUint(td.Rate, 10)
			if td.Rate == 0 {
				rate = "max"
			}
			if err := writeFile(d, "io.max", fmt.Sprintf("%d:%d %s=%s", td.Major, td.Minor, t.key, rate), fmt.Sprintf("%s[%d]", t.field, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setUnified writes linux.resources.unified as given, in key order.
func setUnified(d string, u map[string]string) error {
	keys := make([]string, 0, len(u))
	for k := range u {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := fmt.Sprintf("unified[%q]", k)
		if k == "" || strings.ContainsAny(k, "/\x00") || k[0] == '.' || !strings.Contains(k, ".") {
			return invalid(field, "not a cgroup interface file name")
		}
		if err := rawWrite(d+"/"+k, u[k]); err != nil {
			if err == unix.ENOENT {
				return &ResourceError{Field: field, Err: fmt.Errorf("%w: no file %s in %s (controller missing or not enabled?)", ErrNotSupported, k, d)}
			}
			return &ResourceError{Field: field, File: k, Op: "write", Err: err}
		}
	}
	return nil
}

// enableControllers turns on, in every ancestor of dir below and
// including root, all the controllers the ancestor has, so that dir gets
// their interface files (the v2 "top-down" rule).
func enableControllers(root, dir string) error {
	for _, p := range ancestors(root, dir) {
		avail, err := readFile(p, "cgroup.controllers")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return fmt.Errorf("cgroup: enable controllers: %w", err)
		}
		if err := enableIn(p, strings.Fields(avail)); err != nil {
			return err
		}
	}
	return nil
}

// enableSome enables only the named controllers down to dir.
func enableSome(root, dir string, ctrls []string) error {
	for _, p := range ancestors(root, dir) {
		if err := enableIn(p, ctrls); err != nil {
			return err
		}
	}
	return nil
}

func ancestors(root, dir string) []string {
	var out []string
	for p := filepath.Dir(dir); len(p) >= len(root); p = filepath.Dir(p) {
		out = append(out, p)
		if p == root || p == "/" {
			break
		}
	}
	// Top-down: a controller must be on in the parent before the child.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func enableIn(p string, want []string) error {
	if len(want) == 0 {
		return nil
	}
	cur, err := readFile(p, "cgroup.subtree_control")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("cgroup: enable controllers: %w", err)
	}
	on := strings.Fields(cur)
	var missing []string
	for _, c := range want {
		if !has(on, c) {
			missing = append(missing, "+"+c)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if rawWrite(p+"/cgroup.subtree_control", strings.Join(missing, " ")) == nil {
		return nil
	}
	// One controller may refuse (e.g. cpu with realtime tasks): enable the
	// others one by one and let a limit that needs the refused one fail
	// later with its own error.
	for _, c := range missing {
		_ = rawWrite(p+"/cgroup.subtree_control", c)
	}
	return nil
}

// hasController reports whether the v2 dir offers controller c.
func hasController(dir, c string) bool {
	s, err := readFile(dir, "cgroup.controllers")
	return err == nil && has(strings.Fields(s), c)
}

var (
	hugeOnce  sync.Once
	hugeSizes []string
)

// hugePageSizes lists the host's huge page sizes in cgroup notation
// ("2MB", "1GB"), read once from /sys/kernel/mm/hugepages.
func hugePageSizes() []string {
	hugeOnce.Do(func() {
		ents, err := os.ReadDir("/sys/kernel/mm/hugepages")
		if err != nil {
			return
		}
		for _, e := range ents {
			kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(strings.TrimSuffix(kb, "kB"), 10, 64)
			if err != nil {
				continue
			}
			hugeSizes = append(hugeSizes, pageSizeName(n*1024))
		}
	})
	return hugeSizes
}

func pageSizeName(b uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for b >= 1024 && b%1024 == 0 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return strconv.FormatUint(b, 10) + units[i]
}
