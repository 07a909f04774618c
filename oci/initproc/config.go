// Package initproc is the stage of berth's OCI runtime that runs inside the
// new container: it receives its configuration from the runtime over a pipe,
// builds the root filesystem (mounts, devices, pivot_root, masked and
// read-only paths), applies the process attributes (hostname, sysctls,
// rlimits, user, capabilities, no_new_privs, seccomp) and execs the
// container process once `start` opens the exec fifo.
//
// The same binary runs it: the runtime re-execs itself (through a sealed,
// read-only copy of its executable) with Arg as argv[1]. New namespaces are
// created at clone time by the runtime, so this stage starts inside them.
package initproc

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Arg is argv[1] of the re-exec'd runtime binary that runs this stage.
const Arg = "__berth_init"

// EnvFDs names the env var that carries "sync,config,fifo" fd numbers.
const EnvFDs = "_BERTH_INIT_FDS"

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

// Config is everything the init stage needs, sent as JSON by the runtime.
type Config struct {
	Mode         Mode           `json:"mode"`
	ID           string         `json:"id"`
	Bundle       string         `json:"bundle"`
	Rootfs       string         `json:"rootfs"` // absolute host path
	Spec         *specs.Spec    `json:"spec"`
	Process      *specs.Process `json:"process"` // the process to run (spec.Process for init)
	NoPivot      bool           `json:"noPivot,omitempty"`
	NoNewKeyring bool           `json:"noNewKeyring,omitempty"`
	PreserveFDs  int            `json:"preserveFds,omitempty"`
	Seccomp      []byte         `json:"seccomp,omitempty"` // seccomp.Program, marshalled
	NewUserNS    bool           `json:"newUserNs,omitempty"`
	NewCgroupNS  bool           `json:"newCgroupNs,omitempty"`
	CgroupMounts []CgroupMount  `json:"cgroupMounts,omitempty"`
	// CgroupTasks are cgroup v1 directories init joins first thing, from
	// the thread that will exec, by writing 0 to their tasks files.
	CgroupTasks []string `json:"cgroupTasks,omitempty"`
	// Hostname/Domainname are applied only when the container has its own UTS namespace.
	SetHostname bool `json:"setHostname,omitempty"`
}
