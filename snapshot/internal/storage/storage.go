// Package storage is the metadata store the snapshotters share: one bbolt
// file that maps keys and names to snapshot records (numeric id, kind,
// parent, labels, times, usage of committed snapshots). The directories of a
// snapshot are named after its id, which stays the same from Prepare through
// Commit, so committing moves no files.
//
// Every change is one bbolt transaction: a killed process leaves the old or
// the new state. Callers create directories before the transaction commits
// and delete them after it, so a crash leaves at worst an unreferenced
// directory, which Orphans lists for cleanup.
package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/berth-dev/berth/snapshot"
	bolt "go.etcd.io/bbolt"
)

var bucketName = []byte("snapshots")

// Store is a metadata file. The bbolt file is opened for each transaction
// and closed after it: bbolt holds a file lock while open, and berth is
// daemonless, so several processes take turns on the same file.
type Store struct{ path string }

// Open creates the metadata file at path if needed.
func Open(path string) (*Store, error) {
	s := &Store{path: path}
	// Made once. An existing file is not opened here: every container
	// create, start and removal opens the snapshotter, and each bbolt open
	// costs. A file left without its bucket (a process killed while
	// making it) gets it at the first View.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return s, nil
	}
	if err := s.init(); err != nil {
		return nil, err
	}
	return s, nil
}

// init makes the file and its bucket.
func (s *Store) init() error {
	if err := s.Update(func(*Tx) error { return nil }); err != nil {
		return fmt.Errorf("init snapshot metadata: %w", err)
	}
	return nil
}

// Close releases nothing: the file is only open during transactions.
func (s *Store) Close() error { return nil }

func (s *Store) open(ro bool) (*bolt.DB, error) {
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: 60 * time.Second, ReadOnly: ro})
	if err != nil {
		return nil, fmt.Errorf("open snapshot metadata %s: %w", s.path, err)
	}
	return db, nil
}

// Update runs fn in a read-write transaction.
func (s *Store) Update(fn func(*Tx) error) error {
	db, err := s.open(false)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		return fn(&Tx{b: b})
	})
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	err := s.view(fn)
	if errors.Is(err, errNoBucket) {
		// A file whose making was cut short (see Open): finish it.
		if err := s.init(); err != nil {
			return err
		}
		err = s.view(fn)
	}
	return err
}

var errNoBucket = errors.New("no snapshots bucket")

func (s *Store) view(fn func(*Tx) error) error {
	db, err := s.open(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketName)
		if b == nil {
			return fmt.Errorf("snapshot metadata %s: %w", s.path, errNoBucket)
		}
		return fn(&Tx{b: b})
	})
}

// Tx is one transaction.
type Tx struct{ b *bolt.Bucket }

type record struct {
	ID      string            `json:"id"`
	Kind    snapshot.Kind     `json:"kind"`
	Parent  string            `json:"parent,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
	Size    int64             `json:"size,omitempty"`
	Inodes  int64             `json:"inodes,omitempty"`
}

// Snapshot is what a snapshotter needs to build mounts.
type Snapshot struct {
	ID        string
	Kind      snapshot.Kind
	ParentIDs []string // the whole chain, nearest parent first
}

func (tx *Tx) get(key string) (*record, error) {
	v := tx.b.Get([]byte(key))
	if v == nil {
		return nil, snapshot.Errorf(snapshot.ErrNotFound, "snapshot %q", key)
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("snapshot %q: corrupt metadata: %w", key, err)
	}
	return &r, nil
}

func (tx *Tx) put(key string, r *record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.b.Put([]byte(key), v)
}

func (tx *Tx) chain(parent string) ([]string, error) {
	var ids []string
	for p := parent; p != ""; {
		r, err := tx.get(p)
		if err != nil {
			return nil, fmt.Errorf("parent chain: %w", err)
		}
		ids = append(ids, r.ID)
		p = r.Parent
	}
	return ids, nil
}

// Create records a new active snapshot or view key on parent.
func (tx *Tx) Create(kind snapshot.Kind, key, parent string, opts ...snapshot.Opt) (Snapshot, error) {
	if key == "" {
		return Snapshot{}, snapshot.Errorf(snapshot.ErrInvalid, "empty snapshot key")
	}
	if kind != snapshot.KindActive && kind != snapshot.KindView {
		return Snapshot{}, snapshot.Errorf(snapshot.ErrInvalid, "create snapshot %q of kind %v", key, kind)
	}
	if tx.b.Get([]byte(key)) != nil {
		return Snapshot{}, snapshot.Errorf(snapshot.ErrAlreadyExists, "snapshot %q", key)
	}
	if parent != "" {
		p, err := tx.get(parent)
		if err != nil {
			return Snapshot{}, fmt.Errorf("parent of %q: %w", key, err)
		}
		if p.Kind != snapshot.KindCommitted {
			return Snapshot{}, snapshot.Errorf(snapshot.ErrInvalid, "parent %q of %q is %v, not committed", parent, key, p.Kind)
		}
	}
	info := snapshot.Info{}
	for _, o := range opts {
		if err := o(&info); err != nil {
			return Snapshot{}, err
		}
	}
	seq, err := tx.b.NextSequence()
	if err != nil {
		return Snapshot{}, err
	}
	now := time.Now().UTC()
	r := &record{ID: strconv.FormatUint(seq, 10), Kind: kind, Parent: parent, Labels: info.Labels, Created: now, Updated: now}
	if err := tx.put(key, r); err != nil {
		return Snapshot{}, err
	}
	ids, err := tx.chain(parent)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{ID: r.ID, Kind: kind, ParentIDs: ids}, nil
}

// Get returns the snapshot key with its parent chain.
func (tx *Tx) Get(key string) (Snapshot, error) {
	r, err := tx.get(key)
	if err != nil {
		return Snapshot{}, err
	}
	ids, err := tx.chain(r.Parent)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{ID: r.ID, Kind: r.Kind, ParentIDs: ids}, nil
}

// Info returns the id, info and recorded usage of key.
func (tx *Tx) Info(key string) (string, snapshot.Info, snapshot.Usage, error) {
	r, err := tx.get(key)
	if err != nil {
		return "", snapshot.Info{}, snapshot.Usage{}, err
	}
	return r.ID, r.info(key), snapshot.Usage{Size: r.Size, Inodes: r.Inodes}, nil
}

func (r *record) info(key string) snapshot.Info {
	return snapshot.Info{Kind: r.Kind, Name: key, Parent: r.Parent, Labels: r.Labels, Created: r.Created, Updated: r.Updated}
}

// Commit turns the active snapshot key into the committed snapshot name,
// keeping its id. It returns the id.
func (tx *Tx) Commit(key, name string, usage snapshot.Usage, opts ...snapshot.Opt) (string, error) {
	if name == "" {
		return "", snapshot.Errorf(snapshot.ErrInvalid, "commit %q: empty name", key)
	}
	r, err := tx.get(key)
	if err != nil {
		return "", err
	}
	if r.Kind != snapshot.KindActive {
		return "", snapshot.Errorf(snapshot.ErrFailedPrecondition, "commit %q: snapshot is %v, only active snapshots can be committed", key, r.Kind)
	}
	if tx.b.Get([]byte(name)) != nil {
		return "", snapshot.Errorf(snapshot.ErrAlreadyExists, "commit %q as %q", key, name)
	}
	info := r.info(name)
	for _, o := range opts {
		if err := o(&info); err != nil {
			return "", err
		}
	}
	r.Kind, r.Labels, r.Updated = snapshot.KindCommitted, info.Labels, time.Now().UTC()
	r.Size, r.Inodes = usage.Size, usage.Inodes
	if err := tx.b.Delete([]byte(key)); err != nil {
		return "", err
	}
	return r.ID, tx.put(name, r)
}

// Remove deletes the record of key and returns its id and kind. A snapshot
// that is the parent of another cannot be removed.
func (tx *Tx) Remove(key string) (string, snapshot.Kind, error) {
	r, err := tx.get(key)
	if err != nil {
		return "", 0, err
	}
	if r.Kind == snapshot.KindCommitted {
		var child string
		tx.b.ForEach(func(k, v []byte) error {
			var c record
			if json.Unmarshal(v, &c) == nil && c.Parent == key {
				child = string(k)
			}
			return nil
		})
		if child != "" {
			return "", 0, snapshot.Errorf(snapshot.ErrFailedPrecondition, "remove %q: snapshot %q is its child", key, child)
		}
	}
	return r.ID, r.Kind, tx.b.Delete([]byte(key))
}

// Walk calls fn for every snapshot.
func (tx *Tx) Walk(fn func(id string, info snapshot.Info) error) error {
	return tx.b.ForEach(func(k, v []byte) error {
		var r record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("snapshot %q: corrupt metadata: %w", k, err)
		}
		return fn(r.ID, r.info(string(k)))
	})
}

// IDs returns the set of ids in use, for garbage-collecting directories.
func (tx *Tx) IDs() (map[string]bool, error) {
	ids := map[string]bool{}
	err := tx.Walk(func(id string, _ snapshot.Info) error { ids[id] = true; return nil })
	return ids, err
}
