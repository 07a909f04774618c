package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-dev/berth/snapshot/internal/fsutil"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// DiffResult describes a written layer.
type DiffResult struct {
	DiffID digest.Digest // sha256 of the uncompressed tar
	Size   int64         // bytes of the uncompressed tar
}

// DiffOverlay writes, as a layer tar to w, the changes recorded in the
// overlayfs upper directory upper: overlay whiteouts (char 0/0) become
// ".wh." entries and opaque directories get ".wh..wh..opq".
func DiffOverlay(ctx context.Context, w io.Writer, upper string) (DiffResult, error) {
	d := newDiffer(ctx, w)
	err := d.walk(upper, "", nil)
	return d.close(err)
}

// DiffDirs writes, as a layer tar to w, what changed from the tree lower to
// the tree upper: added and changed entries, and whiteouts for removed ones.
// lower may be "" for an empty tree. An entry is unchanged when its type,
// owner, mode, size, mtime, link target, device and xattrs are equal (and,
// for files whose mtime has no sub-second part, its content).
func DiffDirs(ctx context.Context, w io.Writer, lower, upper string) (DiffResult, error) {
	d := newDiffer(ctx, w)
	err := d.walk(upper, "", &lowerTree{root: lower})
	return d.close(err)
}

type differ struct {
	ctx   context.Context
	tw    *tar.Writer
	dg    digest.Digester
	cw    *countingWriter
	links map[[2]uint64]string
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newDiffer(ctx context.Context, w io.Writer) *differ {
	dg := digest.SHA256.Digester()
	cw := &countingWriter{w: io.MultiWriter(w, dg.Hash())}
	return &differ{ctx: ctx, tw: tar.NewWriter(cw), dg: dg, cw: cw, links: map[[2]uint64]string{}}
}

func (d *differ) close(err error) (DiffResult, error) {
	if err != nil {
		return DiffResult{}, err
	}
	if err := d.tw.Close(); err != nil {
		return DiffResult{}, fmt.Errorf("write layer: %w", err)
	}
	return DiffResult{DiffID: d.dg.Digest(), Size: d.cw.n}, nil
}

type lowerTree struct{ root string }

// lstat stats rel in the lower tree only if every directory on the way is a
// real directory there, so a symlink in the lower tree is never followed.
func (l *lowerTree) lstat(rel string) (*unix.Stat_t, error) {
	if l.root == "" {
		return nil, unix.ENOENT
	}
	var st unix.Stat_t
	fd, err := unix.Openat2(unix.AT_FDCWD, l.root, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	dir, base := path.Split(rel)
	pfd, err := unix.Openat2(fd, orDot(strings.TrimSuffix(dir, "/")), &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	return &st, nil
}

func (l *lowerTree) names(rel string) ([]string, error) {
	if l.root == "" {
		return nil, nil
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, filepath.Join(l.root, rel), &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	return f.Readdirnames(-1)
}

// walk emits the entries of the directory rel under root, sorted by name.
// lower == nil means root is an overlay upper. In native mode (lower != nil) it also emits whiteouts for names only the
// lower tree has, and skips unchanged entries.
func (d *differ) walk(root, rel string, lower *lowerTree) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(root, rel)
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	present := map[string]bool{}
	for _, n := range names {
		present[n] = true
	}
	var gone []string
	lowerIsDir := false
	if lower != nil {
		if st, err := lower.lstat(orDot(rel)); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			lowerIsDir = true
			lnames, err := lower.names(rel)
			if err != nil {
				return fmt.Errorf("read lower %s: %w", rel, err)
			}
			for _, n := range lnames {
				if !present[n] {
					gone = append(gone, n)
				}
			}
		}
	}
	all := append(names, gone...)
	sort.Strings(all)
	for _, n := range all {
		crel := path.Join(rel, n)
		if !present[n] {
			if err := d.whiteoutEntry(crel, time.Time{}); err != nil {
				return err
			}
			continue
		}
		p := filepath.Join(root, crel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		var sub *lowerTree
		if lower == nil {
			// Overlay upper: whiteout devices, opaque directories.
			if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
				if err := d.whiteoutEntry(crel, mtime(&st)); err != nil {
					return err
				}
				continue
			}
			if err := d.entry(p, crel, &st); err != nil {
				return err
			}
			if isDir {
				if v, err := fsutil.Getxattr(p, opaqueXattr); err == nil && string(v) == "y" {
					if err := d.whiteoutEntry(path.Join(crel, WhiteoutOpaque), mtime(&st)); err != nil {
						return err
					}
				}
				if err := d.walk(root, crel, nil); err != nil {
					return err
				}
			}
			continue
		}
		changed, lowerDir := true, false
		if lowerIsDir {
			if lst, err := lower.lstat(crel); err == nil {
				lowerDir = lst.Mode&unix.S_IFMT == unix.S_IFDIR
				changed, err = differs(p, filepath.Join(lower.root, crel), &st, lst)
				if err != nil {
					return err
				}
			}
		}
		if changed {
			if err := d.entry(p, crel, &st); err != nil {
				return err
			}
		} else if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink > 1 {
			// Unchanged, but later new links to it must point here.
			k := [2]uint64{st.Dev, st.Ino}
			if _, ok := d.links[k]; !ok {
				d.links[k] = crel
			}
		}
		if isDir {
			sub = lower
			if !lowerDir {
				sub = &lowerTree{} // all new below
			}
			if err := d.walk(root, crel, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

func mtime(st *unix.Stat_t) time.Time {
	return time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
}

func (d *differ) whiteoutEntry(rel string, mt time.Time) error {
	dir, base := path.Split(rel)
	name := dir + base
	if base != WhiteoutOpaque {
		name = dir + WhiteoutPrefix + base
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: mt.Truncate(time.Second), Format: tar.FormatPAX}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write whiteout %s: %w", rel, err)
	}
	return nil
}

// entry writes the header (and content) of the file p as rel.
func (d *differ) entry(p, rel string, st *unix.Stat_t) error {
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 07777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime(st).Truncate(time.Second),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		if st.Nlink > 1 {
			k := [2]uint64{st.Dev, st.Ino}
			if first, ok := d.links[k]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				d.links[k] = rel
			}
		}
	case unix.S_IFLNK:
		l, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, l
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // sockets are not layer content
	}
	xs, err := fsutil.Xattrs(p)
	if err != nil {
		return err
	}
	for k, v := range xs {
		if strings.HasPrefix(k, "trusted.overlay.") {
			continue // overlayfs bookkeeping, not content
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = string(v)
	}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(d.tw, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
	}
	return nil
}

// differs reports whether the upper entry changed against the lower one.
func differs(up, low string, a, b *unix.Stat_t) (bool, error) {
	if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Rdev != b.Rdev {
		return true, nil
	}
	typ := a.Mode & unix.S_IFMT
	if typ != unix.S_IFDIR && (a.Size != b.Size || a.Mtim != b.Mtim) {
		return true, nil
	}
	if typ == unix.S_IFDIR && a.Mtim != b.Mtim {
		return true, nil
	}
	if typ == unix.S_IFLNK {
		la, _ := os.Readlink(up)
		lb, _ := os.Readlink(low)
		if la != lb {
			return true, nil
		}
	}
	xa, err := fsutil.Xattrs(up)
	if err != nil {
		return false, err
	}
	xb, err := fsutil.Xattrs(low)
	if err != nil {
		return false, err
	}
	if len(xa) != len(xb) {
		return true, nil
	}
	for k, v := range xa {
		if !bytes.Equal(v, xb[k]) {
			return true, nil
		}
	}
	// A whole-second mtime may come from a tar (or a coarse clock): equal
	// times then prove little, so compare the bytes.
	if typ == unix.S_IFREG && a.Mtim.Nsec == 0 && a.Size > 0 {
		same, err := sameContent(up, low)
		return !same, err
	}
	return false, nil
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if errors.Is(ea, io.EOF) || errors.Is(ea, io.ErrUnexpectedEOF) {
			return errors.Is(eb, io.EOF) || errors.Is(eb, io.ErrUnexpectedEOF), nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}
