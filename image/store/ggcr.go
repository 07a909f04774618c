package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Adapters between the store and go-containerregistry's v1 types, so that
// ggcr's sinks (remote, layout, tarball) can read stored images and its
// sources can be written into the store.

// V1Image is a lazy ggcr view of the stored manifest desc.
func (s *Store) V1Image(desc ocispec.Descriptor) (v1.Image, error) {
	raw, err := s.ReadBlob(desc.Digest)
	if err != nil {
		return nil, err
	}
	mf, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	mt := types.MediaType(desc.MediaType)
	if mt == "" {
		mt = types.MediaType(sniffMediaType(raw))
	}
	return partial.CompressedToImage(&imageCore{s: s, mt: mt, raw: raw, mf: mf})
}

// V1Index is a lazy ggcr view of the stored index desc. Its children must
// be in the store to be read (see Complete).
func (s *Store) V1Index(desc ocispec.Descriptor) (v1.ImageIndex, error) {
	raw, err := s.ReadBlob(desc.Digest)
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
	}
	mt := types.MediaType(desc.MediaType)
	if mt == "" {
		mt = types.MediaType(sniffMediaType(raw))
	}
	return &storeIndex{s: s, mt: mt, raw: raw, im: im}, nil
}

// Complete reports whether desc (a manifest or index) and everything it
// references are in the store: for an index, every platform was pulled.
func (s *Store) Complete(desc ocispec.Descriptor) bool {
	raw, err := s.ReadBlob(desc.Digest)
	if err != nil {
		return false
	}
	mt := desc.MediaType
	if mt == "" {
		mt = sniffMediaType(raw)
	}
	if IsIndex(mt) {
		var idx ocispec.Index
		if json.Unmarshal(raw, &idx) != nil {
			return false
		}
		for _, c := range idx.Manifests {
			if !s.Complete(c) {
				return false
			}
		}
		return true
	}
	var m ocispec.Manifest
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for _, b := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if ok, _ := s.Exists(b.Digest); !ok {
			return false
		}
	}
	return true
}

// WriteImage stores a ggcr image (config, layers, then manifest), each blob
// verified as it is written, and returns the manifest's descriptor. A
// caller that then records an image holds the store (Hold) across both, so
// that Prune cannot take the blobs in between.
func (s *Store) WriteImage(ctx context.Context, img v1.Image) (ocispec.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		size, err := l.Size()
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		if ok, _ := s.Exists(digest.Digest(d.String())); ok {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", d, err)
		}
		err = s.Ingest(ctx, ocispec.Descriptor{Digest: digest.Digest(d.String()), Size: size}, rc)
		rc.Close()
		if err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cn, err := img.ConfigName()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := s.Ingest(ctx, ocispec.Descriptor{Digest: digest.Digest(cn.String()), Size: int64(len(cfg))}, bytes.NewReader(cfg)); err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.writeRaw(ctx, img)
}

// WriteIndex stores a ggcr index and all its children.
func (s *Store) WriteIndex(ctx context.Context, idx v1.ImageIndex) (ocispec.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	for _, c := range im.Manifests {
		switch {
		case c.MediaType.IsIndex():
			ci, err := idx.ImageIndex(c.Digest)
			if err != nil {
				return ocispec.Descriptor{}, err
			}
			if _, err := s.WriteIndex(ctx, ci); err != nil {
				return ocispec.Descriptor{}, err
			}
		case c.MediaType.IsImage():
			ci, err := idx.Image(c.Digest)
			if err != nil {
				return ocispec.Descriptor{}, err
			}
			if _, err := s.WriteImage(ctx, ci); err != nil {
				return ocispec.Descriptor{}, err
			}
		default:
			return ocispec.Descriptor{}, fmt.Errorf("index child %s: unsupported media type %q", c.Digest, c.MediaType)
		}
	}
	return s.writeRaw(ctx, idx)
}

type rawManifest interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
}

func (s *Store) writeRaw(ctx context.Context, m rawManifest) (ocispec.Descriptor, error) {
	raw, err := m.RawManifest()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	mt, err := m.MediaType()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if !IsIndex(desc.MediaType) && !IsManifest(desc.MediaType) {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: unsupported media type %q", desc.Digest, mt)
	}
	return desc, s.Ingest(ctx, desc, bytes.NewReader(raw))
}

// imageCore is the partial.CompressedImageCore of a stored manifest.
type imageCore struct {
	s   *Store
	mt  types.MediaType
	raw []byte
	mf  *v1.Manifest
}

func (c *imageCore) MediaType() (types.MediaType, error) { return c.mt, nil }
func (c *imageCore) RawManifest() ([]byte, error)        { return c.raw, nil }
func (c *imageCore) RawConfigFile() ([]byte, error) {
	return c.s.ReadBlob(digest.Digest(c.mf.Config.Digest.String()))
}

func (c *imageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == c.mf.Config.Digest {
		return &blob{s: c.s, desc: c.mf.Config}, nil
	}
	for _, l := range c.mf.Layers {
		if l.Digest == h {
			return &blob{s: c.s, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("manifest has no blob %s", h)
}

// blob is a partial.CompressedLayer read from the store.
type blob struct {
	s    *Store
	desc v1.Descriptor
}

func (b *blob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *blob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *blob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *blob) Compressed() (io.ReadCloser, error) {
	return b.s.Open(digest.Digest(b.desc.Digest.String()))
}

// storeIndex is a v1.ImageIndex over a stored index.
type storeIndex struct {
	s   *Store
	mt  types.MediaType
	raw []byte
	im  *v1.IndexManifest
}

func (x *storeIndex) MediaType() (types.MediaType, error)       { return x.mt, nil }
func (x *storeIndex) Digest() (v1.Hash, error)                  { return partial.Digest(x) }
func (x *storeIndex) Size() (int64, error)                      { return partial.Size(x) }
func (x *storeIndex) IndexManifest() (*v1.IndexManifest, error) { return x.im, nil }
func (x *storeIndex) RawManifest() ([]byte, error)              { return x.raw, nil }

func (x *storeIndex) child(h v1.Hash) (ocispec.Descriptor, error) {
	for _, c := range x.im.Manifests {
		if c.Digest == h {
			return ocispec.Descriptor{MediaType: string(c.MediaType), Digest: digest.Digest(h.String()), Size: c.Size}, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("index has no manifest %s", h)
}

func (x *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	return x.s.V1Image(d)
}

func (x *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	return x.s.V1Index(d)
}
