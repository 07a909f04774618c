package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

func fsType(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Type)
}

func mounted(t *testing.T, p string) bool {
	t.Helper()
	ok, err := isMountPoint(p)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestTmpfsVolume(t *testing.T) {
	testutil.RequireRoot(t)
	s, root := newStore(t)
	t.Cleanup(func() {
		if m := testutil.MountsUnder(t, root); len(m) > 0 {
			t.Errorf("leaked mounts: %v", m)
			for _, p := range m {
				unix.Unmount(p, unix.MNT_DETACH)
			}
		}
	})
	v, err := s.Create("tmpvol", CreateOptions{DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750,uid=1234,noexec"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Mount("tmpvol", "ctr-a")
	if err != nil {
		t.Fatal(err)
	}
	if p != v.Mountpoint || !mounted(t, p) || fsType(t, p) != unix.TMPFS_MAGIC {
		t.Fatalf("Mount = %s; not a tmpfs mount", p)
	}
	var st unix.Stat_t
	unix.Stat(p, &st)
	if st.Uid != 1234 || st.Mode&0o7777 != 0o750 {
		t.Errorf("tmpfs root uid %d mode %o, want 1234 750", st.Uid, st.Mode&0o7777)
	}
	var sfs unix.Statfs_t
	unix.Statfs(p, &sfs)
	if got := int64(sfs.Blocks) * sfs.Bsize; got != 1<<20 {
		t.Errorf("tmpfs size %d, want 1m", got)
	}
	if err := os.WriteFile(filepath.Join(p, "f"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second user shares the mount; the same user twice counts once.
	if p2, err := s.Mount("tmpvol", "ctr-b"); err != nil || p2 != p {
		t.Fatalf("second Mount = %s, %v", p2, err)
	}
	if _, err := s.Mount("tmpvol", "ctr-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "f")); err != nil {
		t.Fatal("second mount does not share the data")
	}
	if err := s.Unmount("tmpvol", "ctr-a"); err != nil {
		t.Fatal(err)
	}
	if !mounted(t, p) {
		t.Fatal("unmounted while ctr-b still uses it")
	}
	if err := s.Unmount("tmpvol", "ctr-b"); err != nil {
		t.Fatal(err)
	}
	if mounted(t, p) || len(testutil.MountsUnder(t, root)) != 0 {
		t.Fatal("still mounted after the last user left")
	}
	if err := s.Unmount("tmpvol", "ctr-b"); err != nil {
		t.Fatalf("repeated Unmount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "volumes", "tmpvol", refsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refs file left: %v", err)
	}

	// A stale record (its mount gone behind our back) does not keep the
	// next user from mounting, nor the last one from unmounting.
	if _, err := s.Mount("tmpvol", "ctr-c"); err != nil {
		t.Fatal(err)
	}
	unix.Unmount(p, 0)
	if _, err := s.Mount("tmpvol", "ctr-d"); err != nil || !mounted(t, p) {
		t.Fatalf("Mount after a lost mount: %v", err)
	}
	if err := s.Unmount("tmpvol", "ctr-d"); err != nil || mounted(t, p) {
		t.Fatalf("Unmount: %v (mounted %v)", err, mounted(t, p))
	}

	// Remove of a mounted volume the caller says is unused detaches it.
	if _, err := s.Mount("tmpvol", "crashed"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("tmpvol", false, nil); err != nil {
		t.Fatal(err)
	}
	if e := entries(t, s); len(e) != 0 {
		t.Fatalf("remove left %v", e)
	}
}

func TestMountErrors(t *testing.T) {
	testutil.RequireRoot(t)
	s, root := newStore(t)
	if _, err := s.Mount("nope", "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Mount(nope) = %v", err)
	}
	if err := s.Unmount("nope", "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Unmount(nope) = %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := s.Create("badbind", CreateOptions{DriverOpts: map[string]string{"type": "none", "o": "bind", "device": missing}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Mount("badbind", "c1")
	if err == nil || !strings.Contains(err.Error(), "failed to mount local volume badbind") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Mount of a missing device = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "volumes", "badbind", refsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed mount recorded a user: %v", err)
	}
	// Plain volumes need no mount: the data dir, no records.
	v, _ := s.Create("plain", CreateOptions{})
	if p, err := s.Mount("plain", "c1"); err != nil || p != v.Mountpoint || mounted(t, p) {
		t.Fatalf("Mount(plain) = %s, %v", p, err)
	}
	if err := s.Unmount("plain", "c1"); err != nil {
		t.Fatal(err)
	}
	if e := entries(t, s); strings.Join(e, " ") != ".locks/badbind .locks/plain volumes/badbind volumes/plain" {
		t.Fatalf("store holds %v", e)
	}
}

// A volume binding a host directory: removing the volume must never
// delete the host's files through the mount.
func TestBindVolumeRemoveKeepsHostData(t *testing.T) {
	testutil.RequireRoot(t)
	s, root := newStore(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "precious"), []byte("keep me"), 0o644)
	if _, err := s.Create("hostdir", CreateOptions{DriverOpts: map[string]string{"type": "none", "o": "bind,ro", "device": host}}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Mount("hostdir", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(p, "precious")); err != nil || string(b) != "keep me" {
		t.Fatalf("bind content = %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(p, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Fatalf("write to ro bind volume = %v, want EROFS", err)
	}
	if err := s.Remove("hostdir", false, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(host, "precious")); err != nil || string(b) != "keep me" {
		t.Fatalf("host data after remove = %q, %v", b, err)
	}
	if m := testutil.MountsUnder(t, root); len(m) != 0 {
		t.Fatalf("leaked mounts %v", m)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/a\040b\011c\134d\0`); got != "/a b\tc\\d\\0" {
		t.Fatalf("got %q", got)
	}
}
