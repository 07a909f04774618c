package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Stats is the data of `runc events --stats`; it marshals to the same JSON
// as runc's types.Stats (intel_rdt and network_interfaces stay empty).
type Stats struct {
	CPU               CPU                `json:"cpu"`
	CPUSet            CPUSet             `json:"cpuset"`
	Memory            Memory             `json:"memory"`
	Pids              Pids               `json:"pids"`
	Blkio             Blkio              `json:"blkio"`
	Hugetlb           map[string]Hugetlb `json:"hugetlb"`
	IntelRdt          struct{}           `json:"intel_rdt"`
	NetworkInterfaces []struct{}         `json:"network_interfaces"`
}

// Hugetlb is the usage of one huge page size.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// BlkioEntry is one line of a blkio/io statistics file.
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Blkio holds the block I/O counters, per device and operation.
type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
}

// Pids is the number of tasks and their limit (0: none).
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// Throttling counts CFS bandwidth throttling.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUUsage is CPU time in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// CPU is CPU usage and throttling.
type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
}

// CPUSet is the cpuset configuration in force.
type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

// MemoryEntry is one memory counter set (usage, peak, limit, failures).
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Memory is the memory usage. Swap is memory+swap on both versions, as v1
// reports it.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

// Stats reads the counters of every controller the cgroup has. Files of
// controllers that are absent are skipped; a cgroup that is gone is an
// error.
func (m *manager) Stats() (*Stats, error) {
	if !m.Exists() {
		return nil, fmt.Errorf("cgroup: stats: %s: %w", m.path, os.ErrNotExist)
	}
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	var err error
	if m.mode == Unified {
		err = statsV2(m.v2, s)
	} else {
		err = m.statsV1(s)
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup: stats: %w", err)
	}
	return s, nil
}

// optional turns "file missing" into no error: the controller is absent.
func optional(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (m *manager) statsV1(s *Stats) error {
	if d, ok := m.ctrl["cpuacct"]; ok {
		if err := optional(cpuacctStats(d, &s.CPU)); err != nil {
			return err
		}
	}
	if d, ok := m.ctrl["cpu"]; ok {
		if st, err := readFile(d, "cpu.stat"); err == nil {
			parseKV(st, func(k string, v uint64) {
				switch k {
				case "nr_periods":
					s.CPU.Throttling.Periods = v
				case "nr_throttled":
					s.CPU.Throttling.ThrottledPeriods = v
				case "throttled_time":
					s.CPU.Throttling.ThrottledTime = v
				}
			})
		}
	}
	if d, ok := m.ctrl["cpuset"]; ok {
		if err := optional(cpusetStats(d, &s.CPUSet, false)); err != nil {
			return err
		}
	}
	if d, ok := m.ctrl["memory"]; ok {
		if err := optional(memoryV1Stats(d, &s.Memory)); err != nil {
			return err
		}
	}
	if d, ok := m.ctrl["pids"]; ok {
		if err := optional(pidsStats(d, &s.Pids)); err != nil {
			return err
		}
	}
	if d, ok := m.ctrl["blkio"]; ok {
		blkioV1Stats(d, &s.Blkio)
	}
	if d, ok := m.ctrl["hugetlb"]; ok {
		for _, size := range hugePageSizes() {
			p := "hugetlb." + size + "."
			var h Hugetlb
			h.Usage, _ = readUint(d, p+"usage_in_bytes", 0)
			h.Max, _ = readUint(d, p+"max_usage_in_bytes", 0)
			h.Failcnt, _ = readUint(d, p+"failcnt", 0)
			s.Hugetlb[size] = h
		}
	} else if m.v2 != "" {
		hugetlbV2Stats(m.v2, s.Hugetlb)
	}
	return nil
}

func cpuacctStats(d string, c *CPU) error {
	var err error
	if c.Usage.Total, err = readUint(d, "cpuacct.usage", 0); err != nil {
		return err
	}
	c.Usage.Percpu = readUintList(d, "cpuacct.usage_percpu")
	c.Usage.PercpuKernel = readUintList(d, "cpuacct.usage_percpu_sys")
	c.Usage.PercpuUser = readUintList(d, "cpuacct.usage_percpu_user")
	// cpuacct.stat counts USER_HZ ticks (100 per second on Linux).
	if st, err := readFile(d, "cpuacct.stat"); err == nil {
		const nsPerTick = 1e9 / 100
		parseKV(st, func(k string, v uint64) {
			switch k {
			case "user":
				c.Usage.User = v * nsPerTick
			case "system":
				c.Usage.Kernel = v * nsPerTick
			}
		})
	}
	return nil
}

func readUintList(d, name string) []uint64 {
	s, err := readFile(d, name)
	if err != nil {
		return nil
	}
	var out []uint64
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

func cpusetStats(d string, c *CPUSet, v2 bool) error {
	cpus, mems := "cpuset.cpus", "cpuset.mems"
	if v2 {
		cpus, mems = "cpuset.cpus.effective", "cpuset.mems.effective"
	}
	s, err := readFile(d, cpus)
	if err != nil {
		return err
	}
	c.CPUs = parseList(s)
	if s, err := readFile(d, mems); err == nil {
		c.Mems = parseList(s)
	}
	if v2 {
		return nil
	}
	for _, f := range []struct {
		name string
		v    *uint64
	}{
		{"cpuset.cpu_exclusive", &c.CPUExclusive},
		{"cpuset.mem_hardwall", &c.MemHardwall},
		{"cpuset.mem_exclusive", &c.MemExclusive},
		{"cpuset.memory_migrate", &c.MemoryMigrate},
		{"cpuset.memory_spread_page", &c.MemorySpreadPage},
		{"cpuset.memory_spread_slab", &c.MemorySpreadSlab},
		{"cpuset.memory_pressure", &c.MemoryPressure},
		{"cpuset.sched_load_balance", &c.SchedLoadBalance},
	} {
		*f.v, _ = readUint(d, f.name, 0)
	}
	if s, err := readFile(d, "cpuset.sched_relax_domain_level"); err == nil {
		c.SchedRelaxDomainLevel, _ = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	}
	return nil
}

// parseList expands a cpu/node list such as "0-3,8".
func parseList(s string) []uint16 {
	var out []uint16
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil
			}
		}
		for v := a; v <= b; v++ {
			out = append(out, uint16(v))
		}
	}
	return out
}

func memoryV1Stats(d string, mem *Memory) error {
	st, err := readFile(d, "memory.stat")
	if err != nil {
		return err
	}
	mem.Raw = map[string]uint64{}
	parseKV(st, func(k string, v uint64) { mem.Raw[k] = v })
	mem.Cache = mem.Raw["cache"]
	entry := func(prefix string, e *MemoryEntry) {
		e.Usage, _ = readUint(d, prefix+"usage_in_bytes", 0)
		e.Max, _ = readUint(d, prefix+"max_usage_in_bytes", 0)
		e.Failcnt, _ = readUint(d, prefix+"failcnt", 0)
		e.Limit, _ = readUint(d, prefix+"limit_in_bytes", 0)
	}
	entry("memory.", &mem.Usage)
	entry("memory.memsw.", &mem.Swap)
	entry("memory.kmem.", &mem.Kernel)
	entry("memory.kmem.tcp.", &mem.KernelTCP)
	return nil
}

func pidsStats(d string, p *Pids) error {
	var err error
	if p.Current, err = readUint(d, "pids.current", 0); err != nil {
		return err
	}
	p.Limit, _ = readUint(d, "pids.max", 0)
	return nil
}

// blkioV1Stats reads the CFQ files when the kernel has them, else BFQ's,
// else the throttling layer's, which count every bio.
func blkioV1Stats(d string, b *Blkio) {
	switch {
	case exists(d + "/blkio.io_service_bytes_recursive"):
		b.IoServiceBytesRecursive = readBlkio(d, "blkio.io_service_bytes_recursive")
		b.IoServicedRecursive = readBlkio(d, "blkio.io_serviced_recursive")
		b.IoQueuedRecursive = readBlkio(d, "blkio.io_queued_recursive")
		b.IoServiceTimeRecursive = readBlkio(d, "blkio.io_service_time_recursive")
		b.IoWaitTimeRecursive = readBlkio(d, "blkio.io_wait_time_recursive")
		b.IoMergedRecursive = readBlkio(d, "blkio.io_merged_recursive")
		b.IoTimeRecursive = readBlkio(d, "blkio.time_recursive")
		b.SectorsRecursive = readBlkio(d, "blkio.sectors_recursive")
	case exists(d + "/blkio.bfq.io_service_bytes_recursive"):
		b.IoServiceBytesRecursive = readBlkio(d, "blkio.bfq.io_service_bytes_recursive")
		b.IoServicedRecursive = readBlkio(d, "blkio.bfq.io_serviced_recursive")
	default:
		b.IoServiceBytesRecursive = readBlkio(d, "blkio.throttle.io_service_bytes_recursive")
		b.IoServicedRecursive = readBlkio(d, "blkio.throttle.io_serviced_recursive")
	}
}

// readBlkio parses "8:0 Read 4096" lines (and "8:0 4096" for files
// without an operation); the "Total" summary line is skipped.
func readBlkio(d, name string) []BlkioEntry {
	s, err := readFile(d, name)
	if err != nil {
		return nil
	}
	var out []BlkioEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		var e BlkioEntry
		var err error
		if e.Major, err = strconv.ParseUint(maj, 10, 64); err != nil {
			continue
		}
		if e.Minor, err = strconv.ParseUint(min, 10, 64); err != nil {
			continue
		}
		v := f[1]
		if len(f) >= 3 {
			e.Op, v = f[1], f[2]
		}
		if e.Value, err = strconv.ParseUint(v, 10, 64); err != nil {
			continue
		}
		out = append(out, e)
	}
	return out
}

func statsV2(d string, s *Stats) error {
	st, err := readFile(d, "cpu.stat")
	if err != nil {
		return err
	}
	parseKV(st, func(k string, v uint64) {
		switch k {
		case "usage_usec":
			s.CPU.Usage.Total = v * 1000
		case "user_usec":
			s.CPU.Usage.User = v * 1000
		case "system_usec":
			s.CPU.Usage.Kernel = v * 1000
		case "nr_periods":
			s.CPU.Throttling.Periods = v
		case "nr_throttled":
			s.CPU.Throttling.ThrottledPeriods = v
		case "throttled_usec":
			s.CPU.Throttling.ThrottledTime = v * 1000
		}
	})
	if err := optional(cpusetStats(d, &s.CPUSet, true)); err != nil {
		return err
	}
	if err := optional(memoryV2Stats(d, &s.Memory)); err != nil {
		return err
	}
	if err := pidsStats(d, &s.Pids); errors.Is(err, os.ErrNotExist) {
		// No pids controller: count the tasks ourselves, as runc does.
		var pids []int
		if err := walkProcs(d, &pids); err != nil {
			return err
		}
		s.Pids.Current = uint64(len(pids))
	} else if err != nil {
		return err
	}
	if io, err := readFile(d, "io.stat"); err == nil {
		s.Blkio = parseIOStat(io)
	}
	hugetlbV2Stats(d, s.Hugetlb)
	return nil
}

func memoryV2Stats(d string, mem *Memory) error {
	st, err := readFile(d, "memory.stat")
	if err != nil {
		return err
	}
	mem.Raw = map[string]uint64{}
	parseKV(st, func(k string, v uint64) { mem.Raw[k] = v })
	mem.Cache = mem.Raw["file"]
	mem.Usage.Usage, _ = readUint(d, "memory.current", 0)
	mem.Usage.Limit, _ = readUint(d, "memory.max", math.MaxUint64)
	mem.Usage.Max, _ = readUint(d, "memory.peak", 0)
	if ev, err := readFile(d, "memory.events"); err == nil {
		parseKV(ev, func(k string, v uint64) {
			if k == "max" {
				mem.Usage.Failcnt = v
			}
		})
	}
	// v1 reports swap as memory+swap; do the same for v2's swap alone.
	if cur, err := readUint(d, "memory.swap.current", 0); err == nil {
		mem.Swap.Usage = cur + mem.Usage.Usage
		mem.Swap.Limit, _ = readUint(d, "memory.swap.max", math.MaxUint64)
		if mem.Swap.Limit != math.MaxUint64 && mem.Usage.Limit != math.MaxUint64 {
			mem.Swap.Limit += mem.Usage.Limit
		}
		mem.Swap.Max, _ = readUint(d, "memory.swap.peak", 0)
	}
	return nil
}

// parseIOStat parses "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." lines.
func parseIOStat(s string) Blkio {
	var b Blkio
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		ma, err1 := strconv.ParseUint(maj, 10, 64)
		mi, err2 := strconv.ParseUint(min, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := BlkioEntry{Major: ma, Minor: mi, Value: n}
			switch k {
			case "rbytes":
				e.Op = "Read"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "wbytes":
				e.Op = "Write"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "rios":
				e.Op = "Read"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			case "wios":
				e.Op = "Write"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			}
		}
	}
	return b
}

func hugetlbV2Stats(d string, out map[string]Hugetlb) {
	for _, size := range hugePageSizes() {
		p := "hugetlb." + size + "."
		cur, err := readUint(d, p+"current", 0)
		if err != nil {
			continue
		}
		h := Hugetlb{Usage: cur}
		if ev, err := readFile(d, p+"events"); err == nil {
			parseKV(ev, func(k string, v uint64) {
				if k == "max" {
					h.Failcnt = v
				}
			})
		}
		out[size] = h
	}
}
