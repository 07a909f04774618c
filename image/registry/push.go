package registry

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
)

// Push uploads the image record src of s to dst (which must be a tag).
// ggcr does the protocol: HEAD checks skip blobs the registry has, blobs
// this store saw in another repository of the same registry are mounted
// instead of uploaded, and the manifest goes last. An index whose
// children are all in the store is pushed whole; otherwise the manifest
// for the platform (WithPlatform, default host) is pushed alone, as
// Podman does. It returns the descriptor dst now points at.
func Push(ctx context.Context, s *store.Store, src string, dst reference.Reference, opts ...Opt) (ocispec.Descriptor, error) {
	o, err := newOptions(opts)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if dst.Digest != "" {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: the destination must be a tag, not a digest", dst.Familiar())
	}
	img, err := s.GetImage(ctx, src)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", src, err)
	}
	var nopts []name.Option
	if o.config.host(dst.Domain).Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.NewTag(dst.String(), nopts...)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push to %s: %w", dst.Familiar(), err)
	}
	si := &mounter{ctx: ctx, s: s, dstRegistry: ref.RegistryStr()}
	target := img.Target
	var t remote.Taggable
	if store.IsIndex(target.MediaType) && s.Complete(target) {
		t, err = si.index(target)
	} else {
		var m *store.Manifest
		m, err = s.Manifest(ctx, target, o.platform)
		if err == nil {
			target = m.Descriptor
			t, err = si.image(target)
		}
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", src, err)
	}

	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain),
		remote.WithTransport(o.baseTransport(dst.Domain)),
		remote.WithJobs(o.jobs),
	}
	var progressDone chan struct{}
	if o.progress != nil {
		updates := make(chan v1.Update, 16)
		progressDone = make(chan struct{})
		rep := &reporter{fn: o.progress}
		go func() {
			defer close(progressDone)
			for u := range updates {
				st := StatePushing
				if u.Error != nil {
					st = StateFailed
				} else if u.Total > 0 && u.Complete == u.Total {
					st = StateDone
				}
				rep.report(Progress{Digest: target.Digest, MediaType: target.MediaType, Kind: "image", State: st, Current: u.Complete, Total: u.Total, Err: u.Error})
			}
		}()
		ropts = append(ropts, remote.WithProgress(updates))
	}
	err = remote.Push(ref, t, ropts...)
	if progressDone != nil {
		<-progressDone // ggcr closes the channel when it is done
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s to %s: %w", src, dst.Familiar(), err)
	}
	_ = s.AddSources(ctx, dst.Name(), si.pushed...)
	return ocispec.Descriptor{MediaType: target.MediaType, Digest: target.Digest, Size: target.Size}, nil
}

// mounter wraps store views so that ggcr can mount layers across
// repositories, and remembers the layers pushed.
type mounter struct {
	ctx         context.Context
	s           *store.Store
	dstRegistry string

	mu     sync.Mutex // ggcr may read children's layers concurrently
	pushed []digest.Digest
}

func (mt *mounter) image(desc ocispec.Descriptor) (v1.Image, error) {
	img, err := mt.s.V1Image(desc)
	if err != nil {
		return nil, err
	}
	return &mountingImage{Image: img, m: mt}, nil
}

func (mt *mounter) index(desc ocispec.Descriptor) (v1.ImageIndex, error) {
	idx, err := mt.s.V1Index(desc)
	if err != nil {
		return nil, err
	}
	return &mountingIndex{idx: idx, m: mt}, nil
}

// mountingImage offers each layer as a remote.MountableLayer when the store
// saw it in another repository of the destination registry, so that ggcr
// mounts it instead of uploading it.
type mountingImage struct {
	v1.Image
	m *mounter
}

func (mi *mountingImage) Layers() ([]v1.Layer, error) {
	ls, err := mi.Image.Layers()
	if err != nil {
		return nil, err
	}
	for i, l := range ls {
		h, err := l.Digest()
		if err != nil {
			return nil, err
		}
		d := digest.Digest(h.String())
		mi.m.mu.Lock()
		mi.m.pushed = append(mi.m.pushed, d)
		mi.m.mu.Unlock()
		srcs, _ := mi.m.s.Sources(mi.m.ctx, d)
		for _, src := range srcs {
			r, err := name.NewDigest(src + "@" + h.String())
			if err != nil || r.Context().RegistryStr() != mi.m.dstRegistry {
				continue
			}
			ls[i] = &remote.MountableLayer{Layer: l, Reference: r}
			break
		}
	}
	return ls, nil
}

type mountingIndex struct {
	idx v1.ImageIndex
	m   *mounter
}

func (mx *mountingIndex) MediaType() (types.MediaType, error)       { return mx.idx.MediaType() }
func (mx *mountingIndex) Digest() (v1.Hash, error)                  { return mx.idx.Digest() }
func (mx *mountingIndex) Size() (int64, error)                      { return mx.idx.Size() }
func (mx *mountingIndex) IndexManifest() (*v1.IndexManifest, error) { return mx.idx.IndexManifest() }
func (mx *mountingIndex) RawManifest() ([]byte, error)              { return mx.idx.RawManifest() }

func (mx *mountingIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := mx.idx.Image(h)
	if err != nil {
		return nil, err
	}
	return &mountingImage{Image: img, m: mx.m}, nil
}

func (mx *mountingIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	idx, err := mx.idx.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return &mountingIndex{idx: idx, m: mx.m}, nil
}
