// Package mount describes and performs the mounts a snapshotter hands out:
// a Mount is a value (type, source, options) that can be stored, printed or
// passed on, and All mounts a list of them on a target.
//
// Overlay mounts whose option string would pass the kernel's one-page limit
// (long lowerdir chains) are made with the new mount API
// (fsopen/fsconfig/fsmount/move_mount), which takes each lower layer as its
// own "lowerdir+" parameter. EROFS mounts take an image file as source: the
// kernel mounts it directly (file-backed EROFS, Linux 6.12+).
package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mount is one mount: what mount(8) would take as -t Type Source -o Options.
type Mount struct {
	Type    string   // "overlay", "bind", "erofs", ...
	Source  string   // device, directory or image file
	Options []string // "ro", "lowerdir=a:b", "upperdir=...", "rbind", ...
}

// ReadOnly reports whether the mount has the "ro" option.
func (m Mount) ReadOnly() bool {
	for _, o := range m.Options {
		if o == "ro" {
			return true
		}
	}
	return false
}

// Option returns the value of the option key=value, and whether it is set.
func (m Mount) Option(key string) (string, bool) {
	for _, o := range m.Options {
		if k, v, ok := strings.Cut(o, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Lowerdirs returns the overlay lowerdir chain, top layer first.
func (m Mount) Lowerdirs() []string {
	v, ok := m.Option("lowerdir")
	if !ok || v == "" {
		return nil
	}
	return strings.Split(v, ":")
}

// All mounts ms on target in order (each on top of the previous one). If one
// fails, the ones already made are unmounted again.
func All(ms []Mount, target string) error {
	for i, m := range ms {
		if err := m.Mount(target); err != nil {
			for j := i - 1; j >= 0; j-- {
				unix.Unmount(target, unix.MNT_DETACH)
			}
			return err
		}
	}
	return nil
}

var flagOpts = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":         {false, unix.MS_RDONLY},
	"rw":         {true, unix.MS_RDONLY},
	"nosuid":     {false, unix.MS_NOSUID},
	"suid":       {true, unix.MS_NOSUID},
	"nodev":      {false, unix.MS_NODEV},
	"dev":        {true, unix.MS_NODEV},
	"noexec":     {false, unix.MS_NOEXEC},
	"exec":       {true, unix.MS_NOEXEC},
	"noatime":    {false, unix.MS_NOATIME},
	"relatime":   {false, unix.MS_RELATIME},
	"nodiratime": {false, unix.MS_NODIRATIME},
	"bind":       {false, unix.MS_BIND},
	"rbind":      {false, unix.MS_BIND | unix.MS_REC},
	"remount":    {false, unix.MS_REMOUNT},
	"private":    {false, unix.MS_PRIVATE},
}

// parse splits options into mount(2) flags and the filesystem data string.
func (m Mount) parse() (flags uintptr, data []string) {
	for _, o := range m.Options {
		if f, ok := flagOpts[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		data = append(data, o)
	}
	return flags, data
}

// pageSize is the most the kernel copies of mount(2)'s data argument.
var pageSize = os.Getpagesize()

// Mount mounts m on target.
func (m Mount) Mount(target string) error {
	flags, data := m.parse()
	typ := m.Type
	if flags&unix.MS_BIND != 0 || typ == "bind" || typ == "rbind" {
		if typ == "rbind" {
			flags |= unix.MS_REC
		}
		return bindMount(m.Source, target, flags)
	}
	d := strings.Join(data, ",")
	if typ == "overlay" && len(d) >= pageSize-1 {
		err := fsmountOverlay(m.Source, target, flags, data)
		if errors.Is(err, errNoLowerdirPlus) {
			// Before Linux 6.8: relative paths from a common directory.
			err = mountOverlayRelative(m.Source, target, flags, data)
		}
		if err != nil {
			return fmt.Errorf("mount overlay on %s (%d lower layers): %w", target, len(m.Lowerdirs()), err)
		}
		return nil
	}
	if err := unix.Mount(m.Source, target, typ, flags, d); err != nil {
		if typ == "erofs" && (errors.Is(err, unix.ENOTBLK) || errors.Is(err, unix.EINVAL)) {
			return fmt.Errorf("mount erofs image %s on %s: %w (file-backed EROFS mounts need Linux 6.12+ with CONFIG_EROFS_FS_BACKED_BY_FILE)", m.Source, target, err)
		}
		return fmt.Errorf("mount %s %s on %s (options %q): %w", typ, m.Source, target, d, err)
	}
	return nil
}

func bindMount(source, target string, flags uintptr) error {
	ro := flags&unix.MS_RDONLY != 0
	base := uintptr(unix.MS_BIND) | flags&unix.MS_REC
	if err := unix.Mount(source, target, "", base, ""); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", source, target, err)
	}
	// Bind mounts ignore every flag but MS_REC at first: the others take a
	// remount.
	rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT | unix.MS_PRIVATE)
	if ro || rest != 0 {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|rest, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remount bind %s read-only: %w", target, err)
		}
	}
	return nil
}

// fsmountOverlay mounts overlay through fsopen/fsconfig so that every lower
// layer is its own parameter: no single string passes the page limit.
func fsmountOverlay(source, target string, flags uintptr, data []string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fd)
	if source == "" {
		source = "overlay"
	}
	if err := unix.FsconfigSetString(fd, "source", source); err != nil {
		return fsErr(fd, "source", err)
	}
	for _, o := range data {
		k, v, hasValue := strings.Cut(o, "=")
		switch {
		case k == "lowerdir":
			for i, l := range strings.Split(v, ":") {
				if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
					if i == 0 && errors.Is(err, unix.EINVAL) {
						return errNoLowerdirPlus
					}
					return fsErr(fd, "lowerdir+ "+l, err)
				}
			}
		case hasValue:
			if err := unix.FsconfigSetString(fd, k, v); err != nil {
				return fsErr(fd, o, err)
			}
		default:
			if err := unix.FsconfigSetFlag(fd, k); err != nil {
				return fsErr(fd, o, err)
			}
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fsErr(fd, "create", err)
	}
	var attr int
	if flags&unix.MS_RDONLY != 0 {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if flags&unix.MS_NOSUID != 0 {
		attr |= unix.MOUNT_ATTR_NOSUID
	}
	if flags&unix.MS_NODEV != 0 {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if flags&unix.MS_NOEXEC != 0 {
		attr |= unix.MOUNT_ATTR_NOEXEC
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fsErr(fd, "fsmount", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount to %s: %w", target, err)
	}
	return nil
}

var errNoLowerdirPlus = errors.New("overlay has no lowerdir+ parameter (Linux < 6.8)")

// mountOverlayRelative mounts overlay with every directory option made
// relative to the directory all of them share, from a thread whose working
// directory is that one (unshare(CLONE_FS) keeps the chdir to that thread,
// which is dropped afterwards). Docker's overlay2 does the same with short
// symlinks; here the paths just lose their common prefix.
func mountOverlayRelative(source, target string, flags uintptr, data []string) error {
	target, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	var dirs []string
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			dirs = append(dirs, strings.Split(v, ":")...)
		case "upperdir", "workdir":
			dirs = append(dirs, v)
		}
	}
	common := commonDir(dirs)
	if common == "" || common == "/" {
		return fmt.Errorf("overlay options over a page and no common directory to shorten them")
	}
	rel := func(p string) string {
		r, err := filepath.Rel(common, p)
		if err != nil {
			return p
		}
		return r
	}
	var out []string
	for _, o := range data {
		k, v, ok := strings.Cut(o, "=")
		switch {
		case ok && k == "lowerdir":
			ls := strings.Split(v, ":")
			for i := range ls {
				ls[i] = rel(ls[i])
			}
			out = append(out, "lowerdir="+strings.Join(ls, ":"))
		case ok && (k == "upperdir" || k == "workdir"):
			out = append(out, k+"="+rel(v))
		default:
			out = append(out, o)
		}
	}
	d := strings.Join(out, ",")
	if len(d) >= pageSize-1 {
		return fmt.Errorf("overlay options still %d bytes after shortening", len(d))
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, taking its
		// private working directory with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_FS): %w", err)
			return
		}
		if err := unix.Chdir(common); err != nil {
			errc <- err
			return
		}
		if source == "" {
			source = "overlay"
		}
		if err := unix.Mount(source, target, "overlay", flags, d); err != nil {
			errc <- fmt.Errorf("mount(2) with paths relative to %s: %w", common, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// commonDir is the deepest directory containing all of paths.
func commonDir(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	c := filepath.Dir(filepath.Clean(paths[0]))
	for _, p := range paths[1:] {
		p = filepath.Clean(p)
		for c != "/" && !strings.HasPrefix(p, c+"/") {
			c = filepath.Dir(c)
		}
	}
	return c
}

// fsErr adds the kernel's own message, which fsconfig leaves readable on the
// fs context fd, to err.
func fsErr(fd int, what string, err error) error {
	buf := make([]byte, 1024)
	var msgs []string
	for {
		n, rerr := unix.Read(fd, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) > 0 {
		return fmt.Errorf("fsconfig %s: %w (%s)", what, err, strings.Join(msgs, "; "))
	}
	return fmt.Errorf("fsconfig %s: %w", what, err)
}

// Unmount unmounts the top mount on target. A busy target is retried for a
// short while (a process that just exited may still hold it).
func Unmount(target string) error {
	var err error
	for i := 0; i < 50; i++ {
		err = unix.Unmount(target, 0)
		if err == nil || !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}

// UnmountAll unmounts every mount stacked on target. A target that is not a
// mount point (or does not exist) is not an error.
func UnmountAll(target string) error {
	for {
		if err := Unmount(target); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
	}
}

// WithTempMount mounts ms on a new temporary directory, calls fn with it and
// unmounts and removes the directory again.
func WithTempMount(ms []Mount, fn func(root string) error) (err error) {
	dir, err := os.MkdirTemp("", "berth-mount-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := All(ms, dir); err != nil {
		return err
	}
	defer func() {
		if uerr := UnmountAll(dir); uerr != nil && err == nil {
			err = uerr
		}
	}()
	return fn(dir)
}
