package erofs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/snapshot"
)

// Converted is a layer image written by Convert ahead of its snapshot.
type Converted struct {
	path string
	Size int64 // bytes of the layer tar
}

// Discard deletes an image that will not be imported.
func (c *Converted) Discard() error {
	if c == nil || c.path == "" {
		return nil
	}
	return os.Remove(c.path)
}

// Convert writes the layer tar r as an image that belongs to no snapshot
// yet, without looking at the layers below. Several layers of an image can
// so be converted at the same time (decompression is the cost left once
// no files are created), then imported in chain order with
// ImportConverted, which only renames.
//
// Without the lower layers at hand, directories the layer holds files of
// but has no entry for get root 0755, and the image's root directory too
// (image builders emit entries for both). A layer that hardlinks a file of
// a lower layer fails with ErrNeedsParents: Import that one instead.
func (s *Snapshotter) Convert(ctx context.Context, r io.Reader) (snapshot.Converted, error) {
	dir := filepath.Join(s.Root, "converted")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "layer-*.erofs")
	if err != nil {
		return nil, err
	}
	n, err := ConvertTar(ctx, r, f, ConvertOptions{RootMode: 0o755})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("convert layer: %w", err)
	}
	return &Converted{path: f.Name(), Size: n}, nil
}

var _ snapshot.Converter = (*Snapshotter)(nil)

// ImportConverted makes c the content of the empty active snapshot key.
// c is used up.
func (s *Snapshotter) ImportConverted(ctx context.Context, key string, sc snapshot.Converted) error {
	c, ok := sc.(*Converted)
	if !ok || c == nil || c.path == "" {
		return snapshot.Errorf(snapshot.ErrInvalid, "import into %q: not a converted EROFS layer", key)
	}
	sn, err := s.Get(key)
	if err != nil {
		return err
	}
	if sn.Kind != snapshot.KindActive {
		return snapshot.Errorf(snapshot.ErrInvalid, "import into %q: snapshot is %v, not active", key, sn.Kind)
	}
	if _, err := os.Stat(s.image(sn.ID)); err == nil {
		return snapshot.Errorf(snapshot.ErrFailedPrecondition, "import into %q: a layer was imported already", key)
	}
	if err := os.Rename(c.path, s.image(sn.ID)); err != nil {
		return fmt.Errorf("import into %q: %w", key, err)
	}
	c.path = ""
	return nil
}

// Cleanup removes what crashes left: unreferenced snapshot directories
// (unmounting their images) and converted layers older than an hour that
// were never imported.
func (s *Snapshotter) Cleanup(ctx context.Context) error {
	err := s.Base.Cleanup(ctx)
	old, _ := filepath.Glob(filepath.Join(s.Root, "converted", "layer-*.erofs"))
	for _, p := range old {
		if st, serr := os.Stat(p); serr == nil && time.Since(st.ModTime()) > time.Hour {
			os.Remove(p)
		}
	}
	return err
}
