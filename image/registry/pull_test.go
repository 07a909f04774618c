package registry

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/internal/testutil"
)

// checkPulled compares what the store holds for name with the image that
// was pushed: manifest digest, config, every layer and its media type.
func checkPulled(t *testing.T, s *store.Store, name string, want v1.Image, p *ocispec.Platform) *store.Manifest {
	t.Helper()
	m, err := s.ImageManifest(context.Background(), name, p)
	if err != nil {
		t.Fatalf("ImageManifest(%s): %v", name, err)
	}
	wd, _ := want.Digest()
	if m.Descriptor.Digest.String() != wd.String() {
		t.Errorf("manifest %s, want %s", m.Descriptor.Digest, wd)
	}
	wmt, _ := want.MediaType()
	if m.Descriptor.MediaType != string(wmt) {
		t.Errorf("manifest media type %s, want %s", m.Descriptor.MediaType, wmt)
	}
	wl, _ := want.Layers()
	if len(m.Layers) != len(wl) || len(m.Image.RootFS.DiffIDs) != len(wl) {
		t.Fatalf("%d layers / %d diff_ids, want %d", len(m.Layers), len(m.Image.RootFS.DiffIDs), len(wl))
	}
	for i, l := range wl {
		d, _ := l.Digest()
		diff, _ := l.DiffID()
		mt, _ := l.MediaType()
		if m.Layers[i].Digest.String() != d.String() || m.Image.RootFS.DiffIDs[i].String() != diff.String() || m.Layers[i].MediaType != string(mt) {
			t.Errorf("layer %d = %s %s (%s), want %s %s (%s)", i, m.Layers[i].Digest, m.Image.RootFS.DiffIDs[i], m.Layers[i].MediaType, d, diff, mt)
		}
		if ok, _ := s.Exists(m.Layers[i].Digest); !ok {
			t.Errorf("layer %d blob missing", i)
		}
	}
	blobsOnDisk(t, s) // every blob verifies, no temp files
	return m
}

func TestPullSingle(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Seed: "single"})
	testutil.PushImage(t, reg+"/library/busybox:1.36", img)

	s := newStore(t)
	var mu sync.Mutex
	states := map[digest.Digest]State{}
	res, err := Pull(context.Background(), s, mustParse(t, reg+"/library/busybox:1.36"), WithProgress(func(p Progress) {
		mu.Lock()
		states[p.Digest] = p.State
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.Name != reg+"/library/busybox:1.36" || res.Fetched != 2 {
		t.Errorf("result %+v", res)
	}
	m := checkPulled(t, s, res.Image.Name, img, nil)
	if m.Image.Config.Cmd[0] != "/bin/sh" || m.Image.Architecture != "amd64" {
		t.Errorf("config %+v", m.Image)
	}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if states[d.Digest] != StateDone {
			t.Errorf("blob %s last state %q, want done", d.Digest, states[d.Digest])
		}
	}
	// Pulling again downloads nothing.
	res2, err := Pull(context.Background(), s, mustParse(t, reg+"/library/busybox:1.36"))
	if err != nil || res2.Fetched != 0 || res2.Image.Target.Digest != res.Image.Target.Digest {
		t.Fatalf("second pull: %+v, %v", res2, err)
	}
	// Resolve names the same manifest without pulling.
	rd, err := Resolve(context.Background(), mustParse(t, reg+"/library/busybox:1.36"))
	if err != nil || rd.Digest != res.Image.Target.Digest || rd.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("Resolve = %+v, %v; want %s", rd, err, res.Image.Target.Digest)
	}
	// By digest too.
	byDigest := mustParse(t, reg+"/library/busybox@"+res.Image.Target.Digest.String())
	if _, err := Pull(context.Background(), s, byDigest); err != nil {
		t.Fatalf("pull by digest: %v", err)
	}
	// A single-platform image and another platform asked for explicitly.
	_, err = Pull(context.Background(), newStore(t), mustParse(t, reg+"/library/busybox:1.36"),
		WithPlatform(ocispec.Platform{OS: "linux", Architecture: "arm64"}))
	if err == nil || !strings.Contains(err.Error(), "image is for platform linux/amd64, not the requested linux/arm64/v8") {
		t.Fatalf("pull for the wrong platform: %v", err)
	}
	// Unknown tag: a clear error, no record.
	_, err = Pull(context.Background(), s, mustParse(t, reg+"/library/busybox:nope"))
	if err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Fatalf("pull unknown tag: %v", err)
	}
}

func TestPullMediaTypes(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	for _, tc := range []struct {
		name string
		spec testutil.ImageSpec
	}{
		{"oci-gzip", testutil.ImageSpec{Busybox: true, Layers: 3}},
		{"oci-zstd", testutil.ImageSpec{Busybox: true, Layers: 2, Zstd: true}},
		{"docker-schema2", testutil.ImageSpec{Busybox: true, Layers: 3, Docker: true}},
		{"docker-zstd", testutil.ImageSpec{Layers: 2, Docker: true, Zstd: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Seed = tc.name
			img := testutil.Image(t, tc.spec)
			testutil.PushImage(t, reg+"/mt/"+tc.name+":v1", img)
			s := newStore(t)
			res, err := Pull(context.Background(), s, mustParse(t, reg+"/mt/"+tc.name+":v1"), WithJobs(2))
			if err != nil {
				t.Fatal(err)
			}
			checkPulled(t, s, res.Image.Name, img, nil)
		})
	}
}

func TestPullMultiArch(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	plats := []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
	}
	for _, docker := range []bool{false, true} {
		kind := "oci"
		if docker {
			kind = "docker"
		}
		t.Run(kind, func(t *testing.T) {
			idx := testutil.Index(t, testutil.ImageSpec{Layers: 2, Docker: docker, Seed: kind}, plats...)
			testutil.PushIndex(t, reg+"/multi/"+kind+":latest", idx)
			im, _ := idx.IndexManifest()
			ref := mustParse(t, reg+"/multi/"+kind)
			for i, p := range plats {
				s := newStore(t)
				var opts []Opt
				if i > 0 { // the first is the host's default
					opts = append(opts, WithPlatform(ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}))
				}
				res, err := Pull(context.Background(), s, ref, opts...)
				if err != nil {
					t.Fatal(err)
				}
				idxDigest, _ := idx.Digest()
				if res.Image.Target.Digest.String() != idxDigest.String() || !store.IsIndex(res.Image.Target.MediaType) {
					t.Errorf("target %+v, want the index %s", res.Image.Target, idxDigest)
				}
				if res.Manifest.Digest.String() != im.Manifests[i].Digest.String() {
					t.Errorf("%s: chose manifest %s, want %s", p, res.Manifest.Digest, im.Manifests[i].Digest)
				}
				child, _ := idx.Image(im.Manifests[i].Digest)
				op := ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
				checkPulled(t, s, res.Image.Name, child, &op)
				// Only the chosen platform's blobs: index + manifest + config + 2 layers.
				if n := len(blobsOnDisk(t, s)); n != 5 {
					t.Errorf("%d blobs in store, want 5", n)
				}
			}
			_, err := Pull(context.Background(), newStore(t), ref, WithPlatform(ocispec.Platform{OS: "linux", Architecture: "s390x"}))
			if err == nil || !strings.Contains(err.Error(), "no manifest for platform linux/s390x") || !strings.Contains(err.Error(), "linux/arm64/v8") {
				t.Fatalf("pull of a missing platform: %v", err)
			}
		})
	}
}

// Misbehaving registries: each fault gives a clear error and leaves the
// store empty; with the fault gone the same pull succeeds.
func TestPullBadRegistry(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "bad"})
	testutil.PushImage(t, reg+"/bad/img:v1", img)
	px := newProxy(t, reg)
	ref := mustParse(t, px.host+"/bad/img:v1")
	fast := WithRetries(2, 0)

	for _, tc := range []struct {
		mode string
		want string
		as   any
	}{
		{"corrupt", "digest mismatch", new(*store.VerifyError)},
		{"truncate-always", "stream broke", nil},
		{"manifest-type", `media type "application/octet-stream"`, new(*MediaTypeError)},
		{"manifest-mismatch", "but declared as", new(*MediaTypeError)},
		{"manifest-schema1", "Docker schema1", new(*MediaTypeError)},
		{"fail", "500", nil},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := newStore(t)
			px.set(tc.mode, 1000)
			_, err := Pull(context.Background(), s, ref, fast)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("pull through %s: %v, want error containing %q", px, err, tc.want)
			}
			t.Logf("error (as the user sees it): %v", err)
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("error %v is not %T", err, tc.as)
			}
			assertEmpty(t, s)
			px.set("", 0)
			res, err := Pull(context.Background(), s, ref, fast)
			if err != nil {
				t.Fatalf("retry after fault: %v", err)
			}
			checkPulled(t, s, res.Image.Name, img, nil)
		})
	}

	t.Run("transient-500", func(t *testing.T) {
		s := newStore(t)
		px.set("fail", 2) // two blob GETs fail, ggcr's retry transport retries
		res, err := Pull(context.Background(), s, ref, fast, WithJobs(1))
		if err != nil {
			t.Fatal(err)
		}
		checkPulled(t, s, res.Image.Name, img, nil)
	})
	t.Run("truncate-once-resumes", func(t *testing.T) {
		s := newStore(t)
		px.set("truncate-once", 0)
		var retried bool
		res, err := Pull(context.Background(), s, ref, fast, WithJobs(1), WithProgress(func(p Progress) {
			retried = retried || p.State == StateRetrying
		}))
		if err != nil {
			t.Fatal(err)
		}
		checkPulled(t, s, res.Image.Name, img, nil)
		if len(px.requests("range=bytes=")) == 0 || !retried {
			t.Errorf("no Range resume seen (retried=%v): %v", retried, px.requests("blobs"))
		}
	})
}

// Two pulls of one image at once share the downloads and both succeed.
func TestPullConcurrent(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 3, LayerSize: 1 << 20, Seed: "conc"})
	testutil.PushImage(t, reg+"/conc/img:v1", img)
	px := newProxy(t, reg)
	s := newStore(t)
	ref := mustParse(t, px.host+"/conc/img:v1")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Pull(context.Background(), s, ref)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkPulled(t, s, ref.String(), img, nil)
	// config + 4 layers, each downloaded once.
	if gets := px.requests("GET /v2/conc/img/blobs/"); len(gets) != 5 {
		t.Errorf("%d blob GETs for 5 blobs: %v", len(gets), gets)
	}
}

// Prune keeps what images reference and removes the rest.
func TestPullThenPrune(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	a := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "a"})
	b := testutil.Image(t, testutil.ImageSpec{Busybox: true, Layers: 1, Seed: "b"})
	testutil.PushImage(t, reg+"/gc/a:v1", a)
	testutil.PushImage(t, reg+"/gc/b:v1", b)
	s := newStore(t)
	ctx := context.Background()
	for _, r := range []string{"/gc/a:v1", "/gc/b:v1"} {
		if _, err := Pull(ctx, s, mustParse(t, reg+r)); err != nil {
			t.Fatal(err)
		}
	}
	before := blobsOnDisk(t, s)
	if rep, err := s.Prune(ctx); err != nil || len(rep.Removed) != 0 {
		t.Fatalf("prune with all referenced: %+v, %v", rep, err)
	}
	if err := s.DeleteImage(ctx, reg+"/gc/a:v1"); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// a's manifest, config and own layer go; the busybox layer is shared
	// (same seedless content? no: the seed file differs) so it goes too.
	after := blobsOnDisk(t, s)
	if len(after)+len(rep.Removed) != len(before) || len(rep.Removed) == 0 {
		t.Fatalf("prune removed %d of %d, %d left", len(rep.Removed), len(before), len(after))
	}
	checkPulled(t, s, reg+"/gc/b:v1", b, nil)
	ad, _ := a.Digest()
	if after[digest.Digest(ad.String())] {
		t.Error("a's manifest survived")
	}
	_ = types.OCIManifestSchema1
}

// Two berth processes pulling the same image into one store both succeed,
// and each blob crosses the network once (per-digest lock files).
func TestPullTwoProcesses(t *testing.T) {
	if os.Getenv("BERTH_PULL_CHILD") != "" {
		t.Skip("parent only")
	}
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Layers: 4, LayerSize: 2 << 20, Seed: "procs"})
	testutil.PushImage(t, reg+"/procs/img:v1", img)
	px := newProxy(t, reg)
	s := newStore(t)
	ref := px.host + "/procs/img:v1"
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := 0; i < 2; i++ {
		c := exec.Command(os.Args[0], "-test.run=^TestPullChildProcess$", "-test.v")
		c.Env = append(os.Environ(), "BERTH_PULL_CHILD="+s.Root(), "BERTH_PULL_REF="+ref)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, c), append(outs, &out)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	checkPulled(t, s, ref, img, nil)
	if gets := px.requests("GET /v2/procs/img/blobs/"); len(gets) != 5 {
		t.Errorf("%d blob GETs for 5 blobs: %v", len(gets), gets)
	}
}

func TestPullChildProcess(t *testing.T) {
	root := os.Getenv("BERTH_PULL_CHILD")
	if root == "" {
		t.Skip("helper for TestPullTwoProcesses")
	}
	s, err := store.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(context.Background(), s, mustParse(t, os.Getenv("BERTH_PULL_REF"))); err != nil {
		t.Fatal(err)
	}
}

// A pull that fills the disk fails with ENOSPC, records nothing and leaves
// no partial file; with room, the same pull succeeds.
func TestPullDiskFull(t *testing.T) {
	testutil.RequireRoot(t)
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Layers: 3, LayerSize: 1 << 20, Seed: "full"})
	testutil.PushImage(t, reg+"/full/img:v1", img)
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	s, err := store.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustParse(t, reg+"/full/img:v1")
	_, err = Pull(context.Background(), s, ref)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("pull onto a full disk: %v, want ENOSPC", err)
	}
	assertEmpty(t, s)
	if err := unix.Mount("", root, "", unix.MS_REMOUNT, "size=16m"); err != nil {
		t.Fatal(err)
	}
	res, err := Pull(context.Background(), s, ref)
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, res.Image.Name, img, nil)
}

// A pull cancelled mid-stream returns the context's error and leaves
// neither a record, nor a temp file, nor the blobs it had finished.
func TestPullCancelled(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Layers: 2, LayerSize: 4 << 20, Seed: "cancel"})
	testutil.PushImage(t, reg+"/cancel/img:v1", img)
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Pull(ctx, s, mustParse(t, reg+"/cancel/img:v1"), WithJobs(1), WithProgress(func(p Progress) {
		if p.State == StateDownloading && p.Kind == "layer" {
			cancel()
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pull: %v", err)
	}
	assertEmpty(t, s)
	if _, err := Pull(context.Background(), s, mustParse(t, reg+"/cancel/img:v1")); err != nil {
		t.Fatal(err)
	}
}

// A pull killed with SIGKILL mid-download leaves the store consistent: no
// record, every blob on disk whole and verified; Prune removes the temp
// file, and the next pull succeeds.
func TestPullKilled(t *testing.T) {
	if os.Getenv("BERTH_PULL_CHILD") != "" {
		t.Skip("parent only")
	}
	isolateAuth(t)
	reg := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Layers: 2, LayerSize: 16 << 20, Seed: "killed"})
	testutil.PushImage(t, reg+"/killed/img:v1", img)
	px := newProxy(t, reg)
	px.set("slow", 0)
	s := newStore(t)
	ref := px.host + "/killed/img:v1"
	c := exec.Command(os.Args[0], "-test.run=^TestPullChildProcess$")
	c.Env = append(os.Environ(), "BERTH_PULL_CHILD="+s.Root(), "BERTH_PULL_REF="+ref)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child is writing a layer, then kill it.
	for i := 0; ; i++ {
		ents, _ := os.ReadDir(filepath.Join(s.Root(), "ingest"))
		if len(ents) > 0 {
			break
		}
		if i > 2000 {
			c.Process.Kill()
			c.Wait()
			t.Fatal("the child never started a layer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Process.Kill()
	c.Wait()
	if imgs, _ := s.Images(context.Background()); len(imgs) != 0 {
		t.Fatalf("killed pull recorded %v", imgs)
	}
	if tmps, _ := os.ReadDir(filepath.Join(s.Root(), "ingest")); len(tmps) == 0 {
		t.Fatal("expected the killed ingest's temp file")
	}
	if _, err := s.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s) // verifies blobs and that ingest/ is empty
	px.set("", 0)
	res, err := Pull(context.Background(), s, mustParse(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	checkPulled(t, s, res.Image.Name, img, nil)
}
