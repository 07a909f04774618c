package specgen

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// EnsureWorkdir creates the working directory dir inside rootfs, as dockerd
// does before start: missing components are created with mode 0755 and
// owned by uid:gid (Docker passes its root identity, 0:0 without userns
// remapping); existing ones are left alone. Every component is resolved
// inside rootfs, so a symlink in the image cannot point the mkdir outside.
func EnsureWorkdir(rootfs, dir string, uid, gid uint32) error {
	if !path.IsAbs(dir) {
		return fmt.Errorf("working directory %q: must be an absolute path", dir)
	}
	dir = path.Clean(dir)
	if h, err := pathrs.OpenInRoot(rootfs, dir); err == nil {
		defer h.Close()
		var st unix.Stat_t
		if err := unix.Fstat(int(h.Fd()), &st); err != nil {
			return fmt.Errorf("working directory %s: %w", dir, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("working directory %s: cannot mkdir: it exists and is not a directory", dir)
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("working directory %s in %s: %w", dir, rootfs, err)
	}
	// The deepest existing ancestor: everything below it is ours to chown.
	parts := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	firstNew := 0
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		h, err := pathrs.OpenInRoot(rootfs, p)
		if err != nil {
			break
		}
		h.Close()
		firstNew = i + 1
	}
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs %s: %w", rootfs, err)
	}
	defer root.Close()
	h, err := pathrs.MkdirAllHandle(root, dir, 0o755)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("working directory %s: cannot mkdir: a component is not a directory (or is a dangling symlink): %w", dir, err)
		}
		return fmt.Errorf("working directory %s: mkdir in %s: %w", dir, rootfs, err)
	}
	h.Close()
	for i := firstNew; i < len(parts); i++ {
		p := "/" + strings.Join(parts[:i+1], "/")
		c, err := pathrs.OpenatInRoot(root, p)
		if err != nil {
			return fmt.Errorf("working directory %s: open %s: %w", dir, p, err)
		}
		err = unix.Fchownat(int(c.Fd()), "", int(uid), int(gid), unix.AT_EMPTY_PATH)
		c.Close()
		if err != nil {
			return fmt.Errorf("working directory %s: chown %s: %w", dir, p, err)
		}
	}
	return nil
}
