package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/docker/cli/cli/config/configfile"
	clitypes "github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// AuthFile is the credentials file berth reads and Login writes:
// $REGISTRY_AUTH_FILE if set (as Podman and skopeo do), else
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func AuthFile() string {
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		return p
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".docker", "config.json")
}

func loadAuthFile(path string) (*configfile.ConfigFile, error) {
	cf := configfile.New(path)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	defer f.Close()
	if err := cf.LoadFromReader(f); err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	return cf, nil
}

// Keychain resolves credentials from a Docker-format auth file, including
// credential helpers. The zero value uses AuthFile().
type Keychain struct {
	Path string

	mu sync.Mutex
}

var _ authn.Keychain = (*Keychain)(nil)

// Resolve implements authn.Keychain; no entry means anonymous.
func (k *Keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	path := k.Path
	if path == "" {
		path = AuthFile()
	}
	cf, err := loadAuthFile(path)
	if err != nil {
		return nil, err
	}
	// The repository-specific key first (some helpers use it), then the host.
	for _, key := range []string{r.String(), r.RegistryStr()} {
		cfg, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s from %s: %w", key, path, err)
		}
		cfg.ServerAddress = ""
		if cfg != (clitypes.AuthConfig{}) {
			return authn.FromConfig(authn.AuthConfig{
				Username:      cfg.Username,
				Password:      cfg.Password,
				Auth:          cfg.Auth,
				IdentityToken: cfg.IdentityToken,
				RegistryToken: cfg.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// ErrUnauthorized is wrapped by Login's error when the registry rejects the
// credentials.
var ErrUnauthorized = errors.New("unauthorized")

// Login checks user/password against the registry's /v2/ endpoint and, if
// it accepts them, saves them in the auth file (or its credential helper).
// host is a registry host[:port]; "docker.io" means Docker Hub.
func Login(ctx context.Context, host, user, password string, opts ...Opt) error {
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	if user == "" {
		return fmt.Errorf("login to %s: empty user name", host)
	}
	if err := checkHost(host); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	reg, err := o.registry(host)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	tr, err := transport.NewWithContext(ctx, reg, auth, o.baseTransport(host), []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return loginError(host, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	err = transport.CheckError(resp, http.StatusOK)
	resp.Body.Close()
	if err != nil {
		return loginError(host, err)
	}

	path := o.authFile()
	cf, err := loadAuthFile(path)
	if err != nil {
		return err
	}
	key := authKey(reg)
	ac := clitypes.AuthConfig{ServerAddress: key, Username: user, Password: password}
	if usesHelper(cf, key) {
		if err := cf.GetCredentialsStore(key).Store(ac); err != nil {
			return fmt.Errorf("login to %s: store credentials: %w", host, err)
		}
	} else {
		// Written directly: docker/cli's file store would print a warning
		// on stderr, which is the CLI's business, not this package's.
		cf.AuthConfigs[key] = ac
	}
	if err := cf.Save(); err != nil {
		return fmt.Errorf("login to %s: save %s: %w", host, path, err)
	}
	return nil
}

func loginError(host string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("login to %s: %w: %v", host, ErrUnauthorized, err)
	}
	return fmt.Errorf("login to %s: %w", host, err)
}

// Logout removes the saved credentials for host. It is an error if there
// were none.
func Logout(host string, opts ...Opt) error {
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	reg, err := o.registry(host)
	if err != nil {
		return fmt.Errorf("logout from %s: %w", host, err)
	}
	path := o.authFile()
	cf, err := loadAuthFile(path)
	if err != nil {
		return err
	}
	key := authKey(reg)
	st := cf.GetCredentialsStore(key)
	if c, err := st.Get(key); err == nil && c.Username == "" && c.Password == "" && c.IdentityToken == "" {
		if _, ok := cf.AuthConfigs[key]; !ok {
			return fmt.Errorf("logout from %s: not logged in (no entry in %s)", host, path)
		}
	}
	if err := st.Erase(key); err != nil {
		return fmt.Errorf("logout from %s: %w", host, err)
	}
	delete(cf.AuthConfigs, key)
	if err := cf.Save(); err != nil {
		return fmt.Errorf("logout from %s: save %s: %w", host, path, err)
	}
	return nil
}

// authKey is the auth file key for a registry: Docker Hub's historical
// URL, else host[:port].
func authKey(reg name.Registry) string {
	if reg.RegistryStr() == name.DefaultRegistry {
		return authn.DefaultAuthKey
	}
	return reg.RegistryStr()
}

// usesHelper reports whether credentials for key go to a
// docker-credential-* helper (credHelpers entry or credsStore).
func usesHelper(cf *configfile.ConfigFile, key string) bool {
	if _, ok := cf.CredentialHelpers[key]; ok {
		return true
	}
	return cf.CredentialsStore != ""
}
