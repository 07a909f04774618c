package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// DNSOptions are --dns, --dns-search and --dns-opt.
type DNSOptions struct {
	Servers, Search, Options []string
	// HostNetwork keeps loopback name servers (--network host: they
	// answer there).
	HostNetwork bool
}

// HostResolvConf is the file ResolvConf starts from.
var HostResolvConf = "/etc/resolv.conf"

// systemd-resolved's stub listens on the host's loopback only; its
// upstream servers are in this file.
const resolvedUpstream = "/run/systemd/resolve/resolv.conf"

// ResolvConf writes a container's resolv.conf at dst (in place: dst may
// already be bind-mounted) by Docker's rules: the host's file without
// loopback name servers (they do not answer in the container's namespace),
// 8.8.8.8 and 8.8.4.4 when none remain, and the options overriding.
// A search list of "." means none.
func ResolvConf(dst string, o DNSOptions) error {
	src := HostResolvConf
	host, err := os.ReadFile(src)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", src, err)
	}
	servers, search, options := parseResolv(host)
	if !o.HostNetwork && onlyLoopback(servers) {
		if b, err := os.ReadFile(resolvedUpstream); err == nil {
			servers, search, options = parseResolv(b)
		}
	}
	var keep []string
	for _, s := range servers {
		a, err := netip.ParseAddr(s)
		if err != nil || (a.IsLoopback() && !o.HostNetwork) {
			continue
		}
		keep = append(keep, s)
	}
	if len(o.Servers) > 0 {
		for _, s := range o.Servers {
			if _, err := netip.ParseAddr(s); err != nil {
				return fmt.Errorf("invalid --dns %q: not an IP address", s)
			}
		}
		keep = o.Servers
	}
	if len(keep) == 0 {
		keep = []string{"8.8.8.8", "8.8.4.4"}
	}
	if len(o.Search) > 0 {
		search = o.Search
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(o.Options) > 0 {
		options = o.Options
	}
	var b bytes.Buffer
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, s := range keep {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	if err := writeInPlace(dst, b.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

func parseResolv(b []byte) (servers, search, options []string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search", "domain":
			search = f[1:] // the last one wins, like the resolver
		case "options":
			options = append(options, f[1:]...)
		}
	}
	return
}

func onlyLoopback(servers []string) bool {
	if len(servers) == 0 {
		return false
	}
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err != nil || !a.IsLoopback() {
			return false
		}
	}
	return true
}
