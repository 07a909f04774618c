package oci

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/sigcatch"
	"github.com/berth-dev/berth/oci/initproc"
	"github.com/berth-dev/berth/oci/seccomp"
)

// ExecOpts are the options of `exec`.
type ExecOpts struct {
	Process               *specs.Process
	PidFile               string
	ConsoleSocket         string
	Detach                bool
	PreserveFDs           int
	Stdin, Stdout, Stderr *os.File
}

// Exec runs another process in a running container: it enters every
// namespace of the container's init (through the nsenter constructor),
// joins its cgroup, and applies the process's user, capabilities, rlimits
// and the container's seccomp filter. Without Detach it waits and returns
// the exit status.
func (c *Container) Exec(o ExecOpts) (int, error) {
	if st := c.Status(); st != specs.StateRunning && st != specs.StateCreated {
		return -1, fmt.Errorf("cannot exec in container %q that is %s: %w", c.State.ID, st, ErrState)
	}
	p := o.Process
	if p == nil || len(p.Args) == 0 {
		return -1, fmt.Errorf("exec: process.args is empty")
	}
	if p.Terminal && o.ConsoleSocket == "" {
		return -1, fmt.Errorf("exec with a terminal needs --console-socket")
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	spec := c.State.Spec
	var prog *seccomp.Program
	if spec.Linux.Seccomp != nil {
		var err error
		if prog, err = seccomp.CompileCached(spec.Linux.Seccomp, filepath.Join(c.rt.Root, ".seccomp")); err != nil {
			return -1, fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	// Planned before any process exists: a bad process is reported with
	// nothing to clean up.
	plan, err := initproc.Compile(&initproc.Config{Mode: initproc.ModeExec, ID: c.State.ID, Bundle: c.State.Bundle,
		Rootfs: c.State.Rootfs, Spec: initSpec(spec), Process: p, PreserveFDs: o.PreserveFDs, Seccomp: prog})
	if err != nil {
		return -1, err
	}
	var joins []string
	for _, t := range []string{"user", "ipc", "uts", "net", "pid", "cgroup", "time", "mnt"} {
		path, ok := c.State.Namespaces[t]
		if !ok {
			continue
		}
		if sameNS(path, "/proc/self/ns/"+t) {
			continue
		}
		joins = append(joins, t+"="+path)
	}
	sync, syncChild, err := initproc.NewSyncPair()
	if err != nil {
		return -1, err
	}
	defer sync.File().Close()
	defer syncChild.Close()
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	pidR, pidW, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	defer pidR.Close()
	defer pidW.Close()
	exe, err := sealedExe(c.rt.Root)
	if err != nil {
		return -1, err
	}
	defer exe.Close()
	cmd := stageChild(exe.File, o.Stdin, o.Stdout, o.Stderr, o.PreserveFDs, syncChild, cfgR, pidW)
	cmd.env = []string{
		fmt.Sprintf("%s=%d,%d,-1", initproc.EnvFDs, cmd.fd(syncChild), cmd.fd(cfgR)),
		initproc.EnvNsenter + "=" + strconv.Itoa(cmd.fd(pidW)) + ";" + strings.Join(joins, ","),
	}
	cmd.sys = &syscall.SysProcAttr{Setsid: p.Terminal}
	// Join the container's cgroups before entering its namespaces, where
	// the host's cgroup paths are gone: v1 from the nsenter constructor
	// (a single thread moving itself, no RCU grace period), v2 at clone.
	joined := false
	m, cgErr := c.cgroup()
	if cgErr == nil && m.Exists() {
		v1, v2 := cgroupDirs(m)
		if len(v1) > 0 {
			cmd.env = append(cmd.env, initproc.EnvCgroup+"="+strings.Join(v1, ":"))
		}
		joined = len(v1) > 0
		if v2 != "" {
			fd, err := unix.Open(v2, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err == nil {
				defer unix.Close(fd)
				cmd.sys.UseCgroupFD, cmd.sys.CgroupFD = true, fd
			} else {
				joined = false
			}
		}
	}
	var sigc chan os.Signal
	if !o.Detach {
		sigc = make(chan os.Signal, 32)
		stop, err := sigcatch.Notify(sigc, forwardedSignals...)
		if err != nil {
			return -1, err
		}
		defer stop()
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	if err := cmd.start(); err != nil {
		return -1, fmt.Errorf("start exec process: %w", err)
	}
	syncChild.Close()
	cfgR.Close()
	pidW.Close()
	b, _ := io.ReadAll(pidR)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if perr != nil {
		unix.Kill(cmd.pid, unix.SIGKILL)
		return -1, fmt.Errorf("enter container %q: %s", c.State.ID, statusText(cmd.wait()))
	}
	if pid == 0 {
		pid = cmd.pid
	}
	proc := &initProc{child: cmd, pid: pid, direct: pid == cmd.pid}
	if !proc.direct {
		cmd.wait()
	}
	fail := func(err error) (int, error) {
		unix.Kill(pid, unix.SIGKILL)
		if proc.direct {
			cmd.wait()
		} else {
			waitInit(proc)
		}
		return -1, err
	}
	if cgErr == nil && !joined && m.Exists() {
		if err := m.Apply(pid); err != nil && !c.State.Rootless {
			return fail(fmt.Errorf("join cgroup: %w", err))
		}
	}
	data := plan.Encode()
	go func() { cfgW.Write(data); cfgW.Close() }()
	for ready := false; !ready; {
		m, fd, err := sync.Recv()
		if err != nil {
			return fail(fmt.Errorf("exec process exited during setup"))
		}
		switch m.Type {
		case initproc.MsgReady:
			ready = true
		case initproc.MsgError:
			return fail(plan.Err(m))
		case initproc.MsgConsole:
			err := sendConsole(o.ConsoleSocket, fd)
			unix.Close(fd)
			if err != nil {
				sync.Send(initproc.Msg{Type: initproc.MsgError, Error: err.Error()}, -1)
				return fail(err)
			}
			sync.Send(initproc.Msg{Type: initproc.MsgAck}, -1)
		case initproc.MsgSeccompFD:
			unix.Close(fd)
			sync.Send(initproc.Msg{Type: initproc.MsgAck}, -1)
		}
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return fail(err)
		}
	}
	if o.Detach {
		return 0, nil
	}
	done := make(chan int, 1)
	go func() { done <- waitInit(proc) }()
	for {
		select {
		case code := <-done:
			return code, nil
		case s := <-sigc:
			if s == unix.SIGCHLD || s == unix.SIGURG {
				continue
			}
			if sig, ok := s.(syscall.Signal); ok {
				unix.Kill(pid, sig)
			}
		}
	}
}

// sameNS reports whether two namespace files are the same namespace.
func sameNS(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
