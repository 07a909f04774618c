package opts

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// PortMapping publishes Range consecutive container ports starting at
// ContainerPort on host ports starting at HostPort.
type PortMapping struct {
	HostIP        string // "" = all addresses
	HostPort      uint16 // 0 = a random free port per container port
	ContainerPort uint16
	Protocol      string // tcp, udp or sctp
	Range         uint16 // number of ports, >= 1
	// HostPortEnd, when set, is Docker's "8000-8010:80" form: one container
	// port published on any free host port in [HostPort, HostPortEnd].
	HostPortEnd uint16
}

// ParsePublish parses -p values: [hostip:][hostport:]containerport[/proto]
// where either port may be a range "a-b" (equal lengths, or a host range
// with a single container port), an empty host port means random, and an
// IPv6 host address is written in brackets ("[::1]:8080:80"). The long
// form "published=8080,target=80,protocol=udp" is accepted too.
func ParsePublish(list []string) ([]PortMapping, error) {
	var out []PortMapping
	for _, p := range list {
		m, err := parsePublish(p)
		if err != nil {
			return nil, flagErr(flagPublish, p, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func parsePublish(raw string) (PortMapping, error) {
	if strings.Contains(raw, "=") {
		params := map[string]string{"protocol": "tcp"}
		for param := range strings.SplitSeq(raw, ",") {
			k, v, ok := strings.Cut(param, "=")
			if !ok || k == "" {
				return PortMapping{}, fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", param)
			}
			params[k] = v
		}
		raw = params["published"] + ":" + params["target"] + "/" + params["protocol"]
	}
	ip, hostPort, containerPort := splitPortParts(raw)
	containerPort, proto, _ := strings.Cut(containerPort, "/")
	if containerPort == "" {
		return PortMapping{}, fmt.Errorf("no port specified: %s<empty>", raw)
	}
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if err := validateProto(proto); err != nil {
		return PortMapping{}, err
	}
	if ip != "" && ip[0] == '[' {
		host, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return PortMapping{}, fmt.Errorf("invalid IP address %v: %w", ip, err)
		}
		ip = host
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return PortMapping{}, errors.New("invalid IP address: " + ip)
	}
	start, end, err := parsePortRange(containerPort)
	if err != nil || start == 0 {
		return PortMapping{}, errors.New("invalid containerPort: " + containerPort)
	}
	m := PortMapping{HostIP: ip, ContainerPort: start, Protocol: proto, Range: end - start + 1}
	if hostPort != "" {
		hStart, hEnd, err := parsePortRange(hostPort)
		if err != nil {
			return PortMapping{}, errors.New("invalid hostPort: " + hostPort)
		}
		if end-start != hEnd-hStart {
			// A host range is allowed with one container port: it is the
			// range to allocate a free host port from.
			if end != start {
				return PortMapping{}, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
			}
			m.HostPortEnd = hEnd
		}
		m.HostPort = hStart
	}
	return m, nil
}

// splitPortParts splits ip:host:ctr, keeping an unbracketed IPv6 address
// (all but the last two parts) whole.
func splitPortParts(raw string) (ip, host, ctr string) {
	parts := strings.Split(raw, ":")
	switch n := len(parts); n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	case 3:
		return parts[0], parts[1], parts[2]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

func validateProto(proto string) error {
	switch proto {
	case "tcp", "udp", "sctp":
		return nil
	}
	return errors.New("invalid proto: " + proto)
}

func parsePortRange(s string) (start, end uint16, err error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	a, b, isRange := strings.Cut(s, "-")
	start, err = parsePortNumber(a)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid start port '%s': %w", a, err)
	}
	if !isRange {
		return start, start, nil
	}
	end, err = parsePortNumber(b)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid end port '%s': %w", b, err)
	}
	if end < start {
		return 0, 0, errors.New("invalid port range: " + s)
	}
	return start, end, nil
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, errors.New("value out of range (0–65535)")
		}
		return 0, errors.New("invalid syntax")
	}
	return uint16(n), nil
}

// ExposedPorts parses an image config's ExposedPorts keys ("80/tcp",
// "53/udp", "8000-8010/tcp", "80" meaning tcp) into mappings without host
// ports, sorted by protocol then port.
func ExposedPorts(ports map[string]struct{}) ([]PortMapping, error) {
	keys := make([]string, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	return parseExposed("ExposedPorts", keys)
}

// ParseExpose parses --expose values: port[-port][/proto].
func ParseExpose(list []string) ([]PortMapping, error) {
	return parseExposed(flagExpose, list)
}

func parseExposed(flag string, list []string) ([]PortMapping, error) {
	out := make([]PortMapping, 0, len(list))
	for _, p := range list {
		port, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if err := validateProto(proto); err != nil {
			return nil, flagErr(flag, p, fmt.Errorf("invalid range format for --expose: %w", err))
		}
		start, end, err := parsePortRange(port)
		if err == nil && start == 0 {
			err = errors.New("invalid port 0")
		}
		if err != nil {
			return nil, flagErr(flag, p, fmt.Errorf("invalid range format for --expose: %w", err))
		}
		out = append(out, PortMapping{ContainerPort: start, Protocol: proto, Range: end - start + 1})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Protocol != out[j].Protocol {
			return out[i].Protocol < out[j].Protocol
		}
		return out[i].ContainerPort < out[j].ContainerPort
	})
	return out, nil
}
