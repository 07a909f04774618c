package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestRunExitCodes(t *testing.T) {
	e := newEnv(t)
	before := snapshotLeaks(t, "exit0")
	out := e.mustRun("exit0", testSpec("/bin/echo", "hello"))
	if out != "hello\n" {
		t.Fatalf("output %q", out)
	}
	e.write(testSpec("/bin/sh", "-c", "exit 7"), "")
	if _, code, err := e.run("exit7"); err != nil || code != 7 {
		t.Fatalf("exit 7: code %d err %v", code, err)
	}
	// pid 1 of a pid namespace ignores signals from inside it: kill the
	// shell's child instead, which the shell reports as 128+9.
	e.write(testSpec("/bin/sh", "-c", "sleep 100 & kill -9 $!; wait $!"), "")
	if _, code, err := e.run("killed"); err != nil || code != 128+9 {
		t.Fatalf("SIGKILL: code %d err %v", code, err)
	}
	before.check(t, snapshotLeaks(t, "exit0"), "run")
	mustNotExist(t, statePath(e.rt.Root, "exit0"))
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	e.write(testSpec("/bin/sleep", "1000"), "")
	id := "life"
	before := snapshotLeaks(t, id)
	pidFile := filepath.Join(t.TempDir(), "pid")
	c, err := e.rt.Create(id, CreateOpts{Bundle: e.bundle, PidFile: pidFile, Stdin: devNull(t), Stdout: devNull(t), Stderr: devNull(t)})
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st != specs.StateCreated {
		t.Fatalf("after create: %s", st)
	}
	b, _ := os.ReadFile(pidFile)
	if string(b) != fmt.Sprint(c.State.Pid) {
		t.Fatalf("pid file %q, pid %d", b, c.State.Pid)
	}
	// a second create with the same id fails and changes nothing
	if _, err := e.rt.Create(id, CreateOpts{Bundle: e.bundle}); !errors.Is(err, ErrExist) {
		t.Fatalf("duplicate id: %v", err)
	}
	c, err = e.rt.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, specs.StateRunning)
	if err := c.Start(); !errors.Is(err, ErrState) {
		t.Fatalf("second start: %v", err)
	}
	if err := c.Delete(false); !errors.Is(err, ErrState) {
		t.Fatalf("delete running without force: %v", err)
	}
	if err := c.Pause(); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st != StatusPaused {
		t.Fatalf("after pause: %s", st)
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	pids, err := c.Pids()
	if err != nil || len(pids) != 1 || pids[0] != c.State.Pid {
		t.Fatalf("pids %v (init %d) err %v", pids, c.State.Pid, err)
	}
	if err := c.Signal(unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, specs.StateStopped)
	if err := c.Signal(unix.SIGTERM, false); !errors.Is(err, ErrState) {
		t.Fatalf("kill stopped: %v", err)
	}
	if err := c.Delete(false); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, statePath(e.rt.Root, id))
	mustNotExist(t, fifoPath(e.rt.Root, id))
	if _, err := e.rt.Load(id); !errors.Is(err, ErrNotExist) {
		t.Fatalf("load deleted: %v", err)
	}
	before.check(t, snapshotLeaks(t, id), "create/start/kill/delete")
}

func TestDeleteCreated(t *testing.T) {
	e := newEnv(t)
	e.write(testSpec("/bin/true"), "")
	before := snapshotLeaks(t, "dc")
	c, err := e.rt.Create("dc", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	pid := c.State.Pid
	if err := c.Delete(false); !errors.Is(err, ErrState) {
		t.Fatalf("delete of a created container without force: %v", err)
	}
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	if _, alive := pidStart(pid); alive {
		t.Fatalf("init %d still alive after delete", pid)
	}
	before.check(t, snapshotLeaks(t, "dc"), "delete of a created container")
}

func TestProcessAttributes(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sh", "-c", strings.Join([]string{
		"echo host=$(hostname)",
		"echo id=$(id -u):$(id -g):$(id -G)",
		"echo cwd=$(pwd)",
		"echo env=$FOO",
		"echo nofile=$(ulimit -n)",
		"echo umask=$(umask)",
		"grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status | tr '\\t' ' '",
		"echo oom=$(cat /proc/self/oom_score_adj)",
		"echo keys=$(wc -c < /proc/keys)",
		"echo fw=$(ls /sys/firmware | wc -l)",
		"echo sysrw=$(echo 1 > /proc/sys/kernel/domainname 2>&1 && echo yes || echo no)",
		"echo rootro=$(touch /x 2>/dev/null && echo no || echo yes)",
		"echo shm=$(cat /proc/sys/kernel/shmmni)",
		"echo fds=$(ls /proc/self/fd | wc -l)",
	}, "; "))
	s.Hostname = "box1"
	s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{1002, 1003}}
	s.Process.Cwd = "/tmp/work"
	s.Process.Env = append(s.Process.Env, "FOO=bar baz")
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}}
	um := uint32(0o027)
	s.Process.User.Umask = &um
	oom := 123
	s.Process.OOMScoreAdj = &oom
	s.Root.Readonly = true
	s.Linux.Sysctl = map[string]string{"kernel.shmmni": "1234"}
	out := e.mustRun("attrs", s)
	for _, want := range []string{
		"host=box1", "id=1000:1001:1001 1002 1003", "cwd=/tmp/work", "env=bar baz", "nofile=321",
		"umask=0027", "CapEff: 0000000000000000", "CapBnd: 0000000020000420", "NoNewPrivs: 1",
		"oom=123", "keys=0", "fw=0", "sysrw=no", "rootro=yes", "shm=1234", "fds=4",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %q in output:\n%s", want, out)
		}
	}
}

func TestRootCapabilitiesAndNamespaces(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sh", "-c", "grep CapEff /proc/self/status | tr '\\t' ' '; echo pid1=$(cat /proc/1/comm); ls -d /proc/[0-9]* | wc -l; ip link 2>/dev/null | grep -c '^[0-9]' || cat /proc/net/dev | tail -n +3 | wc -l")
	s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN")
	s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
	s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_SYS_ADMIN")
	out := e.mustRun("caps", s)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || lines[0] != "CapEff: 0000000020200420" || lines[1] != "pid1=sh" || lines[3] != "1" {
		t.Fatalf("output:\n%s", out)
	}
}

func TestBadInputLeavesNothing(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		mutate func(s *specs.Spec) string // returns raw JSON override or ""
		want   string
	}{
		{"malformed", func(s *specs.Spec) string { return `{"ociVersion": "1.0.2", "process": ` }, "malformed JSON"},
		{"noversion", func(s *specs.Spec) string { s.Version = ""; return "" }, "ociVersion: missing"},
		{"rootfs", func(s *specs.Spec) string { s.Root.Path = "/nonexistent/rootfs"; return "" }, "root.path"},
		{"nsType", func(s *specs.Spec) string {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			return ""
		}, `unknown namespace type "bogus"`},
		{"nsDup", func(s *specs.Spec) string {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
			return ""
		}, "listed twice"},
		{"cap", func(s *specs.Spec) string { s.Process.Capabilities.Effective = []string{"CAP_NOPE"}; return "" }, "CAP_NOPE"},
		{"rlimit", func(s *specs.Spec) string {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}
			return ""
		}, "RLIMIT_BOGUS"},
		{"noexec", func(s *specs.Spec) string { s.Process.Args = []string{"/bin/does-not-exist"}; return "" }, "does-not-exist"},
		{"notInPath", func(s *specs.Spec) string { s.Process.Args = []string{"nosuchcmd"}; return "" }, "not found in $PATH"},
		{"badMount", func(s *specs.Spec) string {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/nonexistent-src", Options: []string{"bind"}})
			return ""
		}, "mounts[7]"},
		{"badCgroup", func(s *specs.Spec) string {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "999"}
			return ""
		}, "cpus"},
		{"hook", func(s *specs.Spec) string {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
			return ""
		}, "createRuntime hook #0"},
		// failures inside the init stage, reported under their field
		{"sysctl", func(s *specs.Spec) string { s.Linux.Sysctl = map[string]string{"net.no_such_knob": "1"}; return "" },
			`linux.sysctl "net.no_such_knob"="1": no such file or directory`},
		{"containerHook", func(s *specs.Spec) string {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo oops; exit 3"}}}}
			return ""
		}, "createContainer hook #0 (/bin/sh): exit status 3: oops"},
		{"hookMissing", func(s *specs.Spec) string {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/nonexistent-hook"}}}
			return ""
		}, "createContainer hook #0 (/nonexistent-hook): fork/exec /nonexistent-hook: no such file or directory"},
		{"hookTimeout", func(s *specs.Spec) string {
			one := 1
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "10"}, Timeout: &one}}}
			return ""
		}, "timed out after 1s"},
		{"device", func(s *specs.Spec) string {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}}
			return ""
		}, `linux.devices[0].type: "q"`},
		{"cwdFile", func(s *specs.Spec) string { s.Process.Cwd = "/bin/busybox"; return "" },
			`chdir to cwd "/bin/busybox": not a directory`},
		{"hostSysctl", func(s *specs.Spec) string {
			s.Linux.Sysctl = map[string]string{"kernel.printk_ratelimit": "6"}
			return ""
		},
			`"kernel.printk_ratelimit" is not in a separate kernel namespace`},
		{"hostNetSysctl", func(s *specs.Spec) string {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.UTSNamespace}}
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
			return ""
		}, `"net.ipv4.ip_forward" needs a network namespace of the container's own`},
		{"procOnFile", func(s *specs.Spec) string {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/bin/busybox", Type: "proc", Source: "proc"})
			return ""
		}, "mounts[7] (proc on /bin/busybox): create mount point: not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "bad-" + tc.name
			before := snapshotLeaks(t, id)
			s := testSpec("/bin/true")
			raw := tc.mutate(s)
			if s.Root.Path == "rootfs" {
				e.write(s, "")
			} else {
				e.write(s, s.Root.Path)
			}
			if raw != "" {
				os.WriteFile(filepath.Join(e.bundle, "config.json"), []byte(raw), 0o644)
			}
			_, err := e.rt.Create(id, e.quiet())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			mustNotExist(t, statePath(e.rt.Root, id))
			mustNotExist(t, fifoPath(e.rt.Root, id))
			before.check(t, snapshotLeaks(t, id), tc.name)
		})
	}
}

func TestBadIDAndSignal(t *testing.T) {
	for _, id := range []string{"", "../x", "a/b", ".."} {
		if err := ValidateID(id); !errors.Is(err, ErrBadID) {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for in, want := range map[string]syscall.Signal{"KILL": 9, "SIGTERM": 15, "9": 9, "SIGRTMIN+2": 36, "RTMAX": 64, "usr1": 10} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"SIGNOPE", "0", "65", "-3", "RTMIN+40"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) accepted", in)
		}
	}
}

// A create killed before it wrote its state leaves an empty state file:
// the id stays taken (no second container gets its cgroup and name), Load
// reports it as not existing, and delete --force's RemoveLeftovers frees it.
func TestKilledCreateLeftovers(t *testing.T) {
	e := newEnv(t)
	e.write(testSpec("/bin/true"), "")
	id := "leftover"
	if err := os.MkdirAll(e.rt.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statePath(e.rt.Root, id), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.Load(id); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Load of an empty state: %v", err)
	}
	opts := e.quiet()
	if _, err := e.rt.Create(id, opts); !errors.Is(err, ErrExist) {
		t.Fatalf("create over a leftover: %v", err)
	}
	if _, err := os.Stat(statePath(e.rt.Root, id)); err != nil {
		t.Fatalf("a refused create removed the other's state file: %v", err)
	}
	if cs, _ := e.rt.List(); len(cs) != 0 {
		t.Fatalf("list shows %d containers", len(cs))
	}
	if err := e.rt.RemoveLeftovers(id); err != nil {
		t.Fatal(err)
	}
	c, err := e.rt.Create(id, opts)
	if err != nil {
		t.Fatal(err)
	}
	if cs, _ := e.rt.List(); len(cs) != 1 || cs[0].State.ID != id || cs[0].Status() != specs.StateCreated {
		t.Fatalf("list after create: %v", cs)
	}
	if err := c.Delete(true); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, statePath(e.rt.Root, id))
	mustNotExist(t, fifoPath(e.rt.Root, id))
}

// sigHandler is the address of the process's current handler of sig.
func sigHandler(t *testing.T, sig syscall.Signal) uintptr {
	t.Helper()
	var act [4]uintptr // struct kernel_sigaction: handler, flags, restorer, mask
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&act[0])), 8, 0, 0); e != 0 {
		t.Fatal(e)
	}
	return act[0]
}

// A foreground run relays the signals its own process gets to the
// container's process (here a shell trapping them), and puts the process's
// handlers back when it returns.
func TestRunRelaysSignals(t *testing.T) {
	e := newEnv(t)
	before := snapshotLeaks(t, "relay")
	handlerBefore := sigHandler(t, unix.SIGUSR1)
	e.write(testSpec("/bin/sh", "-c", `trap "exit 42" USR1; while :; do sleep 0.02; done`), "")
	done := make(chan int, 1)
	go func() {
		code, err := e.rt.Run("relay", e.quiet(), false)
		if err != nil {
			t.Error(err)
		}
		done <- code
	}()
	// the handlers are in before the id is claimed: once the container
	// runs, SIGUSR1 no longer kills this test binary
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := e.rt.Load("relay"); err == nil && c.Status() == specs.StateRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("container never ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the shell has set its trap
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	select {
	case code := <-done:
		if code != 42 {
			t.Fatalf("container exited %d, want 42 (its SIGUSR1 trap)", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SIGUSR1 not relayed to the container")
	}
	if got := sigHandler(t, unix.SIGUSR1); got != handlerBefore {
		t.Errorf("SIGUSR1 handler %#x after run, want %#x as before", got, handlerBefore)
	}
	before.check(t, snapshotLeaks(t, "relay"), "run")
}
