package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v2Files are the interface files a populated test cgroup dir gets.
var v2Files = []string{
	"cgroup.procs", "cgroup.controllers", "cgroup.subtree_control", "cgroup.freeze", "cgroup.events",
	"memory.max", "memory.low", "memory.high", "memory.swap.max", "memory.current",
	"cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpu.stat",
	"cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max",
}

// fakeV2 makes Root/<id> with empty interface files (plus extra ones), so
// that the v2 mapping can be checked on plain files.
func fakeV2(t *testing.T, extra ...string) (root, id string) {
	t.Helper()
	root = t.TempDir()
	id = "ctr"
	d := filepath.Join(root, id)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(append([]string{}, v2Files...), extra...) {
		if err := os.WriteFile(filepath.Join(d, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, id
}

func TestV2FileMapping(t *testing.T) {
	const mib = 1 << 20
	size := "2MB"
	if hs := hugePageSizes(); len(hs) > 0 {
		size = hs[len(hs)-1]
	}
	cases := []struct {
		name  string
		extra []string
		r     specs.LinuxResources
		want  map[string]string
	}{
		{"memory", nil, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 * mib), Reservation: ptr[int64](50 * mib)}},
			map[string]string{"memory.max": "104857600", "memory.low": "52428800", "memory.swap.max": ""}},
		{"memory-unlimited", nil, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			map[string]string{"memory.max": "max"}},
		{"swap-is-total-minus-memory", nil, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 * mib), Swap: ptr[int64](300 * mib)}},
			map[string]string{"memory.max": "104857600", "memory.swap.max": "209715200"}},
		{"swap-unlimited", nil, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 * mib), Swap: ptr[int64](-1)}},
			map[string]string{"memory.swap.max": "max"}},
		{"swap-equal-memory-means-no-swap", nil, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 * mib), Swap: ptr[int64](100 * mib)}},
			map[string]string{"memory.swap.max": "0"}},
		{"kernel-memory-ignored", nil, specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: ptr[int64](mib), KernelTCP: ptr[int64](mib)}},
			map[string]string{"memory.max": ""}},
		{"shares-1024", nil, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024)}}, map[string]string{"cpu.weight": "39"}},
		{"shares-min", nil, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](2)}}, map[string]string{"cpu.weight": "1"}},
		{"shares-max", nil, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](262144)}}, map[string]string{"cpu.weight": "10000"}},
		{"quota-period", nil, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](20000)}},
			map[string]string{"cpu.max": "50000 100000", "cpu.max.burst": "20000"}},
		{"quota-unlimited", nil, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1), Period: ptr[uint64](250000)}},
			map[string]string{"cpu.max": "max 250000"}},
		{"quota-only", nil, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](20000)}}, map[string]string{"cpu.max": "20000"}},
		{"cpuset-idle", nil, specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1", Mems: "0", Idle: ptr[int64](1)}},
			map[string]string{"cpuset.cpus": "0-1", "cpuset.mems": "0", "cpu.idle": "1"}},
		{"pids", nil, specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 100}}, map[string]string{"pids.max": "100"}},
		{"pids-unlimited", nil, specs.LinuxResources{Pids: &specs.LinuxPids{Limit: -1}}, map[string]string{"pids.max": "max"}},
		{"io-weight", nil, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}}, map[string]string{"io.weight": "4950"}},
		{"io-bfq-weight", []string{"io.bfq.weight"}, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}},
			map[string]string{"io.bfq.weight": "500", "io.weight": ""}},
		{"io-weight-device", nil, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](10)}}}},
			map[string]string{"io.weight": "8:0 1"}},
		{"io-max-read-bps", nil, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 1048576}}}},
			map[string]string{"io.max": "8:16 rbps=1048576"}},
		{"io-max-write-iops", nil, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 253, Minor: 1}, Rate: 300}}}},
			map[string]string{"io.max": "253:1 wiops=300"}},
		{"hugetlb", []string{"hugetlb." + size + ".max", "hugetlb." + size + ".rsvd.max"}, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: size, Limit: 1 << 30}}},
			map[string]string{"hugetlb." + size + ".max": "1073741824", "hugetlb." + size + ".rsvd.max": "1073741824"}},
		{"unified-keys", nil, specs.LinuxResources{Unified: map[string]string{"memory.high": "5000000", "cpu.idle": "0"}},
			map[string]string{"memory.high": "5000000", "cpu.idle": "0"}},
		{"unified-overrides-mapped", nil, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 * mib)}, Unified: map[string]string{"memory.max": "max"}},
			map[string]string{"memory.max": "max"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, id := fakeV2(t, tc.extra...)
			m, err := New(Config{ID: id, Root: root})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Create(&tc.r); err != nil {
				t.Fatalf("Create: %v", err)
			}
			for f, want := range tc.want {
				b, err := os.ReadFile(filepath.Join(root, id, f))
				if err != nil {
					t.Fatal(err)
				}
				if got := string(b); got != want {
					t.Errorf("%s = %q, want %q", f, got, want)
				}
			}
		})
	}
}

func TestV2MappingErrors(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name  string
		r     specs.LinuxResources
		field string
		msg   string
	}{
		{"swap-without-limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](100 * mib)}}, "memory.swap", "needs a memory limit"},
		{"swap-below-limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 * mib), Swap: ptr[int64](50 * mib)}}, "memory.swap", "below the memory limit"},
		{"swappiness", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](10)}}, "memory.swappiness", "not supported"},
		{"oom-killer", specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(true)}}, "memory.disableOOMKiller", "not supported"},
		{"realtime", specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)}}, "cpu.realtimeRuntime", "not supported"},
		{"network", specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}}, "network", "not supported"},
		{"leaf-weight", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}}, "blockIO.leafWeight", "not supported"},
		{"missing-unified-key", specs.LinuxResources{Unified: map[string]string{"memory.oom.group": "1"}}, `unified["memory.oom.group"]`, "no file memory.oom.group"},
		{"bad-unified-key", specs.LinuxResources{Unified: map[string]string{"../../etc/passwd": "x"}}, `unified["../../etc/passwd"]`, "not a cgroup interface file"},
		{"missing-file", specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}}, "hugepageLimits[0].limit", "no such file"},
		{"device-type", specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}}, "devices[0].type", `"x" is not a, b or c`},
		{"device-major", specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr[int64](-5)}}}, "devices[0].major", "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, id := fakeV2(t)
			m, err := New(Config{ID: id, Root: root})
			if err != nil {
				t.Fatal(err)
			}
			err = m.Create(&tc.r)
			if tc.name == "missing-file" && !hasPageSize("2MB") {
				t.Skip("host has no 2MB huge pages")
			}
			wantFieldErr(t, err, tc.field)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if tc.msg == "not supported" && !errors.Is(err, ErrNotSupported) {
				t.Errorf("error %q is not ErrNotSupported", err)
			}
			// Nothing was written before the failure for single-resource
			// specs: the files stay empty.
			for _, f := range []string{"memory.max", "memory.swap.max", "cpu.max"} {
				if b, _ := os.ReadFile(filepath.Join(root, id, f)); len(b) != 0 {
					t.Errorf("%s written before the error: %q", f, b)
				}
			}
		})
	}
}

func hasPageSize(s string) bool {
	for _, h := range hugePageSizes() {
		if h == s {
			return true
		}
	}
	return false
}

func TestV2StatsParse(t *testing.T) {
	root, id := fakeV2(t, "memory.stat", "memory.events", "pids.current", "io.stat", "memory.swap.current")
	d := filepath.Join(root, id)
	files := map[string]string{
		"cpu.stat":            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 2\nthrottled_usec 30\n",
		"memory.stat":         "anon 4096\nfile 8192\n",
		"memory.current":      "12288\n",
		"memory.max":          "1048576\n",
		"memory.events":       "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
		"memory.swap.current": "100\n",
		"memory.swap.max":     "max\n",
		"pids.current":        "4\n",
		"pids.max":            "max\n",
		"io.stat":             "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
	}
	for f, v := range files {
		if err := os.WriteFile(filepath.Join(d, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(Config{ID: id, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU.Usage.Total != 1500000 || st.CPU.Usage.User != 1000000 || st.CPU.Usage.Kernel != 500000 {
		t.Errorf("cpu usage %+v", st.CPU.Usage)
	}
	if st.CPU.Throttling != (Throttling{7, 2, 30000}) {
		t.Errorf("throttling %+v", st.CPU.Throttling)
	}
	if st.Memory.Cache != 8192 || st.Memory.Usage.Usage != 12288 || st.Memory.Usage.Limit != 1048576 || st.Memory.Usage.Failcnt != 3 {
		t.Errorf("memory %+v", st.Memory)
	}
	if st.Memory.Swap.Usage != 12388 || st.Memory.Swap.Limit != ^uint64(0) {
		t.Errorf("swap (memory+swap) %+v", st.Memory.Swap)
	}
	if st.Pids != (Pids{Current: 4}) {
		t.Errorf("pids %+v", st.Pids)
	}
	want := []BlkioEntry{{8, 0, "Read", 100}, {8, 0, "Write", 200}}
	if len(st.Blkio.IoServiceBytesRecursive) != 2 || st.Blkio.IoServiceBytesRecursive[0] != want[0] || st.Blkio.IoServiceBytesRecursive[1] != want[1] {
		t.Errorf("io bytes %+v", st.Blkio.IoServiceBytesRecursive)
	}
}
