package layer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

func names(t *testing.T, tb []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(tb))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
	sort.Strings(out)
	return out
}

// An overlay upper with a whiteout device and an opaque directory turns
// into OCI whiteout entries, and the DiffID is the digest of the stream.
func TestDiffOverlayUpper(t *testing.T) {
	testutil.RequireRoot(t)
	upper := t.TempDir()
	os.Mkdir(filepath.Join(upper, "etc"), 0o755)
	if err := unix.Mknod(filepath.Join(upper, "etc/removed"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(upper, "opq"), 0o755)
	if err := unix.Setxattr(filepath.Join(upper, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(upper, "opq/new"), []byte("n"), 0o644)
	var buf bytes.Buffer
	res, err := layer.DiffOverlay(context.Background(), &buf, upper)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"etc/", "etc/.wh.removed", "opq/", "opq/.wh..wh..opq", "opq/new"}
	if got := names(t, buf.Bytes()); !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %q, want %q", got, want)
	}
	if res.DiffID != digest.FromBytes(buf.Bytes()) || res.Size != int64(buf.Len()) {
		t.Errorf("result %+v does not describe the %d-byte stream", res, buf.Len())
	}
	// The opaque xattr is overlay bookkeeping, not content.
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		for k := range h.PAXRecords {
			if k == "SCHILY.xattr.trusted.overlay.opaque" {
				t.Errorf("%s carries %s", h.Name, k)
			}
		}
	}
}

// DiffDirs of a changed copy, applied natively on another copy of the
// lower tree, reproduces the upper tree.
func TestDiffDirsRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	tmp := t.TempDir()
	lower, upper, replay := filepath.Join(tmp, "lower"), filepath.Join(tmp, "upper"), filepath.Join(tmp, "replay")
	for _, d := range []string{lower, upper, replay} {
		os.Mkdir(d, 0o755)
	}
	base := testutil.Tar(t,
		testutil.Dir("a/", 0o755), testutil.File("a/same", "s", 0o644), testutil.File("a/edit", "e", 0o644),
		testutil.File("a/del", "d", 0o644), testutil.Dir("tree/", 0o755), testutil.File("tree/x", "x", 0o644),
		testutil.TarEntry{Name: "a/xattr", Body: "x", Mode: 0o644, Xattrs: map[string]string{"user.k": "v1"}},
		testutil.File("a/h1", "hard", 0o644), testutil.Hardlink("a/h2", "a/h1"))
	for _, d := range []string{lower, upper, replay} {
		if err := apply(t, d, base, layer.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(upper, "a/edit"), []byte("edited"), 0o644)
	os.Remove(filepath.Join(upper, "a/del"))
	os.RemoveAll(filepath.Join(upper, "tree"))
	os.WriteFile(filepath.Join(upper, "tree"), []byte("now a file"), 0o600) // dir -> file
	unix.Setxattr(filepath.Join(upper, "a/xattr"), "user.k", []byte("v2"), 0)
	os.Link(filepath.Join(upper, "a/h1"), filepath.Join(upper, "a/h3")) // new link to an unchanged file
	os.Chmod(filepath.Join(upper, "a/same"), 0o4755)

	var buf bytes.Buffer
	if _, err := layer.DiffDirs(ctx, &buf, lower, upper); err != nil {
		t.Fatal(err)
	}
	for _, n := range names(t, buf.Bytes()) {
		if n == "tree/x" || n == "a/h1" {
			t.Errorf("unchanged or removed entry %q in the diff", n)
		}
	}
	if err := apply(t, replay, buf.Bytes(), layer.Options{}); err != nil {
		t.Fatal(err)
	}
	want, got := testutil.Tree(t, upper), testutil.Tree(t, replay)
	delete(want, ".")
	delete(got, ".")
	if d := testutil.DiffTrees(want, got); d != "" {
		t.Errorf("replayed tree differs (upper => replay):\n%s", d)
	}
}

func TestDecompress(t *testing.T) {
	data := testutil.Tar(t, testutil.File("f", "hello", 0o644))
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(data)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(data)
	zw.Close()
	for _, c := range []struct {
		in   []byte
		want layer.Compression
	}{{data, layer.Uncompressed}, {gz.Bytes(), layer.Gzip}, {zs.Bytes(), layer.Zstd}} {
		rc, comp, err := layer.Decompress(bytes.NewReader(c.in))
		if err != nil {
			t.Fatalf("%v: %v", c.want, err)
		}
		out, err := io.ReadAll(rc)
		rc.Close()
		if comp != c.want || err != nil || !bytes.Equal(out, data) {
			t.Errorf("%v: detected %v, %d bytes, %v", c.want, comp, len(out), err)
		}
	}
	if _, _, err := layer.Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); err == nil {
		t.Error("broken gzip header: no error")
	}
}

func TestVerifyDiffID(t *testing.T) {
	testutil.RequireRoot(t)
	tb := testutil.Tar(t, testutil.File("f", "hello", 0o644))
	good := digest.FromBytes(tb)
	r, err := layer.VerifyDiffID(bytes.NewReader(tb), good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layer.Apply(context.Background(), t.TempDir(), r, layer.Options{}); err != nil {
		t.Errorf("matching diff_id: %v", err)
	}
	bad := digest.FromString("something else")
	r, _ = layer.VerifyDiffID(bytes.NewReader(tb), bad)
	_, err = layer.Apply(context.Background(), t.TempDir(), r, layer.Options{})
	var de *layer.DiffIDError
	if !errors.As(err, &de) || de.Want != bad || de.Got != good {
		t.Errorf("tampered layer: err = %v, want a DiffIDError naming both digests", err)
	}
	if _, err := layer.VerifyDiffID(bytes.NewReader(tb), "sha256:nothex"); err == nil {
		t.Error("invalid digest accepted")
	}
}
