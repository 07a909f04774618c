package specgen

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The whole default spec of `docker run IMAGE`, field by field.
func TestDefaultSpecIsDockers(t *testing.T) {
	root := testRootfs(t)
	s := generate(t, &Options{
		Rootfs:      root,
		Hostname:    "abc123",
		CgroupsPath: "/berth/abc123",
		Image:       ocispec.ImageConfig{Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"echo hi"}},
	})
	if s.Version != specs.Version || s.Root.Path != root || s.Root.Readonly || s.Hostname != "abc123" {
		t.Fatalf("header: version %q root %+v hostname %q", s.Version, s.Root, s.Hostname)
	}
	p := s.Process
	if !slices.Equal(p.Args, []string{"/bin/sh", "-c", "echo hi"}) || p.Cwd != "/" || p.Terminal || p.NoNewPrivileges {
		t.Fatalf("process: %+v", p)
	}
	if p.OOMScoreAdj == nil || *p.OOMScoreAdj != 0 {
		t.Fatalf("oomScoreAdj %v, want 0 like dockerd", p.OOMScoreAdj)
	}
	if p.User.UID != 0 || p.User.GID != 0 || !slices.Equal(p.User.AdditionalGids, []uint32{0, 10}) {
		t.Fatalf("user %+v", p.User)
	}
	caps := DefaultCapabilities()
	if c := p.Capabilities; !slices.Equal(c.Bounding, caps) || !slices.Equal(c.Effective, caps) || !slices.Equal(c.Permitted, caps) || len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Fatalf("capabilities %+v", c)
	}
	if len(DefaultCapabilities()) != 14 {
		t.Fatal("Docker has 14 default capabilities")
	}

	wantMounts := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}
	if got := mountDests(s); !slices.Equal(got, wantMounts) {
		t.Fatalf("mounts %q, want %q", got, wantMounts)
	}
	if m := mountAt(s, "/dev/shm"); !slices.Equal(m.Options, []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}) || m.Type != "tmpfs" {
		t.Fatalf("/dev/shm %+v", m)
	}
	if m := mountAt(s, "/sys"); !slices.Contains(m.Options, "ro") {
		t.Fatalf("/sys not read-only: %+v", m)
	}
	if m := mountAt(s, "/sys/fs/cgroup"); !slices.Contains(m.Options, "ro") || m.Type != "cgroup" {
		t.Fatalf("/sys/fs/cgroup %+v", m)
	}

	l := s.Linux
	if l.CgroupsPath != "/berth/abc123" {
		t.Fatalf("cgroupsPath %q", l.CgroupsPath)
	}
	for _, want := range []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware"} {
		if !slices.Contains(l.MaskedPaths, want) {
			t.Errorf("masked paths lack %s", want)
		}
	}
	if !slices.Equal(l.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
		t.Fatalf("readonly paths %q", l.ReadonlyPaths)
	}
	var nsTypes []specs.LinuxNamespaceType
	for _, n := range l.Namespaces {
		nsTypes = append(nsTypes, n.Type)
		if n.Path != "" {
			t.Errorf("namespace %s joins %s", n.Type, n.Path)
		}
	}
	want := []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc"}
	if cgroup2Host() {
		want = append(want, "cgroup")
	}
	if !slices.Equal(nsTypes, want) {
		t.Fatalf("namespaces %v, want %v", nsTypes, want)
	}

	// Device cgroup: deny all, Docker's allow list, fuse denied.
	rules := l.Resources.Devices
	if len(rules) != 8 || rules[0].Allow || rules[0].Type != "" || rules[0].Access != "rwm" {
		t.Fatalf("device rules %+v", rules)
	}
	var allowed []string
	for _, r := range rules[1:] {
		allowed = append(allowed, ruleString(r))
	}
	if !slices.Equal(allowed, []string{"allow c 1:5 rwm", "allow c 1:3 rwm", "allow c 1:9 rwm", "allow c 1:8 rwm", "allow c 5:0 rwm", "allow c 5:1 rwm", "deny c 10:229 rwm"}) {
		t.Fatalf("device rules %q", allowed)
	}
	if len(l.Devices) != 0 {
		t.Fatalf("devices %+v: the runtime adds the defaults", l.Devices)
	}
	if l.Resources.Memory != nil || l.Resources.CPU != nil || l.Resources.Pids != nil {
		t.Fatalf("resources without flags: %+v", l.Resources)
	}

	if sysctlExists("net.ipv4.ping_group_range") && l.Sysctl["net.ipv4.ping_group_range"] != "0 2147483647" {
		t.Errorf("sysctls %v: lack dockerd's ping_group_range", l.Sysctl)
	}
	if sysctlExists("net.ipv4.ip_unprivileged_port_start") && l.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("sysctls %v: lack dockerd's ip_unprivileged_port_start", l.Sysctl)
	}

	sc := l.Seccomp
	if sc == nil || sc.DefaultAction != specs.ActErrno || len(sc.Syscalls) < 10 {
		t.Fatalf("seccomp: %+v", sc)
	}
	if s.Process.ApparmorProfile != "" && !apparmorEnabled() {
		t.Fatalf("apparmor profile %q on a host without AppArmor", s.Process.ApparmorProfile)
	}
	// The spec is what gets written: it must round-trip through JSON.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back specs.Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
}

func ruleString(r specs.LinuxDeviceCgroup) string {
	v := "deny"
	if r.Allow {
		v = "allow"
	}
	n := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	return v + " " + r.Type + " " + n(r.Major) + ":" + n(r.Minor) + " " + r.Access
}

func syscallAllowed(p *specs.LinuxSeccomp, name string) bool {
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && slices.Contains(sc.Names, name) && len(sc.Args) == 0 {
			return true
		}
	}
	return false
}

func TestCapabilities(t *testing.T) {
	all := AllCaps()
	if len(all) < 30 || !slices.Contains(all, "CAP_SYS_ADMIN") {
		t.Fatalf("AllCaps %q", all)
	}
	for _, c := range []struct {
		name      string
		add, drop []string
		want      []string
	}{
		{"add short name", []string{"net_admin"}, nil, append(DefaultCapabilities(), "CAP_NET_ADMIN")},
		{"drop", nil, []string{"CAP_CHOWN", "kill"}, slices.DeleteFunc(DefaultCapabilities(), func(s string) bool { return s == "CAP_CHOWN" || s == "CAP_KILL" })},
		{"drop all keep added", []string{"NET_BIND_SERVICE", "CAP_SETUID"}, []string{"ALL"}, []string{"CAP_NET_BIND_SERVICE", "CAP_SETUID"}},
		{"add all minus dropped", []string{"all"}, []string{"SYS_ADMIN"}, slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == "CAP_SYS_ADMIN" })},
	} {
		got, err := Capabilities(c.add, c.drop, false)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q %v\nwant %q", c.name, got, err, c.want)
		}
	}
	root := testRootfs(t)
	s := generate(t, &Options{Rootfs: root, Privileged: true, CapDrop: []string{"ALL"}})
	if !slices.Equal(s.Process.Capabilities.Bounding, all) {
		t.Fatalf("privileged caps %q", s.Process.Capabilities.Bounding)
	}
	// Non-root: only the bounding set, as dockerd writes it.
	s = generate(t, &Options{Rootfs: root, User: "alice", CapAdd: []string{"NET_ADMIN"}})
	if c := s.Process.Capabilities; len(c.Effective) != 0 || len(c.Permitted) != 0 || !slices.Contains(c.Bounding, "CAP_NET_ADMIN") {
		t.Fatalf("non-root capabilities %+v", c)
	}
	wantErr(t, &Options{CapAdd: []string{"CAP_FLY"}}, "CAP_FLY", "unknown capability")
	wantErr(t, &Options{CapDrop: []string{"wings"}}, "CAP_WINGS")
}

func TestSeccompFollowsCaps(t *testing.T) {
	root := testRootfs(t)
	def := generate(t, &Options{Rootfs: root}).Linux.Seccomp
	if syscallAllowed(def, "mount") || syscallAllowed(def, "unshare") {
		t.Fatal("default profile allows mount/unshare without CAP_SYS_ADMIN")
	}
	if syscallAllowed(def, "ptrace") && !kernelAtLeast(4, 8) {
		t.Fatal("ptrace allowed on an old kernel")
	}
	admin := generate(t, &Options{Rootfs: root, CapAdd: []string{"SYS_ADMIN"}}).Linux.Seccomp
	if !syscallAllowed(admin, "mount") || !syscallAllowed(admin, "unshare") {
		t.Fatal("profile does not open mount/unshare with CAP_SYS_ADMIN: computed before the caps?")
	}
	if s := generate(t, &Options{Rootfs: root, Seccomp: "unconfined"}); s.Linux.Seccomp != nil {
		t.Fatal("unconfined has a profile")
	}
	if s := generate(t, &Options{Rootfs: root, Privileged: true}); s.Linux.Seccomp != nil {
		t.Fatal("privileged has a profile")
	}
	if s := generate(t, &Options{Rootfs: root, Seccomp: "builtin"}); s.Linux.Seccomp == nil {
		t.Fatal("builtin has no profile")
	}
}

func kernelAtLeast(major, minor int) bool {
	var maj, min int
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	for i, part := range strings.SplitN(string(b), ".", 3)[:2] {
		v := 0
		for _, c := range part {
			if c < '0' || c > '9' {
				break
			}
			v = v*10 + int(c-'0')
		}
		if i == 0 {
			maj = v
		} else {
			min = v
		}
	}
	return maj > major || maj == major && min >= minor
}

func TestSeccompFiles(t *testing.T) {
	root := testRootfs(t)
	dir := t.TempDir()
	docker := filepath.Join(dir, "docker.json")
	write(t, docker, `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
		{"name":"chmod","action":"SCMP_ACT_ERRNO"},
		{"names":["mount"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_NET_ADMIN"]}}]}`)
	s := generate(t, &Options{Rootfs: root, Seccomp: docker})
	if sc := s.Linux.Seccomp; sc.DefaultAction != specs.ActAllow || len(sc.Syscalls) != 1 || sc.Syscalls[0].Names[0] != "chmod" {
		t.Fatalf("docker profile: %+v", sc)
	}
	oci := filepath.Join(dir, "oci.json")
	write(t, oci, `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],
		"syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}`)
	s = generate(t, &Options{Rootfs: root, Seccomp: oci})
	if sc := s.Linux.Seccomp; sc.DefaultErrnoRet == nil || *sc.DefaultErrnoRet != 1 || len(sc.Syscalls) != 1 || len(sc.Syscalls[0].Names) != 3 || len(sc.Architectures) != 1 {
		t.Fatalf("oci profile: %+v", sc)
	}

	bad := filepath.Join(dir, "bad.json")
	write(t, bad, `{"defaultAction":`)
	wantErr(t, &Options{Seccomp: bad}, bad)
	wantErr(t, &Options{Seccomp: filepath.Join(dir, "missing.json")}, "missing.json")
	act := filepath.Join(dir, "act.json")
	write(t, act, `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_EXPLODE"}]}`)
	wantErr(t, &Options{Seccomp: act}, act, "SCMP_ACT_EXPLODE")
	nodef := filepath.Join(dir, "nodef.json")
	write(t, nodef, `{"syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}`)
	wantErr(t, &Options{Seccomp: nodef}, nodef, "defaultAction")
}

func TestSecurityOptions(t *testing.T) {
	root := testRootfs(t)
	s := generate(t, &Options{Rootfs: root, NoNewPrivileges: true, ReadOnly: true})
	if !s.Process.NoNewPrivileges || !s.Root.Readonly {
		t.Fatalf("nnp %v readonly %v", s.Process.NoNewPrivileges, s.Root.Readonly)
	}
	if !apparmorEnabled() {
		wantErr(t, &Options{AppArmor: "my-profile"}, "my-profile", "AppArmor")
		if s := generate(t, &Options{AppArmor: "unconfined"}); s.Process.ApparmorProfile != "" {
			t.Fatalf("unconfined on a host without AppArmor: %q", s.Process.ApparmorProfile)
		}
	}
	if !selinuxEnabled() {
		wantErr(t, &Options{SELinuxLabel: "system_u:system_r:container_t:s0"}, "container_t", "SELinux")
		generate(t, &Options{SELinuxLabel: "disable"})
	}
	// With AppArmor announced (a fake sysfs file), profiles are Docker's.
	dir := t.TempDir()
	defer func(e, p string) { apparmorEnabledFile, apparmorProfilesFile = e, p }(apparmorEnabledFile, apparmorProfilesFile)
	apparmorEnabledFile = filepath.Join(dir, "enabled")
	apparmorProfilesFile = filepath.Join(dir, "profiles")
	write(t, apparmorEnabledFile, "Y\n")
	write(t, apparmorProfilesFile, "docker-default (enforce)\n")
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "docker-default"},
		{Options{Privileged: true}, "unconfined"},
		{Options{AppArmor: "custom"}, "custom"},
	} {
		if s := generate(t, &c.o); s.Process.ApparmorProfile != c.want {
			t.Errorf("%+v: apparmor %q, want %q", c.o, s.Process.ApparmorProfile, c.want)
		}
	}
}

func TestAnnotationsAndConsole(t *testing.T) {
	s := generate(t, &Options{Annotations: map[string]string{"a": "b"}, Tty: true, ConsoleSize: &specs.Box{Height: 24, Width: 80}, OOMScoreAdj: 500})
	if s.Annotations["a"] != "b" || s.Process.ConsoleSize == nil || s.Process.ConsoleSize.Width != 80 || *s.Process.OOMScoreAdj != 500 {
		t.Fatalf("annotations %v console %v oom %v", s.Annotations, s.Process.ConsoleSize, *s.Process.OOMScoreAdj)
	}
}
