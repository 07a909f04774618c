package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"unsafe"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// CopyUp copies what the image has at dst (a path in the container) into
// a volume's data directory, as Docker does the first time an empty volume
// is mounted over a non-empty image directory: owners, modes, times,
// xattrs, symlinks, device nodes, fifos and hard links are kept. It is a
// no-op when volumeData is not empty or the image has nothing at dst.
//
// dst is resolved inside imageRootfs as in a chroot (a symlink there can
// never lead out of it), and the walk is done on file descriptors without
// following any symlink, so a tree changing under us cannot redirect the
// copy to host files either.
func CopyUp(imageRootfs, dst, volumeData string) error {
	empty, err := isEmptyDir(volumeData)
	if err != nil || !empty {
		return err
	}
	h, err := pathrs.OpenInRoot(imageRootfs, dst)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("copy-up: resolve %s in %s: %w", dst, imageRootfs, err)
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return fmt.Errorf("copy-up: stat %s: %w", dst, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("copy-up: %s in the image is not a directory", dst)
	}
	src, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("copy-up: open %s: %w", dst, err)
	}
	defer src.Close()
	out, err := os.OpenFile(volumeData, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copy-up: open %s: %w", volumeData, err)
	}
	defer out.Close()
	c := &copier{links: map[[2]uint64]string{}, dstRoot: int(out.Fd())}
	if err := c.copyDir(src, out, "."); err != nil {
		return fmt.Errorf("copy-up %s to %s: %w", dst, volumeData, err)
	}
	if err := c.fdMeta(src, out, &st); err != nil {
		return fmt.Errorf("copy-up %s to %s: %w", dst, volumeData, err)
	}
	return nil
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, fmt.Errorf("copy-up: %w", err)
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("copy-up: read %s: %w", dir, err)
	}
	return false, nil
}

type copier struct {
	links   map[[2]uint64]string // source inode → first copy, relative to dstRoot
	dstRoot int
}

func (c *copier) copyDir(src, dst *os.File, rel string) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for _, name := range names {
		p := path.Join(rel, name)
		var st unix.Stat_t
		if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		typ := st.Mode & unix.S_IFMT
		key := [2]uint64{st.Dev, st.Ino}
		if typ != unix.S_IFDIR && st.Nlink > 1 {
			if first, ok := c.links[key]; ok {
				if err := unix.Linkat(c.dstRoot, first, dfd, name, 0); err != nil {
					return fmt.Errorf("link %s to %s: %w", p, first, err)
				}
				continue
			}
			c.links[key] = p
		}
		switch typ {
		case unix.S_IFDIR:
			err = c.copySubdir(src, dst, name, p, &st)
		case unix.S_IFREG:
			err = c.copyFile(sfd, dfd, name, &st)
		case unix.S_IFLNK:
			err = c.copySymlink(sfd, dfd, name, &st)
		case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
			if err = unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err == nil {
				err = c.nameMeta(sfd, dfd, name, &st, true)
			}
		default:
			err = fmt.Errorf("unknown file type %o", typ)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func (c *copier) copySubdir(src, dst *os.File, name, rel string, st *unix.Stat_t) error {
	s, err := openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := unix.Mkdirat(int(dst.Fd()), name, 0o700); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	d, err := openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := c.copyDir(s, d, rel); err != nil {
		return err
	}
	// Metadata last: the times would change as children are added, and a
	// read-only mode would stop us adding them.
	return c.fdMeta(s, d, st)
}

func (c *copier) copyFile(sfd, dfd int, name string, st *unix.Stat_t) error {
	// O_NONBLOCK: if the entry was swapped for a fifo, do not hang on it.
	fd, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	s := os.NewFile(uintptr(fd), name)
	defer s.Close()
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return err
	}
	if now.Mode&unix.S_IFMT != unix.S_IFREG || now.Ino != st.Ino {
		return errors.New("changed while copying")
	}
	ofd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	d := os.NewFile(uintptr(ofd), name)
	defer d.Close()
	if _, err := io.Copy(d, s); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return c.fdMeta(s, d, st)
}

func (c *copier) copySymlink(sfd, dfd int, name string, st *unix.Stat_t) error {
	buf := make([]byte, st.Size+1)
	n, err := unix.Readlinkat(sfd, name, buf)
	if err != nil {
		return fmt.Errorf("readlink: %w", err)
	}
	if n > int(st.Size) {
		return errors.New("changed while copying")
	}
	if err := unix.Symlinkat(string(buf[:n]), dfd, name); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return c.nameMeta(sfd, dfd, name, st, false)
}

// futimens is utimensat(fd, NULL, ts, 0), which x/sys does not wrap.
func futimens(fd int, ts []unix.Timespec) error {
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func openat(dir *os.File, name string, flags int) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// fdMeta copies owner, xattrs, mode and times between open files. The
// order matters: chown clears set-id bits and file capabilities, so mode
// and xattrs come after it.
func (c *copier) fdMeta(src, dst *os.File, st *unix.Stat_t) error {
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	if err := unix.Fchown(dfd, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := copyXattrs(fdXattrs{sfd}, fdXattrs{dfd}); err != nil {
		return err
	}
	if err := unix.Fchmod(dfd, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := futimens(dfd, ts); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// nameMeta is fdMeta for entries we must not open (symlinks, devices,
// fifos), addressed by name in their directory.
func (c *copier) nameMeta(sfd, dfd int, name string, st *unix.Stat_t, chmod bool) error {
	if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := copyXattrs(pathXattrs{procPath(sfd, name)}, pathXattrs{procPath(dfd, name)}); err != nil {
		return err
	}
	if chmod {
		if err := unix.Fchmodat(dfd, name, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// procPath names an entry of directory fd through /proc/self/fd, so the
// l*xattr calls act on exactly that entry (never following it) without
// resolving a path from the root.
func procPath(dirfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
}

type xattrs interface {
	list([]byte) (int, error)
	get(string, []byte) (int, error)
	set(string, []byte) error
}

type fdXattrs struct{ fd int }

func (x fdXattrs) list(b []byte) (int, error)          { return unix.Flistxattr(x.fd, b) }
func (x fdXattrs) get(a string, b []byte) (int, error) { return unix.Fgetxattr(x.fd, a, b) }
func (x fdXattrs) set(a string, b []byte) error        { return unix.Fsetxattr(x.fd, a, b, 0) }

type pathXattrs struct{ p string }

func (x pathXattrs) list(b []byte) (int, error)          { return unix.Llistxattr(x.p, b) }
func (x pathXattrs) get(a string, b []byte) (int, error) { return unix.Lgetxattr(x.p, a, b) }
func (x pathXattrs) set(a string, b []byte) error        { return unix.Lsetxattr(x.p, a, b, 0) }

func copyXattrs(src, dst xattrs) error {
	size, err := src.list(nil)
	if err != nil || size == 0 {
		if err != nil && !notSupported(err) {
			return fmt.Errorf("list xattrs: %w", err)
		}
		return nil
	}
	buf := make([]byte, size)
	if size, err = src.list(buf); err != nil {
		return fmt.Errorf("list xattrs: %w", err)
	}
	for _, attr := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		// overlayfs bookkeeping of the image's own storage is not content.
		if attr == "" || strings.HasPrefix(attr, "trusted.overlay.") {
			continue
		}
		n, err := src.get(attr, nil)
		if err != nil {
			return fmt.Errorf("get xattr %s: %w", attr, err)
		}
		val := make([]byte, n)
		if n, err = src.get(attr, val); err != nil {
			return fmt.Errorf("get xattr %s: %w", attr, err)
		}
		if err := dst.set(attr, val[:n]); err != nil && !notSupported(err) {
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	return nil
}

func notSupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}
