package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/image/platform"
	"github.com/berth-dev/berth/image/reference"
	"github.com/berth-dev/berth/image/store"
)

// Result says what Pull stored.
type Result struct {
	Image    store.Image        // the record written (Name = ref.String())
	Manifest ocispec.Descriptor // the platform manifest chosen
	Platform ocispec.Platform   // the platform asked for
	Fetched  int                // blobs downloaded (the rest were present)
	Bytes    int64              // bytes downloaded
}

// layer media types a snapshotter can apply.
var layerTypes = map[string]bool{
	ocispec.MediaTypeImageLayer:                     true,
	ocispec.MediaTypeImageLayerGzip:                 true,
	ocispec.MediaTypeImageLayerZstd:                 true,
	store.MediaTypeDockerLayerGzip:                  true,
	store.MediaTypeDockerLayerZstd:                  true,
	ocispec.MediaTypeImageLayerNonDistributable:     true, //nolint:staticcheck // still served by old images
	ocispec.MediaTypeImageLayerNonDistributableGzip: true, //nolint:staticcheck
}

// Pull fetches ref into s and records it as an image named ref.String().
func Pull(ctx context.Context, s *store.Store, ref reference.Reference, opts ...Opt) (res *Result, err error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	p := &puller{s: s, o: o, ref: ref, rep: &reporter{fn: o.progress}, added: map[digest.Digest]bool{}}
	release, err := s.Hold(ctx)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}
	defer func() {
		release()
		if err != nil {
			// Remove what this pull added, unless another pull is running
			// (it may be using the same blobs); Prune gets them then.
			s.Discard(context.WithoutCancel(ctx), p.addedList()...)
		}
	}()
	res, err = p.pull(ctx)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}
	return res, nil
}

type puller struct {
	s   *store.Store
	o   *options
	ref reference.Reference
	rep *reporter

	mu      sync.Mutex
	added   map[digest.Digest]bool
	fetched int
	bytes   int64
	clients []*client // endpoints that answered, preferred first
}

func (p *puller) addedList() []digest.Digest {
	p.mu.Lock()
	defer p.mu.Unlock()
	var l []digest.Digest
	for d := range p.added {
		l = append(l, d)
	}
	return l
}

func (p *puller) pull(ctx context.Context) (*Result, error) {
	raw, top, err := p.resolve(ctx)
	if err != nil {
		return nil, err
	}
	want := p.o.targetPlatform()
	type manifestBlob struct {
		raw  []byte
		desc ocispec.Descriptor
	}
	// Manifests are stored after what they reference, innermost first.
	chain := []manifestBlob{{raw, top}}
	desc := top
	for depth := 0; store.IsIndex(desc.MediaType); depth++ {
		if depth > 2 {
			return nil, fmt.Errorf("index %s: indexes nested too deep", desc.Digest)
		}
		child, err := selectPlatform(raw, desc, want)
		if err != nil {
			return nil, err
		}
		raw, desc, err = p.manifest(ctx, child.Digest.String(), child.Digest)
		if err != nil {
			return nil, err
		}
		if child.MediaType != "" && child.MediaType != desc.MediaType {
			return nil, &MediaTypeError{Ref: p.ref.Name() + "@" + child.Digest.String(), Got: desc.MediaType, Declared: child.MediaType}
		}
		chain = append(chain, manifestBlob{raw, desc})
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if err := checkManifest(desc, &m); err != nil {
		return nil, err
	}

	// Config and layers, in parallel.
	blobs := append([]ocispec.Descriptor{m.Config}, m.Layers...)
	for i, b := range blobs {
		p.rep.report(Progress{Digest: b.Digest, MediaType: b.MediaType, Kind: kind(i), State: StateWaiting, Total: b.Size})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.o.jobs)
	for i, b := range blobs {
		g.Go(func() error { return p.fetchBlob(gctx, b, kind(i)) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// A single-platform image must match an explicitly asked platform
	// (Docker refuses the same way); without WithPlatform any is taken.
	var asked *ocispec.Platform
	if p.o.platform != nil && !store.IsIndex(top.MediaType) {
		asked = p.o.platform
	}
	if err := checkConfig(p.s, m, asked); err != nil {
		return nil, err
	}
	for i := len(chain) - 1; i >= 0; i-- {
		mb := chain[i]
		if err := p.ingest(ctx, mb.desc, bytes.NewReader(mb.raw)); err != nil {
			return nil, err
		}
	}
	img := store.Image{Name: p.ref.String(), Target: ocispec.Descriptor{MediaType: top.MediaType, Digest: top.Digest, Size: top.Size}}
	if err := p.s.PutImage(ctx, img); err != nil {
		return nil, err
	}
	all := []digest.Digest{}
	for _, b := range blobs {
		all = append(all, b.Digest)
	}
	for _, mb := range chain {
		all = append(all, mb.desc.Digest)
	}
	// Sources only help a later push mount blobs; failing to record them
	// does not fail the pull.
	_ = p.s.AddSources(ctx, p.ref.Name(), all...)
	rec, err := p.s.GetImage(ctx, img.Name)
	if err != nil {
		return nil, err
	}
	return &Result{Image: rec, Manifest: desc, Platform: want, Fetched: p.fetched, Bytes: p.bytes}, nil
}

func kind(i int) string {
	if i == 0 {
		return "config"
	}
	return "layer"
}

// resolve fetches the top manifest, trying mirrors first.
func (p *puller) resolve(ctx context.Context) ([]byte, ocispec.Descriptor, error) {
	var errs []error
	for _, ep := range p.o.config.endpoints(p.ref.Domain) {
		c, err := newClient(ctx, p.o, ep, p.ref.Path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		raw, desc, err := c.fetchManifest(ctx, p.ref.Identifier(), p.ref.Digest)
		if err != nil {
			errs = append(errs, err)
			if !ep.mirror || ctx.Err() != nil {
				break
			}
			continue // a mirror failing falls back to the next endpoint
		}
		p.clients = append(p.clients, c)
		// The registry itself is the fallback for blobs a mirror lacks.
		if ep.mirror {
			eps := p.o.config.endpoints(p.ref.Domain)
			if up, err := newClient(ctx, p.o, eps[len(eps)-1], p.ref.Path); err == nil {
				p.clients = append(p.clients, up)
			}
		}
		return raw, desc, nil
	}
	return nil, ocispec.Descriptor{}, errors.Join(errs...)
}

// manifest fetches a child manifest by digest from the first endpoint
// that has it.
func (p *puller) manifest(ctx context.Context, id string, want digest.Digest) ([]byte, ocispec.Descriptor, error) {
	var errs []error
	for _, c := range p.clients {
		raw, desc, err := c.fetchManifest(ctx, id, want)
		if err == nil {
			return raw, desc, nil
		}
		errs = append(errs, err)
		if !isNotFound(err) {
			break
		}
	}
	return nil, ocispec.Descriptor{}, errors.Join(errs...)
}

// selectPlatform picks want's manifest out of an index.
func selectPlatform(raw []byte, desc ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("index %s: %w", desc.Digest, err)
	}
	c, ok := platform.Select(idx.Manifests, want, nil)
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("index %s: no manifest for platform %s (available: %v)", desc.Digest, platform.Format(want), platform.List(idx.Manifests))
	}
	if err := c.Digest.Validate(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("index %s: entry for %s: %w", desc.Digest, platform.Format(want), err)
	}
	return c, nil
}

// checkManifest rejects manifests the store could not hold or the
// snapshotter could not apply.
func checkManifest(desc ocispec.Descriptor, m *ocispec.Manifest) error {
	if m.SchemaVersion != 2 {
		return fmt.Errorf("manifest %s: schemaVersion %d, want 2", desc.Digest, m.SchemaVersion)
	}
	check := func(what string, d ocispec.Descriptor) error {
		if err := d.Digest.Validate(); err != nil {
			return fmt.Errorf("manifest %s: %s digest %q: %w", desc.Digest, what, d.Digest, err)
		}
		if d.Size < 0 {
			return fmt.Errorf("manifest %s: %s %s: negative size %d", desc.Digest, what, d.Digest, d.Size)
		}
		return nil
	}
	if err := check("config", m.Config); err != nil {
		return err
	}
	for i, l := range m.Layers {
		if err := check(fmt.Sprintf("layer %d", i), l); err != nil {
			return err
		}
		if !layerTypes[l.MediaType] {
			return fmt.Errorf("manifest %s: layer %d (%s): unsupported media type %q", desc.Digest, i, l.Digest, l.MediaType)
		}
	}
	return nil
}

// checkConfig makes sure the config parses, lists one diff_id per layer
// and (if want is set) is for platform want.
func checkConfig(s *store.Store, m ocispec.Manifest, want *ocispec.Platform) error {
	raw, err := s.ReadBlob(m.Config.Digest)
	if err != nil {
		return err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if n := len(cfg.RootFS.DiffIDs); n != len(m.Layers) {
		return fmt.Errorf("config %s lists %d diff_ids for %d layers", m.Config.Digest, n, len(m.Layers))
	}
	if want != nil {
		have := ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		if !platform.Match(*want, &have) {
			return fmt.Errorf("image is for platform %s, not the requested %s", platform.Format(platform.Normalize(have)), platform.Format(*want))
		}
	}
	return nil
}

// fetchBlob downloads one blob into the store unless it is there, under
// the per-digest lock so that concurrent pulls download it once.
func (p *puller) fetchBlob(ctx context.Context, d ocispec.Descriptor, kind string) error {
	ev := Progress{Digest: d.Digest, MediaType: d.MediaType, Kind: kind, Total: d.Size}
	done := func(st State, err error) error {
		ev.State, ev.Err = st, err
		if st == StateDone || st == StateExists {
			ev.Current = d.Size
		}
		p.rep.report(ev)
		return err
	}
	if ok, err := p.s.Exists(d.Digest); err != nil || ok {
		return done(StateExists, err)
	}
	unlock, err := p.s.LockBlob(ctx, d.Digest)
	if err != nil {
		return done(StateFailed, err)
	}
	defer unlock()
	if ok, err := p.s.Exists(d.Digest); err != nil || ok {
		return done(StateExists, err) // another pull fetched it while we waited
	}
	var errs []error
	for _, c := range p.clients {
		var last int64
		br := &blobReader{ctx: ctx, c: c, desc: d,
			onRead: func(off int64) {
				// Report about every 256 KiB, and at the end.
				if off-last >= 256<<10 || off == d.Size {
					last = off
					p.rep.report(Progress{Digest: d.Digest, MediaType: d.MediaType, Kind: kind, State: StateDownloading, Current: off, Total: d.Size})
				}
			},
			onRetry: func(err error) {
				p.rep.report(Progress{Digest: d.Digest, MediaType: d.MediaType, Kind: kind, State: StateRetrying, Current: last, Total: d.Size, Err: err})
			},
		}
		err := p.s.Ingest(ctx, d, br)
		br.Close()
		if err == nil {
			p.mu.Lock()
			p.added[d.Digest] = true
			p.fetched++
			p.bytes += br.off
			p.mu.Unlock()
			return done(StateDone, nil)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return done(StateFailed, errors.Join(errs...))
}

func (p *puller) ingest(ctx context.Context, d ocispec.Descriptor, r *bytes.Reader) error {
	if ok, _ := p.s.Exists(d.Digest); ok {
		return nil
	}
	if err := p.s.Ingest(ctx, d, r); err != nil {
		return err
	}
	p.mu.Lock()
	p.added[d.Digest] = true
	p.mu.Unlock()
	return nil
}
