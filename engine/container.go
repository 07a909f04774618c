package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Status values, Docker's words.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
	StatusRemoving   = "removing"
	StatusDead       = "dead"
	// statusStarting marks a start in progress; found with the lock free,
	// it is what a killed `berth start` left.
	statusStarting = "starting"
	// statusCreating: a killed `berth create` (the record exists, the rest may not).
	statusCreating = "creating"
)

// State is what the engine last knew of a container's life.
type State struct {
	Status       string    `json:"Status"`
	Pid          int       `json:"Pid"`
	ExitCode     int       `json:"ExitCode"`
	OOMKilled    bool      `json:"OOMKilled"`
	Error        string    `json:"Error"`
	StartedAt    time.Time `json:"StartedAt"`
	FinishedAt   time.Time `json:"FinishedAt"`
	RestartCount int       `json:"RestartCount"`
	// Mounted says the rootfs is mounted (cleanup must unmount it).
	Mounted bool `json:"Mounted,omitempty"`
	// CleanedUp says the runtime state, rootfs mount and network of the
	// last run are gone.
	CleanedUp bool `json:"CleanedUp,omitempty"`
}

// Running says whether the container's process lives (paused included).
func (s *State) Running() bool {
	switch s.Status {
	case StatusRunning, StatusPaused, StatusRestarting:
		return true
	}
	return false
}

// Container is the record of one container.
type Container struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Created time.Time `json:"Created"`
	Image   string    `json:"Image"`   // the name the user gave, normalised
	ImageID string    `json:"ImageID"` // config digest
	State   State     `json:"State"`

	Config     Config     `json:"Config"`
	HostConfig HostConfig `json:"HostConfig"`
	// ImageConfig is the image's config at create time: the spec is made
	// from it and Config at each start.
	ImageConfig ocispec.ImageConfig `json:"ImageConfig"`

	Snapshotter string `json:"Snapshotter"`
	SnapshotKey string `json:"SnapshotKey"`
	// Parent is the snapshot the rootfs was prepared on ("" for no layers).
	Parent string `json:"Parent,omitempty"`

	// Mounts are the volumes and binds, as inspect shows them.
	Mounts []MountPoint `json:"Mounts"`
	// NetworkRequests are the --network names (with --ip, --mac-address,
	// --network-alias) when given.
	NetworkRequests []NetworkRequest `json:"NetworkRequests,omitempty"`
	// Network is what the network layer returned at the last start.
	Network *NetworkState `json:"Network,omitempty"`
}

// Config is what the container runs (Docker's Config).
type Config struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	AttachStdin  bool                `json:"AttachStdin"`
	AttachStdout bool                `json:"AttachStdout"`
	AttachStderr bool                `json:"AttachStderr"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Entrypoint   []string            `json:"Entrypoint"`
	WorkingDir   string              `json:"WorkingDir"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
	Healthcheck  *Healthcheck        `json:"Healthcheck,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
}

// Healthcheck is Docker's HealthConfig.
type Healthcheck struct {
	Test        []string      `json:"Test"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// HostConfig is how the host runs it (Docker's HostConfig, the parts berth has).
type HostConfig struct {
	Binds             []string          `json:"Binds"`
	LogConfig         LogConfig         `json:"LogConfig"`
	NetworkMode       string            `json:"NetworkMode"`
	PortBindings      []PortBinding     `json:"PortBindings,omitempty"`
	PublishAllPorts   bool              `json:"PublishAllPorts"`
	RestartPolicy     RestartPolicy     `json:"RestartPolicy"`
	AutoRemove        bool              `json:"AutoRemove"`
	Runtime           string            `json:"Runtime"`
	Privileged        bool              `json:"Privileged"`
	ReadonlyRootfs    bool              `json:"ReadonlyRootfs"`
	CapAdd            []string          `json:"CapAdd"`
	CapDrop           []string          `json:"CapDrop"`
	SecurityOpt       []string          `json:"SecurityOpt"`
	Init              bool              `json:"Init,omitempty"`
	ShmSize           int64             `json:"ShmSize"`
	Sysctls           map[string]string `json:"Sysctls,omitempty"`
	Dns               []string          `json:"Dns"`
	DnsOptions        []string          `json:"DnsOptions"`
	Publish           []string          `json:"Publish,omitempty"`
	DnsSearch         []string          `json:"DnsSearch"`
	ExtraHosts        []string          `json:"ExtraHosts"`
	Tmpfs             map[string]string `json:"Tmpfs,omitempty"`
	Memory            int64             `json:"Memory"`
	MemoryReservation int64             `json:"MemoryReservation"`
	MemorySwap        int64             `json:"MemorySwap"`
	NanoCpus          int64             `json:"NanoCpus"`
	CpuShares         int64             `json:"CpuShares"`
	CpusetCpus        string            `json:"CpusetCpus"`
	PidsLimit         *int64            `json:"PidsLimit"`
	Ulimits           []Ulimit          `json:"Ulimits"`
	Devices           []string          `json:"Devices,omitempty"`
	GroupAdd          []string          `json:"GroupAdd,omitempty"`
	UsernsMode        string            `json:"UsernsMode"`
}

// Ulimit is one --ulimit.
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// LogConfig is --log-driver and --log-opt.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// RestartPolicy is --restart.
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// PortBinding is one published port.
type PortBinding struct {
	HostIP        string `json:"HostIp"`
	HostPort      uint16 `json:"HostPort"`
	ContainerPort uint16 `json:"ContainerPort"`
	Protocol      string `json:"Protocol"`
}

// MountPoint is a mount as `inspect` shows it.
type MountPoint struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
	// Anonymous volumes go with the container on `rm -v`.
	Anonymous bool `json:"Anonymous,omitempty"`
	// NoCopy: do not fill a new volume from the image.
	NoCopy bool `json:"NoCopy,omitempty"`
}

// NetworkState is the container's network at its last start.
type NetworkState struct {
	NetNS string `json:"NetNS,omitempty"`
	// Owned: berth made NetNS for this container (remove it at teardown).
	Owned bool `json:"Owned,omitempty"`
	// Attached: CNI networks were (maybe partly) attached: detach them.
	Attached bool `json:"Attached,omitempty"`
	// HostsFile is the network layer's hosts file for the container.
	HostsFile string `json:"HostsFile,omitempty"`
	// HostsFrom is the container whose namespace (and hosts) it shares.
	HostsFrom string              `json:"HostsFrom,omitempty"`
	Networks  map[string]Endpoint `json:"Networks,omitempty"`
	Ports     []PortBinding       `json:"Ports,omitempty"`
}

// Endpoint is the container's place on one network.
type Endpoint struct {
	IPAddress  string   `json:"IPAddress"`
	PrefixLen  int      `json:"IPPrefixLen"`
	Gateway    string   `json:"Gateway"`
	MacAddress string   `json:"MacAddress"`
	Aliases    []string `json:"Aliases,omitempty"`
	NetworkID  string   `json:"NetworkID,omitempty"`
	Interface  string   `json:"Interface,omitempty"`
}

func (e *Engine) recordPath(id string) string {
	return filepath.Join(e.containerDir(id), "container.json")
}

// save replaces the record atomically: readers see the old or the new one.
func (e *Engine) save(c *Container) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	p := e.recordPath(c.ID)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write record of %s: %w", c.ID, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("write record of %s: %w", c.ID, err)
	}
	return nil
}

// read loads a record without reconciling it.
func (e *Engine) read(id string) (*Container, error) {
	b, err := os.ReadFile(e.recordPath(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, err
	}
	var c Container
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("record %s: %w", e.recordPath(id), err)
	}
	return &c, nil
}

// ids lists the ids of every record.
func (e *Engine) ids() ([]string, error) {
	ents, err := os.ReadDir(e.containersDir())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ents {
		if d.IsDir() && len(d.Name()) == 64 {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// Resolve finds a container by full id, name, or unique id prefix.
func (e *Engine) Resolve(ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("%w: empty name", ErrNotFound)
	}
	name := strings.TrimPrefix(ref, "/")
	if len(ref) == 64 {
		if _, err := os.Stat(e.recordPath(ref)); err == nil {
			return ref, nil
		}
	}
	if id, err := os.Readlink(filepath.Join(e.namesDir(), name)); err == nil && validName(name) {
		if _, err := os.Stat(e.recordPath(id)); err == nil {
			return id, nil
		}
	}
	ids, err := e.ids()
	if err != nil {
		return "", err
	}
	var hits []string
	for _, id := range ids {
		if strings.HasPrefix(id, ref) {
			hits = append(hits, id)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	sort.Strings(hits)
	return "", fmt.Errorf("multiple containers match %q: %s", ref, strings.Join(hits, ", "))
}
