package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/oci"
	"github.com/berth-dev/berth/shim"
	"github.com/berth-dev/berth/snapshot/mount"
)

// StartOptions tune Start.
type StartOptions struct {
	// BeforeStart runs once the monitor holds the created container and
	// before its process runs: the moment to attach without losing output.
	BeforeStart func(shimDir string) error
	// OwnCleanup: the caller waits for the exit and cleans up itself (an
	// attached `run --rm`); the monitor skips its exit command while the
	// caller lives.
	OwnCleanup bool
}

// StartError is a start failure with Docker's exit code for it: 127 when
// the command was not found, 126 when it could not be executed, else 125.
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Start runs a created or stopped container.
func (e *Engine) Start(ctx context.Context, ref string, o StartOptions) (*Container, error) {
	if h, ok := e.held.LoadAndDelete(ref); ok {
		// Created by this process for this start (CreateOptions.Start).
		hc := h.(*heldContainer)
		defer hc.unlock()
		return e.startLocked(ctx, hc.c, o)
	}
	id, err := e.Resolve(ref)
	if err != nil {
		return nil, err
	}
	unlock, err := e.lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := e.load(ctx, id, true)
	if err != nil {
		return nil, err
	}
	return e.startLocked(ctx, c, o)
}

// startLocked starts c, whose lock the caller holds.
func (e *Engine) startLocked(ctx context.Context, c *Container, o StartOptions) (*Container, error) {
	switch c.State.Status {
	case StatusRunning, StatusRestarting:
		return c, nil // Docker: starting a running container is a no-op
	case StatusPaused:
		return nil, fmt.Errorf("%w: cannot start a paused container, try unpause instead", ErrState)
	case StatusRemoving, StatusDead:
		return nil, fmt.Errorf("%w: container %s is %s", ErrState, c.Name, c.State.Status)
	}
	if err := e.cleanup(ctx, c); err != nil {
		return nil, err
	}
	c.State.Status = statusStarting
	c.State.CleanedUp = false
	c.State.Error = ""
	// What start is about to make (the rootfs mount, the network
	// namespace and attachments) is recorded first, in this one save: a
	// command killed at any point after it leaves nothing the next
	// cleanup does not find.
	c.State.Mounted = true
	if err := e.planNetwork(ctx, c); err != nil {
		return nil, err
	}
	if err := e.save(c); err != nil {
		return nil, err
	}
	if err := e.start(ctx, c, o); err != nil {
		cctx := context.WithoutCancel(ctx)
		e.stopMonitor(c)
		e.cleanup(cctx, c)
		c.State.Status = StatusCreated
		if !c.State.StartedAt.IsZero() {
			c.State.Status = StatusExited
		}
		var se *StartError
		code := 125
		if errors.As(err, &se) {
			code = se.Code
		}
		c.State.ExitCode = code
		c.State.Error = err.Error()
		e.save(c)
		return nil, err
	}
	return c, nil
}

func (e *Engine) start(ctx context.Context, c *Container, o StartOptions) error {
	// The network (a namespace, CNI plugins) with the /etc files and the
	// rootfs mount do not depend on each other: they run at the same time.
	netDone := make(chan error, 1)
	go func() {
		err := e.setupNetwork(ctx, c)
		if err == nil {
			err = e.writeEtcFiles(c)
		}
		netDone <- err
	}()
	merr := e.mountRootfs(ctx, c)
	oci.ETrace("engine: rootfs mounted")
	nerr := <-netDone
	oci.ETrace("engine: network")
	if merr != nil {
		return merr
	}
	if nerr != nil {
		return nerr
	}
	spec, err := e.buildSpec(ctx, c)
	if err != nil {
		return err
	}
	oci.ETrace("engine: spec")
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.containerDir(c.ID), "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	dir := e.shimDir(c.ID)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	bin, pre := e.runtimeFor(c)
	cfg := shim.Config{
		ID:          c.ID,
		Runtime:     bin,
		RuntimeArgs: pre,
		Bundle:      e.containerDir(c.ID),
		Dir:         dir,
		Terminal:    c.Config.Tty,
		Stdin:       c.Config.OpenStdin,
		StdinOnce:   c.Config.StdinOnce,
		LogDriver:   c.HostConfig.LogConfig.Type,
		LogPath:     e.logPath(c),
		ExitCommand: []string{e.exe, "--root", e.root, "--runroot", e.runroot, "container", "cleanup", c.ID},
		Restart:     shim.RestartPolicy{Name: c.HostConfig.RestartPolicy.Name, MaxRetries: c.HostConfig.RestartPolicy.MaximumRetryCount},
		Exe:         e.shimExe,
	}
	if cg := memoryCgroupDir(spec.Linux.CgroupsPath); cg != "" {
		cfg.MemoryCgroup = cg
	}
	if c.HostConfig.AutoRemove {
		cfg.Restart = shim.RestartPolicy{Name: "no"}
	}
	if err := logOpts(&cfg, c.HostConfig.LogConfig); err != nil {
		return err
	}
	if h := c.Config.Healthcheck; h != nil && len(h.Test) > 0 && h.Test[0] != "NONE" {
		cfg.Health = healthConfig(h)
	}
	oci.ETrace("engine: shim starting")
	// The caller's claim on the cleanup is written while the monitor
	// starts: it must be there before the container can exit, which is
	// after rtStart.
	var owned chan struct{}
	if o.OwnCleanup {
		owned = make(chan struct{})
		go func() {
			os.WriteFile(filepath.Join(dir, "cleanup-owner"), []byte(fmt.Sprint(os.Getpid())), 0o600)
			close(owned)
		}()
	}
	st, err := shim.Start(ctx, cfg)
	if owned != nil {
		<-owned
	}
	if err != nil {
		return classify(err)
	}
	oci.ETrace("engine: shim started, container created")
	c.State.Pid = st.PID
	if o.BeforeStart != nil {
		if err := o.BeforeStart(dir); err != nil {
			return err
		}
	}
	if err := e.rtStart(ctx, c); err != nil {
		return classify(err)
	}
	oci.ETrace("engine: runtime start done")
	c.State.Status = StatusRunning
	c.State.StartedAt = time.Now().UTC()
	c.State.FinishedAt = time.Time{}
	c.State.ExitCode = 0
	c.State.OOMKilled = false
	if err := e.save(c); err != nil {
		return err
	}
	e.emit("container", "start", c, nil)
	return nil
}

// classify gives a start error Docker's exit code.
func classify(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "cwd"), strings.Contains(msg, "chdir"), strings.Contains(msg, "working directory"):
		return &StartError{Code: 126, Err: err} // Docker's code for a bad cwd
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"), strings.Contains(msg, "not found"):
		return &StartError{Code: 127, Err: err}
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"), strings.Contains(msg, "is a directory"):
		return &StartError{Code: 126, Err: err}
	}
	return &StartError{Code: 125, Err: err}
}

func (e *Engine) logPath(c *Container) string {
	if c.HostConfig.LogConfig.Type == "k8s-file" {
		return filepath.Join(e.containerDir(c.ID), "ctr.log")
	}
	return filepath.Join(e.containerDir(c.ID), c.ID+"-json.log")
}

// LogPath is where c's log file is.
func (e *Engine) LogPath(c *Container) string { return e.logPath(c) }

// mountRootfs mounts the container's snapshot on its bundle's rootfs.
func (e *Engine) mountRootfs(ctx context.Context, c *Container) error {
	var ms []mount.Mount
	fresh := false // a snapshot Prepare just made, never mounted
	if p, ok := e.prepared.LoadAndDelete(c.ID); ok && p.(preparedMounts).key == c.SnapshotKey {
		ms, fresh = p.(preparedMounts).mounts, true
	} else {
		sn, err := e.OpenSnapshotter(c.Snapshotter)
		if err != nil {
			return err
		}
		ms, err = sn.Mounts(ctx, c.SnapshotKey)
		sn.Close()
		if err != nil {
			return fmt.Errorf("container filesystem: %w", err)
		}
	}
	if c.HostConfig.AutoRemove {
		ms = volatileMounts(ms, !fresh)
	}
	rootfs := e.rootfs(c.ID)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	// c.State.Mounted was saved before (see Start): a command killed
	// between the mount and its next save still unmounts at cleanup.
	if err := mount.All(ms, rootfs); err != nil {
		return fmt.Errorf("mount the container's filesystem: %w", err)
	}
	return nil
}

// volatileMounts adds overlay's volatile option to the writable overlays
// of ms: the upper of a --rm container goes with it, so neither its
// writes nor the unmount need sync the upper's filesystem (an overlay
// unmount otherwise syncs the whole host filesystem under it, a journal
// commit and more on every run --rm).
//
// A volatile overlay leaves work/incompat/volatile in its workdir, and
// overlay refuses to mount that upper again while it is there (it cannot
// know the upper survived a crash). With remount (a restart keeps a --rm
// container) the marker goes first: berth mounts a --rm container's upper
// again only after its own clean unmount, as after a host crash the
// container is removed, never restarted (its record says it exited, its
// monitor dir with the restart's keep file is gone).
func volatileMounts(ms []mount.Mount, remount bool) []mount.Mount {
	out := make([]mount.Mount, len(ms))
	for i, m := range ms {
		out[i] = m
		if m.Type != "overlay" {
			continue
		}
		upper, work := false, ""
		for _, o := range m.Options {
			if strings.HasPrefix(o, "upperdir=") {
				upper = true
			} else if w, ok := strings.CutPrefix(o, "workdir="); ok {
				work = w
			}
		}
		if !upper || work == "" {
			continue
		}
		if remount {
			os.RemoveAll(filepath.Join(work, "work", "incompat", "volatile"))
		}
		out[i].Options = append(slices.Clip(m.Options), "volatile")
	}
	return out
}

func (e *Engine) unmountRootfs(c *Container) error {
	if !c.State.Mounted {
		return nil
	}
	if err := mount.UnmountAll(e.rootfs(c.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Busy (a host process inside it): detach it from the mount table
		// now, the kernel frees it with its last user. Removal must not
		// go on through a live mount, nor leave one nobody can find.
		for i := 0; i < 16; i++ {
			if derr := unix.Unmount(e.rootfs(c.ID), unix.MNT_DETACH); derr != nil {
				if derr == unix.EINVAL || derr == unix.ENOENT {
					break // nothing mounted there any more
				}
				return fmt.Errorf("unmount %s: %w", e.rootfs(c.ID), err)
			}
		}
	}
	c.State.Mounted = false
	return nil
}

// memoryCgroupDir is the directory of the memory controller for a
// container's cgroupsPath (v2 unified, else v1 memory).
func memoryCgroupDir(cgPath string) string {
	if cgPath == "" {
		return ""
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return filepath.Join("/sys/fs/cgroup", cgPath)
	}
	return filepath.Join("/sys/fs/cgroup/memory", cgPath)
}
