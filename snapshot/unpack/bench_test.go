package unpack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/erofs"
	"github.com/berth-dev/berth/snapshot/overlay"
	"github.com/berth-dev/berth/snapshot/unpack"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
)

// imageLayers makes an 8-layer gzip image of this machine's /usr/share
// (about 50,000 real files, 650 MB; its top-level directories dealt out
// over the layers) in dir.
func imageLayers(b *testing.B, dir string) ([]unpack.Layer, []string) {
	entries, err := os.ReadDir("/usr/share")
	if err != nil {
		b.Fatal(err)
	}
	groups := make([][]string, 8)
	for i, e := range entries {
		groups[i%8] = append(groups[i%8], filepath.Join("usr/share", e.Name()))
	}
	var layers []unpack.Layer
	var paths []string
	for i, g := range groups {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
		testutil.TarTree(b, io.MultiWriter(zw, h), "/", g)
		zw.Close()
		f.Close()
		diffID := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
		layers = append(layers, unpack.Layer{DiffID: diffID, Open: func() (io.ReadCloser, error) { return os.Open(p) }})
		paths = append(paths, p)
	}
	return layers, paths
}

// BenchmarkUnpackImage unpacks an 8-layer gzip image (from blobs on disk to
// a committed top snapshot, DiffIDs verified) with the EROFS snapshotter
// (layers converted two at a time) and the overlay snapshotter, and runs
// GNU `tar -xzf` of the same layers, in order, into one directory as the
// peer, once each per iteration. It reports the times and ratios to tar.
func BenchmarkUnpackImage(b *testing.B) {
	testutil.RequireRoot(b)
	dir := b.TempDir()
	layers, paths := imageLayers(b, dir)
	var size int64
	for _, p := range paths {
		st, _ := os.Stat(p)
		size += st.Size()
	}
	b.Logf("8 layers, %d MB of gzip", size>>20)
	ctx := context.Background()
	run := func(newSn func(string) (snapshot.Snapshotter, error)) time.Duration {
		root, _ := os.MkdirTemp(dir, "sn-")
		defer os.RemoveAll(root)
		sn, err := newSn(root)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		top, err := unpack.Unpack(ctx, sn, layers, unpack.Options{})
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		for i := len(layers) - 1; i >= 0; i-- {
			sn.Remove(ctx, unpack.ChainIDs(diffIDs(layers[:i+1]))[i].String())
		}
		_ = top
		return d
	}
	var tEro, tOvl, tTar time.Duration
	for i := 0; i < b.N; i++ {
		tEro += run(func(r string) (snapshot.Snapshotter, error) { return erofs.New(r) })
		tOvl += run(func(r string) (snapshot.Snapshotter, error) { return overlay.New(r) })
		root, _ := os.MkdirTemp(dir, "tar-")
		t0 := time.Now()
		for _, p := range paths {
			var stderr bytes.Buffer
			cmd := exec.Command("tar", "-x", "-z", "-p", "-f", p, "-C", root)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("tar -xzf %s: %v: %s", p, err, stderr.String())
			}
		}
		tTar += time.Since(t0)
		os.RemoveAll(root)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tEro.Milliseconds())/n, "erofs-ms/op")
	b.ReportMetric(float64(tOvl.Milliseconds())/n, "overlay-ms/op")
	b.ReportMetric(float64(tTar.Milliseconds())/n, "tar-xz-ms/op")
	b.ReportMetric(float64(tEro)/float64(tTar), "erofs/tar")
	b.ReportMetric(float64(tOvl)/float64(tTar), "overlay/tar")
}

func diffIDs(ls []unpack.Layer) []digest.Digest {
	out := make([]digest.Digest, len(ls))
	for i, l := range ls {
		out[i] = l.DiffID
	}
	return out
}
