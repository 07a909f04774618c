package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// openInCgroup runs the test binary as a helper inside m's cgroup (placed
// there at clone time through CLONE_INTO_CGROUP) and returns what it saw
// opening each device.
func openInCgroup(t *testing.T, m Manager, devs string) map[string]string {
	t.Helper()
	fd, ok, err := m.OpenFD()
	if err != nil || !ok {
		t.Fatalf("OpenFD = %d, %v, %v", fd, ok, err)
	}
	defer unix.Close(fd)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "BERTH_CGTEST_OPEN="+devs)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	res := map[string]string{}
	for _, kv := range strings.Fields(string(out)) {
		k, v, _ := strings.Cut(kv, "=")
		res[k] = v
	}
	return res
}

func countDevicePrograms(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	q, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	return len(q.Programs)
}

func dev(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		d.Major = &major
	}
	if minor >= 0 {
		d.Minor = &minor
	}
	return d
}

func TestV2DeviceFilter(t *testing.T) {
	root := v2Root(t)
	m := mustNew(t, Config{ID: testID(t), Root: root})
	rules := []specs.LinuxDeviceCgroup{
		dev(false, "a", -1, -1, "rwm"),
		dev(true, "c", 1, -1, "rwm"), // all of major 1 ...
		dev(false, "c", 1, 3, "rwm"), // ... but /dev/null: last match wins
		dev(false, "c", 1, 8, "w"),   // /dev/random: no write, read stays
	}
	if err := m.Create(&specs.LinuxResources{Devices: rules}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	got := openInCgroup(t, m, "/dev/null,/dev/zero,/dev/random,/dev/random:w,/dev/tty")
	want := map[string]string{"/dev/null": "EPERM", "/dev/zero": "ok", "/dev/random": "ok", "/dev/random:w": "EPERM", "/dev/tty": "EPERM"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("open %s in cgroup: %s, want %s (all: %v)", k, got[k], v, got)
		}
	}
	if n := countDevicePrograms(t, m.Paths()[""]); n != 1 {
		t.Fatalf("%d device programs attached, want 1", n)
	}

	// Set replaces the program: now /dev/null is allowed, /dev/zero not.
	rules = []specs.LinuxDeviceCgroup{
		dev(false, "", -1, -1, ""),
		dev(true, "c", 1, 3, "rw"),
		dev(true, "c", 1, 5, "w"),
	}
	if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got = openInCgroup(t, m, "/dev/null,/dev/zero,/dev/zero:w")
	want = map[string]string{"/dev/null": "ok", "/dev/zero": "EPERM", "/dev/zero:w": "ok"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("after Set: open %s: %s, want %s", k, got[k], v)
		}
	}
	if n := countDevicePrograms(t, m.Paths()[""]); n != 1 {
		t.Errorf("%d device programs attached after Set, want 1", n)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	wantGone(t, m)
}

func TestV2CloneIntoFreezeKill(t *testing.T) {
	root := v2Root(t)
	id := testID(t)
	m := mustNew(t, Config{ID: id, Root: root})
	if err := m.Create(nil); err != nil {
		t.Fatal(err)
	}
	fd, ok, err := m.OpenFD()
	if err != nil || !ok {
		t.Fatalf("OpenFD: %v %v", ok, err)
	}
	cmd := startSleep(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd})
	unix.Close(fd)
	pid := cmd.Process.Pid
	if got := procCgroups(t, pid)[""]; got != "/"+id {
		t.Fatalf("child cgroup %q, want /%s", got, id)
	}
	if pids, err := m.Pids(); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Fatalf("Pids = %v, %v", pids, err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Current != 1 {
		t.Errorf("pids.current = %d, want 1", st.Pids.Current)
	}
	if err := m.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if s, _ := m.FreezerState(); s != "frozen" {
		t.Fatalf("state %q after Freeze", s)
	}
	if fr, _ := eventsFrozen(m.Paths()[""]); !fr {
		t.Fatalf("cgroup.events does not say frozen")
	}
	if err := m.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if s, _ := m.FreezerState(); s != "thawed" {
		t.Fatalf("state %q after Thaw", s)
	}
	if err := m.Kill(syscall.SIGKILL); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGKILL {
		t.Fatalf("sleep: %v, want SIGKILL", cmd.ProcessState)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	wantGone(t, m)
}

func TestV2NestedEnablesControllers(t *testing.T) {
	root := v2Root(t)
	if !hasController(root, "hugetlb") {
		t.Skip("the cgroup2 mount offers no hugetlb controller to enable")
	}
	top := testID(t)
	m := mustNew(t, Config{Path: top + "/mid/leaf", Root: root})
	removeParents(t, m, 2)
	size := "2MB"
	if !slices.Contains(hugePageSizes(), size) {
		size = hugePageSizes()[0]
	}
	limit := 2 * pageBytes(size)
	r := &specs.LinuxResources{
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: size, Limit: limit}},
		Unified:        map[string]string{"cgroup.max.descendants": "3"},
	}
	if err := m.Create(r); err != nil {
		t.Fatalf("Create: %v", err)
	}
	d := m.Paths()[""]
	for _, p := range []string{root, filepath.Join(root, top), filepath.Join(root, top, "mid")} {
		if !strings.Contains(readTrim(t, p+"/cgroup.subtree_control"), "hugetlb") {
			t.Errorf("%s: hugetlb not enabled in subtree_control", p)
		}
	}
	wantFile(t, d+"/hugetlb."+size+".max", strconv.FormatUint(limit, 10))
	wantFile(t, d+"/cgroup.max.descendants", "3")
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Hugetlb[size]; !ok {
		t.Errorf("no hugetlb %s in stats", size)
	}
	// A unified key naming a file the cgroup lacks fails and names it.
	m2 := mustNew(t, Config{ID: testID(t), Root: root})
	err = m2.Create(&specs.LinuxResources{Unified: map[string]string{"memory.bogus": "1"}})
	wantFieldErr(t, err, `unified["memory.bogus"]`)
	if !errors.Is(err, ErrNotSupported) {
		t.Errorf("error %v is not ErrNotSupported", err)
	}
	wantGone(t, m2)
}
