package cgroups

import (
	"bufio"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCgroupPath(t *testing.T) {
	cases := []struct {
		c    Config
		want string
		bad  bool
	}{
		{c: Config{ID: "abc"}, want: "/abc"},
		{c: Config{Path: "/berth/abc"}, want: "/berth/abc"},
		{c: Config{Path: "berth/abc"}, want: "/berth/abc"},
		{c: Config{Path: "/a/../../../etc"}, want: "/etc"},
		{c: Config{Path: "system.slice:berth:abc"}, want: "/system.slice/berth-abc.scope"},
		{c: Config{Path: "kubepods-besteffort-pod12.slice:cri-containerd:abc", Systemd: true}, want: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-abc.scope"},
		{c: Config{Path: ":berth:abc", Systemd: true}, want: "/system.slice/berth-abc.scope"},
		{c: Config{Path: "machine.slice::abc"}, want: "/machine.slice/abc.scope"},
		{c: Config{ID: "abc", Systemd: true}, want: "/system.slice/berth-abc.scope"},
		{c: Config{}, bad: true},
		{c: Config{ID: "../x"}, bad: true},
		{c: Config{ID: ".."}, bad: true},
		{c: Config{Path: "/"}, bad: true},
		{c: Config{Path: "bad:berth:abc", Systemd: true}, bad: true},
		{c: Config{Path: "a--b.slice:p:n"}, bad: true},
		{c: Config{Path: "relative", Systemd: true}, bad: true},
	}
	for _, tc := range cases {
		got, err := cgroupPath(tc.c)
		if tc.bad {
			if err == nil {
				t.Errorf("cgroupPath(%+v) = %q, want error", tc.c, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("cgroupPath(%+v) = %q, %v; want %q", tc.c, got, err, tc.want)
		}
	}
}

func TestV1DeviceLines(t *testing.T) {
	cases := []struct {
		in   specs.LinuxDeviceCgroup
		want []string
	}{
		{specs.LinuxDeviceCgroup{Access: "rwm"}, []string{"a"}},
		{specs.LinuxDeviceCgroup{Type: "a"}, []string{"a"}},
		{specs.LinuxDeviceCgroup{Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rw"}, []string{"c 1:3 rw"}},
		{specs.LinuxDeviceCgroup{Type: "b", Major: ptr[int64](8), Access: "m"}, []string{"b 8:* m"}},
		// A narrow "a" rule must not become the kernel's allow-all "a".
		{specs.LinuxDeviceCgroup{Type: "a", Access: "r"}, []string{"c *:* r", "b *:* r"}},
	}
	for _, tc := range cases {
		r, err := parseDeviceRules([]specs.LinuxDeviceCgroup{tc.in})
		if err != nil {
			t.Fatal(err)
		}
		if got := v1DeviceLines(r[0]); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("v1DeviceLines(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseV1Mounts(t *testing.T) {
	got := parseV1Mounts(scannerOf(`31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 31 0:29 / /mnt/again rw,relatime - cgroup cgroup rw,cpu,cpuacct`))
	want := []hierarchy{
		{"/sys/fs/cgroup/cpuset", []string{"cpuset"}},
		{"/sys/fs/cgroup/cpu,cpuacct", []string{"cpu", "cpuacct"}},
		{"/sys/fs/cgroup/systemd", []string{"name=systemd"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseV1Mounts = %+v, want %+v", got, want)
	}
}

// The hierarchies found from /proc/self/cgroup at their standard places
// are the ones mountinfo lists.
func TestV1MountsStandardMatchesMountinfo(t *testing.T) {
	if HostMode() == Unified {
		t.Skip("no cgroup v1 hierarchies on this host")
	}
	fast, ok := v1MountsStandard()
	if !ok {
		t.Skip("cgroup v1 not mounted at the standard places here")
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	slow := parseV1Mounts(bufio.NewScanner(f))
	key := func(hs []hierarchy) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.mount+"="+strings.Join(h.controllers, ","))
		}
		sort.Strings(out)
		return out
	}
	if a, b := key(fast), key(slow); !reflect.DeepEqual(a, b) {
		t.Fatalf("from /proc/self/cgroup %v\nfrom mountinfo       %v", a, b)
	}
	if !has(fast[0].controllers, "cpuset") {
		t.Errorf("cpuset not first: %+v", fast)
	}
}
