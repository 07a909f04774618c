package specgen

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Device
	}{
		{"/dev/fuse", Device{"/dev/fuse", "/dev/fuse", "rwm"}},
		{"/dev/fuse:r", Device{"/dev/fuse", "/dev/fuse", "r"}},
		{"/dev/sda:/dev/xvda", Device{"/dev/sda", "/dev/xvda", "rwm"}},
		{"/dev/sda:/dev/xvda:rw", Device{"/dev/sda", "/dev/xvda", "rw"}},
	} {
		got, err := ParseDevice(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "/a:/b:rwx", "/a:/b:c:d", "/a:rel/path", "/a:/b:rr"} {
		if _, err := ParseDevice(bad); err == nil {
			t.Errorf("ParseDevice(%q) succeeded", bad)
		}
	}
}

func TestDevices(t *testing.T) {
	testutil.RequireRoot(t)
	root := testRootfs(t)
	// A directory of nodes, one of them through a symlink.
	dir := filepath.Join("/dev", "berth-specgen-test")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := unix.Mknod(filepath.Join(dir, "null2"), unix.S_IFCHR|0o640, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}

	s := generate(t, &Options{Rootfs: root,
		Devices:           []Device{{"/dev/null", "/dev/mynull", "r"}, {PathOnHost: dir, PathInContainer: "/dev/sub", CgroupPermissions: "rw"}},
		DeviceCgroupRules: []string{"c 4:* rwm", "b 8:0 r"},
	})
	d := s.Linux.Devices
	var st unix.Stat_t
	if err := unix.Stat("/dev/null", &st); err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || d[0].Path != "/dev/mynull" || d[0].Type != "c" || d[0].Major != 1 || d[0].Minor != 3 || d[0].FileMode == nil || *d[0].FileMode != 0o666 || *d[0].UID != st.Uid || *d[0].GID != st.Gid {
		t.Fatalf("devices %+v mode %o uid %d", d, *d[0].FileMode, *d[0].UID)
	}
	if d[1].Path != "/dev/sub/null2" || *d[1].FileMode != 0o640 {
		t.Fatalf("directory device %+v", d[1])
	}
	var rules []string
	for _, r := range s.Linux.Resources.Devices[8:] {
		rules = append(rules, ruleString(r))
	}
	if !slices.Equal(rules, []string{"allow c 1:3 r", "allow c 1:3 rw", "allow c 4:* rwm", "allow b 8:0 r"}) {
		t.Fatalf("added rules %q", rules)
	}

	wantErr(t, &Options{Devices: []Device{{"/dev/nonexistent-berth", "/dev/x", "rwm"}}}, "/dev/nonexistent-berth")
	wantErr(t, &Options{Devices: []Device{{"/etc/hostname", "/dev/x", "rwm"}}}, "/etc/hostname")
	wantErr(t, &Options{Devices: []Device{{"/dev/null", "/dev/x", "rwx"}}}, "rwx")
	wantErr(t, &Options{DeviceCgroupRules: []string{"z 1:1 rwm"}}, "z 1:1 rwm")
}

func TestPrivilegedDevices(t *testing.T) {
	testutil.RequireRoot(t)
	s := generate(t, &Options{Privileged: true, Devices: []Device{{"/dev/null", "/dev/other-null", "r"}}, DeviceCgroupRules: []string{"c 1:1 r"}})
	rules := s.Linux.Resources.Devices
	if len(rules) != 1 || !rules[0].Allow || rules[0].Access != "rwm" || rules[0].Type != "" {
		t.Fatalf("privileged rules %+v", rules)
	}
	var paths []string
	for _, d := range s.Linux.Devices {
		paths = append(paths, d.Path)
		if d.Type != "c" && d.Type != "b" {
			t.Errorf("host device %s of type %s", d.Path, d.Type)
		}
	}
	for _, want := range []string{"/dev/null", "/dev/zero", "/dev/other-null"} {
		if !slices.Contains(paths, want) {
			t.Errorf("privileged devices lack %s: %q", want, paths)
		}
	}
	for _, p := range paths {
		if p == "/dev/console" || filepath.Dir(p) == "/dev/pts" {
			t.Errorf("privileged devices include %s", p)
		}
	}
}

func TestResources(t *testing.T) {
	pl := int64(100)
	sw := int64(30)
	oom := true
	s := generate(t, &Options{Resources: Resources{
		Memory: 64 << 20, MemoryReservation: 32 << 20, NanoCPUs: 1500000000, CPUShares: 512,
		CPUSetCPUs: "0", PidsLimit: pl, MemorySwappiness: &sw, OomKillDisable: &oom, BlkioWeight: 300,
	}})
	r := s.Linux.Resources
	if *r.Memory.Limit != 64<<20 || *r.Memory.Reservation != 32<<20 || *r.Memory.Swap != 128<<20 || *r.Memory.Swappiness != 30 || !*r.Memory.DisableOOMKiller {
		t.Fatalf("memory %+v", r.Memory)
	}
	if *r.CPU.Period != 100000 || *r.CPU.Quota != 150000 || *r.CPU.Shares != 512 || r.CPU.Cpus != "0" {
		t.Fatalf("cpu %+v", r.CPU)
	}
	if r.Pids == nil || r.Pids.Limit != 100 || *r.BlockIO.Weight != 300 {
		t.Fatalf("pids %+v blkio %+v", r.Pids, r.BlockIO)
	}
	if len(r.Devices) != 8 {
		t.Fatalf("device rules lost: %d", len(r.Devices))
	}
	// --memory-swap -1: unlimited, no swap limit written; explicit value kept.
	if m := generate(t, &Options{Resources: Resources{Memory: 64 << 20, MemorySwap: -1}}).Linux.Resources.Memory; m.Swap != nil {
		t.Fatalf("swap -1: %d", *m.Swap)
	}
	if m := generate(t, &Options{Resources: Resources{Memory: 64 << 20, MemorySwap: 100 << 20}}).Linux.Resources.Memory; *m.Swap != 100<<20 {
		t.Fatalf("swap %d", *m.Swap)
	}
	if p := generate(t, &Options{Resources: Resources{PidsLimit: -1}}).Linux.Resources.Pids; p == nil || p.Limit != -1 {
		t.Fatalf("pids -1: %+v", p)
	}
	if c := generate(t, &Options{Resources: Resources{CPUPeriod: 50000, CPUQuota: 25000}}).Linux.Resources.CPU; *c.Period != 50000 || *c.Quota != 25000 {
		t.Fatalf("period/quota %+v", c)
	}

	for _, c := range []struct {
		r    Resources
		want string
	}{
		{Resources{Memory: 1 << 20}, "--memory"},
		{Resources{Memory: 64 << 20, MemorySwap: 32 << 20}, "--memory-swap"},
		{Resources{MemorySwap: 64 << 20}, "--memory-swap"},
		{Resources{Memory: 16 << 20, MemoryReservation: 32 << 20}, "reservation"},
		{Resources{NanoCPUs: 1e9, CPUPeriod: 100000}, "--cpus"},
		{Resources{NanoCPUs: 1000e9}, "--cpus"},
		{Resources{CPUShares: -2}, "--cpu-shares"},
		{Resources{CPUPeriod: 10}, "--cpu-period"},
		{Resources{CPUSetCPUs: "0-4096"}, "--cpuset-cpus"},
		{Resources{CPUSetCPUs: "zero"}, "zero"},
		{Resources{MemorySwappiness: ptr(int64(200))}, "swappiness"},
	} {
		wantErr(t, &Options{Resources: c.r}, c.want)
	}
}

func TestSysctlsAndUlimits(t *testing.T) {
	s := generate(t, &Options{Domainname: "example.org", Sysctls: map[string]string{"net.core.somaxconn": "1024", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20", "net.ipv4.ip_unprivileged_port_start": "1024"}})
	for k, v := range map[string]string{"net.core.somaxconn": "1024", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20", "kernel.domainname": "example.org", "net.ipv4.ip_unprivileged_port_start": "1024"} {
		if s.Linux.Sysctl[k] != v {
			t.Errorf("sysctl %s = %q, want %q", k, s.Linux.Sysctl[k], v)
		}
	}
	s = generate(t, &Options{Namespaces: Namespaces{NetworkHost: true}})
	if _, ok := s.Linux.Sysctl["net.ipv4.ping_group_range"]; ok {
		t.Fatal("default net sysctls with the host's network")
	}
	if _, ok := hasNS(s, specs.NetworkNamespace); ok {
		t.Fatal("--network host keeps a network namespace")
	}
	wantErr(t, &Options{Sysctls: map[string]string{"kernel.panic": "1"}}, "kernel.panic", "namespaced")
	wantErr(t, &Options{Sysctls: map[string]string{"vm.swappiness": "1"}}, "vm.swappiness")
	wantErr(t, &Options{Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}, Namespaces: Namespaces{NetworkPath: "host"}}, "net.ipv4.ip_forward", "host network")
	wantErr(t, &Options{Sysctls: map[string]string{"kernel.sem": "1"}, Namespaces: Namespaces{IPCHost: true}}, "kernel.sem", "host IPC")
	wantErr(t, &Options{Domainname: "x.org", Namespaces: Namespaces{UTSHost: true}}, "x.org", "UTS")

	nofile, err := ParseUlimit("nofile=1024:2048")
	if err != nil || nofile != (specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}) {
		t.Fatalf("ParseUlimit: %+v %v", nofile, err)
	}
	if _, err := ParseUlimit("bogus=1"); err == nil {
		t.Fatal("ParseUlimit(bogus) succeeded")
	}
	s = generate(t, &Options{Ulimits: []specs.POSIXRlimit{nofile}})
	if len(s.Process.Rlimits) != 1 || s.Process.Rlimits[0] != nofile {
		t.Fatalf("rlimits %+v", s.Process.Rlimits)
	}
	wantErr(t, &Options{Ulimits: []specs.POSIXRlimit{{Type: "RLIMIT_WINGS", Soft: 1, Hard: 1}}}, "wings")
	wantErr(t, &Options{Ulimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 1}}}, "nofile", "soft")
}

func TestNamespaces(t *testing.T) {
	s := generate(t, &Options{Hostname: "h", Namespaces: Namespaces{
		NetworkPath: "/var/run/netns/x", NetworkShared: true, PIDPath: "/proc/1/ns/pid", UTSHost: true, Cgroup: "private",
	}})
	if n, _ := hasNS(s, specs.NetworkNamespace); n.Path != "/var/run/netns/x" {
		t.Fatalf("netns %+v", n)
	}
	if n, _ := hasNS(s, specs.PIDNamespace); n.Path != "/proc/1/ns/pid" {
		t.Fatalf("pidns %+v", n)
	}
	if _, ok := hasNS(s, specs.UTSNamespace); ok || s.Hostname != "" {
		t.Fatalf("--uts host: uts ns kept or hostname %q set", s.Hostname)
	}
	if !slices.Contains(s.Process.Env, "HOSTNAME=h") {
		t.Fatalf("HOSTNAME env %q", s.Process.Env)
	}
	if _, ok := hasNS(s, specs.CgroupNamespace); !ok {
		t.Fatal("--cgroupns private: no cgroup namespace")
	}
	if _, ok := s.Linux.Sysctl["net.ipv4.ping_group_range"]; ok {
		t.Fatal("default net sysctls in another container's netns")
	}
	if s := generate(t, &Options{Namespaces: Namespaces{Cgroup: "host"}}); func() bool { _, ok := hasNS(s, specs.CgroupNamespace); return ok }() {
		t.Fatal("--cgroupns host: cgroup namespace")
	}
	host, _ := os.Hostname()
	if s := generate(t, &Options{Namespaces: Namespaces{NetworkHost: true}}); s.Hostname != host {
		t.Fatalf("--network host without -h: hostname %q, want the host's %q", s.Hostname, host)
	}
	wantErr(t, &Options{Namespaces: Namespaces{NetworkPath: "netns/x"}}, "netns/x")
	wantErr(t, &Options{Namespaces: Namespaces{Cgroup: "shared"}}, "shared")
}

func TestBadNames(t *testing.T) {
	wantErr(t, &Options{Hostname: "this-hostname-is-far-too-long-to-be-accepted-by-sethostname-syscall-x"}, "this-hostname-is")
	wantErr(t, &Options{Hostname: "a b"}, `"a b"`)
	wantErr(t, &Options{Domainname: "x/y"}, "x/y")
	wantErr(t, &Options{Devices: []Device{{"/dev/null", "dev/null", "rwm"}}}, "dev/null", "absolute")
}
