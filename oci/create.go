package oci

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/oci/caps"
	"github.com/berth-dev/berth/oci/cgroups"
	"github.com/berth-dev/berth/oci/hooks"
	"github.com/berth-dev/berth/oci/initproc"
	"github.com/berth-dev/berth/oci/seccomp"
)

// Runtime is a root directory of container states plus global options.
type Runtime struct {
	Root          string
	SystemdCgroup bool
	Rootless      bool
	// Warn receives non-fatal problems (failed poststart/poststop hooks).
	Warn func(format string, args ...any)
}

func (r *Runtime) warn(format string, args ...any) {
	if r.Warn != nil {
		r.Warn(format, args...)
	}
}

// CreateOpts are the options of `create` and `run`.
type CreateOpts struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
	// Stdio of the container; nil means the runtime's own.
	Stdin, Stdout, Stderr *os.File
	// keep is set by Run: the caller waits for the init process.
	keep bool
	// startBySync is set by Run: no exec fifo; init waits for "start" on
	// the sync socket, which create then leaves open (initProc.sync). One
	// file less to create and remove on the state's filesystem per
	// container, like crun's run.
	startBySync bool
}

// Create creates container id from a bundle: the init process is left
// waiting for Start. On any error nothing is left behind: no state dir,
// cgroup, mount or process.
func (r *Runtime) Create(id string, o CreateOpts) (c *Container, err error) {
	c, _, err = r.create(id, o)
	return c, err
}

type initProc struct {
	child *child // nil when init is not our child
	pid   int
	// direct is true when pid is our child (no nsenter fork).
	direct bool
	// sync is init's socket, kept open when it waits on it for start.
	sync *initproc.Sync
	// exe is the binary init was exec'd from, kept with sync.
	exe *sealed
}

func (r *Runtime) create(id string, o CreateOpts) (c *Container, proc *initProc, err error) {
	if err := ValidateID(id); err != nil {
		return nil, nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, nil, err
	}
	trace("create")
	// Decoded before anything is claimed: a bad config.json leaves nothing
	// to clean up (specjson: no reflection, ~30 µs).
	spec, err := LoadSpec(bundle)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(r.Root, 0o700); err != nil {
		return nil, nil, fmt.Errorf("runtime root %s: %w", r.Root, err)
	}
	// The state file, empty until the end of create, claims the id.
	claim, err := os.OpenFile(statePath(r.Root, id), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if os.IsExist(err) {
			return nil, nil, fmt.Errorf("container %q: %w", id, ErrExist)
		}
		return nil, nil, fmt.Errorf("state file: %w", err)
	}
	// Held until create has written its last state: delete -f of a
	// container being created waits for no one and removes nothing.
	if err := unix.Flock(int(claim.Fd()), unix.LOCK_EX); err != nil {
		claim.Close()
		os.Remove(statePath(r.Root, id))
		return nil, nil, fmt.Errorf("lock state file: %w", err)
	}
	if !sameFile(claim, statePath(r.Root, id)) {
		// a delete -f removed the empty file before we locked it
		claim.Close()
		return nil, nil, fmt.Errorf("container %q: state file removed while claimed: %w", id, ErrExist)
	}
	c = &Container{rt: r, id: id, claim: claim}
	var cg cgroups.Manager
	defer func() {
		if err == nil {
			return
		}
		if proc != nil && proc.pid > 0 {
			unix.Kill(proc.pid, unix.SIGKILL)
			if proc.child != nil {
				proc.child.wait()
			}
			if !proc.direct {
				waitGone(proc.pid, 2*time.Second)
			}
		}
		if cg != nil {
			// processes init left (no pid namespace of its own: a hook's
			// children) would keep the cgroup
			cg.Kill(unix.SIGKILL)
			cg.Destroy()
		}
		c.remove()
		if c.claim != nil {
			c.claim.Close() // and the lock, once the files are gone
		}
	}()

	if spec.Process.Terminal && o.ConsoleSocket == "" {
		return c, nil, fmt.Errorf("process.terminal is true: --console-socket is required")
	}
	if !spec.Process.Terminal && o.ConsoleSocket != "" {
		return c, nil, fmt.Errorf("--console-socket given but process.terminal is false")
	}
	if dropped := dropUnavailableCaps(spec.Process.Capabilities); len(dropped) > 0 {
		r.warn("capabilities %v are not in the runtime's bounding set: the container does not get them", dropped)
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return c, nil, fmt.Errorf("root.path: %w", err)
	}

	// Seccomp is compiled while the child starts.
	type progResult struct {
		p   *seccomp.Program
		err error
	}
	var progCh chan progResult
	if spec.Linux.Seccomp != nil {
		progCh = make(chan progResult, 1)
		go func() {
			p, err := seccomp.CompileCached(spec.Linux.Seccomp, filepath.Join(r.Root, ".seccomp"))
			if err != nil {
				err = fmt.Errorf("linux.seccomp: %w", err)
			}
			progCh <- progResult{p, err}
		}()
	}

	var fifoFile *os.File
	if !o.startBySync {
		fifo := c.fifoPath()
		if err := unix.Mkfifo(fifo, 0o622); err != nil {
			return c, nil, fmt.Errorf("exec fifo: %w", err)
		}
		// writable by the container user, whoever it is (mkfifo applied umask)
		if err := os.Chmod(fifo, 0o622); err != nil {
			return c, nil, err
		}
		if fifoFile, err = os.OpenFile(fifo, unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			return c, nil, err
		}
		defer fifoFile.Close()
	}

	trace("fifo made")
	cgcfg := cgroups.Config{Path: spec.Linux.CgroupsPath, ID: id, Systemd: r.SystemdCgroup}
	cg, err = cgroups.New(cgcfg)
	if err != nil {
		return c, nil, fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	// Recorded before the cgroup exists, so that delete -f can remove it
	// if this process is killed.
	self, _ := pidStart(os.Getpid())
	c.State = State{ID: id, Bundle: bundle, Rootfs: rootfs, Cgroup: cgcfg, Rootless: r.Rootless,
		Creating: true, CreatorPid: os.Getpid(), CreatorStart: self}
	if err := c.saveCreating(); err != nil {
		return c, nil, err
	}
	newNS, joins, err := namespaceSetup(spec)
	if err != nil {
		return c, nil, err
	}
	// On cgroup v1 (and hybrid) hosts the v1 directories are made and
	// filled while the child's runtime starts, and the init stage joins
	// them itself (a thread moving itself into a tasks file is cheap; see
	// nsenter.c). Pure v2 needs the cgroup before clone3(CLONE_INTO_CGROUP);
	// user namespaces and nsenter joins keep the plain order too.
	late := cgroups.HostMode() != cgroups.Unified && !needsNsenter(joins) &&
		newNS&unix.CLONE_NEWUSER == 0 && !r.Rootless
	if late {
		if _, v2 := cgroupDirs(cg); v2 != "" {
			if err := os.MkdirAll(v2, 0o755); err != nil {
				cg = nil
				return c, nil, fmt.Errorf("cgroup: create %s: %w", v2, err)
			}
		}
	} else if err := cg.Create(withDefaultDevices(spec)); err != nil {
		if !r.Rootless {
			cg = nil // Create cleaned up after itself
			return c, nil, err
		}
		cg = nil
	}
	trace("cgroup created")
	// The v1 directories are made while the binary is sealed and init is
	// cloned and exec'd.
	var lateDone chan error
	waitLate := func() error {
		if lateDone == nil {
			return nil
		}
		err := <-lateDone
		lateDone = nil
		return err
	}
	if late {
		lateDone = make(chan error, 1)
		go func() { lateDone <- cg.Create(withDefaultDevices(spec)) }()
		defer waitLate() // before the cleanup above destroys the cgroup
	}
	exe, err := sealedExe(r.Root)
	if err != nil {
		return c, nil, err
	}
	defer func() {
		if err != nil || proc == nil || proc.exe == nil {
			exe.Close()
		}
	}()
	trace("sealed")
	icfg := &initproc.Config{
		Mode: initproc.ModeInit, ID: id, Bundle: bundle, Rootfs: rootfs, Spec: initSpec(spec), Process: spec.Process,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, PreserveFDs: o.PreserveFDs,
		NewUserNS:   newNS&unix.CLONE_NEWUSER != 0,
		NewCgroupNS: hasNewNS(spec, specs.CgroupNamespace),
		SetHostname: hasNS(spec, specs.UTSNamespace), StartBySync: o.startBySync,
		RuntimeHooks: hasCreateHooks(spec),
	}
	if cg != nil {
		icfg.CgroupMounts = cgroupMounts(cg)
	}

	sync, syncChild, err := initproc.NewSyncPair()
	if err != nil {
		return c, nil, err
	}
	defer func() {
		if err != nil || !o.startBySync {
			sync.File().Close()
		}
	}()
	defer syncChild.Close()
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return c, nil, err
	}
	defer cfgR.Close()
	defer cfgW.Close()

	trace("pipes")
	cmd := stageChild(exe.File, o.Stdin, o.Stdout, o.Stderr, o.PreserveFDs, syncChild, cfgR)
	fifoFD := -1
	if fifoFile != nil {
		cmd.files = append(cmd.files, fifoFile)
		fifoFD = cmd.fd(fifoFile)
	}
	cmd.env = []string{fmt.Sprintf("%s=%d,%d,%d", initproc.EnvFDs, cmd.fd(syncChild), cmd.fd(cfgR), fifoFD)}
	if traceOn {
		cmd.env = append(cmd.env, "BERTH_TRACE="+os.Getenv("BERTH_TRACE"))
	}
	attr := &syscall.SysProcAttr{Cloneflags: uintptr(newNS), Setsid: true}
	if newNS&unix.CLONE_NEWUSER != 0 {
		attr.UidMappings = idMaps(spec.Linux.UIDMappings)
		attr.GidMappings = idMaps(spec.Linux.GIDMappings)
		attr.GidMappingsEnableSetgroups = true
		// Become root of the new namespace before exec, or exec would drop
		// every capability (host root is not mapped in it).
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	selfJoin := false
	if cg != nil && !needsNsenter(joins) {
		// v2: clone3(CLONE_INTO_CGROUP) puts the child in place. v1: init
		// joins itself from its exec thread (cheap, see nsenter.c) unless a
		// user namespace takes away its right to.
		v1, v2 := cgroupDirs(cg)
		if v2 != "" {
			if fd, err := unix.Open(v2, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
				defer unix.Close(fd)
				attr.UseCgroupFD, attr.CgroupFD = true, fd
			}
		}
		if len(v1) > 0 && newNS&unix.CLONE_NEWUSER == 0 {
			icfg.CgroupTasks = v1
			selfJoin = true
		} else if len(v1) == 0 && attr.UseCgroupFD {
			selfJoin = true
		}
	}
	cmd.sys = attr

	var pidR *os.File
	if needsNsenter(joins) {
		var pidW *os.File
		if pidR, pidW, err = os.Pipe(); err != nil {
			return c, nil, err
		}
		defer pidR.Close()
		cmd.files = append(cmd.files, pidW)
		cmd.env = append(cmd.env, initproc.EnvNsenter+"="+strconv.Itoa(cmd.fd(pidW))+";"+joinList(joins))
		if o.keep {
			unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		}
		err = cmd.start()
		pidW.Close()
	} else {
		err = startJoined(cmd, joins, spec.Linux.TimeOffsets)
	}
	if err != nil {
		return c, nil, fmt.Errorf("start init: %w", err)
	}
	trace("started")
	proc = &initProc{child: cmd, pid: cmd.pid, direct: true}
	if o.startBySync {
		// kept until the container process has replaced init: see
		// sealed.release
		proc.exe = exe
		proc.sync = sync
	}
	syncChild.Close()
	cfgR.Close()
	if pidR != nil {
		b, _ := io.ReadAll(pidR)
		n, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr != nil {
			unix.Kill(proc.pid, unix.SIGKILL)
			ws := cmd.wait()
			proc.pid = 0
			return c, proc, fmt.Errorf("enter namespaces: %s", statusText(ws))
		}
		if n != 0 && n != proc.pid {
			cmd.wait() // the intermediate exits at once
			proc.direct = false
			proc.pid = n
		}
	}
	if err := waitLate(); err != nil {
		return c, proc, err // the deferred cleanup kills init, then removes the cgroup
	}
	trace("cgroup created (late)")
	if cg != nil && !selfJoin {
		if err := cg.Apply(proc.pid); err != nil && !r.Rootless {
			return c, proc, err
		}
	}
	trace("cgroup applied")
	if progCh != nil {
		res := <-progCh
		if res.err != nil {
			return c, proc, res.err
		}
		icfg.Seccomp = res.p
	}
	icfg.Pid = proc.pid
	plan, err := initproc.Compile(icfg)
	if err != nil {
		return c, proc, err
	}
	data := plan.Encode()
	if len(data) < 64<<10 {
		// fits the pipe: no goroutine (and thread) for it
		_, err = cfgW.Write(data)
		cfgW.Close()
		if err != nil {
			return c, proc, fmt.Errorf("send plan to init: %w", err)
		}
	} else {
		go func() { cfgW.Write(data); cfgW.Close() }()
	}

	trace("config sent")
	start, _ := pidStart(proc.pid)
	owner := ""
	c.State = State{
		ID: id, Bundle: bundle, Rootfs: rootfs, Pid: proc.pid, PidStart: start,
		Created: time.Now().UTC(), Owner: owner, Annotations: spec.Annotations,
		Cgroup: cgcfg, Spec: spec, Rootless: r.Rootless,
		Namespaces: nsPaths(spec, proc.pid),
		Creating:   true, CreatorPid: c.State.CreatorPid, CreatorStart: c.State.CreatorStart,
	}
	// The state is written while init builds the rootfs (init reports
	// ready only after it). With createRuntime hooks, syncInit writes it
	// first itself, before it runs them.
	if !hasCreateHooks(spec) {
		if err := c.save(); err != nil {
			return c, proc, err
		}
		trace("state saved")
	}
	if err := r.syncInit(c, sync, plan, proc, o); err != nil {
		return c, proc, err
	}
	trace("init ready")
	// created: the last write into the claimed file, which releases it
	c.State.Creating, c.State.CreatorPid, c.State.CreatorStart = false, 0, 0
	if err := c.save(); err != nil {
		return c, proc, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, proc.pid); err != nil {
			return c, proc, err
		}
	}
	return c, proc, nil
}

// initSpec is the part of spec the init stage uses: resources, the
// seccomp profile (sent compiled) and the hooks the runtime runs itself are
// left out, so the init decodes less JSON on the start-up path.
func initSpec(spec *specs.Spec) *specs.Spec {
	cp := *spec
	lin := *spec.Linux
	lin.Resources, lin.Seccomp = nil, nil
	cp.Linux = &lin
	if spec.Hooks != nil {
		cp.Hooks = &specs.Hooks{CreateContainer: spec.Hooks.CreateContainer, StartContainer: spec.Hooks.StartContainer}
	}
	cp.Process = nil // sent as Config.Process
	return &cp
}

// sameFile reports whether path names the file f is open on.
func sameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

// hasCreateHooks: prestart or createRuntime hooks run during create.
func hasCreateHooks(spec *specs.Spec) bool {
	h := spec.Hooks
	return h != nil && len(h.Prestart)+len(h.CreateRuntime) > 0
}

func orStd(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// syncInit serves the init's requests until it reports ready.
func (r *Runtime) syncInit(c *Container, s *initproc.Sync, plan *initproc.Plan, proc *initProc, o CreateOpts) error {
	spec := c.State.Spec
	for {
		m, fd, err := s.Recv()
		if err != nil {
			return fmt.Errorf("container init exited during setup%s", exitInfo(proc))
		}
		switch m.Type {
		case initproc.MsgReady:
			return nil
		case initproc.MsgError:
			return plan.Err(m)
		case initproc.MsgCreateRuntime:
			var herr error
			if hasCreateHooks(spec) {
				// the hooks may ask the runtime for the state
				if err := c.save(); err != nil {
					return err
				}
				st := c.hookState(specs.StateCreating)
				if herr = hooks.Run("prestart", spec.Hooks.Prestart, st); herr == nil {
					herr = hooks.Run("createRuntime", spec.Hooks.CreateRuntime, st)
				}
			}
			if herr != nil {
				s.Send(initproc.Msg{Type: initproc.MsgError, Error: herr.Error()}, -1)
				return herr
			}
			s.Send(initproc.Msg{Type: initproc.MsgAck}, -1)
		case initproc.MsgConsole:
			err := sendConsole(o.ConsoleSocket, fd)
			unix.Close(fd)
			if err != nil {
				s.Send(initproc.Msg{Type: initproc.MsgError, Error: err.Error()}, -1)
				return err
			}
			s.Send(initproc.Msg{Type: initproc.MsgAck}, -1)
		case initproc.MsgSeccompFD:
			err := r.sendSeccomp(c, fd)
			unix.Close(fd)
			if err != nil {
				s.Send(initproc.Msg{Type: initproc.MsgError, Error: err.Error()}, -1)
				return err
			}
			s.Send(initproc.Msg{Type: initproc.MsgAck}, -1)
		default:
			return fmt.Errorf("unexpected message %q from init", m.Type)
		}
	}
}

func (r *Runtime) sendSeccomp(c *Container, fd int) error {
	sc := c.State.Spec.Linux.Seccomp
	if sc == nil || sc.ListenerPath == "" {
		return fmt.Errorf("linux.seccomp: a rule uses SCMP_ACT_NOTIFY but listenerPath is empty")
	}
	st := specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: c.State.Pid,
		Metadata: sc.ListenerMetadata, State: *c.hookState(specs.StateCreating),
	}
	if err := seccomp.SendListener(sc.ListenerPath, fd, st); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: %w", sc.ListenerPath, err)
	}
	return nil
}

func exitInfo(p *initProc) string {
	if p == nil || p.child == nil || !p.direct {
		return ""
	}
	ws := p.child.wait()
	p.pid = 0
	if ws.Exited() && ws.ExitStatus() == 0 {
		return ""
	}
	return ": " + statusText(ws)
}

// sendConsole passes the pty master to the --console-socket, as runc does
// (the fd with its name as payload).
func sendConsole(path string, fd int) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("--console-socket %s: %w", path, err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	name := "/dev/ptmx"
	if _, _, err := uc.WriteMsgUnix([]byte(name), unix.UnixRights(fd), nil); err != nil {
		return fmt.Errorf("--console-socket %s: send pty: %w", path, err)
	}
	return nil
}

func writePidFile(path string, pid int) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	return os.Rename(tmp, path)
}

func idMaps(in []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(in))
	for i, m := range in {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}

var cloneFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

type nsJoin struct {
	typ  string // nsenter name: user, mnt, ...
	flag int
	path string
}

// namespaceSetup splits the spec's namespaces into clone flags for new ones
// and joins of existing ones. New cgroup and time namespaces are not made at
// clone time: the cgroup one after the process is in its cgroup (init
// unshares it), the time one needs its offsets first (startJoined).
func namespaceSetup(spec *specs.Spec) (newNS int, joins []nsJoin, err error) {
	for _, n := range spec.Linux.Namespaces {
		if n.Path == "" {
			if n.Type == specs.CgroupNamespace || n.Type == specs.TimeNamespace {
				continue
			}
			newNS |= cloneFlags[n.Type]
			continue
		}
		joins = append(joins, nsJoin{typ: nsTypes[n.Type], flag: cloneFlags[n.Type], path: n.Path})
	}
	return newNS, joins, nil
}

func hasNS(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, n := range spec.Linux.Namespaces {
		if n.Type == t {
			return true
		}
	}
	return false
}

func hasNewNS(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, n := range spec.Linux.Namespaces {
		if n.Type == t && n.Path == "" {
			return true
		}
	}
	return false
}

// needsNsenter: joining a mount or user namespace needs a single-threaded
// process, so it goes through the C constructor.
func needsNsenter(joins []nsJoin) bool {
	for _, j := range joins {
		if j.flag == unix.CLONE_NEWNS || j.flag == unix.CLONE_NEWUSER {
			return true
		}
	}
	return false
}

func joinList(joins []nsJoin) string {
	parts := make([]string, len(joins))
	for i, j := range joins {
		parts[i] = j.typ + "=" + j.path
	}
	return strings.Join(parts, ",")
}

// startJoined starts cmd from a locked OS thread that first joins the
// namespaces given by path (net, ipc, uts, pid, cgroup, time: all allowed
// for one thread of a multi-threaded process) and, for a new time
// namespace, unshares it and writes its offsets. The child inherits them;
// the thread is then thrown away (its goroutine exits still locked).
func startJoined(cmd *child, joins []nsJoin, offsets map[string]specs.LinuxTimeOffset) error {
	newTime := false
	if cmd.sys != nil && offsets != nil {
		newTime = true
	}
	if len(joins) == 0 && !newTime {
		return cmd.start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		for _, j := range joins {
			fd, err := unix.Open(j.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				errc <- fmt.Errorf("open namespace %s: %w", j.path, err)
				return
			}
			err = unix.Setns(fd, j.flag)
			unix.Close(fd)
			if err != nil {
				errc <- fmt.Errorf("join %s namespace %s: %w", j.typ, j.path, err)
				return
			}
		}
		if newTime {
			if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
				errc <- fmt.Errorf("new time namespace: %w", err)
				return
			}
			var b strings.Builder
			for clock, off := range offsets {
				fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
			}
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/timens_offsets", unix.Gettid()), []byte(b.String()), 0); err != nil {
				errc <- fmt.Errorf("linux.timeOffsets: %w", err)
				return
			}
		}
		errc <- cmd.start()
	}()
	return <-errc
}

// nsPaths records, for exec, where each of the container's namespaces is.
func nsPaths(spec *specs.Spec, pid int) map[string]string {
	out := map[string]string{}
	for _, n := range spec.Linux.Namespaces {
		t := nsTypes[n.Type]
		out[t] = fmt.Sprintf("/proc/%d/ns/%s", pid, t)
	}
	return out
}

// cgroupMounts describes the container's cgroups for its cgroup mount.
func cgroupMounts(m cgroups.Manager) []initproc.CgroupMount {
	paths := m.Paths()
	if v2, ok := paths[""]; ok && len(paths) == 1 {
		return []initproc.CgroupMount{{Name: "", Type: "cgroup2", HostPath: v2}}
	}
	byDir := map[string][]string{}
	for ctrl, dir := range paths {
		if ctrl == "" {
			continue
		}
		byDir[dir] = append(byDir[dir], ctrl)
	}
	var out []initproc.CgroupMount
	for dir, ctrls := range byDir {
		rel := strings.TrimPrefix(dir, cgroups.DefaultRoot+"/")
		name, _, _ := strings.Cut(rel, "/")
		opts := strings.Join(ctrls, ",")
		out = append(out, initproc.CgroupMount{Name: name, Type: "cgroup", Options: opts, HostPath: dir})
	}
	if v2, ok := paths[""]; ok {
		out = append(out, initproc.CgroupMount{Name: "unified", Type: "cgroup2", HostPath: v2})
	}
	return out
}

// dropUnavailableCaps removes from every set the capabilities this process
// does not hold in its bounding set (no process can grant them; on this
// kind of host root lacks CAP_SYS_RESOURCE) and returns their names.
func dropUnavailableCaps(c *specs.LinuxCapabilities) []string {
	if c == nil {
		return nil
	}
	cur, err := caps.Current(0)
	if err != nil {
		return nil
	}
	dropped := map[string]bool{}
	filter := func(in []string) []string {
		out := in[:0:0]
		for _, n := range in {
			if v, err := caps.Parse(n); err == nil && v <= caps.Last() && !cur.Bounding.Has(v) {
				dropped[n] = true
				continue
			}
			out = append(out, n)
		}
		return out
	}
	c.Bounding, c.Effective, c.Permitted = filter(c.Bounding), filter(c.Effective), filter(c.Permitted)
	c.Inheritable, c.Ambient = filter(c.Inheritable), filter(c.Ambient)
	var names []string
	for n := range dropped {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// cgroupDirs splits the container's cgroup into its v1 directories (one
// per hierarchy) and its v2 directory.
func cgroupDirs(m cgroups.Manager) (v1 []string, v2 string) {
	seen := map[string]bool{}
	for ctrl, dir := range m.Paths() {
		if ctrl == "" {
			v2 = dir
			continue
		}
		if !seen[dir] {
			seen[dir] = true
			v1 = append(v1, dir)
		}
	}
	return v1, v2
}

// withDefaultDevices returns the resources with the device rules runc adds:
// the spec's rules, then access to the default devices and to every device
// in linux.devices.
func withDefaultDevices(spec *specs.Spec) *specs.LinuxResources {
	r := spec.Linux.Resources
	if r == nil || len(r.Devices) == 0 {
		return r
	}
	cp := *r
	cp.Devices = append([]specs.LinuxDeviceCgroup(nil), r.Devices...)
	i64 := func(v int64) *int64 { return &v }
	// mknod of any node (opening it is what the rules below control)
	cp.Devices = append(cp.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "m"},
		specs.LinuxDeviceCgroup{Allow: true, Type: "b", Access: "m"})
	// null zero full random urandom tty console ptmx, /dev/pts/*, /dev/net/tun
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, -1}, {10, 200}} {
		rule := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(d[0]), Access: "rwm"}
		if d[1] >= 0 {
			rule.Minor = i64(d[1])
		}
		cp.Devices = append(cp.Devices, rule)
	}
	for _, d := range spec.Linux.Devices {
		t := d.Type
		if t == "u" {
			t = "c"
		}
		if t == "p" {
			continue
		}
		cp.Devices = append(cp.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: t, Major: i64(d.Major), Minor: i64(d.Minor), Access: "rwm"})
	}
	return &cp
}

// waitGone polls until pid no longer runs, reaping it if it is our child
// (a Create caller that did not exit, like the tests or a shim).
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if _, ok := pidStart(pid); !ok {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}
