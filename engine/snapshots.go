package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/erofs"
	"github.com/berth-dev/berth/snapshot/native"
	"github.com/berth-dev/berth/snapshot/overlay"
)

// Snapshotters are the names berth knows.
var Snapshotters = []string{"erofs", "overlay", "native"}

// SnapshotsDir is where the snapshotters of root keep their state.
func SnapshotsDir(root string) string { return filepath.Join(root, "snapshots") }

// OpenSnapshotter opens the snapshotter called name under root.
func OpenSnapshotter(root, name string) (snapshot.Snapshotter, error) {
	dir := filepath.Join(SnapshotsDir(root), name)
	var (
		sn  snapshot.Snapshotter
		err error
	)
	switch name {
	case "erofs":
		sn, err = erofs.New(dir)
	case "overlay":
		sn, err = overlay.New(dir)
	case "native":
		sn, err = native.New(dir)
	default:
		return nil, fmt.Errorf("--snapshotter %q: want one of %s", name, strings.Join(Snapshotters, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("%s snapshotter in %s: %w", name, dir, err)
	}
	return sn, nil
}

// LockSnapshots takes root's snapshot GC lock (snapshots/gc.lock), shared
// or exclusive: shared while snapshots are made on image layers, exclusive
// while `rmi`/`prune` removes layer snapshots, so neither sees half of the
// other.
func LockSnapshots(root string, exclusive bool) (func(), error) {
	if err := os.MkdirAll(SnapshotsDir(root), 0o700); err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	return flockPath(filepath.Join(SnapshotsDir(root), "gc.lock"), how)
}

// flockPath takes a flock on the file p (created if missing); the kernel
// drops it when the holder dies.
func flockPath(p string, how int) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}

// OpenSnapshotter opens the snapshotter called name under the engine's root.
func (e *Engine) OpenSnapshotter(name string) (snapshot.Snapshotter, error) {
	return OpenSnapshotter(e.root, name)
}

// LockSnapshots is LockSnapshots of the engine's root.
func (e *Engine) LockSnapshots(exclusive bool) (func(), error) {
	return LockSnapshots(e.root, exclusive)
}
