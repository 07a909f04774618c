package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/berth-dev/berth/image/reference"
)

// Config is the registries configuration (see the package doc).
type Config struct {
	Registries map[string]Host `json:"registries,omitempty"`
}

// Host configures one registry host[:port].
type Host struct {
	// Insecure allows plain HTTP and TLS without certificate checks.
	Insecure bool `json:"insecure,omitempty"`
	// Mirrors are host[:port] names tried in order before this registry
	// when pulling.
	Mirrors []string `json:"mirrors,omitempty"`
}

// DefaultConfigPaths are where berth looks for the registries config when
// its state root is root, in order; the first that exists wins.
func DefaultConfigPaths(root string) []string {
	return []string{root + "/registries.json", "/etc/berth/registries.json"}
}

// LoadConfig reads the first of paths that exists; none existing gives an
// empty Config. A malformed file is an error naming it.
func LoadConfig(paths ...string) (*Config, error) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("registries config: %w", err)
		}
		var c Config
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("registries config %s: %w", p, err)
		}
		for h, hc := range c.Registries {
			for _, m := range append([]string{h}, hc.Mirrors...) {
				if err := checkHost(m); err != nil {
					return nil, fmt.Errorf("registries config %s: %w", p, err)
				}
			}
		}
		return &c, nil
	}
	return &Config{}, nil
}

func checkHost(h string) error {
	if _, err := reference.Parse(h + "/x"); err != nil || strings.Contains(h, "/") {
		return fmt.Errorf("registry %q: want host[:port]", h)
	}
	return nil
}

func (c *Config) host(h string) Host {
	if c == nil {
		return Host{}
	}
	if hc, ok := c.Registries[h]; ok {
		return hc
	}
	if h == reference.DefaultDomain {
		return c.Registries["index.docker.io"]
	}
	return Host{}
}

// endpoint is one place to pull a repository from.
type endpoint struct {
	host     string // host[:port] as in the config ("docker.io" for Hub)
	insecure bool
	mirror   bool
}

// endpoints lists where to pull from for registry domain: mirrors, then
// the registry itself.
func (c *Config) endpoints(domain string) []endpoint {
	hc := c.host(domain)
	var eps []endpoint
	for _, m := range hc.Mirrors {
		eps = append(eps, endpoint{host: m, insecure: c.host(m).Insecure, mirror: true})
	}
	return append(eps, endpoint{host: domain, insecure: hc.Insecure})
}
