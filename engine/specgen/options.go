package specgen

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Options is everything that shapes a container's runtime spec: the image's
// config plus the flags of `berth run`/`create`, already parsed.
type Options struct {
	Image  ocispec.ImageConfig
	Rootfs string // the container's mounted root filesystem; becomes root.path

	Cmd        []string  // args after the image name
	Entrypoint *[]string // nil: not given; empty or {""}: reset (--entrypoint "")
	Env        []string  // KEY=VAL from -e and --env-file, in order

	WorkingDir string   // -w; default: the image's, then "/"
	User       string   // -u name|uid[:group|gid]; default: the image's
	GroupAdd   []string // --group-add names or gids

	Hostname, Domainname string
	Tty, OpenStdin       bool
	ConsoleSize          *specs.Box // initial terminal size (Tty only)

	ReadOnly        bool
	Privileged      bool
	CapAdd, CapDrop []string // "NET_ADMIN", "CAP_NET_ADMIN", "ALL"
	Seccomp         string   // "" or "builtin": default profile; "unconfined"; or a profile file
	NoNewPrivileges bool
	AppArmor        string // profile name; error when set and the host has no AppArmor
	SELinuxLabel    string // process label; "disable" or "": none

	Mounts            []specs.Mount // resolved binds, volumes and tmpfs
	Devices           []Device      // --device
	DeviceCgroupRules []string      // --device-cgroup-rule "c 1:3 rwm"
	Ulimits           []specs.POSIXRlimit
	Sysctls           map[string]string
	ShmSize           int64 // bytes; 0: 64 MiB
	OOMScoreAdj       int
	Resources         Resources
	CgroupsPath       string
	Namespaces        Namespaces

	// Files the engine wrote, bind-mounted rw (ro with ReadOnly) at
	// /etc/hosts, /etc/resolv.conf and /etc/hostname unless a mount
	// already targets them.
	HostsFile, ResolvConf, HostnameFile string

	// Init is the host path of an init binary (catatonit, tini, docker-init)
	// for --init: bound at /sbin/docker-init and put in front of the args.
	Init string

	Labels      map[string]string // container labels: not part of the spec (see MergeLabels)
	Annotations map[string]string
	StopSignal  string // --stop-signal; validated here, used by the engine
}

// Resources are the cgroup limits of `docker run`, in Docker's units.
type Resources struct {
	Memory            int64  // bytes; 0: none
	MemoryReservation int64  // bytes
	MemorySwap        int64  // memory+swap bytes; -1 unlimited, 0 twice Memory when Memory is set
	MemorySwappiness  *int64 // 0-100; nil or -1: kernel default
	OomKillDisable    *bool
	NanoCPUs          int64 // --cpus * 1e9
	CPUPeriod         int64 // µs
	CPUQuota          int64 // µs
	CPUShares         int64
	CPUSetCPUs        string
	CPUSetMems        string
	PidsLimit         int64  // 0: none; <0: unlimited
	BlkioWeight       uint16 // 10-1000; 0: none
}

// Namespaces says which namespaces the container shares with the host or
// another container; the zero value gives each its own, as Docker does.
type Namespaces struct {
	NetworkHost   bool   // --network host
	NetworkPath   string // "" new netns, "host", or a netns path to join (the engine's CNI netns)
	NetworkShared bool   // the joined netns is another container's (--network container:X)

	PIDHost bool
	PIDPath string // join this pid namespace (--pid container:X)

	IPCHost bool
	IPCPath string // join this ipc namespace (--ipc container:X)
	IPCNone bool   // --ipc none: no /dev/shm
	ShmPath string // host dir bind-mounted at /dev/shm instead of a tmpfs (shareable IPC)

	UTSHost bool

	Cgroup string // "" Docker's default (private on cgroup v2, host on v1), "host", "private"
}

// Device is one --device: a host node (or a directory of nodes) exposed in
// the container with the given cgroup permissions.
type Device struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string // some of "rwm"
}
