package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// State is Dir/state.json, written by the monitor (atomically).
type State struct {
	Status       string    `json:"status"` // running, restarting, exited
	PID          int       `json:"pid"`
	StartedAt    time.Time `json:"started_at"` // create (or restart) time
	ExitCode     int       `json:"exit_code"`  // exit status, or 128+signal
	ExitedAt     time.Time `json:"exited_at"`
	OOMKilled    bool      `json:"oom_killed"`
	RestartCount int       `json:"restart_count"`
	ShimPID      int       `json:"shim_pid"`
	ShimStart    uint64    `json:"shim_start"` // /proc/PID/stat field 22
}

// ErrShimDied is returned by WaitExit when the monitor is gone without
// having recorded the container's exit.
var ErrShimDied = errors.New("shim died without recording the exit")

// UnmarshalJSON accepts the empty time strings the monitor writes.
func (s *State) UnmarshalJSON(b []byte) error {
	type raw State
	var r struct {
		raw
		StartedAt string `json:"started_at"`
		ExitedAt  string `json:"exited_at"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	*s = State(r.raw)
	var err error
	if r.StartedAt != "" {
		if s.StartedAt, err = time.Parse(time.RFC3339Nano, r.StartedAt); err != nil {
			return fmt.Errorf("started_at: %w", err)
		}
	}
	if r.ExitedAt != "" {
		if s.ExitedAt, err = time.Parse(time.RFC3339Nano, r.ExitedAt); err != nil {
			return fmt.Errorf("exited_at: %w", err)
		}
	}
	return nil
}

// ReadState reads dir/state.json.
func ReadState(dir string) (*State, error) {
	p := filepath.Join(dir, "state.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read shim state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	return &s, nil
}

// ShimAlive reports whether the monitor that wrote s still runs (same
// pid and same start time: pids get reused).
func (s *State) ShimAlive() bool {
	return s.ShimPID > 0 && procStart(s.ShimPID) == s.ShimStart
}

func procStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return 0
	}
	// A zombie monitor is dead for our purpose.
	if f[0] == "Z" || f[0] == "X" {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// HealthState is Dir/health.json (Docker's shape).
type HealthState struct {
	Status        string      `json:"Status"` // starting, healthy, unhealthy
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log"`
}

// HealthLog is one health check result.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// ReadHealth reads dir/health.json; (nil, nil) before the first check.
func ReadHealth(dir string) (*HealthState, error) {
	p := filepath.Join(dir, "health.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read health: %w", err)
	}
	var h HealthState
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	return &h, nil
}

// WaitExit waits until dir/state.json says exited and returns it. If the
// monitor dies without writing that, it returns the last state and an
// error wrapping ErrShimDied.
func WaitExit(ctx context.Context, dir string) (*State, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	var ino *os.File
	if err == nil {
		if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF); err != nil {
			unix.Close(fd)
		} else {
			ino = os.NewFile(uintptr(fd), "inotify")
			defer ino.Close()
		}
	}
	buf := make([]byte, 4096)
	for {
		s, err := ReadState(dir)
		if err == nil && s.Status == "exited" {
			return s, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if s == nil || !s.ShimAlive() {
			// Re-read: the monitor may have written exited and then gone.
			if s2, err2 := ReadState(dir); err2 == nil && s2.Status == "exited" {
				return s2, nil
			} else if err2 == nil {
				s = s2
			}
			if s == nil || !s.ShimAlive() {
				return s, fmt.Errorf("wait for container exit in %s: %w", dir, ErrShimDied)
			}
		}
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		// Wake on a change of Dir, and every second to check the monitor.
		if ino != nil {
			ino.SetReadDeadline(time.Now().Add(time.Second))
			stop := context.AfterFunc(ctx, func() { ino.SetReadDeadline(time.Now()) })
			ino.Read(buf)
			stop()
		} else {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// ExitedFunc returns a function that reports whether the container of
// the monitor in dir has exited for good (state exited, or the monitor
// is gone): the Done of a following log reader. The monitor flushes the
// log before it writes the exited state.
func ExitedFunc(dir string) func() bool {
	return func() bool {
		s, err := ReadState(dir)
		return err != nil || s.Status == "exited" || !s.ShimAlive()
	}
}
