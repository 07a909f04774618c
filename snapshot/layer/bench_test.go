package layer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/snapshot/layer"
)

// BenchmarkApplyVsTar applies a layer of 10,000 small files and 4 x 16 MiB
// of random data to ext4 (the overlay snapshotter's path), and runs GNU
// `tar -x` on the same tar into the same filesystem in the same iteration.
// It reports the times (berth with the default workers and with one) and
// the ratio berth/tar.
func BenchmarkApplyVsTar(b *testing.B) {
	testutil.RequireRoot(b)
	dir := b.TempDir() // /tmp: ext4 here
	tarPath := filepath.Join(dir, "layer.tar")
	testutil.GenLayer(b, tarPath, 10000, 4, 16<<20)
	tarBin, tarErr := exec.LookPath("tar")
	var berth, seq, peer time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root, _ := os.MkdirTemp(dir, "apply-")
		f, _ := os.Open(tarPath)
		b.StartTimer()
		t0 := time.Now()
		if _, err := layer.Apply(context.Background(), root, f, layer.Options{}); err != nil {
			b.Fatal(err)
		}
		berth += time.Since(t0)
		b.StopTimer()
		f.Close()
		os.RemoveAll(root)
		root, _ = os.MkdirTemp(dir, "seq-")
		f, _ = os.Open(tarPath)
		t0 = time.Now()
		if _, err := layer.Apply(context.Background(), root, f, layer.Options{Workers: 1}); err != nil {
			b.Fatal(err)
		}
		seq += time.Since(t0)
		f.Close()
		os.RemoveAll(root)
		if tarErr == nil {
			root, _ = os.MkdirTemp(dir, "tar-")
			t0 = time.Now()
			if out, err := exec.Command(tarBin, "-x", "-p", "--xattrs", "-f", tarPath, "-C", root).CombinedOutput(); err != nil {
				b.Fatalf("tar -x: %v: %s", err, out)
			}
			peer += time.Since(t0)
			os.RemoveAll(root)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(berth.Milliseconds())/float64(b.N), "berth-ms/op")
	b.ReportMetric(float64(seq.Milliseconds())/float64(b.N), "berth-1worker-ms/op")
	if tarErr == nil {
		b.ReportMetric(float64(peer.Milliseconds())/float64(b.N), "tar-x-ms/op")
		b.ReportMetric(float64(berth)/float64(peer), "berth/tar")
	}
}
