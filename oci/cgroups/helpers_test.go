package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
)

// TestMain doubles as a helper process: with BERTH_CGTEST_OPEN set, the
// test binary opens each listed device ("path" for read, "path:w" for
// write) and prints "path=ok" or "path=EPERM", so that device filters can
// be checked from a real process placed in a cgroup.
func TestMain(m *testing.M) {
	if spec := os.Getenv("BERTH_CGTEST_OPEN"); spec != "" {
		if os.Getenv("BERTH_CGTEST_WAIT") != "" {
			// Wait until the parent has moved us into the cgroup.
			var b [1]byte
			os.Stdin.Read(b[:])
		}
		var out []string
		for _, item := range strings.Split(spec, ",") {
			path, mode, _ := strings.Cut(item, ":")
			flag := os.O_RDONLY
			switch mode {
			case "w":
				flag = os.O_WRONLY
			case "rw":
				flag = os.O_RDWR
			}
			f, err := os.OpenFile(path, flag, 0)
			switch {
			case err == nil:
				f.Close()
				out = append(out, item+"=ok")
			case errors.Is(err, syscall.EPERM):
				out = append(out, item+"=EPERM")
			default:
				out = append(out, item+"="+err.Error())
			}
		}
		fmt.Print(strings.Join(out, " "))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var idSeq atomic.Int64

// testID returns a cgroup name unique to this test run.
func testID(t testing.TB) string {
	return fmt.Sprintf("berth-cgtest-%d-%d", os.Getpid(), idSeq.Add(1))
}

func requireV1(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t)
	if HostMode() == Unified {
		t.Skip("host has no cgroup v1 hierarchies (pure cgroup v2)")
	}
}

// v2Root is a real cgroup2 mount to test v2 code on: the host's
// /sys/fs/cgroup when it is unified, its unified mount when hybrid.
func v2Root(t testing.TB) string {
	t.Helper()
	testutil.RequireRoot(t)
	switch HostMode() {
	case Unified:
		return DefaultRoot
	case Hybrid:
		return DefaultRoot + "/unified"
	}
	t.Skip("host has no cgroup2 mount")
	return ""
}

func mustNew(t testing.TB, c Config) Manager {
	t.Helper()
	m, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	t.Cleanup(func() {
		_ = m.Kill(syscall.SIGKILL)
		_ = m.Destroy()
	})
	return m
}

// startSleep starts a real `sleep` that the test cleans up.
func startSleep(t testing.TB, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func readTrim(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return strings.TrimSpace(string(b))
}

func wantFile(t testing.TB, path, want string) {
	t.Helper()
	if got := readTrim(t, path); got != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}

// procCgroups returns /proc/PID/cgroup as controller list → path.
func procCgroups(t testing.TB, pid int) map[string]string {
	t.Helper()
	s := readTrim(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out
}

// wantGone checks that no dir of m is left in any hierarchy.
func wantGone(t testing.TB, m Manager) {
	t.Helper()
	for c, d := range m.Paths() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dir of %q left behind: %s (stat: %v)", c, d, err)
		}
	}
	if m.Exists() {
		t.Errorf("Exists() = true after failure/destroy")
	}
}

func wantFieldErr(t testing.TB, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %s", field)
	}
	var re *ResourceError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is %T, not *ResourceError", err, err)
	}
	if re.Field != field || !strings.Contains(err.Error(), "linux.resources."+field) {
		t.Fatalf("error %q names field %q, want %q", err, re.Field, field)
	}
}

func ptr[T any](v T) *T { return &v }

func scannerOf(s string) *bufio.Scanner { return bufio.NewScanner(strings.NewReader(s)) }
