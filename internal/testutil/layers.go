package testutil

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TarEntry is one entry of a test layer built by Tar.
type TarEntry struct {
	Name     string
	Type     byte // tar.TypeReg when 0
	Mode     int64
	Body     string
	Link     string // symlink or hardlink target
	UID, GID int
	Xattrs   map[string]string
	ModTime  time.Time
	Major    int64
	Minor    int64
}

// TestTime is the mtime Tar gives entries that set none.
var TestTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// File, Dir, Symlink, Hardlink, Whiteout and Opaque build common entries.
func File(name, body string, mode int64) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeReg, Body: body, Mode: mode}
}
func Dir(name string, mode int64) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeDir, Mode: mode}
}
func Symlink(name, target string) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeSymlink, Link: target, Mode: 0o777}
}
func Hardlink(name, target string) TarEntry {
	return TarEntry{Name: name, Type: tar.TypeLink, Link: target}
}

// Whiteout deletes path in the layers below.
func Whiteout(path string) TarEntry {
	dir, base := filepath.Split(path)
	return TarEntry{Name: dir + ".wh." + base, Mode: 0o644}
}

// Opaque hides everything the layers below have in dir.
func Opaque(dir string) TarEntry {
	return TarEntry{Name: strings.TrimSuffix(dir, "/") + "/.wh..wh..opq", Mode: 0o644}
}

// Tar builds an uncompressed layer tar of entries, in the given order.
func Tar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		mt := e.ModTime
		if mt.IsZero() {
			mt = TestTime
		}
		hdr := &tar.Header{
			Name: e.Name, Typeflag: typ, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			Linkname: e.Link, ModTime: mt, Devmajor: e.Major, Devminor: e.Minor,
		}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if len(e.Xattrs) > 0 {
			hdr.Format = tar.FormatPAX
			hdr.PAXRecords = map[string]string{}
			for k, v := range e.Xattrs {
				hdr.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.Name, err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Tree describes every entry under dir as "type mode uid:gid detail", keyed
// by relative path: regular files carry a content hash and mtime (seconds),
// symlinks their target, devices their numbers, and all their xattrs
// (overlayfs's own trusted.overlay.* excepted). Hardlinked files are listed
// with the same inode tag "link#N" (numbered in walk order). Compare two
// trees with reflect.DeepEqual or DiffTrees.
func Tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	inodes := map[uint64]int{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		var detail string
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			detail = fmt.Sprintf("reg %x mtime=%d", sha256.Sum256(b), st.Mtim.Sec)
			if st.Nlink > 1 {
				n, ok := inodes[st.Ino]
				if !ok {
					n = len(inodes) + 1
					inodes[st.Ino] = n
				}
				detail += fmt.Sprintf(" link#%d", n)
			}
		case unix.S_IFDIR:
			detail = "dir"
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			detail = "symlink " + l
		case unix.S_IFCHR, unix.S_IFBLK:
			detail = fmt.Sprintf("dev %d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			detail = "fifo"
		}
		var xs []string
		sz, _ := unix.Llistxattr(p, nil)
		if sz > 0 {
			buf := make([]byte, sz)
			sz, _ = unix.Llistxattr(p, buf)
			for _, k := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
				if k == "" || strings.HasPrefix(k, "trusted.overlay.") {
					continue
				}
				v := make([]byte, 4096)
				n, _ := unix.Lgetxattr(p, k, v)
				if n < 0 {
					n = 0
				}
				xs = append(xs, fmt.Sprintf("%s=%q", k, v[:n]))
			}
		}
		sort.Strings(xs)
		mode := st.Mode & 07777
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			mode = 0 // symlink modes mean nothing
		}
		out[rel] = fmt.Sprintf("%s %04o %d:%d %s", detail, mode, st.Uid, st.Gid, strings.Join(xs, " "))
		return nil
	})
	if err != nil {
		t.Fatalf("read tree %s: %v", dir, err)
	}
	return out
}

// DiffTrees returns a readable list of the differences between two Trees.
func DiffTrees(a, b map[string]string) string {
	var lines []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			lines = append(lines, fmt.Sprintf("- %s: %s", k, v))
		} else if w != v {
			lines = append(lines, fmt.Sprintf("~ %s: %s => %s", k, v, w))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			lines = append(lines, fmt.Sprintf("+ %s: %s", k, v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// MountsUnder lists the mount points at or below dir in
// /proc/self/mountinfo. Tests check it is empty when they are done: a count
// of all mounts would also see other test binaries running in parallel.
func MountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := strings.ReplaceAll(f[4], "\\040", " ")
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// GenLayer writes a benchmark layer tar to path: small files of 1-4 KiB
// spread over directories of 100, plus big files of random bytes. The
// content is the same for the same arguments.
func GenLayer(t testing.TB, path string, small, big int, bigSize int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	rnd := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 { rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17; return rnd }
	fill := func(b []byte) {
		for i := 0; i+8 <= len(b); i += 8 {
			v := next()
			for j := 0; j < 8; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
	}
	hdr := func(h *tar.Header) {
		h.ModTime = TestTime
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4096)
	for i := 0; i < small; i++ {
		if i%100 == 0 {
			hdr(&tar.Header{Name: fmt.Sprintf("usr/share/d%04d/", i/100), Typeflag: tar.TypeDir, Mode: 0o755})
		}
		n := 1024 + int(next()%3072)
		fill(buf[:n])
		hdr(&tar.Header{Name: fmt.Sprintf("usr/share/d%04d/file-%05d.txt", i/100, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(n)})
		tw.Write(buf[:n])
	}
	chunk := make([]byte, 1<<20)
	for i := 0; i < big; i++ {
		hdr(&tar.Header{Name: fmt.Sprintf("opt/big-%d.bin", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: bigSize})
		for left := bigSize; left > 0; {
			n := min(left, int64(len(chunk)))
			fill(chunk[:n])
			tw.Write(chunk[:n])
			left -= n
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TarTree writes a layer tar of the trees dir/name for each name in names
// to w (entry names relative to "/", as in an image of that machine's
// files). Sockets and unreadable files are left out.
func TarTree(t testing.TB, w io.Writer, dir string, names []string) {
	t.Helper()
	tw := tar.NewWriter(w)
	for _, name := range names {
		err := filepath.WalkDir(filepath.Join(dir, name), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			link := ""
			if info.Mode()&fs.ModeSymlink != 0 {
				link, _ = os.Readlink(p)
			}
			hdr, err := tar.FileInfoHeader(info, link)
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel("/", p)
			hdr.Name = rel
			if d.IsDir() {
				hdr.Name += "/"
			}
			var src *os.File
			if hdr.Typeflag == tar.TypeReg {
				if src, err = os.Open(p); err != nil {
					return nil
				}
				defer src.Close()
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if src != nil {
				if _, err := io.CopyN(tw, src, hdr.Size); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("tar %s: %v", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
