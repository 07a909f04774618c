package oci

import (
	"encoding/json"
	"encoding/json/jsontext"
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

	"github.com/berth-dev/berth/oci/cgroups"
	"github.com/berth-dev/berth/oci/specjson"
)

// Status values beyond the spec's.
const (
	StatusPaused specs.ContainerState = "paused"
)

// ErrNotExist is returned for an id with no container.
var ErrNotExist = errors.New("container does not exist")

// ErrExist is returned when the id is taken.
var ErrExist = errors.New("container already exists")

// ErrBadID is returned for ids that cannot name a container.
var ErrBadID = errors.New("invalid container id")

// ErrState is wrapped when an operation does not fit the container's status.
var ErrState = errors.New("invalid container state")

// validIDChar is runc's id alphabet, [\w+\-.] (a regexp would be
// compiled at every start of the runtime).
func validIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '+' || c == '-' || c == '.'
}

// ValidateID checks that id is safe as a directory name.
func ValidateID(id string) error {
	ok := id != "" && len(id) <= 1024 && id != "." && id != ".."
	for i := 0; ok && i < len(id); i++ {
		ok = validIDChar(id[i])
	}
	if !ok {
		return fmt.Errorf("%w %q: use letters, digits, '_', '+', '-' and '.'", ErrBadID, id)
	}
	return nil
}

// State is what the runtime keeps on disk for one container
// (<root>/<id>/state.json).
type State struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"` // /proc/PID/stat starttime, against pid reuse
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Cgroup      cgroups.Config    `json:"cgroup"`
	Spec        *specs.Spec       `json:"spec"`
	// Namespaces maps a namespace type to the path a process joins to
	// enter the container's (for exec), recorded at create.
	Namespaces map[string]string `json:"namespaces,omitempty"`
	Rootless   bool              `json:"rootless,omitempty"`
	// Creating is set while a create works on the container; the creator
	// (CreatorPid, started at CreatorStart) holds an exclusive flock on the
	// state file meanwhile. A record still creating whose creator is gone
	// is what a killed create left: stopped, for delete to clean up.
	Creating     bool   `json:"creating,omitempty"`
	CreatorPid   int    `json:"creatorPid,omitempty"`
	CreatorStart uint64 `json:"creatorStart,omitempty"`
}

// UnmarshalJSON decodes a state file with its spec decoded by specjson:
// start, kill, delete and the other commands an engine runs per container
// each load a state, and encoding/json's first decode of a spec costs a
// process ~0.3 ms of reflection.
func (s *State) UnmarshalJSON(b []byte) error {
	type plain State // without this method
	var f struct {
		plain
		Spec json.RawMessage `json:"spec"` // shadows plain.Spec
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*s = State(f.plain)
	if len(f.Spec) == 0 || string(f.Spec) == "null" {
		return nil
	}
	s.Spec = new(specs.Spec)
	if err := specjson.Unmarshal(f.Spec, s.Spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	return nil
}

// Container is a container found under a runtime root.
//
// Its state is one file, <root>/<id>.json, and while it waits for start an
// exec fifo <root>/<id>.fifo (runc keeps a directory with both): every
// file made and removed per container costs an inode allocation, which on
// a journal-less ext4 with container churn (this host's /run and /tmp)
// costs up to a millisecond each.
type Container struct {
	rt    *Runtime
	id    string
	State State
	// claim is the state file create made empty (O_EXCL); the first save
	// fills it in place, later ones replace it atomically.
	claim *os.File
}

func statePath(root, id string) string { return filepath.Join(root, id+".json") }
func fifoPath(root, id string) string  { return filepath.Join(root, id+".fifo") }

func (c *Container) statePath() string { return statePath(c.rt.Root, c.id) }
func (c *Container) fifoPath() string  { return fifoPath(c.rt.Root, c.id) }

// save writes the state. During create it goes into the file create
// claimed and locked, in place (a reader meanwhile may see it empty or
// torn: a container being created, not found), and the last save of
// create, with Creating off, releases it. Later saves replace the file
// atomically.
func (c *Container) save() error {
	b, err := json.Marshal(&c.State)
	if err != nil {
		return err
	}
	return c.write(b)
}

// saveCreating writes the record create makes before anything else
// exists (see creatingJSON).
func (c *Container) saveCreating() error {
	b, err := c.State.creatingJSON()
	if err != nil {
		return c.save()
	}
	return c.write(b)
}

// creatingJSON encodes a state holding only what create records first
// (id, bundle, rootfs, cgroup, rootless, creator), as json.Marshal would
// up to field order and spacing: encoding/json's first use of State costs
// ~0.1 ms of reflection, on create's path before the clone.
func (s *State) creatingJSON() ([]byte, error) {
	if s.Pid != 0 || s.PidStart != 0 || !s.Created.IsZero() || s.Owner != "" || len(s.Annotations) > 0 ||
		s.Spec != nil || len(s.Namespaces) > 0 || s.Cgroup.Root != "" {
		return nil, errors.New("not a creating record")
	}
	b := make([]byte, 0, 512)
	var err error
	str := func(k, v string) {
		if err == nil {
			b = append(b, `"`+k+`":`...)
			b, err = jsontext.AppendQuote(b, v)
			b = append(b, ',')
		}
	}
	b = append(b, '{')
	str("id", s.ID)
	str("bundle", s.Bundle)
	str("rootfs", s.Rootfs)
	b = append(b, `"cgroup":{`...)
	str("Path", s.Cgroup.Path)
	str("ID", s.Cgroup.ID)
	b = append(b, `"Systemd":`+strconv.FormatBool(s.Cgroup.Systemd)+`},`...)
	b = append(b, `"spec":null,"rootless":`+strconv.FormatBool(s.Rootless)+`,"creating":`+strconv.FormatBool(s.Creating)...)
	b = append(b, `,"creatorPid":`+strconv.Itoa(s.CreatorPid)+`,"creatorStart":`+strconv.FormatUint(s.CreatorStart, 10)+`}`...)
	return b, err
}

// write puts b in the state file (see save).
func (c *Container) write(b []byte) error {
	if f := c.claim; f != nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err == nil && st.Nlink == 0 {
			return fmt.Errorf("state file %s was removed while the container was being created", f.Name())
		}
		_, err := f.WriteAt(b, 0)
		if err == nil {
			err = f.Truncate(int64(len(b)))
		}
		if err != nil {
			return fmt.Errorf("write state %s: %w", f.Name(), err)
		}
		if !c.State.Creating {
			c.claim = nil
			return f.Close() // and the lock
		}
		return nil
	}
	tmp := c.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return os.Rename(tmp, c.statePath())
}

// lockCreating takes, without waiting, the lock a live create holds on
// the state file: for removing what a create left. The returned file
// holds the lock until closed.
func (c *Container) lockCreating() (*os.File, error) {
	f, err := os.OpenFile(c.statePath(), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("container %q is being created: %w", c.id, ErrState)
		}
		return nil, err
	}
	return f, nil
}

// creatorAlive reports whether the create that works on the container
// still runs.
func (c *Container) creatorAlive() bool {
	st, ok := pidStart(c.State.CreatorPid)
	return c.State.CreatorPid > 0 && ok && st == c.State.CreatorStart
}

// remove deletes the container's files.
func (c *Container) remove() error {
	os.Remove(c.fifoPath())
	if err := os.Remove(c.statePath()); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// Load reads the container id from the runtime root.
func (r *Runtime) Load(id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(statePath(r.Root, id))
	if err == nil && (len(b) == 0 || !json.Valid(b)) {
		// claimed by a create that has not written it yet (or was
		// killed before), or caught while create rewrites it
		return nil, fmt.Errorf("container %q: being created or left by a killed create: %w", id, ErrNotExist)
	}
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("container %q: read state: %w", id, err)
	}
	c := &Container{rt: r, id: id}
	if err := json.Unmarshal(b, &c.State); err != nil {
		return nil, fmt.Errorf("container %q: corrupt state.json: %w", id, err)
	}
	return c, nil
}

// pidStart reads the start time (field 22) of pid, or 0 if it is gone.
// A zombie counts as gone: its container has exited.
func pidStart(pid int) (start uint64, alive bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n, true
}

// alive reports whether the container's init is still the process we made.
func (c *Container) alive() bool {
	if c.State.Pid <= 0 {
		return false
	}
	st, ok := pidStart(c.State.Pid)
	return ok && (c.State.PidStart == 0 || st == c.State.PidStart)
}

// Status derives the status from the process and the exec fifo.
func (c *Container) Status() specs.ContainerState {
	if c.State.Creating {
		if c.creatorAlive() {
			return specs.StateCreating
		}
		return specs.StateStopped // left by a killed create
	}
	if !c.alive() {
		return specs.StateStopped
	}
	if _, err := os.Lstat(c.fifoPath()); err == nil {
		return specs.StateCreated
	}
	if m, err := c.cgroup(); err == nil {
		if s, _ := m.FreezerState(); s == "frozen" {
			return StatusPaused
		}
	}
	return specs.StateRunning
}

func (c *Container) cgroup() (cgroups.Manager, error) {
	return cgroups.New(c.State.Cgroup)
}

// SpecState is the state as the OCI spec (and `runc state`) prints it.
type SpecState struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// SpecState returns the state for `state` and hooks.
func (c *Container) SpecState() SpecState {
	st := c.Status()
	pid := c.State.Pid
	if st == specs.StateStopped {
		pid = 0
	}
	return SpecState{
		State: specs.State{Version: specs.Version, ID: c.State.ID, Status: st, Pid: pid,
			Bundle: c.State.Bundle, Annotations: c.State.Annotations},
		Rootfs: c.State.Rootfs, Created: c.State.Created, Owner: c.State.Owner,
	}
}

func (c *Container) hookState(st specs.ContainerState) *specs.State {
	return &specs.State{Version: specs.Version, ID: c.State.ID, Status: st, Pid: c.State.Pid,
		Bundle: c.State.Bundle, Annotations: c.State.Annotations}
}

// List returns every container under the root, sorted by creation.
func (r *Runtime) List() ([]*Container, error) {
	ents, err := os.ReadDir(r.Root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		c, err := r.Load(id)
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseSignal accepts "KILL", "SIGKILL", "9" and "SIGRTMIN+3".
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if strings.HasPrefix(name, "SIGRTMIN") || strings.HasPrefix(name, "SIGRTMAX") {
		base, off := 34, 0
		if strings.HasPrefix(name, "SIGRTMAX") {
			base = 64
		}
		rest := name[8:]
		if rest != "" {
			n, err := strconv.Atoi(rest)
			if err != nil || (base == 34 && n < 0) || (base == 64 && n > 0) {
				return 0, fmt.Errorf("invalid signal %q", s)
			}
			off = n
		}
		sig := base + off
		if sig < 34 || sig > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return syscall.Signal(sig), nil
	}
	if n := unix.SignalNum(name); n != 0 {
		return n, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

// hooks are the spec's hooks (nil without a spec).
func (c *Container) hooks() *specs.Hooks {
	if c.State.Spec == nil {
		return nil
	}
	return c.State.Spec.Hooks
}
