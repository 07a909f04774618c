package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/oci/caps"
	"github.com/berth-dev/berth/oci/hooks"
	"github.com/berth-dev/berth/oci/seccomp"
)

// stage holds the init's open handles.
type stage struct {
	cfg    *Config
	sync   *Sync
	fifoFD int
	// procFD is the runtime's /proc, opened before the root changes: the
	// exec fifo is reopened through it, since the container may have no
	// /proc of its own.
	procFD int
	ready  bool
}

// Main runs the init stage; it never returns. Errors before the runtime
// hears "ready" go back over the sync socket, so `create` can report them;
// later ones go to the container's stderr.
func Main() {
	trace("init main")
	// Every per-thread attribute (namespaces joined late, credentials,
	// capabilities, no_new_privs, seccomp) is set on this thread, and the
	// container process is exec'd from it.
	runtime.LockOSThread()
	s, err := open()
	if err == nil {
		err = s.run()
	}
	if s != nil && s.sync != nil && !s.ready {
		s.sync.Send(Msg{Type: MsgError, Error: err.Error()}, -1)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "berth init: %v\n", err)
	var ee *execError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}

type execError struct {
	code int
	err  error
}

func (e *execError) Error() string { return e.err.Error() }
func (e *execError) Unwrap() error { return e.err }

func open() (*stage, error) {
	v := os.Getenv(EnvFDs)
	os.Unsetenv(EnvFDs)
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%s=%q: want sync,config,fifo fds", EnvFDs, v)
	}
	var fds [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", EnvFDs, v, err)
		}
		fds[i] = n
	}
	s := &stage{sync: NewSync(os.NewFile(uintptr(fds[0]), "sync")), fifoFD: fds[2], procFD: -1}
	if fds[2] >= 0 {
		pfd, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return s, fmt.Errorf("open /proc: %w", err)
		}
		s.procFD = pfd
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	if fds[2] >= 0 {
		unix.CloseOnExec(fds[2])
	}
	cf := os.NewFile(uintptr(fds[1]), "config")
	data, err := io.ReadAll(cf)
	cf.Close()
	if err != nil {
		return s, fmt.Errorf("read init config: %w", err)
	}
	s.cfg = new(Config)
	if err := json.Unmarshal(data, s.cfg); err != nil {
		return s, fmt.Errorf("decode init config: %w", err)
	}
	return s, nil
}

func (s *stage) run() error {
	if s.cfg.Mode == ModeExec {
		return s.runExec()
	}
	return s.runInit()
}

func (s *stage) runInit() error {
	cfg := s.cfg
	spec := cfg.Spec
	proc := cfg.Process
	lin := spec.Linux
	if lin == nil {
		lin = &specs.Linux{}
	}
	for _, d := range cfg.CgroupTasks {
		// Only this thread moves: it is the one that execs the container
		// process, and the kernel skips its global threadgroup lock (an RCU
		// grace period) for a thread moving itself.
		if err := os.WriteFile(d+"/tasks", []byte("0"), 0); err != nil {
			return fmt.Errorf("join cgroup %s: %w", d, err)
		}
	}
	if cfg.NewCgroupNS {
		// After the runtime moved us into our cgroup, so that it is the
		// namespace's root.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	if !cfg.NoNewKeyring {
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && err != unix.ENOSYS {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	trace("config read")
	if hasNS(lin, specs.MountNamespace) {
		if err := s.prepareRootfs(); err != nil {
			return err
		}
	} else {
		if err := s.createRuntimeHooks(); err != nil {
			return err
		}
		if err := unix.Chroot(cfg.Rootfs); err != nil {
			return fmt.Errorf("chroot %s: %w", cfg.Rootfs, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
	}
	if proc.Terminal {
		if err := s.setupConsole(hasNS(lin, specs.MountNamespace)); err != nil {
			return err
		}
	}
	if cfg.SetHostname {
		if spec.Hostname != "" {
			if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
				return fmt.Errorf("sethostname %q: %w", spec.Hostname, err)
			}
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return fmt.Errorf("setdomainname %q: %w", spec.Domainname, err)
			}
		}
	}
	for k, v := range lin.Sysctl {
		if err := writeSysctl(k, v); err != nil {
			return err
		}
	}
	trace("pivoted, hostname, sysctl")
	// After sysctls (which write under /proc/sys), like runc.
	if hasNS(lin, specs.MountNamespace) {
		if err := finalizeRootfs(spec); err != nil {
			return err
		}
	}
	if err := applyProcessAttrs(proc, spec); err != nil {
		return err
	}
	if err := setLSMLabels(proc); err != nil {
		return err
	}
	trace("rootfs done")
	argv0, err := lookPath(proc)
	if err != nil {
		return &execError{127, err}
	}
	if err := s.finalize(proc, argv0, true); err != nil {
		return err
	}
	return nil
}

// finalize drops privileges, waits for start (init only) and execs.
func (s *stage) finalize(proc *specs.Process, argv0 string, waitStart bool) error {
	cs, err := caps.Compile(proc.Capabilities)
	if err != nil {
		return err
	}
	var prog *seccomp.Program
	if len(s.cfg.Seccomp) > 0 {
		prog = new(seccomp.Program)
		if err := prog.UnmarshalBinary(s.cfg.Seccomp); err != nil {
			return fmt.Errorf("seccomp program: %w", err)
		}
	}
	// Mark every fd above the preserved ones close-on-exec, so nothing of
	// the runtime's reaches the container (CVE-2024-21626). Before any
	// seccomp filter, which may not allow close_range.
	if err := closeFDsOnExec(3 + s.cfg.PreserveFDs); err != nil {
		return err
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
	// while we still have it (runc does the same).
	if prog != nil && !proc.NoNewPrivileges {
		if err := s.loadSeccomp(prog); err != nil {
			return err
		}
		prog = nil
	}
	// cwd first as root, so that directories without search permission for
	// the user still work (runc does the same); retried as the user below.
	// Verified now, before a seccomp filter may refuse getcwd.
	cwdDone := false
	if unix.Chdir(orRoot(proc.Cwd)) == nil {
		if err := chdirVerified(proc.Cwd, true); err != nil {
			return err
		}
		cwdDone = true
	}
	if err := cs.DropBounding(); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keepcaps: %w", err)
	}
	if err := setUser(proc.User); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("keepcaps: %w", err)
	}
	if err := cs.Apply(); err != nil {
		return err
	}
	if proc.User.Umask != nil {
		unix.Umask(int(*proc.User.Umask))
	} else {
		unix.Umask(0o022)
	}
	if !cwdDone {
		if err := chdirVerified(proc.Cwd, false); err != nil {
			return err
		}
	}
	if proc.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	// A notify filter's listener fd must reach the runtime during create:
	// load it before reporting ready (the last syscalls then run under it).
	if prog != nil && prog.Notify && waitStart {
		if err := s.loadSeccomp(prog); err != nil {
			return err
		}
		prog = nil
	}
	if waitStart {
		s.ready = true
		if err := s.sync.Send(Msg{Type: MsgReady}, -1); err != nil {
			return fmt.Errorf("report ready: %w", err)
		}
		s.sync.File().Close()
		trace("ready, waiting for start")
		if err := waitFifo(s.procFD, s.fifoFD); err != nil {
			return err
		}
		if s.cfg.Spec.Hooks != nil && len(s.cfg.Spec.Hooks.StartContainer) > 0 {
			st := &specs.State{Version: specs.Version, ID: s.cfg.ID, Status: specs.StateRunning, Pid: os.Getpid(), Bundle: s.cfg.Bundle, Annotations: s.cfg.Spec.Annotations}
			if err := hooks.Run("startContainer", s.cfg.Spec.Hooks.StartContainer, st); err != nil {
				return err
			}
		}
	}
	if prog != nil {
		if err := s.loadSeccomp(prog); err != nil {
			return err
		}
	}
	if !waitStart {
		s.ready = true
		if err := s.sync.Send(Msg{Type: MsgReady}, -1); err != nil {
			return fmt.Errorf("report ready: %w", err)
		}
	}
	trace("exec")
	err = unix.Exec(argv0, proc.Args, proc.Env)
	code := 126
	if errors.Is(err, unix.ENOENT) {
		code = 127
	}
	return &execError{code, fmt.Errorf("exec %s: %w", proc.Args[0], err)}
}

func (s *stage) loadSeccomp(p *seccomp.Program) error {
	fd, err := seccomp.Load(p)
	if err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	if fd >= 0 {
		if s.ready {
			unix.Close(fd)
			return fmt.Errorf("seccomp listener after start is not supported")
		}
		if err := s.sync.Send(Msg{Type: MsgSeccompFD}, fd); err != nil {
			return fmt.Errorf("send seccomp listener: %w", err)
		}
		unix.Close(fd)
		if m, _, err := s.sync.Recv(); err != nil || m.Type != MsgAck {
			return fmt.Errorf("runtime did not take the seccomp listener: %v %s", err, m.Error)
		}
	}
	return nil
}

// waitFifo blocks until `start` opens the exec fifo for reading. The fifo
// is reached through our O_PATH fd, since its host path is gone after
// pivot_root.
func waitFifo(procFD, fd int) error {
	f, err := unix.Openat(procFD, "self/fd/"+strconv.Itoa(fd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	if _, err := unix.Write(f, []byte{0}); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	// f stays open (close-on-exec): `start` reads until EOF, so it returns
	// only once the container process runs (or init died), as the spec
	// wants for poststart hooks; it also keeps `pause` from freezing a
	// half-exec'd multi-threaded init.
	unix.Close(fd)
	unix.Close(procFD)
	return nil
}

func (s *stage) createRuntimeHooks() error {
	if err := s.sync.Send(Msg{Type: MsgCreateRuntime}, -1); err != nil {
		return fmt.Errorf("sync createRuntime: %w", err)
	}
	m, _, err := s.sync.Recv()
	if err != nil {
		return fmt.Errorf("sync createRuntime: %w", err)
	}
	if m.Type != MsgAck {
		return fmt.Errorf("createRuntime hooks failed: %s", m.Error)
	}
	return nil
}

func hasNS(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	for _, n := range l.Namespaces {
		if n.Type == t {
			return true
		}
	}
	return false
}

func writeSysctl(k, v string) error {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
	if !strings.HasPrefix(p, "/proc/sys/") {
		return fmt.Errorf("linux.sysctl %q: invalid key", k)
	}
	if err := os.WriteFile(p, []byte(v), 0); err != nil {
		return fmt.Errorf("linux.sysctl %q=%q: %w", k, v, err)
	}
	return nil
}

// setIDs switches the calling thread's uid and gid (raw syscalls on purpose:
// only this thread execs, and Go's all-threads variants add nothing here).
func setIDs(uid, gid uint32) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return fmt.Errorf("setresgid %d: %w", gid, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("setresuid %d: %w", uid, e)
	}
	return nil
}

func setUser(u specs.User) error {
	groups := make([]uint32, 0, len(u.AdditionalGids))
	groups = append(groups, u.AdditionalGids...)
	var p uintptr
	if len(groups) > 0 {
		p = uintptr(unsafePointer(&groups[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), p, 0); e != 0 {
		// setgroups is denied in a user namespace whose setgroups file says
		// "deny"; that only matters if groups were asked for.
		if !(e == unix.EPERM && len(groups) == 0) {
			return fmt.Errorf("setgroups %v: %w", groups, e)
		}
	}
	return setIDs(u.UID, u.GID)
}

// chdirVerified changes to the process cwd and checks that it is reachable
// from the container root: a cwd that resolves to a leaked host directory
// reads back as "(unreachable)" (CVE-2024-21626).
func chdirVerified(cwd string, done bool) error {
	cwd = orRoot(cwd)
	if !done {
		if err := unix.Chdir(cwd); err != nil {
			return fmt.Errorf("chdir to cwd %q: %w", cwd, err)
		}
	}
	wd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("current working directory is outside the container root: %w", err)
	}
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("current working directory %q is outside the container root", wd)
	}
	return nil
}

// lookPath finds the executable like execvp would, with the process's PATH.
func lookPath(p *specs.Process) (string, error) {
	if len(p.Args) == 0 {
		return "", fmt.Errorf("process.args is empty")
	}
	name := p.Args[0]
	if strings.Contains(name, "/") {
		if err := checkExec(name); err != nil {
			return "", fmt.Errorf("exec: %q: %w", name, err)
		}
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		c := filepath.Join(d, name)
		if checkExec(c) == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func checkExec(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return syscall.EISDIR
	}
	if st.Mode&0o111 == 0 {
		return syscall.EACCES
	}
	return nil
}

func orRoot(cwd string) string {
	if cwd == "" {
		return "/"
	}
	return cwd
}

// closeFDsOnExec sets close-on-exec on every fd >= from; without
// close_range (old kernels) it walks /proc/self/fd.
func closeFDsOnExec(from int) error {
	err := unix.CloseRange(uint(from), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	ents, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return fmt.Errorf("close fds: %v (and %v)", err, rerr)
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= from {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
