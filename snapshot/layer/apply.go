package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// WhiteoutMode says how whiteouts are applied.
type WhiteoutMode int

const (
	// WhiteoutNative deletes the whited-out files from the tree: the tree
	// holds the merged result of all layers so far.
	WhiteoutNative WhiteoutMode = iota
	// WhiteoutOverlay writes overlayfs whiteouts (char 0/0 devices) and
	// opaque xattrs: the tree is an overlay upper over lower layers.
	WhiteoutOverlay
)

// DevicePolicy says what to do with character and block device entries.
type DevicePolicy int

const (
	// DevicesReject fails the apply with a *DeviceError.
	DevicesReject DevicePolicy = iota
	// DevicesSkip leaves device entries out.
	DevicesSkip
	// DevicesCreate creates them (needs CAP_MKNOD).
	DevicesCreate
)

// Options tune Apply. The zero value applies natively, rejects devices and
// sets ownership when running as root.
type Options struct {
	Whiteouts WhiteoutMode
	Devices   DevicePolicy
	// Parents are the lower layers under root, nearest first, in overlay
	// mode: a hardlink to a file of a lower layer copies it up, and a
	// directory created implicitly takes its metadata from the lower one.
	Parents []string
	// NoChown leaves files owned by the caller (rootless unpack).
	NoChown bool
	// Workers is how many goroutines create small files at once when the
	// root starts empty (0: GOMAXPROCS; 1: one at a time). File creation
	// is kernel CPU time (about 0.3 ms per file on ext4 here), so it scales
	// with CPUs.
	Workers int
}

// Whiteout name prefixes from the OCI image spec.
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = ".wh..wh..opq"
	// opaqueXattr marks an overlayfs directory that hides the lower ones.
	opaqueXattr = "trusted.overlay.opaque"
)

// UnsafePathError is returned for an entry whose name or link target leaves
// the root.
type UnsafePathError struct {
	Entry  string // the tar entry name
	Target string // the offending path (the name or the hardlink target)
}

func (e *UnsafePathError) Error() string {
	if e.Target != e.Entry {
		return fmt.Sprintf("layer entry %q: link target %q leaves the root", e.Entry, e.Target)
	}
	return fmt.Sprintf("layer entry %q: path leaves the root", e.Entry)
}

// DeviceError is returned for a device entry under DevicesReject.
type DeviceError struct{ Entry string }

func (e *DeviceError) Error() string {
	return fmt.Sprintf("layer entry %q: device nodes are not allowed here (unprivileged unpack)", e.Entry)
}

// countingReader counts the bytes read: Apply returns the tar stream size.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Apply applies the uncompressed layer tar r to the directory root and
// returns the number of tar bytes read.
func Apply(ctx context.Context, root string, r io.Reader, opts Options) (int64, error) {
	a, err := newApplier(root, opts)
	if err != nil {
		return 0, err
	}
	defer a.close()
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	for {
		if err := ctx.Err(); err != nil {
			return cr.n, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cr.n, fmt.Errorf("read layer tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return cr.n, err
		}
	}
	if err := a.finish(); err != nil {
		return cr.n, err
	}
	// The tar trailer may be followed by padding: the size is the stream's,
	// and a verifying reader only reports a bad digest at EOF.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return cr.n, fmt.Errorf("read layer tar: %w", err)
	}
	return cr.n, nil
}

type dirTimes struct {
	rel          string
	atime, mtime time.Time
}

type applier struct {
	rootfd  int
	opts    Options
	chown   bool
	created map[string]bool // entries this layer made (whiteouts spare them)
	dirs    []dirTimes
	cache   map[string]int // rel dir -> O_DIRECTORY fd
	buf     []byte

	// Parallel small-file creation (only into a root that started empty, so
	// that a name is taken exactly when this layer made it).
	jobs     []chan fileJob // one queue per worker, chosen by directory
	inflight sync.WaitGroup
	workers  sync.WaitGroup
	errMu    sync.Mutex
	jobErr   error
}

type fileJob struct {
	hdr  *tar.Header
	pfd  int
	base string
	data []byte
}

// smallFile is the largest file handed to a worker (its bytes are held in
// memory until written).
const smallFile = 64 << 10

func newApplier(root string, opts Options) (*applier, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open layer root %s: %w", root, err)
	}
	a := &applier{
		rootfd:  fd,
		opts:    opts,
		chown:   !opts.NoChown && os.Geteuid() == 0,
		created: map[string]bool{},
		cache:   map[string]int{},
		buf:     make([]byte, 128<<10),
	}
	n := opts.Workers
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if n > 1 && emptyDir(fd) {
		// Creating a file locks its directory, so workers busy in one
		// directory would take turns: each worker gets its own directories.
		for i := 0; i < n; i++ {
			q := make(chan fileJob, 256)
			a.jobs = append(a.jobs, q)
			a.workers.Add(1)
			go a.worker(q)
		}
	}
	return a, nil
}

func emptyDir(fd int) bool {
	f := os.NewFile(uintptr(dupFd(fd)), "root")
	defer f.Close()
	names, err := f.Readdirnames(1)
	return err == io.EOF && len(names) == 0
}

func (a *applier) worker(q chan fileJob) {
	defer a.workers.Done()
	for j := range q {
		if err := a.writeFile(j.hdr, j.pfd, j.base, "", bytes.NewReader(j.data), false); err != nil {
			a.errMu.Lock()
			if a.jobErr == nil {
				a.jobErr = fmt.Errorf("layer entry %q: %w", j.hdr.Name, err)
			}
			a.errMu.Unlock()
		}
		a.inflight.Done()
	}
}

// wait lets the in-flight file jobs finish and returns the first error.
// Everything that removes, replaces or links runs after a wait.
func (a *applier) wait() error {
	if a.jobs == nil {
		return nil
	}
	a.inflight.Wait()
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.jobErr
}

func (a *applier) close() {
	a.wait()
	for _, q := range a.jobs {
		close(q)
	}
	a.workers.Wait()
	a.flush()
	unix.Close(a.rootfd)
}

// flush forgets the cached directory fds. It runs whenever something is
// removed: a cached fd must never point at a directory that a later entry
// replaced (with a symlink, say).
func (a *applier) flush() {
	a.wait() // workers may hold cached fds
	for _, fd := range a.cache {
		unix.Close(fd)
	}
	clear(a.cache)
}

// cleanName turns a tar name into a path relative to the root: leading "/"
// and "./" go, "a/../b" is folded, and a name that climbs out is an error.
func cleanName(entry, name string) (string, error) {
	p := path.Clean("/" + name)
	// Check the raw name too: "/.." cleans to "/" but meant to climb.
	raw := path.Clean(strings.TrimLeft(name, "/"))
	if raw == ".." || strings.HasPrefix(raw, "../") {
		return "", &UnsafePathError{Entry: entry, Target: name}
	}
	return strings.TrimPrefix(p, "/"), nil
}

func resolveHow() *unix.OpenHow {
	return &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
}

// openat2 retries EAGAIN/EINTR, which openat2 returns on concurrent renames.
func (a *applier) openat2(rel string) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(a.rootfd, rel, resolveHow())
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < 16 {
			continue
		}
		return fd, err
	}
}

// dir returns an fd of the directory rel (resolved inside the root),
// creating missing directories on the way.
func (a *applier) dir(rel string) (int, error) {
	if rel == "" || rel == "." {
		return a.rootfd, nil
	}
	if fd, ok := a.cache[rel]; ok {
		return fd, nil
	}
	fd, err := a.openat2(rel)
	if errors.Is(err, unix.ENOENT) {
		fd, err = a.mkdirAll(rel)
	}
	if err != nil {
		return -1, fmt.Errorf("open directory %q in layer root: %w", rel, err)
	}
	if len(a.cache) > 512 {
		a.flush()
	}
	a.cache[rel] = fd
	return fd, nil
}

// mkdirAll creates the missing directories of rel one by one, each resolved
// again inside the root, so a symlink among them stays inside too.
func (a *applier) mkdirAll(rel string) (int, error) {
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := a.openat2(prefix)
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
		parent := a.rootfd
		if i > 0 {
			if parent, err = a.openat2(strings.Join(parts[:i], "/")); err != nil {
				return -1, err
			}
		}
		err = unix.Mkdirat(parent, parts[i], 0o755)
		if err == nil {
			a.created[prefix] = true
			a.inheritDir(parent, parts[i], prefix)
		}
		if parent != a.rootfd {
			unix.Close(parent)
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
	}
	return a.openat2(rel)
}

// inheritDir gives an implicitly created directory the metadata of the same
// directory in the nearest lower layer: in an overlay upper it would
// otherwise mask the lower one's owner and mode with 0755 root.
func (a *applier) inheritDir(parent int, name, rel string) {
	for _, p := range a.opts.Parents {
		var st unix.Stat_t
		fd, err := unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC})
		if err != nil {
			continue
		}
		lfd, err := unix.Openat2(fd, rel, resolveHow())
		unix.Close(fd)
		if err != nil {
			continue
		}
		err = unix.Fstat(lfd, &st)
		unix.Close(lfd)
		if err != nil {
			continue
		}
		if a.chown {
			unix.Fchownat(parent, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
		}
		unix.Fchmodat(parent, name, st.Mode&07777, 0)
		return
	}
}

// removeAt removes name in dirfd, recursively if it is a directory, never
// following symlinks.
func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := removeChildren(fd, nil); err != nil {
		unix.Close(fd)
		return err
	}
	unix.Close(fd)
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

// removeChildren removes every entry of the directory fd for which keep
// (if set) returns false.
func removeChildren(fd int, keep func(string) bool) error {
	f := os.NewFile(uintptr(dupFd(fd)), "dir")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if keep != nil && keep(n) {
			continue
		}
		if err := removeAt(fd, n); err != nil {
			return err
		}
	}
	return nil
}

func dupFd(fd int) int {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return nfd
}

// xattrs returns the SCHILY.xattr PAX records of hdr.
func xattrs(hdr *tar.Header) map[string]string {
	var out map[string]string
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}

func (a *applier) entry(hdr *tar.Header, tr io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	rel, err := cleanName(hdr.Name, hdr.Name)
	if err != nil {
		return err
	}
	isReg := hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA
	if a.jobs != nil {
		// New files and directories go ahead; anything that may replace,
		// remove or link waits for the files in flight.
		if (!isReg && hdr.Typeflag != tar.TypeDir) || a.created[rel] {
			if err := a.wait(); err != nil {
				return err
			}
		} else if err := a.errNow(); err != nil {
			return err
		}
	}
	parentRel, base := path.Split(rel)
	parentRel = strings.TrimSuffix(parentRel, "/")

	if rel == "" {
		// "./": the root itself takes the entry's metadata.
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("layer entry %q: the root can only be a directory", hdr.Name)
		}
		return a.dirMeta(hdr, a.rootfd, ".", "")
	}

	if strings.HasPrefix(base, WhiteoutPrefix) {
		return a.whiteout(hdr, parentRel, base)
	}

	pfd, err := a.dir(parentRel)
	if err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	wrap := func(err error) error {
		var ue *UnsafePathError
		if err == nil || errors.As(err, &ue) {
			return err
		}
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	wasCreated := a.created[rel]
	a.created[rel] = true

	switch hdr.Typeflag {
	case tar.TypeDir:
		err := unix.Mkdirat(pfd, base, 0o700)
		if errors.Is(err, unix.EEXIST) {
			var st unix.Stat_t
			if err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				a.flush()
				if pfd, err = a.dir(parentRel); err != nil {
					return wrap(err)
				}
				if err = removeAt(pfd, base); err == nil {
					err = unix.Mkdirat(pfd, base, 0o700)
				}
			}
		}
		if err != nil {
			return wrap(err)
		}
		return wrap(a.dirMeta(hdr, pfd, base, rel))

	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		if a.jobs != nil && isReg && hdr.Size <= smallFile && !wasCreated {
			data := make([]byte, hdr.Size)
			if _, err := io.ReadFull(tr, data); err != nil {
				return wrap(fmt.Errorf("read: %w", err))
			}
			a.inflight.Add(1)
			h := fnv.New32a()
			h.Write([]byte(parentRel))
			a.jobs[h.Sum32()%uint32(len(a.jobs))] <- fileJob{hdr: hdr, pfd: pfd, base: base, data: data}
			return nil
		}
		return wrap(a.writeFile(hdr, pfd, base, parentRel, tr, true))

	case tar.TypeSymlink:
		if _, err := a.create(pfd, base, parentRel, func(pfd int) (int, error) {
			return -1, unix.Symlinkat(hdr.Linkname, pfd, base)
		}); err != nil {
			return wrap(err)
		}
		return wrap(a.linkMeta(hdr, pfd, base))

	case tar.TypeLink:
		return wrap(a.hardlink(hdr, pfd, base, parentRel))

	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		if mode != unix.S_IFIFO {
			switch a.opts.Devices {
			case DevicesSkip:
				delete(a.created, rel)
				return nil
			case DevicesReject:
				return &DeviceError{Entry: hdr.Name}
			}
		}
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if _, err := a.create(pfd, base, parentRel, func(pfd int) (int, error) {
			return -1, unix.Mknodat(pfd, base, mode|0o600, dev)
		}); err != nil {
			return wrap(err)
		}
		return wrap(a.linkMeta(hdr, pfd, base))

	default:
		return fmt.Errorf("layer entry %q: unsupported tar entry type %q", hdr.Name, hdr.Typeflag)
	}
}

// writeFile creates the regular file base in pfd with the content of r and
// the header's metadata. Only the main goroutine may replace an existing
// entry (main); workers create new names.
func (a *applier) writeFile(hdr *tar.Header, pfd int, base, parentRel string, r io.Reader, main bool) error {
	open := func(pfd int) (int, error) {
		return unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	}
	var fd int
	var err error
	if main {
		fd, err = a.create(pfd, base, parentRel, open)
	} else {
		fd, err = open(pfd)
	}
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	if br, ok := r.(*bytes.Reader); ok {
		_, err = br.WriteTo(f)
	} else if hdr.Size > 0 {
		_, err = io.CopyBuffer(onlyWriter{f}, r, a.buf)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	err = a.fileMeta(hdr, fd)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Re-resolve pfd for main: create may have flushed the cache.
	if main {
		if pfd, err = a.dir(parentRel); err != nil {
			return err
		}
	}
	return a.times(hdr, pfd, base)
}

func (a *applier) errNow() error {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.jobErr
}

// onlyWriter hides os.File's ReadFrom so CopyBuffer uses our buffer rather
// than trying splice/copy_file_range from a tar reader.
type onlyWriter struct{ io.Writer }

// create runs mk; if the name is taken, it removes what is there (never
// following a symlink) and runs mk again.
func (a *applier) create(pfd int, base, parentRel string, mk func(pfd int) (int, error)) (int, error) {
	fd, err := mk(pfd)
	if !errors.Is(err, unix.EEXIST) {
		return fd, err
	}
	a.flush()
	if pfd, err = a.dir(parentRel); err != nil {
		return -1, err
	}
	if err := removeAt(pfd, base); err != nil {
		return -1, fmt.Errorf("replace existing entry: %w", err)
	}
	return mk(pfd)
}

func (a *applier) fileMeta(hdr *tar.Header, fd int) error {
	if a.chown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
		}
	}
	if err := unix.Fchmod(fd, tarMode(hdr)); err != nil {
		return fmt.Errorf("chmod %o: %w", tarMode(hdr), err)
	}
	// After chown and write: both clear security.capability.
	for k, v := range xattrs(hdr) {
		if err := unix.Fsetxattr(fd, k, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("set xattr %s: %w", k, err)
		}
	}
	return nil
}

// tarMode is the permission part of the header mode, setuid/setgid/sticky
// included.
func tarMode(hdr *tar.Header) uint32 {
	return uint32(hdr.Mode) & 07777
}

// linkMeta sets owner, mode, xattrs and times of a symlink or node by name.
func (a *applier) linkMeta(hdr *tar.Header, pfd int, base string) error {
	if a.chown {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %d:%d: %w", hdr.Uid, hdr.Gid, err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// Just made by mknodat, so not a symlink: fchmodat cannot be fooled.
		if err := unix.Fchmodat(pfd, base, tarMode(hdr), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if xs := xattrs(hdr); len(xs) > 0 {
		// /proc/self/fd/N is the directory; l*xattr does not follow base.
		p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base)
		for k, v := range xs {
			if err := unix.Lsetxattr(p, k, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("set xattr %s: %w", k, err)
			}
		}
	}
	return a.times(hdr, pfd, base)
}

func (a *applier) times(hdr *tar.Header, pfd int, base string) error {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func (a *applier) dirMeta(hdr *tar.Header, pfd int, base, rel string) error {
	fd := pfd
	if rel != "" {
		var err error
		fd, err = unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
	}
	if err := a.fileMeta(hdr, fd); err != nil {
		return err
	}
	a.dirs = append(a.dirs, dirTimes{rel: rel, atime: hdr.AccessTime, mtime: hdr.ModTime})
	return nil
}

func (a *applier) hardlink(hdr *tar.Header, pfd int, base, parentRel string) error {
	target, err := cleanName(hdr.Name, hdr.Linkname)
	if err != nil {
		return err
	}
	if target == "" {
		return fmt.Errorf("hardlink to the root directory")
	}
	tParent, tBase := path.Split(target)
	tParent = strings.TrimSuffix(tParent, "/")
	tfd, err := a.openat2(orDot(tParent))
	if err == nil {
		var st unix.Stat_t
		if err = unix.Fstatat(tfd, tBase, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) && len(a.opts.Parents) > 0 {
			err = a.copyUp(tfd, tBase, target)
		}
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = fmt.Errorf("is a directory")
		}
	}
	if err != nil {
		if tfd >= 0 {
			unix.Close(tfd)
		}
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	// linkat without AT_SYMLINK_FOLLOW links the target entry itself, even
	// when it is a symlink: nothing outside the root can be reached.
	_, err = a.create(pfd, base, parentRel, func(pfd int) (int, error) {
		return -1, unix.Linkat(tfd, tBase, pfd, base, 0)
	})
	return err
}

func orDot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// copyUp copies the lower-layer file rel into the upper (overlay mode), so
// that a hardlink to it can be made there.
func (a *applier) copyUp(tfd int, tBase, rel string) error {
	for _, p := range a.opts.Parents {
		lroot, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		dir, name := path.Split(rel)
		lfd, err := unix.Openat2(lroot, orDot(strings.TrimSuffix(dir, "/")), resolveHow())
		unix.Close(lroot)
		if err != nil {
			continue
		}
		src, err := unix.Openat(lfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(lfd)
		if err != nil {
			continue
		}
		err = copyFd(src, tfd, tBase)
		unix.Close(src)
		return err
	}
	return unix.ENOENT
}

func copyFd(src, dirfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("copy up: not a regular file")
	}
	dst, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	in, out := os.NewFile(uintptr(src), "src"), os.NewFile(uintptr(dst), name)
	_, err = io.Copy(out, onlyReader{in})
	if err == nil {
		err = unix.Fchown(dst, int(st.Uid), int(st.Gid))
	}
	if err == nil {
		err = unix.Fchmod(dst, st.Mode&07777)
	}
	if err == nil {
		err = unix.UtimesNanoAt(dirfd, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
	}
	out.Close()
	return err
}

type onlyReader struct{ io.Reader }

func (a *applier) whiteout(hdr *tar.Header, parentRel, base string) error {
	pfd, err := a.dir(parentRel)
	if err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if base == WhiteoutOpaque {
		if a.opts.Whiteouts == WhiteoutOverlay {
			if err := unix.Fsetxattr(pfd, opaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("layer entry %q: mark %q opaque: %w", hdr.Name, parentRel, err)
			}
			return nil
		}
		a.flush()
		if pfd, err = a.dir(parentRel); err != nil {
			return err
		}
		prefix := parentRel
		if prefix != "" {
			prefix += "/"
		}
		err := removeChildren(pfd, func(name string) bool { return a.created[prefix+name] })
		if err != nil {
			return fmt.Errorf("layer entry %q: clear opaque directory %q: %w", hdr.Name, parentRel, err)
		}
		return nil
	}
	name := strings.TrimPrefix(base, WhiteoutPrefix)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, WhiteoutPrefix) {
		return fmt.Errorf("layer entry %q: invalid whiteout name", hdr.Name)
	}
	rel := path.Join(parentRel, name)
	if a.created[rel] {
		// Whiteouts hide only lower layers' files (image-spec).
		return nil
	}
	a.flush()
	if pfd, err = a.dir(parentRel); err != nil {
		return err
	}
	if err := removeAt(pfd, name); err != nil {
		return fmt.Errorf("layer entry %q: remove %q: %w", hdr.Name, rel, err)
	}
	if a.opts.Whiteouts == WhiteoutOverlay {
		if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("layer entry %q: make overlay whiteout: %w", hdr.Name, err)
		}
		if a.chown {
			unix.Fchownat(pfd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
		}
	}
	return nil
}

// finish sets directory times, deepest first, now that nothing will be
// created in them any more.
func (a *applier) finish() error {
	if err := a.wait(); err != nil {
		return err
	}
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := a.dirs[i]
		at := d.atime
		if at.IsZero() {
			at = d.mtime
		}
		ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(d.mtime.UnixNano())}
		var err error
		if d.rel == "" {
			err = unix.UtimesNanoAt(a.rootfd, ".", ts, 0)
		} else {
			parent, base := path.Split(d.rel)
			var pfd int
			pfd, err = a.dir(strings.TrimSuffix(parent, "/"))
			if err == nil {
				err = unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
			}
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("set times of directory %q: %w", d.rel, err)
		}
	}
	return nil
}
