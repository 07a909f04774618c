package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// InspectState is Docker's ContainerState.
type InspectState struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
	Health     *Health `json:",omitempty"`
}

// Health is Docker's Health object, as the monitor writes it.
type Health struct {
	Status        string
	FailingStreak int
	Log           []HealthResult
}

// HealthResult is one health check run.
type HealthResult struct {
	Start    string
	End      string
	ExitCode int
	Output   string
}

// InspectConfig is Docker's container Config.
type InspectConfig struct {
	Config
	Image string
}

// InspectNetwork is Docker's NetworkSettings.
type InspectNetwork struct {
	Bridge      string
	SandboxID   string
	SandboxKey  string
	Ports       map[string][]HostPort
	IPAddress   string
	IPPrefixLen int
	Gateway     string
	MacAddress  string
	Networks    map[string]Endpoint
}

// InspectHostConfig is HostConfig with Docker's shape of PortBindings
// ("80/tcp": [{HostIp, HostPort}]); the record keeps a list.
type InspectHostConfig struct {
	HostConfig
	PortBindings map[string][]HostPort `json:"PortBindings"`
}

// HostPort is one binding of a published port.
type HostPort struct {
	HostIp   string //nolint:revive // Docker's name
	HostPort string
}

// Inspect is Docker's `container inspect` object.
type Inspect struct {
	Id              string //nolint:revive // Docker's name
	Created         string
	Path            string
	Args            []string
	State           InspectState
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	ExecIDs         []string
	HostConfig      InspectHostConfig
	GraphDriver     struct {
		Name string
		Data map[string]string
	}
	Mounts          []MountPoint
	Config          InspectConfig
	NetworkSettings InspectNetwork
}

func rfc(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Health reads the monitor's health results (nil without a health check).
func (e *Engine) Health(c *Container) (*Health, error) {
	if c.Config.Healthcheck == nil || len(c.Config.Healthcheck.Test) == 0 || c.Config.Healthcheck.Test[0] == "NONE" {
		return nil, nil
	}
	b, err := os.ReadFile(e.HealthPath(c.ID))
	if err != nil {
		if os.IsNotExist(err) {
			return &Health{Status: "starting", Log: []HealthResult{}}, nil
		}
		return nil, err
	}
	var h Health
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("health of %s: %w", c.ID, err)
	}
	if !c.State.Running() {
		h.Status = "unhealthy"
	}
	return &h, nil
}

// RWSize is the size of what the container wrote to its filesystem.
func (e *Engine) RWSize(ctx context.Context, c *Container) (int64, error) {
	sn, err := e.OpenSnapshotter(c.Snapshotter)
	if err != nil {
		return 0, err
	}
	defer sn.Close()
	u, err := sn.Usage(ctx, c.SnapshotKey)
	if err != nil {
		return 0, err
	}
	return u.Size, nil
}

// Inspect builds Docker's inspect object for c.
func (e *Engine) Inspect(c *Container) *Inspect {
	dir := e.containerDir(c.ID)
	ep := c.Config.Entrypoint
	if ep == nil {
		ep = c.ImageConfig.Entrypoint
	}
	cmd := c.Config.Cmd
	if len(cmd) == 0 && c.Config.Entrypoint == nil {
		cmd = c.ImageConfig.Cmd
	}
	argv := append(append([]string{}, ep...), cmd...)
	in := &Inspect{
		Id:             c.ID,
		Created:        rfc(c.Created),
		Image:          c.ImageID,
		ResolvConfPath: filepath.Join(dir, "resolv.conf"),
		HostnamePath:   filepath.Join(dir, "hostname"),
		HostsPath:      filepath.Join(dir, "hosts"),
		LogPath:        e.logPath(c),
		Name:           "/" + c.Name,
		RestartCount:   c.State.RestartCount,
		Driver:         c.Snapshotter,
		Platform:       "linux",
		ExecIDs:        nil,
		HostConfig:     InspectHostConfig{HostConfig: c.HostConfig, PortBindings: map[string][]HostPort{}},
		Mounts:         c.Mounts,
	}
	if len(argv) > 0 {
		in.Path, in.Args = argv[0], argv[1:]
	}
	if in.Args == nil {
		in.Args = []string{}
	}
	if in.Mounts == nil {
		in.Mounts = []MountPoint{}
	}
	st := c.State.Status
	if st == StatusExited && c.State.StartedAt.IsZero() {
		st = StatusCreated
	}
	in.State = InspectState{
		Status:     st,
		Running:    c.State.Running(),
		Paused:     c.State.Status == StatusPaused,
		Restarting: c.State.Status == StatusRestarting,
		OOMKilled:  c.State.OOMKilled,
		Dead:       c.State.Status == StatusDead,
		Pid:        c.State.Pid,
		ExitCode:   c.State.ExitCode,
		Error:      c.State.Error,
		StartedAt:  rfc(c.State.StartedAt),
		FinishedAt: rfc(c.State.FinishedAt),
	}
	if h, err := e.Health(c); err == nil {
		in.State.Health = h
	}
	in.GraphDriver.Name = c.Snapshotter
	in.GraphDriver.Data = map[string]string{"MergedDir": e.rootfs(c.ID)}
	cfg := c.Config
	cfg.Entrypoint = ep
	cfg.Cmd = cmd
	cfg.Env = mergeEnv(c.ImageConfig.Env, c.Config.Env)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = c.ImageConfig.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = c.ImageConfig.User
	}
	if cfg.Hostname == "" {
		cfg.Hostname = c.ID[:12]
	}
	in.Config = InspectConfig{Config: cfg, Image: c.Image}
	ns := InspectNetwork{Ports: map[string][]HostPort{}, Networks: map[string]Endpoint{}}
	for p := range c.Config.ExposedPorts {
		ns.Ports[p] = nil
	}
	if c.Network != nil && c.State.Running() {
		ns.SandboxKey = c.Network.NetNS
		for name, ep := range c.Network.Networks {
			ns.Networks[name] = ep
			if ns.IPAddress == "" {
				ns.IPAddress, ns.IPPrefixLen, ns.Gateway, ns.MacAddress = ep.IPAddress, ep.PrefixLen, ep.Gateway, ep.MacAddress
			}
		}
		for _, p := range c.Network.Ports {
			k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
			ns.Ports[k] = append(ns.Ports[k], HostPort{HostIp: p.HostIP, HostPort: fmt.Sprint(p.HostPort)})
		}
	}
	in.NetworkSettings = ns
	for _, p := range c.HostConfig.PortBindings {
		k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
		hp := ""
		if p.HostPort != 0 {
			hp = fmt.Sprint(p.HostPort)
		}
		in.HostConfig.PortBindings[k] = append(in.HostConfig.PortBindings[k], HostPort{HostIp: p.HostIP, HostPort: hp})
	}
	return in
}
