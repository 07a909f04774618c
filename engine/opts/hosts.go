package opts

import (
	"fmt"
	"net"
	"strings"
)

// HostGateway is the --add-host value Docker replaces with the host's
// gateway address when the container starts.
const HostGateway = "host-gateway"

// ExtraHost is one --add-host entry for /etc/hosts.
type ExtraHost struct {
	Name string
	IP   string // as given (brackets stripped), or HostGateway
}

// String is the form Docker stores in HostConfig.ExtraHosts.
func (h ExtraHost) String() string { return h.Name + ":" + h.IP }

// ParseAddHost parses "name:ip" or "name=ip"; the address may be IPv6,
// in brackets or not, or the special value host-gateway.
func ParseAddHost(spec string) (ExtraHost, error) {
	k, v, ok := strings.Cut(spec, "=")
	if !ok {
		// Only the first ':' separates, so IPv6 addresses need no brackets.
		k, v, ok = strings.Cut(spec, ":")
	}
	if !ok || k == "" || strings.Contains(k, ":") {
		return ExtraHost{}, flagErr(flagAddHost, spec, fmt.Errorf("bad format for add-host: %q", spec))
	}
	if v != HostGateway {
		if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
			v = v[1 : len(v)-1]
		}
		if net.ParseIP(strings.TrimSpace(v)) == nil {
			return ExtraHost{}, flagErr(flagAddHost, spec, fmt.Errorf("invalid IP address in add-host: %q", v))
		}
	}
	return ExtraHost{Name: k, IP: v}, nil
}
