package network

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// PortMapping publishes container ports on the host (-p). Range is the
// number of consecutive ports from HostPort and ContainerPort (0 and 1 both
// mean one). HostPort 0 picks free host ports. HostPortEnd, with Range 1,
// picks the first free host port in [HostPort, HostPortEnd] (Docker's
// "8000-8010:80"). The mappings Attach returns are one per port.
type PortMapping struct {
	HostIP        string `json:"hostIP,omitempty"`
	HostPort      uint16 `json:"hostPort"`
	HostPortEnd   uint16 `json:"hostPortEnd,omitempty"`
	ContainerPort uint16 `json:"containerPort"`
	Range         uint16 `json:"range,omitempty"`
	Protocol      string `json:"protocol"` // tcp (default), udp or sctp
}

// String is `port`'s form: "80/tcp -> 0.0.0.0:8080".
func (p PortMapping) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return fmt.Sprintf("%d/%s -> %s", p.ContainerPort, p.proto(), net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort))))
}

func (p PortMapping) proto() string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

// ParsePorts parses -p/--publish values: [hostip:][hostport:]containerport[/proto],
// where the ports may be ranges (8000-8010) and hostip may be [v6].
func ParsePorts(specs []string) ([]PortMapping, error) {
	var out []PortMapping
	for _, s := range specs {
		p, err := parsePort(s)
		if err != nil {
			return nil, fmt.Errorf("invalid -p %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePort(s string) (PortMapping, error) {
	var p PortMapping
	rest := s
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		p.Protocol = strings.ToLower(rest[i+1:])
		rest = rest[:i]
	}
	switch p.Protocol {
	case "":
		p.Protocol = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return p, fmt.Errorf("unknown protocol %q", p.Protocol)
	}
	var ip, host, ctr string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return p, fmt.Errorf("bad IPv6 address")
		}
		ip, rest = rest[1:end], rest[end+2:]
		parts := strings.Split(rest, ":")
		if len(parts) != 2 {
			return p, fmt.Errorf("want [IP]:HOSTPORT:CONTAINERPORT")
		}
		host, ctr = parts[0], parts[1]
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctr = parts[0]
		case 2:
			host, ctr = parts[0], parts[1]
		case 3:
			ip, host, ctr = parts[0], parts[1], parts[2]
		default:
			return p, fmt.Errorf("too many colons")
		}
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return p, fmt.Errorf("bad host IP %q", ip)
		}
		p.HostIP = a.String()
	}
	cs, ce, err := portRange(ctr)
	if err != nil {
		return p, fmt.Errorf("container port: %w", err)
	}
	if cs == 0 {
		return p, fmt.Errorf("container port 0")
	}
	p.ContainerPort, p.Range = cs, ce-cs+1
	if host == "" {
		return p, nil
	}
	hs, he, err := portRange(host)
	if err != nil {
		return p, fmt.Errorf("host port: %w", err)
	}
	p.HostPort = hs
	switch {
	case he-hs == ce-cs:
	case cs == ce:
		p.HostPortEnd = he
	default:
		return p, fmt.Errorf("host port range %s and container port range %s differ in length", host, ctr)
	}
	return p, nil
}

func portRange(s string) (uint16, uint16, error) {
	a, b, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("bad port %q", a)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(b, 10, 16); err != nil || end < start {
			return 0, 0, fmt.Errorf("bad port range %q", s)
		}
	}
	return uint16(start), uint16(end), nil
}

// hostIPsOverlap: 0.0.0.0 (or "") overlaps every address.
func hostIPsOverlap(a, b string) bool {
	any := func(s string) bool { return s == "" || s == "0.0.0.0" || s == "::" }
	return any(a) || any(b) || a == b
}

// allocatePorts turns requests into one mapping per port with every host
// port chosen and checked: not published by another container (records)
// and free on the host (a bind test). Caller holds the lock.
func allocatePorts(reqs []PortMapping, others []*record) ([]PortMapping, error) {
	var taken []PortMapping
	owner := map[int]string{}
	for _, r := range others {
		for _, p := range r.Ports {
			owner[len(taken)] = r.name()
			taken = append(taken, p)
		}
	}
	usedBy := func(ip string, port uint16, proto string) (string, bool) {
		for i, t := range taken {
			if t.HostPort == port && t.proto() == proto && hostIPsOverlap(t.HostIP, ip) {
				if o, ok := owner[i]; ok {
					return "container " + o, true
				}
				return "this container", true
			}
		}
		return "", false
	}
	check := func(ip string, port uint16, proto string) error {
		if who, used := usedBy(ip, port, proto); used {
			return fmt.Errorf("host port %s/%s is already allocated to %s", net.JoinHostPort(anyIP(ip), strconv.Itoa(int(port))), proto, who)
		}
		return bindTest(ip, port, proto)
	}
	lo, hi := ephemeralRange()
	var out []PortMapping
	for _, r := range reqs {
		n := max(r.Range, 1)
		proto := r.proto()
		if uint32(r.ContainerPort)+uint32(n)-1 > 65535 || uint32(r.HostPort)+uint32(n)-1 > 65535 {
			return nil, fmt.Errorf("port range %d+%d is past 65535", r.ContainerPort, n)
		}
		for i := uint16(0); i < n; i++ {
			m := PortMapping{HostIP: r.HostIP, ContainerPort: r.ContainerPort + i, Protocol: proto}
			switch {
			case r.HostPort != 0 && r.HostPortEnd == 0:
				m.HostPort = r.HostPort + i
				if err := check(m.HostIP, m.HostPort, proto); err != nil {
					return nil, err
				}
			default:
				from, to := lo, hi
				if r.HostPort != 0 {
					from, to = r.HostPort, r.HostPortEnd
				}
				var last error
				span := int(to) - int(from) + 1
				start := 0
				if r.HostPort == 0 {
					start = rand.IntN(span)
				}
				for k := 0; k < span; k++ {
					port := uint16(int(from) + (start+k)%span)
					if last = check(m.HostIP, port, proto); last == nil {
						m.HostPort = port
						break
					}
				}
				if m.HostPort == 0 {
					return nil, fmt.Errorf("no free host port in %d-%d for %d/%s: %v", from, to, m.ContainerPort, proto, last)
				}
			}
			taken = append(taken, m)
			out = append(out, m)
		}
	}
	return out, nil
}

func anyIP(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}

// bindTest fails when a process on the host holds the port (portmap's DNAT
// would silently steal its traffic otherwise).
func bindTest(ip string, port uint16, proto string) error {
	addr := net.JoinHostPort(ip, strconv.Itoa(int(port)))
	switch proto {
	case "tcp":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("host port %s/tcp is not free: %w", net.JoinHostPort(anyIP(ip), strconv.Itoa(int(port))), err)
		}
		l.Close()
	case "udp":
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("host port %s/udp is not free: %w", net.JoinHostPort(anyIP(ip), strconv.Itoa(int(port))), err)
		}
		c.Close()
	}
	return nil
}

// ephemeralRange is where random host ports come from, like Docker's.
func ephemeralRange() (uint16, uint16) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, e1 := strconv.Atoi(f[0])
			hi, e2 := strconv.Atoi(f[1])
			if e1 == nil && e2 == nil && lo > 0 && hi <= 65535 && lo <= hi {
				return uint16(lo), uint16(hi)
			}
		}
	}
	return 32768, 60999
}

// portmapArgs is portmap's runtimeConfig.portMappings.
func portmapArgs(ports []PortMapping) []map[string]any {
	var out []map[string]any
	for _, p := range ports {
		m := map[string]any{"hostPort": int(p.HostPort), "containerPort": int(p.ContainerPort), "protocol": p.proto()}
		if p.HostIP != "" {
			m["hostIP"] = p.HostIP
		}
		out = append(out, m)
	}
	return out
}
