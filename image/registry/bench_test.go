package registry

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// BenchmarkPullVsSkopeo pulls one image (4 layers of 8 MiB incompressible
// data by default, gzip) from a local registry into an empty store, interleaved with
// `skopeo copy docker://… oci:…` of the same image (the transfer-only peer
// in shared/ANCHORS.md), and reports the ratio berth/skopeo.
func BenchmarkPullVsSkopeo(b *testing.B) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		b.Skip("needs skopeo")
	}
	b.Setenv("REGISTRY_AUTH_FILE", filepath.Join(b.TempDir(), "auth.json"))
	reg := testutil.StartRegistry(b)
	mb := 8 // per layer; BERTH_BENCH_LAYER_MB overrides
	if v, err := strconv.Atoi(os.Getenv("BERTH_BENCH_LAYER_MB")); err == nil && v > 0 {
		mb = v
	}
	img := testutil.Image(b, testutil.ImageSpec{Layers: 4, LayerSize: mb << 20, Seed: "bench"})
	testutil.PushImage(b, reg+"/bench/img:v1", img)
	ref, _ := parseRef(reg + "/bench/img:v1")
	var berth, peer time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := newBenchStore(b)
		dir := filepath.Join(b.TempDir(), "oci")
		b.StartTimer()
		t0 := time.Now()
		if _, err := Pull(context.Background(), s, ref); err != nil {
			b.Fatal(err)
		}
		berth += time.Since(t0)
		b.StopTimer()
		t0 = time.Now()
		if out, err := exec.Command("skopeo", "copy", "--src-tls-verify=false", "docker://"+reg+"/bench/img:v1", "oci:"+dir+":v1").CombinedOutput(); err != nil {
			b.Fatalf("skopeo: %v\n%s", err, out)
		}
		peer += time.Since(t0)
		b.StartTimer()
	}
	b.ReportMetric(float64(peer.Milliseconds())/float64(b.N), "skopeo-ms/op")
	b.ReportMetric(float64(berth)/float64(peer), "berth/skopeo")
}
