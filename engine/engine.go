// Package engine holds containers as users see them (create, start, stop,
// rm, exec, logs, inspect) on top of the image store, the snapshotters, the
// OCI runtime and the per-container monitor (package shim).
//
// berth is daemonless: every command opens the on-disk state, works on it
// under per-container locks and exits. A container's truth is split the way
// it happens: the record (container.json, written by the engine) says what
// was asked and the last state the engine saw; the monitor's state.json says
// what the container did since (exit code, restarts, OOM). Load reconciles
// the two, so a killed command or an exit nobody watched is repaired by the
// next command that looks.
//
// State:
//
//	<root>/containers/<id>/container.json  the record (replaced atomically)
//	<root>/containers/<id>/config.json     the OCI bundle (rootfs/ is the mount point)
//	<root>/containers/<id>/{hosts,hostname,resolv.conf,<id>-json.log}
//	<root>/containers/names/<name>         symlink to the id: claimed atomically
//	<runroot>/s/<id>/                      the monitor's dir: attach socket, state.json, pid
//	<runroot>/runtime/                     the OCI runtime's --root
//	<runroot>/locks/<id>                   per-container flock
//
// Records are files rather than rows of one database: creating, starting or
// removing one container never waits for another's I/O, and 50 parallel
// `run -d` contend on nothing but the names directory.
package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Options locate the engine's state and tools.
type Options struct {
	Root    string // persistent state (default /var/lib/berth)
	RunRoot string // runtime state (default /run/berth)
	// Runtime is the OCI runtime binary. Empty: berth's own (berth-runc
	// beside Exe, else Exe invoked as `runtime`).
	Runtime string
	// Exe is the berth binary: it hosts the monitor and runs cleanups.
	// Empty: os.Executable().
	Exe string
}

// Engine is an open view of the state under Root and RunRoot.
type Engine struct {
	root, runroot string
	exe           string
	shimExe       string   // binary the monitors run from
	runtime       string   // default runtime binary
	runtimeArgs   []string // leading args for the default runtime ("runtime" when it is Exe)
	// prepared: container id -> preparedMounts, from its create by this
	// process.
	prepared sync.Map
	// held: container id -> *heldContainer, from its create by this
	// process for a start that follows.
	held sync.Map
}

// Errors callers tell apart.
var (
	ErrNotFound = errors.New("No such container")   //nolint:staticcheck // Docker's wording
	ErrNameUsed = errors.New("name already in use") //
	ErrState    = errors.New("invalid container state")
)

// New opens the engine state, creating its directories.
func New(o Options) (*Engine, error) {
	if o.Root == "" || o.RunRoot == "" {
		return nil, errors.New("engine: root and runroot are required")
	}
	e := &Engine{root: o.Root, runroot: o.RunRoot, exe: o.Exe}
	if e.exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the berth binary: %w", err)
		}
		e.exe = exe
	}
	e.runtime = o.Runtime
	e.shimExe = e.exe
	if e.runtime == "" {
		sib := filepath.Join(filepath.Dir(e.exe), "berth-runc")
		if fi, err := os.Stat(sib); err == nil && fi.Mode().IsRegular() {
			// It links the monitor too, and maps a third of berth's pages.
			e.runtime, e.shimExe = sib, sib
		} else {
			e.runtime, e.runtimeArgs = e.exe, []string{"runtime"}
		}
	}
	for _, d := range []string{e.containersDir(), e.namesDir(), filepath.Join(e.runroot, "s"), e.runtimeRoot(), e.locksDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("engine state: %w", err)
		}
	}
	return e, nil
}

// Root and RunRoot return the state directories.
func (e *Engine) Root() string    { return e.root }
func (e *Engine) RunRoot() string { return e.runroot }

func (e *Engine) containersDir() string         { return filepath.Join(e.root, "containers") }
func (e *Engine) namesDir() string              { return filepath.Join(e.root, "containers", "names") }
func (e *Engine) locksDir() string              { return filepath.Join(e.runroot, "locks") }
func (e *Engine) runtimeRoot() string           { return filepath.Join(e.runroot, "runtime") }
func (e *Engine) containerDir(id string) string { return filepath.Join(e.containersDir(), id) }
func (e *Engine) shimDir(id string) string      { return filepath.Join(e.runroot, "s", id) }
func (e *Engine) rootfs(id string) string       { return filepath.Join(e.containerDir(id), "rootfs") }
