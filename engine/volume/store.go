package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/engine/opts"
)

const (
	dataDir    = "_data"
	metaFile   = "volume.json"
	refsFile   = "refs.json"
	driverName = "local"

	// AnonymousLabel marks anonymous volumes, as Docker does; prune
	// removes only those unless all=true.
	AnonymousLabel = "com.docker.volume.anonymous"
)

// ErrNotFound is returned (wrapped) for a volume that does not exist.
var ErrNotFound = errors.New("no such volume")

// ErrInUse is returned (wrapped) when removing a volume containers use.
var ErrInUse = errors.New("volume is in use")

// Volume is what `docker volume inspect` shows, plus Anonymous.
type Volume struct {
	CreatedAt  string            `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
	Anonymous  bool              `json:"Anonymous"`
}

// CreateOptions are `docker volume create` options.
type CreateOptions struct {
	Labels     map[string]string
	DriverOpts map[string]string // local driver: type, o, device, size
	Anonymous  bool
}

// Users maps a volume name to the IDs of the containers using it; the
// engine builds it from its container records.
type Users map[string][]string

// Store is a volume store rooted at <root>/volumes.
type Store struct {
	dir     string
	lockDir string
}

// Open opens (creating if needed) the volume store under root.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("volume root %s: %w", root, err)
	}
	dir := filepath.Join(abs, "volumes")
	// 0701 like Docker: containers with remapped users must traverse it.
	if err := os.MkdirAll(dir, 0o701); err != nil {
		return nil, fmt.Errorf("create volume dir %s: %w", dir, err)
	}
	lockDir := filepath.Join(dir, ".locks")
	if err := os.MkdirAll(lockDir, 0o700); err != nil {
		return nil, fmt.Errorf("create volume lock dir %s: %w", lockDir, err)
	}
	return &Store{dir: dir, lockDir: lockDir}, nil
}

func (s *Store) volumeDir(name string) string { return filepath.Join(s.dir, name) }
func (s *Store) dataPath(name string) string  { return filepath.Join(s.dir, name, dataDir) }

// validateName is the local driver's rule, worded as Docker words it.
func validateName(name string) error {
	if len(name) == 1 {
		return errors.New("volume name is too short, names should be at least two alphanumeric characters")
	}
	if !opts.RestrictedName(name) {
		return fmt.Errorf(`%q includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, name)
	}
	return nil
}

func randomName() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random volume name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Create creates a volume, or returns the existing one of that name
// (Docker's create is idempotent). An empty name gets a random 64-hex
// name. Asking for an existing name with labels or driver options that
// differ from the volume's is an error; asking with none (as `run -v
// name:/dst` does) returns the volume as it is.
func (s *Store) Create(name string, o CreateOptions) (*Volume, error) {
	if name == "" {
		var err error
		if name, err = randomName(); err != nil {
			return nil, err
		}
	}
	if err := validateName(name); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := parseDriverOpts(o.DriverOpts); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	l, err := s.lock(name)
	if err != nil {
		return nil, err
	}
	defer l.unlock()

	if v, err := s.read(name); err == nil {
		if len(o.Labels) == 0 && len(o.DriverOpts) == 0 {
			return v, nil
		}
		if !maps.Equal(v.Options, o.DriverOpts) || !maps.Equal(withoutAnon(v.Labels), o.Labels) {
			return nil, fmt.Errorf("create %s: volume already exists with different labels or options", name)
		}
		return v, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}

	v := &Volume{
		CreatedAt:  time.Now().UTC().Format(time.RFC3339),
		Driver:     driverName,
		Labels:     maps.Clone(o.Labels),
		Mountpoint: s.dataPath(name),
		Name:       name,
		Options:    maps.Clone(o.DriverOpts),
		Scope:      "local",
		Anonymous:  o.Anonymous,
	}
	if o.Anonymous {
		if v.Labels == nil {
			v.Labels = map[string]string{}
		}
		v.Labels[AnonymousLabel] = ""
	}
	if err := s.install(v); err != nil {
		l.unlinkAndUnlock()
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return v, nil
}

func withoutAnon(labels map[string]string) map[string]string {
	if _, ok := labels[AnonymousLabel]; !ok {
		return labels
	}
	out := maps.Clone(labels)
	delete(out, AnonymousLabel)
	return out
}

// install builds the volume in a temporary directory and renames it into
// place, so that other processes see all of it or nothing.
func (s *Store) install(v *Volume) error {
	tmp, err := os.MkdirTemp(s.dir, ".tmp-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o701); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(tmp, dataDir), 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(tmp, metaFile), v); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.volumeDir(v.Name)); err != nil {
		return fmt.Errorf("install volume: %w", err)
	}
	ok = true
	return syncDir(s.dir)
}

// Get returns the named volume.
func (s *Store) Get(name string) (*Volume, error) {
	if validateName(name) != nil {
		return nil, fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	v, err := s.read(name)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return v, nil
}

// read loads volume.json. A directory with _data but no volume.json (made
// by another tool with Docker's layout) reads as a plain local volume.
func (s *Store) read(name string) (*Volume, error) {
	b, err := os.ReadFile(filepath.Join(s.volumeDir(name), metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		st, serr := os.Stat(s.dataPath(name))
		if serr != nil {
			return nil, ErrNotFound
		}
		return &Volume{
			CreatedAt: st.ModTime().UTC().Format(time.RFC3339), Driver: driverName,
			Mountpoint: s.dataPath(name), Name: name, Scope: "local",
		}, nil
	}
	if err != nil {
		return nil, err
	}
	v := &Volume{}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(s.volumeDir(name), metaFile), err)
	}
	// The store may have moved since the volume was made.
	v.Name, v.Mountpoint = name, s.dataPath(name)
	return v, nil
}

// writeJSON writes a file durably and atomically (temp, fsync, rename).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
