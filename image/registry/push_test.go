package registry

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/testutil"
)

func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("needs skopeo (apt-get install skopeo)")
	}
	out, err := exec.Command("skopeo", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// ociLayoutDigest is the digest skopeo recorded in an OCI layout it wrote.
func ociLayoutDigest(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %s (%v)", b, err)
	}
	return idx.Manifests[0].Digest.String()
}

// berth pushes, skopeo pulls: the digests match.
func TestPushSkopeoPulls(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	ctx := context.Background()
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 2, Seed: "push"})
	testutil.PushImage(t, reg+"/src/img:v1", img)
	idx := testutil.Index(t, testutil.ImageSpec{Layers: 1, Seed: "pushidx"},
		v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	testutil.PushIndex(t, reg+"/src/multi:v1", idx)

	s := newStore(t)
	res, err := Pull(ctx, s, mustParse(t, reg+"/src/img:v1"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := Push(ctx, s, res.Image.Name, mustParse(t, reg+"/dst/img:v2"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if desc.Digest.String() != want.String() {
		t.Errorf("pushed %s, want %s", desc.Digest, want)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	skopeo(t, "copy", "--src-tls-verify=false", "docker://"+reg+"/dst/img:v2", "oci:"+dir+":v2")
	if got := ociLayoutDigest(t, dir); got != want.String() {
		t.Errorf("skopeo pulled %s, want %s", got, want)
	}

	// A multi-arch index with only the host platform pulled is pushed as
	// that platform's manifest alone.
	res, err = Pull(ctx, s, mustParse(t, reg+"/src/multi:v1"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err = Push(ctx, s, res.Image.Name, mustParse(t, reg+"/dst/multi:partial"))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != res.Manifest.Digest {
		t.Errorf("partial index pushed as %s, want the amd64 manifest %s", desc.Digest, res.Manifest.Digest)
	}
	// With every platform pulled, the index goes whole (same digest).
	if _, err := Pull(ctx, s, mustParse(t, reg+"/src/multi:v1"), WithPlatform(ocispec.Platform{OS: "linux", Architecture: "arm64"})); err != nil {
		t.Fatal(err)
	}
	desc, err = Push(ctx, s, res.Image.Name, mustParse(t, reg+"/dst/multi:all"))
	if err != nil {
		t.Fatal(err)
	}
	wantIdx, _ := idx.Digest()
	if desc.Digest.String() != wantIdx.String() {
		t.Errorf("index pushed as %s, want %s", desc.Digest, wantIdx)
	}
	// skopeo 1.9 re-encodes an index (it drops the artifactType fields
	// ggcr writes), so compare the registry's raw bytes and the children.
	raw := skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+reg+"/dst/multi:all")
	if got := digest.FromString(raw); got.String() != wantIdx.String() {
		t.Errorf("registry holds index %s, want %s", got, wantIdx)
	}
	dir2 := filepath.Join(t.TempDir(), "oci")
	skopeo(t, "copy", "--all", "--src-tls-verify=false", "docker://"+reg+"/dst/multi:all", "oci:"+dir2+":all")
	var top ocispec.Index
	b, _ := os.ReadFile(filepath.Join(dir2, "index.json"))
	json.Unmarshal(b, &top)
	b, err = os.ReadFile(filepath.Join(dir2, "blobs/sha256", top.Manifests[0].Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	var got ocispec.Index
	json.Unmarshal(b, &got)
	im, _ := idx.IndexManifest()
	if len(got.Manifests) != len(im.Manifests) {
		t.Fatalf("skopeo index %s", b)
	}
	for i := range im.Manifests {
		if got.Manifests[i].Digest.String() != im.Manifests[i].Digest.String() {
			t.Errorf("child %d: skopeo has %s, want %s", i, got.Manifests[i].Digest, im.Manifests[i].Digest)
		}
	}

	// Bad destination and source: clear errors.
	if _, err := Push(ctx, s, "nope", mustParse(t, reg+"/dst/x:1")); err == nil || !strings.Contains(err.Error(), "image nope: not found") {
		t.Errorf("push of a missing image: %v", err)
	}
	if _, err := Push(ctx, s, res.Image.Name, mustParse(t, reg+"/dst/x@"+want.String())); err == nil || !strings.Contains(err.Error(), "must be a tag") {
		t.Errorf("push to a digest: %v", err)
	}
}

// skopeo pushes (converting to Docker schema2), berth pulls: same digest.
func TestSkopeoPushesPull(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "skopeo"})
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{ocispec.AnnotationRefName: "v1"})); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"oci", "v2s2"} {
		t.Run(format, func(t *testing.T) {
			dst := "docker://" + reg + "/sk/" + format + ":v1"
			skopeo(t, "copy", "--dest-tls-verify=false", "--format", format, "oci:"+dir+":v1", dst)
			want := skopeo(t, "inspect", "--tls-verify=false", "--format", "{{.Digest}}", dst)
			s := newStore(t)
			res, err := Pull(context.Background(), s, mustParse(t, reg+"/sk/"+format+":v1"))
			if err != nil {
				t.Fatal(err)
			}
			if res.Manifest.Digest.String() != want {
				t.Errorf("pulled %s, skopeo pushed %s", res.Manifest.Digest, want)
			}
			wantMT := ocispec.MediaTypeImageManifest
			if format == "v2s2" {
				wantMT = "application/vnd.docker.distribution.manifest.v2+json"
			}
			m, err := s.ImageManifest(context.Background(), res.Image.Name, nil)
			if err != nil || m.Descriptor.MediaType != wantMT || len(m.Layers) != 2 {
				t.Fatalf("manifest %+v, %v; want %s with 2 layers", m, err, wantMT)
			}
		})
	}
}

// A push to another repository of the same registry mounts the blobs the
// store saw there instead of uploading them.
func TestPushCrossRepoMount(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "mount"})
	px := newProxy(t, reg)
	testutil.PushImage(t, px.host+"/team/base:v1", img)
	s := newStore(t)
	ctx := context.Background()
	res, err := Pull(ctx, s, mustParse(t, px.host+"/team/base:v1"))
	if err != nil {
		t.Fatal(err)
	}
	px.set("", 0)
	if _, err := Push(ctx, s, res.Image.Name, mustParse(t, px.host+"/other/app:v1")); err != nil {
		t.Fatal(err)
	}
	// Both layers mounted from team/base; only the config uploaded.
	mounts := px.requests("mount=")
	posts := px.requests("POST /v2/other/app/blobs/uploads/")
	if len(mounts) != 2 || len(posts) != 3 {
		t.Errorf("mounts %v, upload starts %v", mounts, posts)
	}
	// A second push finds everything present (HEAD) and uploads nothing.
	px.set("", 0)
	if _, err := Push(ctx, s, res.Image.Name, mustParse(t, px.host+"/other/app:v2")); err != nil {
		t.Fatal(err)
	}
	if n := len(px.requests("POST")); n != 0 {
		t.Errorf("second push started %d uploads: %v", n, px.requests("POST"))
	}
	if len(px.requests("HEAD /v2/other/app/blobs/")) != 3 {
		t.Errorf("want 3 existence checks, got %v", px.requests("HEAD"))
	}
}

// A Docker manifest list, pulled for every platform, pushes back whole and
// byte-identical.
func TestPushDockerManifestList(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	ctx := context.Background()
	plats := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}}
	idx := testutil.Index(t, testutil.ImageSpec{Layers: 1, Docker: true, Seed: "list"}, plats...)
	want := testutil.PushIndex(t, reg+"/list/src:v1", idx)
	s := newStore(t)
	for _, p := range plats {
		if _, err := Pull(ctx, s, mustParse(t, reg+"/list/src:v1"), WithPlatform(ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})); err != nil {
			t.Fatal(err)
		}
	}
	desc, err := Push(ctx, s, reg+"/list/src:v1", mustParse(t, reg+"/list/dst:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != want.String() || desc.MediaType != "application/vnd.docker.distribution.manifest.list.v2+json" {
		t.Fatalf("pushed %+v, want the manifest list %s", desc, want)
	}
	raw := skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+reg+"/list/dst:v1")
	if got := digest.FromString(raw); got.String() != want.String() {
		t.Errorf("registry holds %s, want %s", got, want)
	}
}
