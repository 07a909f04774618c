package cgroups

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestV1Lifecycle(t *testing.T) {
	requireV1(t)
	id := testID(t)
	m := mustNew(t, Config{ID: id})
	const mib = 1 << 20
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](64 * mib), Swap: ptr[int64](128 * mib), Reservation: ptr[int64](32 * mib), Swappiness: ptr[uint64](10)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "0", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: 50},
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](5), Access: "rw"},
		},
	}
	if err := m.Create(r); err != nil {
		t.Fatalf("Create: %v", err)
	}
	p := m.Paths()
	for _, c := range []string{"memory", "cpu", "cpuset", "pids", "devices", "freezer", ""} {
		if p[c] == "" {
			t.Fatalf("Paths() has no %q: %v", c, p)
		}
		if _, err := os.Stat(p[c]); err != nil {
			t.Fatalf("%s dir: %v", c, err)
		}
	}
	wantFile(t, p["memory"]+"/memory.limit_in_bytes", strconv.Itoa(64*mib))
	wantFile(t, p["memory"]+"/memory.memsw.limit_in_bytes", strconv.Itoa(128*mib))
	wantFile(t, p["memory"]+"/memory.soft_limit_in_bytes", strconv.Itoa(32*mib))
	wantFile(t, p["memory"]+"/memory.swappiness", "10")
	wantFile(t, p["cpu"]+"/cpu.shares", "512")
	wantFile(t, p["cpu"]+"/cpu.cfs_quota_us", "50000")
	wantFile(t, p["cpu"]+"/cpu.cfs_period_us", "100000")
	wantFile(t, p["cpuset"]+"/cpuset.cpus", "0")
	wantFile(t, p["cpuset"]+"/cpuset.mems", "0")
	wantFile(t, p["pids"]+"/pids.max", "50")
	wantFile(t, p["devices"]+"/devices.list", "c 1:3 rwm\nc 1:5 rw")
	if err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](300)}}); err != nil {
		t.Fatalf("Set blkio weight: %v", err)
	}
	if exists(p["blkio"] + "/blkio.bfq.weight") {
		wantFile(t, p["blkio"]+"/blkio.bfq.weight", "300")
	}

	cmd := startSleep(t, nil)
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	cg := procCgroups(t, pid)
	for _, c := range []string{"memory", "cpu", "cpuset", "pids", "devices", "freezer", ""} {
		if cg[c] != "/"+id {
			t.Errorf("/proc/%d/cgroup %q = %q, want /%s", pid, c, cg[c], id)
		}
	}
	pids, err := m.Pids()
	if err != nil || !slices.Equal(pids, []int{pid}) {
		t.Fatalf("Pids() = %v, %v; want [%d]", pids, err, pid)
	}

	// Usage counters are checked in TestV1StatsUsage with a process that
	// allocates after joining; here the limits and counts.
	st, err := m.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Pids.Current != 1 || st.Pids.Limit != 50 {
		t.Errorf("pids stats = %+v, want current 1 limit 50", st.Pids)
	}
	if st.Memory.Usage.Limit != 64*mib {
		t.Errorf("memory limit stat = %d", st.Memory.Usage.Limit)
	}
	if len(st.Memory.Raw) == 0 {
		t.Errorf("memory.stat not read")
	}
	if !slices.Equal(st.CPUSet.CPUs, []uint16{0}) {
		t.Errorf("cpuset stats cpus = %v", st.CPUSet.CPUs)
	}
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(js, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cpu", "memory", "pids", "blkio", "hugetlb", "cpuset"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("stats JSON has no %q: %s", k, js)
		}
	}

	// Freeze: the task must stop in the freezer.
	if err := m.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if s, err := m.FreezerState(); err != nil || s != "frozen" {
		t.Fatalf("FreezerState = %q, %v; want frozen", s, err)
	}
	wantFile(t, p["freezer"]+"/freezer.state", "FROZEN")
	if err := m.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if s, err := m.FreezerState(); err != nil || s != "thawed" {
		t.Fatalf("FreezerState = %q, %v; want thawed", s, err)
	}

	// Update: raise both limits (memsw first), then lower them (limit
	// first); either order wrong would fail with EINVAL.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](256 * mib), Swap: ptr[int64](512 * mib)}, Pids: &specs.LinuxPids{Limit: -1}}); err != nil {
		t.Fatalf("Set raise: %v", err)
	}
	wantFile(t, p["memory"]+"/memory.limit_in_bytes", strconv.Itoa(256*mib))
	wantFile(t, p["memory"]+"/memory.memsw.limit_in_bytes", strconv.Itoa(512*mib))
	wantFile(t, p["pids"]+"/pids.max", "max")
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](16 * mib), Swap: ptr[int64](24 * mib)}, CPU: &specs.LinuxCPU{Quota: ptr[int64](-1), Cpus: "0-1"}}); err != nil {
		t.Fatalf("Set lower: %v", err)
	}
	wantFile(t, p["memory"]+"/memory.limit_in_bytes", strconv.Itoa(16*mib))
	wantFile(t, p["memory"]+"/memory.memsw.limit_in_bytes", strconv.Itoa(24*mib))
	wantFile(t, p["cpu"]+"/cpu.cfs_quota_us", "-1")
	wantFile(t, p["cpuset"]+"/cpuset.cpus", "0-1")
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](5), Access: "r"}}}); err != nil {
		t.Fatalf("Set devices: %v", err)
	}
	wantFile(t, p["devices"]+"/devices.list", "c 1:5 r")

	// SIGTERM goes through freeze, signal each pid, thaw.
	if err := m.Kill(syscall.SIGTERM); err != nil {
		t.Fatalf("Kill(SIGTERM): %v", err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("sleep ended with %v, want SIGTERM", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantGone(t, m)
	if err := m.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
}

func TestV1KillAndDestroyBusy(t *testing.T) {
	requireV1(t)
	m := mustNew(t, Config{Path: testID(t) + "/kill"})
	removeParents(t, m, 1)
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	var cmds []*os.Process
	for range 3 {
		c := startSleep(t, nil)
		if err := m.Apply(c.Process.Pid); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c.Process)
	}
	if pids, _ := m.Pids(); len(pids) != 3 {
		t.Fatalf("Pids() = %v, want 3", pids)
	}
	if err := m.Kill(syscall.SIGKILL); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	// Destroy right away: the tasks may still be exiting (EBUSY).
	if err := m.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantGone(t, m)
	for _, p := range cmds {
		st, _ := p.Wait()
		if ws := st.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGKILL {
			t.Errorf("pid %d: %v, want SIGKILL", p.Pid, st)
		}
	}
}

func TestV1NestedCpusetInherit(t *testing.T) {
	requireV1(t)
	top := testID(t)
	m := mustNew(t, Config{Path: top + "/mid/leaf"})
	removeParents(t, m, 2)
	if err := m.Create(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 5}}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	cs := m.Paths()["cpuset"]
	parent := readTrim(t, DefaultRoot+"/cpuset/cpuset.cpus")
	for _, d := range []string{filepath.Dir(filepath.Dir(cs)), filepath.Dir(cs), cs} {
		wantFile(t, d+"/cpuset.cpus", parent)
		if readTrim(t, d+"/cpuset.mems") == "" {
			t.Errorf("%s/cpuset.mems is empty", d)
		}
	}
	c := startSleep(t, nil)
	if err := m.Apply(c.Process.Pid); err != nil {
		t.Fatalf("Apply into nested cpuset: %v", err)
	}
}

func TestV1InvalidLeavesNothing(t *testing.T) {
	requireV1(t)
	const mib = 1 << 20
	cases := []struct {
		name  string
		r     specs.LinuxResources
		field string
	}{
		{"cpuset-99", specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "99"}}, "cpu.cpus"},
		{"period-too-small", specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](5000), Period: ptr[uint64](10)}}, "cpu.period"},
		{"swap-below-limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 * mib), Swap: ptr[int64](32 * mib)}}, "memory.swap"},
		{"swappiness", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](200)}}, "memory.swappiness"},
		{"page-size", specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}}, "hugepageLimits[0].pageSize"},
		{"device-access", specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwx"}}}, "devices[0].access"},
		{"blkio-leaf-weight", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}}, "blockIO.leafWeight"},
		{"net-cls-unmounted", specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](7)}}, "network.classID"},
		{"unified-on-v1", specs.LinuxResources{Unified: map[string]string{"memory.nope": "1"}}, `unified["memory.nope"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"", testID(t) + "/nested"} {
				m := mustNew(t, Config{ID: testID(t), Path: path})
				err := m.Create(&tc.r)
				if tc.name == "blkio-leaf-weight" && err == nil {
					t.Skip("this kernel still has CFQ's blkio.leaf_weight")
				}
				if tc.name == "net-cls-unmounted" && err == nil {
					t.Skip("net_cls is mounted here")
				}
				wantFieldErr(t, err, tc.field)
				t.Logf("error: %v", err)
				wantGone(t, m)
				if path != "" {
					for c, d := range m.Paths() {
						if _, err := os.Stat(filepath.Dir(d)); err == nil {
							t.Errorf("parent dir of %q left behind: %s", c, filepath.Dir(d))
						}
					}
				}
			}
		})
	}
}

func TestHybridHugetlbViaUnified(t *testing.T) {
	requireV1(t)
	if HostMode() != Hybrid {
		t.Skip("host is not hybrid")
	}
	m := mustNew(t, Config{ID: testID(t)})
	if _, ok := m.(*manager).ctrl["hugetlb"]; ok {
		t.Skip("v1 has hugetlb here; the v2 fallback is not used")
	}
	if !hasController(DefaultRoot+"/unified", "hugetlb") {
		t.Skip("no hugetlb controller on this host")
	}
	size := hugePageSizes()[0]
	if slices.Contains(hugePageSizes(), "2MB") {
		size = "2MB"
	}
	limit := 4 * pageBytes(size)
	if err := m.Create(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: size, Limit: limit}}}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	wantFile(t, m.Paths()[""]+"/hugetlb."+size+".max", strconv.FormatUint(limit, 10))
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Hugetlb[size]; !ok {
		t.Errorf("stats hugetlb has no %s: %v", size, st.Hugetlb)
	}
}

func TestV1StatsUsage(t *testing.T) {
	requireV1(t)
	m := mustNew(t, Config{ID: testID(t)})
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	// A shell that joins the cgroup itself, then allocates and spins, so
	// memory and CPU are charged to this cgroup.
	startShell(t, m, `x=$(head -c 4000000 /dev/zero | tr '\0' a); i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Memory.Usage.Usage > 8192 && st.CPU.Usage.Total > 0 && st.Pids.Current >= 1 {
			t.Logf("memory %d, cpu %d ns, pids %d", st.Memory.Usage.Usage, st.CPU.Usage.Total, st.Pids.Current)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats stayed empty: memory %+v cpu %+v pids %+v", st.Memory.Usage, st.CPU.Usage, st.Pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// checkBeforeUpdate refuses a limit below the usage and changes
	// nothing.
	mem := m.Paths()["memory"]
	before := readTrim(t, mem+"/memory.limit_in_bytes")
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](8192), CheckBeforeUpdate: ptr(true)}})
	wantFieldErr(t, err, "memory.limit")
	if !strings.Contains(err.Error(), "below the current usage") {
		t.Errorf("error %q does not mention the usage", err)
	}
	wantFile(t, mem+"/memory.limit_in_bytes", before)
}

// startShell starts sh -c script with the shell placed in m's cgroup
// before it runs anything.
func startShell(t *testing.T, m Manager, script string) *os.Process {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "read x; " + script}, &os.ProcAttr{Files: []*os.File{r, nil, os.Stderr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); p.Wait() })
	if err := m.Apply(p.Pid); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("go\n"))
	w.Close()
	return p
}

// removeParents destroys m, then removes the levels of parent dirs its
// nested path made.
func removeParents(t *testing.T, m Manager, levels int) {
	t.Cleanup(func() {
		_ = m.Kill(syscall.SIGKILL)
		_ = m.Destroy()
		for _, d := range m.Paths() {
			for range levels {
				d = filepath.Dir(d)
				os.Remove(d)
			}
		}
	})
}

func pageBytes(size string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimRight(size, "KMGB"), 10, 64)
	switch {
	case strings.HasSuffix(size, "GB"):
		return n << 30
	case strings.HasSuffix(size, "MB"):
		return n << 20
	case strings.HasSuffix(size, "KB"):
		return n << 10
	}
	return n
}
