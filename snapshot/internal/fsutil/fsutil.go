// Package fsutil holds the file-tree helpers the snapshotters share: copying
// a tree with all its metadata (reflink when the filesystem can), reading
// xattrs, and measuring disk usage.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Xattrs returns the extended attributes of path (not following a final
// symlink). A filesystem without xattr support yields none.
func Xattrs(path string) (map[string][]byte, error) {
	buf := make([]byte, 1024)
	var n int
	var err error
	for {
		n, err = unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		break
	}
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, fmt.Errorf("list xattrs of %s: %w", path, err)
	}
	if n == 0 {
		return nil, nil
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v, err := Getxattr(path, name)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// Getxattr returns one extended attribute of path.
func Getxattr(path, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, path, err)
		}
		return buf[:n], nil
	}
}

// CopyFile copies the content of src into the new file dst (created with
// perm), as a reflink when the filesystem supports it.
func CopyFile(dst, src string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, perm)
	if err != nil {
		return err
	}
	if err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err != nil {
		// No reflink here: copy (io.Copy uses copy_file_range, in-kernel).
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return fmt.Errorf("copy %s to %s: %w", src, dst, err)
		}
	}
	return out.Close()
}

// CopyMetadata gives dst the owner, mode, xattrs and times of st/src.
// Ownership goes first: chown clears setuid bits and file capabilities.
func CopyMetadata(dst, src string, st *unix.Stat_t) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", dst, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&07777); err != nil {
			return fmt.Errorf("chmod %s: %w", dst, err)
		}
	}
	xs, err := Xattrs(src)
	if err != nil {
		return err
	}
	for k, v := range xs {
		if err := unix.Lsetxattr(dst, k, v, 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("set xattr %s on %s: %w", k, dst, err)
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", dst, err)
	}
	return nil
}

type inode struct{ dev, ino uint64 }

// CopyTree copies the content of directory src into the existing directory
// dst: every file type, hardlinks kept as hardlinks, owner, mode (setuid,
// sticky), xattrs and times. Sockets are skipped.
func CopyTree(dst, src string) error {
	links := map[inode]string{}
	type dirTime struct {
		path string
		st   unix.Stat_t
	}
	var dirs []dirTime
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if rel != "." {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, dirTime{target, st})
			return nil
		case unix.S_IFREG:
			if st.Nlink > 1 {
				k := inode{st.Dev, st.Ino}
				if first, ok := links[k]; ok {
					return os.Link(first, target)
				}
				links[k] = target
			}
			if err := CopyFile(target, p, 0o600); err != nil {
				return err
			}
		case unix.S_IFLNK:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, target); err != nil {
				return err
			}
		case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return fmt.Errorf("mknod %s: %w", target, err)
			}
		default:
			return nil
		}
		return CopyMetadata(target, p, &st)
	})
	if err != nil {
		return fmt.Errorf("copy tree %s to %s: %w", src, dst, err)
	}
	// Directories last, deepest first: creating their entries moved their
	// mtimes.
	sort.SliceStable(dirs, func(i, j int) bool { return len(dirs[i].path) > len(dirs[j].path) })
	for _, d := range dirs {
		rel, _ := filepath.Rel(dst, d.path)
		if err := CopyMetadata(d.path, filepath.Join(src, rel), &d.st); err != nil {
			return err
		}
	}
	return nil
}

// DiskUsage returns the bytes on disk and the number of inodes under dir,
// counting each hardlinked inode once and staying on dir's filesystem (du -x:
// a mounted layer image is counted by its file, not its content).
func DiskUsage(dir string) (size, inodes int64, err error) {
	seen := map[inode]bool{}
	var rootDev uint64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if p == dir {
			rootDev = st.Dev
		} else if st.Dev != rootDev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		k := inode{st.Dev, st.Ino}
		if seen[k] {
			return nil
		}
		seen[k] = true
		inodes++
		size += st.Blocks * 512
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	return size, inodes, nil
}
