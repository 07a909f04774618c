package volume

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// volumeLock is an exclusive flock on <root>/volumes/.locks/<name>.
type volumeLock struct {
	f    *os.File
	path string
}

// lock takes the volume's lock. Remove unlinks the lock file while holding
// it, so after the flock is granted we check that the path still names the
// file we locked, and start over if not.
func (s *Store) lock(name string) (*volumeLock, error) {
	p := filepath.Join(s.lockDir, name)
	for {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open volume lock %s: %w", p, err)
		}
		if err := flock(f, unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock volume %s: %w", name, err)
		}
		var held, now unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &held); err != nil {
			f.Close()
			return nil, fmt.Errorf("stat volume lock %s: %w", p, err)
		}
		if err := unix.Stat(p, &now); err == nil && now.Ino == held.Ino && now.Dev == held.Dev {
			return &volumeLock{f: f, path: p}, nil
		}
		f.Close()
	}
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

func (l *volumeLock) unlock() { l.f.Close() }

// unlinkAndUnlock drops the lock file with the volume it guarded.
func (l *volumeLock) unlinkAndUnlock() {
	os.Remove(l.path)
	l.f.Close()
}
