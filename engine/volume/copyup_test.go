package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// imageTree fills dir with every kind of entry copy-up must keep.
func imageTree(t *testing.T, dir string) {
	t.Helper()
	j := func(p string) string { return filepath.Join(dir, p) }
	must(t, os.MkdirAll(j("sub/deep"), 0o755))
	must(t, os.Mkdir(j("rodir"), 0o755))
	must(t, os.Mkdir(j("emptydir"), 0o700))
	must(t, os.WriteFile(j("file"), []byte("hello"), 0o640))
	must(t, os.WriteFile(j("sub/deep/file2"), []byte("deep"), 0o600))
	must(t, os.WriteFile(j("suid"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(j("hl1"), []byte("linked"), 0o644))
	must(t, os.Link(j("hl1"), j("sub/hl2")))
	must(t, os.WriteFile(j("rodir/inner"), []byte("ro"), 0o444))
	must(t, os.Symlink("/etc/passwd", j("abs-link")))
	must(t, os.Symlink("../../outside", j("sub/rel-link")))
	must(t, unix.Mkfifo(j("fifo"), 0o600))
	must(t, unix.Mknod(j("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, os.Lchown(j("file"), 123, 456))
	must(t, os.Lchown(j("abs-link"), 7, 8))
	must(t, os.Lchown(j("emptydir"), 5, 5))
	must(t, os.Lchown(j("fifo"), 9, 9))
	must(t, os.Chown(dir, 1000, 1001))
	must(t, os.Chmod(dir, 0o750))
	must(t, unix.Chmod(j("suid"), 0o4755))
	must(t, os.Chmod(j("rodir"), 0o555))
	must(t, unix.Lsetxattr(j("file"), "user.foo", []byte("bar"), 0))
	must(t, unix.Lsetxattr(dir, "user.dir", []byte("1"), 0))
	must(t, unix.Lsetxattr(j("abs-link"), "trusted.link", []byte("sym"), 0))
	must(t, unix.Lsetxattr(j("suid"), "trusted.overlay.opaque", []byte("y"), 0))
	old := time.Unix(1500000000, 123456789)
	for _, p := range []string{"file", "sub/deep/file2", "sub/deep", "sub", "rodir", "."} {
		must(t, os.Chtimes(j(p), old, old))
	}
	ts := []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, j("abs-link"), ts, unix.AT_SYMLINK_NOFOLLOW))
}

func mtime(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	return st.Mtim.Nano()
}

func TestCopyUp(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := t.TempDir()
	data := filepath.Join(rootfs, "var/lib/app")
	must(t, os.MkdirAll(data, 0o755))
	imageTree(t, data)
	vol := t.TempDir()

	must(t, CopyUp(rootfs, "/var/lib/app", vol))
	want, got := testutil.Tree(t, data), testutil.Tree(t, vol)
	delete(want, "suid") // its overlay xattr is dropped: checked below
	delete(got, "suid")
	if d := testutil.DiffTrees(want, got); d != "" {
		t.Fatalf("copy differs from the image:\n%s", d)
	}
	for _, p := range []string{".", "sub", "sub/deep", "rodir", "file", "abs-link"} {
		if a, b := mtime(t, filepath.Join(data, p)), mtime(t, filepath.Join(vol, p)); a != b {
			t.Errorf("%s: mtime %d, want %d", p, b, a)
		}
	}
	var st unix.Stat_t
	must(t, unix.Stat(filepath.Join(vol, "suid"), &st))
	if st.Mode&0o7777 != 0o4755 {
		t.Errorf("suid mode %o", st.Mode&0o7777)
	}
	if n, _ := unix.Lgetxattr(filepath.Join(vol, "suid"), "trusted.overlay.opaque", make([]byte, 8)); n > 0 {
		t.Error("overlay xattr copied")
	}
	var a, b unix.Stat_t
	must(t, unix.Stat(filepath.Join(vol, "hl1"), &a))
	must(t, unix.Stat(filepath.Join(vol, "sub/hl2"), &b))
	if a.Ino != b.Ino {
		t.Error("hard link not kept")
	}

	// Not empty any more: a second copy-up is a no-op, even with changes.
	must(t, os.WriteFile(filepath.Join(data, "later"), nil, 0o644))
	must(t, CopyUp(rootfs, "/var/lib/app", vol))
	if _, err := os.Lstat(filepath.Join(vol, "later")); err == nil {
		t.Fatal("copied into a non-empty volume")
	}
}

func TestCopyUpBusybox(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := testutil.BusyboxRootfs(t, t.TempDir())
	vol := t.TempDir()
	must(t, CopyUp(rootfs, "/bin", vol))
	if d := testutil.DiffTrees(testutil.Tree(t, filepath.Join(rootfs, "bin")), testutil.Tree(t, vol)); d != "" {
		t.Fatalf("copy of /bin differs:\n%s", d)
	}
}

func TestCopyUpNothingToDo(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := t.TempDir()
	vol := t.TempDir()
	must(t, CopyUp(rootfs, "/missing/dir", vol))
	if empty, _ := isEmptyDir(vol); !empty {
		t.Fatal("copy-up of a missing path wrote something")
	}
	must(t, os.WriteFile(filepath.Join(rootfs, "afile"), nil, 0o644))
	if err := CopyUp(rootfs, "/afile", vol); err == nil || !strings.Contains(err.Error(), "/afile in the image is not a directory") {
		t.Fatalf("copy-up of a file = %v", err)
	}
	if err := CopyUp(rootfs, "/", filepath.Join(vol, "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("copy-up into a missing volume = %v", err)
	}
}

// Symlinks in the image resolve inside the rootfs, as in a chroot: one
// aimed at a host directory never reaches the host's files.
func TestCopyUpSymlinkEscape(t *testing.T) {
	testutil.RequireRoot(t)
	host := t.TempDir()
	must(t, os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o600))
	rootfs := t.TempDir()
	must(t, os.Symlink(host, filepath.Join(rootfs, "abs")))
	must(t, os.Symlink(strings.Repeat("../", 20)+strings.TrimPrefix(host, "/"), filepath.Join(rootfs, "rel")))
	must(t, os.MkdirAll(filepath.Join(rootfs, "d"), 0o755))
	must(t, os.Symlink("../../../../..", filepath.Join(rootfs, "d/up")))

	for _, dst := range []string{"/abs", "/rel", "/d/up" + host} {
		vol := t.TempDir()
		must(t, CopyUp(rootfs, dst, vol))
		if empty, _ := isEmptyDir(vol); !empty {
			t.Fatalf("copy-up of %s copied host files: %v", dst, testutil.Tree(t, vol))
		}
	}

	// With the same path inside the rootfs, that is what gets copied.
	inRoot := filepath.Join(rootfs, host)
	must(t, os.MkdirAll(inRoot, 0o755))
	must(t, os.WriteFile(filepath.Join(inRoot, "image-file"), []byte("image"), 0o644))
	for _, dst := range []string{"/abs", "/rel"} {
		vol := t.TempDir()
		must(t, CopyUp(rootfs, dst, vol))
		if _, err := os.Stat(filepath.Join(vol, "secret")); err == nil {
			t.Fatalf("copy-up of %s copied the host secret", dst)
		}
		if b, err := os.ReadFile(filepath.Join(vol, "image-file")); err != nil || string(b) != "image" {
			t.Fatalf("copy-up of %s: image-file = %q, %v", dst, b, err)
		}
	}
}
