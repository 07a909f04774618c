package initproc

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/oci/caps"
)

// Registers of the stage (file descriptors the plan refers to).
const (
	rRoot   = 0 // the rootfs, bind-mounted onto itself
	rTarget = 1 // the mount point or directory being worked on
	rSub    = 2 // an entry under rTarget
)

// Main is reached only when this binary was started as an init stage
// without the environment the runtime gives it (the constructor in
// stage.go runs real stages and never returns).
func Main() {
	fmt.Fprintf(os.Stderr, "berth init: started without %s: run by the runtime only\n", EnvFDs)
	os.Exit(1)
}

// Compile turns cfg into the init stage's plan. Every decision that reads
// the spec is made here (bad values are reported with their config.json
// field); the stage only runs the resulting syscalls.
func Compile(cfg *Config) (*Plan, error) {
	c := &compiler{cfg: cfg, p: &Plan{}}
	var err error
	if cfg.Mode == ModeExec {
		err = c.exec()
	} else {
		err = c.init()
	}
	if err != nil {
		return nil, err
	}
	if c.p.err != nil {
		return nil, c.p.err
	}
	return c.p, nil
}

type compiler struct {
	cfg *Config
	p   *Plan
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (c *compiler) linux() *specs.Linux {
	if c.cfg.Spec != nil && c.cfg.Spec.Linux != nil {
		return c.cfg.Spec.Linux
	}
	return &specs.Linux{}
}

func (c *compiler) init() error {
	cfg, p := c.cfg, c.p
	spec, proc := cfg.Spec, cfg.Process
	if spec == nil || proc == nil {
		return fmt.Errorf("init: no spec or process")
	}
	lin := c.linux()
	for _, d := range cfg.CgroupTasks {
		// Only the thread that execs moves: the kernel skips its global
		// threadgroup lock (an RCU grace period) for a thread moving itself.
		p.add(opWrite, "join cgroup "+d, ints(0), d+"/tasks", "0")
	}
	if cfg.NewCgroupNS {
		// After the move into our cgroup, so that it is the namespace's root.
		p.add(opUnshare, "unshare cgroup namespace", ints(unix.CLONE_NEWCGROUP))
	}
	if !cfg.NoNewKeyring {
		p.add(opKeyring, "join session keyring", nil, "_ses."+cfg.ID)
	}
	mountNS := hasNS(lin, specs.MountNamespace)
	if mountNS {
		if err := c.rootfs(); err != nil {
			return err
		}
	} else {
		c.runtimeHooks()
		p.add(opChroot, "chroot "+cfg.Rootfs, nil, cfg.Rootfs)
	}
	if proc.Terminal {
		c.console(mountNS, false)
	}
	if cfg.SetHostname {
		if spec.Hostname != "" {
			p.add(opHostname, fmt.Sprintf("sethostname %q", spec.Hostname), nil, spec.Hostname)
		}
		if spec.Domainname != "" {
			p.add(opDomainname, fmt.Sprintf("setdomainname %q", spec.Domainname), nil, spec.Domainname)
		}
	}
	keys := make([]string, 0, len(lin.Sysctl))
	for k := range lin.Sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := lin.Sysctl[k]
		path := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if !strings.HasPrefix(path, "/proc/sys/") {
			return fmt.Errorf("linux.sysctl %q: invalid key", k)
		}
		p.add(opWrite, fmt.Sprintf("linux.sysctl %q=%q", k, v), ints(wrProcfs), path, v)
	}
	// After sysctls (which write under /proc/sys), like runc.
	if mountNS {
		for _, path := range lin.ReadonlyPaths {
			p.add(opReadonly, "linux.readonlyPaths "+path, nil, path)
		}
		for _, path := range lin.MaskedPaths {
			p.add(opMask, "linux.maskedPaths "+path, nil, path, withLabel("size=0,mode=755", lin.MountLabel))
		}
		if spec.Root != nil && spec.Root.Readonly {
			p.add(opRemount, "root.readonly", ints(-1, unix.MS_BIND|unix.MS_RDONLY), "/")
		}
	}
	if err := c.processAttrs(); err != nil {
		return err
	}
	return c.finalize(true)
}

// exec prepares a process joining a running container: the nsenter
// constructor has entered its namespaces and root, the runtime its cgroup.
func (c *compiler) exec() error {
	proc := c.cfg.Process
	if proc == nil {
		return fmt.Errorf("exec: no process")
	}
	if !hasNS(c.linux(), specs.MountNamespace) {
		// no mount namespace to enter: its root is where init chrooted
		c.p.add(opChroot, "chroot "+c.cfg.Rootfs, nil, c.cfg.Rootfs)
	}
	if proc.Terminal {
		// nsenter may have forked after entering the pid namespace: this
		// process is then not the session leader the runtime made, and a
		// controlling terminal needs one.
		c.console(false, true)
	}
	if err := c.processAttrs(); err != nil {
		return err
	}
	return c.finalize(false)
}

func withLabel(data, label string) string {
	if label == "" {
		return data
	}
	if data != "" {
		data += ","
	}
	return data + "context=\"" + label + "\""
}

func (c *compiler) console(bindConsole, setsid bool) {
	var rows, cols int64
	if cs := c.cfg.Process.ConsoleSize; cs != nil {
		rows, cols = int64(cs.Height), int64(cs.Width)
	}
	c.p.add(opConsole, "console", ints(b2i(bindConsole), b2i(setsid), rows, cols))
}

// rootfs runs in the new mount namespace: it makes the host's mounts
// invisible to propagation, mounts everything the spec asks for inside the
// rootfs (each target resolved inside the root by the stage, never through
// a symlink that leads out), creates devices, runs the createRuntime and
// createContainer hooks and pivots into the root.
func (c *compiler) rootfs() error {
	cfg, p := c.cfg, c.p
	spec, lin, rootfs := cfg.Spec, c.linux(), cfg.Rootfs
	// Before pivot, / gets slave (or the asked private/shared) propagation
	// so nothing we mount reaches the host; the asked propagation is set on
	// the new root after pivot_root (runc does the same), since an
	// unbindable root could not be bind-mounted here.
	prop := int64(unix.MS_SLAVE | unix.MS_REC)
	var after int64
	if rp := lin.RootfsPropagation; rp != "" {
		f, ok := propagationFlags[rp]
		if !ok {
			return fmt.Errorf("linux.rootfsPropagation %q: unknown", rp)
		}
		if f&(unix.MS_PRIVATE|unix.MS_SHARED) != 0 {
			prop = int64(f)
		}
		if f&unix.MS_PRIVATE == 0 {
			after = int64(f)
		}
	}
	p.add(opMount, "make / "+lin.RootfsPropagation, ints(prop, -1, 0), "", "/", "", "")
	if prop&unix.MS_SHARED != 0 {
		// pivot_root refuses a shared parent mount. The stage's mount
		// namespace is a copy of ours: its mount points are ours.
		if mp := mountPointOf(filepath.Dir(rootfs)); mp != "" {
			p.add(opMount, "", ints(unix.MS_PRIVATE, -1, mntIgnoreError), "", mp, "", "")
		}
	}
	p.add(opMount, "bind rootfs "+rootfs, ints(unix.MS_BIND|unix.MS_REC, -1, 0), rootfs, rootfs, "", "")
	p.add(opOpen, "open rootfs "+rootfs, ints(rRoot), rootfs)
	devBound := false
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		if err := c.mount(i, m); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
		if filepath.Clean("/"+m.Destination) == "/dev" && isBind(m) {
			devBound = true
		}
	}
	if cwd := cfg.Process.Cwd; cwd != "" && cwd != "/" {
		p.add(opResolve, "", ints(rTarget, rRoot, resDir|resOptional), cwd)
		p.add(opClose, "", ints(rTarget))
	}
	if !devBound {
		if err := c.devices(); err != nil {
			return err
		}
		c.devSymlinks()
	}
	c.runtimeHooks()
	if spec.Hooks != nil {
		for i, h := range spec.Hooks.CreateContainer {
			if err := c.hook("createContainer", i, h, specs.StateCreated); err != nil {
				return err
			}
		}
	}
	if cfg.NoPivot {
		p.add(opMoveRoot, "--no-pivot: move rootfs "+rootfs, nil, rootfs)
	} else {
		p.add(opPivot, "", nil, rootfs)
	}
	if after != 0 {
		p.add(opMount, "linux.rootfsPropagation "+lin.RootfsPropagation, ints(after, -1, 0), "", "/", "", "")
	}
	p.add(opClose, "", ints(rRoot))
	return nil
}

// runtimeHooks has init wait while the runtime runs the prestart and
// createRuntime hooks, if there are any (a round trip costs ~0.2 ms).
func (c *compiler) runtimeHooks() {
	if c.cfg.RuntimeHooks {
		c.p.add(opSync, "createRuntime hooks", nil, MsgCreateRuntime)
	}
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

// mount plans one spec mount inside the rootfs. The stage creates and
// opens the target inside the root and mounts onto /proc/self/fd/N of that
// handle, so a symlink swapped in afterwards cannot redirect it.
func (c *compiler) mount(i int, m *specs.Mount) error {
	p := c.p
	dest := m.Destination
	if dest == "" {
		return fmt.Errorf("destination is empty")
	}
	if !filepath.IsAbs(dest) {
		dest = "/" + dest
	}
	desc := fmt.Sprintf("mounts[%d] (%s on %s)", i, m.Type, m.Destination)
	po := parseOptions(m.Options)
	if po.idmap || len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return fmt.Errorf("idmapped mounts are not supported by this runtime yet")
	}
	bind := isBind(m)
	typ := m.Type
	if typ == "cgroup" || typ == "cgroup2" && !bind {
		c.cgroupMount(desc, dest, po)
		return nil
	}
	src := m.Source
	mode := int64(resDir)
	if bind {
		if src == "" {
			return fmt.Errorf("bind mount needs a source")
		}
		if !filepath.IsAbs(src) {
			src = filepath.Join(c.cfg.Bundle, src)
		}
		typ = ""
		st, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if !st.IsDir() {
			mode = resFile
		}
	}
	p.add(opResolve, desc+": create mount point", ints(rTarget, rRoot, mode), dest)
	if !bind && (typ == "proc" || typ == "sysfs") {
		// proc and sysfs only on a real directory (a symlink or file target
		// is how CVE-2019-19921-style attacks redirect them).
		p.add(opCheckDir, desc+": "+typ, ints(rTarget))
	}
	data := po.data
	if label := c.linux().MountLabel; label != "" && typ != "proc" && typ != "sysfs" && typ != "" && typ != "mqueue" {
		data = withLabel(data, label)
	}
	flags := int64(po.flags &^ unix.MS_REMOUNT)
	// After a mount, the handle still names the covered directory; flag,
	// propagation and attribute changes must reach the new mount, so they
	// go through a fresh handle.
	reopen := func() { p.add(opResolve, desc+": reopen mount point", ints(rTarget, rRoot, resOpen), dest) }
	if bind {
		p.add(opMount, desc, ints(unix.MS_BIND|(flags&unix.MS_REC), rTarget, 0), src, "", "", "")
		reopen()
		// A bind mount takes no other flags at creation: apply them with a
		// remount, keeping the flags the source had locked (user namespaces).
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			p.add(opRemount, fmt.Sprintf("%s: remount %v", desc, m.Options), ints(rTarget, rest|unix.MS_BIND), "")
		}
	} else {
		if typ == "" {
			typ = "none"
		}
		var mf int64
		if typ == "sysfs" && c.cfg.NewUserNS {
			// no netns of our own in a user namespace: bind the host's
			mf = mntSysfsFallback
		}
		p.add(opMount, desc, ints(flags, rTarget, mf), src, "", typ, data)
		if len(po.propFlags) > 0 || po.recSet != 0 || po.recClr != 0 {
			reopen()
		}
	}
	for _, pf := range po.propFlags {
		p.add(opMount, desc+": propagation", ints(int64(pf), rTarget, 0), "", "", "", "")
	}
	if po.recSet != 0 || po.recClr != 0 {
		p.add(opSetattr, desc+": recursive mount attributes", ints(rTarget, int64(po.recSet), int64(po.recClr)))
	}
	p.add(opClose, "", ints(rTarget))
	return nil
}

func (c *compiler) cgroupMount(desc, dest string, po parsedMount) {
	p, cfg := c.p, c.cfg
	flags := int64(po.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT))
	p.add(opResolve, desc+": create mount point", ints(rTarget, rRoot, resDir), dest)
	defer p.add(opClose, "", ints(rTarget))
	cms := cfg.CgroupMounts
	if len(cms) == 1 && cms[0].Name == "" {
		// pure v2
		if cfg.NewCgroupNS {
			p.add(opMount, desc, ints(flags, rTarget, 0), "cgroup2", "", "cgroup2", "")
			return
		}
		p.add(opMount, desc, ints(unix.MS_BIND, rTarget, 0), cms[0].HostPath, "", "", "")
		if flags != 0 {
			p.add(opResolve, desc+": reopen mount point", ints(rTarget, rRoot, resOpen), dest)
			p.add(opRemount, desc+": remount", ints(rTarget, flags|unix.MS_BIND), "")
		}
		return
	}
	p.add(opMount, desc+": cgroup tmpfs", ints(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, rTarget, 0), "tmpfs", "", "tmpfs", "mode=755")
	p.add(opResolve, desc+": reopen cgroup mount point", ints(rTarget, rRoot, resOpen), dest)
	if set, clr, ok := cgroupAttrs(flags, cfg); ok {
		// One recursive mount_setattr over the tmpfs and its binds
		// instead of reopening and remounting each bind (two ops of
		// ~5-10 µs per hierarchy on the init's path).
		for _, cm := range cms {
			d := desc + ": cgroup " + cm.Name
			p.add(opResolve, d, ints(rSub, rTarget, resDir), cm.Name)
			p.add(opMount, d, ints(unix.MS_BIND, rSub, 0), cm.HostPath, "", "", "")
			p.add(opClose, "", ints(rSub))
		}
		c.cgroupSymlinks(desc, cms)
		p.add(opSetattr, desc+": mount attributes", ints(rTarget, int64(set), int64(clr)))
		return
	}
	for _, cm := range cms {
		d := desc + ": cgroup " + cm.Name
		p.add(opResolve, d, ints(rSub, rTarget, resDir), cm.Name)
		if cfg.NewCgroupNS {
			p.add(opMount, d, ints(flags, rSub, 0), "cgroup", "", cm.Type, cm.Options)
		} else {
			p.add(opMount, d, ints(unix.MS_BIND, rSub, 0), cm.HostPath, "", "", "")
			if flags != 0 {
				p.add(opResolve, d, ints(rSub, rTarget, resOpen), cm.Name)
				p.add(opRemount, d, ints(rSub, flags|unix.MS_BIND), "")
			}
		}
		p.add(opClose, "", ints(rSub))
	}
	c.cgroupSymlinks(desc, cms)
	if flags&unix.MS_RDONLY != 0 {
		p.add(opRemount, desc+": read-only", ints(rTarget, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC), "")
	}
}

// cgroupSymlinks: co-mounted controllers appear under each of their
// names, like on the host.
func (c *compiler) cgroupSymlinks(desc string, cms []CgroupMount) {
	for _, cm := range cms {
		if strings.Contains(cm.Name, ",") {
			for _, n := range strings.Split(cm.Name, ",") {
				c.p.add(opSymlink, d2(desc, "symlink "+n), ints(rTarget, 1), cm.Name, n)
			}
		}
	}
}

// cgroupAttrs gives the mount_setattr attributes that make the v1 cgroup
// tmpfs and every bind under it what a bind remount with flags makes each
// bind (and the final read-only remount the tmpfs), when one recursive
// call can: the flags hold nosuid, nodev and noexec (the tmpfs's own) and
// nothing but ro and relatime beside, the hierarchies are bound (no cgroup
// namespace of the container's own), no user namespace locks flags, and
// the kernel has mount_setattr (5.12).
func cgroupAttrs(flags int64, cfg *Config) (set, clr uint64, ok bool) {
	const need = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if cfg.NewUserNS || cfg.NewCgroupNS || flags&need != need || flags&^(need|unix.MS_RDONLY|unix.MS_RELATIME) != 0 || !mountSetattrOK() {
		return 0, 0, false
	}
	set = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_RELATIME
	clr = unix.MOUNT_ATTR__ATIME | unix.MOUNT_ATTR_NODIRATIME
	if flags&unix.MS_RDONLY != 0 {
		set |= unix.MOUNT_ATTR_RDONLY
	} else {
		clr |= unix.MOUNT_ATTR_RDONLY
	}
	return set, clr, true
}

// mountSetattrOK: the kernel has mount_setattr(2) (an empty call fails
// with EBADF there, ENOSYS before 5.12).
var mountSetattrOK = sync.OnceValue(func() bool {
	return unix.MountSetattr(-1, "", unix.AT_EMPTY_PATH, &unix.MountAttr{}) != unix.ENOSYS
})

func d2(a, b string) string { return a + ": " + b }

var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

func (c *compiler) devices() error {
	p, lin := c.p, c.linux()
	seen := map[string]bool{}
	devs := append([]specs.LinuxDevice(nil), lin.Devices...)
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
	p.add(opUmask, "", ints(0))
	for i, d := range devs {
		desc := "device " + d.Path
		if i < len(lin.Devices) {
			desc = fmt.Sprintf("linux.devices[%d] %s", i, d.Path)
		}
		if !filepath.IsAbs(d.Path) {
			return fmt.Errorf("%s: path must be absolute", desc)
		}
		dir, base := filepath.Dir(d.Path), filepath.Base(d.Path)
		p.add(opResolve, desc, ints(rTarget, rRoot, resDir), dir)
		if c.cfg.NewUserNS {
			// mknod is not allowed in a user namespace: bind the host's node.
			p.add(opResolve, desc, ints(rSub, rTarget, resFile), base)
			p.add(opMount, desc+": bind", ints(unix.MS_BIND, rSub, 0), d.Path, "", "", "")
			p.add(opClose, "", ints(rSub))
		} else {
			var mode int64
			switch d.Type {
			case "c", "u":
				mode = unix.S_IFCHR
			case "b":
				mode = unix.S_IFBLK
			case "p":
				mode = unix.S_IFIFO
			default:
				return fmt.Errorf("%s: type %q: want c, b, u or p", desc, d.Type)
			}
			perm := int64(0o666)
			if d.FileMode != nil {
				perm = int64(*d.FileMode & 0o7777)
			}
			uid, gid := int64(-1), int64(-1)
			if d.UID != nil {
				uid = int64(*d.UID)
			}
			if d.GID != nil {
				gid = int64(*d.GID)
			}
			p.add(opMknod, desc, ints(rTarget, mode|perm, int64(unix.Mkdev(uint32(d.Major), uint32(d.Minor))), uid, gid), base)
		}
		p.add(opClose, "", ints(rTarget))
	}
	p.add(opUmask, "", ints(-1))
	return nil
}

func (c *compiler) devSymlinks() {
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
		{"pts/ptmx", "ptmx"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	c.p.add(opResolve, "open /dev", ints(rTarget, rRoot, resOpen), "/dev")
	for _, l := range links {
		c.p.add(opSymlink, "symlink /dev/"+l[1], ints(rTarget, 1), l[0], l[1])
	}
	c.p.add(opClose, "", ints(rTarget))
}

// hook plans one hook run by the stage in the container's namespaces.
func (c *compiler) hook(kind string, i int, h specs.Hook, status specs.ContainerState) error {
	desc := fmt.Sprintf("%s hook #%d (%s)", kind, i, h.Path)
	var timeout int64
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("%s: timeout must be positive, got %d", desc, *h.Timeout)
		}
		timeout = int64(*h.Timeout)
	}
	st := &specs.State{Version: specs.Version, ID: c.cfg.ID, Status: status, Pid: c.cfg.Pid,
		Bundle: c.cfg.Bundle, Annotations: c.cfg.Spec.Annotations}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	strs := append([]string{h.Path, string(state)}, h.Args...)
	c.p.add(opHook, desc, ints(timeout, int64(len(h.Args))), append(strs, h.Env...)...)
	return nil
}

// processAttrs plans rlimits, oom score, personality, scheduler, I/O
// priority (in that order, while the stage still has its capabilities),
// LSM labels and the executable lookup.
func (c *compiler) processAttrs() error {
	p, proc := c.p, c.cfg.Process
	for _, r := range proc.Rlimits {
		n, ok := Rlimits[r.Type]
		if !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", r.Type)
		}
		p.add(opRlimit, fmt.Sprintf("process.rlimits %s (soft %d, hard %d)", r.Type, r.Soft, r.Hard), ints(int64(n), int64(r.Soft), int64(r.Hard)))
	}
	if proc.OOMScoreAdj != nil {
		p.add(opWrite, fmt.Sprintf("process.oomScoreAdj %d", *proc.OOMScoreAdj), ints(wrProcfs), "/proc/self/oom_score_adj", strconv.Itoa(*proc.OOMScoreAdj))
	}
	if lin := c.linux(); lin.Personality != nil {
		var pers int64
		switch lin.Personality.Domain {
		case specs.PerLinux:
			pers = 0
		case specs.PerLinux32:
			pers = 0x0008
		default:
			return fmt.Errorf("linux.personality.domain %q: unknown", lin.Personality.Domain)
		}
		p.add(opPersonality, "personality", ints(pers))
	}
	if s := proc.Scheduler; s != nil {
		pol, ok := SchedPolicies[s.Policy]
		if !ok {
			return fmt.Errorf("process.scheduler.policy %q: unknown", s.Policy)
		}
		var flags uint64
		for _, f := range s.Flags {
			v, ok := schedFlags[f]
			if !ok {
				return fmt.Errorf("process.scheduler.flags %q: unknown", f)
			}
			flags |= v
		}
		p.add(opSched, fmt.Sprintf("process.scheduler (%s)", s.Policy),
			ints(int64(pol), int64(flags), int64(s.Nice), int64(s.Priority), int64(s.Runtime), int64(s.Deadline), int64(s.Period)))
	}
	if io := proc.IOPriority; io != nil {
		cl, ok := IOPrioClasses[io.Class]
		if !ok {
			return fmt.Errorf("process.ioPriority.class %q: unknown", io.Class)
		}
		if io.Priority < 0 || io.Priority > 7 {
			return fmt.Errorf("process.ioPriority.priority %d: want 0..7", io.Priority)
		}
		p.add(opIOPrio, "process.ioPriority", ints(int64(cl<<13|io.Priority)))
	}
	if prof := proc.ApparmorProfile; prof != "" {
		if !AppArmorEnabled() {
			return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", prof)
		}
		attr := "/proc/thread-self/attr/apparmor/exec"
		if _, err := os.Stat(attr); err != nil {
			attr = "/proc/thread-self/attr/exec"
		}
		p.add(opWrite, fmt.Sprintf("process.apparmorProfile %q", prof), ints(wrProcfs), attr, "exec "+prof)
	}
	if label := proc.SelinuxLabel; label != "" {
		if !SELinuxEnabled() {
			return fmt.Errorf("process.selinuxLabel %q: SELinux is not enabled on this host", label)
		}
		p.add(opWrite, fmt.Sprintf("process.selinuxLabel %q", label), ints(wrProcfs), "/proc/thread-self/attr/exec", label)
	}
	if len(proc.Args) == 0 {
		return fmt.Errorf("process.args is empty")
	}
	return nil
}

// lookPath plans the executable's lookup, as the user and in the cwd
// (a relative args[0] is relative to process.cwd), like runc.
func (c *compiler) lookPath() {
	proc := c.cfg.Process
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range proc.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	c.p.add(opLookPath, fmt.Sprintf("exec: %q", proc.Args[0]), nil, proc.Args[0], path)
}

// finalize plans the end: privileges dropped, seccomp loaded, "ready"
// reported, the start waited for (init only) and the exec.
func (c *compiler) finalize(waitStart bool) error {
	p, cfg, proc := c.p, c.cfg, c.cfg.Process
	cs, err := caps.Compile(proc.Capabilities)
	if err != nil {
		return err
	}
	prog := cfg.Seccomp
	// Mark every fd above the preserved ones close-on-exec, so nothing of
	// the runtime's reaches the container (CVE-2024-21626). Before any
	// seccomp filter, which may not allow close_range.
	p.add(opCloexecFrom, "close fds", ints(int64(3+cfg.PreserveFDs)))
	loaded := false
	loadSeccomp := func() {
		var b []byte
		for _, f := range prog.Filter {
			b = binary.NativeEndian.AppendUint16(b, f.Code)
			b = append(b, f.Jt, f.Jf)
			b = binary.NativeEndian.AppendUint32(b, f.K)
		}
		flags := prog.LoadFlags()
		p.add(opSeccomp, fmt.Sprintf("load seccomp filter (flags %#x)", flags), ints(int64(flags), b2i(prog.Notify)), string(b))
		loaded = true
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
	// while we still have it (runc does the same).
	if prog != nil && !proc.NoNewPrivileges {
		loadSeccomp()
	}
	cwd := proc.Cwd
	if cwd == "" {
		cwd = "/"
	}
	cwdDesc := fmt.Sprintf("chdir to cwd %q", cwd)
	// cwd first as root, so that directories without search permission for
	// the user still work; retried as the user below if that failed.
	p.add(opChdir, cwdDesc, ints(0), cwd)
	last := int64(caps.Last())
	p.add(opCapBset, "drop bounding capabilities", ints(int64(cs.Bounding), last))
	p.add(opKeepCaps, "keepcaps", ints(1))
	u := proc.User
	var groups []byte
	for _, g := range u.AdditionalGids {
		groups = binary.NativeEndian.AppendUint32(groups, g)
	}
	p.add(opSetUser, fmt.Sprintf("user %d:%d (groups %v)", u.UID, u.GID, u.AdditionalGids), ints(int64(u.UID), int64(u.GID)), string(groups))
	p.add(opKeepCaps, "keepcaps", ints(0))
	p.add(opCapSet, fmt.Sprintf("capset (effective %v, permitted %v, inheritable %v)", cs.Effective.List(), cs.Permitted.List(), cs.Inheritable.List()),
		ints(int64(cs.Effective), int64(cs.Permitted), int64(cs.Inheritable), int64(cs.Ambient), last))
	umask := int64(0o022)
	if u.Umask != nil {
		umask = int64(*u.Umask)
	}
	p.add(opUmask, "", ints(umask))
	p.add(opChdir, cwdDesc, ints(1), cwd)
	c.lookPath()
	if proc.NoNewPrivileges {
		p.add(opNNP, "set no_new_privs", nil)
	}
	// A notify filter's listener fd must reach the runtime during create:
	// load it before reporting ready (the last syscalls then run under it).
	if prog != nil && !loaded && prog.Notify && waitStart {
		loadSeccomp()
	}
	if waitStart {
		wait := int64(1)
		if cfg.StartBySync {
			wait = 2
		}
		p.add(opReady, "report ready", ints(wait))
		if h := cfg.Spec.Hooks; h != nil {
			for i, hk := range h.StartContainer {
				if err := c.hook("startContainer", i, hk, specs.StateRunning); err != nil {
					return err
				}
			}
		}
	}
	if prog != nil && !loaded {
		loadSeccomp()
	}
	if !waitStart {
		p.add(opReady, "report ready", ints(0))
	}
	strs := append(append([]string(nil), proc.Args...), proc.Env...)
	p.add(opExec, "exec "+proc.Args[0], ints(int64(len(proc.Args))), strs...)
	return nil
}

func hasNS(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	for _, n := range l.Namespaces {
		if n.Type == t {
			return true
		}
	}
	return false
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
