package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// PruneReport says what Prune removed.
type PruneReport struct {
	Removed []digest.Digest
	Bytes   int64
}

// Prune deletes every blob that no image record references (directly, or
// through an index or manifest), plus temp files left by killed ingests.
// keep adds extra roots (walked like image targets). It waits for running
// pulls (which hold the store with Hold) and blocks new ones while it runs.
func (s *Store) Prune(ctx context.Context, keep ...ocispec.Descriptor) (*PruneReport, error) {
	unlock, err := flock(ctx, filepath.Join(s.root, "gc.lock"), unix.LOCK_EX, true)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	defer unlock()

	imgs, err := s.Images(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	live := map[digest.Digest]bool{}
	for _, img := range imgs {
		keep = append(keep, img.Target)
	}
	for _, d := range keep {
		if err := s.mark(d, live, 0); err != nil {
			return nil, fmt.Errorf("prune: %w", err)
		}
	}

	rep := &PruneReport{}
	dir := filepath.Join(s.root, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil || live[d] {
			continue
		}
		if fi, err := e.Info(); err == nil {
			rep.Bytes += fi.Size()
		}
		if err := s.Delete(d); err != nil {
			return rep, fmt.Errorf("prune: %w", err)
		}
		rep.Removed = append(rep.Removed, d)
	}
	// No ingest runs while we hold the lock exclusively: whatever is in
	// ingest/ was left by a killed process.
	tmps, _ := os.ReadDir(filepath.Join(s.root, "ingest"))
	for _, t := range tmps {
		os.Remove(filepath.Join(s.root, "ingest", t.Name()))
	}
	if len(rep.Removed) > 0 {
		err = s.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSources)
			for _, d := range rep.Removed {
				if err := b.Delete([]byte(d)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("prune: %w", err)
		}
	}
	return rep, nil
}

// mark records desc and everything it references that is in the store.
// Children of an index that were never pulled (other platforms) are simply
// absent and skipped.
func (s *Store) mark(desc ocispec.Descriptor, live map[digest.Digest]bool, depth int) error {
	if live[desc.Digest] || desc.Digest.Validate() != nil {
		return nil
	}
	if ok, err := s.Exists(desc.Digest); err != nil || !ok {
		return err
	}
	live[desc.Digest] = true
	mt := desc.MediaType
	if !IsIndex(mt) && !IsManifest(mt) && mt != "" {
		return nil
	}
	if depth > 8 {
		return fmt.Errorf("blob %s: references nested too deep", desc.Digest)
	}
	raw, err := s.ReadBlob(desc.Digest)
	if err != nil {
		return err
	}
	if mt == "" {
		mt = sniffMediaType(raw)
	}
	switch {
	case IsIndex(mt):
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		for _, c := range idx.Manifests {
			if err := s.mark(c, live, depth+1); err != nil {
				return err
			}
		}
	case IsManifest(mt):
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		live[m.Config.Digest] = true
		for _, l := range m.Layers {
			live[l.Digest] = true
		}
	}
	return nil
}

// Discard deletes the blobs ds if no image references them, but only if no
// pull or ingest is running right now (it does not wait): a failed pull
// calls it to take back what it stored, without racing a concurrent pull
// that found the same blobs present. It reports whether it ran.
func (s *Store) Discard(ctx context.Context, ds ...digest.Digest) (bool, error) {
	if len(ds) == 0 {
		return true, nil
	}
	unlock, err := flock(ctx, filepath.Join(s.root, "gc.lock"), unix.LOCK_EX, false)
	if err != nil {
		return false, nil
	}
	defer unlock()
	imgs, err := s.Images(ctx)
	if err != nil {
		return true, err
	}
	live := map[digest.Digest]bool{}
	for _, img := range imgs {
		if err := s.mark(img.Target, live, 0); err != nil {
			return true, err
		}
	}
	for _, d := range ds {
		if !live[d] {
			if err := s.Delete(d); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}
