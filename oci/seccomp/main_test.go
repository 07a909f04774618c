package seccomp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The test binary re-execs itself as a "container init": it reads a
// marshalled Program from fd 3 (as berth's init reads it from a pipe), loads
// it on its locked thread and then either runs syscalls on that thread and
// reports what they returned, or execs a command (the filter is inherited).
const (
	envChild  = "BERTH_SECCOMP_TEST_CHILD"
	envOps    = "BERTH_SECCOMP_TEST_OPS"
	envExec   = "BERTH_SECCOMP_TEST_EXEC"
	envNotify = "BERTH_SECCOMP_TEST_LISTENER"
	envMeta   = "BERTH_SECCOMP_TEST_METADATA"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		childMain()
		return
	}
	os.Exit(m.Run())
}

type opResult struct {
	Op    string `json:"op"`
	Ret   int64  `json:"ret"`
	Errno int    `json:"errno"`
}

func childMain() {
	runtime.LockOSThread()
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
		os.Exit(100)
	}
	// KILL_PROCESS and TRAP end in SIGSYS, which dumps core by default.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	data, err := io.ReadAll(os.NewFile(3, "program"))
	if err != nil {
		fail("read program: %v", err)
	}
	var p Program
	if err := p.UnmarshalBinary(data); err != nil {
		fail("%v", err)
	}
	var argv []string
	if e := os.Getenv(envExec); e != "" {
		if err := json.Unmarshal([]byte(e), &argv); err != nil {
			fail("exec args: %v", err)
		}
	}
	ops := strings.Split(os.Getenv(envOps), ";")
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail("no_new_privs: %v", err)
	}

	fd, err := Load(&p)
	if err != nil {
		fail("%v", err)
	}
	if sock := os.Getenv(envNotify); sock != "" {
		st := specs.ContainerProcessState{Pid: os.Getpid(), Metadata: os.Getenv(envMeta),
			State: specs.State{Version: specs.Version, ID: "seccomp-test", Status: specs.StateCreating, Pid: os.Getpid(), Bundle: "/nonexistent"}}
		if err := SendListener(sock, fd, st); err != nil {
			fail("%v", err)
		}
		unix.Close(fd)
	} else if fd != -1 {
		fail("Load returned fd %d without notify", fd)
	}
	if argv != nil {
		err := unix.Exec(argv[0], argv, os.Environ())
		fail("exec %v: %v", argv, err)
	}
	var res []opResult
	for _, op := range ops {
		if op == "" {
			continue
		}
		r, errno := runOp(op)
		res = append(res, opResult{Op: op, Ret: r, Errno: int(errno)})
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fail("report: %v", err)
	}
	os.Exit(0)
}

// runOp makes one raw syscall on this (filtered) thread, so Go's wrappers
// cannot retry or hide what the filter returned.
func runOp(op string) (int64, unix.Errno) {
	f := strings.Fields(op)
	num := func(i int) uintptr {
		v, err := strconv.ParseUint(f[i], 0, 64)
		if err != nil {
			panic(err)
		}
		return uintptr(v)
	}
	var r uintptr
	var errno unix.Errno
	switch f[0] {
	case "mkdirat":
		path, _ := unix.BytePtrFromString(f[1])
		r, _, errno = unix.RawSyscall(unix.SYS_MKDIRAT, atFDCWD, uintptr(unsafe.Pointer(path)), 0o755)
	case "personality":
		r, _, errno = unix.RawSyscall(unix.SYS_PERSONALITY, num(1), 0, 0)
	case "socket":
		r, _, errno = unix.RawSyscall(unix.SYS_SOCKET, num(1), num(2), 0)
		if errno == 0 {
			unix.Close(int(r))
			r = 0 // the fd number is not interesting
		}
	case "getppid":
		r, _, errno = unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	case "raw":
		r, _, errno = unix.RawSyscall(num(1), 0, 0, 0)
	case "unshare":
		r, _, errno = unix.RawSyscall(unix.SYS_UNSHARE, num(1), 0, 0)
	default:
		panic("unknown op " + op)
	}
	if errno != 0 {
		return -1, errno
	}
	return int64(r), 0
}

type child struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	cancel         context.CancelFunc
}

type childOpts struct {
	ops      []string
	exec     []string
	listener string
	metadata string
}

// startChild starts the re-exec'd init with p on fd 3.
func startChild(t *testing.T, p *Program, o childOpts) *child {
	t.Helper()
	data, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// A safety net against a hung child, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	c := &child{cancel: cancel}
	c.cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), envChild+"=1", envOps+"="+strings.Join(o.ops, ";"))
	if o.exec != nil {
		js, _ := json.Marshal(o.exec)
		c.cmd.Env = append(c.cmd.Env, envExec+"="+string(js))
	}
	if o.listener != "" {
		c.cmd.Env = append(c.cmd.Env, envNotify+"="+o.listener, envMeta+"="+o.metadata)
	}
	c.cmd.ExtraFiles = []*os.File{r}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	r.Close()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return c
}

// wait returns the child's exit status, whatever it is.
func (c *child) wait(t *testing.T) *os.ProcessState {
	t.Helper()
	defer c.cancel()
	_ = c.cmd.Wait()
	return c.cmd.ProcessState
}

// results waits for a probing child and decodes its report.
func (c *child) results(t *testing.T) map[string]opResult {
	t.Helper()
	st := c.wait(t)
	if !st.Success() {
		t.Fatalf("child failed: %v\nstderr: %s", st, c.stderr.String())
	}
	var res []opResult
	if err := json.Unmarshal(c.stdout.Bytes(), &res); err != nil {
		t.Fatalf("child report %q: %v (stderr %s)", c.stdout.String(), err, c.stderr.String())
	}
	m := map[string]opResult{}
	for _, r := range res {
		m[r.Op] = r
	}
	return m
}

func runOps(t *testing.T, p *Program, ops ...string) map[string]opResult {
	t.Helper()
	return startChild(t, p, childOpts{ops: ops}).results(t)
}

func mustCompile(t testing.TB, cfg *specs.LinuxSeccomp) *Program {
	t.Helper()
	p, err := Compile(cfg)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func expectErrno(t *testing.T, res map[string]opResult, op string, want unix.Errno) {
	t.Helper()
	r, ok := res[op]
	if !ok {
		t.Fatalf("%s: no result", op)
	}
	if unix.Errno(r.Errno) != want {
		t.Errorf("%s: errno %d (%v), want %d (%v)", op, r.Errno, unix.Errno(r.Errno), int(want), want)
	}
}

func expectOK(t *testing.T, res map[string]opResult, op string) {
	t.Helper()
	expectErrno(t, res, op, 0)
}

func uintp(v uint) *uint { return &v }

var fdcwd = unix.AT_FDCWD

// atFDCWD is AT_FDCWD (-100) as a raw syscall argument.
var atFDCWD = uintptr(fdcwd)
