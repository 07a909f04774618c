package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenRegistry is a real registry behind a bearer-token server, as Docker
// Hub and most public registries work: the registry answers 401 with a
// Bearer challenge, the client fetches a JWT from the token server
// (anonymously or with basic auth) and retries with it.
type TokenRegistry struct {
	Addr string // the registry's host:port

	mu     sync.Mutex
	issued []string // "user scope" per token issued ("" user = anonymous)
}

// Issued returns a log of the tokens issued, "user scope" per line.
func (r *TokenRegistry) Issued() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.issued...)
}

// StartRegistryToken starts a registry that requires bearer tokens. The
// token server grants anyone (anonymous) pull on repositories under
// "public/", and user/password pull and push everywhere.
func StartRegistryToken(t testing.TB, user, password string) *TokenRegistry {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth-test-token"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "token.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &TokenRegistry{}
	const service, issuer = "berth-test-registry", "berth-test-issuer"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := ""
		if u, p, ok := r.BasicAuth(); ok {
			if u != user || p != password {
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
				return
			}
			who = u
		}
		var access []map[string]any
		for _, scope := range r.URL.Query()["scope"] {
			// repository:NAME:ACTIONS
			parts := strings.Split(scope, ":")
			if len(parts) < 3 || parts[0] != "repository" {
				continue
			}
			repo := strings.Join(parts[1:len(parts)-1], ":")
			var granted []string
			for _, a := range strings.Split(parts[len(parts)-1], ",") {
				if who != "" || (a == "pull" && strings.HasPrefix(repo, "public/")) {
					granted = append(granted, a)
				}
			}
			access = append(access, map[string]any{"type": "repository", "name": repo, "actions": granted})
		}
		now := time.Now()
		claims := map[string]any{
			"iss": issuer, "sub": who, "aud": service, "exp": now.Add(5 * time.Minute).Unix(),
			"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": fmt.Sprint(now.UnixNano()), "access": access,
		}
		tok, err := signES256(key, der, claims)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		tr.mu.Lock()
		tr.issued = append(tr.issued, strings.TrimSpace(who+" "+strings.Join(r.URL.Query()["scope"], " ")))
		tr.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300, "issued_at": now.Format(time.RFC3339)})
	}))
	t.Cleanup(ts.Close)
	// ggcr refuses realms on loopback IPs other than the registry's own
	// host:port (SSRF guard), but allows the name "localhost".
	realm := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1) + "/token"
	tr.Addr = startRegistry(t, fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
		realm, service, issuer, bundle), false)
	return tr
}

// signES256 makes a compact JWS with the signing certificate in x5c, which
// is how distribution's token auth finds and checks the key.
func signES256(key *ecdsa.PrivateKey, certDER []byte, claims map[string]any) (string, error) {
	hdr, err := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(certDER)}})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(body)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig), nil
}

// StartRegistryTLS starts a registry serving HTTPS with a fresh self-signed
// certificate (for 127.0.0.1 and any name), which clients only accept when
// told the registry is insecure.
func StartRegistryTLS(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "berth-test-registry"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return startRegistry(t, fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, keyPath), true)
}
