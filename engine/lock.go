package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lock takes the container's lock. The kernel drops a flock when its
// holder dies, so a lock found free next to an in-between status
// (creating, starting, removing) is what a killed command left.
func (e *Engine) lock(id string) (unlock func(), err error) {
	return e.flock(id, unix.LOCK_EX)
}

// lockFree says whether nobody holds id's lock right now.
func (e *Engine) lockFree(id string) bool {
	unlock, err := e.flock(id, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return false
	}
	unlock()
	return true
}

func (e *Engine) flock(id string, how int) (func(), error) {
	p := filepath.Join(e.locksDir(), id)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	return func() { f.Close() }, nil
}

// dropLock removes a removed container's lock file.
func (e *Engine) dropLock(id string) { os.Remove(filepath.Join(e.locksDir(), id)) }
