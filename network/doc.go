// Package network gives berth's containers their networks: CNI plugin
// chains run through libcni (containernetworking/cni) with the standard
// plugin binaries (/usr/lib/cni, /opt/cni/bin, or any plugin a user installs
// there), published ports, and name resolution between containers.
//
// # State
//
// Persistent (under root):
//
//	networks/<name>.conflist  one CNI network configuration list per network;
//	                          berth's metadata (id, driver, created, labels,
//	                          options, internal, subnets) is the top-level
//	                          "berth" key, which libcni ignores. A conflist a
//	                          user drops there (any plugins) is a network too.
//
// Runtime (under runroot; all of it dropped when the boot id changes, since
// /run may survive a reboot here):
//
//	netns/<id>                network namespaces (bind mounts of nsfs)
//	cni/                      libcni's cache: what every ADD ran, so a DEL
//	                          after a crash needs nothing else
//	ipam/                     host-local's leases
//	network/boot_id           boot the runtime state belongs to
//	network/lock              flock over records, hosts files and ports
//	network/endpoints/<id>.json one record per attached container
//	network/hosts/<id>        the container's /etc/hosts (bind-mount it)
//	network/firewall          marker: berth's iptables rules exist this boot
//
// # Firewall
//
// Networks are CNI bridges with ipMasq off: berth keeps one static rule set
// per bridge network (masquerade of its subnet, forward accept/isolation,
// drop for --internal) in its own chains BERTH-FORWARD (filter) and
// BERTH-POSTROUTING (nat) (suffixed with a hash of the root when the root
// is not /var/lib/berth), rebuilt in one iptables-restore when networks
// change and once per boot. Per-container NAT rules (the bridge plugin's ipMasq) or FORWARD
// rules (the firewall plugin) would cost several iptables executions on
// every start and stop, and the bridge plugin leaks its ipMasq rules when
// the namespace is gone before DEL (it returns early). Only published ports
// are per container (the portmap plugin, included in a chain only when the
// container publishes ports).
//
// # Name resolution
//
// berth keeps one hosts file per container instead of running a DNS
// responder per network: berth is daemonless, and a responder would be a
// long-lived process per network to start, supervise and tear down (with
// its own crash and reboot story), while a file costs nothing at runtime and
// works with every libc. Containers on the same user network see each other
// by name, short id and aliases; on the default network they do not (like
// Docker's default bridge). Peers' files are rewritten in place (write then
// truncate, never rename) when a container joins or leaves, because a bind
// mount keeps pointing at the inode it was made with.
//
// # Use by the engine
//
//	ns, err := m.NewNetNS(id)                    // <runroot>/netns/<id>, lo up
//	res, err := m.Attach(ctx, network.AttachOptions{ContainerID: id,
//		ContainerName: name, Hostname: hostname, NetNSPath: ns,
//		Networks: eps,                       // --network (several), --ip, --mac-address, --network-alias
//		Ports: ports,                        // ParsePorts(-p); -P: {ContainerPort, Protocol} per exposed port
//		ExtraHosts: addHosts})               // --add-host
//	// on error: RemoveNetNS(ns); nothing else is left.
//	// spec: network namespace path ns; bind res.HostsFile at /etc/hosts;
//	// network.ResolvConf(<bundle>/resolv.conf, DNSOptions{--dns, --dns-search, --dns-opt})
//	// bound at /etc/resolv.conf. res.Networks / res.Ports → inspect, `port`.
//	...
//	m.Detach(ctx, id)                            // stop, rm: after the processes are gone
//	network.RemoveNetNS(ns)                      // idempotent (Detach usually did it)
//	m.GC(ctx, live)                              // after crashes: what no live container owns
//
// --network none: a namespace without Attach, network.WriteHosts(dst,
// HostsOptions{ExtraHosts}). --network host: no namespace,
// WriteHosts(dst, HostsOptions{HostNetwork: true}) and ResolvConf with
// HostNetwork. --network container:ID: the other container's namespace and
// its HostsFile. m.Attachment(id) reports the networks and ports later.
// "bridge", "berth" and "" name the default network.
//
// # Rootless
//
// Everything here runs as root. Rootless networking would slot in as another
// attach path (slirp4netns/pasta in the container's user namespace) behind
// the same Attach/Detach API; the state layout already keeps everything under
// root and runroot.
package network
