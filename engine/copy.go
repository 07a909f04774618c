package engine

// cp and export: reading and writing a container's filesystem from the
// host, Docker's archive API (HEAD/GET/PUT /containers/{id}/archive and
// GET /containers/{id}/export) in engine form.
//
// Every container path is resolved with openat2(RESOLVE_IN_ROOT) against a
// directory fd of the container's root, and trees are walked fd by fd with
// O_NOFOLLOW, so a symlink in the container (even one swapped in while cp
// runs) is followed as if the root were "/" and never reaches a host file.
//
// The root is what the container's processes see: for a running container
// /proc/<pid>/root, which shows its volumes and binds; for a stopped one the
// snapshot mounted, with the volumes bound on their destinations, in a mount
// namespace of one locked thread, so nothing is mounted on the host and a
// killed command leaves no mount behind.

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/berth-dev/berth/snapshot/mount"
)

// PathStat is Docker's ContainerPathStat: what `cp` learns of a path
// before it copies.
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       os.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"` // symlinks: the target, resolved in the container
}

// ErrPathNotFound is wrapped when a container path does not exist.
var ErrPathNotFound = errors.New("Could not find the file") //nolint:staticcheck // Docker's wording

// Errors of the copy rules (Docker's words).
var (
	ErrCannotCopyDir = errors.New("cannot copy a directory to an existing file location")
	ErrDirNotExists  = errors.New("the destination directory must exist")
	ErrNotDirectory  = errors.New("not a directory")
)

// ExtractOptions tune ExtractToDir.
type ExtractOptions struct {
	// CopyUIDGID keeps the owners of the archive's entries (cp -a);
	// otherwise entries belong to root.
	CopyUIDGID bool
	// AllowOverwriteDirWithFile lets a file replace a directory and the
	// other way round (Docker's API flag; cp leaves it off).
	AllowOverwriteDirWithFile bool
}

// fsView is an open view of a container's filesystem.
type fsView struct {
	c       *Container
	fd      int // O_PATH directory fd of the root
	release func()
}

// root is a path naming the view's root from any thread of this process.
func (v *fsView) root() string { return procFd(v.fd) }

func (v *fsView) close() {
	if v.release != nil {
		v.release()
		v.release = nil
	}
}

func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openView opens ref's filesystem with its volumes. A stopped container
// stays locked until close, so that no start mounts its snapshot meanwhile.
func (e *Engine) openView(ctx context.Context, ref string) (*fsView, error) {
	id, err := e.Resolve(ref)
	if err != nil {
		return nil, err
	}
	unlock, err := e.lock(id)
	if err != nil {
		return nil, err
	}
	c, err := e.load(ctx, id, true)
	if err != nil {
		unlock()
		return nil, err
	}
	if c.State.Running() && c.State.Pid > 0 {
		unlock()
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/root", c.State.Pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open the root of container %s: %w", c.ID, err)
		}
		// The pid is only the container's while it runs: look again now
		// that the root is held.
		if again, err := e.Get(ctx, id); err != nil || !again.State.Running() || again.State.Pid != c.State.Pid {
			unix.Close(fd)
			return nil, fmt.Errorf("%w: container %s stopped while its filesystem was opened", ErrState, c.ID)
		}
		return &fsView{c: c, fd: fd, release: func() { unix.Close(fd) }}, nil
	}
	fd, release, err := e.mountView(ctx, c)
	if err != nil {
		unlock()
		return nil, err
	}
	return &fsView{c: c, fd: fd, release: func() { release(); unlock() }}, nil
}

// mountView mounts c's snapshot and volumes in a private mount namespace
// held by one locked thread, and returns an fd of the root.
func (e *Engine) mountView(ctx context.Context, c *Container) (int, func(), error) {
	sn, err := e.OpenSnapshotter(c.Snapshotter)
	if err != nil {
		return -1, nil, err
	}
	ms, err := sn.Mounts(ctx, c.SnapshotKey)
	sn.Close()
	if err != nil {
		return -1, nil, fmt.Errorf("mounts of container %s: %w", c.ID, err)
	}
	dir, err := os.MkdirTemp(e.runroot, "mnt-")
	if err != nil {
		return -1, nil, err
	}
	type result struct {
		fd  int
		err error
	}
	ready := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		// Never unlocked: the thread, and the namespace with every mount
		// made here, end with this goroutine.
		runtime.LockOSThread()
		fd, err := setupView(dir, ms, c.Mounts)
		ready <- result{fd, err}
		if err == nil {
			<-done
		}
	}()
	r := <-ready
	if r.err != nil {
		os.Remove(dir)
		return -1, nil, fmt.Errorf("mount the filesystem of container %s: %w", c.ID, r.err)
	}
	return r.fd, func() {
		unix.Close(r.fd)
		close(done)
		os.Remove(dir)
	}, nil
}

// setupView runs on a locked thread: new mount namespace, rootfs on dir,
// volumes on their destinations (resolved inside the root).
func setupView(dir string, ms []mount.Mount, mps []MountPoint) (int, error) {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return -1, fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return -1, fmt.Errorf("make mounts slave: %w", err)
	}
	if err := mount.All(ms, dir); err != nil {
		return -1, err
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	sorted := append([]MountPoint(nil), mps...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return strings.Count(path.Clean(sorted[i].Destination), "/") < strings.Count(path.Clean(sorted[j].Destination), "/")
	})
	for _, m := range sorted {
		if m.Source == "" || (m.Type != "volume" && m.Type != "bind") {
			continue
		}
		if err := bindInto(root, m); err != nil {
			unix.Close(root)
			return -1, err
		}
	}
	return root, nil
}

// bindInto binds a volume's source on its destination in the root.
func bindInto(root int, m MountPoint) error {
	st, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("volume source for %s: %w", m.Destination, err)
	}
	fd, err := ensureIn(root, m.Destination, st.IsDir())
	if err != nil {
		return fmt.Errorf("mount point %s: %w", m.Destination, err)
	}
	err = unix.Mount(m.Source, procFd(fd), "", unix.MS_BIND|unix.MS_REC, "")
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("bind %s on %s: %w", m.Source, m.Destination, err)
	}
	if m.RW {
		return nil
	}
	// A bind takes "ro" only by a remount of the new mount itself.
	fd, err = openIn(root, m.Destination, unix.O_PATH, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount("", procFd(fd), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", m.Destination, err)
	}
	return nil
}

// openIn opens p inside root (RESOLVE_IN_ROOT), following a final
// symlink only if follow.
func openIn(root int, p string, flags int, follow bool) (int, error) {
	rel := strings.TrimLeft(p, "/")
	if rel == "" {
		rel = "."
	}
	flags |= unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	how := &unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(root, rel, how)
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < 16 {
			continue
		}
		return fd, err
	}
}

// ensureIn opens p inside root, creating it (a directory, or an empty
// file) and its missing parents as directories.
func ensureIn(root int, p string, dir bool) (int, error) {
	if fd, err := openIn(root, p, unix.O_PATH, true); err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := openIn(root, prefix, unix.O_PATH, true)
		if err == nil {
			if i == len(parts)-1 {
				return fd, nil
			}
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return -1, err
		}
		pfd, err := openIn(root, strings.Join(parts[:i], "/"), unix.O_RDONLY|unix.O_DIRECTORY, true)
		if err != nil {
			return -1, err
		}
		if i == len(parts)-1 && !dir {
			var nfd int
			nfd, err = unix.Openat(pfd, parts[i], unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(nfd)
			}
		} else {
			err = unix.Mkdirat(pfd, parts[i], 0o755)
		}
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
	}
	return openIn(root, p, unix.O_PATH, true)
}

// resolveIn evaluates every symlink of p inside root, as Docker's
// FollowSymlinkInScope: the result is an absolute container path; a
// missing part is kept as written.
func resolveIn(root int, p string) (string, error) {
	resolved := "/"
	rest := splitPath(p)
	links := 0
	for len(rest) > 0 {
		comp := rest[0]
		rest = rest[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, comp)
		fd, err := openIn(root, next, unix.O_PATH, false)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return path.Join(append([]string{next}, rest...)...), nil
		}
		if err != nil {
			return "", err
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			var target string
			target, err = readlinkFd(fd)
			if err == nil {
				if links++; links > 255 {
					err = unix.ELOOP
				} else {
					if strings.HasPrefix(target, "/") {
						resolved = "/"
					}
					rest = append(splitPath(target), rest...)
				}
			}
		} else if err == nil {
			resolved = next
		}
		unix.Close(fd)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
	}
	return resolved, nil
}

func splitPath(p string) []string { return strings.Split(p, "/") }

func readlinkFd(fd int) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// statIn is lstat(2) of p in root, as Docker runs it in the container's
// chroot: a trailing "/" or "/." follows a final symlink.
func statIn(root int, p string) (*PathStat, int, error) {
	abs := PreserveTrailingDotOrSeparator(path.Join("/", p), p)
	fd, err := openIn(root, abs, unix.O_PATH, AssertsDirectory(abs))
	if err != nil {
		return nil, -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	ps := &PathStat{Name: path.Base(abs), Size: st.Size, Mode: fileMode(st.Mode), Mtime: time.Unix(st.Mtim.Unix())}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		if ps.LinkTarget, err = resolveIn(root, abs); err != nil {
			unix.Close(fd)
			return nil, -1, err
		}
	}
	return ps, fd, nil
}

// fileMode converts st_mode to Go's FileMode, as os.Lstat does.
func fileMode(m uint32) os.FileMode {
	fm := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		fm |= os.ModeDevice
	case unix.S_IFCHR:
		fm |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFDIR:
		fm |= os.ModeDir
	case unix.S_IFIFO:
		fm |= os.ModeNamedPipe
	case unix.S_IFLNK:
		fm |= os.ModeSymlink
	case unix.S_IFSOCK:
		fm |= os.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		fm |= os.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		fm |= os.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

func (e *Engine) pathErr(c *Container, p string, err error) error {
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%w %s in container %s", ErrPathNotFound, p, c.Name)
	}
	if errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("container %s: %s: %w", c.Name, p, ErrNotDirectory)
	}
	return fmt.Errorf("container %s: %s: %w", c.Name, p, err)
}

// StatPath is lstat of path in the container (HEAD /containers/{id}/archive).
func (e *Engine) StatPath(ctx context.Context, ref, p string) (*PathStat, error) {
	v, err := e.openView(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer v.close()
	ps, fd, err := statIn(v.fd, p)
	if err != nil {
		return nil, e.pathErr(v.c, p, err)
	}
	unix.Close(fd)
	return ps, nil
}

// ArchivePath streams path as a tar (GET /containers/{id}/archive). name,
// if set, is called first with the path's stat and names the top entry of
// the tar ("" for Docker's choice: the last element of path, "." for a
// path ending in "/." or for "/"); an error from it stops the copy. fn
// then reads the tar.
func (e *Engine) ArchivePath(ctx context.Context, ref, p string, name func(*PathStat) (string, error), fn func(*PathStat, io.Reader) error) error {
	v, err := e.openView(ctx, ref)
	if err != nil {
		return err
	}
	defer v.close()
	ps, fd, err := statIn(v.fd, p)
	if err != nil {
		return e.pathErr(v.c, p, err)
	}
	defer unix.Close(fd)
	top := ps.Name
	if name != nil {
		n, err := name(ps)
		if err != nil {
			return err
		}
		if n != "" {
			top = n
		}
	}
	if top == "/" {
		top = "."
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(WriteTar(pw, fd, top))
	}()
	err = fn(ps, pr)
	pr.CloseWithError(errors.New("archive reader closed"))
	<-done
	if err == nil {
		e.emit("container", "archive-path", v.c, nil)
	}
	return err
}

// ExtractToDir extracts the tar r (plain, gzip or zstd) into the directory
// dir of the container (PUT /containers/{id}/archive). dir is resolved
// with every symlink followed inside the container and must be a
// directory; a read-only rootfs or volume under it refuses the copy.
func (e *Engine) ExtractToDir(ctx context.Context, ref, dir string, r io.Reader, o ExtractOptions) error {
	v, err := e.openView(ctx, ref)
	if err != nil {
		return err
	}
	defer v.close()
	abs, err := resolveIn(v.fd, path.Join("/", dir))
	if err != nil {
		return e.pathErr(v.c, dir, err)
	}
	fd, err := openIn(v.fd, abs, unix.O_PATH, true)
	if err != nil {
		return e.pathErr(v.c, dir, err)
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return e.pathErr(v.c, dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("container %s: %s: extraction point is not a directory", v.c.Name, dir)
	}
	if err := checkWritable(v.c, abs); err != nil {
		return err
	}
	if err := Untar(ctx, v.root(), abs, r, o); err != nil {
		return fmt.Errorf("copy into %s:%s: %w", v.c.Name, dir, err)
	}
	e.emit("container", "extract-to-dir", v.c, nil)
	return nil
}

// checkWritable refuses a copy into a read-only volume, or outside any
// volume into a read-only rootfs.
func checkWritable(c *Container, abs string) error {
	best := -1
	var hit *MountPoint
	for i := range c.Mounts {
		m := &c.Mounts[i]
		d := path.Clean(m.Destination)
		if (abs == d || strings.HasPrefix(abs, strings.TrimSuffix(d, "/")+"/")) && len(d) > best {
			best, hit = len(d), m
		}
	}
	if hit != nil {
		if !hit.RW {
			return fmt.Errorf("copy into %s: mounted volume is marked read-only", abs)
		}
		return nil
	}
	if c.HostConfig.ReadonlyRootfs {
		return fmt.Errorf("copy into %s: container rootfs is marked read-only", abs)
	}
	return nil
}

// Export writes the container's filesystem, flattened, as a tar (no
// volumes, as Docker's export).
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	c, err := e.Get(ctx, id)
	if err != nil {
		return err
	}
	err = e.withSnapshotRoot(ctx, c, func(root int) error { return WriteTar(w, root, "") })
	if err != nil {
		return fmt.Errorf("export %s: %w", c.Name, err)
	}
	e.emit("container", "export", c, nil)
	return nil
}

// withSnapshotRoot gives fn an fd of the container's root filesystem
// without its volumes: the running container's rootfs mount, or the
// snapshot mounted in a private namespace.
func (e *Engine) withSnapshotRoot(ctx context.Context, c *Container, fn func(root int) error) error {
	if c.State.Running() {
		fd, err := unix.Open(e.rootfs(c.ID), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return fn(fd)
	}
	unlock, err := e.lock(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	bare := *c
	bare.Mounts = nil
	fd, release, err := e.mountView(ctx, &bare)
	if err != nil {
		return err
	}
	defer release()
	return fn(fd)
}

// ---- tar writing ----

// WriteTar writes the tree at the O_PATH fd as a tar to w, the entry itself
// named name and its children name/child; with name "" the entry itself is
// left out and children are named child (export). Trees are walked fd by
// fd without following symlinks; hardlinks within the tree stay links.
func WriteTar(w io.Writer, fd int, name string) error {
	t := &tarWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}, buf: make([]byte, 256<<10)}
	if err := t.add(fd, name); err != nil {
		return err
	}
	return t.tw.Close()
}

type tarWriter struct {
	tw    *tar.Writer
	links map[[2]uint64]string
	buf   []byte
}

func (t *tarWriter) add(fd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFSOCK {
		return nil // as Docker: sockets are not archived
	}
	if name == "" {
		if typ != unix.S_IFDIR {
			return errors.New("export root is not a directory")
		}
		return t.children(fd, "")
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()),
		Format:  tar.FormatPAX,
	}
	switch typ {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		if !strings.HasSuffix(hdr.Name, "/") {
			hdr.Name += "/"
		}
	case unix.S_IFREG:
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := t.links[key]; ok && st.Nlink > 1 {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return t.writeHeader(hdr)
		}
		if st.Nlink > 1 {
			t.links[key] = name
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		target, err := readlinkFd(fd)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if typ == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	}
	if typ == unix.S_IFREG || typ == unix.S_IFDIR {
		// The one xattr Docker archives: file capabilities.
		buf := make([]byte, 256)
		if n, err := unix.Getxattr(procFd(fd), "security.capability", buf); err == nil && n > 0 {
			hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(buf[:n])}
		}
	}
	if err := t.writeHeader(hdr); err != nil {
		return err
	}
	switch typ {
	case unix.S_IFREG:
		return t.content(fd, hdr)
	case unix.S_IFDIR:
		return t.children(fd, name)
	}
	return nil
}

func (t *tarWriter) writeHeader(hdr *tar.Header) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write tar entry %s: %w", hdr.Name, err)
	}
	return nil
}

// content copies a regular file: exactly the size in the header, padded
// or cut if the file changed meanwhile (a running container's may).
func (t *tarWriter) content(fd int, hdr *tar.Header) error {
	f, err := os.OpenFile(procFd(fd), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", hdr.Name, err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(t.tw, io.LimitReader(struct{ io.Reader }{f}, hdr.Size), t.buf)
	if err != nil {
		return fmt.Errorf("read %s: %w", hdr.Name, err)
	}
	for n < hdr.Size {
		k := min(int64(len(t.buf)), hdr.Size-n)
		clear(t.buf[:k])
		if _, err := t.tw.Write(t.buf[:k]); err != nil {
			return err
		}
		n += k
	}
	return nil
}

func (t *tarWriter) children(fd int, name string) error {
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", name, err)
	}
	d := os.NewFile(uintptr(dfd), name)
	defer d.Close()
	if pseudoFS(dfd) {
		// A running container's /proc, /sys, /dev/pts...: the mount point
		// is archived, not the kernel's files behind it.
		return nil
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", name, err)
	}
	sort.Strings(names)
	prefix := strings.TrimSuffix(name, "/") + "/"
	if name == "" {
		prefix = ""
	}
	for _, n := range names {
		cfd, err := unix.Openat(dfd, n, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("open %s%s: %w", prefix, n, err)
		}
		err = t.add(cfd, prefix+n)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// pseudoFS says whether the directory fd is on a kernel pseudo
// filesystem (seen through a running container's /proc/<pid>/root).
func pseudoFS(fd int) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil {
		return false
	}
	switch st.Type {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC,
		unix.DEVPTS_SUPER_MAGIC, 0x19800202 /* mqueue */, unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC,
		unix.SECURITYFS_MAGIC, unix.BPF_FS_MAGIC, unix.PSTOREFS_MAGIC, unix.BINFMTFS_MAGIC,
		unix.SELINUX_MAGIC, unix.NSFS_MAGIC:
		return true
	}
	return false
}

// ---- tar extraction ----

// Untar extracts the tar r (plain, gzip or zstd) into dir, a path inside
// the directory root (both already checked to be directories). Every
// entry is resolved inside root, so neither a ".." in the archive nor a
// symlink in the tree (an old one or one the archive made) can lead
// outside it. Entries keep their owners only with o.CopyUIDGID; a file
// never replaces a directory nor the other way round unless
// o.AllowOverwriteDirWithFile.
func Untar(ctx context.Context, root, dir string, r io.Reader, o ExtractOptions) error {
	dr, _, err := layer.Decompress(r)
	if err != nil {
		return fmt.Errorf("read archive: %w", err)
	}
	defer dr.Close()
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(rootfd)
	prefix := strings.Trim(path.Clean("/"+dir), "/")
	// The rewriter may sit in a read of r (stdin) after a failed apply:
	// it keeps a root fd of its own and is not waited for.
	checkfd, err := unix.FcntlInt(uintptr(rootfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		defer unix.Close(checkfd)
		pw.CloseWithError(rewriteTar(pw, dr, checkfd, prefix, o))
	}()
	_, err = layer.Apply(ctx, root, pr, layer.Options{
		Whiteouts: layer.WhiteoutNative,
		Devices:   layer.DevicesCreate,
		NoChown:   !o.CopyUIDGID,
	})
	pr.CloseWithError(errors.New("extraction stopped"))
	var ue *layer.UnsafePathError
	if errors.As(err, &ue) {
		return fmt.Errorf("archive entry %q leaves the destination", ue.Target)
	}
	return err
}

// rewriteTar moves every entry of r under prefix, drops the entry of the
// extraction directory itself, and checks dir/non-dir replacements.
func rewriteTar(w io.Writer, r io.Reader, rootfd int, prefix string, o ExtractOptions) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		rel := path.Clean(strings.TrimLeft(hdr.Name, "/"))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("archive entry %q leaves the destination", hdr.Name)
		}
		if rel == "." {
			continue // the destination directory itself: it exists
		}
		full := path.Join(prefix, rel)
		if !o.AllowOverwriteDirWithFile {
			if err := checkReplace(rootfd, full, hdr); err != nil {
				return err
			}
		}
		hdr.Name = full
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			lt := path.Clean(strings.TrimLeft(hdr.Linkname, "/"))
			if lt == ".." || strings.HasPrefix(lt, "../") {
				return fmt.Errorf("archive entry %q links outside the destination", hdr.Name)
			}
			hdr.Linkname = path.Join(prefix, lt)
		}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive entry %s: %w", hdr.Name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("archive entry %s: %w", hdr.Name, err)
		}
	}
}

func checkReplace(rootfd int, full string, hdr *tar.Header) error {
	fd, err := openIn(rootfd, full, unix.O_PATH, false)
	if err != nil {
		return nil // nothing there (or nothing we may look at): nothing replaced
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return nil
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case isDir && hdr.Typeflag != tar.TypeDir:
		return fmt.Errorf("cannot overwrite directory %q with non-directory %q", "/"+full, hdr.Name)
	case !isDir && hdr.Typeflag == tar.TypeDir:
		return fmt.Errorf("cannot overwrite non-directory %q with directory %q", "/"+full, hdr.Name)
	}
	return nil
}

// ---- Docker's path rules (moby/go-archive copy.go) ----

// AssertsDirectory says whether p ends in "/" or "/.".
func AssertsDirectory(p string) bool {
	return strings.HasSuffix(p, "/") || path.Base(p) == "." && p != ""
}

// PreserveTrailingDotOrSeparator puts back on cleaned the trailing "/." or
// "/" that original had.
func PreserveTrailingDotOrSeparator(cleaned, original string) string {
	if path.Base(original) == "." && original != "" && path.Base(cleaned) != "." {
		cleaned = strings.TrimSuffix(cleaned, "/") + "/."
	}
	if strings.HasSuffix(original, "/") && !strings.HasSuffix(cleaned, "/") {
		cleaned += "/"
	}
	return cleaned
}

// SplitPathDirEntry splits p into its directory and last element, keeping
// a final "." ("a/b/." → "a/b", ".").
func SplitPathDirEntry(p string) (dir, base string) {
	cleaned := path.Clean(p)
	if path.Base(p) == "." && p != "" && cleaned != "." {
		cleaned += "/."
	}
	return path.Dir(cleaned), path.Base(cleaned)
}

// CopyInfo describes the source or destination of a copy.
type CopyInfo struct {
	Path   string
	Exists bool
	IsDir  bool
}

// PrepareCopy applies Docker's cp rules to a source and a destination: the
// directory to extract into and the name the copied entry takes there.
func PrepareCopy(src, dst CopyInfo) (dstDir, name string, err error) {
	dstDir, dstBase := SplitPathDirEntry(dst.Path)
	_, srcBase := SplitPathDirEntry(src.Path)
	if srcBase == "/" {
		srcBase = "."
	}
	switch {
	case dst.Exists && dst.IsDir:
		// Into the directory, under the source's name ("." for "src/.":
		// its content).
		return dst.Path, srcBase, nil
	case dst.Exists && src.IsDir:
		return "", "", ErrCannotCopyDir
	case dst.Exists, src.IsDir:
		return dstDir, dstBase, nil
	case AssertsDirectory(dst.Path):
		return "", "", ErrDirNotExists
	}
	return dstDir, dstBase, nil
}
