// Package erofs is a snapshotter that keeps every committed layer as one
// EROFS image file, mounted read-only (the kernel mounts EROFS straight from
// a file since Linux 6.12) and used as an overlay lower layer.
//
// Why: on ext4 creating a file costs ~0.3-0.8 ms of kernel time, so
// unpacking a layer of 10,000 small files file by file spends seconds in the
// filesystem. Import instead writes the image straight from the layer tar
// (ConvertTar, in this package): file contents are appended to the image as
// they stream in and the tree is written once at the end, so the only file
// created is the image. Whiteouts become overlay whiteouts (char 0/0) and
// opaque directories carry trusted.overlay.opaque=y inside the image.
//
// An active snapshot written through its mounts (container commit) is
// packed at Commit by ConvertDir, the same writer fed from a directory.
// WithMkfsImport switches both to erofs-utils' mkfs.erofs instead (1.5 has
// no --tar mode, so Import then unpacks on tmpfs staging first): the slower
// path, kept for comparison.
//
// Layout under root: metadata.db; snapshots/<id>/layer.erofs (the image of a
// committed layer), snapshots/<id>/fs (the image's mount point once
// committed; the writable upper while active) and snapshots/<id>/work.
// Image mounts are persistent: they stay after Close, are made again on
// demand after a reboot, and go with Remove.
package erofs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/snapshot/internal/base"
	"github.com/berth-dev/berth/snapshot/internal/storage"
	"github.com/berth-dev/berth/snapshot/layer"
	"github.com/berth-dev/berth/snapshot/mount"
	"golang.org/x/sys/unix"
)

// Snapshotter is the EROFS snapshotter.
type Snapshotter struct {
	*base.Base
	staging string
	mkfs    string
	useMkfs bool
}

var (
	_ snapshot.Snapshotter = (*Snapshotter)(nil)
	_ snapshot.Importer    = (*Snapshotter)(nil)
)

// Opt configures New.
type Opt func(*Snapshotter) error

// WithStagingDir sets where Import unpacks a layer before mkfs.erofs packs
// it (WithMkfsImport only); it should be tmpfs. The default is /dev/shm
// when it is tmpfs, else <root>/staging.
func WithStagingDir(dir string) Opt {
	return func(s *Snapshotter) error { s.staging = dir; return nil }
}

// WithMkfsImport makes Import unpack on the staging directory and run
// mkfs.erofs, instead of writing the image straight from the tar
// (ConvertTar). It is the slower path, kept for comparison.
func WithMkfsImport() Opt {
	return func(s *Snapshotter) error { s.useMkfs = true; return nil }
}

// New opens the EROFS snapshotter in root, creating it if needed.
func New(root string, opts ...Opt) (*Snapshotter, error) {
	s := &Snapshotter{}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if s.useMkfs {
		mkfs, err := exec.LookPath("mkfs.erofs")
		if err != nil {
			return nil, fmt.Errorf("erofs snapshotter: mkfs.erofs not found (apt-get install erofs-utils): %w", err)
		}
		s.mkfs = mkfs
	}
	b, err := base.New(root, driver{s})
	if err != nil {
		return nil, err
	}
	s.Base = b
	if !s.useMkfs {
		return s, nil
	}
	if s.staging == "" {
		var fs unix.Statfs_t
		if unix.Statfs("/dev/shm", &fs) == nil && fs.Type == unix.TMPFS_MAGIC && unix.Access("/dev/shm", unix.W_OK) == nil {
			s.staging = "/dev/shm"
		} else {
			s.staging = filepath.Join(root, "staging")
		}
	}
	if err := os.MkdirAll(s.staging, 0o700); err != nil {
		return nil, fmt.Errorf("erofs staging dir: %w", err)
	}
	return s, nil
}

// Supported checks that the kernel mounts an EROFS image from a file; dir
// is scratch space.
func Supported(dir string) error {
	td, err := os.MkdirTemp(dir, "erofs-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(td)
	src, img, mnt := filepath.Join(td, "src"), filepath.Join(td, "img"), filepath.Join(td, "mnt")
	os.Mkdir(src, 0o755)
	os.Mkdir(mnt, 0o755)
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	err = ConvertDir(context.Background(), src, f)
	f.Close()
	if err != nil {
		return err
	}
	if err := (mount.Mount{Type: "erofs", Source: img, Options: []string{"ro"}}).Mount(mnt); err != nil {
		return err
	}
	return mount.Unmount(mnt)
}

func (s *Snapshotter) image(id string) string {
	return filepath.Join(s.Dir(id), "layer.erofs")
}

// mounted reports whether something is mounted on the fs dir of id.
func (s *Snapshotter) mounted(id string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Lstat(s.FS(id), &a); err != nil {
		return false, err
	}
	if err := unix.Lstat(s.Dir(id), &b); err != nil {
		return false, err
	}
	return a.Dev != b.Dev, nil
}

// ensureMounted mounts the image of the committed layer id on its fs dir
// unless it is there already (after a reboot, say).
func (s *Snapshotter) ensureMounted(id string) error {
	f, err := os.Open(s.image(id))
	if err != nil {
		return nil // committed without an image? it is a plain directory
	}
	defer f.Close()
	// Several berth processes may want the layer at once: the check and the
	// mount happen under a lock on the image, so it is mounted only once.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", s.image(id), err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	ok, err := s.mounted(id)
	if err != nil || ok {
		return err
	}
	return mount.Mount{Type: "erofs", Source: s.image(id), Options: []string{"ro", "nodev"}}.Mount(s.FS(id))
}

// Import unpacks the uncompressed layer tar r into the empty active snapshot
// key as an EROFS image. It returns the tar size.
func (s *Snapshotter) Import(ctx context.Context, key string, r io.Reader) (int64, error) {
	sn, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if sn.Kind != snapshot.KindActive {
		return 0, snapshot.Errorf(snapshot.ErrInvalid, "import into %q: snapshot is %v, not active", key, sn.Kind)
	}
	if _, err := os.Stat(s.image(sn.ID)); err == nil {
		return 0, snapshot.Errorf(snapshot.ErrFailedPrecondition, "import into %q: a layer was imported already", key)
	}
	parents := make([]string, len(sn.ParentIDs))
	for i, id := range sn.ParentIDs {
		if err := s.ensureMounted(id); err != nil {
			return 0, err
		}
		parents[i] = s.FS(id)
	}
	if !s.useMkfs {
		n, err := s.convert(ctx, sn.ID, parents, r)
		if err != nil {
			return n, fmt.Errorf("import into %q: %w", key, err)
		}
		return n, nil
	}
	stage, err := os.MkdirTemp(s.staging, "berth-erofs-")
	if err != nil {
		return 0, fmt.Errorf("import into %q: %w", key, err)
	}
	defer os.RemoveAll(stage)
	// The root of the image takes the snapshot root's owner and mode unless
	// the layer has a "./" entry.
	var st unix.Stat_t
	if err := unix.Stat(s.FS(sn.ID), &st); err == nil {
		os.Lchown(stage, int(st.Uid), int(st.Gid))
		os.Chmod(stage, os.FileMode(st.Mode&0o7777))
	}
	n, err := layer.Apply(ctx, stage, r, layer.Options{
		Whiteouts: layer.WhiteoutOverlay,
		Devices:   layer.DevicesCreate,
		Parents:   parents,
	})
	if err != nil {
		return n, fmt.Errorf("import into %q: %w", key, err)
	}
	if err := s.pack(ctx, stage, s.image(sn.ID)); err != nil {
		return n, fmt.Errorf("import into %q: %w", key, err)
	}
	return n, nil
}

// convert writes the image of snapshot id straight from the tar.
func (s *Snapshotter) convert(ctx context.Context, id string, parents []string, r io.Reader) (int64, error) {
	dst := s.image(id)
	f, err := os.OpenFile(dst+".tmp", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	opts := ConvertOptions{
		DirMeta: func(rel string) (uint32, uint32, uint32, bool) {
			st, err := lowerStat(parents, rel, true)
			if err != nil {
				return 0, 0, 0, false
			}
			return st.Mode & 07777, st.Uid, st.Gid, true
		},
		LowerFile: func(rel string) (*os.File, error) { return lowerOpen(parents, rel) },
	}
	var st unix.Stat_t
	if err := unix.Stat(s.FS(id), &st); err == nil {
		opts.RootMode, opts.RootUID, opts.RootGID = st.Mode&07777, st.Uid, st.Gid
	}
	n, err := ConvertTar(ctx, r, f, opts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(dst+".tmp", dst)
	}
	if err != nil {
		os.Remove(dst + ".tmp")
	}
	return n, err
}

// lowerOpen opens rel in the nearest lower layer that has it, resolved
// inside that layer (a whiteout there ends the search).
func lowerOpen(parents []string, rel string) (*os.File, error) {
	for _, p := range parents {
		root, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		fd, err := unix.Openat2(root, rel, &unix.OpenHow{
			Flags: unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		unix.Close(root)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			unix.Close(fd)
			break // whited out
		}
		return os.NewFile(uintptr(fd), rel), nil
	}
	return nil, fmt.Errorf("%q not found in the lower layers", rel)
}

func lowerStat(parents []string, rel string, dir bool) (*unix.Stat_t, error) {
	for _, p := range parents {
		root, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
		if dir {
			flags |= unix.O_DIRECTORY
		}
		fd, err := unix.Openat2(root, rel, &unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		unix.Close(root)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil {
			return &st, nil
		}
	}
	return nil, unix.ENOENT
}

// pack writes the tree src as an EROFS image at dst (via a temp file):
// with ConvertDir, or with mkfs.erofs under WithMkfsImport.
func (s *Snapshotter) pack(ctx context.Context, src, dst string) error {
	tmp := dst + ".tmp"
	os.Remove(tmp)
	if !s.useMkfs {
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		err = ConvertDir(ctx, src, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, dst)
		}
		if err != nil {
			os.Remove(tmp)
		}
		return err
	}
	cmd := exec.CommandContext(ctx, s.mkfs, "--quiet", "--preserve-mtime", tmp, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mkfs.erofs %s: %w: %s", src, err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// UnmountAll unmounts every layer image of the snapshotter (for tests and
// resets; snapshots stay and are mounted again on demand).
func (s *Snapshotter) UnmountAll() error {
	entries, err := os.ReadDir(filepath.Join(s.Root, "snapshots"))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if ok, _ := s.mounted(e.Name()); ok {
			if err := mount.UnmountAll(s.FS(e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

type driver struct{ s *Snapshotter }

func (driver) Populate(context.Context, string, snapshot.Kind, []string) error { return nil }

func (d driver) Mounts(_ context.Context, sn storage.Snapshot) ([]mount.Mount, error) {
	for _, id := range sn.ParentIDs {
		if err := d.s.ensureMounted(id); err != nil {
			return nil, err
		}
	}
	// Same shapes as overlay: the committed layers' fs dirs are the mounted
	// images. A base layer's active snapshot is a bind of its empty fs,
	// which Import bypasses.
	return base.OverlayMounts(d.s.Base, sn), nil
}

// Committing packs the active snapshot's tree into an image (unless Import
// made one), then swaps the directory for the mounted image.
func (d driver) Committing(ctx context.Context, id string) error {
	s := d.s
	if _, err := os.Stat(s.image(id)); err != nil {
		if err := s.pack(ctx, s.FS(id), s.image(id)); err != nil {
			return err
		}
	}
	if ok, err := s.mounted(id); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("snapshot directory %s is still mounted", s.FS(id))
	}
	var st unix.Stat_t
	if err := unix.Lstat(s.FS(id), &st); err != nil {
		return err
	}
	if err := os.RemoveAll(s.FS(id)); err != nil {
		return err
	}
	if err := os.Mkdir(s.FS(id), os.FileMode(st.Mode&0o777)); err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(s.Dir(id), "work"))
	return s.ensureMounted(id)
}

func (d driver) Removing(_ context.Context, id string, _ snapshot.Kind) error {
	if ok, _ := d.s.mounted(id); ok {
		if err := mount.UnmountAll(d.s.FS(id)); err != nil {
			// Still used by an overlay somebody forgot: detach it.
			if derr := unix.Unmount(d.s.FS(id), unix.MNT_DETACH); derr != nil {
				return err
			}
		}
	}
	return nil
}
