package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/oci"
	"github.com/berth-dev/berth/shim"
)

// Get returns a container's record, reconciled with what its monitor saw.
func (e *Engine) Get(ctx context.Context, ref string) (*Container, error) {
	id, err := e.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return e.load(ctx, id, false)
}

// List returns every container, reconciled.
func (e *Engine) List(ctx context.Context) ([]*Container, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	out := make([]*Container, 0, len(ids))
	for _, id := range ids {
		c, err := e.load(ctx, id, false)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				e.dropOrphan(id)
				continue // removed meanwhile, or a create killed before its record
			}
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// dropOrphan removes a container directory without a record: what a
// create killed between its mkdir and its first save leaves.
func (e *Engine) dropOrphan(id string) {
	unlock, err := e.flock(id, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return // its create is still at work
	}
	defer unlock()
	if _, err := os.Stat(e.recordPath(id)); !errors.Is(err, os.ErrNotExist) {
		return
	}
	os.RemoveAll(e.containerDir(id))
	if ents, err := os.ReadDir(e.namesDir()); err == nil {
		for _, n := range ents {
			e.releaseName(n.Name(), id)
		}
	}
	e.dropLock(id)
}

// load reads a record and folds in the monitor's state. With locked (the
// caller holds the container's lock) it also repairs what a killed command
// left; without, it only reports.
func (e *Engine) load(ctx context.Context, id string, locked bool) (*Container, error) {
	return e.loadSaving(ctx, id, locked, true)
}

// loadSaving is load; with locked and !saveExit, an exit folded in is not
// saved: the caller saves the record next anyway (Remove).
func (e *Engine) loadSaving(ctx context.Context, id string, locked, saveExit bool) (*Container, error) {
	c, err := e.read(id)
	if err != nil {
		return nil, err
	}
	switch c.State.Status {
	case StatusRunning, StatusPaused, StatusRestarting:
		e.foldMonitor(ctx, c)
		if c.State.Status != StatusExited {
			break
		}
		if locked {
			if saveExit {
				e.save(c)
			}
			break
		}
		// Exited while nobody cleaned up after it (the command that
		// waited was killed): do it now if no command is at it.
		if unlock, err := e.flock(id, unix.LOCK_EX|unix.LOCK_NB); err == nil {
			if fresh, err := e.read(id); err == nil && fresh.State.Running() {
				oci.ETrace("engine: cleaning up after an exit")
				e.foldMonitor(ctx, fresh)
				if fresh.State.Status == StatusExited && e.cleanup(ctx, fresh) == nil {
					if e.autoRemove(fresh) {
						e.destroy(ctx, fresh)
						e.removeAnonymousVolumes(fresh)
						unlock()
						return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
					}
					e.save(fresh)
					c = fresh
				}
			}
			unlock()
		}
	case statusCreating, statusStarting, StatusRemoving:
		if !locked && !e.lockFree(id) {
			// Another command is at work: report the record as it stands.
			if c.State.Status == statusCreating || c.State.Status == statusStarting {
				c.State.Status = StatusCreated
			}
			return c, nil
		}
		if !locked {
			unlock, err := e.lock(id)
			if err != nil {
				return nil, err
			}
			defer unlock()
			if c, err = e.read(id); err != nil {
				return nil, err
			}
		}
		if err := e.repair(ctx, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// foldMonitor updates a running record from the monitor's state file.
func (e *Engine) foldMonitor(ctx context.Context, c *Container) {
	st, err := shim.ReadState(e.shimDir(c.ID))
	if err == nil {
		c.State.RestartCount = st.RestartCount
		switch st.Status {
		case "exited":
			c.State.Status = StatusExited
			c.State.ExitCode = st.ExitCode
			c.State.OOMKilled = st.OOMKilled
			c.State.FinishedAt = st.ExitedAt
			c.State.Pid = 0
			return
		case "restarting":
			c.State.Status = StatusRestarting
			c.State.ExitCode = st.ExitCode
			c.State.FinishedAt = st.ExitedAt
			c.State.Pid = 0
			return
		case "running":
			if st.PID != 0 {
				c.State.Pid = st.PID
			}
			if st.RestartCount > 0 && !st.StartedAt.IsZero() {
				c.State.StartedAt = st.StartedAt // this run's, not the first's
			}
			if c.State.Status == StatusRestarting {
				c.State.Status = StatusRunning
			}
		}
		if st.ShimAlive() {
			return
		}
	}
	// The monitor is gone without recording an exit (killed, or the host
	// rebooted): the container's process died with it or is unmonitored.
	if c.State.Pid > 0 && waitGone(ctx, c.State.Pid, 0) != nil {
		return // still alive (not gone, not a zombie)
	}
	c.State.Status = StatusExited
	c.State.ExitCode = 255
	c.State.Error = "the container's monitor died"
	c.State.Pid = 0
	if c.State.FinishedAt.IsZero() {
		c.State.FinishedAt = time.Now().UTC()
	}
}

// repair finishes or undoes what a killed command left. Caller holds the lock.
func (e *Engine) repair(ctx context.Context, c *Container) error {
	switch c.State.Status {
	case statusCreating, StatusRemoving:
		e.destroy(ctx, c)
		return fmt.Errorf("%w: %s (its creation or removal was interrupted; removed now)", ErrNotFound, c.ID)
	case statusStarting:
		e.stopMonitor(c)
		if err := e.cleanup(ctx, c); err != nil {
			return err
		}
		c.State.Status = StatusCreated
		if !c.State.StartedAt.IsZero() {
			c.State.Status = StatusExited
		}
		c.State.Error = "start interrupted"
		return e.save(c)
	}
	return nil
}

// stopMonitor kills a monitor that should not go on (an aborted start).
func (e *Engine) stopMonitor(c *Container) {
	dir := e.shimDir(c.ID)
	os.WriteFile(filepath.Join(dir, "stopped"), nil, 0o600)
	e.rtDelete(context.Background(), c)
	if st, err := shim.ReadState(dir); err == nil && st.ShimAlive() {
		syscall.Kill(st.ShimPID, syscall.SIGKILL)
	}
}

// cleanup releases what a run of c held once its process is gone: the
// runtime's state, the rootfs mount, the network. Idempotent. Caller holds
// the lock and saves.
func (e *Engine) cleanup(ctx context.Context, c *Container) error {
	return e.cleanupThen(ctx, c, nil)
}

// cleanupThen is cleanup; afterUnmount (if not nil) runs once the rootfs
// is unmounted, while the runtime's state and the network may still be
// going.
func (e *Engine) cleanupThen(ctx context.Context, c *Container, afterUnmount func()) error {
	if c.State.CleanedUp {
		return nil
	}
	// The runtime's state and cgroups and the network go while the rootfs
	// is unmounted: they do not depend on each other once the init is
	// gone (its pid namespace took every other process with it).
	errc := make(chan error, 1)
	go func() {
		err := e.rtDelete(ctx, c)
		oci.ETrace("engine: cleanup: runtime deleted")
		if err == nil {
			err = e.teardownNetwork(ctx, c)
			oci.ETrace("engine: cleanup: network down")
		}
		errc <- err
	}()
	e.unmountVolumes(c)
	uerr := e.unmountRootfs(c)
	oci.ETrace("engine: cleanup: unmounted")
	if uerr == nil && afterUnmount != nil {
		afterUnmount()
	}
	if err := <-errc; err != nil {
		return err
	}
	if uerr != nil {
		return uerr
	}
	c.State.CleanedUp = true
	if !c.State.StartedAt.IsZero() {
		e.emit("container", "die", c, map[string]string{"exitCode": fmt.Sprint(c.State.ExitCode)})
	}
	return nil
}

// Cleanup is what the monitor runs when a container has exited for good:
// fold the exit in, release the run's resources, remove it with --rm.
func (e *Engine) Cleanup(ctx context.Context, ref string) error {
	return e.withLocked(ctx, ref, func(c *Container) error {
		if c.State.Running() {
			return nil
		}
		if err := e.cleanup(ctx, c); err != nil {
			return err
		}
		if e.autoRemove(c) && c.State.Status == StatusExited {
			if err := e.destroy(ctx, c); err != nil {
				return err
			}
			e.removeAnonymousVolumes(c) // --rm takes them, as Docker's
			return nil
		}
		return e.save(c)
	})
}

// autoRemove says whether c goes when it exits: --rm, unless a restart
// (which stops it to start it again) marked its monitor dir.
func (e *Engine) autoRemove(c *Container) bool {
	if !c.HostConfig.AutoRemove {
		return false
	}
	_, err := os.Stat(filepath.Join(e.shimDir(c.ID), keepFile))
	return err != nil
}

// keepFile in a monitor dir keeps a --rm container through a restart.
const keepFile = "keep"

// Restart stops a container (keeping it even with --rm) and starts it.
func (e *Engine) Restart(ctx context.Context, ref string, timeout *time.Duration) error {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return err
	}
	if c.State.Running() {
		os.WriteFile(filepath.Join(e.shimDir(c.ID), keepFile), nil, 0o600)
		if err := e.Stop(ctx, c.ID, timeout); err != nil {
			return err
		}
	}
	_, err = e.Start(ctx, c.ID, StartOptions{})
	return err
}

// Kill sends sig to the container's process.
func (e *Engine) Kill(ctx context.Context, ref string, sig syscall.Signal) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	c, err := e.load(ctx, id, false)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return fmt.Errorf("%w: container %s is not running", ErrState, c.ID)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || c.State.Status == StatusRestarting {
		// An explicit kill is a stop for the restart policy too (Docker:
		// unless-stopped/always stay down until started again).
		os.WriteFile(filepath.Join(e.shimDir(c.ID), "stopped"), nil, 0o600)
	}
	if c.State.Status == StatusRestarting {
		// Between two runs: the marker above is what stops it.
		e.emit("container", "kill", c, map[string]string{"signal": fmt.Sprint(int(sig))})
		return nil
	}
	if err := e.rtKill(ctx, c, sig, false); err != nil {
		return err
	}
	e.emit("container", "kill", c, map[string]string{"signal": fmt.Sprint(int(sig))})
	return nil
}

// Stop asks the container to stop with its stop signal, then kills it after
// timeout. It returns when the process is gone and the run cleaned up.
func (e *Engine) Stop(ctx context.Context, ref string, timeout *time.Duration) error {
	return e.StopSignal(ctx, ref, timeout, "")
}

// StopSignal is Stop with a signal other than the container's (stop -s).
func (e *Engine) StopSignal(ctx context.Context, ref string, timeout *time.Duration, signal string) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	c, err := e.load(ctx, id, false)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return nil
	}
	os.WriteFile(filepath.Join(e.shimDir(c.ID), "stopped"), nil, 0o600)
	if c.State.Status == StatusPaused {
		e.runRuntime(ctx, c, "resume", c.ID)
	}
	sig := syscall.SIGTERM
	if c.Config.StopSignal != "" {
		if s, err := oci.ParseSignal(c.Config.StopSignal); err == nil {
			sig = s
		}
	}
	if signal != "" {
		s, err := oci.ParseSignal(signal)
		if err != nil {
			return fmt.Errorf("invalid signal: %s", signal)
		}
		sig = s
	}
	t := 10 * time.Second
	if c.Config.StopTimeout != nil {
		t = time.Duration(*c.Config.StopTimeout) * time.Second
	}
	if timeout != nil {
		t = *timeout
	}
	if t != 0 {
		e.rtKill(ctx, c, sig, false)
	}
	wctx, cancel := context.WithTimeout(ctx, max(t, 0))
	if t < 0 {
		cancel()
		wctx, cancel = context.WithCancel(ctx)
	}
	_, err = shim.WaitExit(wctx, e.shimDir(c.ID))
	cancel()
	if errors.Is(err, shim.ErrShimDied) {
		// Nobody will record the exit: kill what is left and wait for
		// the process itself.
		e.rtKill(ctx, c, syscall.SIGKILL, true)
		err = waitGone(ctx, c.State.Pid, 10*time.Second)
	} else if err != nil {
		e.rtKill(ctx, c, syscall.SIGKILL, true)
		if _, err = shim.WaitExit(ctx, e.shimDir(c.ID)); errors.Is(err, shim.ErrShimDied) {
			err = waitGone(ctx, c.State.Pid, 10*time.Second)
		}
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", c.ID, err)
	}
	// A --rm container may be gone already (its monitor cleaned up).
	if err := e.Cleanup(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	e.emit("container", "stop", c, nil)
	return nil
}

// Wait blocks until the container is not running and returns its state.
// It only reads: the waiter (an attached run --rm) may own the cleanup.
func (e *Engine) Wait(ctx context.Context, ref string) (*Container, error) {
	id, err := e.Resolve(ref)
	if err != nil {
		return nil, err
	}
	for {
		c, err := e.read(id)
		if err != nil {
			return nil, err
		}
		if c.State.Running() {
			e.foldMonitor(ctx, c)
		}
		switch c.State.Status {
		case statusStarting, statusCreating:
			// A start in progress: wait for its outcome.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if !c.State.Running() {
			return c, nil
		}
		if _, err := shim.WaitExit(ctx, e.shimDir(id)); err != nil && !errors.Is(err, shim.ErrShimDied) {
			return nil, err
		}
	}
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // remove its anonymous volumes
}

// Remove deletes a container and everything it holds.
func (e *Engine) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	// Everything under the lock: a start racing this rm -f waits, or is
	// waited for and then killed.
	unlock, err := e.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	// An exit folded in is saved with the removing status below.
	c, err := e.loadSaving(ctx, id, true, false)
	if err != nil {
		return err
	}
	if c.State.Running() {
		if !o.Force {
			return fmt.Errorf("%w: cannot remove container %q: container is %s: stop the container before removing or force remove", ErrState, c.Name, c.State.Status)
		}
		if err := e.killNow(ctx, c); err != nil {
			return err
		}
	}
	c.State.Status = StatusRemoving
	if err := e.save(c); err != nil {
		return err
	}
	oci.ETrace("engine: removing")
	if err := e.destroy(ctx, c); err != nil {
		return err
	}
	oci.ETrace("engine: removed")
	if o.Volumes {
		e.removeAnonymousVolumes(c)
	}
	return nil
}

// killNow SIGKILLs a running container and waits until it is gone, for rm
// -f. Caller holds the lock (the monitor's cleanup waits for it; destroy
// does that work).
func (e *Engine) killNow(ctx context.Context, c *Container) error {
	dir := e.shimDir(c.ID)
	os.WriteFile(filepath.Join(dir, "stopped"), nil, 0o600)
	if c.State.Status == StatusPaused {
		e.runRuntime(ctx, c, "resume", c.ID)
	}
	e.rtKill(ctx, c, syscall.SIGKILL, true)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := shim.WaitExit(wctx, dir)
	if errors.Is(err, shim.ErrShimDied) {
		err = waitGone(ctx, c.State.Pid, 10*time.Second)
	}
	if err != nil {
		return fmt.Errorf("kill %s: %w", c.ID, err)
	}
	e.foldMonitor(ctx, c)
	if c.State.Running() {
		return fmt.Errorf("kill %s: still %s", c.ID, c.State.Status)
	}
	return nil
}

// destroy removes every trace of c. Caller holds the lock.
func (e *Engine) destroy(ctx context.Context, c *Container) error {
	c.State.Mounted = true // unmount whatever is there
	// A container whose last run ended (its init exited and was reaped,
	// which emptied its pid namespace) has nothing left that uses its
	// snapshot once the rootfs is unmounted: the snapshot goes while the
	// runtime's state and the network do.
	// So does the monitor's dir (its process is done but for its exit).
	var snapDone chan error
	var shimGone chan struct{}
	var early func()
	if c.State.Pid == 0 && !c.State.StartedAt.IsZero() && !c.State.FinishedAt.IsZero() {
		snapshotter, key, shimDir := c.Snapshotter, c.SnapshotKey, e.shimDir(c.ID)
		early = func() {
			snapDone = make(chan error, 1)
			go func() { snapDone <- e.removeSnapshot(ctx, snapshotter, key) }()
			shimGone = make(chan struct{})
			go func() { os.RemoveAll(shimDir); close(shimGone) }()
		}
	}
	err := e.cleanupThen(ctx, c, early)
	oci.ETrace("engine: destroy: cleaned up")
	if err != nil && !c.State.CleanedUp {
		// Go on: removal must not stop at a runtime that lost the container.
		e.teardownNetwork(ctx, c)
		e.unmountRootfs(c)
	}
	if mounted(e.rootfs(c.ID)) {
		if snapDone != nil {
			<-snapDone
			<-shimGone
		}
		// Never remove files through a live mount: keep the record for
		// the next attempt.
		return fmt.Errorf("remove %s: its root filesystem is still mounted at %s", c.ID, e.rootfs(c.ID))
	}
	// The files go while the snapshot is removed; the monitor's dir first,
	// the record last.
	filesErr := make(chan error, 1)
	go func() {
		if shimGone != nil {
			<-shimGone
		} else {
			os.RemoveAll(e.shimDir(c.ID))
		}
		filesErr <- os.RemoveAll(e.containerDir(c.ID))
	}()
	var snapErr error
	if snapDone != nil {
		snapErr = <-snapDone
	} else {
		snapErr = e.removeSnapshot(ctx, c.Snapshotter, c.SnapshotKey)
	}
	oci.ETrace("engine: destroy: snapshot removed")
	if err := <-filesErr; err != nil {
		return fmt.Errorf("remove %s: %w", e.containerDir(c.ID), err)
	}
	if snapErr != nil {
		return snapErr
	}
	e.releaseName(c.Name, c.ID)
	e.dropLock(c.ID)
	if c.State.Status == StatusRemoving || c.State.Status == StatusExited {
		e.emit("container", "destroy", c, nil)
	}
	oci.ETrace("engine: destroyed")
	return nil
}

// removeSnapshot removes a container's snapshot; one already gone is no
// error.
func (e *Engine) removeSnapshot(ctx context.Context, snapshotter, key string) error {
	if key == "" || snapshotter == "" {
		return nil
	}
	sn, err := e.OpenSnapshotter(snapshotter)
	if err != nil {
		return nil // a snapshotter that does not open holds nothing to remove
	}
	err = sn.Remove(ctx, key)
	sn.Close()
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove the container's filesystem: %w", err)
	}
	return nil
}

// waitGone waits until pid is no longer a live process (gone or a zombie
// nobody reaps), up to limit.
func waitGone(ctx context.Context, pid int, limit time.Duration) error {
	if pid <= 0 {
		return nil
	}
	deadline := time.Now().Add(limit)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		// the state is the field after the ")" that ends the command name
		if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("process %d still alive %s after SIGKILL", pid, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// mounted says whether dir is a mount point (its device differs from its
// parent's).
func mounted(dir string) bool {
	var st, pst unix.Stat_t
	if unix.Lstat(dir, &st) != nil || unix.Lstat(filepath.Dir(dir), &pst) != nil {
		return false
	}
	return st.Dev != pst.Dev
}
