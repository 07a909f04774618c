package specgen

import (
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestUserMountsOverrideAndSort(t *testing.T) {
	root := testRootfs(t)
	dir := t.TempDir()
	s := generate(t, &Options{
		Rootfs:       root,
		ShmSize:      128 << 20,
		HostsFile:    filepath.Join(dir, "hosts"),
		ResolvConf:   filepath.Join(dir, "resolv.conf"),
		HostnameFile: filepath.Join(dir, "hostname"),
		Mounts: []specs.Mount{
			{Destination: "/data/cache/x", Type: "bind", Source: "/var/tmp", Options: []string{"ro"}},
			{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind", "rshared"}},
			{Destination: "/run", Type: "tmpfs", Options: []string{"exec", "size=1m", "size=2m", "mode=700"}},
			{Destination: "/etc/hosts", Type: "bind", Source: "/etc/hosts", Options: []string{"rbind", "ro"}},
		},
	})
	want := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
		"/data", "/run", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/data/cache/x"}
	if got := mountDests(s); !slices.Equal(got, want) {
		t.Fatalf("mounts\n got %q\nwant %q", got, want)
	}
	if m := mountAt(s, "/dev/shm"); m.Options[len(m.Options)-1] != "size=134217728" {
		t.Fatalf("/dev/shm %v", m.Options)
	}
	if m := mountAt(s, "/data/cache/x"); !slices.Equal(m.Options, []string{"rbind", "ro", "rprivate"}) {
		t.Fatalf("bind options %v", m.Options)
	}
	if m := mountAt(s, "/run"); m.Source != "tmpfs" || !slices.Equal(m.Options, []string{"nosuid", "nodev", "rprivate", "exec", "size=2m", "mode=700"}) {
		t.Fatalf("tmpfs %+v", m)
	}
	// The user's /etc/hosts wins over the engine's file.
	if m := mountAt(s, "/etc/hosts"); m.Source != "/etc/hosts" {
		t.Fatalf("/etc/hosts from %s", m.Source)
	}
	if m := mountAt(s, "/etc/resolv.conf"); m.Source != filepath.Join(dir, "resolv.conf") || !slices.Equal(m.Options, []string{"rbind", "rprivate"}) {
		t.Fatalf("resolv.conf %+v", m)
	}
	if s.Linux.RootfsPropagation != "shared" {
		t.Fatalf("rshared bind: rootfs propagation %q", s.Linux.RootfsPropagation)
	}

	// A /dev of one's own drops every default under /dev; /dev/shm replaced.
	s = generate(t, &Options{Rootfs: root, Mounts: []specs.Mount{{Destination: "/dev", Type: "bind", Source: "/dev"}}})
	if got := mountDests(s); !slices.Equal(got, []string{"/proc", "/sys", "/sys/fs/cgroup", "/dev"}) {
		t.Fatalf("user /dev: %q", got)
	}
	s = generate(t, &Options{Rootfs: root, Mounts: []specs.Mount{{Destination: "/dev/shm/", Type: "tmpfs"}}})
	if m := mountAt(s, "/dev/shm"); m.Source != "tmpfs" || slices.Contains(m.Options, "mode=1777") {
		t.Fatalf("user /dev/shm not used: %+v", m)
	}

	wantErr(t, &Options{Mounts: []specs.Mount{{Destination: "rel", Type: "bind", Source: "/tmp"}}}, "rel", "absolute")
	wantErr(t, &Options{Mounts: []specs.Mount{{Destination: "/x", Type: "bind", Source: "tmp"}}}, "/x", "source")
	wantErr(t, &Options{Mounts: []specs.Mount{{Destination: "/x", Type: "tmpfs", Options: []string{"color=red"}}}}, "/x", "color=red")
	wantErr(t, &Options{Mounts: []specs.Mount{{Destination: "/x", Type: "tmpfs"}, {Destination: "/x/", Type: "tmpfs"}}}, "duplicate", "/x")
}

func TestReadOnlyAndPrivilegedMounts(t *testing.T) {
	root := testRootfs(t)
	dir := t.TempDir()
	s := generate(t, &Options{Rootfs: root, ReadOnly: true, HostsFile: filepath.Join(dir, "hosts"),
		Mounts: []specs.Mount{{Destination: "/data", Type: "bind", Source: "/tmp"}}})
	for _, m := range s.Mounts {
		ro := slices.Contains(m.Options, "ro")
		switch m.Destination {
		case "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/data":
			if ro {
				t.Errorf("%s read-only with --read-only", m.Destination)
			}
		default: // /sys, cgroup, and the engine's files
			if !ro {
				t.Errorf("%s writable with --read-only", m.Destination)
			}
		}
	}

	s = generate(t, &Options{Rootfs: root, Privileged: true})
	if slices.Contains(mountAt(s, "/sys").Options, "ro") || slices.Contains(mountAt(s, "/sys/fs/cgroup").Options, "ro") {
		t.Fatal("privileged: /sys or cgroups read-only")
	}
	if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Fatal("privileged: masked or read-only paths left")
	}
	// The defaults of the next container are not affected.
	if s := generate(t, &Options{Rootfs: root}); !slices.Contains(mountAt(s, "/sys").Options, "ro") {
		t.Fatal("privileged leaked into the defaults")
	}
}

func TestIPCAndInit(t *testing.T) {
	root := testRootfs(t)
	s := generate(t, &Options{Rootfs: root, Namespaces: Namespaces{IPCNone: true}})
	if mountAt(s, "/dev/shm") != nil {
		t.Fatal("--ipc none has /dev/shm")
	}
	s = generate(t, &Options{Rootfs: root, Namespaces: Namespaces{IPCHost: true}})
	if m := mountAt(s, "/dev/shm"); m == nil || m.Source != "/dev/shm" || m.Type != "bind" {
		t.Fatalf("--ipc host /dev/shm %+v", m)
	}
	if _, ok := hasNS(s, specs.IPCNamespace); ok {
		t.Fatal("--ipc host keeps an ipc namespace")
	}

	init := filepath.Join(t.TempDir(), "catatonit")
	write(t, init, "#!/bin/sh\n")
	chmodX(t, init)
	s = generate(t, &Options{Rootfs: root, Init: init, Cmd: []string{"sleep", "1"}})
	if !slices.Equal(s.Process.Args, []string{"/sbin/docker-init", "--", "sleep", "1"}) {
		t.Fatalf("--init args %q", s.Process.Args)
	}
	if m := mountAt(s, "/sbin/docker-init"); m == nil || m.Source != init || !slices.Equal(m.Options, []string{"bind", "ro"}) {
		t.Fatalf("--init mount %+v", m)
	}
	s = generate(t, &Options{Rootfs: root, Init: init, Cmd: []string{"sleep"}, Namespaces: Namespaces{PIDHost: true}})
	if s.Process.Args[0] != "sleep" || mountAt(s, "/sbin/docker-init") != nil {
		t.Fatalf("--init with --pid host: %q", s.Process.Args)
	}
	wantErr(t, &Options{Init: "/nonexistent/catatonit"}, "/nonexistent/catatonit")
}
