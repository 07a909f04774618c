// Package native is the snapshotter for filesystems that cannot be an
// overlayfs upper (or kernels without overlay): an active snapshot is a full
// copy of its parent's tree, made with reflinks where the filesystem has
// them (btrfs, XFS) and plain copies otherwise, keeping owners, modes,
// xattrs, hardlinks, device nodes and times. A view of a committed snapshot
// is a read-only bind mount of it, with no copy.
//
// Layout under root: metadata.db and snapshots/<id>/fs, as in overlay.
package native

import (
	"context"
	"path/filepath"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/internal/base"
	"github.com/berth-dev/berth/snapshot/internal/fsutil"
	"github.com/berth-dev/berth/snapshot/internal/storage"
	"github.com/berth-dev/berth/snapshot/mount"
)

// Snapshotter is the copying snapshotter.
type Snapshotter struct {
	*base.Base
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// New opens the native snapshotter in root, creating it if needed.
func New(root string) (*Snapshotter, error) {
	s := &Snapshotter{}
	b, err := base.New(root, driver{s})
	if err != nil {
		return nil, err
	}
	s.Base = b
	return s, nil
}

type driver struct{ s *Snapshotter }

func (d driver) Populate(_ context.Context, dir string, kind snapshot.Kind, parentIDs []string) error {
	if kind != snapshot.KindActive || len(parentIDs) == 0 {
		return nil
	}
	return fsutil.CopyTree(filepath.Join(dir, "fs"), d.s.FS(parentIDs[0]))
}

func (driver) Committing(context.Context, string) error { return nil }

func (driver) Removing(context.Context, string, snapshot.Kind) error { return nil }

func (d driver) Mounts(_ context.Context, s storage.Snapshot) ([]mount.Mount, error) {
	if s.Kind == snapshot.KindView {
		src := d.s.FS(s.ID)
		if len(s.ParentIDs) > 0 {
			src = d.s.FS(s.ParentIDs[0])
		}
		return []mount.Mount{{Type: "bind", Source: src, Options: []string{"ro", "rbind"}}}, nil
	}
	return []mount.Mount{{Type: "bind", Source: d.s.FS(s.ID), Options: []string{"rw", "rbind"}}}, nil
}
