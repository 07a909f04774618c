package cgroups

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// typicalResources is what an engine asks for a plain `run -m 512m`:
// memory, pids, cpu shares and the default device list.
func typicalResources() *specs.LinuxResources {
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, -1}} {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(d[0]), Access: "rwm"}
		if d[1] >= 0 {
			r.Minor = ptr(d[1])
		}
		rules = append(rules, r)
	}
	return &specs.LinuxResources{
		Devices: rules,
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](512 << 20)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](1024)},
		Pids:    &specs.LinuxPids{Limit: 4096},
	}
}

// BenchmarkCreateApplyDestroy measures one container's cgroup lifecycle on
// this host: New, Create with typical resources, Apply of a live process,
// and Destroy (the process is moved back out, untimed, before Destroy, as
// if it had exited). It also times the floor on the same hierarchies in the
// same run, bare mkdir + cgroup.procs write + rmdir with no spec handling,
// and reports our time as a multiple of it.
func BenchmarkCreateApplyDestroy(b *testing.B) {
	requireV1OrV2(b)
	cmd := startSleep(b, nil)
	pid := cmd.Process.Pid
	r := typicalResources()
	n := 0
	var dirs []string
	var tCreate, tApply, tDestroy time.Duration
	for b.Loop() {
		t0 := time.Now()
		n++
		m, err := New(Config{ID: fmt.Sprintf("berth-cgbench-%d-%d", unix.Getpid(), n)})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Create(r); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := m.Apply(pid); err != nil {
			b.Fatal(err)
		}
		tApply += time.Since(t1)
		tCreate += t1.Sub(t0)
		b.StopTimer()
		if dirs == nil {
			for _, d := range m.Paths() {
				dirs = append(dirs, d)
			}
		}
		moveToRoots(b, m.(*manager), pid)
		b.StartTimer()
		t2 := time.Now()
		if err := m.Destroy(); err != nil {
			b.Fatal(err)
		}
		tDestroy += time.Since(t2)
	}
	b.StopTimer()
	// The floor: the same dirs, made, joined and removed with nothing else.
	const floorN = 200
	var floor time.Duration
	for i := range floorN {
		t0 := time.Now()
		for j, d := range dirs {
			d = d + "-floor" + strconv.Itoa(i)
			dirs[j] = d
			if err := unix.Mkdir(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		for _, d := range dirs {
			if err := rawWrite(d+"/cgroup.procs", strconv.Itoa(pid)); err != nil {
				// a fresh v1 cpuset has no cpus: the floor cannot skip it
				_ = initCpuset([]string{d}, d, nil)
				if err := rawWrite(d+"/cgroup.procs", strconv.Itoa(pid)); err != nil {
					b.Fatal(err)
				}
			}
		}
		floor += time.Since(t0)
		m := &manager{}
		for _, d := range dirs {
			m.v1 = append(m.v1, v1dir{dir: d})
		}
		moveToRoots(b, m, pid)
		t0 = time.Now()
		for j, d := range dirs {
			if err := unix.Rmdir(d); err != nil {
				b.Fatal(err)
			}
			dirs[j] = d[:len(d)-len("-floor"+strconv.Itoa(i))]
		}
		floor += time.Since(t0)
	}
	perFloor := float64(floor.Nanoseconds()) / floorN
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perFloor, "floor-ns/op")
	b.ReportMetric(perOp/perFloor, "x-floor")
	b.ReportMetric(float64(len(dirs)), "dirs")
	b.ReportMetric(float64(tCreate.Nanoseconds())/float64(n), "create-ns/op")
	b.ReportMetric(float64(tApply.Nanoseconds())/float64(n), "apply-ns/op")
	b.ReportMetric(float64(tDestroy.Nanoseconds())/float64(n), "destroy-ns/op")
}

func requireV1OrV2(b *testing.B) {
	if unix.Geteuid() != 0 {
		b.Skip("needs root")
	}
}

// moveToRoots moves pid back to the root cgroup of every hierarchy of m.
func moveToRoots(b *testing.B, m *manager, pid int) {
	for _, d := range allDirs(m) {
		root := rootOf(d)
		if err := rawWrite(root+"/cgroup.procs", strconv.Itoa(pid)); err != nil {
			b.Fatalf("move %d back to %s: %v", pid, root, err)
		}
	}
}

func allDirs(m *manager) []string {
	var out []string
	for _, h := range m.v1 {
		out = append(out, h.dir)
	}
	if m.v2 != "" {
		out = append(out, m.v2)
	}
	return out
}

// rootOf returns the mount point a dir directly under it belongs to.
func rootOf(d string) string {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] == '/' {
			return d[:i]
		}
	}
	return d
}
