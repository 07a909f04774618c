package initproc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/oci/hooks"
)

// prepareRootfs runs in the new mount namespace: it makes the host's mounts
// invisible to propagation, mounts everything the spec asks for inside the
// rootfs (each target resolved inside the root, never through a symlink that
// leads out), creates devices, runs the createRuntime/createContainer hooks
// and pivots into the root.
func (s *stage) prepareRootfs() error {
	cfg := s.cfg
	spec := cfg.Spec
	rootfs := cfg.Rootfs
	// Before pivot, / gets slave (or the asked private/shared) propagation
	// so nothing we mount reaches the host; the asked propagation is set
	// on the new root after pivot_root (runc does the same), since an
	// unbindable root could not be bind-mounted here.
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	var after uintptr
	if p := spec.Linux.RootfsPropagation; p != "" {
		f, ok := propagationFlags[p]
		if !ok {
			return fmt.Errorf("linux.rootfsPropagation %q: unknown", p)
		}
		if f&(unix.MS_PRIVATE|unix.MS_SHARED) != 0 {
			prop = f
		}
		if f&unix.MS_PRIVATE == 0 {
			after = f
		}
	}
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("make / %s: %w", spec.Linux.RootfsPropagation, err)
	}
	if prop&unix.MS_SHARED != 0 {
		// pivot_root refuses a shared parent mount.
		if mp := mountPointOf(filepath.Dir(rootfs)); mp != "" {
			unix.Mount("", mp, "", unix.MS_PRIVATE, "")
		}
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s: %w", rootfs, err)
	}
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()
	devBound := false
	for i, m := range spec.Mounts {
		if err := s.mountOne(root, &m); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
		if filepath.Clean("/"+m.Destination) == "/dev" && isBind(&m) {
			devBound = true
		}
	}
	if cwd := cfg.Process.Cwd; cwd != "" && cwd != "/" {
		if f, err := pathrs.MkdirAllHandle(root, cwd, 0o755); err == nil {
			f.Close()
		}
	}
	if !devBound {
		if err := createDevices(root, spec, cfg.NewUserNS); err != nil {
			return err
		}
		if err := devSymlinks(rootfs); err != nil {
			return err
		}
	}
	trace("devices")
	if err := s.createRuntimeHooks(); err != nil {
		return err
	}
	trace("createRuntime sync")
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		st := &specs.State{Version: specs.Version, ID: cfg.ID, Status: specs.StateCreated, Pid: os.Getpid(), Bundle: cfg.Bundle, Annotations: spec.Annotations}
		if err := hooks.Run("createContainer", spec.Hooks.CreateContainer, st); err != nil {
			return err
		}
	}
	if cfg.NoPivot {
		err = moveRoot(rootfs)
	} else {
		err = pivotRoot(rootfs)
	}
	if err != nil {
		return err
	}
	if after != 0 {
		if err := unix.Mount("", "/", "", after, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s: %w", spec.Linux.RootfsPropagation, err)
		}
	}
	return nil
}

func isBind(m *specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// mountOne mounts m inside the rootfs. The target is created and opened
// with pathrs (every component resolved inside root) and the mount goes
// onto /proc/self/fd/N of that handle, so a symlink swapped in afterwards
// cannot redirect it.
func (s *stage) mountOne(root *os.File, m *specs.Mount) error {
	dest := m.Destination
	if dest == "" {
		return fmt.Errorf("destination is empty")
	}
	if !filepath.IsAbs(dest) {
		dest = "/" + dest
	}
	// Resolve symlinks in the destination the way the container will see
	// them: scoped to the rootfs (securejoin), "/.." stays at "/". The
	// create-and-open below then refuses any symlink that appears later.
	resolved, err := securejoin.SecureJoin(s.cfg.Rootfs, dest)
	if err != nil {
		return fmt.Errorf("resolve destination: %w", err)
	}
	if dest, err = filepath.Rel(s.cfg.Rootfs, resolved); err != nil {
		return err
	}
	dest = "/" + dest
	po := parseOptions(m.Options)
	if po.idmap || len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return fmt.Errorf("idmapped mounts are not supported by this runtime yet")
	}
	bind := isBind(m)
	typ := m.Type
	if m.Type == "cgroup" || m.Type == "cgroup2" && !bind {
		return s.mountCgroup(root, dest, po)
	}
	src := m.Source
	if bind {
		if src == "" {
			return fmt.Errorf("bind mount needs a source")
		}
		if !filepath.IsAbs(src) {
			src = filepath.Join(s.cfg.Bundle, src)
		}
		typ = ""
	}
	isDir := true
	if bind {
		st, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		isDir = st.IsDir()
	}
	target, err := makeTarget(root, dest, isDir)
	if err != nil {
		return err
	}
	defer func() { target.Close() }()
	tp := fdPath(target)
	if !bind && (typ == "proc" || typ == "sysfs") {
		// proc and sysfs only on a real directory (a symlink or file target
		// is how CVE-2019-19921-style attacks redirect them).
		var st unix.Stat_t
		if err := unix.Fstat(int(target.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("%s must be mounted on a directory", typ)
		}
	}
	data := po.data
	if label := s.cfg.Spec.Linux.MountLabel; label != "" && typ != "proc" && typ != "sysfs" && typ != "" && typ != "mqueue" && !bind {
		if data != "" {
			data += ","
		}
		data += "context=\"" + label + "\""
	}
	flags := po.flags &^ unix.MS_REMOUNT
	// After a mount, the handle still names the covered directory; the
	// flag, propagation and attribute changes below must reach the new
	// mount, so they go through a fresh handle.
	reopen := func() error {
		nt, err := pathrs.OpenatInRoot(root, dest)
		if err != nil {
			return fmt.Errorf("reopen mount point: %w", err)
		}
		target.Close()
		target = nt
		tp = fdPath(target)
		return nil
	}
	if bind {
		if err := unix.Mount(src, tp, "", unix.MS_BIND|(flags&unix.MS_REC), ""); err != nil {
			return err
		}
		if err := reopen(); err != nil {
			return err
		}
		// A bind mount takes no other flags at creation: apply them with a
		// remount, keeping the flags the source had locked (user namespaces).
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			if err := remount(tp, rest|unix.MS_BIND); err != nil {
				return fmt.Errorf("remount %v: %w", m.Options, err)
			}
		}
	} else {
		if typ == "" {
			typ = "none"
		}
		if err := unix.Mount(src, tp, typ, flags, data); err != nil {
			if typ == "sysfs" && err == unix.EPERM && s.cfg.NewUserNS {
				// no netns of our own in a user namespace: bind the host's
				return unix.Mount("/sys", tp, "", unix.MS_BIND|unix.MS_REC, "")
			}
			return err
		}
		if len(po.propFlags) > 0 || po.recSet != 0 || po.recClr != 0 {
			if err := reopen(); err != nil {
				return err
			}
		}
	}
	for _, pf := range po.propFlags {
		if err := unix.Mount("", tp, "", pf, ""); err != nil {
			return fmt.Errorf("propagation: %w", err)
		}
	}
	if po.recSet != 0 || po.recClr != 0 {
		attr := &unix.MountAttr{Attr_set: po.recSet, Attr_clr: po.recClr}
		if err := unix.MountSetattr(int(target.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("recursive mount attributes: %w", err)
		}
	}
	return nil
}

func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// makeTarget creates dest inside root (a directory, or an empty file for
// a file bind mount) and returns an O_PATH handle to it.
func makeTarget(root *os.File, dest string, dir bool) (*os.File, error) {
	if dir {
		f, err := pathrs.MkdirAllHandle(root, dest, 0o755)
		if err != nil {
			return nil, fmt.Errorf("create mount point: %w", err)
		}
		return f, nil
	}
	parent, err := pathrs.MkdirAllHandle(root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, fmt.Errorf("create mount point parent: %w", err)
	}
	defer parent.Close()
	base := filepath.Base(dest)
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RDONLY, 0o644)
	if err != nil && err != unix.ELOOP && err != unix.EISDIR {
		return nil, fmt.Errorf("create mount point file: %w", err)
	}
	if err == nil {
		unix.Close(fd)
	}
	f, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return nil, fmt.Errorf("open mount point: %w", err)
	}
	return f, nil
}

// remount applies flags to an existing mount, adding the flags the kernel
// has locked on it when the plain remount is refused.
func remount(target string, flags uintptr) error {
	err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, "")
	if err != unix.EPERM {
		return err
	}
	var st unix.Statfs_t
	if e := unix.Statfs(target, &st); e != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	return unix.Mount("", target, "", flags|locked|unix.MS_REMOUNT, "")
}

func (s *stage) mountCgroup(root *os.File, dest string, po parsedMount) error {
	target, err := makeTarget(root, dest, true)
	if err != nil {
		return err
	}
	defer func() { target.Close() }()
	tp := fdPath(target)
	flags := po.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	ro := flags&unix.MS_RDONLY != 0
	cms := s.cfg.CgroupMounts
	if len(cms) == 1 && cms[0].Name == "" {
		// pure v2
		c := cms[0]
		if s.cfg.NewCgroupNS {
			return unix.Mount("cgroup2", tp, "cgroup2", flags, "")
		}
		if err := unix.Mount(c.HostPath, tp, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		if flags != 0 {
			nt, err := pathrs.OpenatInRoot(root, dest)
			if err != nil {
				return err
			}
			defer nt.Close()
			return remount(fdPath(nt), flags|unix.MS_BIND)
		}
		return nil
	}
	if err := unix.Mount("tmpfs", tp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("cgroup tmpfs: %w", err)
	}
	// The handle still names the directory under the new tmpfs: reopen.
	target.Close()
	if target, err = pathrs.OpenatInRoot(root, dest); err != nil {
		return fmt.Errorf("reopen cgroup mount point: %w", err)
	}
	tp = fdPath(target)
	for _, c := range cms {
		sub, err := pathrs.MkdirAllHandle(target, c.Name, 0o755)
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", c.Name, err)
		}
		sp := fdPath(sub)
		if s.cfg.NewCgroupNS {
			err = unix.Mount("cgroup", sp, c.Type, flags, c.Options)
		} else {
			err = unix.Mount(c.HostPath, sp, "", unix.MS_BIND, "")
			if err == nil && flags != 0 {
				var nsub *os.File
				if nsub, err = pathrs.OpenatInRoot(target, c.Name); err == nil {
					err = remount(fdPath(nsub), flags|unix.MS_BIND)
					nsub.Close()
				}
			}
		}
		sub.Close()
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", c.Name, err)
		}
	}
	// Co-mounted controllers appear under each of their names, like on the host.
	for _, c := range cms {
		if strings.Contains(c.Name, ",") {
			for _, n := range strings.Split(c.Name, ",") {
				unix.Symlinkat(c.Name, int(target.Fd()), n)
			}
		}
	}
	if ro {
		return remount(tp, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
	}
	return nil
}

var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

func createDevices(root *os.File, spec *specs.Spec, userns bool) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	seen := map[string]bool{}
	devs := append([]specs.LinuxDevice(nil), spec.Linux.Devices...)
	for _, d := range devs {
		seen[filepath.Clean(d.Path)] = true
	}
	for _, d := range defaultDevices {
		if !seen[d.Path] {
			mode := os.FileMode(0o666)
			d.FileMode = &mode
			devs = append(devs, d)
		}
	}
	for i, d := range devs {
		if err := createDevice(root, &d, userns); err != nil {
			if i < len(spec.Linux.Devices) {
				return fmt.Errorf("linux.devices[%d] %s: %w", i, d.Path, err)
			}
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	return nil
}

func createDevice(root *os.File, d *specs.LinuxDevice, userns bool) error {
	if !filepath.IsAbs(d.Path) {
		return fmt.Errorf("path must be absolute")
	}
	parent, err := pathrs.MkdirAllHandle(root, filepath.Dir(d.Path), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	base := filepath.Base(d.Path)
	if userns {
		// mknod is not allowed in a user namespace: bind the host's node.
		fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RDONLY, 0o644)
		if err != nil {
			return err
		}
		unix.Close(fd)
		t, err := pathrs.OpenatInRoot(parent, base)
		if err != nil {
			return err
		}
		defer t.Close()
		return unix.Mount(d.Path, fdPath(t), "", unix.MS_BIND, "")
	}
	var mode uint32
	switch d.Type {
	case "c", "u":
		mode = unix.S_IFCHR
	case "b":
		mode = unix.S_IFBLK
	case "p":
		mode = unix.S_IFIFO
	default:
		return fmt.Errorf("type %q: want c, b, u or p", d.Type)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(*d.FileMode & 0o7777)
	}
	unix.Unlinkat(int(parent.Fd()), base, 0)
	if err := unix.Mknodat(int(parent.Fd()), base, mode|perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	uid, gid := -1, -1
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if uid >= 0 || gid >= 0 {
		if err := unix.Fchownat(int(parent.Fd()), base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	return nil
}

func devSymlinks(rootfs string) error {
	links := [][2]string{
		{"/proc/self/fd", "dev/fd"},
		{"/proc/self/fd/0", "dev/stdin"},
		{"/proc/self/fd/1", "dev/stdout"},
		{"/proc/self/fd/2", "dev/stderr"},
		{"pts/ptmx", "dev/ptmx"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "dev/core"})
	}
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	dev, err := pathrs.OpenatInRoot(root, "/dev")
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dev.Close()
	for _, l := range links {
		name := strings.TrimPrefix(l[1], "dev/")
		if err := unix.Symlinkat(l[0], int(dev.Fd()), name); err != nil && err != unix.EEXIST {
			return fmt.Errorf("symlink /dev/%s: %w", name, err)
		}
	}
	return nil
}

// pivotRoot makes rootfs the root, through fds so no path is looked up
// twice, and detaches the old root.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	// Keep unmount events of the old root from reaching the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// moveRoot is --no-pivot: move the rootfs over / and chroot into it.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return err
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// finalizeRootfs runs after pivot_root: masked and read-only paths, then
// the read-only root.
func finalizeRootfs(spec *specs.Spec) error {
	for _, p := range spec.Linux.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
	}
	for _, p := range spec.Linux.MaskedPaths {
		if err := maskPath(p, spec.Linux.MountLabel); err != nil {
			return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
		}
	}
	if spec.Root != nil && spec.Root.Readonly {
		if err := remount("/", unix.MS_BIND|unix.MS_RDONLY); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	return nil
}

// openNoFollow opens p (already inside the new root) without following a
// final symlink; a symlink is refused, so a masked path cannot be pointed
// elsewhere.
func openNoFollow(p string) (*os.File, bool, error) {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, false, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		return nil, false, unix.ELOOP
	}
	return os.NewFile(uintptr(fd), p), st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

func maskPath(p, label string) error {
	f, dir, err := openNoFollow(p)
	if err != nil {
		if err == unix.ENOENT || err == unix.ELOOP {
			return nil
		}
		return err
	}
	defer f.Close()
	if dir {
		data := "size=0,mode=755"
		if label != "" {
			data += ",context=\"" + label + "\""
		}
		return unix.Mount("tmpfs", fdPath(f), "tmpfs", unix.MS_RDONLY, data)
	}
	return unix.Mount("/dev/null", fdPath(f), "", unix.MS_BIND, "")
}

func readonlyPath(p string) error {
	f, _, err := openNoFollow(p)
	if err != nil {
		if err == unix.ENOENT || err == unix.ELOOP {
			return nil
		}
		return err
	}
	defer f.Close()
	tp := fdPath(f)
	if err := unix.Mount(tp, tp, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	g, _, err := openNoFollow(p)
	if err != nil {
		return err
	}
	defer g.Close()
	return remount(fdPath(g), unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
}

// mountPointOf returns the mount point that holds path, from mountinfo.
func mountPointOf(path string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	best := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		mp := unescapeMount(fs[4])
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best = mp
		}
	}
	return best
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
