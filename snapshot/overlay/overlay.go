// Package overlay is berth's default snapshotter: every committed layer is a
// directory, and an active snapshot is an overlayfs mount with the parent
// chain as read-only lower layers and its own directory as the writable
// upper.
//
// Layout under root: metadata.db (bbolt), snapshots/<id>/fs (the layer's
// files, or the container's changes) and snapshots/<id>/work (overlay's
// work directory). Mounts:
//
//   - no parent: a bind mount of fs (read-only for a view);
//   - a view of one parent: a read-only bind mount of the parent's fs;
//   - otherwise overlay, lowerdir=<parent fs>:<grandparent fs>:..., plus
//     upperdir and workdir for an active snapshot.
//
// Long chains make long lowerdir options; snapshot/mount mounts them with the
// new mount API when the option string would pass the page limit.
package overlay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/internal/base"
	"github.com/berth-dev/berth/snapshot/internal/storage"
	"github.com/berth-dev/berth/snapshot/mount"
	"golang.org/x/sys/unix"
)

// Snapshotter is the overlay snapshotter.
type Snapshotter struct {
	*base.Base
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// New opens the overlay snapshotter in root, creating it if needed.
func New(root string) (*Snapshotter, error) {
	s := &Snapshotter{}
	b, err := base.New(root, driver{s})
	if err != nil {
		return nil, err
	}
	s.Base = b
	return s, nil
}

// Supported checks that root can hold overlay upper directories: the kernel
// has overlayfs and a test mount on root's filesystem works. Callers fall
// back to snapshot/native when it fails.
func Supported(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	td, err := os.MkdirTemp(root, "overlay-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(td)
	for _, d := range []string{"l1", "l2", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(td, d), 0o700); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s:%s,upperdir=%s,workdir=%s",
		filepath.Join(td, "l1"), filepath.Join(td, "l2"), filepath.Join(td, "u"), filepath.Join(td, "w"))
	m := filepath.Join(td, "m")
	if err := unix.Mount("overlay", m, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay not usable on %s: %w", root, err)
	}
	return unix.Unmount(m, 0)
}

type driver struct{ s *Snapshotter }

func (driver) Populate(context.Context, string, snapshot.Kind, []string) error { return nil }

func (driver) Committing(context.Context, string) error { return nil }

func (driver) Removing(context.Context, string, snapshot.Kind) error { return nil }

func (d driver) Mounts(_ context.Context, s storage.Snapshot) ([]mount.Mount, error) {
	return base.OverlayMounts(d.s.Base, s), nil
}
