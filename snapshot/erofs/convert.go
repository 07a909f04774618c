package erofs

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/internal/fsutil"
	"github.com/berth-dev/berth/snapshot/layer"
	"golang.org/x/sys/unix"
)

// This file writes an EROFS image straight from a layer tar, in one pass
// over the stream: file contents go to the image as they arrive (block
// aligned, uncompressed), and the tree (inodes, directories, symlink
// targets) is written after them once the whole layer has been read. No
// file is created on any filesystem but the image itself, which is what
// makes this path fast on ext4.
//
// The format (Linux fs/erofs/erofs_fs.h): 4 KiB blocks; the superblock at
// byte 1024; every inode is an extended (64-byte) inode with the FLAT_PLAIN
// data layout (data in contiguous blocks at raw_blkaddr), followed by its
// inline xattrs; an inode's nid is its offset from meta_blkaddr in 32-byte
// units. Directory blocks hold 12-byte dirents sorted by name, then the
// names.

const (
	blkBits      = 12
	blkSize      = 1 << blkBits
	sbOffset     = 1024
	erofsMagicV1 = 0xE0F5E1E2
	inodeSize    = 64
	slotSize     = 32
	direntSize   = 12
)

// ErrNeedsParents is returned by ConvertTar for a layer whose hardlinks
// point into lower layers it was not given (ConvertOptions.LowerFile):
// Import, which has them, can still take it.
var ErrNeedsParents = snapshot.ErrNeedsParents

type node struct {
	mode     uint32 // with S_IFMT
	uid, gid uint32
	mtime    time.Time
	size     uint64
	blkaddr  uint32 // data start block (files, dirs, symlinks)
	rdev     uint32
	link     string // symlink target
	xattrs   map[string]string
	children map[string]*node // directories
	nlink    uint32
	nid      uint64
	explicit bool // had its own entry (else an implicit parent directory)
	isize    int  // inode + xattrs, bytes
}

// ConvertOptions tune ConvertTar.
type ConvertOptions struct {
	// DirMeta gives an implicitly created directory (one the layer holds
	// files of but has no entry for) the metadata of the same directory in
	// the lower layers; nil means root-owned 0755.
	DirMeta func(rel string) (mode, uid, gid uint32, ok bool)
	// LowerFile opens the file rel of the lower layers, for a hardlink to
	// it: its content and owner, mode and mtime are copied into this layer
	// (overlayfs's copy-up). nil, or an error, fails such a layer with
	// ErrNeedsParents.
	LowerFile func(rel string) (*os.File, error)
	// Root is the mode, owner of "/" unless the layer has a "./" entry.
	RootMode, RootUID, RootGID uint32
}

// ConvertTar reads the uncompressed layer tar r and writes an EROFS image
// of it, in overlayfs form (whiteouts as char 0/0 devices, opaque
// directories with trusted.overlay.opaque=y), to the new, empty file dst.
// It returns the tar size.
func ConvertTar(ctx context.Context, r io.Reader, dst *os.File, opts ConvertOptions) (int64, error) {
	c := &converter{
		ctx: ctx, out: dst, opts: opts,
		root: &node{mode: unix.S_IFDIR | 0o755, children: map[string]*node{}, mtime: time.Unix(0, 0)},
	}
	if opts.RootMode != 0 {
		c.root.mode = unix.S_IFDIR | opts.RootMode&07777
		c.root.uid, c.root.gid = opts.RootUID, opts.RootGID
	}
	c.w = bufio.NewWriterSize(dst, 1<<20)
	c.pos = blkSize // block 0: superblock
	if _, err := c.w.Write(make([]byte, blkSize)); err != nil {
		return 0, err
	}
	n, err := c.readTar(r)
	if err != nil {
		return n, err
	}
	if err := c.finish(); err != nil {
		return n, fmt.Errorf("write erofs image: %w", err)
	}
	return n, nil
}

type converter struct {
	ctx     context.Context
	out     *os.File
	w       *bufio.Writer
	pos     int64 // bytes written
	opts    ConvertOptions
	root    *node
	created map[*node]bool
	inos    uint64
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *converter) pad() error {
	if rem := c.pos % blkSize; rem != 0 {
		n, err := c.w.Write(make([]byte, blkSize-rem))
		c.pos += int64(n)
		return err
	}
	return nil
}

func (c *converter) readTar(r io.Reader) (int64, error) {
	cr := &countReader{r: r}
	tr := tar.NewReader(cr)
	c.created = map[*node]bool{}
	for {
		if err := c.ctx.Err(); err != nil {
			return cr.n, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cr.n, fmt.Errorf("read layer tar: %w", err)
		}
		if err := c.entry(hdr, tr); err != nil {
			return cr.n, err
		}
	}
	// Read to the end: a verifying reader reports a bad digest only there.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return cr.n, fmt.Errorf("read layer tar: %w", err)
	}
	return cr.n, nil
}

// cleanName mirrors layer.Apply's rule: ".." that climbs out is an error,
// a leading "/" is dropped.
func cleanName(entry, name string) (string, error) {
	raw := path.Clean(strings.TrimLeft(name, "/"))
	if raw == ".." || strings.HasPrefix(raw, "../") {
		return "", &layer.UnsafePathError{Entry: entry, Target: name}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), nil
}

// lookupDir returns the directory rel, creating missing ones. A symlink on
// the way is an error: there is no tree to follow it in.
func (c *converter) lookupDir(entry, rel string) (*node, error) {
	d := c.root
	if rel == "" {
		return d, nil
	}
	walked := ""
	for _, part := range strings.Split(rel, "/") {
		walked = path.Join(walked, part)
		ch := d.children[part]
		if ch == nil || (ch.mode&unix.S_IFMT != unix.S_IFDIR && ch.mode&unix.S_IFMT == unix.S_IFCHR && ch.rdev == 0) {
			// missing, or a whiteout this layer made: a new directory
			ch = &node{mode: unix.S_IFDIR | 0o755, children: map[string]*node{}, mtime: time.Unix(0, 0)}
			if c.opts.DirMeta != nil {
				if m, u, g, ok := c.opts.DirMeta(walked); ok {
					ch.mode, ch.uid, ch.gid = unix.S_IFDIR|m&07777, u, g
				}
			}
			d.children[part] = ch
			c.created[ch] = true
		} else if ch.mode&unix.S_IFMT != unix.S_IFDIR {
			return nil, fmt.Errorf("layer entry %q: %q is not a directory in this layer", entry, walked)
		}
		d = ch
	}
	return d, nil
}

func (c *converter) entry(hdr *tar.Header, tr io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	rel, err := cleanName(hdr.Name, hdr.Name)
	if err != nil {
		return err
	}
	dirRel, base := path.Split(rel)
	dirRel = strings.TrimSuffix(dirRel, "/")
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("layer entry %q: the root can only be a directory", hdr.Name)
		}
		return c.setMeta(c.root, hdr, unix.S_IFDIR)
	}
	if len(base) > 255 {
		return fmt.Errorf("layer entry %q: name longer than 255 bytes", hdr.Name)
	}
	if hdr.Typeflag == tar.TypeSymlink && len(hdr.Linkname) >= 4096 {
		return fmt.Errorf("layer entry %q: symlink target longer than 4095 bytes", hdr.Name)
	}
	parent, err := c.lookupDir(hdr.Name, dirRel)
	if err != nil {
		return err
	}
	if strings.HasPrefix(base, layer.WhiteoutPrefix) {
		if base == layer.WhiteoutOpaque {
			if parent.xattrs == nil {
				parent.xattrs = map[string]string{}
			}
			parent.xattrs["trusted.overlay.opaque"] = "y"
			return nil
		}
		name := strings.TrimPrefix(base, layer.WhiteoutPrefix)
		if name == "" || name == "." || name == ".." || strings.HasPrefix(name, layer.WhiteoutPrefix) {
			return fmt.Errorf("layer entry %q: invalid whiteout name", hdr.Name)
		}
		if old := parent.children[name]; old != nil && c.created[old] {
			return nil // whiteouts hide only lower layers
		}
		parent.children[name] = &node{mode: unix.S_IFCHR, uid: uint32(hdr.Uid), gid: uint32(hdr.Gid), mtime: hdr.ModTime, explicit: true}
		return nil
	}
	old := parent.children[base]
	var n *node
	switch hdr.Typeflag {
	case tar.TypeDir:
		if old != nil && old.mode&unix.S_IFMT == unix.S_IFDIR {
			n = old
		} else {
			n = &node{children: map[string]*node{}}
		}
		if err := c.setMeta(n, hdr, unix.S_IFDIR); err != nil {
			return err
		}
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		n = &node{}
		if err := c.setMeta(n, hdr, unix.S_IFREG); err != nil {
			return err
		}
		if hdr.Size > 0 {
			if err := c.pad(); err != nil {
				return err
			}
			n.blkaddr = uint32(c.pos >> blkBits)
			w, err := io.Copy(c.w, tr)
			c.pos += w
			if err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			n.size = uint64(w)
		}
	case tar.TypeSymlink:
		n = &node{link: hdr.Linkname}
		if err := c.setMeta(n, hdr, unix.S_IFLNK); err != nil {
			return err
		}
		n.mode = unix.S_IFLNK | 0o777
		n.size = uint64(len(hdr.Linkname))
	case tar.TypeLink:
		target, err := cleanName(hdr.Name, hdr.Linkname)
		if err != nil {
			return err
		}
		t := c.find(target)
		if t == nil {
			if t, err = c.copyUp(target); err != nil {
				return fmt.Errorf("layer entry %q: hardlink target %q: %w", hdr.Name, hdr.Linkname, err)
			}
		}
		if t.mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("layer entry %q: hardlink to directory %q", hdr.Name, hdr.Linkname)
		}
		parent.children[base] = t
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		ft := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		n = &node{rdev: uint32(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))}
		if err := c.setMeta(n, hdr, ft); err != nil {
			return err
		}
	default:
		return fmt.Errorf("layer entry %q: unsupported tar entry type %q", hdr.Name, hdr.Typeflag)
	}
	n.explicit = true
	parent.children[base] = n
	c.created[n] = true
	return nil
}

// copyUp copies the lower layers' file rel into this layer so that a
// hardlink can point at it.
func (c *converter) copyUp(rel string) (*node, error) {
	if c.opts.LowerFile == nil {
		return nil, ErrNeedsParents
	}
	f, err := c.opts.LowerFile(rel)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNeedsParents, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%w: %q is not a regular file below", ErrNeedsParents, rel)
	}
	dir, base := path.Split(rel)
	parent, err := c.lookupDir(rel, strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	n := &node{mode: st.Mode, uid: st.Uid, gid: st.Gid, mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec), explicit: true}
	if st.Size > 0 {
		if err := c.pad(); err != nil {
			return nil, err
		}
		n.blkaddr = uint32(c.pos >> blkBits)
		w, err := io.Copy(c.w, f)
		c.pos += w
		if err != nil {
			return nil, err
		}
		n.size = uint64(w)
	}
	parent.children[base] = n
	return n, nil
}

func (c *converter) find(rel string) *node {
	d := c.root
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		ch := d.children[p]
		if ch == nil {
			return nil
		}
		if i == len(parts)-1 {
			return ch
		}
		if ch.mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		d = ch
	}
	return nil
}

func (c *converter) setMeta(n *node, hdr *tar.Header, typ uint32) error {
	n.mode = typ | uint32(hdr.Mode)&07777
	n.uid, n.gid = uint32(hdr.Uid), uint32(hdr.Gid)
	n.mtime = hdr.ModTime
	n.explicit = true
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if !xattrSupported(name) {
				return fmt.Errorf("layer entry %q: xattr %q: namespace not supported by EROFS", hdr.Name, name)
			}
			if n.xattrs == nil {
				n.xattrs = map[string]string{}
			}
			n.xattrs[name] = v
		}
	}
	return nil
}

func xattrSupported(name string) bool {
	for _, p := range xattrPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return true
		}
	}
	return false
}

var xattrPrefixes = []struct {
	index  uint8
	prefix string
}{
	{1, "user."}, {2, "system.posix_acl_access"}, {3, "system.posix_acl_default"}, {4, "trusted."}, {6, "security."},
}

// xattrBody encodes n's xattrs as an inline xattr body (header and
// entries) and returns it with i_xattr_icount.
func xattrBody(n *node) ([]byte, uint16, error) {
	if len(n.xattrs) == 0 {
		return nil, 0, nil
	}
	keys := make([]string, 0, len(n.xattrs))
	for k := range n.xattrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	body := make([]byte, 12) // erofs_xattr_ibody_header, no shared xattrs
	for _, k := range keys {
		var idx uint8
		var suffix string
		for _, p := range xattrPrefixes {
			if strings.HasPrefix(k, p.prefix) {
				idx, suffix = p.index, strings.TrimPrefix(k, p.prefix)
				break
			}
		}
		if idx == 0 {
			return nil, 0, fmt.Errorf("xattr %q: namespace not supported by EROFS", k)
		}
		v := n.xattrs[k]
		if len(suffix) > 255 || len(v) > 65535 {
			return nil, 0, fmt.Errorf("xattr %q too large", k)
		}
		e := []byte{uint8(len(suffix)), idx, 0, 0}
		binary.LittleEndian.PutUint16(e[2:], uint16(len(v)))
		e = append(e, suffix...)
		e = append(e, v...)
		for len(e)%4 != 0 {
			e = append(e, 0)
		}
		body = append(body, e...)
	}
	return body, uint16(1 + (len(body)-12)/4), nil
}

type dirent struct {
	name string
	n    *node
}

func fileType(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 1
	case unix.S_IFDIR:
		return 2
	case unix.S_IFCHR:
		return 3
	case unix.S_IFBLK:
		return 4
	case unix.S_IFIFO:
		return 5
	case unix.S_IFSOCK:
		return 6
	case unix.S_IFLNK:
		return 7
	}
	return 0
}

// finish lays out the metadata after the data: nids for every inode, then
// directory and symlink blocks, then the inodes, then the superblock.
func (c *converter) finish() error {
	// 1. Every inode once (hardlinks share), root first, parents before
	// children; nids follow from the inode sizes.
	var order []*node
	seen := map[*node]bool{}
	var visit func(d *node, parent *node) error
	var metaOff uint64
	assign := func(n *node) error {
		xb, _, err := xattrBody(n)
		if err != nil {
			return err
		}
		n.isize = inodeSize + len(xb)
		// keep an inode and its xattrs inside one block
		if rem := blkSize - metaOff%blkSize; uint64(n.isize) > rem {
			metaOff += rem
		}
		n.nid = metaOff / slotSize
		metaOff += (uint64(n.isize) + slotSize - 1) / slotSize * slotSize
		order = append(order, n)
		return nil
	}
	visit = func(d *node, parent *node) error {
		names := make([]string, 0, len(d.children))
		for name := range d.children {
			names = append(names, name)
		}
		sort.Strings(names)
		var subdirs []*node
		for _, name := range names {
			ch := d.children[name]
			ch.nlink++
			if seen[ch] {
				continue
			}
			seen[ch] = true
			if err := assign(ch); err != nil {
				return err
			}
			if ch.mode&unix.S_IFMT == unix.S_IFDIR {
				subdirs = append(subdirs, ch)
			}
		}
		d.nlink += uint32(len(subdirs)) + 1 // "." and each child's ".."
		for _, s := range subdirs {
			if err := visit(s, d); err != nil {
				return err
			}
		}
		return nil
	}
	seen[c.root] = true
	c.root.nlink = 1 // its ".."
	if err := assign(c.root); err != nil {
		return err
	}
	if err := visit(c.root, c.root); err != nil {
		return err
	}
	if c.root.nid > 0xffff {
		return fmt.Errorf("root nid %d does not fit the superblock", c.root.nid)
	}

	// 2. Directory and symlink data blocks.
	var walkDirs func(d, parent *node) error
	walkDirs = func(d, parent *node) error {
		ents := []dirent{{".", d}, {"..", parent}}
		for name, ch := range d.children {
			ents = append(ents, dirent{name, ch})
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
		data, err := dirBlocks(ents)
		if err != nil {
			return err
		}
		if err := c.pad(); err != nil {
			return err
		}
		d.blkaddr, d.size = uint32(c.pos>>blkBits), uint64(len(data))
		n, err := c.w.Write(data)
		c.pos += int64(n)
		if err != nil {
			return err
		}
		for _, e := range ents[2:] {
			if e.n.mode&unix.S_IFMT == unix.S_IFDIR && e.n != d {
				if err := walkDirs(e.n, d); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walkDirs(c.root, c.root); err != nil {
		return err
	}
	for _, n := range order {
		if n.mode&unix.S_IFMT == unix.S_IFLNK && n.size > 0 {
			if err := c.pad(); err != nil {
				return err
			}
			n.blkaddr = uint32(c.pos >> blkBits)
			w, err := c.w.Write([]byte(n.link))
			c.pos += int64(w)
			if err != nil {
				return err
			}
		}
	}

	// 3. Inodes.
	if err := c.pad(); err != nil {
		return err
	}
	metaBlk := uint64(c.pos >> blkBits)
	meta := make([]byte, (metaOff+blkSize-1)/blkSize*blkSize)
	for _, n := range order {
		xb, icount, _ := xattrBody(n)
		b := meta[n.nid*slotSize:]
		binary.LittleEndian.PutUint16(b[0:], 1) // extended inode, FLAT_PLAIN
		binary.LittleEndian.PutUint16(b[2:], icount)
		binary.LittleEndian.PutUint16(b[4:], uint16(n.mode))
		binary.LittleEndian.PutUint64(b[8:], n.size)
		switch n.mode & unix.S_IFMT {
		case unix.S_IFCHR, unix.S_IFBLK:
			binary.LittleEndian.PutUint32(b[16:], newEncodeDev(n.rdev))
		case unix.S_IFIFO, unix.S_IFSOCK:
		default:
			binary.LittleEndian.PutUint32(b[16:], n.blkaddr)
		}
		c.inos++
		binary.LittleEndian.PutUint32(b[20:], uint32(c.inos))
		binary.LittleEndian.PutUint32(b[24:], n.uid)
		binary.LittleEndian.PutUint32(b[28:], n.gid)
		binary.LittleEndian.PutUint64(b[32:], uint64(n.mtime.Unix()))
		binary.LittleEndian.PutUint32(b[40:], uint32(n.mtime.Nanosecond()))
		binary.LittleEndian.PutUint32(b[44:], n.nlink)
		copy(b[inodeSize:], xb)
	}
	n, err := c.w.Write(meta)
	c.pos += int64(n)
	if err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return err
	}

	// 4. Superblock.
	sb := make([]byte, 128)
	binary.LittleEndian.PutUint32(sb[0:], erofsMagicV1)
	sb[12] = blkBits
	binary.LittleEndian.PutUint16(sb[14:], uint16(c.root.nid))
	binary.LittleEndian.PutUint64(sb[16:], c.inos)
	binary.LittleEndian.PutUint64(sb[24:], uint64(time.Now().Unix()))
	binary.LittleEndian.PutUint32(sb[36:], uint32(c.pos>>blkBits))
	binary.LittleEndian.PutUint32(sb[40:], uint32(metaBlk))
	if _, err := c.out.WriteAt(sb, sbOffset); err != nil {
		return err
	}
	return nil
}

// newEncodeDev is the kernel's new_encode_dev.
func newEncodeDev(dev uint32) uint32 {
	major, minor := unix.Major(uint64(dev)), unix.Minor(uint64(dev))
	return (minor & 0xff) | (major << 8) | ((minor &^ 0xff) << 12)
}

// dirBlocks packs sorted dirents into directory blocks: in each block the
// dirents, then their names; a block's last name runs to the end of the
// data (or of the block) and is NUL-padded.
func dirBlocks(ents []dirent) ([]byte, error) {
	var out []byte
	for i := 0; i < len(ents); {
		j, used := i, 0
		for j < len(ents) && used+direntSize+len(ents[j].name) <= blkSize {
			used += direntSize + len(ents[j].name)
			j++
		}
		if j == i {
			return nil, fmt.Errorf("name %q too long", ents[i].name)
		}
		blk := make([]byte, blkSize)
		nameOff := (j - i) * direntSize
		for k := i; k < j; k++ {
			d := blk[(k-i)*direntSize:]
			binary.LittleEndian.PutUint64(d[0:], ents[k].n.nid)
			binary.LittleEndian.PutUint16(d[8:], uint16(nameOff))
			d[10] = fileType(ents[k].n.mode)
			copy(blk[nameOff:], ents[k].name)
			nameOff += len(ents[k].name)
		}
		if j < len(ents) {
			out = append(out, blk...)
		} else {
			out = append(out, blk[:nameOff]...)
		}
		i = j
	}
	return out, nil
}

// ConvertDir writes an EROFS image of the directory tree src (an overlay
// upper: whiteout devices are kept, and of overlayfs's own xattrs only
// trusted.overlay.opaque) to the new, empty file dst.
func ConvertDir(ctx context.Context, src string, dst *os.File) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	c := &converter{ctx: ctx, out: dst, created: map[*node]bool{}}
	c.root = c.statNode(&st)
	c.root.children = map[string]*node{}
	xs, err := fsutil.Xattrs(src)
	if err != nil {
		return err
	}
	c.root.xattrs = keepXattrs(xs)
	c.w = bufio.NewWriterSize(dst, 1<<20)
	c.pos = blkSize
	if _, err := c.w.Write(make([]byte, blkSize)); err != nil {
		return err
	}
	links := map[[2]uint64]*node{}
	if err := c.readDir(src, c.root, links); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return fmt.Errorf("write erofs image of %s: %w", src, err)
	}
	return nil
}

func (c *converter) statNode(st *unix.Stat_t) *node {
	return &node{
		mode: st.Mode, uid: st.Uid, gid: st.Gid, rdev: uint32(st.Rdev),
		mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec), explicit: true,
	}
}

func keepXattrs(xs map[string][]byte) map[string]string {
	var out map[string]string
	for k, v := range xs {
		if strings.HasPrefix(k, "trusted.overlay.") && k != "trusted.overlay.opaque" {
			continue // origin, impure...: about this overlay's lowers only
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = string(v)
	}
	return out
}

func (c *converter) readDir(dir string, d *node, links map[[2]uint64]*node) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		key := [2]uint64{st.Dev, st.Ino}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
			if n, ok := links[key]; ok {
				d.children[name] = n
				continue
			}
		}
		n := c.statNode(&st)
		xs, err := fsutil.Xattrs(p)
		if err != nil {
			return err
		}
		n.xattrs = keepXattrs(xs)
		for k := range n.xattrs {
			if !xattrSupported(k) {
				return fmt.Errorf("%s: xattr %q: namespace not supported by EROFS", p, k)
			}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			n.children = map[string]*node{}
			if err := c.readDir(p, n, links); err != nil {
				return err
			}
		case unix.S_IFREG:
			if st.Size > 0 {
				src, err := os.Open(p)
				if err != nil {
					return err
				}
				if err := c.pad(); err != nil {
					src.Close()
					return err
				}
				n.blkaddr = uint32(c.pos >> blkBits)
				w, err := io.Copy(c.w, src)
				src.Close()
				c.pos += w
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				n.size = uint64(w)
			}
		case unix.S_IFLNK:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			n.link, n.size = l, uint64(len(l))
		case unix.S_IFSOCK:
			continue
		}
		if st.Nlink > 1 && n.children == nil {
			links[key] = n
		}
		d.children[name] = n
	}
	return nil
}
