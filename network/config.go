package network

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
)

// Names of the default network. "bridge" is Docker's name for it and is
// accepted everywhere a network name is.
const (
	DefaultNetwork = "berth"
	DefaultBridge  = "berth0"
	// DefaultSubnet avoids podman's 10.88.0.0/16 (and its 10.89.x.0/24 user
	// networks) and docker's 172.17.0.0/16 (and 172.18-31 user networks).
	DefaultSubnet = "10.98.0.0/16"
	cniVersion    = "1.0.0"
)

// Network is one network as berth keeps it.
type Network struct {
	Name     string            `json:"-"`
	ID       string            `json:"id"`
	Driver   string            `json:"driver"`
	Created  time.Time         `json:"created"`
	Internal bool              `json:"internal,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Options  map[string]string `json:"options,omitempty"`
	Subnets  []Subnet          `json:"subnets,omitempty"`
	// Interface is the host side: the bridge of a bridge network, the
	// parent of a macvlan/ipvlan one.
	Interface string `json:"interface,omitempty"`
	// Path is the conflist file.
	Path string `json:"-"`
	// Conf is the conflist as stored.
	Conf []byte `json:"-"`
	// Foreign is set for a conflist berth did not write (a user's).
	Foreign bool `json:"-"`
}

// Subnet is one address range of a network.
type Subnet struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway,omitempty"`
	IPRange string `json:"ipRange,omitempty"`
}

// IsDefault says whether n is the default network (no name resolution).
func (n *Network) IsDefault() bool { return n.Name == DefaultNetwork }

// ShortID is the 12-character id `ls` shows.
func (n *Network) ShortID() string {
	if len(n.ID) > 12 {
		return n.ID[:12]
	}
	return n.ID
}

// storedConf is the JSON of a conflist berth writes.
type storedConf struct {
	CNIVersion string           `json:"cniVersion"`
	Name       string           `json:"name"`
	Plugins    []map[string]any `json:"plugins"`
	Berth      *Network         `json:"berth,omitempty"`
}

func (m *Manager) confPath(name string) string {
	return filepath.Join(m.networksDir(), name+".conflist")
}

// load reads the network called name (exact name, no defaults).
func (m *Manager) load(name string) (*Network, error) {
	p := m.confPath(name)
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return nil, fmt.Errorf("read network %s: %w", p, err)
	}
	return parseConf(p, b)
}

// parseConf reads a conflist, berth's or a user's.
func parseConf(p string, b []byte) (*Network, error) {
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", p, err)
	}
	if len(list.Plugins) == 0 {
		return nil, fmt.Errorf("network %s: no plugins", p)
	}
	var sc storedConf
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("network %s: %w", p, err)
	}
	n := sc.Berth
	if n == nil {
		// A conflist a user wrote: derive what inspect needs.
		sum := sha256.Sum256([]byte(list.Name))
		n = &Network{ID: hex.EncodeToString(sum[:]), Driver: list.Plugins[0].Network.Type, Foreign: true}
		if fi, err := os.Stat(p); err == nil {
			n.Created = fi.ModTime()
		}
		n.Subnets = ipamSubnets(sc.Plugins[0])
		if br, ok := sc.Plugins[0]["bridge"].(string); ok {
			n.Interface = br
		}
	}
	n.Name = list.Name
	n.Path = p
	n.Conf = b
	return n, nil
}

// ipamSubnets reads the subnets of a host-local IPAM section.
func ipamSubnets(plugin map[string]any) []Subnet {
	ipam, _ := plugin["ipam"].(map[string]any)
	if ipam == nil {
		return nil
	}
	var out []Subnet
	if s, ok := ipam["subnet"].(string); ok {
		g, _ := ipam["gateway"].(string)
		out = append(out, Subnet{Subnet: s, Gateway: g})
	}
	ranges, _ := ipam["ranges"].([]any)
	for _, rs := range ranges {
		set, _ := rs.([]any)
		for _, r := range set {
			rm, _ := r.(map[string]any)
			s, _ := rm["subnet"].(string)
			g, _ := rm["gateway"].(string)
			if s != "" {
				out = append(out, Subnet{Subnet: s, Gateway: g})
			}
		}
	}
	return out
}

// listNetworks reads every conflist, sorted by name. Unreadable files are
// skipped (a user's broken file must not break every command); a name
// clash keeps the first file.
func (m *Manager) listNetworks() ([]*Network, error) {
	ents, err := os.ReadDir(m.networksDir())
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	seen := map[string]bool{}
	var out []*Network
	for _, e := range ents {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".conflist") || strings.HasSuffix(e.Name(), ".conf")) {
			continue
		}
		p := filepath.Join(m.networksDir(), e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := parseConf(p, b)
		if err != nil || seen[n.Name] {
			continue
		}
		seen[n.Name] = true
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// pluginsFor builds the plugin chain of a berth network.
func (m *Manager) pluginsFor(n *Network) ([]map[string]any, error) {
	ipam := map[string]any{"type": "host-local"}
	var ranges []any
	for _, s := range n.Subnets {
		r := map[string]any{"subnet": s.Subnet}
		if s.Gateway != "" {
			r["gateway"] = s.Gateway
		}
		if s.IPRange != "" {
			start, end, err := rangeBounds(s)
			if err != nil {
				return nil, err
			}
			r["rangeStart"], r["rangeEnd"] = start, end
		}
		ranges = append(ranges, []any{r})
	}
	ipam["ranges"] = ranges
	if !n.Internal {
		ipam["routes"] = []any{map[string]any{"dst": "0.0.0.0/0"}}
	}
	var main map[string]any
	switch n.Driver {
	case "bridge":
		main = map[string]any{
			"type": "bridge", "bridge": n.Interface,
			// The bridge always has the gateway address, so the host
			// reaches containers (and published ports work) even on an
			// internal network; the default route is ipam's business.
			"isGateway": true, "ipMasq": false, "hairpinMode": true,
			"capabilities": map[string]any{"ips": true, "mac": true},
		}
	case "macvlan":
		main = map[string]any{
			"type": "macvlan", "master": n.Interface, "mode": n.Options["mode"],
			"capabilities": map[string]any{"ips": true, "mac": true},
		}
	case "ipvlan":
		main = map[string]any{
			"type": "ipvlan", "master": n.Interface, "mode": n.Options["mode"],
			"capabilities": map[string]any{"ips": true},
		}
	default:
		// Any other installed plugin that takes an ipam section: the
		// options become its configuration keys.
		main = map[string]any{"type": n.Driver, "capabilities": map[string]any{"ips": true}}
		for k, v := range n.Options {
			main[k] = v
		}
	}
	if mode, ok := main["mode"]; ok && mode == "" {
		delete(main, "mode")
	}
	if v := optInt(n.Options, "mtu"); v > 0 {
		main["mtu"] = v
	}
	main["ipam"] = ipam
	plugins := []map[string]any{main}
	if n.Driver == "bridge" {
		plugins = append(plugins, map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}})
	}
	return plugins, nil
}

// save writes n's conflist; it fails if a network of that name exists.
func (m *Manager) save(n *Network) error {
	plugins, err := m.pluginsFor(n)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(storedConf{CNIVersion: cniVersion, Name: n.Name, Plugins: plugins, Berth: n}, "", "  ")
	if err != nil {
		return err
	}
	p := m.confPath(n.Name)
	tmp := fmt.Sprintf("%s.%d.tmp", p, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write network %s: %w", p, err)
	}
	defer os.Remove(tmp)
	// A hard link never replaces: the file appears whole, or not at all
	// when the name is taken.
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("network with name %q already exists", n.Name)
		}
		return fmt.Errorf("write network %s: %w", p, err)
	}
	n.Path, n.Conf = p, b
	return nil
}

// attachList is the chain one attachment runs: the stored conflist with
// host-local's leases under runroot, and without portmap when the
// container publishes no ports (it would cost a plugin run for nothing).
// libcni caches these exact bytes, so DEL runs the same chain.
func (m *Manager) attachList(n *Network, withPorts bool) (*libcni.NetworkConfigList, error) {
	var raw map[string]any
	if err := json.Unmarshal(n.Conf, &raw); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Path, err)
	}
	delete(raw, "berth")
	plugins, _ := raw["plugins"].([]any)
	var keep []any
	for _, p := range plugins {
		pm, _ := p.(map[string]any)
		if pm == nil {
			continue
		}
		if pm["type"] == "portmap" && !withPorts {
			continue
		}
		if ipam, ok := pm["ipam"].(map[string]any); ok && ipam["type"] == "host-local" {
			if _, set := ipam["dataDir"]; !set || !n.Foreign {
				ipam["dataDir"] = m.ipamDir()
			}
		}
		keep = append(keep, pm)
	}
	if raw["cniVersion"] == nil {
		raw["cniVersion"] = cniVersion
	}
	raw["plugins"] = keep
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	return list, nil
}

// hasPortmap says whether a network's chain can publish ports.
func (n *Network) hasPortmap() bool {
	var sc struct {
		Plugins []struct {
			Type string `json:"type"`
		} `json:"plugins"`
	}
	json.Unmarshal(n.Conf, &sc)
	for _, p := range sc.Plugins {
		if p.Type == "portmap" {
			return true
		}
	}
	return false
}
