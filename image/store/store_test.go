package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func descOf(mt string, b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

func put(t *testing.T, s *Store, mt string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := descOf(mt, b)
	if err := s.Ingest(context.Background(), d, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return d
}

// assertClean checks that nothing but the wanted blobs is on disk and that
// no temp file is left.
func assertClean(t *testing.T, s *Store, want ...digest.Digest) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(s.Root(), "blobs/sha256"))
	got := map[string]bool{}
	for _, e := range ents {
		got[e.Name()] = true
	}
	for _, d := range want {
		if !got[d.Encoded()] {
			t.Errorf("blob %s missing", d)
		}
		delete(got, d.Encoded())
	}
	if len(got) > 0 {
		t.Errorf("unexpected blobs: %v", got)
	}
	if tmps, _ := os.ReadDir(filepath.Join(s.Root(), "ingest")); len(tmps) > 0 {
		t.Errorf("temp files left: %v", tmps)
	}
}

func TestIngest(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	data := []byte("hello layer")
	d := put(t, s, "", data)
	if ok, err := s.Exists(d.Digest); !ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if got, err := s.ReadBlob(d.Digest); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadBlob = %q, %v", got, err)
	}
	if n, err := s.Size(d.Digest); n != int64(len(data)) || err != nil {
		t.Fatalf("Size = %d, %v", n, err)
	}
	// Present already: the reader is not consumed.
	if err := s.Ingest(ctx, d, iotestErrReader{}); err != nil {
		t.Fatalf("re-ingest: %v", err)
	}
	fi, _ := os.Stat(s.BlobPath(d.Digest))
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("blob mode %v, want read-only", fi.Mode())
	}
	assertClean(t, s, d.Digest)
	if err := s.Delete(d.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(d.Digest); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
	}
	assertClean(t, s)
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("boom: connection reset") }

func TestIngestBad(t *testing.T) {
	data := []byte("the real content")
	good := descOf("", data)
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		desc ocispec.Descriptor
		r    io.Reader
		want string
	}{
		{"wrong digest", ctx, good, bytes.NewReader([]byte("the fake content")), "digest mismatch"},
		{"truncated", ctx, good, bytes.NewReader(data[:5]), "want 16 bytes, got 5 (truncated)"},
		{"too long", ctx, good, bytes.NewReader(append(data, 'x')), "got more"},
		{"reader error", ctx, good, io.MultiReader(bytes.NewReader(data[:3]), iotestErrReader{}), "after 3 of 16 bytes: boom"},
		{"cancelled", cancelled, good, bytes.NewReader(data), "context canceled"},
		{"bad digest string", ctx, ocispec.Descriptor{Digest: "sha256:xyz", Size: 1}, bytes.NewReader(data), `"sha256:xyz"`},
		{"unknown size", ctx, ocispec.Descriptor{Digest: good.Digest, Size: -1}, bytes.NewReader(data), "unknown size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			err := s.Ingest(tc.ctx, tc.desc, tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Ingest = %v, want error containing %q", err, tc.want)
			}
			var ve *VerifyError
			if strings.Contains(tc.want, "mismatch") || strings.Contains(tc.want, "trunc") || strings.Contains(tc.want, "more") {
				if !errors.As(err, &ve) || ve.Want != good.Digest {
					t.Fatalf("want *VerifyError naming %s, got %#v", good.Digest, err)
				}
			}
			assertClean(t, s)
			// The store is still usable: the right content goes in.
			put(t, s, "", data)
			assertClean(t, s, good.Digest)
		})
	}
}

// Many goroutines ingesting one digest, each with its own temp file, all
// succeed: the renames replace identical content.
func TestIngestConcurrent(t *testing.T) {
	s := newStore(t)
	data := bytes.Repeat([]byte("abc"), 100000)
	d := descOf("", data)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Ingest(context.Background(), d, bytes.NewReader(data))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	assertClean(t, s, d.Digest)
	got, _ := s.ReadBlob(d.Digest)
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
}

// A full disk fails the ingest with ENOSPC and leaves nothing behind; once
// there is room the same ingest succeeds.
func TestIngestDiskFull(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	small := put(t, s, "", []byte("small"))
	big := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 256<<10) // 2 MiB
	err = s.Ingest(context.Background(), descOf("", big), bytes.NewReader(big))
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Ingest on full disk = %v, want ENOSPC", err)
	}
	assertClean(t, s, small.Digest)
	if err := unix.Mount("", root, "", unix.MS_REMOUNT, "size=8m"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "", big)
	assertClean(t, s, small.Digest, digest.FromBytes(big))
}

func TestImages(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	m := put(t, s, ocispec.MediaTypeImageManifest, []byte(`{}`))
	if err := s.PutImage(ctx, Image{Name: "x", Target: descOf("", []byte("absent"))}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PutImage with absent target = %v", err)
	}
	if err := s.PutImage(ctx, Image{Name: "docker.io/library/a:1", Target: m, Labels: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	first, err := s.GetImage(ctx, "docker.io/library/a:1")
	if err != nil || first.Target.Digest != m.Digest || first.Labels["k"] != "v" || first.Created.IsZero() {
		t.Fatalf("GetImage = %+v, %v", first, err)
	}
	if err := s.PutImage(ctx, Image{Name: "docker.io/library/a:1", Target: m}); err != nil {
		t.Fatal(err)
	}
	again, _ := s.GetImage(ctx, "docker.io/library/a:1")
	if !again.Created.Equal(first.Created) {
		t.Errorf("Created changed on update: %v → %v", first.Created, again.Created)
	}
	s.PutImage(ctx, Image{Name: "docker.io/library/b:1", Target: m})
	list, err := s.Images(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "docker.io/library/a:1" {
		t.Fatalf("Images = %+v, %v", list, err)
	}
	if err := s.DeleteImage(ctx, "docker.io/library/a:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetImage(ctx, "docker.io/library/a:1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetImage after delete: %v", err)
	}
	if err := s.DeleteImage(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteImage(nope) = %v", err)
	}
	if err := s.AddSources(ctx, "r/a", m.Digest); err != nil {
		t.Fatal(err)
	}
	s.AddSources(ctx, "r/a", m.Digest)
	s.AddSources(ctx, "r/b", m.Digest)
	if src, _ := s.Sources(ctx, m.Digest); len(src) != 2 {
		t.Fatalf("Sources = %v", src)
	}
}

// testImage writes an image (config + layers + manifest) and returns the
// manifest descriptor and the blob digests it references.
func testImage(t *testing.T, s *Store, seed string, p *ocispec.Platform, nlayers int) (ocispec.Descriptor, []digest.Digest) {
	var layers []ocispec.Descriptor
	var all []digest.Digest
	var cfg ocispec.Image
	cfg.RootFS.Type = "layers"
	for i := 0; i < nlayers; i++ {
		l := put(t, s, ocispec.MediaTypeImageLayerGzip, []byte(fmt.Sprintf("%s-layer-%d", seed, i)))
		layers = append(layers, l)
		all = append(all, l.Digest)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromString(fmt.Sprint(seed, i)))
	}
	if p != nil {
		cfg.Platform = *p
	}
	cb, _ := json.Marshal(cfg)
	c := put(t, s, ocispec.MediaTypeImageConfig, cb)
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: c, Layers: layers}
	m.SchemaVersion = 2
	mb, _ := json.Marshal(m)
	md := put(t, s, ocispec.MediaTypeImageManifest, mb)
	md.Platform = p
	return md, append(all, c.Digest, md.Digest)
}

func TestManifestAndPrune(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	amd := &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm := &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	mAmd, amdBlobs := testImage(t, s, "amd", amd, 2)
	mArm, armBlobs := testImage(t, s, "arm", arm, 1)
	absent := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("never pulled"), Size: 3,
		Platform: &ocispec.Platform{OS: "linux", Architecture: "s390x"}}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{mAmd, mArm, absent}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	id := put(t, s, ocispec.MediaTypeImageIndex, ib)
	if err := s.PutImage(ctx, Image{Name: "multi", Target: id}); err != nil {
		t.Fatal(err)
	}
	single, singleBlobs := testImage(t, s, "single", nil, 3)
	if err := s.PutImage(ctx, Image{Name: "single", Target: single}); err != nil {
		t.Fatal(err)
	}
	garbage := put(t, s, "", []byte("garbage"))
	orphan, orphanBlobs := testImage(t, s, "orphan", nil, 1)
	_ = orphan

	m, err := s.ImageManifest(ctx, "multi", arm)
	if err != nil || m.Descriptor.Digest != mArm.Digest || len(m.Layers) != 1 || m.Image.Architecture != "arm64" {
		t.Fatalf("ImageManifest(arm64) = %+v, %v", m, err)
	}
	m, err = s.ImageManifest(ctx, "multi", amd)
	if err != nil || m.Descriptor.Digest != mAmd.Digest || len(m.Layers) != 2 || len(m.Image.RootFS.DiffIDs) != 2 {
		t.Fatalf("ImageManifest(amd64) = %+v, %v", m, err)
	}
	if _, err := s.ImageManifest(ctx, "multi", &ocispec.Platform{OS: "linux", Architecture: "s390x"}); err == nil ||
		!strings.Contains(err.Error(), "no manifest for platform linux/s390x") {
		t.Fatalf("absent platform: %v", err)
	}

	rep, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantRemoved := append([]digest.Digest{garbage.Digest}, orphanBlobs...)
	if len(rep.Removed) != len(wantRemoved) {
		t.Fatalf("Prune removed %v, want %v", rep.Removed, wantRemoved)
	}
	keep := append(append(append([]digest.Digest{id.Digest}, amdBlobs...), armBlobs...), singleBlobs...)
	assertClean(t, s, keep...)

	// Dropping the index record frees the whole multi-arch image only.
	s.DeleteImage(ctx, "multi")
	if _, err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	assertClean(t, s, singleBlobs...)
	if _, err := s.ImageManifest(ctx, "single", nil); err != nil {
		t.Fatalf("single after prune: %v", err)
	}
}

func TestManifestDiffIDMismatch(t *testing.T) {
	s := newStore(t)
	cfg := put(t, s, ocispec.MediaTypeImageConfig, []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`))
	l := put(t, s, ocispec.MediaTypeImageLayerGzip, []byte("l"))
	mb, _ := json.Marshal(ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{l}})
	md := put(t, s, "", mb) // media type sniffed
	if _, err := s.Manifest(context.Background(), md, nil); err == nil || !strings.Contains(err.Error(), "1 layers but config") {
		t.Fatalf("Manifest = %v", err)
	}
}

// Several processes writing image records and ingesting the same blobs in
// one store at once all succeed (bbolt opened per transaction).
func TestMultiProcess(t *testing.T) {
	if os.Getenv("BERTH_STORE_CHILD") != "" {
		return
	}
	s := newStore(t)
	var cmds []*exec.Cmd
	for i := 0; i < 4; i++ {
		c := exec.Command(os.Args[0], "-test.run=^TestChildProcess$")
		c.Env = append(os.Environ(), "BERTH_STORE_CHILD="+s.Root(), fmt.Sprintf("BERTH_STORE_ID=%d", i))
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(out.String())
			}
		})
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	imgs, err := s.Images(context.Background())
	if err != nil || len(imgs) != 4*20 {
		t.Fatalf("Images = %d, %v; want 80", len(imgs), err)
	}
}

func TestChildProcess(t *testing.T) {
	root := os.Getenv("BERTH_STORE_CHILD")
	if root == "" {
		t.Skip("helper for TestMultiProcess")
	}
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	shared := bytes.Repeat([]byte("shared"), 50000)
	for i := 0; i < 20; i++ {
		d := descOf(ocispec.MediaTypeImageManifest, shared)
		if err := s.Ingest(context.Background(), d, bytes.NewReader(shared)); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("img-%s-%d", os.Getenv("BERTH_STORE_ID"), i)
		if err := s.PutImage(context.Background(), Image{Name: name, Target: d}); err != nil {
			t.Fatal(err)
		}
	}
}

// Prune waits while a pull holds the store, and its blobs survive.
func TestPruneWaitsForHold(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	release, err := s.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := put(t, s, "", []byte("pulled, not yet recorded"))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Prune(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Prune while held = %v, want it to wait", err)
	}
	if ok, _ := s.Discard(ctx, d.Digest); ok {
		t.Fatal("Discard ran while held")
	}
	if err := s.PutImage(ctx, Image{Name: "x", Target: d}); err != nil {
		t.Fatal(err)
	}
	release()
	rep, err := s.Prune(ctx)
	if err != nil || len(rep.Removed) != 0 {
		t.Fatalf("Prune after release = %+v, %v", rep, err)
	}
	assertClean(t, s, d.Digest)
}

// A process killed mid-ingest leaves a temp file; Prune removes it.
func TestPruneRemovesStaleTemps(t *testing.T) {
	s := newStore(t)
	stale := filepath.Join(s.Root(), "ingest", digest.FromString("x").Encoded()+".123")
	if err := os.WriteFile(stale, []byte("half a layer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertClean(t, s)
}
