package registry

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/internal/testutil"
)

func readAuths(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	var cf struct {
		Auths map[string]map[string]string `json:"auths"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cf.Auths
}

func TestAuthBasic(t *testing.T) {
	authFile := isolateAuth(t)
	reg := testutil.StartRegistryAuth(t, "alice", "s3cret")
	img := testutil.Image(t, testutil.ImageSpec{Busybox: true, Seed: "auth"})
	r, _ := name.ParseReference(reg + "/private/img:v1")
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := newStore(t)
	ref := mustParse(t, reg+"/private/img:v1")

	if _, err := Pull(ctx, s, ref); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("anonymous pull: %v", err)
	}
	assertEmpty(t, s)

	err := Login(ctx, reg, "alice", "wrong")
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("login with a bad password: %v", err)
	}
	if _, statErr := os.Stat(authFile); !os.IsNotExist(statErr) {
		t.Fatalf("a failed login wrote %s", authFile)
	}
	if err := Login(ctx, reg, "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	want := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	if got := readAuths(t, authFile)[reg]["auth"]; got != want {
		t.Fatalf("auth file entry %q, want %q", got, want)
	}
	res, err := Pull(ctx, s, ref)
	if err != nil {
		t.Fatalf("pull after login: %v", err)
	}
	checkPulled(t, s, res.Image.Name, img, nil)
	if _, err := Push(ctx, s, res.Image.Name, mustParse(t, reg+"/private/copy:v1")); err != nil {
		t.Fatalf("push after login: %v", err)
	}

	if err := Logout(reg); err != nil {
		t.Fatal(err)
	}
	if _, ok := readAuths(t, authFile)[reg]; ok {
		t.Fatal("logout left the entry")
	}
	if err := Logout(reg); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := Pull(ctx, newStore(t), ref); err == nil {
		t.Fatal("pull after logout succeeded")
	}

	// $DOCKER_CONFIG is used when $REGISTRY_AUTH_FILE is not set.
	t.Setenv("REGISTRY_AUTH_FILE", "")
	dc := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dc)
	if AuthFile() != filepath.Join(dc, "config.json") {
		t.Fatalf("AuthFile() = %s", AuthFile())
	}
	if err := Login(ctx, reg, "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if readAuths(t, filepath.Join(dc, "config.json"))[reg]["auth"] != want {
		t.Fatal("login did not write $DOCKER_CONFIG/config.json")
	}
	if _, err := Pull(ctx, newStore(t), ref); err != nil {
		t.Fatalf("pull with $DOCKER_CONFIG credentials: %v", err)
	}
}

// Credentials kept by a docker-credential-* helper (credHelpers).
func TestAuthCredentialHelper(t *testing.T) {
	authFile := isolateAuth(t)
	reg := testutil.StartRegistryAuth(t, "bob", "hunter2")
	img := testutil.Image(t, testutil.ImageSpec{Layers: 1, Seed: "helper"})
	r, _ := name.ParseReference(reg + "/h/img:v1")
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "bob", Password: "hunter2"})); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	secrets := filepath.Join(t.TempDir(), "secrets.json")
	// A tiny helper speaking the docker-credential-helpers protocol,
	// keeping one credential in a file.
	script := `#!/bin/sh
case "$1" in
store) cat > ` + secrets + ` ;;
get) cat >/dev/null; if [ -f ` + secrets + ` ]; then cat ` + secrets + `; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) cat >/dev/null; rm -f ` + secrets + ` ;;
*) exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-berthtest"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	os.WriteFile(authFile, []byte(`{"credHelpers":{"`+reg+`":"berthtest"}}`), 0o600)

	ctx := context.Background()
	if err := Login(ctx, reg, "bob", "hunter2"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(secrets)
	if err != nil || !strings.Contains(string(b), `"Secret":"hunter2"`) {
		t.Fatalf("helper store got %q, %v", b, err)
	}
	if strings.Contains(mustRead(t, authFile), "hunter2") {
		t.Fatal("the password reached the auth file despite the helper")
	}
	if _, err := Pull(ctx, newStore(t), mustParse(t, reg+"/h/img:v1")); err != nil {
		t.Fatalf("pull with helper credentials: %v", err)
	}
	if err := Logout(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(secrets); !os.IsNotExist(err) {
		t.Fatal("logout did not erase the helper's credential")
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMirrorsAndInsecure(t *testing.T) {
	isolateAuth(t)
	upstream := testutil.StartRegistry(t)
	mirror := testutil.StartRegistry(t)
	img := testutil.Image(t, testutil.ImageSpec{Layers: 1, Seed: "mirror"})
	testutil.PushImage(t, mirror+"/lib/img:v1", img)
	other := testutil.Image(t, testutil.ImageSpec{Layers: 1, Seed: "upstream-only"})
	testutil.PushImage(t, upstream+"/lib/other:v1", other)
	ctx := context.Background()

	// A registry that does not exist, mirrored by a local one.
	cfg := &Config{Registries: map[string]Host{"registry.invalid": {Mirrors: []string{mirror}}}}
	s := newStore(t)
	res, err := Pull(ctx, s, mustParse(t, "registry.invalid/lib/img:v1"), WithConfig(cfg))
	if err != nil {
		t.Fatalf("pull through mirror: %v", err)
	}
	checkPulled(t, s, "registry.invalid/lib/img:v1", img, nil)
	if res.Image.Name != "registry.invalid/lib/img:v1" {
		t.Errorf("recorded as %s", res.Image.Name)
	}
	// A mirror without the image falls back to the registry itself.
	cfg = &Config{Registries: map[string]Host{upstream: {Mirrors: []string{mirror}}}}
	if _, err := Pull(ctx, s, mustParse(t, upstream+"/lib/other:v1"), WithConfig(cfg)); err != nil {
		t.Fatalf("fallback to upstream: %v", err)
	}

	// A name ggcr would reach over HTTPS needs "insecure" for a plain
	// HTTP registry. The dialer maps the made-up host to the registry.
	_, port, _ := net.SplitHostPort(upstream)
	host := "plain.test:" + port
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, upstream)
	}}
	ref := mustParse(t, host+"/lib/other:v1")
	if _, err := Pull(ctx, newStore(t), ref, WithTransport(tr), WithRetries(0, 0)); err == nil {
		t.Fatal("HTTPS-only pull from a plain HTTP registry succeeded")
	}
	cfg = &Config{Registries: map[string]Host{host: {Insecure: true}}}
	if _, err := Pull(ctx, newStore(t), ref, WithTransport(tr), WithConfig(cfg)); err != nil {
		t.Fatalf("insecure pull: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig(filepath.Join(dir, "missing.json"))
	if err != nil || len(c.Registries) != 0 {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"registries":{"docker.io":{"mirrors":["m.local:5000"]},"10.0.0.5:5000":{"insecure":true}}}`), 0o644)
	c, err = LoadConfig(filepath.Join(dir, "missing.json"), good)
	if err != nil || !c.Registries["10.0.0.5:5000"].Insecure {
		t.Fatalf("good file: %+v, %v", c, err)
	}
	eps := c.endpoints("docker.io")
	if len(eps) != 2 || eps[0].host != "m.local:5000" || !eps[0].mirror || eps[1].host != "docker.io" {
		t.Fatalf("endpoints: %+v", eps)
	}
	for body, want := range map[string]string{
		`{"registries":`:                              "unexpected EOF",
		`{"registry":{}}`:                             `unknown field "registry"`,
		`{"registries":{"a b":{}}}`:                   `registry "a b"`,
		`{"registries":{"x.io":{"mirrors":["h/p"]}}}`: `registry "h/p"`,
		`{"registries":{"x.io":{"insecure":"yes"}}}`:  "cannot unmarshal",
	} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadConfig(%s) = %v, want error naming the file and %q", body, err, want)
		}
	}
}

// Bearer tokens from a token server: anonymous pulls of public
// repositories, and logged-in pulls and pushes of private ones.
func TestAuthBearerToken(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistryToken(t, "carol", "pw")
	ctx := context.Background()
	img := testutil.Image(t, testutil.ImageSpec{Layers: 1, Seed: "token"})
	for _, repo := range []string{"public/img:v1", "private/img:v1"} {
		r, _ := name.ParseReference(reg.Addr + "/" + repo)
		if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "carol", Password: "pw"})); err != nil {
			t.Fatalf("seed %s: %v", repo, err)
		}
	}
	// Anonymous token auth.
	s := newStore(t)
	res, err := Pull(ctx, s, mustParse(t, reg.Addr+"/public/img:v1"))
	if err != nil {
		t.Fatalf("anonymous pull of a public repo: %v", err)
	}
	checkPulled(t, s, res.Image.Name, img, nil)
	if _, err := Pull(ctx, newStore(t), mustParse(t, reg.Addr+"/private/img:v1")); err == nil {
		t.Fatal("anonymous pull of a private repo succeeded")
	}
	if _, err := Push(ctx, s, res.Image.Name, mustParse(t, reg.Addr+"/public/copy:v1")); err == nil {
		t.Fatal("anonymous push succeeded")
	}
	if err := Login(ctx, reg.Addr, "carol", "nope"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("login with a bad password: %v", err)
	}
	if err := Login(ctx, reg.Addr, "carol", "pw"); err != nil {
		t.Fatal(err)
	}
	res, err = Pull(ctx, s, mustParse(t, reg.Addr+"/private/img:v1"))
	if err != nil {
		t.Fatalf("pull after login: %v", err)
	}
	if _, err := Push(ctx, s, res.Image.Name, mustParse(t, reg.Addr+"/private/copy:v1")); err != nil {
		t.Fatalf("push after login: %v", err)
	}
	var sawCarolPush bool
	for _, l := range reg.Issued() {
		sawCarolPush = sawCarolPush || strings.HasPrefix(l, "carol ") && strings.Contains(l, "repository:private/copy:push,pull")
	}
	if !sawCarolPush {
		t.Errorf("no push token for carol: %v", reg.Issued())
	}
}

// A registry with a self-signed certificate: refused unless configured
// insecure, then reached over HTTPS without verification.
func TestInsecureTLS(t *testing.T) {
	isolateAuth(t)
	reg := testutil.StartRegistryTLS(t)
	img := testutil.Image(t, testutil.ImageSpec{Layers: 1, Seed: "tls"})
	r, _ := name.ParseReference(reg + "/tls/img:v1")
	insecureTr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if err := remote.Write(r, img, remote.WithTransport(insecureTr)); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(reg)
	host := "secure.test:" + port // a name ggcr reaches over HTTPS only
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, reg)
	}}
	ref := mustParse(t, host+"/tls/img:v1")
	_, err := Pull(context.Background(), newStore(t), ref, WithTransport(tr), WithRetries(0, 0))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("pull from a self-signed registry: %v, want a certificate error", err)
	}
	cfg := &Config{Registries: map[string]Host{host: {Insecure: true}}}
	s := newStore(t)
	res, err := Pull(context.Background(), s, ref, WithTransport(tr), WithConfig(cfg))
	if err != nil {
		t.Fatalf("insecure pull: %v", err)
	}
	checkPulled(t, s, res.Image.Name, img, nil)
	if _, err := Push(context.Background(), s, res.Image.Name, mustParse(t, host+"/tls/copy:v1"), WithTransport(tr), WithConfig(cfg)); err != nil {
		t.Fatalf("insecure push: %v", err)
	}
}
