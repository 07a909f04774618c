package registry

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/platform"
)

// Opt configures Pull, Push, Login and Logout.
type Opt func(*options) error

type options struct {
	platform *ocispec.Platform
	jobs     int
	progress func(Progress)
	config   *Config
	keychain authn.Keychain
	authPath string
	base     http.RoundTripper
	retries  int
	backoff  time.Duration
}

func newOptions(opts []Opt) (*options, error) {
	o := &options{jobs: 4, retries: 3, backoff: 200 * time.Millisecond}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.keychain == nil {
		o.keychain = &Keychain{Path: o.authPath}
	}
	return o, nil
}

// WithPlatform selects the platform to pull from an index (default: host).
func WithPlatform(p ocispec.Platform) Opt {
	return func(o *options) error {
		if p.OS == "" || p.Architecture == "" {
			return fmt.Errorf("platform %q: os and architecture are required", platform.Format(p))
		}
		n := platform.Normalize(p)
		o.platform = &n
		return nil
	}
}

// WithJobs sets how many blobs transfer at once (default 4).
func WithJobs(n int) Opt {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("jobs must be at least 1, got %d", n)
		}
		o.jobs = n
		return nil
	}
}

// WithProgress receives per-blob progress. Calls are serialised, so fn
// need not lock; it must not block for long.
func WithProgress(fn func(Progress)) Opt {
	return func(o *options) error { o.progress = fn; return nil }
}

// WithConfig sets the registries config (insecure hosts, mirrors).
func WithConfig(c *Config) Opt {
	return func(o *options) error { o.config = c; return nil }
}

// WithKeychain replaces the auth-file keychain.
func WithKeychain(k authn.Keychain) Opt {
	return func(o *options) error { o.keychain = k; return nil }
}

// WithAuthFile uses path instead of AuthFile() for credentials, Login and
// Logout.
func WithAuthFile(path string) Opt {
	return func(o *options) error { o.authPath = path; return nil }
}

// WithTransport sets the base HTTP transport (default: ggcr's, with TLS
// checks off for insecure registries).
func WithTransport(t http.RoundTripper) Opt {
	return func(o *options) error { o.base = t; return nil }
}

// WithRetries sets how often a failed request or broken blob download is
// retried (default 3), and the first backoff (doubling).
func WithRetries(n int, backoff time.Duration) Opt {
	return func(o *options) error {
		if n < 0 {
			return errors.New("retries must not be negative")
		}
		o.retries, o.backoff = n, backoff
		return nil
	}
}

func (o *options) authFile() string {
	if o.authPath != "" {
		return o.authPath
	}
	return AuthFile()
}

func (o *options) targetPlatform() ocispec.Platform {
	if o.platform != nil {
		return *o.platform
	}
	return platform.Default()
}

// registry names host for ggcr, marking it insecure if configured.
func (o *options) registry(host string) (name.Registry, error) {
	var nopts []name.Option
	if o.config.host(host).Insecure {
		nopts = append(nopts, name.Insecure)
	}
	return name.NewRegistry(host, nopts...)
}

// baseTransport is the transport under ggcr's auth layers for host: it
// retries transient failures and statuses (ggcr's retry transport).
func (o *options) baseTransport(host string) http.RoundTripper {
	t := o.base
	if t == nil {
		t = remote.DefaultTransport
	}
	if ht, ok := t.(*http.Transport); ok && o.config.host(host).Insecure {
		ht = ht.Clone()
		ht.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		t = ht
	}
	return transport.NewRetry(t,
		transport.WithRetryBackoff(transport.Backoff{Duration: o.backoff, Factor: 2, Jitter: 0.1, Steps: o.retries + 1}),
		transport.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout))
}
