package specgen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const testGroup = `root:x:0:
wheel:x:10:alice,root
staff:x:50:alice
docker:x:999:bob
alice:x:1000:
bob:x:1001:
nogroup:x:65534:
`

// testRootfs is a small image root: /etc/passwd, /etc/group, /bin.
func testRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"etc", "bin", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "etc/passwd"), testPasswd)
	write(t, filepath.Join(dir, "etc/group"), testGroup)
	return dir
}

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// generate runs Generate with a shell command and fails the test on error.
func generate(t *testing.T, o *Options) *specs.Spec {
	t.Helper()
	if len(o.Cmd) == 0 && len(o.Image.Cmd) == 0 && o.Entrypoint == nil && len(o.Image.Entrypoint) == 0 {
		o.Cmd = []string{"sh"}
	}
	s, err := Generate(o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return s
}

// wantErr runs Generate and checks it fails with every fragment in its message.
func wantErr(t *testing.T, o *Options, fragments ...string) {
	t.Helper()
	if len(o.Cmd) == 0 && len(o.Image.Cmd) == 0 {
		o.Cmd = []string{"sh"}
	}
	s, err := Generate(o)
	if err == nil {
		t.Fatalf("Generate succeeded (%v), want an error naming %q", s != nil, fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}

func mountAt(s *specs.Spec, dst string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dst {
			return &s.Mounts[i]
		}
	}
	return nil
}

func mountDests(s *specs.Spec) []string {
	var out []string
	for _, m := range s.Mounts {
		out = append(out, m.Destination)
	}
	return out
}

func hasNS(s *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
	if i < 0 {
		return specs.LinuxNamespace{}, false
	}
	return s.Linux.Namespaces[i], true
}

func chmodX(t *testing.T, p string) {
	t.Helper()
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
}
