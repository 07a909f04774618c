package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lock takes the container's lock. The kernel drops a flock when its
// holder dies, so a lock found free next to an in-between status
// (creating, starting, removing) is what a killed command left.
func (e *Engine) lock(id string) (unlock func(), err error) {
	if h, ok := e.held.LoadAndDelete(id); ok {
		return h.(*heldContainer).unlock, nil // handed on (see Create)
	}
	return e.flock(id, unix.LOCK_EX)
}

// heldContainer is a container whose Create (with CreateOptions.Start)
// kept its lock for the start that follows in the same process: the
// next lock of its id by this engine takes that lock over, and Start
// takes the record as it is, without reading it back.
type heldContainer struct {
	c      *Container
	unlock func()
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
	unlock, err := flockPath(filepath.Join(e.locksDir(), id), how)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return unlock, nil
}

// dropLock removes a removed container's lock file.
func (e *Engine) dropLock(id string) { os.Remove(filepath.Join(e.locksDir(), id)) }

// withLocked resolves ref, holds the container's lock and runs fn on its
// record, reconciled and repaired.
func (e *Engine) withLocked(ctx context.Context, ref string, fn func(c *Container) error) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	unlock, err := e.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := e.load(ctx, id, true)
	if err != nil {
		return err
	}
	return fn(c)
}
