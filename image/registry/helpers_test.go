package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// isolateAuth points the auth file at an empty temp file so the host's
// credentials never leak into a test.
func isolateAuth(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "auth.json")
	t.Setenv("REGISTRY_AUTH_FILE", p)
	return p
}

func mustParse(t *testing.T, s string) reference.Reference {
	t.Helper()
	r, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// blobsOnDisk lists the store's blobs, and fails on leftover temp files.
func blobsOnDisk(t *testing.T, s *store.Store) map[digest.Digest]bool {
	t.Helper()
	out := map[digest.Digest]bool{}
	ents, err := os.ReadDir(filepath.Join(s.Root(), "blobs/sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		// Every blob on disk must be whole and verified.
		f, err := os.Open(filepath.Join(s.Root(), "blobs/sha256", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := digest.FromReader(f)
		f.Close()
		if err != nil || got != d {
			t.Errorf("blob %s on disk hashes to %s", d, got)
		}
		out[d] = true
	}
	if tmps, _ := os.ReadDir(filepath.Join(s.Root(), "ingest")); len(tmps) > 0 {
		t.Errorf("temp files left in ingest/: %d", len(tmps))
	}
	return out
}

// assertEmpty checks that a failed pull left no image and no blobs.
func assertEmpty(t *testing.T, s *store.Store) {
	t.Helper()
	if imgs, err := s.Images(context.Background()); err != nil || len(imgs) != 0 {
		t.Errorf("images after failed pull: %v %v", imgs, err)
	}
	if b := blobsOnDisk(t, s); len(b) != 0 {
		t.Errorf("blobs after failed pull: %v", b)
	}
}

// proxy sits in front of a real registry and misbehaves on demand.
type proxy struct {
	t    *testing.T
	srv  *httptest.Server
	host string

	mu       sync.Mutex
	mode     string // "", "corrupt", "truncate-once", "truncate-always", "manifest-type", "manifest-mismatch", "fail", "slow"
	failLeft int    // for "fail": blob GETs still to answer 500
	reqs     []string
}

func newProxy(t *testing.T, upstream string) *proxy {
	p := &proxy{t: t}
	u, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = p.modify
	rp.ErrorLog = log.New(io.Discard, "", 0) // aborted streams are the point
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.reqs = append(p.reqs, r.Method+" "+r.URL.RequestURI()+" range="+r.Header.Get("Range"))
		mode := p.mode
		fail := mode == "fail" && isBlobGet(r) && p.failLeft > 0
		if fail {
			p.failLeft--
		}
		p.mu.Unlock()
		if fail {
			http.Error(w, "transient", http.StatusInternalServerError)
			return
		}
		if mode == "truncate-always" {
			r.Header.Del("Range") // serve from the start, so resuming never helps
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	p.host = strings.TrimPrefix(p.srv.URL, "http://")
	return p
}

func isBlobGet(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
}

func (p *proxy) set(mode string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.failLeft, p.reqs = mode, n, nil
}

func (p *proxy) requests(substr string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.reqs {
		if strings.Contains(r, substr) {
			out = append(out, r)
		}
	}
	return out
}

func (p *proxy) modify(resp *http.Response) error {
	p.mu.Lock()
	mode := p.mode
	if mode == "truncate-once" && isBlobGet(resp.Request) && resp.StatusCode == http.StatusOK {
		p.mode = ""
	}
	p.mu.Unlock()
	r := resp.Request
	isManifest := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/")
	switch {
	case mode == "corrupt" && isBlobGet(r) && resp.StatusCode == http.StatusOK:
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		b[len(b)/2] ^= 0xff // same size, wrong digest
		resp.Body = io.NopCloser(bytes.NewReader(b))
	case (mode == "truncate-once" || mode == "truncate-always") && isBlobGet(r) && resp.StatusCode/100 == 2:
		// Keep Content-Length, send half: the server cuts the connection.
		n, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, n/2), resp.Body}
	case mode == "slow" && isBlobGet(r) && resp.StatusCode/100 == 2:
		resp.Body = struct {
			io.Reader
			io.Closer
		}{&slowReader{resp.Body}, resp.Body}
	case mode == "manifest-type" && isManifest:
		resp.Header.Set("Content-Type", "application/octet-stream")
	case mode == "manifest-schema1" && isManifest:
		resp.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
	case mode == "manifest-mismatch" && isManifest:
		resp.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
	}
	return nil
}

func (p *proxy) String() string { return fmt.Sprintf("proxy %s (%s)", p.host, p.mode) }

func parseRef(s string) (reference.Reference, error) { return reference.Parse(s) }

func newBenchStore(b *testing.B) *store.Store {
	s, err := store.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// slowReader trickles a blob (64 KiB per 10 ms) so a test can act mid-pull.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	return s.r.Read(p)
}
