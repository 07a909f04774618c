package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/network"
)

// NetworkRequest is one --network NAME with its --ip, --mac-address and
// --network-alias.
type NetworkRequest struct {
	Name    string   `json:"Name"`
	IP      string   `json:"IP,omitempty"`
	MAC     string   `json:"MAC,omitempty"`
	Aliases []string `json:"Aliases,omitempty"`
}

func (e *Engine) networks() (*network.Manager, error) {
	m, err := network.New(e.root, e.runroot)
	if err != nil {
		return nil, fmt.Errorf("networks: %w", err)
	}
	return m, nil
}

// Networks opens the network manager (for `berth network`).
func (e *Engine) Networks() (*network.Manager, error) { return e.networks() }

// isNetworked says whether c joins CNI networks (not none/host/container:).
func isNetworked(c *Container) bool {
	switch m := c.HostConfig.NetworkMode; {
	case m == "none", m == "host", strings.HasPrefix(m, "container:"):
		return false
	}
	return true
}

// planNetwork records what setupNetwork will make, before it makes it:
// "host" nothing; "container:X" X's namespace; anything else a namespace
// of its own under runroot (with CNI attachments unless "none"). Saved
// with the starting record, so that a crash in between is torn down.
func (e *Engine) planNetwork(ctx context.Context, c *Container) error {
	mode := c.HostConfig.NetworkMode
	switch {
	case mode == "host":
		c.Network = nil
	case strings.HasPrefix(mode, "container:"):
		other, err := e.Get(ctx, strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return fmt.Errorf("--network %s: %w", mode, err)
		}
		if !other.State.Running() || other.State.Pid == 0 {
			return fmt.Errorf("--network %s: container %s is not running", mode, other.Name)
		}
		c.Network = &NetworkState{NetNS: fmt.Sprintf("/proc/%d/ns/net", other.State.Pid), HostsFrom: other.ID}
	default:
		c.Network = &NetworkState{NetNS: filepath.Join(e.runroot, "netns", c.ID), Owned: true, Attached: mode != "none"}
	}
	return nil
}

// setupNetwork makes what planNetwork recorded: the namespace, with lo up,
// attached to the container's CNI networks (the default network "bridge"
// unless named) with its published ports. It touches only c.Network (it
// runs beside the rootfs mount) and does not save.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) error {
	if c.Network == nil || !c.Network.Owned {
		return nil
	}
	m, err := e.networks()
	if err != nil {
		return err
	}
	ns, err := m.NewNetNS(c.ID)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	c.Network.NetNS = ns
	if !c.Network.Attached {
		return nil
	}
	mode := c.HostConfig.NetworkMode
	o := network.AttachOptions{ContainerID: c.ID, ContainerName: c.Name, Hostname: hostname(c), NetNSPath: ns, ExtraHosts: c.HostConfig.ExtraHosts}
	for _, r := range c.NetworkRequests {
		o.Networks = append(o.Networks, network.Endpoint{Network: r.Name, IP: r.IP, MAC: r.MAC, Aliases: r.Aliases})
	}
	if len(o.Networks) == 0 {
		o.Networks = []network.Endpoint{{Network: mode}}
	}
	ports, err := network.ParsePorts(c.HostConfig.Publish)
	if err != nil {
		return err
	}
	if c.HostConfig.PublishAllPorts {
		for p := range c.Config.ExposedPorts {
			port, proto, _ := strings.Cut(p, "/")
			var n uint16
			if _, err := fmt.Sscanf(port, "%d", &n); err != nil || n == 0 {
				continue
			}
			if proto == "" {
				proto = "tcp"
			}
			ports = append(ports, network.PortMapping{ContainerPort: n, Protocol: proto})
		}
	}
	o.Ports = ports
	res, err := m.Attach(ctx, o)
	if err != nil {
		return err
	}
	c.Network.HostsFile = res.HostsFile
	c.Network.Networks = map[string]Endpoint{}
	for _, n := range res.Networks {
		c.Network.Networks[n.Network] = Endpoint{IPAddress: n.IP, PrefixLen: n.PrefixLen, Gateway: n.Gateway, MacAddress: n.MAC, Aliases: n.Aliases, NetworkID: n.NetworkID, Interface: n.Interface}
	}
	c.Network.Ports = nil
	for _, p := range res.Ports {
		c.Network.Ports = append(c.Network.Ports, PortBinding{HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
	}
	return nil
}

// teardownNetwork undoes setupNetwork. Idempotent; works from the record
// after a crash.
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) error {
	if c.Network == nil {
		return nil
	}
	if c.Network.Owned || c.Network.Attached {
		m, err := e.networks()
		if err != nil {
			return err
		}
		if c.Network.Attached {
			if err := m.Detach(ctx, c.ID); err != nil {
				return fmt.Errorf("detach networks: %w", err)
			}
		}
		if c.Network.Owned {
			if err := m.RemoveNetNS(c.Network.NetNS); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("remove network namespace: %w", err)
			}
		}
	}
	c.Network = nil
	return nil
}

// hostsFile is what the container sees as /etc/hosts.
func (e *Engine) hostsFile(c *Container) string {
	if c.Network != nil && c.Network.HostsFile != "" {
		return c.Network.HostsFile
	}
	if c.Network != nil && c.Network.HostsFrom != "" {
		if m, err := e.networks(); err == nil {
			if p := m.HostsFile(c.Network.HostsFrom); p != "" {
				if _, err := os.Stat(p); err == nil {
					return p
				}
			}
		}
		return filepath.Join(e.containerDir(c.Network.HostsFrom), "hosts")
	}
	return filepath.Join(e.containerDir(c.ID), "hosts")
}

// writeEtcFiles writes the hostname, hosts and resolv.conf files that the
// spec bind-mounts into the container (Docker keeps them beside the
// record). They are written in place, never renamed: a running container
// sees the inode it was given.
func (e *Engine) writeEtcFiles(c *Container) error {
	dir := e.containerDir(c.ID)
	hn := hostname(c)
	if c.HostConfig.NetworkMode == "host" && c.Config.Hostname == "" {
		if h, err := os.Hostname(); err == nil {
			hn = h
		}
	}
	if err := writeInPlace(filepath.Join(dir, "hostname"), []byte(hn+"\n")); err != nil {
		return err
	}
	host := c.HostConfig.NetworkMode == "host"
	if !isNetworked(c) && !strings.HasPrefix(c.HostConfig.NetworkMode, "container:") {
		if err := network.WriteHosts(filepath.Join(dir, "hosts"), network.HostsOptions{ExtraHosts: c.HostConfig.ExtraHosts, HostNetwork: host}); err != nil {
			return err
		}
	}
	return network.ResolvConf(filepath.Join(dir, "resolv.conf"), network.DNSOptions{Servers: c.HostConfig.Dns, Search: c.HostConfig.DnsSearch, Options: c.HostConfig.DnsOptions, HostNetwork: host})
}

func writeInPlace(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// hostname is the container's hostname: the flag, else the short id.
func hostname(c *Container) string {
	if c.Config.Hostname != "" {
		return c.Config.Hostname
	}
	return c.ID[:12]
}
