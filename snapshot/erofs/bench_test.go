package erofs_test

import (
	"context"

	"github.com/berth-dev/berth/snapshot"
	"github.com/klauspost/compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot/erofs"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/berth-dev/berth/snapshot/overlay"
)

// BenchmarkUnpack unpacks the same layer (10,000 small files, 4 x 16 MiB
// random; BERTH_BENCH_BIG_MB sets the big files' size) four ways in each
// iteration, all ending on ext4: the EROFS snapshotter writing the image
// from the tar (Prepare + Import + Commit, mounted), the same with tmpfs
// staging + mkfs.erofs, the overlay snapshotter (Prepare + file-by-file
// Apply + Commit), and GNU `tar -x` as the peer. It reports each time and
// the ratios to tar (ns/op covers all four).
func BenchmarkUnpack(b *testing.B) {
	testutil.RequireRoot(b)
	dir := b.TempDir()
	tarPath := filepath.Join(dir, "layer.tar")
	bigMB := int64(16)
	if v, err := strconv.Atoi(os.Getenv("BERTH_BENCH_BIG_MB")); err == nil {
		bigMB = int64(v)
	}
	testutil.GenLayer(b, tarPath, 10000, 4, bigMB<<20)
	ctx := context.Background()
	var tEro, tMkfs, tOvl, tTar time.Duration
	erofsOnce := func(opts ...erofs.Opt) time.Duration {
		eroot, _ := os.MkdirTemp(dir, "erofs-")
		defer os.RemoveAll(eroot)
		es, err := erofs.New(eroot, opts...)
		if err != nil {
			b.Fatal(err)
		}
		f, _ := os.Open(tarPath)
		defer f.Close()
		t0 := time.Now()
		if _, err := es.Prepare(ctx, "x", ""); err != nil {
			b.Fatal(err)
		}
		if _, err := layer.Unpack(ctx, es, "x", f, layer.Options{}); err != nil {
			b.Fatal(err)
		}
		if err := es.Commit(ctx, "l", "x"); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		es.Remove(ctx, "l")
		return d
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tEro += erofsOnce()
		tMkfs += erofsOnce(erofs.WithMkfsImport())

		oroot, _ := os.MkdirTemp(dir, "overlay-")
		os_, err := overlay.New(oroot)
		if err != nil {
			b.Fatal(err)
		}
		f, _ := os.Open(tarPath)
		t0 := time.Now()
		os_.Prepare(ctx, "x", "")
		if _, err := layer.Unpack(ctx, os_, "x", f, layer.Options{}); err != nil {
			b.Fatal(err)
		}
		if err := os_.Commit(ctx, "l", "x"); err != nil {
			b.Fatal(err)
		}
		tOvl += time.Since(t0)
		f.Close()
		os.RemoveAll(oroot)

		troot, _ := os.MkdirTemp(dir, "tar-")
		t0 = time.Now()
		if out, err := exec.Command("tar", "-x", "-p", "--xattrs", "-f", tarPath, "-C", troot).CombinedOutput(); err != nil {
			b.Fatalf("tar -x: %v: %s", err, out)
		}
		tTar += time.Since(t0)
		os.RemoveAll(troot)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tEro.Milliseconds())/n, "erofs-ms/op")
	b.ReportMetric(float64(tMkfs.Milliseconds())/n, "erofs-mkfs-ms/op")
	b.ReportMetric(float64(tOvl.Milliseconds())/n, "overlay-ms/op")
	b.ReportMetric(float64(tTar.Milliseconds())/n, "tar-x-ms/op")
	b.ReportMetric(float64(tEro)/float64(tTar), "erofs/tar")
	b.ReportMetric(float64(tMkfs)/float64(tTar), "erofs-mkfs/tar")
	b.ReportMetric(float64(tOvl)/float64(tTar), "overlay/tar")
}

// gzLayer returns a gzip layer to unpack: $BERTH_BENCH_LAYER if set (any
// real layer blob), else a tar of this machine's /usr/share (about 50,000
// real files, 650 MB) compressed with gzip's fastest level.
func gzLayer(b *testing.B, dir string) string {
	if p := os.Getenv("BERTH_BENCH_LAYER"); p != "" {
		return p
	}
	p := filepath.Join(dir, "usr-share.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	testutil.TarTree(b, zw, "/", []string{"usr/share"})
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkUnpackGzip is the pull-side unpack of a compressed layer: gzip
// blob -> mounted snapshot. berth's EROFS and overlay snapshotters
// (Decompress + Unpack + Commit) against GNU `tar -xzf` onto ext4, each once
// per iteration, with ratios to tar.
func BenchmarkUnpackGzip(b *testing.B) {
	testutil.RequireRoot(b)
	dir := b.TempDir()
	gz := gzLayer(b, dir)
	ctx := context.Background()
	unpack := func(sn snapshot.Snapshotter) time.Duration {
		f, err := os.Open(gz)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		t0 := time.Now()
		rc, _, err := layer.Decompress(f)
		if err != nil {
			b.Fatal(err)
		}
		defer rc.Close()
		if _, err := sn.Prepare(ctx, "x", ""); err != nil {
			b.Fatal(err)
		}
		if _, err := layer.Unpack(ctx, sn, "x", rc, layer.Options{Devices: layer.DevicesCreate}); err != nil {
			b.Fatal(err)
		}
		if err := sn.Commit(ctx, "l", "x"); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		sn.Remove(ctx, "l")
		return d
	}
	var tEro, tOvl, tTar time.Duration
	for i := 0; i < b.N; i++ {
		root, _ := os.MkdirTemp(dir, "erofs-")
		es, err := erofs.New(root)
		if err != nil {
			b.Fatal(err)
		}
		tEro += unpack(es)
		os.RemoveAll(root)

		root, _ = os.MkdirTemp(dir, "overlay-")
		ov, err := overlay.New(root)
		if err != nil {
			b.Fatal(err)
		}
		tOvl += unpack(ov)
		os.RemoveAll(root)

		root, _ = os.MkdirTemp(dir, "tar-")
		t0 := time.Now()
		if out, err := exec.Command("tar", "-x", "-z", "-p", "-f", gz, "-C", root).CombinedOutput(); err != nil {
			b.Fatalf("tar -xzf: %v: %s", err, out)
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
