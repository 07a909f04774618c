package cgroups

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Zero values of the spec's numeric limits mean "unset", as in runc and
// crun: producers such as Docker fill them in unconditionally.

func (m *manager) v1Dir(ctrl, field string) (string, error) {
	d, ok := m.ctrl[ctrl]
	if !ok {
		return "", unsupported(field, "the "+ctrl+" cgroup v1 controller is not mounted")
	}
	return d, nil
}

func (m *manager) setV1(r *specs.LinuxResources, create bool) error {
	if r.Memory != nil {
		if err := m.v1Memory(r.Memory, create); err != nil {
			return err
		}
	}
	if r.CPU != nil {
		if err := m.v1CPU(r.CPU, create); err != nil {
			return err
		}
	}
	if r.Pids != nil {
		d, err := m.v1Dir("pids", "pids.limit")
		if err != nil {
			return err
		}
		if err := writeFile(d, "pids.max", pidsMax(r.Pids.Limit), "pids.limit"); err != nil {
			return err
		}
	}
	if r.BlockIO != nil {
		if err := m.v1BlockIO(r.BlockIO); err != nil {
			return err
		}
	}
	if len(r.HugepageLimits) > 0 {
		if d, ok := m.ctrl["hugetlb"]; ok {
			if err := setHugetlb(d, r.HugepageLimits, false); err != nil {
				return err
			}
		} else if m.mode == Hybrid && hasController(m.root, "hugetlb") {
			// Only cgroup2 has hugetlb on this host (as on Debian's hybrid
			// layout): limit it there, where our processes are too.
			if err := enableSome(m.root, m.v2, []string{"hugetlb"}); err != nil {
				return err
			}
			if err := setHugetlb(m.v2, r.HugepageLimits, true); err != nil {
				return err
			}
		} else {
			return unsupported("hugepageLimits", "no hugetlb controller")
		}
	}
	if r.Network != nil {
		if err := m.v1Network(r.Network); err != nil {
			return err
		}
	}
	if len(r.Rdma) > 0 {
		d, err := m.v1Dir("rdma", "rdma")
		if err != nil {
			return err
		}
		if err := setRdma(d, r.Rdma); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		d, err := m.v1Dir("devices", "devices")
		if err != nil {
			return err
		}
		if err := setDevicesV1(d, r.Devices); err != nil {
			return err
		}
	}
	if len(r.Unified) > 0 {
		if m.mode != Hybrid {
			return unsupported("unified", "cgroup v2 is not mounted")
		}
		if err := setUnified(m.v2, r.Unified); err != nil {
			return err
		}
	}
	return nil
}

func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

func (m *manager) v1Memory(mem *specs.LinuxMemory, create bool) error {
	d, err := m.v1Dir("memory", "memory")
	if err != nil {
		return err
	}
	limit, swap := nz(mem.Limit), nz(mem.Swap)
	if limit != nil && *limit < -1 {
		return invalid("memory.limit", "%d is not a valid limit", *limit)
	}
	if swap != nil && *swap < -1 {
		return invalid("memory.swap", "%d is not a valid limit", *swap)
	}
	if !create && limit != nil && *limit > 0 && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		usage, err := readUint(d, "memory.usage_in_bytes", 0)
		if err != nil {
			return &ResourceError{Field: "memory.checkBeforeUpdate", File: "memory.usage_in_bytes", Op: "read", Err: err}
		}
		if uint64(*limit) < usage {
			return invalid("memory.limit", "new limit %d is below the current usage %d (checkBeforeUpdate)", *limit, usage)
		}
	}
	writeLimit := func() error {
		return writeFile(d, "memory.limit_in_bytes", strconv.FormatInt(*limit, 10), "memory.limit")
	}
	writeSwap := func() error {
		err := writeFile(d, "memory.memsw.limit_in_bytes", strconv.FormatInt(*swap, 10), "memory.swap")
		if e, ok := err.(*ResourceError); ok && e.Err == unix.ENOENT {
			return unsupported("memory.swap", "swap accounting is disabled (no memory.memsw.limit_in_bytes)")
		}
		return err
	}
	switch {
	case limit != nil && swap != nil:
		// The kernel keeps limit <= memsw.limit at every step, so the order
		// of the two writes depends on whether the limits go up or down.
		swapFirst := *swap == -1
		if !create && !swapFirst {
			cur, err := readUint(d, "memory.limit_in_bytes", 0)
			if err != nil {
				return &ResourceError{Field: "memory.limit", File: "memory.limit_in_bytes", Op: "read", Err: err}
			}
			swapFirst = cur < uint64(*swap)
		}
		if swapFirst {
			if err := writeSwap(); err != nil {
				return err
			}
			if err := writeLimit(); err != nil {
				return err
			}
		} else {
			if err := writeLimit(); err != nil {
				return err
			}
			if err := writeSwap(); err != nil {
				return err
			}
		}
	case limit != nil:
		if *limit == -1 && !create && exists(d+"/memory.memsw.limit_in_bytes") {
			// Lifting the memory limit must lift memory+swap first.
			if err := writeFile(d, "memory.memsw.limit_in_bytes", "-1", "memory.limit"); err != nil {
				return err
			}
		}
		if err := writeLimit(); err != nil {
			return err
		}
	case swap != nil:
		if err := writeSwap(); err != nil {
			return err
		}
	}
	if v := nz(mem.Reservation); v != nil {
		if err := writeFile(d, "memory.soft_limit_in_bytes", strconv.FormatInt(*v, 10), "memory.reservation"); err != nil {
			return err
		}
	}
	// Kernel memory limits are deprecated and gone from new kernels: write
	// them where the file still exists and accepts it, as runc does.
	for _, k := range [2]struct {
		v     *int64
		file  string
		field string
	}{{mem.Kernel, "memory.kmem.limit_in_bytes", "memory.kernel"}, {mem.KernelTCP, "memory.kmem.tcp.limit_in_bytes", "memory.kernelTCP"}} {
		if v := nz(k.v); v != nil {
			err := rawWrite(d+"/"+k.file, strconv.FormatInt(*v, 10))
			if err != nil && err != unix.ENOENT && err != unix.EOPNOTSUPP && err != unix.ENOTSUP {
				return &ResourceError{Field: k.field, File: k.file, Op: "write", Err: err}
			}
		}
	}
	if mem.Swappiness != nil {
		if *mem.Swappiness > 100 {
			return invalid("memory.swappiness", "%d is out of range 0-100", *mem.Swappiness)
		}
		if err := writeFile(d, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10), "memory.swappiness"); err != nil {
			return err
		}
	}
	if b := mem.DisableOOMKiller; b != nil && (*b || !create) {
		if err := writeFile(d, "memory.oom_control", boolStr(*b), "memory.disableOOMKiller"); err != nil {
			return err
		}
	}
	if b := mem.UseHierarchy; b != nil {
		if err := writeFile(d, "memory.use_hierarchy", boolStr(*b), "memory.useHierarchy"); err != nil {
			return err
		}
	}
	return nil
}

func (m *manager) v1CPU(cpu *specs.LinuxCPU, create bool) error {
	if (cpu.Cpus != "" || cpu.Mems != "") && !(create && m.cpusetDone) {
		d, err := m.v1Dir("cpuset", "cpu.cpus")
		if err != nil {
			return err
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
	}
	shares, quota, period, burst := nzu(cpu.Shares), nz(cpu.Quota), nzu(cpu.Period), cpu.Burst
	rtRuntime, rtPeriod := nz(cpu.RealtimeRuntime), nzu(cpu.RealtimePeriod)
	if shares == nil && quota == nil && period == nil && burst == nil && rtRuntime == nil && rtPeriod == nil && cpu.Idle == nil {
		return nil
	}
	d, err := m.v1Dir("cpu", "cpu")
	if err != nil {
		return err
	}
	if shares != nil {
		if err := writeFile(d, "cpu.shares", strconv.FormatUint(*shares, 10), "cpu.shares"); err != nil {
			return err
		}
	}
	periodFailed := false
	if period != nil {
		err := writeFile(d, "cpu.cfs_period_us", strconv.FormatUint(*period, 10), "cpu.period")
		if err != nil {
			// A smaller period can be refused while the old quota/new
			// period ratio exceeds the parent's: retry after the quota.
			if quota == nil || !isErrno(err, unix.EINVAL) {
				return err
			}
			periodFailed = true
		}
	}
	if quota != nil {
		if err := writeFile(d, "cpu.cfs_quota_us", strconv.FormatInt(*quota, 10), "cpu.quota"); err != nil {
			return err
		}
		if periodFailed {
			if err := writeFile(d, "cpu.cfs_period_us", strconv.FormatUint(*period, 10), "cpu.period"); err != nil {
				return err
			}
		}
	}
	if burst != nil {
		if err := writeFile(d, "cpu.cfs_burst_us", strconv.FormatUint(*burst, 10), "cpu.burst"); err != nil {
			return err
		}
	}
	if rtPeriod != nil {
		if err := writeFile(d, "cpu.rt_period_us", strconv.FormatUint(*rtPeriod, 10), "cpu.realtimePeriod"); err != nil {
			return err
		}
	}
	if rtRuntime != nil {
		if err := writeFile(d, "cpu.rt_runtime_us", strconv.FormatInt(*rtRuntime, 10), "cpu.realtimeRuntime"); err != nil {
			return err
		}
	}
	if cpu.Idle != nil {
		if err := writeFile(d, "cpu.idle", strconv.FormatInt(*cpu.Idle, 10), "cpu.idle"); err != nil {
			return err
		}
	}
	return nil
}

func (m *manager) v1BlockIO(b *specs.LinuxBlockIO) error {
	d, err := m.v1Dir("blkio", "blockIO")
	if err != nil {
		return err
	}
	// CFQ's files are gone from modern kernels; BFQ names them blkio.bfq.*.
	writeWeight := func(name, value, field string) error {
		err := writeFile(d, "blkio."+name, value, field)
		if isErrno(err, unix.ENOENT) {
			err = writeFile(d, "blkio.bfq."+name, value, field)
			if isErrno(err, unix.ENOENT) {
				return unsupported(field, "no blkio."+name+" or blkio.bfq."+name+" (is the BFQ scheduler in use?)")
			}
		}
		return err
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := writeWeight("weight", strconv.Itoa(int(*b.Weight)), "blockIO.weight"); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := writeFile(d, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight)), "blockIO.leafWeight"); err != nil {
			return err
		}
	}
	for i, wd := range b.WeightDevice {
		field := fmt.Sprintf("blockIO.weightDevice[%d]", i)
		if wd.Weight != nil {
			if err := writeWeight("weight_device", fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.Weight), field+".weight"); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := writeFile(d, "blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.LeafWeight), field+".leafWeight"); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		list  []specs.LinuxThrottleDevice
		file  string
		field string
	}{
		{b.ThrottleReadBpsDevice, "blkio.throttle.read_bps_device", "blockIO.throttleReadBpsDevice"},
		{b.ThrottleWriteBpsDevice, "blkio.throttle.write_bps_device", "blockIO.throttleWriteBpsDevice"},
		{b.ThrottleReadIOPSDevice, "blkio.throttle.read_iops_device", "blockIO.throttleReadIOPSDevice"},
		{b.ThrottleWriteIOPSDevice, "blkio.throttle.write_iops_device", "blockIO.throttleWriteIOPSDevice"},
	} {
		for i, td := range t.list {
			if err := writeFile(d, t.file, fmt.Sprintf("%d:%d %d", td.Major, td.Minor, td.Rate), fmt.Sprintf("%s[%d]", t.field, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *manager) v1Network(n *specs.LinuxNetwork) error {
	if n.ClassID != nil {
		d, err := m.v1Dir("net_cls", "network.classID")
		if err != nil {
			return err
		}
		if err := writeFile(d, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10), "network.classID"); err != nil {
			return err
		}
	}
	if len(n.Priorities) > 0 {
		d, err := m.v1Dir("net_prio", "network.priorities")
		if err != nil {
			return err
		}
		for i, p := range n.Priorities {
			if p.Name == "" || strings.ContainsAny(p.Name, " \n") {
				return invalid(fmt.Sprintf("network.priorities[%d].name", i), "bad interface name %q", p.Name)
			}
			if err := writeFile(d, "net_prio.ifpriomap", p.Name+" "+strconv.FormatUint(uint64(p.Priority), 10), fmt.Sprintf("network.priorities[%d]", i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setHugetlb writes hugetlb.<size>.limit_in_bytes (v1) or .max (v2), and
// the reservation limit where the kernel has it.
func setHugetlb(d string, limits []specs.LinuxHugepageLimit, v2 bool) error {
	sizes := hugePageSizes()
	for i, l := range limits {
		field := fmt.Sprintf("hugepageLimits[%d]", i)
		if !has(sizes, l.Pagesize) {
			return invalid(field+".pageSize", "page size %q is not supported by this host (have %s)", l.Pagesize, strings.Join(sizes, ", "))
		}
		v := strconv.FormatUint(l.Limit, 10)
		file, rsvd := "hugetlb."+l.Pagesize+".limit_in_bytes", "hugetlb."+l.Pagesize+".rsvd.limit_in_bytes"
		if v2 {
			file, rsvd = "hugetlb."+l.Pagesize+".max", "hugetlb."+l.Pagesize+".rsvd.max"
		}
		if err := writeFile(d, file, v, field+".limit"); err != nil {
			return err
		}
		if err := rawWrite(d+"/"+rsvd, v); err != nil && err != unix.ENOENT {
			return &ResourceError{Field: field + ".limit", File: rsvd, Op: "write", Err: err}
		}
	}
	return nil
}

func setRdma(d string, rdma map[string]specs.LinuxRdma) error {
	names := make([]string, 0, len(rdma))
	for k := range rdma {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, dev := range names {
		l := rdma[dev]
		field := fmt.Sprintf("rdma[%q]", dev)
		if strings.ContainsAny(dev, " \n") || dev == "" {
			return invalid(field, "bad device name")
		}
		line := dev
		if l.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if line == dev {
			continue
		}
		if err := writeFile(d, "rdma.max", line, field); err != nil {
			return err
		}
	}
	return nil
}

func nz(p *int64) *int64 {
	if p == nil || *p == 0 {
		return nil
	}
	return p
}

func nzu(p *uint64) *uint64 {
	if p == nil || *p == 0 {
		return nil
	}
	return p
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func isErrno(err error, e unix.Errno) bool {
	re, ok := err.(*ResourceError)
	return ok && re.Err == e
}
