package unpack_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/erofs"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/berth-dev/berth/snapshot/mount"
	"github.com/berth-dev/berth/snapshot/native"
	"github.com/berth-dev/berth/snapshot/overlay"
	"github.com/berth-dev/berth/snapshot/unpack"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func blobLayer(tarball, blob []byte) unpack.Layer {
	return unpack.Layer{
		DiffID: digest.FromBytes(tarball),
		Open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
	}
}

func testLayers(t *testing.T) []unpack.Layer {
	l1 := testutil.Tar(t, testutil.Dir("etc/", 0o755), testutil.File("etc/a", "1", 0o644), testutil.File("etc/b", "1", 0o644),
		testutil.Dir("bin/", 0o755), testutil.File("bin/tool", "tool", 0o755))
	l2 := testutil.Tar(t, testutil.Dir("etc/", 0o755), testutil.Whiteout("etc/a"), testutil.File("etc/c", "2", 0o644))
	// hardlink to a file of layer 1: cannot be converted alone
	l3 := testutil.Tar(t, testutil.Dir("bin/", 0o755), testutil.Hardlink("bin/tool2", "bin/tool"))
	return []unpack.Layer{blobLayer(l1, gz(l1)), blobLayer(l2, zst(l2)), blobLayer(l3, l3)}
}

func snapshotters(t *testing.T) map[string]func(root string) (snapshot.Snapshotter, error) {
	return map[string]func(string) (snapshot.Snapshotter, error){
		"overlay": func(r string) (snapshot.Snapshotter, error) { return overlay.New(r) },
		"native":  func(r string) (snapshot.Snapshotter, error) { return native.New(r) },
		"erofs":   func(r string) (snapshot.Snapshotter, error) { return erofs.New(r) },
	}
}

func count(ctx context.Context, sn snapshot.Snapshotter) map[snapshot.Kind]int {
	n := map[snapshot.Kind]int{}
	sn.Walk(ctx, func(_ context.Context, i snapshot.Info) error { n[i.Kind]++; return nil })
	return n
}

func cleanup(ctx context.Context, t *testing.T, sn snapshot.Snapshotter, root string) {
	for i := 0; i < 10; i++ {
		sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error { sn.Remove(ctx, info.Name); return nil })
	}
	if left := testutil.MountsUnder(t, root); len(left) > 0 {
		t.Errorf("left mounted: %v", left)
	}
}

func TestUnpack(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	for name, newSn := range snapshotters(t) {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			sn, err := newSn(filepath.Join(root, "sn"))
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup(ctx, t, sn, root)
			layers := testLayers(t)
			top, err := unpack.Unpack(ctx, sn, layers, unpack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			chain := unpack.ChainIDs([]digest.Digest{layers[0].DiffID, layers[1].DiffID, layers[2].DiffID})
			if top != chain[2].String() || chain[0] != layers[0].DiffID {
				t.Errorf("top = %s, chain %v", top, chain)
			}
			if n := count(ctx, sn); n[snapshot.KindCommitted] != 3 || len(n) != 1 {
				t.Errorf("snapshots after unpack: %v, want 3 committed and nothing else", n)
			}
			ms, err := sn.View(ctx, "v", top)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "mnt")
			os.Mkdir(dir, 0o755)
			if err := mount.All(ms, dir); err != nil {
				t.Fatal(err)
			}
			tree := testutil.Tree(t, dir)
			mount.UnmountAll(dir)
			sn.Remove(ctx, "v")
			for _, p := range []string{"etc/b", "etc/c", "bin/tool", "bin/tool2"} {
				if _, ok := tree[p]; !ok {
					t.Errorf("%s missing", p)
				}
			}
			if _, ok := tree["etc/a"]; ok {
				t.Error("etc/a whited out but visible")
			}
			// Again: everything is there, nothing is opened.
			again := make([]unpack.Layer, len(layers))
			for i, l := range layers {
				again[i] = unpack.Layer{DiffID: l.DiffID, Open: func() (io.ReadCloser, error) {
					t.Errorf("layer %d opened again", i)
					return nil, errors.New("no")
				}}
			}
			if top2, err := unpack.Unpack(ctx, sn, again, unpack.Options{}); err != nil || top2 != top {
				t.Errorf("second unpack: %s, %v", top2, err)
			}
		})
	}
}

// A layer whose content does not match its DiffID fails the unpack with a
// DiffIDError and leaves no snapshot of it, nor any active one.
func TestUnpackTampered(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	for name, newSn := range snapshotters(t) {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			sn, err := newSn(filepath.Join(root, "sn"))
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup(ctx, t, sn, root)
			layers := testLayers(t)
			evil := testutil.Tar(t, testutil.File("etc/c", "evil", 0o644))
			layers[1].Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(evil)), nil }
			_, err = unpack.Unpack(ctx, sn, layers, unpack.Options{})
			var de *layer.DiffIDError
			if !errors.As(err, &de) || de.Want != layers[1].DiffID {
				t.Fatalf("err = %v, want a DiffIDError for layer 1", err)
			}
			if n := count(ctx, sn); n[snapshot.KindCommitted] != 1 || len(n) != 1 {
				t.Errorf("snapshots after a failed unpack: %v, want only layer 0 committed", n)
			}
			if m, _ := filepath.Glob(filepath.Join(root, "sn/converted/*")); len(m) > 0 {
				t.Errorf("converted layers left: %v", m)
			}
			if _, err := unpack.Unpack(ctx, sn, nil, unpack.Options{}); !errors.Is(err, snapshot.ErrInvalid) {
				t.Errorf("no layers: %v", err)
			}
			if _, err := unpack.Unpack(ctx, sn, []unpack.Layer{{DiffID: "bogus"}}, unpack.Options{}); !errors.Is(err, snapshot.ErrInvalid) {
				t.Errorf("bad diff_id: %v", err)
			}
		})
	}
}
