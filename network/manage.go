package network

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// resolve finds a network by name or id prefix; "", "bridge" and "berth"
// are the default network (created on first use).
func (m *Manager) resolve(ctx context.Context, ref string) (*Network, error) {
	switch ref {
	case "", "bridge", "default", DefaultNetwork:
		return m.ensureDefault(ctx)
	}
	if nameRE.MatchString(ref) {
		if n, err := m.load(ref); err == nil {
			return n, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	nets, err := m.listNetworks()
	if err != nil {
		return nil, err
	}
	var found []*Network
	for _, n := range nets {
		if n.Name == ref {
			return n, nil
		}
		if len(ref) >= 3 && strings.HasPrefix(n.ID, ref) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("network id prefix %q is ambiguous (%d networks)", ref, len(found))
}

// Get finds a network by name or id prefix ("bridge" is the default one).
func (m *Manager) Get(ctx context.Context, ref string) (*Network, error) {
	return m.resolve(ctx, ref)
}

// List returns every network, the default one included (created on first
// use), sorted by name.
func (m *Manager) List(ctx context.Context) ([]*Network, error) {
	if _, err := m.ensureDefault(ctx); err != nil {
		return nil, err
	}
	return m.listNetworks()
}

// Inspect is `network inspect`'s view of a network, in Docker's shape.
type Inspect struct {
	Name       string                      `json:"Name"`
	ID         string                      `json:"Id"`
	Created    time.Time                   `json:"Created"`
	Scope      string                      `json:"Scope"`
	Driver     string                      `json:"Driver"`
	EnableIPv6 bool                        `json:"EnableIPv6"`
	IPAM       InspectIPAM                 `json:"IPAM"`
	Internal   bool                        `json:"Internal"`
	Attachable bool                        `json:"Attachable"`
	Ingress    bool                        `json:"Ingress"`
	ConfigOnly bool                        `json:"ConfigOnly"`
	Containers map[string]InspectContainer `json:"Containers"`
	Options    map[string]string           `json:"Options"`
	Labels     map[string]string           `json:"Labels"`
}

// InspectIPAM is Docker's IPAM section.
type InspectIPAM struct {
	Driver  string              `json:"Driver"`
	Options map[string]string   `json:"Options"`
	Config  []InspectIPAMConfig `json:"Config"`
}

// InspectIPAMConfig is one subnet.
type InspectIPAMConfig struct {
	Subnet  string `json:"Subnet"`
	IPRange string `json:"IPRange,omitempty"`
	Gateway string `json:"Gateway,omitempty"`
}

// InspectContainer is one attached container.
type InspectContainer struct {
	Name        string `json:"Name"`
	EndpointID  string `json:"EndpointID"`
	MacAddress  string `json:"MacAddress"`
	IPv4Address string `json:"IPv4Address"`
	IPv6Address string `json:"IPv6Address"`
}

// Inspect describes the network ref (name or id prefix) with the
// containers attached to it.
func (m *Manager) Inspect(ctx context.Context, ref string) (*Inspect, error) {
	n, err := m.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	in := &Inspect{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		Internal: n.Internal, Attachable: true,
		IPAM:       InspectIPAM{Driver: "default", Options: map[string]string{}, Config: []InspectIPAMConfig{}},
		Containers: map[string]InspectContainer{},
		Options:    map[string]string{}, Labels: map[string]string{},
	}
	for k, v := range n.Options {
		if k != "bridge" { // shown under Docker's name below
			in.Options[k] = v
		}
	}
	if n.Driver == "bridge" && n.Interface != "" {
		in.Options["com.docker.network.bridge.name"] = n.Interface
	}
	if (n.Driver == "macvlan" || n.Driver == "ipvlan") && n.Interface != "" {
		in.Options["parent"] = n.Interface
	}
	for k, v := range n.Labels {
		in.Labels[k] = v
	}
	for _, s := range n.Subnets {
		in.IPAM.Config = append(in.IPAM.Config, InspectIPAMConfig{Subnet: s.Subnet, IPRange: s.IPRange, Gateway: s.Gateway})
	}
	recs, err := m.allRecords()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		e := r.endpoint(n.Name)
		if e == nil {
			continue
		}
		c := InspectContainer{Name: r.name(), EndpointID: endpointID(r.ContainerID, n.ID), MacAddress: e.MAC}
		if len(e.IPs) > 0 {
			c.IPv4Address = e.IPs[0]
		}
		in.Containers[r.ContainerID] = c
	}
	return in, nil
}

func endpointID(containerID, networkID string) string {
	return shortID(networkID) + shortID(containerID)
}

// users lists the containers attached to network name.
func (m *Manager) users(name string) ([]string, error) {
	recs, err := m.allRecords()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range recs {
		if r.endpoint(name) != nil {
			out = append(out, r.name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Remove deletes a network: its conflist, its bridge, its leases and its
// firewall rules. It refuses while containers are attached (and names
// them) and for the default network.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	switch ref {
	case "bridge", "host", "none", "default", DefaultNetwork:
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", ref)
	}
	n, err := m.resolve(ctx, ref)
	if err != nil {
		return err
	}
	if n.IsDefault() {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", ref)
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.remove(ctx, n)
}

// remove deletes n; caller holds the lock.
func (m *Manager) remove(ctx context.Context, n *Network) error {
	users, err := m.users(n.Name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("network %s has active endpoints: %s", n.Name, strings.Join(users, ", "))
	}
	if err := m.removeFiles(n); err != nil {
		return err
	}
	if n.Driver == "bridge" && !n.Foreign {
		if err := m.syncFirewall(ctx); err != nil {
			return err
		}
		if err := deleteBridge(n.Interface); err != nil {
			return err
		}
	}
	return nil
}

// removeFiles removes n's conflist and its lease directory.
func (m *Manager) removeFiles(n *Network) error {
	if err := os.Remove(n.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if err := os.RemoveAll(m.ipamDir() + "/" + n.Name); err != nil {
		return fmt.Errorf("remove leases of network %s: %w", n.Name, err)
	}
	return nil
}

// Prune removes every network without containers (never the default
// one) for which keep, when not nil, returns false. It returns the names
// removed.
func (m *Manager) Prune(ctx context.Context, keep func(*Network) bool) ([]string, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	nets, err := m.listNetworks()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range nets {
		if n.IsDefault() || (keep != nil && keep(n)) {
			continue
		}
		if users, err := m.users(n.Name); err != nil || len(users) > 0 {
			continue
		}
		if err := m.remove(ctx, n); err != nil {
			return removed, err
		}
		removed = append(removed, n.Name)
	}
	return removed, nil
}

// Teardown detaches every attached container and removes every network of
// this root, the default one included, with its bridge, leases and
// firewall chains, and every namespace under netns/: the host is left as
// before berth's first use.
func (m *Manager) Teardown(ctx context.Context) error {
	ids, err := m.Attached()
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := m.Detach(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	nets, err := m.listNetworks()
	if err != nil {
		return err
	}
	for _, n := range nets {
		if err := m.removeFiles(n); err != nil {
			errs = append(errs, err)
		}
		if n.Driver == "bridge" && !n.Foreign {
			if err := deleteBridge(n.Interface); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, c := range [][]string{{"filter", "FORWARD", m.forwardChain}, {"nat", "POSTROUTING", m.natChain}} {
		for iptables(ctx, "", "iptables", "-w", "-t", c[0], "-D", c[1], "-j", c[2]) == nil {
		}
		iptables(ctx, "", "iptables", "-w", "-t", c[0], "-F", c[2])
		iptables(ctx, "", "iptables", "-w", "-t", c[0], "-X", c[2])
	}
	os.Remove(m.firewallMark())
	if ents, err := os.ReadDir(m.netnsDir()); err == nil {
		for _, e := range ents {
			if err := RemoveNetNS(m.netnsDir() + "/" + e.Name()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
