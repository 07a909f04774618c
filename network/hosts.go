package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// HostsOptions describe a hosts file of a container that berth does not
// attach to networks (--network none or host; see WriteHosts).
type HostsOptions struct {
	ExtraHosts []string // "NAME:IP"
	// HostNetwork copies the host's /etc/hosts (--network host) instead
	// of the localhost lines.
	HostNetwork bool
}

const localhostLines = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`

// WriteHosts writes (in place) the hosts file of a container that has no
// berth network: with --network none, the localhost lines and the
// --add-host entries; with --network host, the host's file and the
// --add-host entries.
func WriteHosts(dst string, o HostsOptions) error {
	var b bytes.Buffer
	if o.HostNetwork {
		host, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return fmt.Errorf("read /etc/hosts: %w", err)
		}
		b.Write(host)
		if len(host) > 0 && host[len(host)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString(localhostLines)
	}
	if err := writeExtraHosts(&b, o.ExtraHosts, ""); err != nil {
		return err
	}
	return writeInPlace(dst, b.Bytes())
}

// parseExtraHost splits --add-host NAME:IP (IP may be "host-gateway" or
// an IPv6 address with colons).
func parseExtraHost(s string) (string, string, error) {
	name, ip, ok := strings.Cut(s, ":")
	if !ok || name == "" || ip == "" {
		return "", "", fmt.Errorf("invalid --add-host %q: want NAME:IP", s)
	}
	if ip == "host-gateway" {
		return name, ip, nil
	}
	if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
		return "", "", fmt.Errorf("invalid --add-host %q: %q is not an IP address", s, ip)
	}
	return name, strings.Trim(ip, "[]"), nil
}

func writeExtraHosts(b *bytes.Buffer, hosts []string, gateway string) error {
	for _, h := range hosts {
		name, ip, err := parseExtraHost(h)
		if err != nil {
			return err
		}
		if ip == "host-gateway" {
			if gateway == "" {
				gateway = "127.0.0.1"
			}
			ip = gateway
		}
		fmt.Fprintf(b, "%s\t%s\n", ip, name)
	}
	return nil
}

// renderHosts is a container's hosts file: localhost, --add-host entries,
// its own addresses with its hostname, then its peers on the user
// networks it shares with them (name, short id, aliases on that network).
func renderHosts(r *record, all []*record) []byte {
	var b bytes.Buffer
	b.WriteString(localhostLines)
	gw := ""
	for _, e := range r.Endpoints {
		if e.Gateway != "" {
			gw = e.Gateway
			break
		}
	}
	writeExtraHosts(&b, r.ExtraHosts, gw)
	for _, e := range r.Endpoints {
		names := []string{r.Hostname}
		if !e.Default {
			names = appendNames(names, r, e)
		}
		for _, ip := range e.IPs {
			fmt.Fprintf(&b, "%s\t%s\n", addrOf(ip), strings.Join(names, " "))
		}
	}
	for _, p := range all {
		if p.ContainerID == r.ContainerID {
			continue
		}
		for _, e := range r.Endpoints {
			if e.Default {
				continue
			}
			pe := p.endpoint(e.Network)
			if pe == nil || !pe.Done {
				continue
			}
			names := appendNames(nil, p, pe)
			for _, ip := range pe.IPs {
				fmt.Fprintf(&b, "%s\t%s\n", addrOf(ip), strings.Join(names, " "))
			}
		}
	}
	return b.Bytes()
}

// appendNames adds the names r has on network endpoint e, without repeats.
func appendNames(names []string, r *record, e *endpoint) []string {
	for _, n := range append([]string{r.name(), shortID(r.ContainerID)}, e.Aliases...) {
		if n != "" && !contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

func addrOf(cidr string) string {
	if p, err := netip.ParsePrefix(cidr); err == nil {
		return p.Addr().String()
	}
	return cidr
}

// updateHosts rewrites the hosts file of changed (when not nil) and of
// every container sharing a user network with changed or gone. Caller
// holds the lock; changed's record is already written, gone's removed.
func (m *Manager) updateHosts(changed, gone *record) error {
	shares := func(a, b *record) bool {
		for _, e := range a.Endpoints {
			if !e.Default && b.endpoint(e.Network) != nil {
				return true
			}
		}
		return false
	}
	var all []*record
	needAll := false
	for _, x := range []*record{changed, gone} {
		if x == nil {
			continue
		}
		for _, e := range x.Endpoints {
			if !e.Default {
				needAll = true
			}
		}
	}
	if needAll {
		var err error
		if all, err = m.allRecords(); err != nil {
			return err
		}
	}
	if changed != nil {
		if err := writeInPlace(m.HostsFile(changed.ContainerID), renderHosts(changed, all)); err != nil {
			return fmt.Errorf("hosts file of %s: %w", shortID(changed.ContainerID), err)
		}
	}
	for _, p := range all {
		if changed != nil && p.ContainerID == changed.ContainerID {
			continue
		}
		if (changed != nil && shares(p, changed)) || (gone != nil && shares(p, gone)) {
			if _, err := os.Stat(m.HostsFile(p.ContainerID)); err != nil {
				continue
			}
			if err := writeInPlace(m.HostsFile(p.ContainerID), renderHosts(p, all)); err != nil {
				return fmt.Errorf("hosts file of %s: %w", shortID(p.ContainerID), err)
			}
		}
	}
	return nil
}
