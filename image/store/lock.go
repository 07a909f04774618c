package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// errLocked is flock's answer when wait is false and the lock is taken.
var errLocked = errors.New("locked")

// flock opens path (creating it) and takes a flock of kind how, polling
// until ctx ends, or (wait false) failing with errLocked at once. flock
// locks belong to the open file description, so two goroutines of one process exclude each other just like two processes.
func flock(ctx context.Context, path string, how int, wait bool) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	pause := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait {
			f.Close()
			return nil, errLocked
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(pause):
		}
		if pause < 50*time.Millisecond {
			pause *= 2
		}
	}
}

// Hold keeps Prune away until release is called: pulls hold it from the
// first blob they ingest until the image record is written, so that the
// garbage collector never sees their blobs unreferenced. Holds are shared;
// many pulls run at once.
func (s *Store) Hold(ctx context.Context) (release func(), err error) {
	return s.hold(ctx)
}

func (s *Store) hold(ctx context.Context) (func(), error) {
	return flock(ctx, filepath.Join(s.root, "gc.lock"), unix.LOCK_SH, true)
}
