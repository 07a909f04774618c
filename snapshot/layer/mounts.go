package layer

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/mount"
)

func isBind(m mount.Mount) bool {
	if m.Type == "bind" || m.Type == "rbind" {
		return true
	}
	return slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// ApplyMounts applies the layer r into the tree that mounts show. The common
// shapes need no mount: a writable bind is applied in its source directory,
// an overlay in its upper directory (overlay whiteouts, lowerdirs as
// Parents). Anything else is mounted on a temporary directory.
func ApplyMounts(ctx context.Context, mounts []mount.Mount, r io.Reader, opts Options) (int64, error) {
	if len(mounts) == 1 {
		m := mounts[0]
		if isBind(m) && !m.ReadOnly() {
			opts.Whiteouts = WhiteoutNative
			return Apply(ctx, m.Source, r, opts)
		}
		if upper, ok := m.Option("upperdir"); ok && m.Type == "overlay" {
			opts.Whiteouts = WhiteoutOverlay
			opts.Parents = m.Lowerdirs()
			return Apply(ctx, upper, r, opts)
		}
	}
	var n int64
	err := mount.WithTempMount(mounts, func(root string) error {
		var err error
		opts.Whiteouts = WhiteoutNative
		n, err = Apply(ctx, root, r, opts)
		return err
	})
	return n, err
}

// Unpack applies the layer r into the active snapshot key of sn: through the
// snapshotter's Importer fast path when it has one, else through its mounts.
func Unpack(ctx context.Context, sn snapshot.Snapshotter, key string, r io.Reader, opts Options) (int64, error) {
	if imp, ok := sn.(snapshot.Importer); ok {
		return imp.Import(ctx, key, r)
	}
	ms, err := sn.Mounts(ctx, key)
	if err != nil {
		return 0, err
	}
	n, err := ApplyMounts(ctx, ms, r, opts)
	if err != nil {
		return n, fmt.Errorf("unpack into snapshot %q: %w", key, err)
	}
	return n, nil
}

// DiffMounts writes the changes from the tree of lower (nil for empty) to
// the tree of upper as a layer tar to w. When upper is an overlay over
// exactly lower's layers, only its upper directory is read; otherwise both
// trees are compared.
func DiffMounts(ctx context.Context, w io.Writer, lower, upper []mount.Mount) (DiffResult, error) {
	if len(upper) == 1 && upper[0].Type == "overlay" {
		if up, ok := upper[0].Option("upperdir"); ok && slices.Equal(lowerDirs(lower), upper[0].Lowerdirs()) {
			return DiffOverlay(ctx, w, up)
		}
	}
	var res DiffResult
	err := withDir(lower, func(ldir string) error {
		return withDir(upper, func(udir string) error {
			var err error
			res, err = DiffDirs(ctx, w, ldir, udir)
			return err
		})
	})
	return res, err
}

// lowerDirs is the layer chain that mounts show: a bind shows one directory,
// a read-only overlay its lowerdirs.
func lowerDirs(ms []mount.Mount) []string {
	if len(ms) != 1 {
		return nil
	}
	if isBind(ms[0]) {
		return []string{ms[0].Source}
	}
	if ms[0].Type == "overlay" {
		if _, ok := ms[0].Option("upperdir"); !ok {
			return ms[0].Lowerdirs()
		}
	}
	return nil
}

func withDir(ms []mount.Mount, fn func(dir string) error) error {
	if len(ms) == 0 {
		return fn("")
	}
	if len(ms) == 1 && isBind(ms[0]) {
		return fn(ms[0].Source)
	}
	ro := make([]mount.Mount, len(ms))
	copy(ro, ms)
	return mount.WithTempMount(ro, fn)
}
