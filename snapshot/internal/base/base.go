// Package base is the machinery the directory-based snapshotters share:
// metadata in <root>/metadata.db, one directory per snapshot at
// <root>/snapshots/<id> (with fs/ and work/), created in a temporary
// directory and renamed into place inside the metadata transaction, and
// deleted only after the transaction that removed the record committed. A
// crash leaves at worst an unreferenced directory, which Cleanup removes.
package base

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/internal/fsutil"
	"github.com/berth-dev/berth/snapshot/internal/storage"
	"github.com/berth-dev/berth/snapshot/mount"
	"golang.org/x/sys/unix"
)

// Driver is what differs between snapshotters.
type Driver interface {
	// Populate fills the directory dir of a new snapshot (fs/ and, for an
	// active one, work/ exist) before it is recorded.
	Populate(ctx context.Context, dir string, kind snapshot.Kind, parentIDs []string) error
	// Mounts returns the mounts of the active snapshot or view s.
	Mounts(ctx context.Context, s storage.Snapshot) ([]mount.Mount, error)
	// Committing runs before the record of the active snapshot id turns
	// committed; an error aborts the commit.
	Committing(ctx context.Context, id string) error
	// Removing runs after the record of id is gone, before its directory is
	// deleted (the EROFS driver unmounts the layer image there).
	Removing(ctx context.Context, id string, kind snapshot.Kind) error
}

// Base implements snapshot.Snapshotter on top of a Driver.
type Base struct {
	Root  string
	Store *storage.Store
	D     Driver
}

// New opens (creating) the snapshotter state in root.
func New(root string, d Driver) (*Base, error) {
	if err := os.MkdirAll(filepath.Join(root, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("snapshotter root %s: %w", root, err)
	}
	st, err := storage.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		return nil, err
	}
	return &Base{Root: root, Store: st, D: d}, nil
}

// Dir is the directory of the snapshot id.
func (b *Base) Dir(id string) string { return filepath.Join(b.Root, "snapshots", id) }

// FS is the tree of the snapshot id.
func (b *Base) FS(id string) string { return filepath.Join(b.Root, "snapshots", id, "fs") }

// Stat implements snapshot.Snapshotter.
func (b *Base) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	var info snapshot.Info
	err := b.Store.View(func(tx *storage.Tx) error {
		var err error
		_, info, _, err = tx.Info(key)
		return err
	})
	return info, err
}

// Usage implements snapshot.Snapshotter.
func (b *Base) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	var id string
	var info snapshot.Info
	var u snapshot.Usage
	err := b.Store.View(func(tx *storage.Tx) error {
		var err error
		id, info, u, err = tx.Info(key)
		return err
	})
	if err != nil {
		return u, err
	}
	if info.Kind == snapshot.KindActive {
		size, inodes, err := fsutil.DiskUsage(b.FS(id))
		if err != nil {
			return u, err
		}
		u = snapshot.Usage{Size: size, Inodes: inodes}
	}
	return u, nil
}

// Get returns the snapshot key with its parent chain.
func (b *Base) Get(key string) (storage.Snapshot, error) {
	var s storage.Snapshot
	err := b.Store.View(func(tx *storage.Tx) error {
		var err error
		s, err = tx.Get(key)
		return err
	})
	return s, err
}

// Mounts implements snapshot.Snapshotter.
func (b *Base) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	s, err := b.Get(key)
	if err != nil {
		return nil, err
	}
	if s.Kind == snapshot.KindCommitted {
		return nil, snapshot.Errorf(snapshot.ErrInvalid, "mounts of %q: committed snapshots are not mounted, make a view", key)
	}
	return b.D.Mounts(ctx, s)
}

// Prepare implements snapshot.Snapshotter.
func (b *Base) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return b.create(ctx, snapshot.KindActive, key, parent, opts)
}

// View implements snapshot.Snapshotter.
func (b *Base) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return b.create(ctx, snapshot.KindView, key, parent, opts)
}

func (b *Base) create(ctx context.Context, kind snapshot.Kind, key, parent string, opts []snapshot.Opt) (_ []mount.Mount, err error) {
	tmp, err := os.MkdirTemp(filepath.Join(b.Root, "snapshots"), "new-")
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", key, err)
	}
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Mkdir(filepath.Join(tmp, "fs"), 0o755); err != nil {
		return nil, err
	}
	if kind == snapshot.KindActive {
		if err := os.Mkdir(filepath.Join(tmp, "work"), 0o700); err != nil {
			return nil, err
		}
	}
	// The parent chain is needed before the record exists: look it up first
	// and check it again in the transaction.
	var parentIDs []string
	if parent != "" {
		p, err := b.Get(parent)
		if err != nil {
			return nil, fmt.Errorf("parent of %q: %w", key, err)
		}
		if p.Kind != snapshot.KindCommitted {
			return nil, snapshot.Errorf(snapshot.ErrInvalid, "parent %q of %q is %v, not committed", parent, key, p.Kind)
		}
		parentIDs = append([]string{p.ID}, p.ParentIDs...)
		// The root of the new tree looks like the parent's root.
		var st unix.Stat_t
		if err := unix.Stat(b.FS(p.ID), &st); err == nil {
			os.Lchown(filepath.Join(tmp, "fs"), int(st.Uid), int(st.Gid))
			os.Chmod(filepath.Join(tmp, "fs"), os.FileMode(st.Mode&0o777))
		}
	}
	if err := b.D.Populate(ctx, tmp, kind, parentIDs); err != nil {
		return nil, fmt.Errorf("prepare %q: %w", key, err)
	}
	var s storage.Snapshot
	err = b.Store.Update(func(tx *storage.Tx) error {
		var err error
		if s, err = tx.Create(kind, key, parent, opts...); err != nil {
			return err
		}
		if err := os.Rename(tmp, b.Dir(s.ID)); err != nil {
			return fmt.Errorf("prepare %q: %w", key, err)
		}
		return nil
	})
	if err != nil {
		if s.ID != "" {
			// Renamed, but the transaction did not commit.
			os.RemoveAll(b.Dir(s.ID))
		}
		return nil, err
	}
	tmp = ""
	ms, err := b.D.Mounts(ctx, s)
	if err != nil {
		return nil, err
	}
	return ms, nil
}

// Commit implements snapshot.Snapshotter.
func (b *Base) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	s, err := b.Get(key)
	if err != nil {
		return err
	}
	if s.Kind != snapshot.KindActive {
		return snapshot.Errorf(snapshot.ErrFailedPrecondition, "commit %q: snapshot is %v, only active snapshots can be committed", key, s.Kind)
	}
	if _, err := b.Stat(ctx, name); err == nil {
		return snapshot.Errorf(snapshot.ErrAlreadyExists, "commit %q as %q", key, name)
	}
	if err := b.D.Committing(ctx, s.ID); err != nil {
		return fmt.Errorf("commit %q: %w", key, err)
	}
	size, inodes, err := fsutil.DiskUsage(b.Dir(s.ID))
	if err != nil {
		return err
	}
	return b.Store.Update(func(tx *storage.Tx) error {
		_, err := tx.Commit(key, name, snapshot.Usage{Size: size, Inodes: inodes}, opts...)
		return err
	})
}

// Remove implements snapshot.Snapshotter.
func (b *Base) Remove(ctx context.Context, key string) error {
	var id string
	var kind snapshot.Kind
	err := b.Store.Update(func(tx *storage.Tx) error {
		var err error
		id, kind, err = tx.Remove(key)
		return err
	})
	if err != nil {
		return err
	}
	if err := b.D.Removing(ctx, id, kind); err != nil {
		return fmt.Errorf("remove %q: %w (directory %s left for Cleanup)", key, err, b.Dir(id))
	}
	if err := os.RemoveAll(b.Dir(id)); err != nil {
		return fmt.Errorf("remove %q: %w", key, err)
	}
	return nil
}

// Walk implements snapshot.Snapshotter. fn runs outside the transaction, so
// it may call the snapshotter.
func (b *Base) Walk(ctx context.Context, fn snapshot.WalkFunc) error {
	var infos []snapshot.Info
	err := b.Store.View(func(tx *storage.Tx) error {
		return tx.Walk(func(_ string, info snapshot.Info) error {
			infos = append(infos, info)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, info := range infos {
		if err := fn(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup removes snapshot directories that no record references (left by
// a crash between a transaction and the file-system work). Directories of
// a Prepare still in progress elsewhere ("new-*", younger than an hour)
// stay.
func (b *Base) Cleanup(ctx context.Context) error {
	var orphans []string
	// List inside the transaction: writers (which rename new directories
	// into place inside theirs) are locked out meanwhile.
	err := b.Store.View(func(tx *storage.Tx) error {
		ids, err := tx.IDs()
		if err != nil {
			return err
		}
		entries, err := os.ReadDir(filepath.Join(b.Root, "snapshots"))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if ids[e.Name()] {
				continue
			}
			if strings.HasPrefix(e.Name(), "new-") {
				if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < time.Hour {
					continue
				}
			}
			orphans = append(orphans, e.Name())
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range orphans {
		if err := b.D.Removing(ctx, name, snapshot.KindUnknown); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(filepath.Join(b.Root, "snapshots", name)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close implements snapshot.Snapshotter.
func (b *Base) Close() error { return b.Store.Close() }

// OverlayMounts builds the overlay snapshotter's mounts of s from the
// directories of b. The EROFS snapshotter, whose committed layers are
// mounted images at the same places, shares it.
func OverlayMounts(b *Base, s storage.Snapshot) []mount.Mount {
	ro := s.Kind == snapshot.KindView
	if len(s.ParentIDs) == 0 {
		opt := "rw"
		if ro {
			opt = "ro"
		}
		return []mount.Mount{{Type: "bind", Source: b.FS(s.ID), Options: []string{opt, "rbind"}}}
	}
	if ro && len(s.ParentIDs) == 1 {
		return []mount.Mount{{Type: "bind", Source: b.FS(s.ParentIDs[0]), Options: []string{"ro", "rbind"}}}
	}
	lowers := make([]string, len(s.ParentIDs))
	for i, id := range s.ParentIDs {
		lowers[i] = b.FS(id)
	}
	var opts []string
	if indexOff() {
		// One lower may sit under many overlays at once; the inode index
		// would tie it to the first.
		opts = append(opts, "index=off")
	}
	if ro {
		// Overlay needs two lowers to be mounted without an upper.
		opts = append(opts, "ro", "lowerdir="+strings.Join(lowers, ":"))
	} else {
		opts = append(opts, "lowerdir="+strings.Join(lowers, ":"),
			"upperdir="+b.FS(s.ID), "workdir="+filepath.Join(b.Dir(s.ID), "work"))
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: opts}}
}

func indexOff() bool {
	_, err := os.Stat("/sys/module/overlay/parameters/index")
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
