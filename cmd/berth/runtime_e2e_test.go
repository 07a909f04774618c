package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

// These tests drive the built binary through its runc name, as engines do.

var berthBin, runcBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		panic(err)
	}
	berthBin = filepath.Join(dir, "berth")
	// the lean runtime binary engines call (cmd/berth-runc)
	runcBin = filepath.Join(dir, "berth-runc")
	if bin := os.Getenv("BERTH_E2E_BIN"); bin != "" {
		// the binaries make build ships (scripts/test.sh): linked as
		// released (musl), with bin/berth-init beside them
		for _, name := range []string{"berth", "berth-runc"} {
			if err := os.Symlink(filepath.Join(bin, name), filepath.Join(dir, name)); err != nil {
				panic(err)
			}
		}
	} else {
		out, err := exec.Command("go", "build", "-o", berthBin, ".").CombinedOutput()
		if err != nil {
			os.Stderr.Write(out)
			panic(err)
		}
		out, err = exec.Command("go", "build", "-o", runcBin, "../berth-runc").CombinedOutput()
		if err != nil {
			os.Stderr.Write(out)
			panic(err)
		}
	}
	os.Symlink("berth", filepath.Join(dir, "runc"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type rt struct {
	t      *testing.T
	root   string
	bundle string
}

func newRT(t *testing.T) *rt {
	testutil.RequireRoot(t)
	d := t.TempDir()
	os.Chmod(d, 0o755)
	r := &rt{t: t, root: filepath.Join(d, "state"), bundle: filepath.Join(d, "bundle")}
	os.MkdirAll(r.bundle, 0o755)
	rootfs := filepath.Join(r.bundle, "rootfs")
	os.MkdirAll(rootfs, 0o755)
	testutil.BusyboxRootfs(t, rootfs)
	t.Cleanup(func() {
		out, _ := r.cmd("list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			r.cmd("delete", "-f", id).Run()
		}
	})
	return r
}

func (r *rt) cmd(args ...string) *exec.Cmd {
	return exec.Command(runcBin, append([]string{"--root", r.root}, args...)...)
}

// ok runs a command that must succeed and returns its stdout.
func (r *rt) ok(args ...string) string {
	r.t.Helper()
	c := r.cmd(args...)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		r.t.Fatalf("runc %v: %v\n%s%s", args, err, out, stderr.String())
	}
	return string(out)
}

// detached runs a command whose container inherits its stdio (create):
// a pipe would stay open as long as the container lives, so stdio is a file.
func (r *rt) detached(args ...string) {
	r.t.Helper()
	f, err := os.Create(filepath.Join(r.t.TempDir(), "stdio"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	c := r.cmd(args...)
	c.Stdout, c.Stderr = f, f
	if err := c.Run(); err != nil {
		b, _ := os.ReadFile(f.Name())
		r.t.Fatalf("runc %v: %v: %s", args, err, b)
	}
}

// fail runs a command that must fail with exit status code; returns stderr.
func (r *rt) fail(code int, args ...string) string {
	r.t.Helper()
	out, err := r.cmd(args...).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != code {
		r.t.Fatalf("runc %v: want exit %d, got %v: %s", args, code, err, out)
	}
	return string(out)
}

func (r *rt) spec(mut func(s *specs.Spec)) {
	r.t.Helper()
	p := filepath.Join(r.bundle, "config.json")
	os.Remove(p)
	c := r.cmd("spec", "--bundle", r.bundle)
	if out, err := c.CombinedOutput(); err != nil {
		r.t.Fatalf("spec: %v %s", err, out)
	}
	var s specs.Spec
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &s); err != nil {
		r.t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Root.Readonly = false
	mut(&s)
	b, _ = json.Marshal(&s)
	os.WriteFile(p, b, 0o644)
}

func TestCLISpecRunExit(t *testing.T) {
	r := newRT(t)
	r.spec(func(s *specs.Spec) { s.Process.Args = []string{"/bin/sh", "-c", "echo out; exit 5"} })
	// a second spec refuses to overwrite
	if msg := r.fail(1, "spec", "--bundle", r.bundle); !strings.Contains(msg, "exists") {
		t.Fatalf("spec over existing: %s", msg)
	}
	c := r.cmd("run", "--bundle", r.bundle, "c1")
	out, err := c.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 || string(out) != "out\n" {
		t.Fatalf("run: %v %q", err, out)
	}
	if ids := r.ok("list", "-q"); ids != "" {
		t.Fatalf("run left a container: %q", ids)
	}
}

func TestCLILifecycle(t *testing.T) {
	r := newRT(t)
	r.spec(func(s *specs.Spec) { s.Process.Args = []string{"/bin/sleep", "1000"} })
	pidFile := filepath.Join(t.TempDir(), "pid")
	// ids name the cgroup (/<id>): unique per run
	c2 := fmt.Sprintf("e2e-%d", os.Getpid())
	r.detached("create", "--bundle", r.bundle, "--pid-file", pidFile, c2)
	var st struct {
		ID, Status string
		Pid        int
	}
	json.Unmarshal([]byte(r.ok("state", c2)), &st)
	if st.Status != "created" || st.Pid == 0 {
		t.Fatalf("state after create: %+v", st)
	}
	if msg := r.fail(1, "create", "--bundle", r.bundle, c2); !strings.Contains(msg, "already exists") {
		t.Fatalf("duplicate create: %s", msg)
	}
	r.ok("start", c2)
	if out := r.ok("list"); !strings.Contains(out, c2) || !strings.Contains(out, "running") {
		t.Fatalf("list: %s", out)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.ok("list", "--format", "json")), &list); err != nil || len(list) != 1 || list[0]["status"] != "running" {
		t.Fatalf("list json: %v %v", list, err)
	}
	var pids []int
	json.Unmarshal([]byte(r.ok("ps", "--format", "json", c2)), &pids)
	if len(pids) != 1 {
		t.Fatalf("ps: %v", pids)
	}
	if out := r.ok("ps", c2); !strings.Contains(out, "sleep 1000") {
		t.Fatalf("ps table: %s", out)
	}
	if out := r.ok("exec", "-e", "X=y", c2, "/bin/sh", "-c", "echo $X $(id -u)"); out != "y 0\n" {
		t.Fatalf("exec: %q", out)
	}
	proc := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(proc, []byte(`{"args":["/bin/sh","-c","exit 9"],"cwd":"/","user":{"uid":0,"gid":0},"env":["PATH=/bin"]}`), 0o644)
	r.fail(9, "exec", "--process", proc, c2)
	r.ok("pause", c2)
	json.Unmarshal([]byte(r.ok("state", c2)), &st)
	if st.Status != "paused" {
		t.Fatalf("after pause: %s", st.Status)
	}
	r.fail(1, "pause", c2)
	r.ok("resume", c2)
	var ev struct {
		Type string
		Data struct{ Pids struct{ Current uint64 } }
	}
	if err := json.Unmarshal([]byte(r.ok("events", "--stats", c2)), &ev); err != nil || ev.Type != "stats" || ev.Data.Pids.Current != 1 {
		t.Fatalf("events --stats: %+v %v", ev, err)
	}
	r.ok("update", "--memory", "67108864", "--pids-limit", "20", c2)
	if b, _ := os.ReadFile("/sys/fs/cgroup/pids/" + c2 + "/pids.max"); strings.TrimSpace(string(b)) != "20" {
		t.Fatalf("pids.max after update: %s", b)
	}
	if msg := r.fail(1, "kill", c2, "SIGNOPE"); !strings.Contains(msg, "invalid signal") {
		t.Fatalf("bad signal: %s", msg)
	}
	if msg := r.fail(1, "delete", c2); !strings.Contains(msg, "running") {
		t.Fatalf("delete running: %s", msg)
	}
	// exec with a terminal in a container with its own pid namespace
	sock := filepath.Join(t.TempDir(), "tty.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ttyOut := make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			ttyOut <- err.Error()
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.(*net.UnixConn).ReadMsgUnix(buf, oob)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) == 0 {
			ttyOut <- fmt.Sprint("no pty fd: ", err)
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		master := os.NewFile(uintptr(fds[0]), "pty")
		defer master.Close()
		b := make([]byte, 64)
		n, _ := master.Read(b)
		ttyOut <- string(b[:n])
	}()
	r.ok("exec", "-t", "-d", "--console-socket", sock, c2, "/bin/tty")
	if got := <-ttyOut; !strings.HasPrefix(got, "/dev/pts/") {
		t.Fatalf("exec -t output %q", got)
	}
	// default device rules: mknod of any node, /dev/net/tun
	if b, _ := os.ReadFile("/sys/fs/cgroup/devices/" + c2 + "/devices.list"); !strings.Contains(string(b), "c *:* m") || !strings.Contains(string(b), "c 10:200 rwm") {
		t.Fatalf("devices.list:\n%s", b)
	}
	r.ok("kill", c2, "KILL")
	r.ok("delete", "-f", c2)
	// force-delete of an unknown container succeeds, as runc's does
	r.ok("delete", "-f", c2)
	if msg := r.fail(1, "state", c2); !strings.Contains(msg, "does not exist") {
		t.Fatalf("state of deleted: %s", msg)
	}
}

func TestCLILogAndFeatures(t *testing.T) {
	r := newRT(t)
	log := filepath.Join(t.TempDir(), "log.json")
	r.fail(1, "--log", log, "--log-format", "json", "start", "nosuch")
	b, _ := os.ReadFile(log)
	var entry map[string]string
	if err := json.Unmarshal(b, &entry); err != nil || entry["level"] != "error" || !strings.Contains(entry["msg"], "nosuch") {
		t.Fatalf("log entry %q: %v", b, err)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(r.ok("features")), &f); err != nil || f["ociVersionMax"] == nil {
		t.Fatalf("features: %v %v", f, err)
	}
	// the full binary speaks the same command line as `runc` and as
	// `berth runtime`
	for _, argv := range [][]string{{filepath.Join(filepath.Dir(berthBin), "runc"), "features"}, {berthBin, "runtime", "features"}} {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil || !strings.Contains(string(out), "ociVersionMax") {
			t.Fatalf("%v: %v %s", argv, err, out)
		}
	}
}

// While a create works, `delete -f` of its id removes nothing and says so;
// a create killed with -9 leaves a record that `delete -f` cleans up
// entirely: cgroup directories, processes, state.
func TestCLICreateDeleteRaceAndKilledCreate(t *testing.T) {
	r := newRT(t)
	marker := filepath.Join(t.TempDir(), "hook-started")
	r.spec(func(s *specs.Spec) {
		s.Process.Args = []string{"/bin/sleep", "1000"}
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + marker + "; sleep 2"}}}}
	})
	waitMarker := func() {
		for i := 0; i < 500; i++ {
			if _, err := os.Stat(marker); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("createContainer hook did not start")
	}
	cgDirs := func(id string) []string {
		m, _ := filepath.Glob("/sys/fs/cgroup/*/" + id)
		return m
	}

	// 1. delete -f during create: refused, the create still succeeds
	f, _ := os.Create(filepath.Join(t.TempDir(), "stdio"))
	defer f.Close()
	create := r.cmd("create", "--bundle", r.bundle, "racing")
	create.Stdout, create.Stderr = f, f
	if err := create.Start(); err != nil {
		t.Fatal(err)
	}
	waitMarker()
	if out := r.fail(1, "delete", "racing"); !strings.Contains(out, "being created") {
		t.Fatalf("delete during create: %s", out)
	}
	if st := r.ok("state", "racing"); !strings.Contains(st, `"status": "creating"`) {
		t.Fatalf("state during create: %s", st)
	}
	// nothing reaches a container being created (nor, with no pid yet,
	// this test's own process group)
	if out := r.fail(1, "kill", "racing", "KILL"); !strings.Contains(out, "creating") {
		t.Fatalf("kill during create: %s", out)
	}
	if err := create.Wait(); err != nil {
		b, _ := os.ReadFile(f.Name())
		t.Fatalf("create after a refused delete: %v %s", err, b)
	}
	if st := r.ok("state", "racing"); !strings.Contains(st, `"status": "created"`) {
		t.Fatalf("state after create: %s", st)
	}
	r.ok("delete", "-f", "racing")

	// 2. delete -f during create: the create is killed, nothing is left
	os.Remove(marker)
	create = r.cmd("create", "--bundle", r.bundle, "forced")
	create.Stdout, create.Stderr = f, f
	if err := create.Start(); err != nil {
		t.Fatal(err)
	}
	waitMarker()
	r.ok("delete", "-f", "forced")
	if err := create.Wait(); err == nil {
		t.Fatal("the create went on after delete -f")
	}
	if d := cgDirs("forced"); len(d) != 0 {
		t.Fatalf("cgroup dirs left: %v", d)
	}
	if ents, _ := filepath.Glob(filepath.Join(r.root, "forced.*")); len(ents) != 0 {
		t.Fatalf("state left: %v", ents)
	}

	// 3. create killed during its hook: delete -f removes everything
	os.Remove(marker)
	create = r.cmd("create", "--bundle", r.bundle, "killed")
	create.Stdout, create.Stderr = f, f
	if err := create.Start(); err != nil {
		t.Fatal(err)
	}
	waitMarker()
	create.Process.Signal(unix.SIGKILL)
	create.Wait()
	if len(cgDirs("killed")) == 0 {
		t.Fatal("no cgroup made before the kill: the test did not test anything")
	}
	if st := r.ok("state", "killed"); !strings.Contains(st, `"status": "stopped"`) {
		t.Fatalf("state of a killed create: %s", st)
	}
	r.ok("delete", "-f", "killed")
	if d := cgDirs("killed"); len(d) != 0 {
		t.Fatalf("cgroup dirs left: %v", d)
	}
	if out, _ := exec.Command("pgrep", "-f", "berth:init|sleep 2$").Output(); len(out) > 0 {
		// the init of "killed" (and its hook) must be gone with its cgroup
		for _, pid := range strings.Fields(string(out)) {
			st, _ := os.ReadFile("/proc/" + pid + "/stat")
			if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
				continue // dead, waiting for this host's pid 1 to reap it
			}
			if b, _ := os.ReadFile("/proc/" + pid + "/cgroup"); strings.Contains(string(b), "/killed") {
				t.Fatalf("process %s of the killed create left: %s", pid, st)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(r.root, "killed.json")); !os.IsNotExist(err) {
		t.Fatalf("state file left: %v", err)
	}
}

// A SIGTERM at any moment of `run` either stops it before it has claimed
// the id or reaches the container: never a run killed with its claim left.
func TestCLIRunSignalledEarlyLeavesNothing(t *testing.T) {
	r := newRT(t)
	r.spec(func(s *specs.Spec) {
		s.Process.Args = []string{"/bin/sh", "-c", "trap 'exit 3' TERM; sleep 1 & wait"} // ends by itself if TERM came before the trap
	})
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("sig%d", i)
		c := r.cmd("run", "--bundle", r.bundle, id)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		c.Process.Signal(unix.SIGTERM)
		c.Wait()
		// a container the signal reached is being deleted by run itself
		for j := 0; j < 300; j++ {
			if ents, _ := filepath.Glob(filepath.Join(r.root, id+".*")); len(ents) == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ents, _ := filepath.Glob(filepath.Join(r.root, id+".*")); len(ents) != 0 {
			st, _ := r.cmd("state", id).CombinedOutput()
			t.Fatalf("run signalled after %d ms left %v (exit %v): %s", i%5, ents, c.ProcessState, st)
		}
	}
}
