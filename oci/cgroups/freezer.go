package cgroups

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// freezeTimeout bounds how long Freeze waits for every task to stop.
const freezeTimeout = 5 * time.Second

// freezer returns the dir and kind of the freezer to use: the v1 freezer
// hierarchy, or cgroup.freeze of the v2 dir (also in hybrid mode when v1
// has no freezer, since our processes are in the unified dir too).
func (m *manager) freezer() (dir string, v2 bool) {
	if d, ok := m.ctrl["freezer"]; ok {
		return d, false
	}
	if m.v2 != "" && exists(m.v2+"/cgroup.freeze") {
		return m.v2, true
	}
	return "", false
}

func (m *manager) Freeze() error {
	d, v2 := m.freezer()
	if d == "" {
		return fmt.Errorf("cgroup: freeze: %w: no freezer", ErrNotSupported)
	}
	var err error
	if v2 {
		err = freezeV2(d, true)
	} else {
		err = freezeV1(d)
	}
	if err != nil {
		_ = m.Thaw()
		return fmt.Errorf("cgroup: freeze %s: %w", d, err)
	}
	return nil
}

func (m *manager) Thaw() error {
	d, v2 := m.freezer()
	if d == "" {
		return fmt.Errorf("cgroup: thaw: %w: no freezer", ErrNotSupported)
	}
	var err error
	if v2 {
		err = freezeV2(d, false)
	} else {
		err = rawWrite(d+"/freezer.state", "THAWED")
	}
	if err != nil {
		return fmt.Errorf("cgroup: thaw %s: %w", d, err)
	}
	return nil
}

func (m *manager) FreezerState() (string, error) {
	d, v2 := m.freezer()
	if d == "" {
		return "", nil
	}
	if v2 {
		s, err := readFile(d, "cgroup.freeze")
		if err != nil {
			return "", fmt.Errorf("cgroup: freezer state: %w", err)
		}
		if strings.TrimSpace(s) == "0" {
			return "thawed", nil
		}
		// Asked to freeze; report frozen only once every task is.
		if frozen, err := eventsFrozen(d); err != nil || !frozen {
			return "thawed", err
		}
		return "frozen", nil
	}
	s, err := readFile(d, "freezer.state")
	if err != nil {
		return "", fmt.Errorf("cgroup: freezer state: %w", err)
	}
	if strings.TrimSpace(s) == "FROZEN" {
		return "frozen", nil
	}
	return "thawed", nil
}

// freezeV1 writes FROZEN until the state reads FROZEN. Writing again
// restarts the walk over tasks that were busy (in the kernel) the first
// time, which is how runc gets past FREEZING.
func freezeV1(d string) error {
	deadline := time.Now().Add(freezeTimeout)
	delay := 50 * time.Microsecond
	for {
		if err := rawWrite(d+"/freezer.state", "FROZEN"); err != nil {
			return err
		}
		s, err := readFile(d, "freezer.state")
		if err != nil {
			return err
		}
		if strings.TrimSpace(s) == "FROZEN" {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out waiting for FROZEN")
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// freezeV2 writes cgroup.freeze and waits for cgroup.events to say the
// cgroup reached that state; the kernel signals changes of cgroup.events
// with POLLPRI.
func freezeV2(d string, freeze bool) error {
	if err := rawWrite(d+"/cgroup.freeze", boolStr(freeze)); err != nil {
		return err
	}
	fd, err := unix.Open(d+"/cgroup.events", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup.events: %w", err)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(freezeTimeout)
	buf := make([]byte, 256)
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("read cgroup.events: %w", err)
		}
		got := false
		parseKV(string(buf[:n]), func(k string, v uint64) {
			if k == "frozen" {
				got = v == 1
			}
		})
		if got == freeze {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return errors.New("timed out waiting for cgroup.events to change")
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		if _, err := unix.Poll(pfd, int(min(left, 100*time.Millisecond)/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return fmt.Errorf("poll cgroup.events: %w", err)
		}
	}
}

func eventsFrozen(d string) (bool, error) {
	s, err := readFile(d, "cgroup.events")
	if err != nil {
		return false, err
	}
	frozen := false
	parseKV(s, func(k string, v uint64) {
		if k == "frozen" {
			frozen = v == 1
		}
	})
	return frozen, nil
}
