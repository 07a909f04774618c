package oci

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/oci/cgroups"
)

func TestHooksOrderAndState(t *testing.T) {
	e := newEnv(t)
	log := filepath.Join(t.TempDir(), "hooks.log")
	hook := func(name string) specs.Hook {
		// each hook appends "name status pid-from-state" to the log
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
			`s=$(cat); st=$(echo "$s" | sed 's/.*"status":"\([a-z]*\)".*/\1/'); echo "` + name + ` $st" >> ` + log}}
	}
	s := testSpec("/bin/true")
	s.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{hook("prestart")},
		CreateRuntime:   []specs.Hook{hook("createRuntime")},
		CreateContainer: []specs.Hook{hook("createContainer")},
		StartContainer:  []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo startContainer > /tmp/started"}}},
		Poststart:       []specs.Hook{hook("poststart")},
		Poststop:        []specs.Hook{hook("poststop")},
	}
	rootfs := privateRootfs(t)
	e.write(s, rootfs)
	out, code, err := e.run("hooks")
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v out %s", code, err, out)
	}
	b, _ := os.ReadFile(log)
	want := "prestart creating\ncreateRuntime creating\ncreateContainer created\npoststart running\npoststop stopped\n"
	if string(b) != want {
		t.Fatalf("hook log:\n%s\nwant:\n%s", b, want)
	}
	// startContainer ran inside the container (its /tmp is the rootfs's)
	if b, err := os.ReadFile(filepath.Join(rootfs, "tmp/started")); err != nil || string(b) != "startContainer\n" {
		t.Fatalf("startContainer hook: %q %v", b, err)
	}
}

// copyRootfs makes a private busybox rootfs (for tests that write to it).
func copyRootfs(t *testing.T, dir string) {
	t.Helper()
	src := sharedRootfs(t)
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(dir, rel)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			os.Symlink(l, dst)
		case fi.IsDir():
			os.MkdirAll(dst, fi.Mode().Perm())
		default:
			if os.Link(p, dst) != nil {
				b, _ := os.ReadFile(p)
				os.WriteFile(dst, b, fi.Mode().Perm())
			}
		}
		return nil
	})
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sleep", "1000")
	s.Hostname = "execbox"
	e.write(s, "")
	c, err := e.rt.Create("ex", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	p := &specs.Process{Args: []string{"/bin/sh", "-c", "hostname; id -u; cat /proc/1/comm; pwd; grep CapEff /proc/self/status | tr '\\t' ' '; exit 3"},
		Env: []string{"PATH=/bin"}, Cwd: "/tmp", User: specs.User{UID: 1234, GID: 1234},
		// a non-root user keeps capabilities across exec only as ambient ones
		Capabilities: &specs.LinuxCapabilities{Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
			Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}, Bounding: []string{"CAP_KILL"}}}
	code, err := c.Exec(ExecOpts{Process: p, Stdin: devNull(t), Stdout: w, Stderr: w})
	w.Close()
	out, _ := bufio.NewReader(r).ReadString(0)
	if err != nil || code != 3 {
		t.Fatalf("exec: code %d err %v out %s", code, err, out)
	}
	if want := "execbox\n1234\nsleep\n/tmp\nCapEff: 0000000000000020\n"; out != want {
		t.Fatalf("exec output %q, want %q", out, want)
	}
	// a detached exec lands in every cgroup of the container
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	if _, err := c.Exec(ExecOpts{Process: &specs.Process{Args: []string{"/bin/sleep", "100"}, Env: []string{"PATH=/bin"}, Cwd: "/"},
		Detach: true, PidFile: pidFile, Stdin: devNull(t), Stdout: devNull(t), Stderr: devNull(t)}); err != nil {
		t.Fatal(err)
	}
	pb, _ := os.ReadFile(pidFile)
	cgb, _ := os.ReadFile("/proc/" + string(pb) + "/cgroup")
	for _, l := range strings.Split(strings.TrimSpace(string(cgb)), "\n") {
		if !strings.HasSuffix(l, ":/ex") {
			t.Errorf("exec'd process %s not in the container cgroup: %s", pb, l)
		}
	}
	// The test process became a subreaper for the foreground exec above,
	// so it inherited this one: reap it, or the pid namespace's init could
	// not finish dying below.
	if epid, err := strconv.Atoi(string(pb)); err == nil {
		unix.Kill(epid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(epid, &ws, 0, nil)
	}
	// exec of a missing binary: clear error, exit 127 semantics
	_, err = c.Exec(ExecOpts{Process: &specs.Process{Args: []string{"nosuch"}, Env: []string{"PATH=/bin"}, Cwd: "/"}, Stdin: devNull(t), Stdout: devNull(t), Stderr: devNull(t)})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("exec missing binary: %v", err)
	}
	c.Signal(unix.SIGKILL, false)
	waitStatus(t, c, specs.StateStopped)
	if _, err := c.Exec(ExecOpts{Process: p}); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("exec into stopped container: %v", err)
	}
}

func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sh", "-c", "tty; echo hello-pty")
	s.Process.Terminal = true
	e.write(s, "")
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.(*net.UnixConn).ReadMsgUnix(buf, oob)
		if err != nil {
			got <- err.Error()
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		fds, _ := unix.ParseUnixRights(&msgs[0])
		master := os.NewFile(uintptr(fds[0]), "pty")
		defer master.Close()
		var all strings.Builder
		rd := bufio.NewReader(master)
		master.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			line, err := rd.ReadString('\n')
			all.WriteString(line)
			if err != nil || strings.Contains(all.String(), "hello-pty") {
				break
			}
		}
		got <- all.String()
	}()
	code, err := e.rt.Run("tty", CreateOpts{Bundle: e.bundle, ConsoleSocket: sock}, false)
	if err != nil || code != 0 {
		t.Fatalf("run: %d %v", code, err)
	}
	out := <-got
	if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "hello-pty") {
		t.Fatalf("pty output %q", out)
	}
}

func TestSeccompBlocksSyscall(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sh", "-c", "mkdir /tmp/x && echo made || echo denied; echo ok > /tmp/y && echo wrote")
	errno := uint(1)
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &errno}}}
	rootfs := privateRootfs(t)
	e.write(s, rootfs)
	out, code, err := e.run("sc")
	if err != nil || code != 0 || !strings.Contains(out, "denied") || !strings.Contains(out, "wrote") {
		t.Fatalf("code %d err %v out %q", code, err, out)
	}
}

func TestCgroupResourcesAndUpdate(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sleep", "1000")
	lim, pids, shares := int64(64<<20), int64(50), uint64(512)
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &lim}
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: pids}
	s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares}
	e.write(s, "")
	c, err := e.rt.Create("cg", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	c.Start()
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return strings.TrimSpace(string(b))
	}
	if got := read("/sys/fs/cgroup/memory/cg/memory.limit_in_bytes"); got != strconv.FormatInt(lim, 10) {
		t.Errorf("memory limit %s", got)
	}
	if got := read("/sys/fs/cgroup/pids/cg/pids.max"); got != "50" {
		t.Errorf("pids.max %s", got)
	}
	if got := read("/sys/fs/cgroup/cpu/cg/cpu.shares"); got != "512" {
		t.Errorf("cpu.shares %s", got)
	}
	if !strings.Contains(read("/sys/fs/cgroup/memory/cg/cgroup.procs"), strconv.Itoa(c.State.Pid)) {
		t.Errorf("init %d not in memory cgroup", c.State.Pid)
	}
	lim2 := int64(128 << 20)
	if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim2}, Pids: &specs.LinuxPids{Limit: 99}}); err != nil {
		t.Fatal(err)
	}
	if got := read("/sys/fs/cgroup/memory/cg/memory.limit_in_bytes"); got != strconv.FormatInt(lim2, 10) {
		t.Errorf("updated memory limit %s", got)
	}
	c2, _ := e.rt.Load("cg")
	if *c2.State.Spec.Linux.Resources.Memory.Limit != lim2 || c2.State.Spec.Linux.Resources.Pids.Limit != 99 {
		t.Errorf("update not recorded in state")
	}
	st, err := c.Stats()
	if err != nil || st.Pids.Current != 1 || st.Memory.Usage.Usage == 0 {
		b, _ := json.Marshal(st)
		t.Errorf("stats %s err %v", b, err)
	}
}

func TestPreserveFDs(t *testing.T) {
	e := newEnv(t)
	e.write(testSpec("/bin/sh", "-c", "echo via-fd3 >&3; ls /proc/self/fd | wc -l"), "")
	// fd 3 of the runtime process becomes fd 3 of the container: the test
	// process dups a pipe there for the duration of the run.
	r, w, _ := os.Pipe()
	saved, _ := unix.Dup(3)
	unix.Dup3(int(w.Fd()), 3, 0)
	out, code, err := e.run("pfd-none") // without --preserve-fds fd 3 must not leak
	if err != nil || code != 0 || strings.TrimSpace(out) != "4" && !strings.Contains(out, "Bad file descriptor") {
		unix.Dup3(saved, 3, 0)
		t.Fatalf("without preserve: code %d err %v out %q", code, err, out)
	}
	// A createContainer hook, run by init, gets stdio only: not the
	// preserved fd (the container's) nor any of the runtime's.
	hookOut := filepath.Join(t.TempDir(), "hook-fds")
	s := testSpec("/bin/sh", "-c", "echo via-fd3 >&3; ls /proc/self/fd | wc -l")
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "ls /proc/self/fd > " + hookOut}}}}
	e.write(s, "")
	rr, ww, _ := os.Pipe()
	var buf strings.Builder
	done := make(chan bool)
	go func() { b := make([]byte, 256); n, _ := rr.Read(b); buf.Write(b[:n]); done <- true }()
	code, err = e.rt.Run("pfd", CreateOpts{Bundle: e.bundle, PreserveFDs: 1, Stdin: devNull(t), Stdout: ww, Stderr: ww}, false)
	unix.Dup3(saved, 3, 0)
	unix.Close(saved)
	w.Close()
	ww.Close()
	b := make([]byte, 64)
	n, _ := r.Read(b)
	<-done
	if err != nil || code != 0 || string(b[:n]) != "via-fd3\n" || strings.TrimSpace(buf.String()) != "5" {
		t.Fatalf("preserve-fds: code %d err %v fd3 %q out %q", code, err, b[:n], buf.String())
	}
	// 0 1 2, and ls's own directory fd
	if hb, err := os.ReadFile(hookOut); err != nil || len(strings.Fields(string(hb))) != 4 {
		t.Fatalf("createContainer hook saw fds %q (%v), want only stdio", hb, err)
	}
}

func TestJoinNamespaceByPath(t *testing.T) {
	e := newEnv(t)
	// a first container holds uts+net namespaces; a second joins them
	s := testSpec("/bin/sleep", "1000")
	s.Hostname = "holder"
	e.write(s, "")
	holder, err := e.rt.Create("holder", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Delete(true)
	holder.Start()
	s2 := testSpec("/bin/sh", "-c", "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/mnt")
	s2.Hostname = "" // keep the holder's
	var ns []specs.LinuxNamespace
	for _, n := range s2.Linux.Namespaces {
		switch n.Type {
		case specs.UTSNamespace, specs.NetworkNamespace, specs.IPCNamespace:
			n.Path = "/proc/" + strconv.Itoa(holder.State.Pid) + "/ns/" + nsTypes[n.Type]
		}
		ns = append(ns, n)
	}
	s2.Linux.Namespaces = ns
	out := e.mustRun("joiner", s2)
	hostNet, _ := os.Readlink("/proc/" + strconv.Itoa(holder.State.Pid) + "/ns/net")
	hostMnt, _ := os.Readlink("/proc/" + strconv.Itoa(holder.State.Pid) + "/ns/mnt")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "holder" || lines[1] != hostNet || lines[2] == hostMnt {
		t.Fatalf("joined namespaces: %q (holder net %s mnt %s)", out, hostNet, hostMnt)
	}
}

func TestUserNamespace(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sh", "-c", "id -u; cat /proc/self/uid_map | tr -s ' '")
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	// the rootfs must be usable by the mapped root: a private, chowned copy
	rootfs := t.TempDir()
	copyRootfs(t, rootfs)
	filepath.Walk(rootfs, func(p string, fi os.FileInfo, err error) error {
		os.Lchown(p, 100000, 100000)
		return nil
	})
	os.Chmod(rootfs, 0o755)
	os.Chmod(filepath.Dir(rootfs), 0o755) // the mapped root must reach it
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination == "/sys" {
			m = specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		}
		if m.Destination == "/sys/fs/cgroup" {
			continue
		}
		mounts = append(mounts, m)
	}
	s.Mounts = mounts
	e.write(s, rootfs)
	out, code, err := e.run("userns")
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v out %s", code, err, out)
	}
	if !strings.HasPrefix(out, "0\n") || !strings.Contains(out, "0 100000 65536") {
		t.Fatalf("output %q", out)
	}
	// exec joins the user namespace too (through the nsenter constructor)
	s.Process.Args = []string{"/bin/sleep", "100"}
	e.write(s, rootfs)
	c, err := e.rt.Create("userns2", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	code, err = c.Exec(ExecOpts{Process: &specs.Process{Args: []string{"/bin/sh", "-c", "id -u; cat /proc/self/uid_map | tr -s ' '"}, Env: []string{"PATH=/bin"}, Cwd: "/"},
		Stdin: devNull(t), Stdout: w, Stderr: w})
	w.Close()
	b := make([]byte, 256)
	n, _ := r.Read(b)
	if err != nil || code != 0 || !strings.HasPrefix(string(b[:n]), "0\n") || !strings.Contains(string(b[:n]), "0 100000 65536") {
		t.Fatalf("exec in userns: code %d err %v out %q", code, err, b[:n])
	}
}

func TestProcessSchedulingAndPersonality(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sh", "-c", "uname -m; cat /proc/self/sched | grep -E '^policy' | tr -s ' '; cat /proc/self/stat | cut -d' ' -f19; ionice 2>/dev/null || echo noionice")
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
	s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE, Priority: 0}
	out := e.mustRun("sched", s)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || lines[0] != "i686" || lines[1] != "policy : 3" || lines[2] != "5" {
		t.Fatalf("output %q", out)
	}
	if len(lines) > 3 && lines[3] != "noionice" && !strings.Contains(lines[3], "idle") {
		t.Fatalf("ionice: %q", lines[3])
	}
}

func TestTimeNamespaceOffsets(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	e := newEnv(t)
	s := testSpec("/bin/sh", "-c", "cut -d. -f1 /proc/uptime")
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400 * 365}, "monotonic": {Secs: 3600}}
	out := e.mustRun("timens", s)
	up, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || up < 86400*365 {
		t.Fatalf("uptime in container %q: want the boottime offset applied", out)
	}
}

func TestKillAllAndIdmapRefused(t *testing.T) {
	e := newEnv(t)
	e.write(testSpec("/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"), "")
	c, err := e.rt.Create("killall", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	deadline := time.Now().Add(3 * time.Second)
	for {
		pids, _ := c.Pids()
		if len(pids) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pids %v", pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Signal(unix.SIGKILL, true); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, specs.StateStopped)
	if err := c.Delete(false); err != nil {
		t.Fatal(err)
	}
	s := testSpec("/bin/true")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Source: t.TempDir(), Type: "bind", Options: []string{"bind", "idmap"}})
	e.write(s, "")
	if _, _, err := e.run("idmap"); err == nil || !strings.Contains(err.Error(), "idmapped") {
		t.Fatalf("idmap mount: %v", err)
	}
}

func TestSeccompNotifyListener(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type got struct {
		state specs.ContainerProcessState
		fd    int
		err   error
	}
	gc := make(chan got, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			gc <- got{err: err}
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 8192), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.(*net.UnixConn).ReadMsgUnix(buf, oob)
		if err != nil {
			gc <- got{err: err}
			return
		}
		var g got
		g.err = json.Unmarshal(buf[:n], &g.state)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) > 0 {
			fds, _ := unix.ParseUnixRights(&msgs[0])
			if len(fds) > 0 {
				g.fd = fds[0]
			}
		}
		gc <- g
	}()
	s := testSpec("/bin/true")
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: sock, ListenerMetadata: "meta",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdirat"}, Action: specs.ActNotify}}}
	e.write(s, "")
	c, err := e.rt.Create("notify", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	g := <-gc
	if g.err != nil || g.fd <= 0 || g.state.Metadata != "meta" || g.state.State.ID != "notify" || g.state.Pid != c.State.Pid {
		t.Fatalf("listener got %+v", g)
	}
	unix.Close(g.fd)
}

// Hooks run by the init stage: the container process does not inherit the
// SIGPIPE disposition used while feeding a hook; a hook that leaves a
// child holding its output does not hang create; the timeout covers a
// hook that never reads a large state from its stdin.
func TestInitHooksEdgeCases(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sh", "-c", "grep SigIgn /proc/self/status")
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{
		{Path: "/bin/true"},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "(sleep 1000 &); exit 0"}},
	}}
	e.write(s, "")
	out, code, err := e.run("hooks-pipe")
	ign, perr := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "SigIgn:")), 16, 64)
	if err != nil || code != 0 || perr != nil || ign&(1<<(unix.SIGPIPE-1)) != 0 {
		t.Fatalf("code %d err %v out %q: SIGPIPE must not stay ignored", code, err, out)
	}
	// (the hook's sleep is in the container's pid namespace: gone with it)

	one := 1
	s = testSpec("/bin/true")
	s.Annotations = map[string]string{"big": strings.Repeat("x", 200<<10)} // more than a pipe holds
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "1000"}, Timeout: &one}}}
	e.write(s, "")
	_, err = e.rt.Create("hooks-stdin", e.quiet())
	if err == nil || !strings.Contains(err.Error(), "createContainer hook #0 (/bin/sleep): timed out after 1s") {
		t.Fatalf("err = %v", err)
	}
	mustNotExist(t, statePath(e.rt.Root, "hooks-stdin"))
}

// A relative args[0] is found from process.cwd, as runc does.
func TestRelativeExecutableFromCwd(t *testing.T) {
	e := newEnv(t)
	rootfs := privateRootfs(t)
	os.MkdirAll(filepath.Join(rootfs, "srv"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "srv/app"), []byte("#!/bin/sh\necho app ran in $(pwd)\n"), 0o755)
	s := testSpec("./app")
	s.Process.Cwd = "/srv"
	e.write(s, rootfs)
	out, code, err := e.run("relexec")
	if err != nil || code != 0 || strings.TrimSpace(out) != "app ran in /srv" {
		t.Fatalf("code %d err %v out %q", code, err, out)
	}
}

// exec into a container without a mount namespace runs in its rootfs, not
// in the host's root.
func TestExecWithoutMountNamespace(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/sleep", "1000")
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.UTSNamespace}, {Type: specs.IPCNamespace}}
	s.Mounts = nil
	e.write(s, "")
	c, err := e.rt.Create("nomnt", e.quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(true)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	code, err := c.Exec(ExecOpts{Process: &specs.Process{Args: []string{"/bin/ls", "/"}, Cwd: "/", Env: []string{"PATH=/bin"}},
		Stdin: devNull(t), Stdout: w, Stderr: w})
	w.Close()
	b, _ := io.ReadAll(r)
	if err != nil || code != 0 || strings.Contains(string(b), "work") || !strings.Contains(string(b), "bin") {
		t.Fatalf("exec ls /: code %d err %v out %q", code, err, b)
	}
}

// A write the stage makes under /proc (oom score, sysctls, LSM labels)
// must reach procfs: without a proc mount, the image's own file there
// would silently take it.
func TestProcWritesNeedProcfs(t *testing.T) {
	e := newEnv(t)
	rootfs := privateRootfs(t)
	os.MkdirAll(filepath.Join(rootfs, "proc/self"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "proc/self/oom_score_adj"), []byte("0"), 0o644)
	s := testSpec("/bin/true")
	s.Mounts = s.Mounts[1:] // no proc
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	v := 100
	s.Process.OOMScoreAdj = &v
	e.write(s, rootfs)
	_, err := e.rt.Create("noproc", e.quiet())
	if err == nil || !strings.Contains(err.Error(), "process.oomScoreAdj 100: /proc/self/oom_score_adj is not on procfs") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(rootfs, "proc/self/oom_score_adj")); string(b) != "0" {
		t.Fatalf("the image's file was written: %q", b)
	}
}

// A create that fails after a hook left a process behind (no pid
// namespace to take it down with init) kills it and removes the cgroup.
func TestFailedCreateKillsCgroupProcesses(t *testing.T) {
	e := newEnv(t)
	s := testSpec("/bin/true")
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.PIDNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "(sleep 61.5 &); exit 1"}}}}
	e.write(s, "")
	_, err := e.rt.Create("leftproc", e.quiet())
	if err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("err = %v", err)
	}
	if d, _ := filepath.Glob("/sys/fs/cgroup/*/leftproc"); len(d) != 0 {
		t.Fatalf("cgroup dirs left: %v", d)
	}
	for _, p := range pidsByCmdline(t, "sleep\x0061.5") {
		t.Fatalf("process %d left by the failed create", p)
	}
}

func pidsByCmdline(t *testing.T, s string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		st, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
			continue
		}
		if strings.Contains(string(b), s) {
			out = append(out, pid)
		}
	}
	return out
}

// The v1 cgroup mount: a tmpfs with every hierarchy bound under it, all
// with the mount's flags (one recursive mount_setattr when it can), and
// the flags the spec leaves out left out.
func TestCgroupMountFlags(t *testing.T) {
	if cgroups.HostMode() == cgroups.Unified {
		t.Skip("pure cgroup v2 host: no v1 hierarchies to bind")
	}
	e := newEnv(t)
	for _, c := range []struct {
		opts []string
		want string
	}{
		{[]string{"nosuid", "noexec", "nodev", "relatime", "ro"}, "ro,nosuid,nodev,noexec,relatime"},
		{[]string{"nosuid", "noexec", "nodev"}, "rw,nosuid,nodev,noexec,relatime"},
		{[]string{"ro", "nodev"}, "ro,nodev,relatime"}, // binds only: the tmpfs keeps its own
	} {
		s := testSpec("/bin/sh", "-c", `grep " /sys/fs/cgroup" /proc/self/mountinfo | cut -d" " -f5,6`)
		for i, m := range s.Mounts {
			if m.Destination == "/sys/fs/cgroup" {
				s.Mounts[i].Options = c.opts
			}
		}
		out := e.mustRun("cgflags", s)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 3 {
			t.Fatalf("%v: cgroup mounts:\n%s", c.opts, out)
		}
		for _, l := range lines {
			dest, flags, _ := strings.Cut(l, " ")
			if dest == "/sys/fs/cgroup" && c.opts[0] == "ro" && len(c.opts) == 2 {
				continue // the tmpfs: ro,nosuid,nodev,noexec from its own mount and the final remount
			}
			if flags != c.want {
				t.Errorf("%v: %s mounted %s, want %s", c.opts, dest, flags, c.want)
			}
		}
	}
}

// init is in the container's cgroup in every v1 hierarchy (and the
// unified one) before the container process runs.
func TestInitJoinsEveryCgroup(t *testing.T) {
	if cgroups.HostMode() == cgroups.Unified {
		t.Skip("pure cgroup v2 host: joined by clone3(CLONE_INTO_CGROUP), tested elsewhere")
	}
	e := newEnv(t)
	s := testSpec("/bin/cat", "/proc/self/cgroup")
	s.Linux.CgroupsPath = "/berth-test-joins"
	// the host's view of the paths: no cgroup namespace of its own
	ns := s.Linux.Namespaces[:0]
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.CgroupNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
	out := e.mustRun("joins", s)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("/proc/self/cgroup:\n%s", out)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, ":/berth-test-joins") {
			t.Errorf("not in the container's cgroup: %s", l)
		}
	}
}
