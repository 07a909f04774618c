package layer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot/layer"
	"golang.org/x/sys/unix"
)

func apply(t *testing.T, root string, tarball []byte, opts layer.Options) error {
	t.Helper()
	n, err := layer.Apply(context.Background(), root, bytes.NewReader(tarball), opts)
	if err == nil && n != int64(len(tarball)) {
		t.Errorf("Apply read %d bytes of a %d-byte tar", n, len(tarball))
	}
	return err
}

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}

// capNetBind is a security.capability value (VFS_CAP_REVISION_2) granting
// CAP_NET_BIND_SERVICE.
var capNetBind = string([]byte{0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

func TestApplyMetadata(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	long := strings.Repeat("long-directory-name/", 8) + strings.Repeat("f", 120) // >255 bytes in all
	utf := "ünïcødé/文件-📦.txt"
	dirTime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	tb := testutil.Tar(t,
		testutil.TarEntry{Name: "d/", Type: tar.TypeDir, Mode: 0o750, UID: 1000, GID: 1001, ModTime: dirTime},
		testutil.TarEntry{Name: "d/suid", Mode: 0o4755, Body: "s"},
		testutil.TarEntry{Name: "d/sgid", Mode: 0o2755, Body: "g", UID: 5, GID: 6},
		testutil.TarEntry{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		testutil.TarEntry{Name: "d/cap", Mode: 0o755, Body: "c", Xattrs: map[string]string{"security.capability": capNetBind, "user.note": "hi"}},
		testutil.Hardlink("d/cap-link", "d/cap"),
		testutil.Symlink("d/sym", "../tmp"),
		testutil.TarEntry{Name: "d/fifo", Type: tar.TypeFifo, Mode: 0o640},
		testutil.TarEntry{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
		testutil.File(long, "long", 0o644),
		testutil.File(utf, "utf", 0o644),
		testutil.TarEntry{Name: "./", Type: tar.TypeDir, Mode: 0o711},
	)
	if err := apply(t, root, tb, layer.Options{Devices: layer.DevicesCreate}); err != nil {
		t.Fatal(err)
	}
	st := lstat(t, filepath.Join(root, "d"))
	if st.Mode&07777 != 0o750 || st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("d: mode %o owner %d:%d", st.Mode&07777, st.Uid, st.Gid)
	}
	if st.Mtim.Sec != dirTime.Unix() {
		t.Errorf("d mtime %d, want %d (set after its content)", st.Mtim.Sec, dirTime.Unix())
	}
	if st := lstat(t, filepath.Join(root, "d/suid")); st.Mode&07777 != 0o4755 {
		t.Errorf("setuid lost: %o", st.Mode&07777)
	}
	if st := lstat(t, filepath.Join(root, "d/sgid")); st.Mode&07777 != 0o2755 || st.Uid != 5 || st.Gid != 6 {
		t.Errorf("setgid file: %o %d:%d", st.Mode&07777, st.Uid, st.Gid)
	}
	if st := lstat(t, filepath.Join(root, "tmp")); st.Mode&07777 != 0o1777 {
		t.Errorf("sticky lost: %o", st.Mode&07777)
	}
	if st := lstat(t, filepath.Join(root, "d/cap")); st.Mtim.Sec != testutil.TestTime.Unix() {
		t.Errorf("file mtime %d", st.Mtim.Sec)
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(root, "d/cap"), "security.capability", buf); err != nil || string(buf[:n]) != capNetBind {
		t.Errorf("security.capability = %x, %v", buf[:max(n, 0)], err)
	}
	if n, err := unix.Lgetxattr(filepath.Join(root, "d/cap"), "user.note", buf); err != nil || string(buf[:n]) != "hi" {
		t.Errorf("user.note = %q, %v", buf[:max(n, 0)], err)
	}
	a, b := lstat(t, filepath.Join(root, "d/cap")), lstat(t, filepath.Join(root, "d/cap-link"))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hardlink: inodes %d/%d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if l, err := os.Readlink(filepath.Join(root, "d/sym")); err != nil || l != "../tmp" {
		t.Errorf("symlink = %q, %v", l, err)
	}
	if st := lstat(t, filepath.Join(root, "d/fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o777 != 0o640 {
		t.Errorf("fifo mode %o", st.Mode)
	}
	if st := lstat(t, filepath.Join(root, "dev/null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("device: mode %o rdev %d", st.Mode, st.Rdev)
	}
	for name, body := range map[string]string{long: "long", utf: "utf"} {
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != body {
			t.Errorf("%q = %q, %v", name, b, err)
		}
	}
	if st := lstat(t, root); st.Mode&07777 != 0o711 {
		t.Errorf("root entry ./ mode %o, want 0711", st.Mode&07777)
	}
}

func TestApplyDevicePolicy(t *testing.T) {
	testutil.RequireRoot(t)
	tb := testutil.Tar(t, testutil.TarEntry{Name: "dev/sda", Type: tar.TypeBlock, Mode: 0o660, Major: 8})
	root := t.TempDir()
	err := apply(t, root, tb, layer.Options{})
	var de *layer.DeviceError
	if !errors.As(err, &de) || de.Entry != "dev/sda" {
		t.Errorf("default policy: err = %v, want a DeviceError naming dev/sda", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "dev/sda")); !os.IsNotExist(err) {
		t.Errorf("rejected device was created: %v", err)
	}
	if err := apply(t, root, tb, layer.Options{Devices: layer.DevicesSkip}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "dev/sda")); !os.IsNotExist(err) {
		t.Errorf("skipped device was created: %v", err)
	}
}

func TestApplyWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	base := testutil.Tar(t,
		testutil.Dir("a/", 0o755), testutil.File("a/x", "x", 0o644), testutil.File("a/y", "y", 0o644),
		testutil.Dir("o/", 0o755), testutil.File("o/old", "o", 0o644), testutil.File("gone", "g", 0o644))
	top := testutil.Tar(t,
		testutil.Whiteout("a/x"), testutil.Whiteout("gone"),
		testutil.Dir("o/", 0o755), testutil.File("o/new", "n", 0o644), testutil.Opaque("o"),
		testutil.File("same", "s", 0o644), testutil.Whiteout("same")) // same-layer whiteout spares it

	t.Run("native", func(t *testing.T) {
		root := t.TempDir()
		if err := apply(t, root, base, layer.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := apply(t, root, top, layer.Options{}); err != nil {
			t.Fatal(err)
		}
		got := testutil.Tree(t, root)
		for _, p := range []string{"a/x", "gone", "o/old"} {
			if _, ok := got[p]; ok {
				t.Errorf("%s survived its whiteout", p)
			}
		}
		for _, p := range []string{"a/y", "o/new", "same"} {
			if _, ok := got[p]; !ok {
				t.Errorf("%s missing", p)
			}
		}
	})
	t.Run("overlay", func(t *testing.T) {
		root := t.TempDir()
		if err := apply(t, root, top, layer.Options{Whiteouts: layer.WhiteoutOverlay}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"a/x", "gone"} {
			st := lstat(t, filepath.Join(root, p))
			if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
				t.Errorf("%s: mode %o rdev %d, want an overlay whiteout (char 0/0)", p, st.Mode, st.Rdev)
			}
		}
		buf := make([]byte, 8)
		if n, err := unix.Lgetxattr(filepath.Join(root, "o"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
			t.Errorf("o: trusted.overlay.opaque = %q, %v", buf[:max(n, 0)], err)
		}
		if b, err := os.ReadFile(filepath.Join(root, "o/new")); err != nil || string(b) != "n" {
			t.Errorf("o/new = %q, %v", b, err)
		}
		if st := lstat(t, filepath.Join(root, "same")); st.Mode&unix.S_IFMT != unix.S_IFREG {
			t.Errorf("same-layer file replaced by its whiteout")
		}
	})
	t.Run("invalid", func(t *testing.T) {
		err := apply(t, t.TempDir(), testutil.Tar(t, testutil.File("a/.wh..", "", 0o644)), layer.Options{})
		if err == nil || !strings.Contains(err.Error(), "a/.wh..") {
			t.Errorf("whiteout of '..': err = %v, want an error naming the entry", err)
		}
	})
}

func TestApplyBadInput(t *testing.T) {
	testutil.RequireRoot(t)
	good := testutil.Tar(t, testutil.File("f", strings.Repeat("x", 4096), 0o644))
	err := apply(t, t.TempDir(), good[:1000], layer.Options{})
	if err == nil || !strings.Contains(err.Error(), "f") {
		t.Errorf("truncated tar: err = %v, want an error naming the entry", err)
	}
	if err := apply(t, t.TempDir(), []byte("this is not a tar archive, not at all, no"), layer.Options{}); err == nil {
		t.Error("garbage: no error")
	}
	err = apply(t, t.TempDir(), testutil.Tar(t, testutil.Hardlink("h", "missing")), layer.Options{})
	if err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("hardlink to a missing file: err = %v", err)
	}
}

// hostState fingerprints what a malicious layer must not touch: the
// directory next to the root (with its canary) and /etc/passwd.
func hostState(t *testing.T, outside string) string {
	t.Helper()
	tree := testutil.Tree(t, outside)
	delete(tree, ".") // its atime/mtime are not what we guard
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(k + "=" + tree[k] + "\n")
	}
	pw, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	st := lstat(t, "/etc/passwd")
	sum := sha256.Sum256([]byte(sb.String()))
	pws := sha256.Sum256(pw)
	return string(sum[:]) + string(pws[:]) + string(rune(st.Nlink))
}

func TestApplyMalicious(t *testing.T) {
	testutil.RequireRoot(t)
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	os.Mkdir(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "canary"), []byte("untouched"), 0o644)
	cases := []struct {
		name    string
		entries []testutil.TarEntry
		unsafe  bool     // must fail with an UnsafePathError
		inside  []string // or be contained: these exist inside the root
	}{
		{name: "dotdot", entries: []testutil.TarEntry{testutil.File("../outside/canary", "pwned", 0o644)}, unsafe: true},
		{name: "dotdot-in-middle", entries: []testutil.TarEntry{testutil.File("a/../../outside/canary", "pwned", 0o644)}, unsafe: true},
		{name: "dotdot-dir", entries: []testutil.TarEntry{testutil.Dir("../x/", 0o755)}, unsafe: true},
		{name: "absolute", entries: []testutil.TarEntry{testutil.File(filepath.Join(outside, "canary"), "pwned", 0o644)},
			inside: []string{filepath.Join(outside, "canary")}},
		{name: "symlink-to-root-then-file", entries: []testutil.TarEntry{
			testutil.Symlink("evil", "/"), testutil.File("evil"+outside+"/canary", "pwned", 0o644)},
			inside: []string{outside + "/canary"}},
		{name: "symlink-to-outside-abs-then-file", entries: []testutil.TarEntry{
			testutil.Symlink("evil", outside), testutil.File("evil/canary", "pwned", 0o644)},
			inside: []string{outside + "/canary"}},
		{name: "symlink-relative-climb-then-file", entries: []testutil.TarEntry{
			testutil.Symlink("evil", "../../../../../../.."+outside), testutil.File("evil/canary", "pwned", 0o644)},
			inside: []string{outside + "/canary"}},
		{name: "hardlink-to-host-passwd", entries: []testutil.TarEntry{testutil.Hardlink("pw", "/etc/passwd")}},
		{name: "hardlink-climb", entries: []testutil.TarEntry{testutil.Hardlink("pw", "../../../../etc/passwd")}, unsafe: true},
		{name: "hardlink-through-symlink", entries: []testutil.TarEntry{
			testutil.Symlink("etc", "/etc"), testutil.Hardlink("pw", "etc/passwd")}},
		{name: "hardlink-to-symlink-then-write", entries: []testutil.TarEntry{
			testutil.Symlink("l", outside+"/canary"), testutil.Hardlink("h", "l"), testutil.File("h", "pwned", 0o644)},
			inside: []string{"h"}},
		{name: "file-over-symlink", entries: []testutil.TarEntry{
			testutil.Symlink("f", outside+"/canary"), testutil.File("f", "pwned", 0o644)}, inside: []string{"f"}},
		{name: "symlink-swapped-under-dir", entries: []testutil.TarEntry{
			testutil.Dir("d/", 0o755), testutil.File("d/f", "ok", 0o644),
			testutil.Symlink("d", outside), testutil.File("d/canary", "pwned", 0o644)}},
		{name: "symlink-swapped-to-root", entries: []testutil.TarEntry{
			testutil.Dir("d/", 0o755), testutil.Symlink("d", "/"), testutil.File("d"+outside+"/canary", "pwned", 0o644)},
			inside: []string{outside + "/canary"}},
		{name: "whiteout-through-symlink", entries: []testutil.TarEntry{
			testutil.Symlink("w", outside), testutil.Whiteout("w/canary")}},
		{name: "opaque-through-symlink", entries: []testutil.TarEntry{
			testutil.Symlink("w", outside), testutil.Opaque("w")}},
		{name: "device-node", entries: []testutil.TarEntry{
			{Name: "dev/mem", Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := hostState(t, outside)
			root := filepath.Join(tmp, "root-"+c.name)
			os.Mkdir(root, 0o755)
			err := apply(t, root, testutil.Tar(t, c.entries...), layer.Options{})
			var ue *layer.UnsafePathError
			if c.unsafe && !errors.As(err, &ue) {
				t.Errorf("err = %v, want an UnsafePathError", err)
			}
			if err == nil {
				for _, p := range c.inside {
					if _, serr := os.Lstat(filepath.Join(root, p)); serr != nil {
						t.Errorf("not contained: %s missing inside the root: %v", p, serr)
					}
				}
			} else {
				t.Logf("rejected: %v", err)
			}
			if after := hostState(t, outside); after != before {
				t.Fatalf("layer wrote outside its root (canary dir or /etc/passwd changed)")
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "canary")); string(b) != "untouched" {
				t.Fatalf("canary = %q", b)
			}
		})
	}
}
