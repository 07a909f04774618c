package network

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/vishvananda/netlink"
)

// ErrNotFound is wrapped by errors about a network that does not exist.
var ErrNotFound = errors.New("no such network")

// CreateOptions are the settings of `network create`.
type CreateOptions struct {
	Name string
	// Driver is bridge (the default), macvlan, ipvlan, or the name of any
	// installed CNI plugin that takes an "ipam" section (its options
	// become its configuration keys).
	Driver string
	// Subnet (CIDR), Gateway (an address in it) and IPRange (a CIDR in it,
	// where container addresses are allocated). All optional: without
	// Subnet, the next free /24 of 10.99.0.0-10.127.255.0 that no other
	// network and no host route uses.
	Subnet, Gateway, IPRange string
	// Internal networks have no default route and no masquerade; their
	// traffic does not leave the bridge.
	Internal bool
	// Options (-o): bridge: "bridge" (or com.docker.network.bridge.name),
	// "mtu" (or com.docker.network.driver.mtu); macvlan/ipvlan: "parent"
	// (default: the interface of the host's default route), "mode"
	// (macvlan: bridge|private|vepa|passthru, ipvlan: l2|l3|l3s).
	Options map[string]string
	Labels  map[string]string
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// reserved names are network modes of run --network, not networks.
var reserved = map[string]bool{"host": true, "none": true, "bridge": true, "default": true, DefaultNetwork: true}

// dockerOptions maps Docker's option names to berth's.
var dockerOptions = map[string]string{
	"com.docker.network.bridge.name": "bridge",
	"com.docker.network.driver.mtu":  "mtu",
	"macvlan_mode":                   "mode",
	"ipvlan_mode":                    "mode",
}

var driverOptions = map[string][]string{
	"bridge":  {"bridge", "mtu"},
	"macvlan": {"parent", "mode", "mtu"},
	"ipvlan":  {"parent", "mode", "mtu"},
}

var driverModes = map[string][]string{
	"macvlan": {"bridge", "private", "vepa", "passthru"},
	"ipvlan":  {"l2", "l3", "l3s"},
}

// Create makes a network. Errors name the offending value; nothing is left
// behind on error.
func (m *Manager) Create(ctx context.Context, o CreateOptions) (*Network, error) {
	if !nameRE.MatchString(o.Name) || len(o.Name) > 200 {
		return nil, fmt.Errorf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	if reserved[o.Name] {
		return nil, fmt.Errorf("network name %q is reserved: it is a pre-defined network or network mode", o.Name)
	}
	n, err := m.prepare(o)
	if err != nil {
		return nil, err
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return n, m.commit(ctx, n, o.Subnet == "")
}

// prepare validates o into a network without subnet or bridge when they are
// to be allocated.
func (m *Manager) prepare(o CreateOptions) (*Network, error) {
	n := &Network{Name: o.Name, Driver: o.Driver, Internal: o.Internal, Labels: o.Labels, Options: map[string]string{}}
	if n.Driver == "" {
		n.Driver = "bridge"
	}
	for k, v := range o.Options {
		if alias, ok := dockerOptions[k]; ok {
			k = alias
		}
		n.Options[k] = v
	}
	allowed, known := driverOptions[n.Driver]
	if !known {
		if !nameRE.MatchString(n.Driver) {
			return nil, fmt.Errorf("unknown driver %q", n.Driver)
		}
		if _, err := invoke.FindInPath(n.Driver, m.PluginPath); err != nil {
			return nil, fmt.Errorf("unknown driver %q: want bridge, macvlan, ipvlan or an installed CNI plugin (none in %s)", n.Driver, strings.Join(m.PluginPath, ":"))
		}
	} else {
		for k := range n.Options {
			if !contains(allowed, k) {
				return nil, fmt.Errorf("-o %s: unknown option for driver %s (known: %s)", k, n.Driver, strings.Join(allowed, ", "))
			}
		}
	}
	if v, ok := n.Options["mtu"]; ok {
		if i, err := strconv.Atoi(v); err != nil || i < 68 || i > 65535 {
			return nil, fmt.Errorf("-o mtu=%s: want a number from 68 to 65535", v)
		}
	}
	if modes := driverModes[n.Driver]; modes != nil {
		if mode := n.Options["mode"]; mode != "" && !contains(modes, mode) {
			return nil, fmt.Errorf("-o mode=%s: want one of %s for driver %s", mode, strings.Join(modes, ", "), n.Driver)
		}
	}
	switch n.Driver {
	case "bridge":
		if br := n.Options["bridge"]; br != "" {
			if len(br) > 15 || strings.ContainsAny(br, "/ :") {
				return nil, fmt.Errorf("-o bridge=%s: not a valid interface name", br)
			}
			n.Interface = br
		}
	case "macvlan", "ipvlan":
		parent := n.Options["parent"]
		if parent == "" {
			var err error
			if parent, err = defaultRouteInterface(); err != nil {
				return nil, fmt.Errorf("driver %s needs -o parent=INTERFACE: %w", n.Driver, err)
			}
		}
		if _, err := net.InterfaceByName(parent); err != nil {
			return nil, fmt.Errorf("-o parent=%s: no such interface", parent)
		}
		n.Interface = parent
	}
	if o.Subnet == "" {
		if o.Gateway != "" {
			return nil, fmt.Errorf("--gateway %s needs --subnet", o.Gateway)
		}
		if o.IPRange != "" {
			return nil, fmt.Errorf("--ip-range %s needs --subnet", o.IPRange)
		}
		return n, nil
	}
	s, err := checkSubnet(o.Subnet, o.Gateway, o.IPRange)
	if err != nil {
		return nil, err
	}
	n.Subnets = []Subnet{s}
	return n, nil
}

// checkSubnet validates --subnet, --gateway and --ip-range together.
func checkSubnet(subnet, gateway, ipRange string) (Subnet, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return Subnet{}, fmt.Errorf("invalid --subnet %q: want a CIDR like 10.10.0.0/24", subnet)
	}
	if !p.Addr().Is4() {
		return Subnet{}, fmt.Errorf("--subnet %s: only IPv4 subnets are supported", subnet)
	}
	if p.Bits() > 30 {
		return Subnet{}, fmt.Errorf("--subnet %s: too small (at most /30)", subnet)
	}
	p = p.Masked()
	s := Subnet{Subnet: p.String()}
	if gateway != "" {
		g, err := netip.ParseAddr(gateway)
		if err != nil {
			return Subnet{}, fmt.Errorf("invalid --gateway %q: not an IP address", gateway)
		}
		if !p.Contains(g) {
			return Subnet{}, fmt.Errorf("--gateway %s is not in subnet %s", gateway, p)
		}
		if g == p.Addr() || g == lastAddr(p) {
			return Subnet{}, fmt.Errorf("--gateway %s is the network or broadcast address of %s", gateway, p)
		}
		s.Gateway = g.String()
	} else {
		s.Gateway = p.Addr().Next().String()
	}
	if ipRange != "" {
		r, err := netip.ParsePrefix(ipRange)
		if err != nil {
			return Subnet{}, fmt.Errorf("invalid --ip-range %q: want a CIDR", ipRange)
		}
		r = r.Masked()
		if !p.Contains(r.Addr()) || r.Bits() < p.Bits() {
			return Subnet{}, fmt.Errorf("--ip-range %s is not in subnet %s", ipRange, p)
		}
		s.IPRange = r.String()
		if _, _, err := rangeBounds(s); err != nil {
			return Subnet{}, err
		}
	}
	return s, nil
}

// rangeBounds turns an IPRange into host-local's rangeStart/rangeEnd:
// the usable addresses of the range (never the subnet's network or
// broadcast address, nor the gateway at either end).
func rangeBounds(s Subnet) (string, string, error) {
	p := netip.MustParsePrefix(s.Subnet)
	r, err := netip.ParsePrefix(s.IPRange)
	if err != nil {
		return "", "", fmt.Errorf("--ip-range %q: %w", s.IPRange, err)
	}
	start, end := r.Addr(), lastAddr(r)
	if start == p.Addr() {
		start = start.Next()
	}
	if end == lastAddr(p) {
		end = end.Prev()
	}
	gw, _ := netip.ParseAddr(s.Gateway)
	if start == gw {
		start = start.Next()
	}
	if end == gw {
		end = end.Prev()
	}
	if !start.IsValid() || !end.IsValid() || end.Less(start) {
		return "", "", fmt.Errorf("--ip-range %s leaves no address for containers", s.IPRange)
	}
	return start.String(), end.String(), nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a)
}

// commit allocates what is left (subnet, bridge), checks overlaps, writes
// the conflist and rebuilds the firewall. Caller holds the lock.
func (m *Manager) commit(ctx context.Context, n *Network, allocSubnet bool) error {
	nets, err := m.listNetworks()
	if err != nil {
		return err
	}
	for _, o := range nets {
		if o.Name == n.Name {
			return fmt.Errorf("network with name %q already exists", n.Name)
		}
	}
	if allocSubnet {
		s, err := m.freeSubnet(nets, 99, 127)
		if err != nil {
			return err
		}
		n.Subnets = []Subnet{s}
	} else if n.Driver == "bridge" {
		p := netip.MustParsePrefix(n.Subnets[0].Subnet)
		for _, o := range nets {
			for _, os := range o.Subnets {
				if q, err := netip.ParsePrefix(os.Subnet); err == nil && q.Overlaps(p) {
					return fmt.Errorf("--subnet %s overlaps network %s (%s)", p, o.Name, q)
				}
			}
		}
	}
	if n.Driver == "bridge" && n.Interface == "" {
		n.Interface = freeBridge(nets)
	}
	if n.Driver == "bridge" {
		for _, o := range nets {
			if o.Driver == "bridge" && o.Interface == n.Interface {
				return fmt.Errorf("-o bridge=%s: used by network %s", n.Interface, o.Name)
			}
		}
	}
	if n.ID == "" {
		n.ID = newID()
	}
	if n.Created.IsZero() {
		n.Created = time.Now().UTC()
	}
	if err := m.save(n); err != nil {
		return err
	}
	if n.Driver == "bridge" {
		created, err := ensureBridge(n)
		if err == nil {
			if err = m.syncFirewall(ctx); err != nil && created {
				deleteBridge(n.Interface)
			}
		}
		if err != nil {
			m.removeFiles(n)
			m.syncFirewall(ctx)
			return err
		}
	}
	return nil
}

// freeSubnet picks the first /24 in 10.hiFrom.0.0-10.hiTo.255.255 that
// overlaps no network and no route or address of the host.
func (m *Manager) freeSubnet(nets []*Network, hiFrom, hiTo int) (Subnet, error) {
	var used []netip.Prefix
	for _, n := range nets {
		for _, s := range n.Subnets {
			if p, err := netip.ParsePrefix(s.Subnet); err == nil {
				used = append(used, p)
			}
		}
	}
	if routes, err := netlink.RouteList(nil, netlink.FAMILY_V4); err == nil {
		for _, r := range routes {
			if r.Dst != nil {
				if p, err := netip.ParsePrefix(r.Dst.String()); err == nil && p.Bits() > 0 {
					used = append(used, p)
				}
			}
		}
	}
	if addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.IPNet.String()); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	for hi := hiFrom; hi <= hiTo; hi++ {
		for mid := 0; mid < 256; mid++ {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(hi), byte(mid), 0}), 24)
			free := true
			for _, u := range used {
				if u.Overlaps(p) {
					free = false
					break
				}
			}
			if free {
				return Subnet{Subnet: p.String(), Gateway: p.Addr().Next().String()}, nil
			}
		}
	}
	return Subnet{}, fmt.Errorf("no free subnet left in 10.%d.0.0-10.%d.255.255: give --subnet", hiFrom, hiTo)
}

// freeBridge picks berthN, the first N unused by a network or a host link.
func freeBridge(nets []*Network) string {
	for i := 1; ; i++ {
		name := fmt.Sprintf("berth%d", i)
		taken := false
		for _, n := range nets {
			if n.Interface == name {
				taken = true
			}
		}
		if _, err := net.InterfaceByName(name); err == nil {
			taken = true
		}
		if !taken {
			return name
		}
	}
}

// dropStaleBridge deletes the default network's bridge when it exists
// before the network does and nothing is plugged into it: a root deleted
// without `berth system reset` left it, and its address would push the new
// network onto another subnet (or clash with it).
func dropStaleBridge(name string) {
	l, err := netlink.LinkByName(name)
	if err != nil || l.Type() != "bridge" {
		return
	}
	links, err := netlink.LinkList()
	if err != nil {
		return
	}
	for _, o := range links {
		if o.Attrs().MasterIndex == l.Attrs().Index {
			return
		}
	}
	netlink.LinkDel(l)
}

// ensureDefault returns the default network, creating it on first use.
func (m *Manager) ensureDefault(ctx context.Context) (*Network, error) {
	if n, err := m.load(DefaultNetwork); err == nil {
		return n, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if n, err := m.load(DefaultNetwork); err == nil {
		return n, nil
	}
	n := &Network{Name: DefaultNetwork, Driver: "bridge", Interface: m.DefaultBridge, Options: map[string]string{}}
	dropStaleBridge(m.DefaultBridge)
	if m.DefaultSubnet == "" {
		// A root other than the default one: a free /24 of 10.97.0.0/16.
		nets, err := m.listNetworks()
		if err != nil {
			return nil, err
		}
		s, err := m.freeSubnet(nets, 97, 97)
		if err != nil {
			return nil, fmt.Errorf("create the default network: %w", err)
		}
		n.Subnets = []Subnet{s}
	} else {
		p, err := netip.ParsePrefix(m.DefaultSubnet)
		if err != nil {
			return nil, fmt.Errorf("default network subnet %q: %w", m.DefaultSubnet, err)
		}
		p = p.Masked()
		n.Subnets = []Subnet{{Subnet: p.String(), Gateway: p.Addr().Next().String()}}
	}
	if err := m.commit(ctx, n, false); err != nil {
		return nil, fmt.Errorf("create the default network: %w", err)
	}
	return n, nil
}

func defaultRouteInterface() (string, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", err
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			l, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				return "", err
			}
			return l.Attrs().Name, nil
		}
	}
	return "", errors.New("the host has no default route")
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func optInt(o map[string]string, k string) int {
	i, _ := strconv.Atoi(o[k])
	return i
}
