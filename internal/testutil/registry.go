package testutil

// Registry fixtures: a real registry (Debian's docker-registry, i.e.
// distribution 2.8) per test, and test images built with
// go-containerregistry (busybox-static rootfs layers, extra layers,
// multi-arch indexes, OCI or Docker schema2 media types, gzip or zstd).

import (
	"archive/tar"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
)

// RegistryPath is Debian's distribution registry binary.
var RegistryPath = "/usr/bin/docker-registry"

// StartRegistry runs a real registry on 127.0.0.1:<free port> with its
// storage in a temp dir and deletes enabled, stops it when the test ends,
// and returns its host:port.
func StartRegistry(t testing.TB) string {
	return startRegistry(t, "", false)
}

// StartRegistryAuth is StartRegistry with htpasswd basic auth: only
// user/password may pull or push.
func StartRegistryAuth(t testing.TB, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(f, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", f), false)
}

// startRegistry runs the registry with extra appended to its config
// (right after the http block's settings, so "  tls:" lands inside it).
func startRegistry(t testing.TB, extra string, https bool) string {
	t.Helper()
	if _, err := os.Stat(RegistryPath); err != nil {
		t.Skipf("needs the docker-registry package (%s): %v", RegistryPath, err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: berth-test-secret
%s`, filepath.Join(dir, "data"), addr, extra)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(RegistryPath, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// distribution reads REGISTRY_* variables as config overrides; the
	// client-side REGISTRY_AUTH_FILE would break it.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "REGISTRY_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	if cmd.Env == nil {
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", RegistryPath, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			t.Logf("registry %s log (tail):\n%s", addr, strings.Join(lines, "\n"))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	client, scheme := http.DefaultClient, "http"
	if https {
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		scheme = "https"
	}
	for {
		resp, err := client.Get(scheme + "://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		select {
		case <-exited:
			t.Fatalf("registry exited early:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s not ready: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ImageSpec describes a test image.
type ImageSpec struct {
	Busybox   bool        // bottom layer: the busybox-static rootfs
	Layers    int         // extra layers, each with a few files of its own
	LayerSize int         // bytes of (incompressible) data per extra layer; default 4096
	Docker    bool        // Docker schema2 media types instead of OCI
	Zstd      bool        // zstd layers instead of gzip
	Platform  v1.Platform // default linux/amd64
	Seed      string      // makes the content (and so the digests) distinct
}

// Image builds the image spec describes (no I/O until it is read).
func Image(t testing.TB, spec ImageSpec) v1.Image {
	t.Helper()
	if spec.Platform.OS == "" {
		spec.Platform = v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	if spec.LayerSize == 0 {
		spec.LayerSize = 4096
	}
	var layers []v1.Layer
	if spec.Busybox {
		root := BusyboxRootfs(t, t.TempDir())
		os.WriteFile(filepath.Join(root, "etc/berth-test"), []byte(spec.Seed+" "+spec.Platform.Architecture+"\n"), 0o644)
		layers = append(layers, tarLayer(t, spec, DirTar(t, root)))
	}
	for i := 0; i < spec.Layers; i++ {
		data := make([]byte, spec.LayerSize)
		fill(data, fmt.Sprintf("%s/%s/%d", spec.Seed, spec.Platform.Architecture, i))
		files := map[string][]byte{
			fmt.Sprintf("layer%d/data", i): data,
			fmt.Sprintf("layer%d/id", i):   []byte(fmt.Sprintf("%s %d %s\n", spec.Seed, i, spec.Platform.Architecture)),
		}
		layers = append(layers, tarLayer(t, spec, FilesTar(t, files)))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = spec.Platform.OS, spec.Platform.Architecture, spec.Platform.Variant
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Created = v1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Docker {
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.DockerManifestSchema2), types.DockerConfigJSON)
	} else {
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	return img
}

// Index builds a multi-arch index of one image per platform (each made
// from spec with that platform).
func Index(t testing.TB, spec ImageSpec, platforms ...v1.Platform) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	if spec.Docker {
		idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	} else {
		idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	}
	for _, p := range platforms {
		s := spec
		s.Platform = p
		img := Image(t, s)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx
}

// PushImage pushes img to ref ("host:port/repo:tag") and returns its digest.
func PushImage(t testing.TB, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// PushIndex pushes idx (and all its images) to ref and returns its digest.
func PushIndex(t testing.TB, ref string, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func tarLayer(t testing.TB, spec ImageSpec, tarData []byte) v1.Layer {
	t.Helper()
	mt := types.OCILayer
	comp := compression.GZip
	switch {
	case spec.Docker && spec.Zstd:
		mt, comp = types.MediaType("application/vnd.docker.image.rootfs.diff.tar.zstd"), compression.ZStd
	case spec.Docker:
		mt = types.DockerLayer
	case spec.Zstd:
		mt, comp = types.OCILayerZStd, compression.ZStd
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarData)), nil
	}, tarball.WithCompression(comp), tarball.WithMediaType(mt), tarball.WithCompressedCaching)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fill writes deterministic, incompressible bytes derived from seed.
func fill(b []byte, seed string) {
	var x uint64 = 1469598103934665603
	for _, c := range []byte(seed) {
		x = (x ^ uint64(c)) * 1099511628211
	}
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
}

// FilesTar returns an uncompressed layer tar holding files (path → content,
// parent directories created), with fixed times so digests are stable.
func FilesTar(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts := strings.Split(n, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX})
			}
		}
		data := files[n]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// DirTar returns an uncompressed layer tar of the tree at dir (regular
// files, directories, symlinks), with fixed times.
func DirTar(t testing.TB, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname, h.Format = rel, mtime, 0, 0, "", "", tar.FormatPAX
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
