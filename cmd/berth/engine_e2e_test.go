package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

// These tests drive the engine commands (run, ps, logs, exec, stop, rm...)
// of the built binary as a user would, against a busybox image pulled from
// a real registry, each test with its own --root and --runroot.

type eb struct {
	t             *testing.T
	root, runroot string
	img           string
}

func newEB(t *testing.T) *eb {
	testutil.RequireRoot(t)
	reg := testutil.StartRegistry(t)
	img := reg + "/e2e/busybox:latest"
	testutil.PushImage(t, img, testutil.Image(t, testutil.ImageSpec{Busybox: true, Seed: t.Name()}))
	// The runroot holds the monitors' unix sockets: keep it short.
	rr, err := os.MkdirTemp("/tmp", "be")
	if err != nil {
		t.Fatal(err)
	}
	b := &eb{t: t, root: filepath.Join(t.TempDir(), "root"), runroot: rr, img: img}
	t.Cleanup(func() {
		removeAll(b.run)
		b.assertNoLeaks()
		resetRoots(t, b.run, b.root, b.runroot)
	})
	return b
}

func (b *eb) cmd(args ...string) *exec.Cmd {
	return exec.Command(berthBin, append([]string{"--root", b.root, "--runroot", b.runroot}, args...)...)
}

// run runs berth and returns stdout, stderr and the exit code.
func (b *eb) run(stdin []byte, args ...string) (string, string, int) {
	b.t.Helper()
	return runBerth(b.t, nil, stdin, append([]string{"--root", b.root, "--runroot", b.runroot}, args...)...)
}

func (b *eb) ok(args ...string) string {
	b.t.Helper()
	out, errs, code := b.run(nil, args...)
	if code != 0 {
		b.t.Fatalf("berth %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	return out
}

// code runs a command that must exit with want, stderr containing msg.
func (b *eb) code(want int, msg string, args ...string) string {
	b.t.Helper()
	out, errs, code := b.run(nil, args...)
	if code != want || !strings.Contains(errs, msg) {
		b.t.Fatalf("berth %v: exit %d stderr %q stdout %q; want exit %d and stderr containing %q", args, code, errs, out, want, msg)
	}
	return out
}

// containers is the number of container records.
func (b *eb) containers() int {
	n := 0
	ents, _ := os.ReadDir(filepath.Join(b.root, "containers"))
	for _, e := range ents {
		if len(e.Name()) == 64 {
			n++
		}
	}
	return n
}

// processesOf lists pids whose command line mentions dir (monitors and
// cleanups carry the bundle or runroot path).
func processesOf(dirs ...string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		for _, d := range dirs {
			if bytes.Contains(b, []byte(d)) {
				out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
			}
		}
	}
	return out
}

// cgroupsOf lists the cgroup dirs berth made for the given ids.
func cgroupsOf(ids []string) []string {
	var out []string
	for _, id := range ids {
		ms, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + id)
		out = append(out, ms...)
		ms, _ = filepath.Glob("/sys/fs/cgroup/berth/" + id)
		out = append(out, ms...)
	}
	return out
}

// assertNoLeaks checks that with no containers left nothing of them is:
// no mount, monitor, container process, netns or record.
func (b *eb) assertNoLeaks() {
	b.t.Helper()
	if n := b.containers(); n != 0 {
		b.t.Errorf("%d container records left", n)
	}
	if m := testutil.MountsUnder(b.t, b.runroot); len(m) > 0 {
		b.t.Errorf("mounts left under the runroot: %v", m)
	}
	for _, m := range testutil.MountsUnder(b.t, b.root) {
		if strings.Contains(m, "/containers/") {
			b.t.Errorf("container mount left: %s", m)
		}
	}
	// Monitors run their exit command detached: give them a moment.
	var ps []string
	for i := 0; i < 50; i++ {
		if ps = processesOf(b.root+"/", b.runroot+"/"); len(ps) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(ps) > 0 {
		b.t.Errorf("processes left: %v", ps)
	}
	if ns, _ := os.ReadDir(filepath.Join(b.runroot, "netns")); len(ns) > 0 {
		b.t.Errorf("network namespaces left: %d", len(ns))
	}
}

func (b *eb) inspect(ref, format string) string {
	b.t.Helper()
	return strings.TrimSpace(b.ok("inspect", "--format", format, ref))
}

func TestEngineRunBasics(t *testing.T) {
	b := newEB(t)
	// pulled on first use, output and exit code passed through
	out, errs, code := b.run(nil, "run", "--rm", b.img, "sh", "-c", "echo out; echo err >&2; exit 3")
	if code != 3 || out != "out\n" || !strings.Contains(errs, "err\n") {
		t.Fatalf("run: code %d out %q err %q", code, out, errs)
	}
	if !strings.Contains(errs, "Unable to find image") {
		t.Errorf("first run did not say it pulls: %q", errs)
	}
	if n := b.containers(); n != 0 {
		t.Fatalf("--rm left %d containers", n)
	}
	// Docker's exit codes: 127 not found, 126 not executable, 125 engine
	b.code(127, "no such file", "run", "--rm", b.img, "/nonexistent")
	b.code(127, "not found", "run", "--rm", b.img, "nonexistent")
	b.code(126, "", "run", "--rm", b.img, "/etc/passwd")
	b.code(125, "unknown flag", "run", "--bogus", b.img, "true")
	b.code(125, "", "run", "--rm", "--memory", "lots", b.img, "true")
	b.code(125, "", "run", "--rm", "localhost:1/none/such:image", "true")
	b.code(125, "--pull", "run", "--rm", "--pull", "sometimes", b.img, "true")
	if n := b.containers(); n != 0 {
		t.Fatalf("failed runs left %d containers", n)
	}
	// stdin passes through with -i
	out, _, code = b.run([]byte("piped\n"), "run", "--rm", "-i", b.img, "cat")
	if code != 0 || out != "piped\n" {
		t.Fatalf("run -i: code %d out %q", code, out)
	}
	// Docker's defaults inside: hostname = short id, caps, seccomp, masked paths, env
	out = b.ok("run", "--rm", "--name", "defaults", "-e", "FOO=bar", "-w", "/tmp", b.img, "sh", "-c",
		"hostname; grep -E '^(CapEff|Seccomp):' /proc/self/status; pwd; echo $FOO $HOME; cat /proc/kcore 2>&1 | head -c 0; ls /dev/shm >/dev/null && echo shm; grep -c . /etc/hosts")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 6 || len(lines[0]) != 12 || !strings.Contains(out, "00000000a80425fb") || !strings.Contains(out, "Seccomp:\t2") ||
		!strings.Contains(out, "/tmp\nbar /root") || !strings.Contains(out, "shm") {
		t.Fatalf("defaults: %q", out)
	}
	// a name in use: clear error, nothing created
	b.ok("create", "--name", "taken", b.img, "true")
	before := b.containers()
	b.code(125, "already in use", "run", "--name", "taken", b.img, "true")
	if b.containers() != before {
		t.Fatalf("a name clash created a container")
	}
	b.ok("rm", "taken")
	// --user by name from the image's /etc/passwd; unknown user fails at start
	if out := b.ok("run", "--rm", "-u", "nobody", b.img, "id", "-u"); strings.TrimSpace(out) != "65534" {
		t.Fatalf("-u nobody: %q", out)
	}
	b.code(125, "nosuchuser", "run", "--rm", "-u", "nosuchuser", b.img, "true")
}

func TestEngineDetachedLifecycle(t *testing.T) {
	b := newEB(t)
	id := strings.TrimSpace(b.ok("run", "-d", "--name", "web", "-l", "app=web", b.img, "sh", "-c", "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	waitFor(t, "log line", func() bool { o, _, _ := b.run(nil, "logs", "web"); return strings.Contains(o, "started") })
	if out := b.ok("ps", "--format", "{{.Names}} {{.State}} {{.Label \"app\"}}"); strings.TrimSpace(out) != "web running web" {
		t.Fatalf("ps: %q", out)
	}
	if out := b.ok("ps", "-q", "--filter", "label=app=web"); strings.TrimSpace(out) != id[:12] {
		t.Fatalf("ps -q --filter: %q", out)
	}
	if out := b.ok("ps", "-q", "--filter", "status=exited"); out != "" {
		t.Fatalf("ps status=exited: %q", out)
	}
	if got := b.inspect("web", "{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Labels.app}}"); got != "running true /web web" {
		t.Fatalf("inspect: %q", got)
	}
	var objs []map[string]any
	if err := json.Unmarshal([]byte(b.ok("inspect", "web")), &objs); err != nil || len(objs) != 1 || objs[0]["Id"] != id {
		t.Fatalf("inspect JSON: %v %v", err, objs)
	}
	for _, k := range []string{"State", "Config", "HostConfig", "NetworkSettings", "Mounts", "GraphDriver"} {
		if _, ok := objs[0][k]; !ok {
			t.Fatalf("inspect has no %s", k)
		}
	}
	// exec: env, user, workdir, exit code, and it lands in the container
	out := b.ok("exec", "-e", "X=1", "-u", "nobody", "-w", "/tmp", "web", "sh", "-c", "echo $X $(id -u) $(pwd) $(hostname)")
	if strings.TrimSpace(out) != "1 65534 /tmp "+id[:12] {
		t.Fatalf("exec: %q", out)
	}
	b.code(7, "", "exec", "web", "sh", "-c", "exit 7")
	b.code(127, "", "exec", "web", "/nonexistent")
	// top and stats read the container's processes and cgroups
	if out := b.ok("top", "web"); !strings.Contains(out, "PID") || !strings.Contains(out, "sleep") && !strings.Contains(out, "sh -c") {
		t.Fatalf("top: %q", out)
	}
	if out := b.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "web"); !strings.HasPrefix(out, "web ") {
		t.Fatalf("stats: %q", out)
	}
	// pause/unpause
	b.ok("pause", "web")
	if st := b.inspect("web", "{{.State.Status}}"); st != "paused" {
		t.Fatalf("after pause: %s", st)
	}
	b.code(125, "paused", "exec", "web", "true")
	b.ok("unpause", "web")
	// rm of a running container needs -f
	b.code(125, "stop the container", "rm", "web")
	// stop: the TERM trap runs, exit 0 recorded
	b.ok("stop", "web")
	if got := b.inspect("web", "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 0" {
		t.Fatalf("after stop: %q", got)
	}
	if out := b.ok("logs", "web"); !strings.Contains(out, "started\n") || !strings.Contains(out, "bye\n") {
		t.Fatalf("logs after stop: %q", out)
	}
	if out := b.ok("logs", "--tail", "1", "web"); out != "bye\n" {
		t.Fatalf("logs --tail 1: %q", out)
	}
	if out := b.ok("logs", "-t", "web"); !strings.Contains(out, "Z started") {
		t.Fatalf("logs -t: %q", out)
	}
	b.code(125, "not running", "exec", "web", "true")
	// start again, rename, kill, wait
	b.ok("start", "web")
	b.ok("rename", "web", "web2")
	b.ok("kill", "web2")
	if out := b.ok("wait", "web2"); strings.TrimSpace(out) != "137" {
		t.Fatalf("wait after kill: %q", out)
	}
	if got := b.inspect("web2", "{{.State.ExitCode}} {{.RestartCount}}"); got != "137 0" {
		t.Fatalf("after kill: %q", got)
	}
	b.ok("rm", "web2")
	b.code(1, "No such container", "inspect", "--type", "container", "web2")
	b.assertNoLeaks()
}

func TestEngineStartAttachAndRestart(t *testing.T) {
	b := newEB(t)
	id := strings.TrimSpace(b.ok("create", b.img, "sh", "-c", "echo attached; exit 4"))
	if st := b.inspect(id, "{{.State.Status}}"); st != "created" {
		t.Fatalf("after create: %s", st)
	}
	out, _, code := b.run(nil, "start", "-a", id)
	if code != 4 || out != "attached\n" {
		t.Fatalf("start -a: code %d out %q", code, out)
	}
	b.ok("rm", id)
	// on-failure:2 restarts exactly twice, by the monitor, with nobody attached
	id = strings.TrimSpace(b.ok("run", "-d", "--restart", "on-failure:2", b.img, "sh", "-c", "echo run; exit 1"))
	waitFor(t, "two restarts", func() bool {
		return b.inspect(id, "{{.State.Status}} {{.RestartCount}}") == "exited 2"
	})
	if out := b.ok("logs", id); strings.Count(out, "run\n") != 3 {
		t.Fatalf("logs of 3 runs: %q", out)
	}
	b.ok("rm", id)
	// always: a stop stays stopped
	id = strings.TrimSpace(b.ok("run", "-d", "--restart", "always", b.img, "sleep", "100"))
	b.ok("stop", "-t", "1", id)
	time.Sleep(500 * time.Millisecond)
	if st := b.inspect(id, "{{.State.Status}}"); st != "exited" {
		t.Fatalf("restart=always after stop: %s", st)
	}
	b.ok("rm", id)
}

func TestEngineLimits(t *testing.T) {
	b := newEB(t)
	// OOM: the container is killed and inspect says so
	_, _, code := b.run(nil, "run", "--name", "oom", "--memory", "20m", "--memory-swap", "20m", b.img,
		"sh", "-c", "x=a; while true; do x=$x$x$x$x; done")
	if code != 137 {
		t.Fatalf("OOM run exit %d, want 137", code)
	}
	if got := b.inspect("oom", "{{.State.OOMKilled}} {{.State.ExitCode}}"); got != "true 137" {
		t.Fatalf("OOM inspect: %q", got)
	}
	b.ok("rm", "oom")
	// a fork bomb stops at --pids-limit, and the container lives on
	b.ok("run", "-d", "--name", "bomb", "--pids-limit", "20", b.img, "sh", "-c",
		"(for i in $(seq 60); do sleep 30 & done) 2>/dev/null; exec sleep 30")
	time.Sleep(500 * time.Millisecond)
	out := b.ok("stats", "--no-stream", "--format", "{{.PIDs}}", "bomb")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || n > 20 || n < 15 {
		t.Fatalf("pids-limit 20: %q processes", out)
	}
	if st := b.inspect("bomb", "{{.State.Status}}"); st != "running" {
		t.Fatalf("fork bomb container: %s", st)
	}
	b.ok("rm", "-f", "bomb")
	// ulimits and cpus reach the container
	out = b.ok("run", "--rm", "--ulimit", "nofile=123:456", "--cpus", "0.5", b.img, "sh", "-c", "ulimit -n; ulimit -Hn")
	if out != "123\n456\n" {
		t.Fatalf("ulimit: %q", out)
	}
}

func TestEngineVolumes(t *testing.T) {
	b := newEB(t)
	b.ok("volume", "create", "data")
	b.ok("run", "--rm", "-v", "data:/data", b.img, "sh", "-c", "echo kept > /data/f")
	if out := b.ok("run", "--rm", "-v", "data:/data:ro", b.img, "sh", "-c", "cat /data/f; touch /data/g 2>/dev/null || echo ro"); out != "kept\nro\n" {
		t.Fatalf("volume reuse: %q", out)
	}
	host := t.TempDir()
	b.ok("run", "--rm", "-v", host+":/h", b.img, "sh", "-c", "echo bind > /h/x")
	if b, _ := os.ReadFile(filepath.Join(host, "x")); string(b) != "bind\n" {
		t.Fatalf("bind mount: %q", b)
	}
	if out := b.ok("run", "--rm", "--tmpfs", "/scratch:size=1m", "--read-only", b.img, "sh", "-c", "touch /scratch/a && echo tmpfs; touch /a 2>/dev/null || echo rofs"); out != "tmpfs\nrofs\n" {
		t.Fatalf("tmpfs/read-only: %q", out)
	}
	id := strings.TrimSpace(b.ok("create", "-v", "data:/data", b.img, "true"))
	b.code(125, "in use", "volume", "rm", "data")
	b.ok("rm", id)
	if out := b.ok("volume", "ls", "-q"); strings.TrimSpace(out) != "data" {
		t.Fatalf("volume ls: %q", out)
	}
	b.ok("volume", "rm", "data")
}

func TestEngineTTY(t *testing.T) {
	b := newEB(t)
	master, slave := openPty(t)
	defer master.Close()
	c := b.cmd("run", "-it", "--rm", b.img, "sh")
	c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var got bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			got.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	master.Write([]byte("tty; echo mark-$((6*7))\n"))
	waitFor(t, "tty output", func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(got.String(), "mark-42") })
	master.Write([]byte("exit 5\n"))
	err := c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("run -it exit: %v\n%s", err, got.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(got.String(), "/dev/pts/0") {
		t.Fatalf("no tty in the container: %q", got.String())
	}
}

// TestEngineSurvivesKill kills berth commands at every stage of run, start
// and rm, and checks that the next commands see a consistent state and
// that nothing leaks once everything is removed.
func TestEngineSurvivesKill(t *testing.T) {
	b := newEB(t)
	b.ok("pull", "-q", b.img)
	// a detached container outlives the command that started it, and a
	// later attach sees its output
	id := strings.TrimSpace(b.ok("run", "-d", b.img, "sh", "-c", "sleep 1; echo late; sleep 100"))
	waitFor(t, "late output", func() bool { o, _, _ := b.run(nil, "logs", id); return strings.Contains(o, "late") })
	if st := b.inspect(id, "{{.State.Status}}"); st != "running" {
		t.Fatalf("detached container: %s", st)
	}
	b.ok("rm", "-f", id)
	for _, delay := range []time.Duration{0, 2, 5, 10, 20, 30, 50, 80} {
		for _, args := range [][]string{
			{"run", "--rm", b.img, "sleep", "1"},
			{"run", "-d", b.img, "sleep", "1"},
			{"create", b.img, "true"},
		} {
			c := b.cmd(args...)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay * time.Millisecond)
			c.Process.Kill()
			c.Wait()
		}
	}
	// kill -9 of start at several points: the container is created,
	// running or repaired back to a startable state
	for _, delay := range []time.Duration{1, 5, 10, 20, 40} {
		id := strings.TrimSpace(b.ok("create", b.img, "sleep", "1"))
		c := b.cmd("start", id)
		c.Start()
		time.Sleep(delay * time.Millisecond)
		c.Process.Kill()
		c.Wait()
		st := b.inspect(id, "{{.State.Status}}")
		switch st {
		case "created", "running", "exited":
		default:
			t.Fatalf("after a killed start: %s", st)
		}
		if st != "running" {
			b.ok("start", id) // startable again
		}
	}
	// whatever the kills left, ps works and rm -f removes it all
	ids := strings.Fields(b.ok("ps", "-aq", "--no-trunc"))
	for _, id := range ids {
		// --rm containers may go by themselves meanwhile
		if _, errs, code := b.run(nil, "rm", "-f", id); code != 0 && !strings.Contains(errs, "No such container") {
			t.Fatalf("rm -f %s: %s", id, errs)
		}
	}
	if out := b.ok("ps", "-aq"); out != "" {
		t.Fatalf("containers after rm -f of all: %q", out)
	}
	if cg := cgroupsOf(ids); len(cg) > 0 {
		t.Fatalf("cgroups left: %v", cg)
	}
	b.assertNoLeaks()
	// kill -9 of rm in the middle, then rm again
	for _, delay := range []time.Duration{1, 5, 15} {
		id := strings.TrimSpace(b.ok("run", "-d", b.img, "sleep", "100"))
		c := b.cmd("rm", "-f", id)
		c.Start()
		time.Sleep(delay * time.Millisecond)
		c.Process.Kill()
		c.Wait()
		b.run(nil, "rm", "-f", id)
		if _, _, code := b.run(nil, "inspect", "--type", "container", id); code == 0 {
			t.Fatalf("container %s still there after rm -f", id)
		}
	}
	b.assertNoLeaks()
}

func TestEngineParallelRuns(t *testing.T) {
	b := newEB(t)
	b.ok("pull", "-q", b.img)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, errb, code := b.run(nil, "run", "-d", "--name", fmt.Sprintf("p%d", i), b.img, "sleep", "60")
			if code != 0 {
				errs <- fmt.Sprintf("run %d: exit %d: %s %s", i, code, out, errb)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	out := b.ok("ps", "--format", "{{.Names}}")
	if got := len(strings.Fields(out)); got != n {
		t.Fatalf("ps shows %d running containers, want %d", got, n)
	}
	args := []string{"rm", "-f"}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprintf("p%d", i))
	}
	b.ok(args...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// openPty opens a pseudo-terminal pair.
func openPty(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func TestEngineNetworking(t *testing.T) {
	b := newEB(t)
	b.ok("pull", "-q", b.img)
	b.ok("network", "create", "e2enet")
	b.ok("network", "create", "--internal", "e2eint")
	t.Cleanup(func() { b.run(nil, "network", "rm", "e2enet", "e2eint") })
	// two containers on a user network reach each other by name and alias
	b.ok("run", "-d", "--name", "srv", "--network", "e2enet", "--network-alias", "web", b.img, "sh", "-c",
		"mkdir /www && echo hi-srv > /www/index.html && exec httpd -f -p 80 -h /www")
	waitFor(t, "httpd", func() bool {
		_, _, code := b.run(nil, "exec", "srv", "sh", "-c", "netstat -ltn | grep -q :80")
		return code == 0
	})
	if out := b.ok("run", "--rm", "--network", "e2enet", b.img, "sh", "-c", "wget -qO- http://srv/ && wget -qO- http://web/"); out != "hi-srv\nhi-srv\n" {
		t.Fatalf("by name on a user network: %q", out)
	}
	// connect a running container to a second network: peers there find it
	b.ok("network", "create", "e2enet2")
	t.Cleanup(func() { b.run(nil, "network", "rm", "e2enet2") })
	b.ok("network", "connect", "--alias", "web2", "e2enet2", "srv")
	if out := b.ok("run", "--rm", "--network", "e2enet2", b.img, "wget", "-qO-", "http://web2/"); out != "hi-srv\n" {
		t.Fatalf("after network connect: %q", out)
	}
	if got := b.inspect("srv", "{{len .NetworkSettings.Networks}}"); got != "2" {
		t.Fatalf("networks after connect: %s", got)
	}
	b.ok("network", "disconnect", "e2enet2", "srv")
	if _, _, code := b.run(nil, "run", "--rm", "--network", "e2enet2", b.img, "sh", "-c", "busybox timeout 3 wget -qO- http://srv/"); code == 0 {
		t.Fatalf("srv still reachable after disconnect")
	}
	// container: shares the network namespace
	if out := b.ok("run", "--rm", "--network", "container:srv", b.img, "wget", "-qO-", "http://127.0.0.1/"); out != "hi-srv\n" {
		t.Fatalf("--network container: %q", out)
	}
	// none: only lo
	if out := b.ok("run", "--rm", "--network", "none", b.img, "sh", "-c", "ls /sys/class/net"); strings.Fields(out)[0] != "lo" || len(strings.Fields(out)) != 1 {
		t.Fatalf("--network none interfaces: %q", out)
	}
	// internal: no route out
	if out := b.ok("run", "--rm", "--network", "e2eint", b.img, "sh", "-c", "ip route | grep -c default || true"); strings.TrimSpace(out) != "0" {
		t.Fatalf("--internal has a default route: %q", out)
	}
	// a published port answers on 127.0.0.1; the same port again fails cleanly
	b.ok("run", "-d", "--name", "pub", "-p", "127.0.0.1::80", b.img, "sh", "-c",
		"mkdir /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www")
	hp := strings.TrimSpace(b.ok("port", "pub", "80"))
	if got := b.inspect("pub", `{{(index (index .HostConfig.PortBindings "80/tcp") 0).HostIp}}`); got != "127.0.0.1" {
		t.Fatalf("inspect PortBindings: %q", got)
	}
	if !strings.HasPrefix(hp, "127.0.0.1:") {
		t.Fatalf("port: %q", hp)
	}
	waitFor(t, "published port", func() bool {
		out, err := exec.Command("busybox", "timeout", "2", "busybox", "wget", "-qO-", "http://"+hp+"/").Output()
		return err == nil && string(out) == "published\n"
	})
	before := b.containers()
	b.code(125, "already allocated", "run", "--rm", "-p", hp+":80", b.img, "true")
	b.code(125, "already allocated", "run", "-d", "-p", hp+":80", b.img, "true")
	if b.containers() != before {
		t.Fatalf("a port clash left a container")
	}
	b.code(125, "not found", "run", "--rm", "--network", "nosuchnet", b.img, "true")
	b.ok("rm", "-f", "srv", "pub")
	// --ip and --mac-address on a user network; several networks
	b.ok("network", "create", "--subnet", "10.123.5.0/24", "e2eip")
	t.Cleanup(func() { b.run(nil, "network", "rm", "e2eip") })
	if out := b.ok("run", "--rm", "--network", "e2eip", "--ip", "10.123.5.77", "--mac-address", "92:d0:c6:0a:29:33", b.img,
		"sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'; cat /sys/class/net/eth0/address"); out != "10.123.5.77/24\n92:d0:c6:0a:29:33\n" {
		t.Fatalf("--ip/--mac-address: %q", out)
	}
	if out := b.ok("run", "--rm", "--network", "e2eip", "--network", "e2enet", b.img, "ls", "/sys/class/net"); out != "eth0\neth1\nlo\n" {
		t.Fatalf("two networks: %q", out)
	}
	b.code(125, "not in the subnet", "run", "--rm", "--network", "e2eip", "--ip", "10.1.1.1", b.img, "true")
	// --add-host, --dns, --dns-search reach the container's files; -P
	// publishes exposed ports on random host ports
	out := b.ok("run", "--rm", "--add-host", "db.local:10.1.2.3", "--dns", "9.9.9.9", "--dns-search", "example.com", b.img,
		"sh", "-c", "grep db.local /etc/hosts; cat /etc/resolv.conf")
	if !strings.Contains(out, "10.1.2.3\tdb.local") && !strings.Contains(out, "10.1.2.3 db.local") || !strings.Contains(out, "nameserver 9.9.9.9") || !strings.Contains(out, "search example.com") {
		t.Fatalf("--add-host/--dns/--dns-search: %q", out)
	}
	b.ok("run", "-d", "--name", "pall", "--expose", "8080", "-P", b.img, "sleep", "60")
	if out := b.ok("port", "pall"); !strings.HasPrefix(out, "8080/tcp -> 0.0.0.0:") {
		t.Fatalf("-P: port says %q", out)
	}
	b.ok("rm", "-f", "pall")
	// run/rm cycles on the default network leave no veth, netns, lease or rule
	var ids []string
	for i := 0; i < 50; i++ {
		id := strings.TrimSpace(b.ok("run", "-d", "-p", "80", b.img, "true"))
		b.ok("wait", id)
		b.ok("rm", id)
		ids = append(ids, id)
	}
	rules, _ := exec.Command("iptables-save").Output()
	for _, id := range ids {
		if bytes.Contains(rules, []byte(id)) {
			t.Fatalf("iptables rules of %s left", id)
		}
	}
	br := strings.TrimSpace(b.ok("network", "inspect", "--format", `{{index .Options "com.docker.network.bridge.name"}}`, "bridge"))
	if ports, err := os.ReadDir("/sys/class/net/" + br + "/brif"); err != nil || len(ports) != 0 {
		t.Fatalf("bridge %s after the cycles: %d ports left (%v)", br, len(ports), err)
	}
	leases, _ := filepath.Glob(filepath.Join(b.runroot, "ipam", "*", "*.*.*.*"))
	if len(leases) > 0 {
		t.Fatalf("IPAM leases left: %v", leases)
	}
	b.assertNoLeaks()
}

func TestEngineExportImportAndAutoRemove(t *testing.T) {
	b := newEB(t)
	b.ok("run", "--name", "src", b.img, "sh", "-c", "echo exported > /marker")
	tarPath := filepath.Join(t.TempDir(), "fs.tar")
	b.ok("export", "-o", tarPath, "src")
	id := strings.TrimSpace(b.ok("import", "-c", `CMD ["cat", "/marker"]`, "-m", "from export", tarPath, "imported:1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import printed %q", id)
	}
	if out := b.ok("run", "--rm", "imported:1"); out != "exported\n" {
		t.Fatalf("run of the imported image: %q", out)
	}
	b.code(125, "not a tar", "import", "/etc/hostname", "bad:1")
	b.ok("rm", "src")
	// run -d --rm: the monitor's cleanup removes the container by itself
	cid := strings.TrimSpace(b.ok("run", "-d", "--rm", b.img, "true"))
	waitFor(t, "auto-removal", func() bool {
		_, _, code := b.run(nil, "inspect", "--type", "container", cid)
		return code != 0
	})
	// stop -s sends that signal
	b.ok("run", "-d", "--name", "sig", b.img, "sh", "-c", "trap 'exit 42' USR1; echo ready; while true; do sleep 0.1; done")
	// pid 1 ignores a signal it has no handler for yet: wait for the trap
	waitFor(t, "trap", func() bool { o, _, _ := b.run(nil, "logs", "sig"); return strings.Contains(o, "ready") })
	b.ok("stop", "-s", "USR1", "sig")
	if got := b.inspect("sig", "{{.State.ExitCode}}"); got != "42" {
		t.Fatalf("stop -s USR1: exit %s", got)
	}
	b.ok("rm", "sig")
	// events recorded the life of the container
	out := b.ok("events", "--since", "10m", "--until", "0s", "--filter", "container=sig", "--format", "{{.Action}}")
	if !strings.Contains(out, "create\nstart\n") || !strings.Contains(out, "die\n") || !strings.Contains(out, "destroy\n") {
		t.Fatalf("events: %q", out)
	}
}

func TestEngineDanglingImages(t *testing.T) {
	b := newEB(t)
	b.ok("run", "--name", "base", b.img, "sh", "-c", "echo x > /f")
	id := strings.TrimSpace(b.ok("commit", "base"))
	if out := b.ok("images", "--filter", "dangling=true", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); !strings.HasPrefix(out, "<none>:<none> ") || !strings.Contains(id, strings.Fields(out)[1]) {
		t.Fatalf("untagged commit %s in images: %q", id, out)
	}
	if out := b.ok("images", "--filter", "dangling=false", "-q"); strings.TrimSpace(out) == "" {
		t.Fatalf("dangling=false lists nothing")
	}
	b.ok("tag", id, "named:1")
	if out := b.ok("images", "--filter", "dangling=true", "-q"); out != "" {
		t.Fatalf("after tag, still dangling: %q", out)
	}
	id2 := strings.TrimSpace(b.ok("commit", "-c", "ENV A=1", "base"))
	// a snapshot directory no record names (a killed removal) goes with prune
	orphan := filepath.Join(b.root, "snapshots", "erofs", "snapshots", "99999")
	if err := os.MkdirAll(filepath.Join(orphan, "fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.ok("image", "prune", "-f")
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan snapshot dir survived prune: %v", err)
	}
	if out := b.ok("images", "--filter", "dangling=true", "-q"); out != "" {
		t.Fatalf("image prune left dangling images: %q (%s)", out, id2)
	}
	if out := b.ok("run", "--rm", "named:1", "cat", "/f"); out != "x\n" {
		t.Fatalf("tagged commit: %q", out)
	}
	b.ok("rm", "base")
}

func TestEngineHealthcheck(t *testing.T) {
	b := newEB(t)
	b.ok("run", "-d", "--name", "hc", "--health-cmd", "test -f /ok", "--health-interval", "200ms", "--health-retries", "1", b.img, "sleep", "60")
	waitFor(t, "unhealthy", func() bool { return b.inspect("hc", "{{.State.Health.Status}}") == "unhealthy" })
	b.ok("exec", "hc", "touch", "/ok")
	waitFor(t, "healthy", func() bool { return b.inspect("hc", "{{.State.Health.Status}}") == "healthy" })
	if out := b.ok("ps", "--format", "{{.Status}}", "--filter", "health=healthy"); !strings.Contains(out, "(healthy)") {
		t.Fatalf("ps with health: %q", out)
	}
	b.ok("rm", "-f", "hc")
}

func TestEngineAttachLater(t *testing.T) {
	b := newEB(t)
	b.ok("run", "-d", "-i", "--name", "att", b.img, "sh", "-c", "read x; echo got $x; exit 3")
	out, _, code := b.run([]byte("hello\n"), "attach", "att")
	if code != 3 || out != "got hello\n" {
		t.Fatalf("attach: exit %d out %q", code, out)
	}
	b.code(125, "stopped container", "attach", "att")
	b.ok("rm", "att")
}

func TestEngineRmSemantics(t *testing.T) {
	b := newEB(t)
	b.ok("pull", "-q", b.img)
	// a bad create leaves nothing (and does not crash)
	b.code(125, "duplicate mount point", "create", "-v", "/a", "-v", "/a", b.img, "true")
	if n := b.containers(); n != 0 {
		t.Fatalf("failed create left %d containers", n)
	}
	if out := b.ok("volume", "ls", "-q"); out != "" {
		t.Fatalf("failed create left volumes: %q", out)
	}
	// --rm takes the anonymous volumes with the container
	for i := 0; i < 3; i++ {
		b.ok("run", "--rm", "-v", "/data", b.img, "true")
	}
	b.ok("run", "-d", "--rm", "-v", "/data", "--name", "rmd", b.img, "sleep", "60")
	b.ok("stop", "-t", "0", "rmd") // exit 0 although the container removed itself
	waitFor(t, "--rm volumes gone", func() bool { out, _, _ := b.run(nil, "volume", "ls", "-q"); return out == "" })
	// restart keeps a --rm container
	b.ok("run", "-d", "--rm", "--name", "rr", b.img, "sleep", "60")
	b.ok("restart", "-t", "0", "rr")
	if st := b.inspect("rr", "{{.State.Status}}"); st != "running" {
		t.Fatalf("after restart of a --rm container: %s", st)
	}
	b.ok("rm", "-f", "rr")
	// rm -f racing start: the container goes either way
	for i := 0; i < 5; i++ {
		id := strings.TrimSpace(b.ok("create", b.img, "sleep", "60"))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); b.run(nil, "start", id) }()
		b.ok("rm", "-f", id)
		wg.Wait()
		if _, _, code := b.run(nil, "inspect", "--type", "container", id); code == 0 {
			// start won the lock after rm: then it failed or the container runs
			b.ok("rm", "-f", id)
		}
	}
	// rm -f of what is not there is no error
	b.ok("rm", "-f", "nosuchcontainer")
	b.code(125, "No such container", "rm", "nosuchcontainer")
}
