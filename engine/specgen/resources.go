package specgen

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linuxMinMemory is dockerd's smallest accepted memory limit (6 MiB).
const linuxMinMemory = 6 << 20

// cfsPeriod is the CFS period --cpus uses: 100 ms.
const cfsPeriod = 100000

// checkResources is the part of dockerd's verifyPlatformContainerResources
// that rejects values (the rest only warns about missing controllers).
func checkResources(r *Resources) error {
	if r.Memory != 0 && r.Memory < linuxMinMemory {
		return fmt.Errorf("--memory %d: minimum memory limit allowed is 6MB", r.Memory)
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return fmt.Errorf("--memory-swap %d: minimum memoryswap limit should be larger than memory limit (%d)", r.MemorySwap, r.Memory)
	}
	if r.Memory == 0 && r.MemorySwap > 0 {
		return errors.New("--memory-swap: you should always set the memory limit when using memoryswap limit")
	}
	if r.MemorySwap < -1 {
		return fmt.Errorf("--memory-swap %d: want -1 (unlimited), 0 or a size", r.MemorySwap)
	}
	if r.MemorySwappiness != nil && *r.MemorySwappiness != -1 && (*r.MemorySwappiness < 0 || *r.MemorySwappiness > 100) {
		return fmt.Errorf("--memory-swappiness %d: valid memory swappiness range is 0-100", *r.MemorySwappiness)
	}
	if r.MemoryReservation != 0 && r.MemoryReservation < linuxMinMemory {
		return fmt.Errorf("--memory-reservation %d: minimum memory reservation allowed is 6MB", r.MemoryReservation)
	}
	if r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation {
		return fmt.Errorf("--memory %d: minimum memory limit can not be less than memory reservation limit (%d)", r.Memory, r.MemoryReservation)
	}
	if r.NanoCPUs > 0 && r.CPUPeriod > 0 {
		return errors.New("conflicting options: --cpus and --cpu-period cannot both be set")
	}
	if r.NanoCPUs > 0 && r.CPUQuota > 0 {
		return errors.New("conflicting options: --cpus and --cpu-quota cannot both be set")
	}
	if nc := runtime.NumCPU(); r.NanoCPUs < 0 || r.NanoCPUs > int64(nc)*1e9 {
		return fmt.Errorf("--cpus %.2f: range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", float64(r.NanoCPUs)/1e9, nc, nc)
	}
	if r.CPUShares < 0 {
		return fmt.Errorf("--cpu-shares %d: invalid CPU shares: value must be a positive integer", r.CPUShares)
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000) {
		return fmt.Errorf("--cpu-period %d: CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)", r.CPUPeriod)
	}
	if r.CPUQuota > 0 && r.CPUQuota < 1000 {
		return fmt.Errorf("--cpu-quota %d: CPU cfs quota can not be less than 1ms (i.e. 1000)", r.CPUQuota)
	}
	if r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000) {
		return fmt.Errorf("--blkio-weight %d: range of blkio weight is from 10 to 1000", r.BlkioWeight)
	}
	if err := checkCPUSet("--cpuset-cpus", r.CPUSetCPUs, "/sys/devices/system/cpu/online"); err != nil {
		return err
	}
	return checkCPUSet("--cpuset-mems", r.CPUSetMems, "/sys/devices/system/node/online")
}

// checkCPUSet checks a list like "0-2,4" parses and names only online ids.
func checkCPUSet(flag, v, onlineFile string) error {
	if v == "" {
		return nil
	}
	want, err := parseCPUList(v)
	if err != nil {
		return fmt.Errorf("%s %q: invalid value: %w", flag, v, err)
	}
	b, err := os.ReadFile(onlineFile)
	if err != nil {
		return nil // no such topology file: let the kernel judge
	}
	have, err := parseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	for _, id := range want {
		if !slices.Contains(have, id) {
			return fmt.Errorf("%s %q: requested %d is not available (available: %s)", flag, v, id, strings.TrimSpace(string(b)))
		}
	}
	return nil
}

// linuxResources is dockerd's WithResources (memory, cpu, pids, blkio);
// the device rules are filled in separately.
func linuxResources(r Resources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	var mem specs.LinuxMemory
	if r.Memory > 0 {
		v := r.Memory
		mem.Limit = &v
	}
	if r.MemoryReservation > 0 {
		v := r.MemoryReservation
		mem.Reservation = &v
	}
	swap := r.MemorySwap
	if r.Memory > 0 && swap == 0 {
		swap = 2 * r.Memory // dockerd's default: as much swap as memory
	}
	if swap > 0 {
		mem.Swap = &swap
	}
	// -1 leaves swap unset: the runtime does not limit it.
	if r.MemorySwappiness != nil && *r.MemorySwappiness >= 0 {
		v := uint64(*r.MemorySwappiness)
		mem.Swappiness = &v
	}
	if r.OomKillDisable != nil {
		v := *r.OomKillDisable
		mem.DisableOOMKiller = &v
	}
	if mem != (specs.LinuxMemory{}) {
		out.Memory = &mem
	}

	var cpu specs.LinuxCPU
	if r.CPUShares > 0 {
		v := uint64(r.CPUShares)
		cpu.Shares = &v
	}
	cpu.Cpus = r.CPUSetCPUs
	cpu.Mems = r.CPUSetMems
	if r.NanoCPUs > 0 {
		period := uint64(cfsPeriod)
		quota := r.NanoCPUs * cfsPeriod / 1e9
		cpu.Period, cpu.Quota = &period, &quota
	}
	if r.CPUPeriod != 0 {
		v := uint64(r.CPUPeriod)
		cpu.Period = &v
	}
	if r.CPUQuota != 0 {
		v := r.CPUQuota
		cpu.Quota = &v
	}
	if cpu.Shares != nil || cpu.Cpus != "" || cpu.Mems != "" || cpu.Period != nil || cpu.Quota != nil {
		out.CPU = &cpu
	}

	switch {
	case r.PidsLimit > 0:
		out.Pids = &specs.LinuxPids{Limit: r.PidsLimit}
	case r.PidsLimit < 0:
		out.Pids = &specs.LinuxPids{Limit: -1}
	}
	if r.BlkioWeight > 0 {
		w := r.BlkioWeight
		out.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return out
}
