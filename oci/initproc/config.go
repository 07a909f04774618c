// Package initproc is the stage of berth's OCI runtime that runs inside the
// new container: it builds the root filesystem (mounts, devices,
// pivot_root, masked and read-only paths), applies the process attributes
// (hostname, sysctls, rlimits, user, capabilities, no_new_privs, seccomp)
// and execs the container process once `start` opens the exec fifo.
//
// It is split in two. The runtime compiles the spec into a Plan (Compile,
// in Go: every decision and every error message that names a config.json
// field), and sends it over a pipe to the re-exec'd runtime binary (through
// a sealed, read-only view of it), where stage.c, run from a constructor
// before the Go runtime exists, executes it and execs the container
// process: one process image and no Go runtime start on the way into a
// container. New namespaces are made at clone time by the runtime; joining
// existing mount or user namespaces (and exec) goes through nsenter.c in
// the same constructor first.
package initproc

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/oci/seccomp"
)

// Arg is argv[1] of the re-exec'd runtime binary that runs this stage.
const Arg = "__berth_init"

// Mode says what the stage prepares.
type Mode string

const (
	ModeInit Mode = "init" // a new container: rootfs, then wait for start
	ModeExec Mode = "exec" // a process joining a running container (nsenter did the setns)
)

// CgroupMount tells init how to present one cgroup hierarchy at the
// container's cgroup mount.
type CgroupMount struct {
	Name     string // directory under the mount point: "memory", "unified", ""(v2 root)
	Type     string // "cgroup" or "cgroup2"
	Options  string // mount data for a fresh mount in a new cgroup namespace ("memory", "name=systemd")
	HostPath string // the container's cgroup directory on the host, bind-mounted without a cgroup namespace
}

// Config is everything the init stage needs; Compile makes it a Plan.
type Config struct {
	Mode         Mode             `json:"mode"`
	ID           string           `json:"id"`
	Bundle       string           `json:"bundle"`
	Rootfs       string           `json:"rootfs"` // absolute host path
	Spec         *specs.Spec      `json:"spec"`
	Process      *specs.Process   `json:"process"` // the process to run (spec.Process for init)
	NoPivot      bool             `json:"noPivot,omitempty"`
	NoNewKeyring bool             `json:"noNewKeyring,omitempty"`
	PreserveFDs  int              `json:"preserveFds,omitempty"`
	Seccomp      *seccomp.Program `json:"-"`
	NewUserNS    bool             `json:"newUserNs,omitempty"`
	NewCgroupNS  bool             `json:"newCgroupNs,omitempty"`
	CgroupMounts []CgroupMount    `json:"cgroupMounts,omitempty"`
	// CgroupTasks are cgroup v1 directories init joins first thing, from
	// the thread that will exec, by writing 0 to their tasks files.
	CgroupTasks []string `json:"cgroupTasks,omitempty"`
	// Hostname/Domainname are applied only when the container has its own UTS namespace.
	SetHostname bool `json:"setHostname,omitempty"`
	// RuntimeHooks: the spec has prestart or createRuntime hooks, which
	// the runtime runs while init waits for them (MsgCreateRuntime).
	RuntimeHooks bool `json:"-"`
	// StartBySync: init waits for "start" on the sync socket instead of
	// an exec fifo (run: the runtime that creates it starts it).
	StartBySync bool `json:"-"`
	// Pid is the stage's pid in the runtime's pid namespace, for the state
	// that createContainer and startContainer hooks read.
	Pid int `json:"-"`
}
