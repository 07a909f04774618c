package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/layout"
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

func needSkopeo(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("needs skopeo")
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// sameContent compares config and layers of two stored images (a
// docker-archive round trip rewrites the manifest as Docker schema2).
func sameContent(t *testing.T, a *store.Store, an string, b *store.Store, bn string) {
	t.Helper()
	ma, err := a.ImageManifest(context.Background(), an, nil)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := b.ImageManifest(context.Background(), bn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ma.Config.Digest != mb.Config.Digest || len(ma.Layers) != len(mb.Layers) {
		t.Fatalf("config %s vs %s, %d vs %d layers", ma.Config.Digest, mb.Config.Digest, len(ma.Layers), len(mb.Layers))
	}
	for i := range ma.Layers {
		if ma.Layers[i].Digest != mb.Layers[i].Digest {
			t.Errorf("layer %d: %s vs %s", i, ma.Layers[i].Digest, mb.Layers[i].Digest)
		}
	}
}

func TestDockerArchive(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	put(t, s, "docker.io/library/busybox:1.36", testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "da"}))
	put(t, s, "example.com:5000/team/app:v1", testutil.Image(t, testutil.ImageSpec{Layers: 2, Seed: "db"}))
	path := filepath.Join(t.TempDir(), "save.tar")
	f, _ := os.Create(path)
	if err := SaveDocker(ctx, s, []string{"docker.io/library/busybox:1.36", "example.com:5000/team/app:v1"}, f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s2 := newStore(t)
	imgs, err := LoadDocker(ctx, s2, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("loaded %+v", imgs)
	}
	sameContent(t, s, "docker.io/library/busybox:1.36", s2, "docker.io/library/busybox:1.36")
	sameContent(t, s, "example.com:5000/team/app:v1", s2, "example.com:5000/team/app:v1")

	if _, err := os.Stat("/usr/bin/skopeo"); err == nil {
		// skopeo reads our archive...
		cfg := run(t, "skopeo", "inspect", "--raw", "--config", "docker-archive:"+path+":busybox:1.36")
		if !strings.Contains(cfg, `"architecture":"amd64"`) {
			t.Errorf("skopeo read config %s", cfg)
		}
		// ...and writes one we load.
		dir := filepath.Join(t.TempDir(), "oci")
		if _, err := layout.Export(ctx, s, "docker.io/library/busybox:1.36", dir); err != nil {
			t.Fatal(err)
		}
		sk := filepath.Join(t.TempDir(), "skopeo.tar")
		run(t, "skopeo", "copy", "oci:"+dir+":1.36", "docker-archive:"+sk+":busybox:from-skopeo")
		s3 := newStore(t)
		imgs, err := LoadDocker(ctx, s3, sk)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 1 || imgs[0].Name != "docker.io/library/busybox:from-skopeo" {
			t.Fatalf("loaded %+v", imgs)
		}
		m, err := s3.ImageManifest(ctx, imgs[0].Name, nil)
		mo, _ := s.ImageManifest(ctx, "docker.io/library/busybox:1.36", nil)
		if err != nil || len(m.Layers) != 2 || m.Image.RootFS.DiffIDs[0] != mo.Image.RootFS.DiffIDs[0] {
			t.Fatalf("skopeo's archive loaded as %+v, %v", m, err)
		}
	}
}

func TestOCIArchive(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	d := put(t, s, "docker.io/library/busybox:latest", testutil.Image(t, testutil.ImageSpec{Busybox: true, Seed: "oa"}))
	path := filepath.Join(t.TempDir(), "oci.tar")
	f, _ := os.Create(path)
	if err := SaveOCI(ctx, s, "docker.io/library/busybox:latest", f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s2 := newStore(t)
	imgs, err := LoadOCI(ctx, s2, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Target.Digest != d.Digest || imgs[0].Name != "docker.io/library/busybox:latest" {
		t.Fatalf("loaded %+v, want %s", imgs, d.Digest)
	}
	if _, err := os.Stat("/usr/bin/skopeo"); err == nil {
		if got := run(t, "skopeo", "inspect", "--format", "{{.Digest}}", "oci-archive:"+path+":latest"); got != d.Digest.String() {
			t.Errorf("skopeo sees %s, want %s", got, d.Digest)
		}
		sk := filepath.Join(t.TempDir(), "skopeo-oci.tar")
		run(t, "skopeo", "copy", "oci-archive:"+path+":latest", "oci-archive:"+sk+":v9")
		s3 := newStore(t)
		imgs, err := LoadOCI(ctx, s3, sk, WithName(reference.MustParse("localhost/x")))
		if err != nil || len(imgs) != 1 || imgs[0].Name != "localhost/x:v9" || imgs[0].Target.Digest != d.Digest {
			t.Fatalf("skopeo's oci-archive loaded as %+v, %v", imgs, err)
		}
	}
}

func TestLoadBad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	mk := func(name string, entries ...*tar.Header) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range entries {
			tw.WriteHeader(h)
			if h.Size > 0 {
				tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
			}
		}
		tw.Close()
		p := filepath.Join(dir, name)
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	notTar := filepath.Join(dir, "not.tar")
	os.WriteFile(notTar, []byte("hello, not a tar at all"), 0o644)
	for _, tc := range []struct {
		path, want string
		docker     bool
	}{
		{notTar, "not a tar archive", false},
		{notTar, "not a docker-archive", true},
		{mk("escape.tar", &tar.Header{Name: "../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}), "path outside the archive", false},
		{mk("abs.tar", &tar.Header{Name: "/etc/evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}), "", false},
		{mk("link.tar", &tar.Header{Name: "index.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), "not allowed", false},
		{mk("empty.tar"), "empty archive", false},
		{mk("nolayout.tar", &tar.Header{Name: "hello", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644}), "not an OCI layout", false},
	} {
		s := newStore(t)
		var err error
		if tc.docker {
			_, err = LoadDocker(ctx, s, tc.path)
		} else {
			_, err = LoadOCI(ctx, s, tc.path)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("load %s: %v, want an error naming the file and %q", filepath.Base(tc.path), err, tc.want)
		}
		if imgs, _ := s.Images(ctx); len(imgs) != 0 {
			t.Errorf("load %s recorded %v", tc.path, imgs)
		}
	}
	if _, err := os.Stat("/etc/evil"); err == nil {
		t.Fatal("an archive wrote /etc/evil")
	}
}
