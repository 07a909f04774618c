package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config says which cgroup a Manager handles.
type Config struct {
	// Path is the spec's linux.cgroupsPath: "" means "/<ID>"; relative
	// paths are taken under "/"; the systemd form "slice:prefix:name"
	// becomes "/<slice dirs>/prefix-name.scope" (the driver stays cgroupfs).
	Path string
	// ID is the container id, used when Path is empty.
	ID string
	// Systemd says the runtime was given --systemd-cgroup.
	Systemd bool
	// Root is where cgroups are mounted; "" means /sys/fs/cgroup and the
	// host's layout. Any other value is treated as the root of a cgroup v2
	// tree (a cgroup2 mount such as /sys/fs/cgroup/unified, or a directory
	// populated with interface files in tests).
	Root string
}

// Manager creates, fills, joins, freezes, measures and removes the cgroup
// of one container.
type Manager interface {
	// Create makes the cgroup (every mounted v1 hierarchy, plus the unified
	// dir in hybrid mode, or the v2 dir) and applies r (r may be nil). On
	// failure it removes the dirs it made and names the failing spec field.
	Create(r *specs.LinuxResources) error
	// Apply moves pid into the cgroup in every hierarchy.
	Apply(pid int) error
	// OpenFD returns an O_DIRECTORY|O_CLOEXEC fd of the v2 cgroup dir for
	// clone3(CLONE_INTO_CGROUP); ok is false on v1 and hybrid hosts, where
	// one fd cannot place a process in every hierarchy.
	OpenFD() (fd int, ok bool, err error)
	// Set changes the limits of a live cgroup (`runc update`).
	Set(r *specs.LinuxResources) error
	// Freeze freezes every process and waits until the cgroup is frozen.
	Freeze() error
	// Thaw undoes Freeze.
	Thaw() error
	// FreezerState is "frozen", "thawed", or "" when there is no freezer.
	FreezerState() (string, error)
	// Stats reads usage counters (the data of `runc events --stats`).
	Stats() (*Stats, error)
	// Pids lists every process in the cgroup and its descendants.
	Pids() ([]int, error)
	// Kill signals every process in the cgroup.
	Kill(sig syscall.Signal) error
	// Destroy removes the cgroup dirs (with any child cgroups), retrying
	// briefly while dying tasks keep them busy. Missing dirs are no error.
	Destroy() error
	// Paths maps each v1 controller to its dir; the v2 dir is under "".
	Paths() map[string]string
	// Exists reports whether the cgroup dir exists.
	Exists() bool
}

type v1dir struct {
	dir         string
	controllers []string
}

type manager struct {
	path string
	mode Mode
	v1   []v1dir
	ctrl map[string]string // v1 controller → dir
	v2   string            // v2 dir, "" in legacy mode
	root string            // root of the cgroup2 tree, "" in legacy mode

	// cpusetDone is set by Create when it wrote the spec's cpus and mems
	// while initialising a new v1 cpuset dir.
	cpusetDone bool
}

// New returns the manager of the cgroup c names. It touches nothing on
// disk: Create makes the cgroup, and a manager made by New for an existing
// cgroup can Set, Stats, Kill or Destroy it.
func New(c Config) (Manager, error) {
	p, err := cgroupPath(c)
	if err != nil {
		return nil, err
	}
	m := &manager{path: p}
	root := c.Root
	if root == "" || filepath.Clean(root) == DefaultRoot {
		m.mode = HostMode()
		root = DefaultRoot
	} else {
		m.mode = Unified
		root = filepath.Clean(root)
	}
	switch m.mode {
	case Unified:
		m.root = root
	case Hybrid:
		m.root = root + "/unified"
	}
	if m.root != "" {
		m.v2 = m.root + p
	}
	if m.mode != Unified {
		hs := v1Mounts()
		if len(hs) == 0 {
			return nil, errors.New("cgroup: no cgroup v1 hierarchy is mounted")
		}
		m.ctrl = make(map[string]string, 16)
		for _, h := range hs {
			d := h.mount + p
			m.v1 = append(m.v1, v1dir{dir: d, controllers: h.controllers})
			for _, c := range h.controllers {
				m.ctrl[c] = d
			}
		}
	}
	return m, nil
}

func (m *manager) Paths() map[string]string {
	out := make(map[string]string, len(m.ctrl)+1)
	for c, d := range m.ctrl {
		out[c] = d
	}
	if m.v2 != "" {
		out[""] = m.v2
	}
	return out
}

func (m *manager) Exists() bool {
	if m.mode == Unified {
		return exists(m.v2)
	}
	return exists(m.v1[0].dir)
}

func (m *manager) Create(r *specs.LinuxResources) (err error) {
	var created []string
	defer func() {
		if err != nil {
			removeDirs(created)
		}
	}()
	if m.mode != Unified {
		for _, h := range m.v1 {
			start := len(created)
			if err := mkdirTracked(h.dir, &created); err != nil {
				return fmt.Errorf("cgroup: create: %w", err)
			}
			if has(h.controllers, "cpuset") {
				if err := initCpuset(created[start:], h.dir, r); err != nil {
					return err
				}
				m.cpusetDone = len(created) > start && created[len(created)-1] == h.dir
			}
		}
	}
	if m.v2 != "" {
		start := len(created)
		if err := mkdirTracked(m.v2, &created); err != nil {
			return fmt.Errorf("cgroup: create: %w", err)
		}
		if m.mode == Unified && len(created) > start {
			if err := enableControllers(m.root, m.v2); err != nil {
				return err
			}
		}
	}
	return m.set(r, true)
}

// initCpuset fills cpuset.cpus and cpuset.mems of freshly made v1 cpuset
// dirs from their parents: the kernel leaves them empty, and a task cannot
// join a cpuset without cpus and mems. The leaf takes the spec's values
// when given.
func initCpuset(dirs []string, leaf string, r *specs.LinuxResources) error {
	for _, d := range dirs {
		for _, f := range [2]struct{ file, field string }{{"cpuset.cpus", "cpu.cpus"}, {"cpuset.mems", "cpu.mems"}} {
			val := ""
			if d == leaf && r != nil && r.CPU != nil {
				if f.file == "cpuset.cpus" {
					val = r.CPU.Cpus
				} else {
					val = r.CPU.Mems
				}
			}
			if val == "" {
				v, err := readFile(filepath.Dir(d), f.file)
				if err != nil {
					return fmt.Errorf("cgroup: init cpuset %s: %w", d, err)
				}
				val = strings.TrimSpace(v)
				if val == "" {
					// Parent is empty too: nothing to inherit.
					continue
				}
			}
			if err := writeFile(d, f.file, val, f.field); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *manager) Set(r *specs.LinuxResources) error {
	if !m.Exists() {
		return fmt.Errorf("cgroup: set: %s does not exist", m.path)
	}
	return m.set(r, false)
}

func (m *manager) set(r *specs.LinuxResources, create bool) error {
	if r == nil {
		return nil
	}
	if m.mode == Unified {
		return setV2(m.v2, r, create)
	}
	return m.setV1(r, create)
}

func (m *manager) Apply(pid int) error {
	s := strconv.Itoa(pid)
	for _, h := range m.v1 {
		if err := rawWrite(h.dir+"/cgroup.procs", s); err != nil {
			return fmt.Errorf("cgroup: add pid %d to %s: %w", pid, h.dir, err)
		}
	}
	if m.v2 != "" {
		if err := rawWrite(m.v2+"/cgroup.procs", s); err != nil {
			return fmt.Errorf("cgroup: add pid %d to %s: %w", pid, m.v2, err)
		}
	}
	return nil
}

func (m *manager) OpenFD() (int, bool, error) {
	if m.mode != Unified {
		return -1, false, nil
	}
	fd, err := unix.Open(m.v2, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false, fmt.Errorf("cgroup: open %s: %w", m.v2, err)
	}
	return fd, true, nil
}

// pidsDir is the dir whose cgroup.procs lists the container's processes.
func (m *manager) pidsDir() string {
	if m.mode == Unified {
		return m.v2
	}
	for _, c := range []string{"pids", "freezer", "devices", "memory", "cpu"} {
		if d, ok := m.ctrl[c]; ok {
			return d
		}
	}
	return m.v1[0].dir
}

func (m *manager) Pids() ([]int, error) {
	var pids []int
	if err := walkProcs(m.pidsDir(), &pids); err != nil {
		return nil, fmt.Errorf("cgroup: list pids: %w", err)
	}
	return pids, nil
}

// walkProcs appends the pids of dir and of its child cgroups.
func walkProcs(dir string, pids *[]int) error {
	s, err := readFile(dir, "cgroup.procs")
	if err != nil {
		return err
	}
	for _, f := range strings.Fields(s) {
		if p, err := strconv.Atoi(f); err == nil {
			*pids = append(*pids, p)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := walkProcs(dir+"/"+e.Name(), pids); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

func (m *manager) Kill(sig syscall.Signal) error {
	killed := false
	if sig == unix.SIGKILL && m.v2 != "" {
		// cgroup.kill (Linux 5.14) kills the whole subtree atomically, with
		// no race against forks. In hybrid mode Apply put our processes in
		// the unified dir too, so it works there as well.
		err := rawWrite(m.v2+"/cgroup.kill", "1")
		switch {
		case err == nil && m.mode == Unified:
			return nil
		case err == nil:
			// Hybrid: also signal whatever v1 lists, in case a process
			// joined the v1 hierarchies only.
			killed = true
		case err == unix.ENOENT && !exists(m.v2):
			if m.mode == Unified {
				return nil
			}
		case err != unix.ENOENT:
			return fmt.Errorf("cgroup: kill: write %s/cgroup.kill: %w", m.v2, err)
		}
	}
	// Freeze first so no process can fork a new one behind our back.
	frozen := false
	if !killed {
		if st, err := m.FreezerState(); err == nil && st == "thawed" {
			frozen = m.Freeze() == nil
		}
	}
	pids, err := m.Pids()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	var first error
	for _, p := range pids {
		if err := unix.Kill(p, sig); err != nil && err != unix.ESRCH && first == nil {
			first = fmt.Errorf("cgroup: kill %d: %w", p, err)
		}
	}
	if frozen {
		if err := m.Thaw(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (m *manager) Destroy() error {
	var first error
	for _, h := range m.v1 {
		if err := removeTree(h.dir); err != nil && first == nil {
			first = err
		}
	}
	if m.v2 != "" {
		if err := removeTree(m.v2); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// removeTree removes a cgroup dir and its child cgroups. Dying tasks keep
// a cgroup busy for a short while, so EBUSY is retried with backoff.
func removeTree(dir string) error {
	delay := time.Millisecond
	for attempt := 0; ; attempt++ {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err == unix.ENOTEMPTY || err == unix.EBUSY {
			if children := childDirs(dir); len(children) > 0 {
				for _, c := range children {
					if cerr := removeTree(c); cerr != nil {
						return cerr
					}
				}
				continue
			}
		}
		if err == unix.EBUSY && attempt < 10 {
			time.Sleep(delay)
			delay = min(2*delay, 100*time.Millisecond)
			continue
		}
		return fmt.Errorf("cgroup: remove %s: %w", dir, err)
	}
}

func childDirs(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, dir+"/"+e.Name())
		}
	}
	return out
}

// removeDirs undoes mkdirTracked: leaves first.
func removeDirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = removeTree(dirs[i])
	}
}
