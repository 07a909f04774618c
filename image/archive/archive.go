package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/layout"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
)

// Opt configures Save and Load.
type Opt func(*options)

type options struct {
	platform *ocispec.Platform
	name     *reference.Reference
}

// WithPlatform chooses the platform saved from a multi-platform image
// (default: the host's).
func WithPlatform(p ocispec.Platform) Opt { return func(o *options) { o.platform = &p } }

// WithName names loaded images that the archive leaves unnamed (an
// oci-archive entry with only a tag, or a docker-archive without RepoTags).
func WithName(r reference.Reference) Opt { return func(o *options) { o.name = &r } }

func newOptions(opts []Opt) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// SaveDocker writes the image records names to w as a docker-archive.
// RepoTags use the familiar form (busybox:1.36), as docker save does.
func SaveDocker(ctx context.Context, s *store.Store, names []string, w io.Writer, opts ...Opt) error {
	o := newOptions(opts)
	if len(names) == 0 {
		return errors.New("save: no images given")
	}
	refs := map[name.Reference]v1.Image{}
	for _, n := range names {
		img, err := s.GetImage(ctx, n)
		if err != nil {
			return fmt.Errorf("save %s: %w", n, err)
		}
		m, err := s.Manifest(ctx, img.Target, o.platform)
		if err != nil {
			return fmt.Errorf("save %s: %w", n, err)
		}
		vi, err := s.V1Image(m.Descriptor)
		if err != nil {
			return fmt.Errorf("save %s: %w", n, err)
		}
		r, err := reference.Parse(n)
		if err != nil {
			return fmt.Errorf("save %s: %w", n, err)
		}
		var ref name.Reference
		if r.Tag != "" {
			ref, err = name.NewTag(r.WithTag(r.Tag).Familiar())
		} else {
			ref, err = name.NewDigest(r.Familiar())
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", n, err)
		}
		refs[ref] = vi
	}
	if err := tarball.MultiRefWrite(refs, w); err != nil {
		return fmt.Errorf("save %v: %w", names, err)
	}
	return nil
}

// LoadDocker reads the docker-archive at path into the store and records
// one image per RepoTag (or, for an archive of one untagged image, the
// WithName reference). It returns the records written.
func LoadDocker(ctx context.Context, s *store.Store, path string, opts ...Opt) ([]store.Image, error) {
	o := newOptions(opts)
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	mf, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("load %s: not a docker-archive: %w", path, err)
	}
	// Keep Prune away until the records point at the new blobs.
	release, err := s.Hold(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer release()
	type rec struct {
		name string
		desc ocispec.Descriptor
	}
	var recs []rec
	for i, d := range mf {
		var tags []*name.Tag
		var names []string
		for _, rt := range d.RepoTags {
			r, err := reference.Parse(rt)
			if err != nil {
				return nil, fmt.Errorf("load %s: image %d: RepoTags: %w", path, i, err)
			}
			t, err := name.NewTag(rt)
			if err != nil {
				return nil, fmt.Errorf("load %s: image %d: %w", path, i, err)
			}
			tags, names = append(tags, &t), append(names, r.String())
		}
		if len(tags) == 0 {
			if len(mf) != 1 || o.name == nil {
				return nil, fmt.Errorf("load %s: image %d (%s) has no RepoTags: give a name", path, i, d.Config)
			}
			tags, names = []*name.Tag{nil}, []string{o.name.String()}
		}
		img, err := tarball.Image(opener, tags[0])
		if err != nil {
			return nil, fmt.Errorf("load %s: image %d: %w", path, i, err)
		}
		desc, err := s.WriteImage(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("load %s: image %d: %w", path, i, err)
		}
		for _, n := range names {
			recs = append(recs, rec{n, desc})
		}
	}
	var out []store.Image
	for _, r := range recs {
		if err := s.PutImage(ctx, store.Image{Name: r.name, Target: r.desc}); err != nil {
			return out, fmt.Errorf("load %s: %w", path, err)
		}
		img, err := s.GetImage(ctx, r.name)
		if err != nil {
			return out, err
		}
		out = append(out, img)
	}
	return out, nil
}

// SaveOCI writes the image record name to w as an oci-archive.
func SaveOCI(ctx context.Context, s *store.Store, name string, w io.Writer, opts ...Opt) error {
	o := newOptions(opts)
	dir, err := os.MkdirTemp("", "berth-oci-archive-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var lopts []layout.Opt
	if o.platform != nil {
		lopts = append(lopts, layout.WithPlatform(*o.platform))
	}
	if _, err := layout.Export(ctx, s, name, dir, lopts...); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	if err := tarDir(dir, w); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

// LoadOCI reads the oci-archive at path into the store (see layout.Import
// for naming).
func LoadOCI(ctx context.Context, s *store.Store, path string, opts ...Opt) ([]store.Image, error) {
	o := newOptions(opts)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "berth-oci-archive-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := untar(f, dir); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var lopts []layout.Opt
	if o.name != nil {
		lopts = append(lopts, layout.WithName(*o.name))
	}
	imgs, err := layout.Import(ctx, s, dir, lopts...)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return imgs, nil
}

// tarDir writes the files under dir (an OCI layout: directories and
// regular files only) as a tar with paths relative to dir.
func tarDir(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), 0, 0, "", ""
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// untar extracts an OCI layout archive into dir. Only directories and
// regular files with clean relative paths are accepted: an archive is
// untrusted input.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not a tar archive: %w", err)
		}
		n++
		clean := filepath.Clean(strings.TrimPrefix(h.Name, "./"))
		if clean == "." {
			continue
		}
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("entry %q: path outside the archive", h.Name)
		}
		target := filepath.Join(dir, clean)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("entry %q: %w", h.Name, err)
			}
		default:
			return fmt.Errorf("entry %q: type %q not allowed in an OCI layout archive", h.Name, h.Typeflag)
		}
	}
	if n == 0 {
		return errors.New("empty archive")
	}
	return nil
}
