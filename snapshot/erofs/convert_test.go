package erofs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot/erofs"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/berth-dev/berth/snapshot/mount"
	"golang.org/x/sys/unix"
)

var capNetBind = string([]byte{0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

// richLayer has every kind of entry and metadata an OCI layer can carry.
func richLayer(t *testing.T) []byte {
	long := strings.Repeat("long-directory-name/", 6)
	es := []testutil.TarEntry{
		{Name: "./", Type: tar.TypeDir, Mode: 0o755},
		{Name: "d/", Type: tar.TypeDir, Mode: 0o750, UID: 1000, GID: 1001},
		{Name: "d/suid", Mode: 0o4755, Body: "s"},
		{Name: "d/sgid", Mode: 0o2755, Body: "g", UID: 5, GID: 6},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "d/cap", Mode: 0o755, Body: "c", Xattrs: map[string]string{"security.capability": capNetBind, "user.note": "hi", "trusted.x": "t"}},
		testutil.Hardlink("d/cap-link", "d/cap"),
		testutil.Symlink("d/sym", "../tmp"),
		testutil.Symlink("d/abs", "/etc/"+strings.Repeat("x", 300)),
		{Name: "d/fifo", Type: tar.TypeFifo, Mode: 0o640},
		{Name: "dev/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
		{Name: "dev/sda", Type: tar.TypeBlock, Mode: 0o660, Major: 8, Minor: 300},
		{Name: "big", Mode: 0o644, Body: strings.Repeat("0123456789abcdef", 70000)}, // >1 MiB, not block aligned
		{Name: "empty", Mode: 0o600},
		{Name: "ünïcødé-文件-📦.txt", Mode: 0o644, Body: "utf"},
		{Name: "wh/", Type: tar.TypeDir, Mode: 0o755},
		testutil.Whiteout("wh/gone"),
		{Name: "opq/", Type: tar.TypeDir, Mode: 0o711},
		testutil.Opaque("opq"),
		{Name: "opq/kept", Mode: 0o644, Body: "k"},
		{Name: "many/", Type: tar.TypeDir, Mode: 0o755},
	}
	dirs := strings.Split(strings.TrimSuffix(long, "/"), "/")
	for i := range dirs {
		es = append(es, testutil.TarEntry{Name: strings.Join(dirs[:i+1], "/") + "/", Type: tar.TypeDir, Mode: 0o755})
	}
	es = append(es, testutil.TarEntry{Name: long + strings.Repeat("f", 200), Mode: 0o644, Body: "long"})
	// enough names to need several directory blocks
	for i := 0; i < 700; i++ {
		es = append(es, testutil.TarEntry{Name: fmt.Sprintf("many/file-with-a-longish-name-%04d", i), Mode: 0o644, Body: fmt.Sprint(i)})
	}
	return testutil.Tar(t, es...)
}

// An image written by ConvertTar passes fsck.erofs, mounts, and shows the
// same tree as the layer applied by layer.Apply in overlay form.
func TestConvertMatchesApply(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	tmp := t.TempDir()
	tb := richLayer(t)

	want := filepath.Join(tmp, "applied")
	os.Mkdir(want, 0o755)
	if _, err := layer.Apply(ctx, want, bytes.NewReader(tb), layer.Options{Whiteouts: layer.WhiteoutOverlay, Devices: layer.DevicesCreate}); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(tmp, "layer.erofs")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	n, err := erofs.ConvertTar(ctx, bytes.NewReader(tb), f, erofs.ConvertOptions{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(tb)) {
		t.Errorf("read %d of %d tar bytes", n, len(tb))
	}
	if out, err := exec.Command("fsck.erofs", img).CombinedOutput(); err != nil {
		t.Errorf("fsck.erofs: %v\n%s", err, out)
	}
	mnt := filepath.Join(tmp, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := (mount.Mount{Type: "erofs", Source: img, Options: []string{"ro"}}).Mount(mnt); err != nil {
		t.Fatal(err)
	}
	defer mount.UnmountAll(mnt)
	got, exp := testutil.Tree(t, mnt), testutil.Tree(t, want)
	delete(got, ".")
	delete(exp, ".")
	if d := testutil.DiffTrees(exp, got); d != "" {
		t.Errorf("image differs from the applied layer (applied => image):\n%s", d)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(mnt, "opq"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque xattr in image: %q, %v", buf[:max(n, 0)], err)
	}
	var st unix.Stat_t
	unix.Lstat(filepath.Join(mnt, "d"), &st)
	if st.Nlink != 2 {
		t.Errorf("nlink of a directory without subdirectories = %d, want 2", st.Nlink)
	}
	unix.Lstat(filepath.Join(mnt, "d/cap"), &st)
	if st.Nlink != 2 {
		t.Errorf("nlink of a hardlinked file = %d, want 2", st.Nlink)
	}
}

func TestConvertRejects(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		entries []testutil.TarEntry
		is      error
	}{
		"dotdot":             {[]testutil.TarEntry{testutil.File("../x", "x", 0o644)}, nil},
		"hardlink-to-lower":  {[]testutil.TarEntry{testutil.Hardlink("h", "lower-file")}, erofs.ErrNeedsParents},
		"hardlink-climb":     {[]testutil.TarEntry{testutil.Hardlink("h", "../../etc/passwd")}, nil},
		"through-symlink":    {[]testutil.TarEntry{testutil.Symlink("s", "/etc"), testutil.File("s/passwd", "x", 0o644)}, nil},
		"bad-whiteout":       {[]testutil.TarEntry{testutil.File(".wh..", "", 0o644)}, nil},
		"name-too-long":      {[]testutil.TarEntry{testutil.File(strings.Repeat("n", 256), "", 0o644)}, nil},
		"symlink-too-long":   {[]testutil.TarEntry{testutil.Symlink("s", strings.Repeat("t", 4096))}, nil},
		"unknown-xattr-kind": {[]testutil.TarEntry{{Name: "f", Mode: 0o644, Xattrs: map[string]string{"weird.x": "1"}}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "img"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = erofs.ConvertTar(ctx, bytes.NewReader(testutil.Tar(t, c.entries...)), f, erofs.ConvertOptions{})
			if err == nil {
				t.Fatal("converted without an error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err = %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.entries[len(c.entries)-1].Name) {
				t.Errorf("err = %v does not name the entry", err)
			}
			t.Log(err)
		})
	}
}

// ConvertDir of an overlay upper keeps its whiteouts and opaque markers and
// the whole tree.
func TestConvertDir(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "upper")
	os.Mkdir(src, 0o755)
	if _, err := layer.Apply(ctx, src, bytes.NewReader(richLayer(t)), layer.Options{Whiteouts: layer.WhiteoutOverlay, Devices: layer.DevicesCreate}); err != nil {
		t.Fatal(err)
	}
	unix.Setxattr(filepath.Join(src, "d"), "trusted.overlay.origin", []byte("junk"), 0)
	img := filepath.Join(tmp, "layer.erofs")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	err = erofs.ConvertDir(ctx, src, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("fsck.erofs", img).CombinedOutput(); err != nil {
		t.Errorf("fsck.erofs: %v\n%s", err, out)
	}
	mnt := filepath.Join(tmp, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := (mount.Mount{Type: "erofs", Source: img, Options: []string{"ro"}}).Mount(mnt); err != nil {
		t.Fatal(err)
	}
	defer mount.UnmountAll(mnt)
	if d := testutil.DiffTrees(testutil.Tree(t, src), testutil.Tree(t, mnt)); d != "" {
		t.Errorf("image differs from the directory (dir => image):\n%s", d)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(mnt, "opq"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque xattr: %q, %v", buf[:max(n, 0)], err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(mnt, "d"), "trusted.overlay.origin", buf); err == nil {
		t.Error("trusted.overlay.origin copied into the image")
	}
}
