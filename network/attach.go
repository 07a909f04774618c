package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"golang.org/x/sys/unix"
)

// Endpoint asks for a place on one network.
type Endpoint struct {
	// Network is a name or id prefix; "", "bridge" and "berth" are the
	// default network.
	Network string
	// IP is a static IPv4 address in the network's subnet (--ip).
	IP string
	// MAC is the interface's address (--mac-address).
	MAC string
	// Aliases are extra names peers resolve (--network-alias); user
	// networks only, like Docker.
	Aliases []string
}

// AttachOptions are a container's network settings.
type AttachOptions struct {
	ContainerID string
	// ContainerName is what peers on user networks resolve (with the
	// short id and the aliases).
	ContainerName string
	// Hostname is the container's own name in its hosts file (default:
	// the short id, like Docker).
	Hostname string
	// NetNSPath is the container's network namespace (see NewNetNS).
	NetNSPath string
	// Networks to join, in order: the first gets eth0 and the published
	// ports. Empty means the default network.
	Networks []Endpoint
	// Ports to publish (see ParsePorts); on the first network whose chain
	// has the portmap plugin.
	Ports []PortMapping
	// ExtraHosts are --add-host entries, "NAME:IP"; IP "host-gateway" is
	// the first network's gateway.
	ExtraHosts []string
}

// NetworkResult is the container's place on one network.
type NetworkResult struct {
	Network   string
	NetworkID string
	Interface string // in the container: eth0, eth1...
	IP        string // "" when the plugin gave none
	PrefixLen int
	Gateway   string
	MAC       string
	Aliases   []string
}

// AttachResult is what Attach did.
type AttachResult struct {
	Networks []NetworkResult
	// Ports are the published ports, one per port, host ports chosen.
	Ports []PortMapping
	// HostsFile is the container's hosts file (bind-mount at /etc/hosts).
	HostsFile string
}

// Attach runs each network's CNI chain (ADD) for a container. On any error
// every network already attached is torn down again and nothing is left:
// no interface, lease, rule, record or hosts file. A host port taken by
// another container or process fails before any plugin runs.
func (m *Manager) Attach(ctx context.Context, o AttachOptions) (*AttachResult, error) {
	if o.ContainerID == "" {
		return nil, errors.New("attach: no container id")
	}
	if o.NetNSPath == "" {
		return nil, fmt.Errorf("attach %s: no network namespace", o.ContainerID)
	}
	if o.Hostname == "" {
		o.Hostname = shortID(o.ContainerID)
	}
	eps := o.Networks
	if len(eps) == 0 {
		eps = []Endpoint{{}}
	}
	nets := make([]*Network, len(eps))
	for i, ep := range eps {
		n, err := m.resolve(ctx, ep.Network)
		if err != nil {
			return nil, err
		}
		for j := range i {
			if nets[j].Name == n.Name {
				return nil, fmt.Errorf("network %s given twice", n.Name)
			}
		}
		nets[i] = n
	}
	portNet := -1
	if len(o.Ports) > 0 {
		for i, n := range nets {
			if n.hasPortmap() {
				portNet = i
				break
			}
		}
		if portNet < 0 {
			return nil, fmt.Errorf("cannot publish ports: network %s has no portmap plugin", nets[0].Name)
		}
	}
	for _, h := range o.ExtraHosts {
		if _, _, err := parseExtraHost(h); err != nil {
			return nil, err
		}
	}
	r := &record{
		ContainerID: o.ContainerID, ContainerName: o.ContainerName, Hostname: o.Hostname,
		NetNS: o.NetNSPath, ExtraHosts: o.ExtraHosts,
	}
	for i, ep := range eps {
		e, err := m.newEndpoint(nets[i], ep, fmt.Sprintf("eth%d", i), i == portNet)
		if err != nil {
			return nil, err
		}
		r.Endpoints = append(r.Endpoints, e)
	}
	for _, n := range nets {
		if n.Driver == "bridge" {
			if err := m.ensureFirewall(ctx); err != nil {
				return nil, err
			}
			break
		}
	}

	// Choose ports and write the record under the lock: a concurrent
	// Attach sees these ports taken as soon as the lock is released.
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	if old, err := m.readRecord(o.ContainerID); err != nil || old != nil {
		unlock()
		if err != nil {
			return nil, err
		}
		// A container has one namespace at a time: an old record is what a
		// crashed stop left. Its namespace path may be the new one, so it
		// is kept; DEL there finds no interface and releases the rest.
		if err := m.detach(ctx, o.ContainerID, false); err != nil {
			return nil, fmt.Errorf("stale attachment of %s: %w", shortID(o.ContainerID), err)
		}
		if unlock, err = m.lock(); err != nil {
			return nil, err
		}
	}
	if len(o.Ports) > 0 {
		others, err := m.allRecords()
		if err == nil {
			r.Ports, err = allocatePorts(o.Ports, others)
		}
		if err != nil {
			unlock()
			return nil, err
		}
		r.Endpoints[portNet].Caps["portMappings"] = portmapArgs(r.Ports)
	}
	err = m.writeRecord(r)
	unlock()
	if err != nil {
		return nil, err
	}

	for _, e := range r.Endpoints {
		if err := m.add(ctx, r, e); err != nil {
			return nil, m.rollback(ctx, r, err)
		}
	}
	if err := m.commitRecord(r); err != nil {
		return nil, m.rollback(ctx, r, err)
	}
	return m.result(r), nil
}

// rollback undoes a failed Attach and returns cause, with any teardown
// failure appended.
func (m *Manager) rollback(ctx context.Context, r *record, cause error) error {
	if err := m.detach(ctx, r.ContainerID, false); err != nil {
		return fmt.Errorf("%w (and rolling back: %v)", cause, err)
	}
	return cause
}

// newEndpoint prepares the chain and runtime arguments of one attachment.
func (m *Manager) newEndpoint(n *Network, ep Endpoint, ifName string, ports bool) (*endpoint, error) {
	e := &endpoint{Network: n.Name, NetworkID: n.ID, IfName: ifName, Aliases: ep.Aliases, Default: n.IsDefault(), Caps: map[string]any{}}
	if len(ep.Aliases) > 0 && n.IsDefault() {
		return nil, fmt.Errorf("--network-alias %s: network-scoped aliases are only supported on user-defined networks", strings.Join(ep.Aliases, ","))
	}
	if ep.IP != "" {
		a, err := netip.ParseAddr(ep.IP)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("invalid --ip %q: want an IPv4 address", ep.IP)
		}
		in := len(n.Subnets) == 0
		for _, s := range n.Subnets {
			if p, err := netip.ParsePrefix(s.Subnet); err == nil && p.Contains(a) {
				in = true
			}
		}
		if !in {
			return nil, fmt.Errorf("--ip %s is not in the subnet of network %s", ep.IP, n.Name)
		}
		e.Caps["ips"] = []string{a.String()}
	}
	if ep.MAC != "" {
		hw, err := net.ParseMAC(ep.MAC)
		if err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("invalid --mac-address %q", ep.MAC)
		}
		e.Caps["mac"] = hw.String()
	}
	list, err := m.attachList(n, ports)
	if err != nil {
		return nil, err
	}
	e.Conf = list.Bytes
	return e, nil
}

// add runs one endpoint's chain and fills in its results.
func (m *Manager) add(ctx context.Context, r *record, e *endpoint) error {
	list, err := libcni.ConfListFromBytes(e.Conf)
	if err != nil {
		return fmt.Errorf("network %s: %w", e.Network, err)
	}
	rt := &libcni.RuntimeConf{ContainerID: r.ContainerID, NetNS: r.NetNS, IfName: e.IfName, Args: e.Args, CapabilityArgs: e.Caps}
	res, err := m.cniConfig().AddNetworkList(ctx, list, rt)
	if err != nil {
		return fmt.Errorf("attach %s to network %s: %w", shortID(r.ContainerID), e.Network, err)
	}
	return fillEndpoint(e, res)
}

func fillEndpoint(e *endpoint, res types.Result) error {
	cur, err := types100.NewResultFromResult(res)
	if err != nil {
		return fmt.Errorf("network %s: result: %w", e.Network, err)
	}
	ifIdx := -1
	for i, itf := range cur.Interfaces {
		if itf.Sandbox != "" && itf.Name == e.IfName {
			ifIdx = i
			e.MAC = itf.Mac
		}
	}
	for _, ip := range cur.IPs {
		if ip.Interface != nil && ifIdx >= 0 && *ip.Interface != ifIdx {
			continue
		}
		e.IPs = append(e.IPs, ip.Address.String())
		if e.Gateway == "" && ip.Gateway != nil {
			e.Gateway = ip.Gateway.String()
		}
	}
	e.Done = true
	return nil
}

// commitRecord writes the filled-in record and rewrites the hosts files
// it touches.
func (m *Manager) commitRecord(r *record) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := m.writeRecord(r); err != nil {
		return err
	}
	return m.updateHosts(r, nil)
}

func (m *Manager) result(r *record) *AttachResult {
	res := &AttachResult{Ports: r.Ports, HostsFile: m.HostsFile(r.ContainerID)}
	for _, e := range r.Endpoints {
		nr := NetworkResult{Network: e.Network, NetworkID: e.NetworkID, Interface: e.IfName, Gateway: e.Gateway, MAC: e.MAC, Aliases: e.Aliases}
		if len(e.IPs) > 0 {
			if p, err := netip.ParsePrefix(e.IPs[0]); err == nil {
				nr.IP, nr.PrefixLen = p.Addr().String(), p.Bits()
			}
		}
		res.Networks = append(res.Networks, nr)
	}
	return res
}

// Attachment reports a container's current networks and ports (for
// `port` and `inspect`); nil when it is not attached.
func (m *Manager) Attachment(containerID string) (*AttachResult, error) {
	r, err := m.readRecord(containerID)
	if err != nil || r == nil {
		return nil, err
	}
	return m.result(r), nil
}

// Detach tears down every network of a container: DEL of each chain that
// ran (from the record, or from libcni's cache when the record is gone),
// then the record and the hosts file. It works after a crash, when the
// namespace is gone, and when nothing is attached (then it does nothing).
//
// Call it once the container's processes are gone (stop, rm, cleanup):
// a namespace made by NewNetNS that no process is in any more is removed
// first (as RemoveNetNS does), which makes the teardown several times
// cheaper. A namespace still in use is kept and its interfaces deleted.
func (m *Manager) Detach(ctx context.Context, containerID string) error {
	return m.detach(ctx, containerID, true)
}

// detach is Detach; dropNS allows removing the namespace first (not on a
// rollback: the caller's namespace must survive a failed Attach).
func (m *Manager) detach(ctx context.Context, containerID string, dropNS bool) error {
	r, err := m.readRecord(containerID)
	if err != nil {
		return err
	}
	if r == nil {
		r = &record{ContainerID: containerID}
	}
	// Chains in libcni's cache that the record does not know (a record
	// lost or never written) are torn down too.
	if cached, err := m.cniConfig().GetCachedAttachments(containerID); err == nil {
		for _, a := range cached {
			found := false
			for _, e := range r.Endpoints {
				if e.Network == a.Network && e.IfName == a.IfName {
					found = true
				}
			}
			if !found {
				r.Endpoints = append(r.Endpoints, &endpoint{Network: a.Network, IfName: a.IfName, Conf: a.Config, Args: a.CniArgs, Caps: a.CapabilityArgs})
				if r.NetNS == "" {
					r.NetNS = a.NetNS
				}
			}
		}
	}
	// A namespace of our own that no process uses any more goes first: the
	// kernel then destroys its interfaces in the background, in a batch,
	// where a DEL inside it would wait ~20 ms for each veth's unregister.
	// DEL then only releases what lives outside (leases, port rules).
	if dropNS && r.NetNS != "" && filepath.Dir(r.NetNS) == m.netnsDir() && !netnsInUse(r.NetNS) {
		if err := RemoveNetNS(r.NetNS); err != nil {
			return fmt.Errorf("detach %s: %w", shortID(containerID), err)
		}
	}
	var errs []error
	var left []*endpoint
	for i := len(r.Endpoints) - 1; i >= 0; i-- {
		if err := m.del(ctx, r, r.Endpoints[i]); err != nil {
			errs = append(errs, err)
			left = append([]*endpoint{r.Endpoints[i]}, left...)
		}
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if len(errs) > 0 {
		// Keep what failed, so a later Detach retries it.
		r.Endpoints = left
		if err := m.writeRecord(r); err != nil {
			errs = append(errs, err)
		}
		return fmt.Errorf("detach %s: %w", shortID(containerID), errors.Join(errs...))
	}
	if err := os.Remove(m.recordPath(containerID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("detach %s: %w", shortID(containerID), err)
	}
	if err := os.Remove(m.HostsFile(containerID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("detach %s: %w", shortID(containerID), err)
	}
	return m.updateHosts(nil, r)
}

// del runs DEL for one endpoint. DEL is idempotent in every plugin, so a
// chain that never ran (or half ran) is safe to delete.
func (m *Manager) del(ctx context.Context, r *record, e *endpoint) error {
	if len(e.Conf) == 0 {
		return nil
	}
	list, err := libcni.ConfListFromBytes(e.Conf)
	if err != nil {
		return fmt.Errorf("network %s: %w", e.Network, err)
	}
	rt := &libcni.RuntimeConf{ContainerID: r.ContainerID, NetNS: r.NetNS, IfName: e.IfName, Args: e.Args, CapabilityArgs: e.Caps}
	// A namespace that is gone (or a leftover file that is no namespace)
	// is passed as none: plugins then only release what lives outside it
	// (leases, host rules), which is all there is left.
	if !isNetNS(rt.NetNS) {
		rt.NetNS = ""
	}
	if err := m.cniConfig().DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("network %s: %w", e.Network, err)
	}
	return nil
}

// isNetNS says whether p is a mounted network namespace (nsfs).
func isNetNS(p string) bool {
	if p == "" {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC || st.Type == unix.PROC_SUPER_MAGIC
}

// netnsInUse says whether a process is in the namespace mounted at p.
func netnsInUse(p string) bool {
	var want unix.Stat_t
	if err := unix.Stat(p, &want); err != nil {
		return false
	}
	d, err := os.Open("/proc")
	if err != nil {
		return true
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return true
	}
	var st unix.Stat_t
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		if unix.Stat("/proc/"+n+"/ns/net", &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			return true
		}
	}
	return false
}
