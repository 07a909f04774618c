package cgroups

import (
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

// BenchmarkV2CreateDestroyDevices measures the v2 path on the host's
// cgroup2 mount: mkdir, a BPF device program for the default device list
// (load + attach), rmdir. The first iteration includes cilium/ebpf's
// one-time kernel feature probes, which every fresh `berth runtime create`
// process pays; it is reported apart as first-ns.
func BenchmarkV2CreateDestroyDevices(b *testing.B) {
	root := v2Root(b)
	r := typicalResources()
	r.Memory, r.CPU, r.Pids = nil, nil, nil
	n := 0
	var first time.Duration
	for b.Loop() {
		n++
		t0 := time.Now()
		m, err := New(Config{ID: fmt.Sprintf("berth-cgbench2-%d-%d", unix.Getpid(), n), Root: root})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Create(r); err != nil {
			b.Fatal(err)
		}
		if err := m.Destroy(); err != nil {
			b.Fatal(err)
		}
		if n == 1 {
			first = time.Since(t0)
		}
	}
	b.ReportMetric(float64(first.Nanoseconds()), "first-ns")
}

// BenchmarkDeviceFilterLoad measures compiling the default device list and
// loading it into the kernel (verifier + JIT): the part of a v2 container
// start that the device rules cost.
func BenchmarkDeviceFilterLoad(b *testing.B) {
	testutil.RequireRoot(b)
	rules := typicalResources().Devices
	for b.Loop() {
		insts, err := DeviceFilter(rules)
		if err != nil {
			b.Fatal(err)
		}
		fd, err := loadDeviceProgram(insts)
		if err != nil {
			b.Fatal(err)
		}
		unix.Close(fd)
	}
}
