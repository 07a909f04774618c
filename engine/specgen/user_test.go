package specgen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLookupUser(t *testing.T) {
	root := testRootfs(t)
	for _, c := range []struct {
		spec     string
		uid, gid uint32
		gids     []uint32
		home     string
	}{
		{"", 0, 0, []uint32{0, 10}, "/root"},
		{"root", 0, 0, []uint32{0, 10}, "/root"},
		{"alice", 1000, 1000, []uint32{1000, 10, 50}, "/home/alice"},
		{"1000", 1000, 1000, []uint32{1000, 10, 50}, "/home/alice"}, // a number is a uid
		{"bob", 1001, 1001, []uint32{1001, 999}, "/home/bob"},
		{"alice:staff", 1000, 50, []uint32{50}, "/home/alice"}, // explicit group: no supplementary ones
		{"alice:4242", 1000, 4242, []uint32{4242}, "/home/alice"},
		{"1000:999", 1000, 999, []uint32{999}, "/home/alice"},
		{"4242", 4242, 0, []uint32{0}, "/"}, // numeric without an entry
		{"4242:4343", 4242, 4343, []uint32{4343}, "/"},
		{"4242:docker", 4242, 999, []uint32{999}, "/"},
	} {
		uid, gid, gids, home, err := LookupUser(root, c.spec)
		if err != nil {
			t.Errorf("LookupUser(%q): %v", c.spec, err)
			continue
		}
		if uid != c.uid || gid != c.gid || !slices.Equal(gids, c.gids) || home != c.home {
			t.Errorf("LookupUser(%q) = %d:%d %v %q; want %d:%d %v %q", c.spec, uid, gid, gids, home, c.uid, c.gid, c.gids, c.home)
		}
	}
	for _, c := range []struct{ spec, want1, want2 string }{
		{"carol", "carol", "/etc/passwd"},
		{"alice:ghosts", "ghosts", "/etc/group"},
		{"-5", "-5", "range"},
		{"99999999999", "99999999999", "range"},
	} {
		_, _, _, _, err := LookupUser(root, c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want1) || !strings.Contains(err.Error(), c.want2) {
			t.Errorf("LookupUser(%q): err %v, want one naming %q and %q", c.spec, err, c.want1, c.want2)
		}
	}
}

func TestLookupUserWithoutFiles(t *testing.T) {
	root := t.TempDir() // no /etc at all: only numbers work
	uid, gid, gids, home, err := LookupUser(root, "123:456")
	if err != nil || uid != 123 || gid != 456 || !slices.Equal(gids, []uint32{456}) || home != "/" {
		t.Fatalf("123:456 without passwd: %d:%d %v %q %v", uid, gid, gids, home, err)
	}
	if _, _, _, _, err := LookupUser(root, "www-data"); err == nil || !strings.Contains(err.Error(), "www-data") {
		t.Fatalf("name without passwd: %v", err)
	}
	if uid, _, _, _, err := LookupUser("", "7"); err != nil || uid != 7 {
		t.Fatalf("no rootfs: %d %v", uid, err)
	}
}

// A symlinked /etc/passwd resolves inside the rootfs: an image cannot make
// berth read the host's.
func TestLookupUserSymlinkStaysInRoot(t *testing.T) {
	outer := t.TempDir()
	write(t, filepath.Join(outer, "passwd"), "evil:x:0:0::/evil:/bin/sh\n")
	root := filepath.Join(outer, "rootfs")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if err := os.Symlink("../../../../../../../"+filepath.Join(outer, "passwd"), filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := LookupUser(root, "evil"); err == nil {
		t.Fatal("user found through a symlink leaving the rootfs")
	}
	// The same target inside the rootfs is used.
	os.MkdirAll(filepath.Join(root, outer), 0o755)
	write(t, filepath.Join(root, outer, "passwd"), "inside:x:77:78::/in:/bin/sh\n")
	uid, gid, _, home, err := LookupUser(root, "inside")
	if err != nil || uid != 77 || gid != 78 || home != "/in" {
		t.Fatalf("in-root symlink: %d:%d %q %v", uid, gid, home, err)
	}
}

func TestGroupAdd(t *testing.T) {
	root := testRootfs(t)
	s := generate(t, &Options{Rootfs: root, User: "alice", GroupAdd: []string{"docker", "4000", "staff", "999"}})
	// dockerd: primary gid, passwd-implied groups, then --group-add (deduped among themselves).
	want := []uint32{1000, 10, 50, 999, 4000, 50}
	if u := s.Process.User; u.UID != 1000 || u.GID != 1000 || !slices.Equal(u.AdditionalGids, want) {
		t.Fatalf("user %+v, want 1000:1000 %v", u, want)
	}
	wantErr(t, &Options{Rootfs: root, GroupAdd: []string{"nosuchgroup"}}, "nosuchgroup", "--group-add")
	wantErr(t, &Options{Rootfs: root, User: "mallory"}, "mallory", "/etc/passwd")
}

func TestImageUser(t *testing.T) {
	root := testRootfs(t)
	s := generate(t, &Options{Rootfs: root, Image: imageCfg("bob")})
	if s.Process.User.UID != 1001 {
		t.Fatalf("image USER not applied: %+v", s.Process.User)
	}
	s = generate(t, &Options{Rootfs: root, Image: imageCfg("bob"), User: "0"})
	if s.Process.User.UID != 0 {
		t.Fatalf("-u does not override the image's USER: %+v", s.Process.User)
	}
}
