package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	ggcrlayout "github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
)

// AnnotationImageName is containerd's annotation for the full image name.
const AnnotationImageName = "io.containerd.image.name"

// Opt configures Export and Import.
type Opt func(*options)

type options struct {
	platform *ocispec.Platform
	name     *reference.Reference
	refName  string
}

// WithPlatform picks the platform exported when an index was only partly
// pulled (default: the host's).
func WithPlatform(p ocispec.Platform) Opt { return func(o *options) { o.platform = &p } }

// WithName names imported images whose entry has only a tag (or nothing:
// then the reference's own tag is used).
func WithName(r reference.Reference) Opt { return func(o *options) { o.name = &r } }

// WithRefName sets the org.opencontainers.image.ref.name of an exported
// entry (default: the image's tag).
func WithRefName(n string) Opt { return func(o *options) { o.refName = n } }

// Export writes the image record name into the OCI layout dir (created if
// missing). An entry with the same ref name is replaced. An index whose
// platforms are all in the store is written whole, else the one platform's
// manifest. It returns the descriptor added to index.json.
func Export(ctx context.Context, s *store.Store, name, dir string, opts ...Opt) (ocispec.Descriptor, error) {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	img, err := s.GetImage(ctx, name)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("export %s: %w", name, err)
	}
	refName := o.refName
	if refName == "" {
		if r, err := reference.Parse(name); err == nil {
			refName = r.Tag
		}
	}
	lp, err := open(dir)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("export %s: %w", name, err)
	}
	ann := map[string]string{AnnotationImageName: name}
	if refName != "" {
		ann[ocispec.AnnotationRefName] = refName
	}
	target := img.Target
	if store.IsIndex(target.MediaType) && s.Complete(target) {
		idx, err := s.V1Index(target)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("export %s: %w", name, err)
		}
		err = lp.ReplaceIndex(idx, matcher(refName, name), ggcrlayout.WithAnnotations(ann))
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("export %s to %s: %w", name, dir, err)
		}
	} else {
		m, err := s.Manifest(ctx, target, o.platform)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("export %s: %w", name, err)
		}
		target = m.Descriptor
		vi, err := s.V1Image(target)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("export %s: %w", name, err)
		}
		if target.MediaType == string(types.DockerManifestSchema2) {
			// An OCI layout holds OCI images (skopeo and umoci look up
			// only those): convert, as `podman save --format oci-dir` does.
			if vi, target, err = toOCI(vi); err != nil {
				return ocispec.Descriptor{}, fmt.Errorf("export %s: convert to OCI: %w", name, err)
			}
		}
		if err := lp.ReplaceImage(vi, matcher(refName, name), ggcrlayout.WithAnnotations(ann)); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("export %s to %s: %w", name, dir, err)
		}
	}
	return ocispec.Descriptor{MediaType: target.MediaType, Digest: target.Digest, Size: target.Size, Annotations: ann}, nil
}

// matcher finds an existing entry to replace: same ref name, or (no ref
// name) same full name.
func matcher(refName, name string) match.Matcher {
	if refName != "" {
		return match.Annotation(ocispec.AnnotationRefName, refName)
	}
	return match.Annotation(AnnotationImageName, name)
}

func open(dir string) (ggcrlayout.Path, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return ggcrlayout.FromPath(dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return ggcrlayout.Write(dir, empty.Index)
}

// Import stores every image listed in dir's index.json and records one
// image per entry. An entry's name comes from io.containerd.image.name,
// else its org.opencontainers.image.ref.name as a tag of WithName's
// repository (or as a full reference if it contains a '/'). An entry that cannot be named is an error; nothing is recorded
// then, and its blobs are left to Prune.
func Import(ctx context.Context, s *store.Store, dir string, opts ...Opt) ([]store.Image, error) {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	lp, err := ggcrlayout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("import %s: not an OCI layout: %w", dir, err)
	}
	// Keep Prune away until the records point at the new blobs.
	release, err := s.Hold(ctx)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	defer release()
	ii, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("import %s: index.json: %w", dir, err)
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("import %s: index.json lists no images", dir)
	}
	type entry struct {
		name string
		desc ocispec.Descriptor
	}
	var entries []entry
	for _, d := range im.Manifests {
		n, err := entryName(d, o)
		if err != nil {
			return nil, fmt.Errorf("import %s: entry %s: %w", dir, d.Digest, err)
		}
		var desc ocispec.Descriptor
		switch {
		case d.MediaType.IsIndex():
			idx, err := ii.ImageIndex(d.Digest)
			if err == nil {
				desc, err = s.WriteIndex(ctx, idx)
			}
			if err != nil {
				return nil, fmt.Errorf("import %s: %s: %w", dir, d.Digest, err)
			}
		case d.MediaType.IsImage():
			img, err := ii.Image(d.Digest)
			if err == nil {
				desc, err = s.WriteImage(ctx, img)
			}
			if err != nil {
				return nil, fmt.Errorf("import %s: %s: %w", dir, d.Digest, err)
			}
		default:
			return nil, fmt.Errorf("import %s: entry %s: unsupported media type %q", dir, d.Digest, d.MediaType)
		}
		entries = append(entries, entry{n, desc})
	}
	var out []store.Image
	for _, e := range entries {
		if err := s.PutImage(ctx, store.Image{Name: e.name, Target: e.desc}); err != nil {
			return out, fmt.Errorf("import %s: %w", dir, err)
		}
		rec, err := s.GetImage(ctx, e.name)
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func entryName(d v1.Descriptor, o *options) (string, error) {
	if n := d.Annotations[AnnotationImageName]; n != "" {
		r, err := reference.Parse(n)
		if err != nil {
			return "", err
		}
		return r.String(), nil
	}
	tag := d.Annotations[ocispec.AnnotationRefName]
	if o.name != nil {
		r := *o.name
		if tag != "" {
			r = r.WithTag(tag)
		}
		return r.String(), nil
	}
	// Some tools (buildah, older containerd) put a whole reference here.
	if strings.Contains(tag, "/") {
		r, err := reference.Parse(tag)
		if err != nil {
			return "", err
		}
		return r.String(), nil
	}
	return "", fmt.Errorf("no image name (ref name %q): give one with WithName", tag)
}

// ociLayerTypes maps Docker layer media types to their OCI equivalents.
var ociLayerTypes = map[types.MediaType]types.MediaType{
	types.DockerLayer:             types.OCILayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer,
}

// toOCI rewrites a Docker schema2 image with OCI media types. Layer blobs
// (and so their digests) are unchanged; the manifest and config get new
// digests.
func toOCI(img v1.Image) (v1.Image, ocispec.Descriptor, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, ocispec.Descriptor{}, err
		}
		if o, ok := ociLayerTypes[mt]; ok {
			mt = o
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: mt})
	}
	out, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	if out, err = mutate.ConfigFile(out, cfg); err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	d, err := out.Digest()
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	n, err := out.Size()
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	return out, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(d.String()), Size: n}, nil
}
