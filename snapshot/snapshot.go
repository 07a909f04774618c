package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berth-dev/berth/snapshot/mount"
)

// Kind is the kind of a snapshot: active, view or committed.
type Kind uint8

const (
	KindUnknown Kind = iota
	KindView
	KindActive
	KindCommitted
)

func (k Kind) String() string {
	switch k {
	case KindView:
		return "View"
	case KindActive:
		return "Active"
	case KindCommitted:
		return "Committed"
	}
	return "Unknown"
}

// Info describes one snapshot. Name is the key of an active snapshot or view,
// or the name of a committed one.
type Info struct {
	Kind    Kind
	Name    string
	Parent  string            // name of the committed parent, "" for none
	Labels  map[string]string // free-form, set with WithLabels
	Created time.Time
	Updated time.Time
}

// Usage is the disk usage of the snapshot's own tree, excluding its parents.
type Usage struct {
	Inodes int64
	Size   int64 // bytes on disk
}

// Opt sets optional properties of a snapshot at Prepare, View or Commit.
type Opt func(*Info) error

// WithLabels adds labels to the snapshot.
func WithLabels(labels map[string]string) Opt {
	return func(i *Info) error {
		if i.Labels == nil {
			i.Labels = map[string]string{}
		}
		for k, v := range labels {
			i.Labels[k] = v
		}
		return nil
	}
}

// WalkFunc is called by Walk for every snapshot.
type WalkFunc func(context.Context, Info) error

// Snapshotter manages snapshots; see the package documentation for the
// vocabulary. Every method is safe to call from several processes at once.
type Snapshotter interface {
	// Stat returns the info of the active snapshot or view key, or the
	// committed snapshot named key.
	Stat(ctx context.Context, key string) (Info, error)
	// Usage returns the disk usage of key itself (not its parents). For an
	// active snapshot it is computed now; for a committed one it was
	// recorded at Commit.
	Usage(ctx context.Context, key string) (Usage, error)
	// Mounts returns the mounts of the active snapshot or view key again.
	Mounts(ctx context.Context, key string) ([]mount.Mount, error)
	// Prepare creates a writable active snapshot key on top of parent ("" for
	// an empty tree) and returns the mounts that show it.
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	// View creates a read-only active snapshot key of parent.
	View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	// Commit records the content of the active snapshot key as the committed
	// snapshot name. The active snapshot key no longer exists afterwards; it
	// must not be mounted any more.
	Commit(ctx context.Context, name, key string, opts ...Opt) error
	// Remove deletes the snapshot key (active, view or committed). A
	// committed snapshot with children cannot be removed
	// (ErrFailedPrecondition).
	Remove(ctx context.Context, key string) error
	// Walk calls fn for every snapshot, in no particular order.
	Walk(ctx context.Context, fn WalkFunc) error
	// Close releases the snapshotter's resources. Mounts made by callers stay.
	Close() error
}

// Importer is an optional fast path: a snapshotter that takes an uncompressed
// layer tar straight into the empty active snapshot key instead of having it
// unpacked file by file through the mounts (the EROFS snapshotter stores each
// layer as one image file). snapshot/layer.Unpack uses it when present.
type Importer interface {
	Import(ctx context.Context, key string, r io.Reader) (size int64, err error)
}

// Converter is an optional fast path for pulls: layers are converted into
// the snapshotter's own form ahead of time, several at once and without
// their parents (the EROFS snapshotter writes one image per layer), and
// then imported in chain order into empty active snapshots, which is
// cheap. snapshot/unpack uses it when present.
type Converter interface {
	// Convert reads an uncompressed layer tar. A layer that cannot be
	// converted without its parent layers fails with ErrNeedsParents; it
	// can still be imported in order.
	Convert(ctx context.Context, r io.Reader) (Converted, error)
	// ImportConverted makes c the content of the empty active snapshot key.
	ImportConverted(ctx context.Context, key string, c Converted) error
}

// Converted is a layer converted by a Converter, not yet imported.
type Converted interface {
	// Discard deletes a converted layer that will not be imported.
	Discard() error
}

// Error classes. Errors returned by snapshotters wrap one of these, so
// callers test with errors.Is.
var (
	ErrNotFound           = errors.New("snapshot not found")
	ErrAlreadyExists      = errors.New("snapshot already exists")
	ErrInvalid            = errors.New("invalid argument")
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrNeedsParents: a layer (one that hardlinks a file of a lower
	// layer) cannot be converted on its own.
	ErrNeedsParents = errors.New("layer needs its parent layers")
)

// Errorf wraps class with a formatted message: Errorf(ErrNotFound, "key %q", k).
func Errorf(class error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), class)
}
