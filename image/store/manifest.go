package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/berth-dev/berth/image/platform"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types (schema2); the OCI ones are in image-spec.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerLayerZstd    = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// IsIndex reports whether mt is an OCI index or a Docker manifest list.
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// IsManifest reports whether mt is an OCI or Docker schema2 image manifest.
func IsManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// Manifest is what the snapshotter and engine need of one platform's
// image: the manifest, the config (with rootfs.diff_ids) and the ordered
// layers, bottom first. Open a layer with Store.Open(layer.Digest).
type Manifest struct {
	Descriptor ocispec.Descriptor   // the platform manifest itself
	Config     ocispec.Descriptor   // the config blob
	Layers     []ocispec.Descriptor // compressed layers, in apply order
	Image      ocispec.Image        // the parsed config; Image.RootFS.DiffIDs[i] belongs to Layers[i]
	RawConfig  []byte
}

// ImageManifest resolves the image record name to the manifest for want
// (nil: the host platform) that is present in the store.
func (s *Store) ImageManifest(ctx context.Context, name string, want *ocispec.Platform) (*Manifest, error) {
	img, err := s.GetImage(ctx, name)
	if err != nil {
		return nil, err
	}
	m, err := s.Manifest(ctx, img.Target, want)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return m, nil
}

// Manifest resolves target (an index or a manifest) to a platform manifest
// present in the store and reads its config.
func (s *Store) Manifest(ctx context.Context, target ocispec.Descriptor, want *ocispec.Platform) (*Manifest, error) {
	p := platform.Default()
	if want != nil {
		p = platform.Normalize(*want)
	}
	return s.resolve(ctx, target, p, 0)
}

func (s *Store) resolve(ctx context.Context, desc ocispec.Descriptor, p ocispec.Platform, depth int) (*Manifest, error) {
	if depth > 4 {
		return nil, fmt.Errorf("manifest %s: indexes nested too deep", desc.Digest)
	}
	raw, err := s.ReadBlob(desc.Digest)
	if err != nil {
		return nil, err
	}
	mt := desc.MediaType
	if mt == "" {
		mt = sniffMediaType(raw)
	}
	switch {
	case IsIndex(mt):
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		c, ok := platform.Select(idx.Manifests, p, func(c ocispec.Descriptor) bool {
			ok, _ := s.Exists(c.Digest)
			return ok
		})
		if !ok {
			return nil, fmt.Errorf("index %s: no manifest for platform %s in the store (index lists %v)", desc.Digest, platform.Format(p), platform.List(idx.Manifests))
		}
		return s.resolve(ctx, c, p, depth+1)
	case IsManifest(mt):
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		desc.MediaType = mt
		desc.Size = int64(len(raw))
		out := &Manifest{Descriptor: desc, Config: m.Config, Layers: m.Layers}
		out.RawConfig, err = s.ReadBlob(m.Config.Digest)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: config: %w", desc.Digest, err)
		}
		if err := json.Unmarshal(out.RawConfig, &out.Image); err != nil {
			return nil, fmt.Errorf("manifest %s: config %s: %w", desc.Digest, m.Config.Digest, err)
		}
		if n := len(out.Image.RootFS.DiffIDs); n != len(m.Layers) {
			return nil, fmt.Errorf("manifest %s: %d layers but config %s lists %d diff_ids", desc.Digest, len(m.Layers), m.Config.Digest, n)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("blob %s: media type %q is not an image manifest or index", desc.Digest, mt)
	}
}

// sniffMediaType reads the mediaType field, or guesses from the shape.
func sniffMediaType(raw []byte) string {
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Config    json.RawMessage   `json:"config"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return ocispec.MediaTypeImageIndex
	case probe.Config != nil:
		return ocispec.MediaTypeImageManifest
	}
	return ""
}
