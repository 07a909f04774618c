package shim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Started is what a successful Start reports.
type Started struct {
	ShimPID int // the monitor
	PID     int // the container init (created; started only with Config.Start)
}

// RuntimeError is a failed `RUNTIME create` (or start): Msg is the
// runtime's own message (its last "error" log entry, else its exit status).
type RuntimeError struct {
	ID  string
	Msg string
}

func (e *RuntimeError) Error() string { return fmt.Sprintf("container %s: %s", e.ID, e.Msg) }

// Start spawns the monitor for cfg and waits until the runtime created
// the container. The monitor lives on after ctx ends and after the caller
// exits; ctx bounds only the wait for its report.
func Start(ctx context.Context, cfg Config) (*Started, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var err error
	for _, p := range []*string{&cfg.Bundle, &cfg.Dir, &cfg.LogPath} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return nil, fmt.Errorf("shim config: %w", err)
			}
		}
	}
	exe := cfg.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("shim: find own executable: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("shim dir: %w", err)
	}
	// A previous run's files would be read as this one's.
	for _, f := range []string{"state.json", "health.json", "attach", "console.sock", "pid", "shim.pid"} {
		if err := os.Remove(filepath.Join(cfg.Dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("shim dir: %w", err)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("shim sync pipe: %w", err)
	}
	defer r.Close()
	err = spawn(exe, cfg.args(), append(os.Environ(), Env+"=1"), w) // forks the monitor and exits at once
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("shim %s: spawn %s: %w", cfg.ID, exe, err)
	}
	// Only after ctx is done (not at its deadline): ctx.Err() is then set.
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer stop()
	msg, err := io.ReadAll(r)
	if err != nil {
		if ctx.Err() != nil {
			// Nobody will use a monitor that reports too late: kill it.
			// The runtime may have created the container; the caller
			// deletes it as after any failed start.
			if b, rerr := os.ReadFile(filepath.Join(cfg.Dir, "shim.pid")); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil, fmt.Errorf("shim %s: waiting for the monitor: %w", cfg.ID, ctx.Err())
		}
		return nil, fmt.Errorf("shim %s: read sync pipe: %w", cfg.ID, err)
	}
	return parseReport(cfg, msg)
}

// spawn runs exe with argv and env, stdio on /dev/null and report as fd
// 3, in /, and waits for it. It is os/exec's Run without what a start
// does not need: os/exec probes pidfd support with an extra child on a
// process's first start, and opens /dev/null once per stdio stream.
func spawn(exe string, argv, env []string, report *os.File) error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	n, r := null.Fd(), report.Fd()
	pid, err := syscall.ForkExec(exe, argv, &syscall.ProcAttr{Dir: "/", Env: env, Files: []uintptr{n, n, n, r}})
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return &exitError{ws}
	}
	return nil
}

// exitError is a spawned process's failure, worded as os/exec's.
type exitError struct{ ws syscall.WaitStatus }

func (e *exitError) Error() string {
	switch {
	case e.ws.Exited():
		return fmt.Sprintf("exit status %d", e.ws.ExitStatus())
	case e.ws.Signaled():
		return "signal: " + e.ws.Signal().String()
	}
	return fmt.Sprintf("wait status %d", int(e.ws))
}

func parseReport(cfg Config, msg []byte) (*Started, error) {
	s := string(bytes.TrimSpace(msg))
	switch {
	case strings.HasPrefix(s, "ok "):
		f := strings.Fields(s)
		if len(f) == 3 {
			sp, err1 := strconv.Atoi(f[1])
			cp, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil {
				return &Started{ShimPID: sp, PID: cp}, nil
			}
		}
	case strings.HasPrefix(s, "error shim: "):
		return nil, fmt.Errorf("shim %s: %s", cfg.ID, strings.TrimPrefix(s, "error shim: "))
	case strings.HasPrefix(s, "error "):
		return nil, &RuntimeError{ID: cfg.ID, Msg: strings.TrimPrefix(s, "error ")}
	case s == "":
		return nil, fmt.Errorf("shim %s: monitor exited without a report (see %s)", cfg.ID, filepath.Join(cfg.Dir, "shim.log"))
	}
	return nil, fmt.Errorf("shim %s: bad report from the monitor: %q", cfg.ID, s)
}
