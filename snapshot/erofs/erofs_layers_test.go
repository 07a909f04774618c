package erofs_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/erofs"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/berth-dev/berth/snapshot/mount"
	"golang.org/x/sys/unix"
)

const erofsMagic = 0xE0F5E1E2

// A committed layer is one image file mounted as EROFS, with the overlay
// whiteout kept inside the image; after the mounts are gone (a reboot),
// the next Prepare mounts the images again.
func TestLayersAreImages(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	root := t.TempDir()
	sn, err := erofs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, k := range []string{"c", "l2", "l1"} {
			sn.Remove(ctx, k)
		}
		if left := testutil.MountsUnder(t, root); len(left) > 0 {
			t.Errorf("left mounted: %v", left)
		}
	}()
	imp := func(name, parent string, tb []byte) {
		if _, err := sn.Prepare(ctx, "x-"+name, parent); err != nil {
			t.Fatal(err)
		}
		if _, err := sn.Import(ctx, "x-"+name, bytes.NewReader(tb)); err != nil {
			t.Fatal(err)
		}
		if err := sn.Commit(ctx, name, "x-"+name); err != nil {
			t.Fatal(err)
		}
	}
	imp("l1", "", testutil.Tar(t, testutil.File("a", "a", 0o644), testutil.File("b", "b", 0o644)))
	imp("l2", "l1", testutil.Tar(t, testutil.Whiteout("a"), testutil.Hardlink("b-link", "b"))) // b is l1's: copied up

	images, _ := filepath.Glob(filepath.Join(root, "snapshots/*/layer.erofs"))
	if len(images) != 2 {
		t.Fatalf("images: %v, want 2", images)
	}
	for _, img := range images {
		var fs unix.Statfs_t
		if err := unix.Statfs(filepath.Join(filepath.Dir(img), "fs"), &fs); err != nil || fs.Type != erofsMagic {
			t.Errorf("%s not mounted as erofs (type %x, %v)", img, fs.Type, err)
		}
	}
	if err := sn.UnmountAll(); err != nil {
		t.Fatal(err)
	}
	if left := testutil.MountsUnder(t, root); len(left) > 0 {
		t.Fatalf("after UnmountAll: %v", left)
	}
	ms, err := sn.Prepare(ctx, "c", "l2")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := mount.All(ms, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("a whited out in l2 but visible: %v", err)
	}
	for _, f := range []string{"b", "b-link"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != "b" {
			t.Errorf("%s = %q, %v", f, b, err)
		}
	}
	mount.UnmountAll(dir)

	// A second import into a committed key, or one into a missing key, fails.
	if _, err := sn.Import(ctx, "l1", bytes.NewReader(nil)); err == nil {
		t.Error("import into a committed snapshot: no error")
	}
	// A broken layer leaves no image behind.
	sn.Prepare(ctx, "bad", "")
	if _, err := layer.Unpack(ctx, sn, "bad", bytes.NewReader(testutil.Tar(t, testutil.File("../x", "x", 0o644))), layer.Options{}); err == nil {
		t.Error("unsafe layer imported")
	}
	if m, _ := filepath.Glob(filepath.Join(root, "snapshots/*/layer.erofs*")); len(m) != 2 {
		t.Errorf("images after a failed import: %v", m)
	}
	sn.Remove(ctx, "bad")
}

// Layers converted concurrently, then imported in chain order, stack like
// imported ones.
func TestConvertThenImport(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	root := t.TempDir()
	sn, err := erofs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	layers := [][]byte{
		testutil.Tar(t, testutil.Dir("etc/", 0o755), testutil.File("etc/a", "1", 0o644), testutil.File("etc/b", "1", 0o644)),
		testutil.Tar(t, testutil.Dir("etc/", 0o755), testutil.Whiteout("etc/a"), testutil.File("etc/c", "2", 0o644)),
	}
	conv := make([]snapshot.Converted, len(layers))
	errs := make(chan error, len(layers))
	for i, l := range layers {
		go func() {
			var err error
			conv[i], err = sn.Convert(ctx, bytes.NewReader(l))
			errs <- err
		}()
	}
	for range layers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	parent := ""
	for i, c := range conv {
		key, name := "x"+string(rune('0'+i)), "l"+string(rune('0'+i))
		if _, err := sn.Prepare(ctx, key, parent); err != nil {
			t.Fatal(err)
		}
		if err := sn.ImportConverted(ctx, key, c); err != nil {
			t.Fatal(err)
		}
		if err := sn.Commit(ctx, name, key); err != nil {
			t.Fatal(err)
		}
		parent = name
	}
	if err := sn.ImportConverted(ctx, "l0", conv[0]); err == nil {
		t.Error("import into a committed snapshot: no error")
	}
	ms, err := sn.View(ctx, "v", parent)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := mount.All(ms, dir); err != nil {
		t.Fatal(err)
	}
	got := testutil.Tree(t, dir)
	mount.UnmountAll(dir)
	for _, p := range []string{"etc/b", "etc/c"} {
		if _, ok := got[p]; !ok {
			t.Errorf("%s missing", p)
		}
	}
	if _, ok := got["etc/a"]; ok {
		t.Error("etc/a whited out in layer 2 but visible")
	}
	for _, k := range []string{"v", "l1", "l0"} {
		if err := sn.Remove(ctx, k); err != nil {
			t.Error(err)
		}
	}
	if left := testutil.MountsUnder(t, root); len(left) > 0 {
		t.Errorf("left mounted: %v", left)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "converted/*")); len(m) != 0 {
		t.Errorf("converted images left: %v", m)
	}
}
