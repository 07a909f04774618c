package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/oci/initproc"
	"github.com/berth-dev/berth/oci/specconv"
)

// The test binary is also the container init: the runtime re-execs
// /proc/self/exe, like the berth binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == initproc.Arg {
		initproc.Main()
	}
	os.Exit(m.Run())
}

var (
	rootfsOnce sync.Once
	rootfsDir  string
)

// sharedRootfs builds one busybox rootfs for the whole test binary; tests
// that write to their rootfs make their own.
func sharedRootfs(t *testing.T) string {
	rootfsOnce.Do(func() {
		d, err := os.MkdirTemp("", "berth-oci-rootfs-")
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755)
		rootfsDir = testutil.BusyboxRootfs(t, d)
	})
	return rootfsDir
}

// testSpec is runc's default spec running args, without a terminal.
func testSpec(args ...string) *specs.Spec {
	s := specconv.Example()
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Readonly = false
	return s
}

type env struct {
	t      *testing.T
	rt     *Runtime
	bundle string
}

func newEnv(t *testing.T) *env {
	testutil.RequireRoot(t)
	root := t.TempDir()
	e := &env{t: t, rt: &Runtime{Root: filepath.Join(root, "state")}, bundle: filepath.Join(root, "bundle")}
	if err := os.MkdirAll(e.bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs, _ := e.rt.List()
		for _, c := range cs {
			c.Delete(true)
		}
	})
	return e
}

// write puts spec in the bundle, using rootfs (shared busybox if "").
func (e *env) write(s *specs.Spec, rootfs string) {
	e.t.Helper()
	if rootfs == "" {
		rootfs = sharedRootfs(e.t)
	}
	s.Root.Path = rootfs
	b, err := json.Marshal(s)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.bundle, "config.json"), b, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// run runs the bundle to completion and returns stdout+stderr and the exit code.
func (e *env) run(id string) (string, int, error) {
	e.t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		e.t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, r); close(done) }()
	code, err := e.rt.Run(id, CreateOpts{Bundle: e.bundle, Stdin: devNull(e.t), Stdout: w, Stderr: w}, false)
	w.Close()
	<-done
	r.Close()
	return out.String(), code, err
}

// quiet are create options with the container's stdio on /dev/null.
func (e *env) quiet() CreateOpts {
	return CreateOpts{Bundle: e.bundle, Stdin: devNull(e.t), Stdout: devNull(e.t), Stderr: devNull(e.t)}
}

// privateRootfs is a copy of the busybox rootfs for a test that changes it.
func privateRootfs(t *testing.T) string {
	t.Helper()
	rootfs := t.TempDir()
	os.Chmod(rootfs, 0o755)
	copyRootfs(t, rootfs)
	return rootfs
}

func devNull(t *testing.T) *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func (e *env) mustRun(id string, s *specs.Spec) string {
	e.t.Helper()
	e.write(s, "")
	out, code, err := e.run(id)
	if err != nil || code != 0 {
		e.t.Fatalf("run %s: code %d, err %v, output:\n%s", id, code, err, out)
	}
	return out
}

// leaks snapshots what a container may leave behind.
type leaks struct {
	mounts   int
	cgroups  []string
	children int
}

func snapshotLeaks(t *testing.T, id string) leaks {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	// Only mounts under this test's directories count: other test
	// binaries of `go test ./...` (their t.TempDir()s are /tmp/Test... too)
	// mount things at the same time.
	l := leaks{}
	mine := os.TempDir() + "/" + strings.SplitN(t.Name(), "/", 2)[0]
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, mine) || strings.Contains(line, "berth-oci-") {
			l.mounts++
		}
	}
	for _, d := range []string{"memory", "pids", "cpu", "freezer", "devices", "systemd", "unified"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", d, id)); err == nil {
			l.cgroups = append(l.cgroups, d)
		}
	}
	ents, _ := os.ReadDir("/proc")
	me := fmt.Sprint(os.Getpid())
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == me && f[0] != "Z" {
			l.children++
		}
	}
	return l
}

func (l leaks) check(t *testing.T, after leaks, what string) {
	t.Helper()
	if after.mounts != l.mounts || len(after.cgroups) != 0 || after.children > l.children {
		t.Errorf("%s left something behind: mounts %d→%d, cgroup dirs %v, children %d→%d",
			what, l.mounts, after.mounts, after.cgroups, l.children, after.children)
	}
}

func waitStatus(t *testing.T, c *Container, want specs.ContainerState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Status() != want {
		if time.Now().After(deadline) {
			t.Fatalf("container %s: status %s, want %s", c.State.ID, c.Status(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Errorf("%s exists (err %v)", p, err)
	}
}

var _ = unix.SIGKILL
