package seccomp

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/berth-dev/berth/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func TestErrnoDefaultAndCustom(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")

	// Default errno (EPERM), with every flag the spec knows: the kernel
	// must accept the flags as Load passes them.
	p := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{FlagTsync, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
	})
	if want := uint(unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV); p.Flags != want {
		t.Errorf("Flags = %#x, want %#x", p.Flags, want)
	}
	res := runOps(t, p, "mkdirat "+a, "getppid")
	expectErrno(t, res, "mkdirat "+a, unix.EPERM)
	expectOK(t, res, "getppid")
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Errorf("%s was created despite the filter (stat: %v)", a, err)
	}

	// errnoRet 38 (ENOSYS), no flags.
	p = mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(38)}},
	})
	res = runOps(t, p, "mkdirat "+b)
	expectErrno(t, res, "mkdirat "+b, unix.Errno(38))

	// The same filter survives execve: busybox mkdir fails with ENOSYS.
	c := startChild(t, p, childOpts{exec: []string{testutil.BusyboxPath, "mkdir", b}})
	st := c.wait(t)
	if st.Success() || !strings.Contains(c.stderr.String(), "Function not implemented") {
		t.Errorf("busybox mkdir under the filter: %v, stderr %q", st, c.stderr.String())
	}
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Errorf("%s was created despite the filter", b)
	}
}

func TestArgumentFilters(t *testing.T) {
	testutil.RequireRoot(t)
	p := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			// Deny only the persona query value.
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
			// Two conditions on different args: ANDed.
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EAFNOSUPPORT)), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: unix.AF_INET, Op: specs.OpEqualTo},
				{Index: 1, Value: unix.SOCK_DGRAM, Op: specs.OpEqualTo},
			}},
			// Two conditions on the same arg: split into two rules, so ORed.
			{Names: []string{"unshare"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EACCES)), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: unix.CLONE_NEWUTS, ValueTwo: unix.CLONE_NEWUTS, Op: specs.OpMaskedEqual},
				{Index: 0, Value: unix.CLONE_NEWIPC, ValueTwo: unix.CLONE_NEWIPC, Op: specs.OpMaskedEqual},
			}},
		},
	})
	res := runOps(t, p,
		"personality 0xffffffff", "personality 0",
		fmt.Sprintf("socket %d %d", unix.AF_INET, unix.SOCK_DGRAM),
		fmt.Sprintf("socket %d %d", unix.AF_INET, unix.SOCK_STREAM),
		fmt.Sprintf("socket %d %d", unix.AF_UNIX, unix.SOCK_DGRAM),
		fmt.Sprintf("unshare %d", unix.CLONE_NEWUTS),
		fmt.Sprintf("unshare %d", unix.CLONE_NEWIPC),
		"unshare 0",
	)
	expectErrno(t, res, "personality 0xffffffff", unix.EPERM)
	expectOK(t, res, "personality 0")
	expectErrno(t, res, fmt.Sprintf("socket %d %d", unix.AF_INET, unix.SOCK_DGRAM), unix.EAFNOSUPPORT)
	expectOK(t, res, fmt.Sprintf("socket %d %d", unix.AF_INET, unix.SOCK_STREAM))
	expectOK(t, res, fmt.Sprintf("socket %d %d", unix.AF_UNIX, unix.SOCK_DGRAM))
	expectErrno(t, res, fmt.Sprintf("unshare %d", unix.CLONE_NEWUTS), unix.EACCES)
	expectErrno(t, res, fmt.Sprintf("unshare %d", unix.CLONE_NEWIPC), unix.EACCES)
	expectOK(t, res, "unshare 0")
}

func TestAllowListDefaultErrno(t *testing.T) {
	testutil.RequireRoot(t)
	cfg := dockerProfile()
	p := mustCompile(t, cfg)

	// Go itself keeps running on the filtered thread; mount/unshare of
	// namespaces are not on the list; a syscall number above everything the
	// profile names gets ENOSYS from the stub, clone3 its explicit ENOSYS.
	res := runOps(t, p, "getppid", "raw 1000",
		fmt.Sprintf("raw %d", unix.SYS_CLONE3),
		fmt.Sprintf("raw %d", unix.SYS_MOUNT),
		fmt.Sprintf("unshare %d", unix.CLONE_NEWNS),
		fmt.Sprintf("socket %d %d", unix.AF_UNIX, unix.SOCK_STREAM),
		fmt.Sprintf("socket %d %d", unix.AF_VSOCK, unix.SOCK_STREAM),
		"personality 0xffffffff", "personality 0x4")
	expectOK(t, res, "getppid")
	expectErrno(t, res, "raw 1000", unix.ENOSYS)
	expectErrno(t, res, fmt.Sprintf("raw %d", unix.SYS_CLONE3), unix.ENOSYS)
	expectErrno(t, res, fmt.Sprintf("raw %d", unix.SYS_MOUNT), unix.EPERM)
	expectErrno(t, res, fmt.Sprintf("unshare %d", unix.CLONE_NEWNS), unix.EPERM)
	expectOK(t, res, fmt.Sprintf("socket %d %d", unix.AF_UNIX, unix.SOCK_STREAM))
	expectErrno(t, res, fmt.Sprintf("socket %d %d", unix.AF_VSOCK, unix.SOCK_STREAM), unix.EPERM)
	expectOK(t, res, "personality 0xffffffff")
	expectErrno(t, res, "personality 0x4", unix.EPERM)

	// A real program runs under it after execve: a shell that forks.
	dir := t.TempDir()
	c := startChild(t, p, childOpts{exec: []string{testutil.BusyboxPath, "sh", "-c",
		"echo hello; " + testutil.BusyboxPath + " mount -t tmpfs none " + dir + "; echo rc=$?"}})
	st := c.wait(t)
	if !st.Success() {
		t.Fatalf("busybox sh under the allow-list: %v, stderr %q", st, c.stderr.String())
	}
	if out := c.stdout.String(); !strings.HasPrefix(out, "hello\nrc=") || out == "hello\nrc=0\n" ||
		!strings.Contains(strings.ToLower(c.stderr.String()), "permi") { // EPERM: "permission denied"/"not permitted"
		t.Errorf("stdout %q stderr %q, want hello and a refused mount", out, c.stderr.String())
	}

	// With defaultErrnoRet ENOSYS there is no stub (nothing to change).
	cfg.DefaultErrnoRet = uintp(uint(unix.ENOSYS))
	p2 := mustCompile(t, cfg)
	if len(p2.Filter) >= len(p.Filter) {
		t.Errorf("ENOSYS default: %d instructions, want fewer than %d (no stub)", len(p2.Filter), len(p.Filter))
	}
	res = runOps(t, p2, fmt.Sprintf("raw %d", unix.SYS_MOUNT), "raw 1000")
	expectErrno(t, res, fmt.Sprintf("raw %d", unix.SYS_MOUNT), unix.ENOSYS)
	expectErrno(t, res, "raw 1000", unix.ENOSYS)
}

func TestKillProcessAndTrap(t *testing.T) {
	testutil.RequireRoot(t)
	p := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActKillProcess}},
	})
	c := startChild(t, p, childOpts{ops: []string{"getppid"}})
	st := c.wait(t)
	ws := st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Errorf("KILL_PROCESS: child ended with %v, want killed by SIGSYS (stdout %q)", st, c.stdout.String())
	}

	// TRAP sends SIGSYS to the caller: busybox does not handle it.
	p = mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActTrap}},
	})
	c = startChild(t, p, childOpts{exec: []string{testutil.BusyboxPath, "uname"}})
	st = c.wait(t)
	ws = st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Errorf("TRAP: busybox uname ended with %v, want SIGSYS (stdout %q)", st, c.stdout.String())
	}
}

func TestNotify(t *testing.T) {
	testutil.RequireRoot(t)
	if !NotifySupported() {
		t.Skip("kernel lacks seccomp user notification")
	}
	p := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     "/set/by/test",
		ListenerMetadata: "agent-meta",
		Flags:            []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv},
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}},
	})
	if !p.Notify {
		t.Fatal("Notify not set for a SCMP_ACT_NOTIFY rule")
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	c := startChild(t, p, childOpts{ops: []string{"getppid"}, listener: sock, metadata: "agent-meta"})
	fd, state := acceptListener(t, ln)
	defer unix.Close(fd)
	if state.Pid != c.cmd.Process.Pid || state.Metadata != "agent-meta" || state.Version != specs.Version ||
		!slices.Equal(state.Fds, []string{specs.SeccompFdName}) || state.State.ID != "seccomp-test" {
		t.Errorf("container process state = %+v", state)
	}

	// The child is now blocked in getppid until we answer.
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 30_000); err != nil || n != 1 {
		t.Fatalf("no notification (poll %d, %v); child stderr %q", n, err, c.stderr.String())
	}
	req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
	if err != nil {
		t.Fatalf("NOTIF_RECV: %v", err)
	}
	name, _ := req.Data.Syscall.GetName()
	if name != "getppid" || int(req.Pid) != c.cmd.Process.Pid {
		t.Errorf("notification for %q from pid %d, want getppid from %d", name, req.Pid, c.cmd.Process.Pid)
	}
	if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), &libseccomp.ScmpNotifResp{ID: req.ID, Val: 4242}); err != nil {
		t.Fatalf("NOTIF_SEND: %v", err)
	}
	res := c.results(t)
	if r := res["getppid"]; r.Ret != 4242 || r.Errno != 0 {
		t.Errorf("getppid under the agent returned %+v, want 4242 from the agent", r)
	}
}

// acceptListener receives one SCM_RIGHTS fd and the JSON state, as a seccomp
// agent does.
func acceptListener(t *testing.T, ln *net.UnixListener) (int, specs.ContainerProcessState) {
	t.Helper()
	_ = ln.SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer conn.Close()
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("recvmsg: %v", err)
	}
	payload := append([]byte(nil), buf[:n]...)
	for { // the spec says one state per connection, then close: read to EOF
		m, err := conn.Read(buf)
		payload = append(payload, buf[:m]...)
		if err != nil {
			break
		}
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v (%d)", err, len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("SCM_RIGHTS: %v %v", fds, err)
	}
	var st specs.ContainerProcessState
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatalf("state %q: %v", payload, err)
	}
	return fds[0], st
}

func TestSendListener(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	mfd, err := unix.MemfdCreate("listener-stand-in", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mfd)

	st := specs.ContainerProcessState{Pid: 4321, Metadata: "m1",
		State: specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreated, Pid: 4321, Bundle: "/b",
			Annotations: map[string]string{"k": "v"}}}
	errc := make(chan error, 1)
	go func() { errc <- SendListener(sock, mfd, st) }()
	fd, got := acceptListener(t, ln)
	defer unix.Close(fd)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(mfd, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(fd, &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Errorf("received fd is inode %d, sent %d", b.Ino, a.Ino)
	}
	want := st
	want.Version, want.Fds = specs.Version, []string{"seccompFd"}
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if string(wj) != string(gj) {
		t.Errorf("state\n got %s\nwant %s", gj, wj)
	}

	// Failure paths: nothing listening, bad fd.
	if err := SendListener(filepath.Join(t.TempDir(), "none.sock"), mfd, st); err == nil {
		t.Error("SendListener to a missing socket succeeded")
	}
	if err := SendListener(sock, -1, st); err == nil {
		t.Error("SendListener of fd -1 succeeded")
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(nil); err == nil {
		t.Error("Load(nil) succeeded")
	}
	if _, err := Load(&Program{}); err == nil {
		t.Error("Load of an empty program succeeded")
	}
}

func TestKnown(t *testing.T) {
	actions, ops, archs, flags := Known()
	if len(actions) != 9 || !slices.Contains(actions, "SCMP_ACT_NOTIFY") || !slices.Contains(actions, "SCMP_ACT_KILL_PROCESS") {
		t.Errorf("actions = %v", actions)
	}
	if len(ops) != 7 || !slices.Contains(ops, "SCMP_CMP_MASKED_EQ") {
		t.Errorf("operators = %v", ops)
	}
	nat, err := host()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(archs, string(nat.spec)) {
		t.Errorf("archs %v lack the native %s", archs, nat.spec)
	}
	if len(flags) != 4 || !slices.IsSorted(flags) {
		t.Errorf("flags = %v", flags)
	}
	// Every known arch compiles; every flag the kernel reports loads (TestErrnoDefaultAndCustom).
	for _, a := range archs {
		if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}); err != nil {
			t.Errorf("known arch %s: %v", a, err)
		}
	}
	sup := SupportedFlags()
	for _, f := range sup {
		if !slices.Contains(flags, f) {
			t.Errorf("supported flag %s not known", f)
		}
	}
	t.Logf("libseccomp %s; archs %v; kernel flags %v; notify %v", LibseccompVersion(), archs, sup, NotifySupported())
}

// Load runs in init between fork and exec: it must not allocate. Measured
// on a throw-away thread (locked and never unlocked, so Go ends the thread,
// and its filters, with the goroutine).
func TestLoadDoesNotAllocate(t *testing.T) {
	p := mustCompile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}}})
	type result struct {
		allocs float64
		err    error
		errno  unix.Errno
	}
	target := filepath.Join(t.TempDir(), "x")
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			done <- result{err: err}
			return
		}
		var loadErr error
		allocs := testing.AllocsPerRun(3, func() {
			if _, err := Load(p); err != nil {
				loadErr = err
			}
		})
		// The filter is active on this thread only.
		path, _ := unix.BytePtrFromString(target)
		_, _, errno := unix.RawSyscall(unix.SYS_MKDIRAT, atFDCWD, uintptr(unsafe.Pointer(path)), 0o755)
		done <- result{allocs, loadErr, errno}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.allocs != 0 {
		t.Errorf("Load allocates %v times per call, want 0", r.allocs)
	}
	if r.errno != unix.EPERM {
		t.Errorf("mkdirat on the filtered thread: %v, want EPERM", r.errno)
	}
	// Other threads are not filtered (no TSYNC).
	if err := os.Mkdir(filepath.Join(t.TempDir(), "y"), 0o755); err != nil {
		t.Errorf("mkdir on another thread: %v", err)
	}
}
