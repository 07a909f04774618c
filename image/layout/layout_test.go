package layout

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/internal/testutil"
)

func newStore(t *testing.T) *store.Store {
	s, err := store.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// put writes a ggcr image into s under name.
func put(t *testing.T, s *store.Store, name string, img v1.Image) ocispec.Descriptor {
	d, err := s.WriteImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutImage(context.Background(), store.Image{Name: name, Target: d}); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "layout"})
	d := put(t, s, "docker.io/library/busybox:1.36", img)
	idx := testutil.Index(t, testutil.ImageSpec{Layers: 1, Seed: "layoutidx"},
		v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	id, err := s.WriteIndex(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	s.PutImage(ctx, store.Image{Name: "example.com/multi:v2", Target: id})

	dir := filepath.Join(t.TempDir(), "oci")
	if _, err := Export(ctx, s, "docker.io/library/busybox:1.36", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(ctx, s, "example.com/multi:v2", dir); err != nil {
		t.Fatal(err)
	}
	// Re-export replaces the entry rather than adding one.
	if _, err := Export(ctx, s, "docker.io/library/busybox:1.36", dir); err != nil {
		t.Fatal(err)
	}

	s2 := newStore(t)
	imgs, err := Import(ctx, s2, dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, i := range imgs {
		got[i.Name] = i.Target.Digest.String()
	}
	if len(imgs) != 2 || got["docker.io/library/busybox:1.36"] != d.Digest.String() || got["example.com/multi:v2"] != id.Digest.String() {
		t.Fatalf("imported %v", got)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		pl := ocispec.Platform{OS: "linux", Architecture: strings.TrimPrefix(p, "linux/")}
		if _, err := s2.ImageManifest(ctx, "example.com/multi:v2", &pl); err != nil {
			t.Errorf("%s after import: %v", p, err)
		}
	}
}

// skopeo reads what Export wrote and writes what Import reads.
func TestSkopeoInterop(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("needs skopeo")
	}
	ctx := context.Background()
	s := newStore(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Seed: "sk"})
	d := put(t, s, "docker.io/library/busybox:latest", img)
	dir := filepath.Join(t.TempDir(), "oci")
	if _, err := Export(ctx, s, "docker.io/library/busybox:latest", dir); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("skopeo", "inspect", "--format", "{{.Digest}}", "oci:"+dir+":latest").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != d.Digest.String() {
		t.Fatalf("skopeo inspect of the export: %s %v (want %s)", out, err, d.Digest)
	}
	dir2 := filepath.Join(t.TempDir(), "oci2")
	if out, err := exec.Command("skopeo", "copy", "oci:"+dir+":latest", "oci:"+dir2+":copied").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %s %v", out, err)
	}
	s2 := newStore(t)
	imgs, err := Import(ctx, s2, dir2, WithName(reference.MustParse("localhost/app")))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Name != "localhost/app:copied" || imgs[0].Target.Digest != d.Digest {
		t.Fatalf("imported %+v, want localhost/app:copied at %s", imgs, d.Digest)
	}
}

func TestImportErrors(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := Import(ctx, s, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an OCI layout") {
		t.Fatalf("empty dir: %v", err)
	}
	// An entry with only a tag and no WithName: an error naming the entry.
	src := newStore(t)
	put(t, src, "docker.io/library/x:v1", testutil.Image(t, testutil.ImageSpec{Layers: 1, Seed: "e"}))
	dir := filepath.Join(t.TempDir(), "oci")
	if _, err := Export(ctx, src, "docker.io/library/x:v1", dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	os.WriteFile(filepath.Join(dir, "index.json"), []byte(strings.Replace(string(b), AnnotationImageName, "x-other", 1)), 0o644)
	if _, err := Import(ctx, s, dir); err == nil || !strings.Contains(err.Error(), "no image name") {
		t.Fatalf("unnamed entry: %v", err)
	}
	if imgs, _ := s.Images(ctx); len(imgs) != 0 {
		t.Fatalf("failed import recorded %v", imgs)
	}
	// A corrupt blob in the layout is caught by the store's verification.
	os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644)
	m, _ := src.ImageManifest(ctx, "docker.io/library/x:v1", nil)
	lp := filepath.Join(dir, "blobs/sha256", m.Layers[0].Digest.Encoded())
	data, _ := os.ReadFile(lp)
	data[len(data)/2] ^= 0xff
	os.Chmod(lp, 0o644)
	os.WriteFile(lp, data, 0o644)
	if _, err := Import(ctx, s, dir); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("corrupt layout: %v", err)
	}
	if imgs, _ := s.Images(ctx); len(imgs) != 0 {
		t.Fatalf("failed import recorded %v", imgs)
	}
}

// A Docker schema2 image (from a docker-archive or a Docker registry) is
// exported with OCI media types, so that skopeo finds it; its layers keep
// their digests.
func TestExportConvertsDockerToOCI(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("needs skopeo")
	}
	ctx := context.Background()
	s := newStore(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Docker: true, Seed: "dk"})
	put(t, s, "docker.io/library/busybox:docker", img)
	dir := filepath.Join(t.TempDir(), "oci")
	d, err := Export(ctx, s, "docker.io/library/busybox:docker", dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("exported media type %s", d.MediaType)
	}
	out, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+dir+":docker").CombinedOutput()
	if err != nil || !strings.Contains(string(out), ocispec.MediaTypeImageLayerGzip) || strings.Contains(string(out), "docker") {
		t.Fatalf("skopeo inspect --raw: %s %v", out, err)
	}
	want, _ := img.Layers()
	wd, _ := want[0].Digest()
	if !strings.Contains(string(out), wd.String()) {
		t.Fatalf("layer digest %s changed: %s", wd, out)
	}
}
