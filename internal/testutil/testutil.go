// Package testutil holds helpers shared by berth's tests: root gating and
// real fixtures (a busybox rootfs built from Debian's busybox-static).
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// RequireRoot skips t unless the test runs as root. CI runs as root, so
// nothing core is skipped there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs real containers on the real kernel")
	}
}

// BusyboxPath is where Debian's busybox-static installs the static binary.
var BusyboxPath = "/bin/busybox"

var appletsOnce sync.Once
var applets []string

// Busybox returns the list of applets of the static busybox binary.
func busyboxApplets(t testing.TB) []string {
	appletsOnce.Do(func() {
		out, err := exec.Command(BusyboxPath, "--list").Output()
		if err != nil {
			return
		}
		for _, l := range splitLines(string(out)) {
			if l != "" {
				applets = append(applets, l)
			}
		}
	})
	if len(applets) == 0 {
		t.Fatalf("busybox-static not usable at %s (apt-get install busybox-static)", BusyboxPath)
	}
	return applets
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// BusyboxRootfs makes a minimal rootfs in dir: /bin/busybox with a symlink
// per applet, and the usual empty top-level directories. It returns dir.
func BusyboxRootfs(t testing.TB, dir string) string {
	t.Helper()
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatalf("read busybox (apt-get install busybox-static): %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets(t) {
		if a == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	return dir
}
