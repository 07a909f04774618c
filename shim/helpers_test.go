package shim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/shim/logs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	runtimeBin  string // berth-runc built by TestMain
	runtimeRoot string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		return m.Run() // root tests skip themselves
	}
	tmp, err := os.MkdirTemp("", "shimtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	runtimeBin = filepath.Join(tmp, "berth-runc")
	runtimeRoot = filepath.Join(tmp, "root")
	cmd := exec.Command("go", "build", "-o", runtimeBin, "github.com/berth-dev/berth/cmd/berth-runc")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOEXPERIMENT=jsonv2", "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build berth-runc: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

var idSeq int

func newID(t *testing.T) string {
	idSeq++
	name := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	if len(name) > 30 {
		name = name[:30]
	}
	return fmt.Sprintf("bs-%s-%d-%d", name, os.Getpid(), idSeq)
}

// bundle writes a busybox bundle running args; edit may change the spec.
func bundle(t *testing.T, id string, args []string, edit func(*specs.Spec)) string {
	t.Helper()
	dir := t.TempDir()
	testutil.BusyboxRootfs(t, filepath.Join(dir, "rootfs"))
	if out, err := exec.Command(runtimeBin, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		t.Fatalf("spec: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Args = args
	s.Process.Terminal = false
	s.Root.Readonly = false
	s.Linux.CgroupsPath = "/" + id
	if edit != nil {
		edit(&s)
	}
	if b, err = json.Marshal(&s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shimDir is a short dir (unix socket paths) removed at the end.
func shimDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "bt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// baseConfig is a container id, bundle and monitor dir ready to Start;
// cleanup kills the container and the monitor.
func baseConfig(t *testing.T, args []string, edit func(*specs.Spec)) Config {
	t.Helper()
	testutil.RequireRoot(t)
	id := newID(t)
	c := Config{
		ID: id, Runtime: runtimeBin, RuntimeArgs: []string{"--root", runtimeRoot},
		Bundle: bundle(t, id, args, edit), Dir: shimDir(t), Start: true,
	}
	c.LogPath = filepath.Join(c.Dir, "ctr.log")
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(c.Dir, StoppedFile), nil, 0o644)
		exec.Command(runtimeBin, "--root", runtimeRoot, "kill", id, "KILL").Run()
		if s, err := ReadState(c.Dir); err == nil && s.ShimAlive() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := WaitExit(ctx, c.Dir); err != nil {
				t.Logf("cleanup wait: %v", err)
				syscall.Kill(s.ShimPID, syscall.SIGKILL)
			}
			cancel()
		}
		exec.Command(runtimeBin, "--root", runtimeRoot, "delete", "-f", id).Run()
	})
	return c
}

func start(t *testing.T, c Config) *Started {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, c)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func waitExit(t *testing.T, dir string) *State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := WaitExit(ctx, dir)
	if err != nil {
		t.Fatalf("WaitExit: %v (shim.log: %s)", err, readFile(filepath.Join(dir, "shim.log")))
	}
	return s
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func readLogs(c Config, w interface{ Write([]byte) (int, error) }) error {
	driver := c.LogDriver
	return logs.Read(context.Background(), c.LogPath, driver, logs.ReadOptions{Tail: -1}, w, w)
}

func readLogsSplit(c Config, stdout, stderr io.Writer) error {
	return logs.Read(context.Background(), c.LogPath, c.LogDriver, logs.ReadOptions{Tail: -1}, stdout, stderr)
}
