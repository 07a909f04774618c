package network

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

var testSeq atomic.Int32

// newTestManager is a Manager on fresh roots (whose default network gets a
// bridge and subnet of its own, see New), torn down (networks, chains) at the end.
func newTestManager(t testing.TB) *Manager {
	testutil.RequireRoot(t)
	root := t.TempDir()
	runroot, err := os.MkdirTemp("/tmp", "btn")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(root, runroot)
	if err != nil {
		t.Fatal(err)
	}
	if m.DefaultBridge == DefaultBridge || m.DefaultSubnet != "" {
		t.Fatalf("a test root got the default network of /var/lib/berth: %s %s", m.DefaultBridge, m.DefaultSubnet)
	}
	t.Cleanup(func() {
		if err := m.Teardown(context.Background()); err != nil {
			t.Errorf("teardown: %v", err)
		}
		if err := os.RemoveAll(runroot); err != nil {
			t.Errorf("remove runroot: %v", err)
		}
	})
	return m
}

// newNS makes a namespace removed at the end of the test.
func newNS(t testing.TB, m *Manager, id string) string {
	p, err := m.NewNetNS(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveNetNS(p) })
	return p
}

// inNS runs busybox applet args in the namespace at ns.
func inNS(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + ns, testutil.BusyboxPath}, args...)...).CombinedOutput()
	return string(out), err
}

// inNSHosts runs busybox applet args in the namespace at ns with hosts
// bind-mounted at /etc/hosts in a private mount namespace, as a container
// sees it.
func inNSHosts(ns, hosts string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	script := `mount --bind "$1" /etc/hosts && shift && exec "$@"`
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + ns, "unshare", "-m", "--propagation", "private",
		"sh", "-c", script, "sh", hosts, testutil.BusyboxPath}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustNS(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := inNS(ns, args...)
	if err != nil {
		t.Fatalf("in %s: busybox %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// httpd serves "hello NAME" on port in the namespace until the test ends.
func httpd(t testing.TB, ns string, port int, name string) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net="+ns, testutil.BusyboxPath, "httpd", "-f", "-p", fmt.Sprint(port), "-h", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

func testID(t testing.TB, s string) string {
	return fmt.Sprintf("bt%d%s%d", os.Getpid(), s, testSeq.Add(1))
}

func execOut(name string, args ...string) ([]byte, error) {
	// busybox wget's own -T crashes (Debian's 1.35): time out from here.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	return cmd.Output()
}
