package engine

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/image/store"
	"github.com/berth-dev/berth/snapshot/layer"
)

// ImportOptions are `berth import`'s.
type ImportOptions struct {
	Name    string   // REPOSITORY[:TAG], normalised; "" untagged
	Message string   // -m
	Changes []string // -c Dockerfile instructions
	Source  string   // what history records (file name, "-")
}

// Import makes a one-layer image from a root filesystem tarball (plain,
// gzip, zstd or xz-free tar as `berth export` writes), like `docker import`.
func (e *Engine) Import(ctx context.Context, s *store.Store, r io.Reader, o ImportOptions) (*CommitResult, error) {
	cfg := &Config{}
	ch := newChanger(cfg)
	for _, c := range o.Changes {
		if err := ch.apply(c); err != nil {
			return nil, fmt.Errorf("--change %q: %w", c, err)
		}
	}
	plain, _, err := layer.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer plain.Close()
	if err := os.MkdirAll(e.tmpDir(), 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(e.tmpDir(), "import-*.tar.gz")
	if err != nil {
		return nil, err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	h, th := sha256.New(), sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	gz, _ := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	// The stream is checked to be a tar (and copied) entry by entry.
	pr, pw := io.Pipe()
	filtered := make(chan filterResult, 1)
	go func() { filtered <- filterLayer(pr, io.MultiWriter(gz, th)) }()
	_, err = io.Copy(pw, plain)
	pw.CloseWithError(err)
	fr := <-filtered
	if err == nil {
		err = fr.err
	}
	if err != nil {
		return nil, fmt.Errorf("import: not a tar archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	d := &diffFile{
		path:   f.Name(),
		digest: digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)),
		diffID: digest.NewDigestFromBytes(digest.SHA256, th.Sum(nil)),
		size:   cw.n,
	}
	now := time.Now().UTC()
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:     &fileLayer{d: d, mt: types.OCILayer},
		History:   v1.History{Created: v1.Time{Time: now}, CreatedBy: "Imported from " + o.Source, Comment: o.Message},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", runtime.GOARCH, v1.Time{Time: now}
	cf.Config = toV1Config(cfg, nil, v1.Config{})
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	res, err := storeImage(ctx, s, img, o.Name)
	if err != nil {
		return nil, err
	}
	e.Emit("image", "import", res.ID.String(), map[string]string{"name": res.Name})
	return res, nil
}
