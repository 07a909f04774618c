package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/store"
)

// manifestAccept is what Pull asks for, most preferred first. Docker
// schema1 is deliberately absent: it is deprecated and unsigned content.
var manifestAccept = []string{
	ocispec.MediaTypeImageIndex,
	store.MediaTypeDockerManifestList,
	ocispec.MediaTypeImageManifest,
	store.MediaTypeDockerManifest,
}

// maxManifest bounds a manifest read (ggcr uses the same 4 MiB as the spec).
const maxManifest = 4 << 20

// MediaTypeError reports a manifest served with a media type Pull does not
// accept, or whose declared mediaType disagrees with the served one.
type MediaTypeError struct {
	Ref      string // what was requested
	Got      string // Content-Type served
	Declared string // the body's "mediaType" field (or the index entry's), if it disagrees
}

func (e *MediaTypeError) Error() string {
	if e.Declared != "" {
		return fmt.Sprintf("manifest %s: served as %q but declared as %q", e.Ref, e.Got, e.Declared)
	}
	if e.Got == "application/vnd.docker.distribution.manifest.v1+prettyjws" || e.Got == "application/vnd.docker.distribution.manifest.v1+json" {
		return fmt.Sprintf("manifest %s: Docker schema1 (%q) is not supported; re-push the image with a current client", e.Ref, e.Got)
	}
	return fmt.Sprintf("manifest %s: registry served media type %q, want one of %s", e.Ref, e.Got, strings.Join(manifestAccept, ", "))
}

// client talks to one repository on one endpoint over ggcr's
// authenticated transport.
type client struct {
	ep   endpoint
	repo name.Repository
	hc   *http.Client
	o    *options
}

func newClient(ctx context.Context, o *options, ep endpoint, path string) (*client, error) {
	reg, err := o.registry(ep.host)
	if err != nil {
		return nil, err
	}
	repo := reg.Repo(path)
	auth, err := authn.Resolve(ctx, o.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo, err)
	}
	tr, err := transport.NewWithContext(ctx, reg, auth, o.baseTransport(ep.host), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", ep.host, err)
	}
	return &client{ep: ep, repo: repo, hc: &http.Client{Transport: tr}, o: o}, nil
}

func (c *client) url(kind, id string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", c.repo.Registry.Scheme(), c.repo.RegistryStr(), c.repo.RepositoryStr(), kind, id)
}

func (c *client) String() string { return c.repo.RegistryStr() + "/" + c.repo.RepositoryStr() }

// fetchManifest GETs the manifest id (tag or digest), checks its media
// type, and verifies its digest against want (if set) and against the
// registry's Docker-Content-Digest header (if sent).
func (c *client) fetchManifest(ctx context.Context, id string, want digest.Digest) ([]byte, ocispec.Descriptor, error) {
	ref := c.String() + refSep(id) + id
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("manifests", id), nil)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	req.Header.Set("Accept", strings.Join(manifestAccept, ", "))
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w", ref, err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w", ref, err)
	}
	if len(raw) > maxManifest {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest %s: larger than %d bytes", ref, maxManifest)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !store.IsIndex(mt) && !store.IsManifest(mt) {
		return nil, ocispec.Descriptor{}, &MediaTypeError{Ref: ref, Got: resp.Header.Get("Content-Type")}
	}
	if decl := declaredMediaType(raw); decl != "" && decl != mt {
		return nil, ocispec.Descriptor{}, &MediaTypeError{Ref: ref, Got: mt, Declared: decl}
	}
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	got := alg.FromBytes(raw)
	if want != "" && got != want {
		return nil, ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w", ref, &store.VerifyError{Want: want, Got: got, WantSize: int64(len(raw)), GotSize: int64(len(raw))})
	}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && want == "" {
		if hd, err := digest.Parse(h); err == nil && hd.Algorithm() == got.Algorithm() && hd != got {
			return nil, ocispec.Descriptor{}, fmt.Errorf("manifest %s: registry says digest %s but the content hashes to %s", ref, hd, got)
		}
	}
	return raw, ocispec.Descriptor{MediaType: mt, Digest: got, Size: int64(len(raw))}, nil
}

func refSep(id string) string {
	if strings.Contains(id, ":") {
		return "@"
	}
	return ":"
}

func declaredMediaType(raw []byte) string {
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	return probe.MediaType
}

// blobReader streams one blob, resuming with a Range request when the
// stream breaks or ends early, up to the retry limit. Verification is the
// store's: it hashes what this reader yields.
type blobReader struct {
	ctx      context.Context
	c        *client
	desc     ocispec.Descriptor
	body     io.ReadCloser
	off      int64
	attempts int
	onRead   func(off int64)
	onRetry  func(err error)
}

func (b *blobReader) open() error {
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, b.c.url("blobs", b.desc.Digest.String()), nil)
	if err != nil {
		return err
	}
	if b.off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", b.off))
	}
	resp, err := b.c.hc.Do(req)
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent && b.off > 0:
		if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-", b.off)) {
			resp.Body.Close()
			return fmt.Errorf("resume at byte %d: registry sent Content-Range %q", b.off, cr)
		}
	case resp.StatusCode == http.StatusOK:
		// Range not honoured: skip what we already have.
		if b.off > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, b.off); err != nil {
				resp.Body.Close()
				return err
			}
		}
	default:
		defer resp.Body.Close()
		return transport.CheckError(resp, http.StatusOK)
	}
	b.body = resp.Body
	return nil
}

func (b *blobReader) Read(p []byte) (int, error) {
	for {
		var n int
		var err error
		if b.body == nil {
			err = b.open()
			var te *transport.Error
			if errors.As(err, &te) || (err != nil && b.off == 0) {
				// An HTTP error status is an answer, not a broken stream;
				// and a first request was already retried by ggcr's
				// retry transport.
				return 0, fmt.Errorf("GET from %s: %w", b.c, err)
			}
		}
		if err == nil {
			n, err = b.body.Read(p)
			b.off += int64(n)
			if n > 0 && b.onRead != nil {
				b.onRead(b.off)
			}
			if err == nil || (err == io.EOF && b.off >= b.desc.Size) {
				return n, err
			}
			// The stream broke, or ended before the promised size.
			b.body.Close()
			b.body = nil
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if n > 0 {
				return n, nil // the next Read resumes
			}
		}
		if b.ctx.Err() != nil {
			return 0, b.ctx.Err()
		}
		b.attempts++
		if b.attempts > b.c.o.retries {
			return 0, fmt.Errorf("from %s: stream broke at byte %d of %d (%d attempts): %w", b.c, b.off, b.desc.Size, b.attempts, err)
		}
		if b.onRetry != nil {
			b.onRetry(err)
		}
		select {
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		case <-time.After(b.c.o.backoff << (b.attempts - 1)):
		}
	}
}

func (b *blobReader) Close() error {
	if b.body != nil {
		return b.body.Close()
	}
	return nil
}

// isNotFound reports a registry 404 (unknown manifest, blob or repository).
func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
