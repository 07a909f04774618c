// Package unpack turns an image's layer chain into committed snapshots: the
// step between a pull (blobs in a content store) and a container (Prepare
// on the top snapshot).
//
// Each layer's snapshot is named after its chain ID (image-spec: the chain
// ID of the first layer is its DiffID, then sha256(parent chain ID + " " +
// DiffID)), so layers already unpacked, by this image or another, are
// found with Stat and skipped. Every layer's uncompressed stream is checked
// against its DiffID while it is applied; a mismatch fails the unpack with
// a *layer.DiffIDError and leaves no snapshot of that layer.
//
// With a snapshot.Converter (the EROFS snapshotter) the missing layers are
// decompressed and converted concurrently, then imported in chain order;
// otherwise they are applied one after the other through the snapshotter's
// mounts (layer.Unpack).
package unpack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/opencontainers/go-digest"
)

// Layer is one layer of an image, bottom first.
type Layer struct {
	// DiffID is the digest of the uncompressed layer (the image config's
	// rootfs.diff_ids entry).
	DiffID digest.Digest
	// Open returns the layer blob, compressed (gzip, zstd) or not. It may
	// be called more than once and from several goroutines.
	Open func() (io.ReadCloser, error)
}

// Options tune Unpack.
type Options struct {
	// Layer is passed to layer.Unpack for snapshotters without a fast path
	// (device policy, ownership).
	Layer layer.Options
	// Parallel is how many layers a Converter converts at once (0:
	// GOMAXPROCS).
	Parallel int
}

// ChainIDs returns the chain ID of every prefix of diffIDs.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

// Unpack makes sure every layer of layers has a committed snapshot in sn,
// and returns the name of the top one (the chain ID of all layers), which
// is the parent to Prepare a container on.
func Unpack(ctx context.Context, sn snapshot.Snapshotter, layers []Layer, opts Options) (string, error) {
	if len(layers) == 0 {
		return "", snapshot.Errorf(snapshot.ErrInvalid, "unpack: no layers")
	}
	diffIDs := make([]digest.Digest, len(layers))
	for i, l := range layers {
		if err := l.DiffID.Validate(); err != nil {
			return "", snapshot.Errorf(snapshot.ErrInvalid, "unpack: layer %d: diff_id %q: %v", i, l.DiffID, err)
		}
		if l.Open == nil {
			return "", snapshot.Errorf(snapshot.ErrInvalid, "unpack: layer %d (%s): no blob", i, l.DiffID)
		}
		diffIDs[i] = l.DiffID
	}
	chain := ChainIDs(diffIDs)
	first := 0
	for first < len(layers) {
		info, err := sn.Stat(ctx, chain[first].String())
		if err != nil || info.Kind != snapshot.KindCommitted {
			break
		}
		first++
	}
	top := chain[len(chain)-1].String()
	if first == len(layers) {
		return top, nil
	}

	conv, _ := sn.(snapshot.Converter)
	results := make([]chan converted, len(layers))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if conv != nil {
		n := opts.Parallel
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		sem := make(chan struct{}, n)
		for i := first; i < len(layers); i++ {
			results[i] = make(chan converted, 1)
			go func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				c, err := convertLayer(ctx, conv, layers[i])
				results[i] <- converted{c, err}
			}()
		}
	}
	// Whatever is converted but not imported goes when we return.
	defer func() {
		for i := first; i < len(layers); i++ {
			if results[i] == nil {
				continue
			}
			cancel()
			if r, ok := <-results[i]; ok && r.c != nil {
				r.c.Discard()
			}
		}
	}()

	for i := first; i < len(layers); i++ {
		parent := ""
		if i > 0 {
			parent = chain[i-1].String()
		}
		var pre snapshot.Converted
		if results[i] != nil {
			r := <-results[i]
			results[i] = nil
			if r.err != nil && !errors.Is(r.err, snapshot.ErrNeedsParents) {
				return "", fmt.Errorf("unpack layer %d (%s): %w", i, diffIDs[i], r.err)
			}
			pre = r.c
		}
		if err := unpackOne(ctx, sn, conv, pre, chain[i].String(), parent, layers[i], opts); err != nil {
			if pre != nil {
				pre.Discard()
			}
			return "", fmt.Errorf("unpack layer %d (%s): %w", i, diffIDs[i], err)
		}
	}
	return top, nil
}

type converted struct {
	c   snapshot.Converted
	err error
}

// open returns the verified, uncompressed stream of l.
func open(l Layer) (io.Reader, func(), error) {
	blob, err := l.Open()
	if err != nil {
		return nil, nil, err
	}
	rc, _, err := layer.Decompress(blob)
	if err != nil {
		blob.Close()
		return nil, nil, err
	}
	r, err := layer.VerifyDiffID(rc, l.DiffID)
	if err != nil {
		rc.Close()
		blob.Close()
		return nil, nil, err
	}
	return r, func() { rc.Close(); blob.Close() }, nil
}

func convertLayer(ctx context.Context, conv snapshot.Converter, l Layer) (snapshot.Converted, error) {
	r, done, err := open(l)
	if err != nil {
		return nil, err
	}
	defer done()
	return conv.Convert(ctx, r)
}

// unpackOne makes the committed snapshot name on parent from l: from the
// converted pre if there is one, else by applying the blob.
func unpackOne(ctx context.Context, sn snapshot.Snapshotter, conv snapshot.Converter, pre snapshot.Converted, name, parent string, l Layer, opts Options) (err error) {
	key := fmt.Sprintf("extract-%d-%s", os.Getpid(), strings.TrimPrefix(name, "sha256:"))
	if _, err := sn.Prepare(ctx, key, parent); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			sn.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	if pre != nil {
		if err := conv.ImportConverted(ctx, key, pre); err != nil {
			return err
		}
	} else {
		r, done, err := open(l)
		if err != nil {
			return err
		}
		_, err = layer.Unpack(ctx, sn, key, r, opts.Layer)
		done()
		if err != nil {
			return err
		}
	}
	err = sn.Commit(ctx, name, key)
	if errors.Is(err, snapshot.ErrAlreadyExists) {
		// Another unpack of the same layer won the race: use its snapshot.
		sn.Remove(ctx, key)
		return nil
	}
	return err
}
