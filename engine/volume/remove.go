package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Remove deletes a volume and its data. A volume users lists as in use is
// refused with Docker's "remove NAME: volume is in use - [ids]"; force
// (as `docker volume rm -f`) only makes a missing volume not an error.
// Mounts left below the volume (a crashed user) are detached first, and
// the data is never deleted through a mount.
func (s *Store) Remove(name string, force bool, users Users) error {
	if ids := users[name]; len(ids) > 0 {
		return fmt.Errorf("remove %s: %w - [%s]", name, ErrInUse, strings.Join(ids, ", "))
	}
	if validateName(name) != nil {
		if force {
			return nil
		}
		return fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	l, err := s.lock(name)
	if err != nil {
		return err
	}
	if _, err := s.read(name); err != nil {
		if errors.Is(err, ErrNotFound) {
			l.unlinkAndUnlock()
			if force {
				return nil
			}
			return fmt.Errorf("get %s: %w", name, ErrNotFound)
		}
		l.unlock()
		return fmt.Errorf("remove %s: %w", name, err)
	}
	dir := s.volumeDir(name)
	if err := detachAll(dir); err != nil {
		l.unlock()
		return fmt.Errorf("remove %s: %w", name, err)
	}
	suffix, err := randomName()
	if err != nil {
		l.unlock()
		return fmt.Errorf("remove %s: %w", name, err)
	}
	// The rename makes the volume vanish at once; deleting data takes time.
	trash := filepath.Join(s.dir, ".trash-"+suffix[:16])
	if err := os.Rename(dir, trash); err != nil {
		l.unlock()
		return fmt.Errorf("remove %s: %w", name, err)
	}
	l.unlinkAndUnlock()
	return removeTrash(trash)
}

// detachAll lazily unmounts every mount at or below dir and checks none
// is left.
func detachAll(dir string) error {
	mps, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, mp := range mps {
		if err := unmount(mp, unix.MNT_DETACH); err != nil {
			return err
		}
	}
	if mps, err = mountsUnder(dir); err != nil {
		return err
	} else if len(mps) > 0 {
		return fmt.Errorf("still mounted: %s", strings.Join(mps, ", "))
	}
	return nil
}

func removeTrash(dir string) error {
	if mps, err := mountsUnder(dir); err != nil || len(mps) > 0 {
		return fmt.Errorf("refusing to delete %s: mounts below it (%v, %v)", dir, mps, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete volume data %s: %w", dir, err)
	}
	return nil
}

// Prune removes unused volumes: anonymous ones only, as Docker does since
// 23.0, or named ones too with all=true. Filters: label, label!, all.
// It returns the names removed and the bytes their data used.
func (s *Store) Prune(users Users, f Filters) (removed []string, reclaimed int64, err error) {
	if err := f.check("label", "label!", "all"); err != nil {
		return nil, 0, err
	}
	all, _, err := f.boolValue("all")
	if err != nil {
		return nil, 0, err
	}
	vols, err := s.all()
	if err != nil {
		return nil, 0, err
	}
	var errs []error
	for _, v := range vols {
		if len(users[v.Name]) > 0 || (!all && !isAnonymous(v)) || !f.labelsMatch(v.Labels) {
			continue
		}
		size, _ := s.Size(v.Name)
		if err := s.Remove(v.Name, false, users); err != nil {
			if !errors.Is(err, ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, v.Name)
		reclaimed += size
	}
	s.gcStale()
	return removed, reclaimed, errors.Join(errs...)
}

func isAnonymous(v *Volume) bool {
	_, labelled := v.Labels[AnonymousLabel]
	return v.Anonymous || labelled
}

// gcStale deletes what crashed commands left: trash dirs (Remove renames
// and deletes at once, so any left over is abandoned) and create temp dirs
// old enough not to be in progress.
func (s *Store) gcStale() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(s.dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), ".trash-"):
			removeTrash(p)
		case strings.HasPrefix(e.Name(), ".tmp-"):
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				removeTrash(p)
			}
		}
	}
}
