package volume

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount makes the volume's data available and returns its path. For a
// plain volume that is just the _data directory. For a volume with device
// options (type=tmpfs,device=tmpfs,o=size=100m or type=none,o=bind,
// device=/path) the device is mounted on _data when the first user
// arrives. ref names the user (a container ID); the same ref mounting
// twice counts once. Users are recorded in refs.json; a record whose mount
// is gone (a reboot, a crash and an unmount) is discarded.
func (s *Store) Mount(name, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("mount volume %s: empty reference", name)
	}
	l, err := s.lock(name)
	if err != nil {
		return "", err
	}
	defer l.unlock()
	v, err := s.read(name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			l.unlinkAndUnlock()
		}
		return "", fmt.Errorf("mount volume %s: %w", name, err)
	}
	mo, err := parseDriverOpts(v.Options)
	if err != nil {
		return "", fmt.Errorf("mount volume %s: %w", name, err)
	}
	data := s.dataPath(name)
	if !mo.needed() {
		return data, nil
	}
	mounted, err := isMountPoint(data)
	if err != nil {
		return "", fmt.Errorf("mount volume %s: %w", name, err)
	}
	refs := map[string]bool{}
	if mounted {
		if refs, err = s.readRefs(name); err != nil {
			return "", fmt.Errorf("mount volume %s: %w", name, err)
		}
	} else if err := mo.mount(data); err != nil {
		return "", fmt.Errorf("failed to mount local volume %s: %w", name, err)
	}
	refs[ref] = true
	if err := s.writeRefs(name, refs); err != nil {
		if !mounted {
			unix.Unmount(data, unix.MNT_DETACH)
		}
		return "", fmt.Errorf("mount volume %s: %w", name, err)
	}
	return data, nil
}

// Unmount drops ref's use of the volume and unmounts a typed volume when
// its last user is gone. Unknown refs and plain volumes are no-ops.
func (s *Store) Unmount(name, ref string) error {
	l, err := s.lock(name)
	if err != nil {
		return err
	}
	defer l.unlock()
	v, err := s.read(name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			l.unlinkAndUnlock()
		}
		return fmt.Errorf("unmount volume %s: %w", name, err)
	}
	if len(v.Options) == 0 {
		return nil
	}
	refs, err := s.readRefs(name)
	if err != nil {
		return fmt.Errorf("unmount volume %s: %w", name, err)
	}
	delete(refs, ref)
	data := s.dataPath(name)
	if len(refs) == 0 {
		mounted, err := isMountPoint(data)
		if err != nil {
			return fmt.Errorf("unmount volume %s: %w", name, err)
		}
		if mounted {
			if err := unmount(data, 0); err != nil {
				return fmt.Errorf("unmount volume %s: %w", name, err)
			}
		}
	}
	if err := s.writeRefs(name, refs); err != nil {
		return fmt.Errorf("unmount volume %s: %w", name, err)
	}
	return nil
}

func (s *Store) readRefs(name string) (map[string]bool, error) {
	refs := map[string]bool{}
	b, err := os.ReadFile(filepath.Join(s.volumeDir(name), refsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return refs, nil
	}
	if err != nil {
		return nil, err
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("parse %s: %w", refsFile, err)
	}
	for _, r := range list {
		refs[r] = true
	}
	return refs, nil
}

func (s *Store) writeRefs(name string, refs map[string]bool) error {
	p := filepath.Join(s.volumeDir(name), refsFile)
	if len(refs) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	list := make([]string, 0, len(refs))
	for r := range refs {
		list = append(list, r)
	}
	sort.Strings(list)
	return writeJSON(p, list)
}

// isMountPoint reports whether path is the root of a mount (bind mounts
// of the same filesystem included), from statx's STATX_ATTR_MOUNT_ROOT.
func isMountPoint(path string) (bool, error) {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC, unix.STATX_BASIC_STATS, &st)
	if err != nil {
		return false, fmt.Errorf("statx %s: %w", path, err)
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	// Kernels before 5.8: a different device than the parent.
	var parent unix.Stat_t
	if err := unix.Stat(filepath.Dir(path), &parent); err != nil {
		return false, fmt.Errorf("stat %s: %w", filepath.Dir(path), err)
	}
	return uint64(parent.Dev) != unix.Mkdev(st.Dev_major, st.Dev_minor), nil
}

func unmount(path string, flags int) error {
	for {
		err := unix.Unmount(path, flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
		return nil
	}
}

// mountsUnder lists the mount points at or below dir, deepest first, from
// /proc/self/mountinfo.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for space...).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if c, ok := octal3(s[i+1 : i+4]); ok {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal3(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	var v int
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	return byte(v), v < 256
}
