package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/sigcatch"
	"github.com/berth-dev/berth/oci/hooks"
	"github.com/berth-dev/berth/oci/initproc"
)

// Start lets a created container's init exec the user process, then runs
// the poststart hooks.
func (c *Container) Start() error {
	switch st := c.Status(); st {
	case specs.StateCreated:
	case specs.StateStopped:
		return fmt.Errorf("cannot start container %q: it has stopped: %w", c.State.ID, ErrState)
	default:
		return fmt.Errorf("cannot start container %q: it is %s, not created: %w", c.State.ID, st, ErrState)
	}
	fd, err := unix.Open(c.fifoPath(), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	// init is blocked opening the fifo for writing; our open released it.
	// Wait for its byte, watching that it does not die instead.
	// Then EOF: init closes its end when it execs the container process.
	got := false
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 50)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("wait for init: %w", err)
		}
		if n > 0 {
			var b [16]byte
			k, _ := unix.Read(fd, b[:])
			if k > 0 {
				got = true
				continue
			}
			if k == 0 && got {
				break
			}
		}
		if !c.alive() {
			if got {
				break // it ran and exited already
			}
			return fmt.Errorf("container %q: init exited before start", c.State.ID)
		}
	}
	os.Remove(c.fifoPath())
	if h := c.State.Spec.Hooks; h != nil && len(h.Poststart) > 0 {
		if err := hooks.RunAll("poststart", h.Poststart, c.hookState(specs.StateRunning)); err != nil {
			c.rt.warn("%v", err)
		}
	}
	return nil
}

// startBySync is Start for a container Run created: init waits on the
// sync socket, not on an exec fifo.
func (c *Container) startBySync(s *initproc.Sync) error {
	defer s.File().Close()
	if err := s.Send(initproc.Msg{Type: initproc.MsgStart}, -1); err != nil {
		return fmt.Errorf("container %q: init exited before start", c.State.ID)
	}
	// EOF once init has exec'd (the socket is close-on-exec) or died.
	var b [64]byte
	for {
		n, _, err := unix.Recvfrom(int(s.File().Fd()), b[:], 0)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			break
		}
	}
	if h := c.State.Spec.Hooks; h != nil && len(h.Poststart) > 0 {
		if err := hooks.RunAll("poststart", h.Poststart, c.hookState(specs.StateRunning)); err != nil {
			c.rt.warn("%v", err)
		}
	}
	return nil
}

// Signal sends sig to the init process, or with all to every process in
// the container's cgroup.
func (c *Container) Signal(sig syscall.Signal, all bool) error {
	st := c.Status()
	if st == specs.StateCreating || c.State.Pid <= 0 && !all {
		// (and never kill(0, sig): that is our own process group)
		return fmt.Errorf("container %q is %s: %w", c.State.ID, st, ErrState)
	}
	if st == specs.StateStopped {
		if all {
			if m, err := c.cgroup(); err == nil && m.Exists() {
				return m.Kill(sig)
			}
		}
		return fmt.Errorf("container %q is not running: %w", c.State.ID, ErrState)
	}
	if all {
		m, err := c.cgroup()
		if err != nil {
			return err
		}
		if st == StatusPaused && sig == unix.SIGKILL {
			defer m.Thaw()
		}
		return m.Kill(sig)
	}
	// A pidfd pins the process: the signal cannot reach a recycled pid.
	pfd, err := unix.PidfdOpen(c.State.Pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return fmt.Errorf("container %q is not running: %w", c.State.ID, ErrState)
		}
		return unix.Kill(c.State.Pid, sig)
	}
	defer unix.Close(pfd)
	if !c.alive() {
		return fmt.Errorf("container %q is not running: %w", c.State.ID, ErrState)
	}
	if err := unix.PidfdSendSignal(pfd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal %d to %d: %w", sig, c.State.Pid, err)
	}
	return nil
}

// Delete removes a stopped (or, with force, any) container: its processes,
// cgroup and state; then runs poststop hooks. As the spec says (and unlike
// runc), a created container is not stopped: deleting it needs force.
func (c *Container) Delete(force bool) error {
	if c.State.Creating {
		// A live create holds the lock: --force kills it first (it would
		// otherwise go on without its state), then its leftovers go.
		if force && c.creatorAlive() {
			if pfd, err := unix.PidfdOpen(c.State.CreatorPid, 0); err == nil {
				if c.creatorAlive() {
					unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0)
				}
				unix.Close(pfd)
			}
		}
		var l *os.File
		var err error
		for i := 0; ; i++ {
			if l, err = c.lockCreating(); err == nil || !force || i == 400 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		if l != nil {
			defer l.Close()
		}
		c.killAll()
		return c.destroy()
	}
	st := c.Status()
	switch st {
	case specs.StateStopped:
	default:
		if !force {
			return fmt.Errorf("cannot delete container %q that is %s (use --force): %w", c.State.ID, st, ErrState)
		}
		c.killAll()
	}
	return c.destroy()
}

func (c *Container) killAll() {
	if m, err := c.cgroup(); err == nil && m.Exists() {
		m.Kill(unix.SIGKILL)
		m.Thaw()
	}
	if c.alive() {
		unix.Kill(c.State.Pid, unix.SIGKILL)
	}
	waitGone(c.State.Pid, 5*time.Second)
}

func (c *Container) destroy() error {
	waitGone(c.State.Pid, 0) // reap it if it is our child
	if m, err := c.cgroup(); err == nil {
		if pids, _ := m.Pids(); len(pids) > 0 {
			// Processes left behind (init died, children stayed): a
			// container without its own pid namespace.
			m.Kill(unix.SIGKILL)
		}
		if err := m.Destroy(); err != nil && !c.State.Rootless {
			return fmt.Errorf("remove cgroup: %w", err)
		}
	}
	var herr error
	if h := c.hooks(); h != nil && len(h.Poststop) > 0 && !c.State.Creating {
		herr = hooks.RunAll("poststop", h.Poststop, c.hookState(specs.StateStopped))
	}
	if err := c.remove(); err != nil {
		return fmt.Errorf("remove state: %w", err)
	}
	if herr != nil {
		c.rt.warn("%v", herr)
	}
	return nil
}

// Pause freezes every process of a running container.
func (c *Container) Pause() error {
	if st := c.Status(); st != specs.StateRunning {
		return fmt.Errorf("cannot pause container %q that is %s: %w", c.State.ID, st, ErrState)
	}
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	return m.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if st := c.Status(); st != StatusPaused {
		return fmt.Errorf("cannot resume container %q that is %s, not paused: %w", c.State.ID, st, ErrState)
	}
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	return m.Thaw()
}

// Update changes the resource limits of a live container.
func (c *Container) Update(r *specs.LinuxResources) error {
	if st := c.Status(); st == specs.StateStopped || st == specs.StateCreating {
		return fmt.Errorf("cannot update container %q that has stopped: %w", c.State.ID, ErrState)
	}
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	if err := m.Set(r); err != nil {
		return err
	}
	c.State.Spec.Linux.Resources = mergeResources(c.State.Spec.Linux.Resources, r)
	return c.save()
}

func mergeResources(old, upd *specs.LinuxResources) *specs.LinuxResources {
	if old == nil {
		return upd
	}
	cp := *old
	if upd.Memory != nil {
		cp.Memory = upd.Memory
	}
	if upd.CPU != nil {
		cp.CPU = upd.CPU
	}
	if upd.Pids != nil {
		cp.Pids = upd.Pids
	}
	if upd.BlockIO != nil {
		cp.BlockIO = upd.BlockIO
	}
	if upd.Unified != nil {
		cp.Unified = upd.Unified
	}
	return &cp
}

// Pids lists the processes of the container.
func (c *Container) Pids() ([]int, error) {
	m, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return m.Pids()
}

// Run creates and starts a container and waits for it, forwarding signals
// to it; with detach it returns after start. It deletes the container
// after it exits and returns the exit status (128+n for signal n).
func (r *Runtime) Run(id string, o CreateOpts, detach bool) (int, error) {
	o.keep = !detach
	o.startBySync = true
	sigc := make(chan os.Signal, 32)
	if !detach {
		// In before the id is claimed: from then on a signal must be
		// relayed, not kill us with the claim left behind.
		stop, err := sigcatch.Notify(sigc, forwardedSignals...)
		if err != nil {
			return -1, err
		}
		defer stop()
	}
	c, p, err := r.create(id, o)
	if err != nil {
		return -1, err
	}
	trace("created")
	err = c.startBySync(p.sync)
	// Once init has been replaced by the container process (or is gone),
	// the sealed binary's last reference is ours and its teardown waits for
	// RCU grace periods: run aside, and for a foreground run only after the
	// container exited (the container's own exit waits for one too: they
	// would queue), beside the cgroup removal.
	if err != nil || detach {
		p.exe.release()
	}
	if err != nil {
		c.Delete(true)
		return -1, err
	}
	if detach {
		return 0, nil
	}
	done := make(chan int, 1)
	go func() { done <- waitInit(p) }()
	for {
		select {
		case code := <-done:
			trace("exited")
			p.exe.release()
			defer trace("deleted")
			if err := c.Delete(true); err != nil {
				return code, err
			}
			return code, nil
		case s := <-sigc:
			if s == unix.SIGCHLD || s == unix.SIGURG || s == unix.SIGWINCH && !c.State.Spec.Process.Terminal {
				continue
			}
			if sig, ok := s.(syscall.Signal); ok {
				unix.Kill(p.pid, sig)
			}
		}
	}
}

// forwardedSignals are relayed from `run` and foreground `exec` to the
// container process: those a user sends a foreground runtime to reach the
// container, none the Go runtime relies on itself (SIGURG preemption,
// SIGCHLD, SIGPIPE, SIGPROF, fault signals).
var forwardedSignals = []syscall.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT, unix.SIGALRM, unix.SIGPWR}

// waitInit waits for the init process and returns its exit status.
func waitInit(p *initProc) int {
	if p.direct {
		return exitCode(p.child.wait())
	}
	// our grandchild, reparented to us as subreaper
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		if pid == p.pid {
			return exitCode(syscall.WaitStatus(ws))
		}
	}
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// ForceDelete is `delete --force` by id: the container, whatever state it
// is in, including one still being created (its create is killed) or
// what a killed create left.
func (r *Runtime) ForceDelete(id string) error {
	for i := 0; ; i++ {
		c, err := r.Load(id)
		if err == nil {
			return c.Delete(true)
		}
		if !errors.Is(err, ErrNotExist) {
			return err
		}
		// Not written yet: a create that has just claimed the id writes
		// its record at once, or a killed one left it empty.
		err = r.RemoveLeftovers(id)
		if !errors.Is(err, ErrState) || i == 400 {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// RemoveLeftovers removes what a create killed before it wrote anything
// may have left for id (an empty state file, an exec fifo); nothing there
// is no error. A create still at work is refused, not raced.
func (r *Runtime) RemoveLeftovers(id string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	c := &Container{rt: r, id: id}
	l, err := c.lockCreating()
	if err != nil {
		return err
	}
	if l != nil {
		defer l.Close()
		if b, err := io.ReadAll(l); err == nil && len(b) > 0 && json.Valid(b) {
			return fmt.Errorf("container %q: %w", id, ErrExist) // written meanwhile
		}
	}
	if err := c.remove(); err != nil {
		return fmt.Errorf("remove state of %q: %w", id, err)
	}
	return nil
}
