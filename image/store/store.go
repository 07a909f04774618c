package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

// Store is a content store plus image metadata rooted at a directory. It
// holds no open files between calls, so many processes may share a root.
type Store struct {
	root      string
	dbTimeout time.Duration
}

// Opt configures New.
type Opt func(*Store) error

// WithDBTimeout bounds how long a transaction waits for another process's
// transaction on metadata.db (default 30s).
func WithDBTimeout(d time.Duration) Opt {
	return func(s *Store) error { s.dbTimeout = d; return nil }
}

var (
	bucketImages  = []byte("images")
	bucketSources = []byte("blobsources")
)

// New opens (creating if needed) the store rooted at root.
func New(root string, opts ...Opt) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("image store %s: %w", root, err)
	}
	s := &Store{root: abs, dbTimeout: 30 * time.Second}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"blobs/sha256", "ingest", "locks"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("image store %s: %w", abs, err)
		}
	}
	// The buckets are made once. A read-only check costs no write and no
	// fdatasync: every berth command opens the store.
	ready := false
	if _, err := os.Stat(s.dbPath()); err == nil {
		s.View(func(tx *bolt.Tx) error {
			ready = tx.Bucket(bucketImages) != nil && tx.Bucket(bucketSources) != nil
			return nil
		})
	}
	if ready {
		return s, nil
	}
	err = s.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketSources} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) dbPath() string { return filepath.Join(s.root, "metadata.db") }

// Update runs fn in a read-write transaction on metadata.db. The database
// is opened for this transaction only (bbolt locks the whole file while it
// is open), so keep fn short and do no network or blob I/O in it. Other
// packages may keep their own buckets here.
func (s *Store) Update(fn func(*bolt.Tx) error) error {
	db, err := bolt.Open(s.dbPath(), 0o600, &bolt.Options{Timeout: s.dbTimeout})
	if err != nil {
		return fmt.Errorf("open %s: %w", s.dbPath(), err)
	}
	err = db.Update(fn)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", s.dbPath(), cerr)
	}
	return err
}

// View runs fn in a read-only transaction; readers share the file lock.
func (s *Store) View(fn func(*bolt.Tx) error) error {
	db, err := bolt.Open(s.dbPath(), 0o600, &bolt.Options{Timeout: s.dbTimeout, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open %s: %w", s.dbPath(), err)
	}
	err = db.View(fn)
	db.Close()
	return err
}

// Image is an image record: a name pointing at a manifest or index.
type Image struct {
	// Name is the normalised reference, e.g. "docker.io/library/busybox:latest".
	Name string `json:"name"`
	// Target is the descriptor the name resolved to at pull time: an OCI
	// index / Docker manifest list, or a single manifest.
	Target  ocispec.Descriptor `json:"target"`
	Created time.Time          `json:"created"`
	Updated time.Time          `json:"updated"`
	Labels  map[string]string  `json:"labels,omitempty"`
}

// PutImage creates or replaces the record img.Name. The target blob must be
// in the store. Created is kept from an existing record.
func (s *Store) PutImage(ctx context.Context, img Image) error {
	if img.Name == "" {
		return errors.New("put image: empty name")
	}
	if ok, err := s.Exists(img.Target.Digest); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("target blob %s: %w", img.Target.Digest, ErrNotFound)
		}
		return fmt.Errorf("put image %s: %w", img.Name, err)
	}
	now := time.Now().UTC()
	return s.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketImages)
		if old := b.Get([]byte(img.Name)); old != nil {
			var prev Image
			if json.Unmarshal(old, &prev) == nil && !prev.Created.IsZero() {
				img.Created = prev.Created
			}
		}
		if img.Created.IsZero() {
			img.Created = now
		}
		img.Updated = now
		v, err := json.Marshal(img)
		if err != nil {
			return err
		}
		return b.Put([]byte(img.Name), v)
	})
}

// GetImage returns the record name (a normalised reference string).
func (s *Store) GetImage(ctx context.Context, name string) (Image, error) {
	var img Image
	err := s.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketImages).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("image %s: %w", name, ErrNotFound)
		}
		return json.Unmarshal(v, &img)
	})
	return img, err
}

// Images lists all image records, sorted by name.
func (s *Store) Images(ctx context.Context) ([]Image, error) {
	var out []Image
	err := s.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			var img Image
			if err := json.Unmarshal(v, &img); err != nil {
				return fmt.Errorf("image record %s: %w", k, err)
			}
			out = append(out, img)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// DeleteImage removes the record name. Its blobs go at the next Prune.
func (s *Store) DeleteImage(ctx context.Context, name string) error {
	return s.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketImages)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("image %s: %w", name, ErrNotFound)
		}
		return b.Delete([]byte(name))
	})
}

// AddSources records that the blobs ds were seen in repository repo
// ("registry/path"), so a later push to the same registry can mount them
// across repositories instead of uploading.
func (s *Store) AddSources(ctx context.Context, repo string, ds ...digest.Digest) error {
	return s.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSources)
		for _, d := range ds {
			var repos []string
			if v := b.Get([]byte(d)); v != nil {
				json.Unmarshal(v, &repos)
			}
			if contains(repos, repo) {
				continue
			}
			repos = append(repos, repo)
			v, _ := json.Marshal(repos)
			if err := b.Put([]byte(d), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Sources returns the repositories the blob d was seen in.
func (s *Store) Sources(ctx context.Context, d digest.Digest) ([]string, error) {
	var repos []string
	err := s.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSources).Get([]byte(d)); v != nil {
			return json.Unmarshal(v, &repos)
		}
		return nil
	})
	return repos, err
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
