package network

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParsePorts(t *testing.T) {
	for _, c := range []struct {
		in   string
		want PortMapping
	}{
		{"80", PortMapping{ContainerPort: 80, Range: 1, Protocol: "tcp"}},
		{"8080:80", PortMapping{HostPort: 8080, ContainerPort: 80, Range: 1, Protocol: "tcp"}},
		{"127.0.0.1:8080:80/udp", PortMapping{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Range: 1, Protocol: "udp"}},
		{"127.0.0.1::80", PortMapping{HostIP: "127.0.0.1", ContainerPort: 80, Range: 1, Protocol: "tcp"}},
		{"[::1]:8080:80", PortMapping{HostIP: "::1", HostPort: 8080, ContainerPort: 80, Range: 1, Protocol: "tcp"}},
		{"8000-8002:80-82", PortMapping{HostPort: 8000, ContainerPort: 80, Range: 3, Protocol: "tcp"}},
		{"8000-8010:80", PortMapping{HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Range: 1, Protocol: "tcp"}},
		{"80-81", PortMapping{ContainerPort: 80, Range: 2, Protocol: "tcp"}},
	} {
		got, err := ParsePorts([]string{c.in})
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("ParsePorts(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "x", "80/icmp", "1.2.3.4:5:6:7", "bad:80:80", "8000-8001:80-83", "0", "70000", "90-80"} {
		if _, err := ParsePorts([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParsePorts(%q): %v; want an error naming it", bad, err)
		}
	}
}

func TestAllocatePorts(t *testing.T) {
	others := []*record{{ContainerID: "0123456789abcdef", ContainerName: "/web", Ports: []PortMapping{{HostPort: 40001, ContainerPort: 80, Protocol: "tcp"}}}}
	got, err := allocatePorts([]PortMapping{{HostPort: 40000, HostPortEnd: 40005, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 40010, ContainerPort: 90, Range: 2, Protocol: "udp"}}, others)
	if err != nil {
		t.Fatal(err)
	}
	want := []PortMapping{{HostPort: 40000, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 40010, ContainerPort: 90, Protocol: "udp"}, {HostPort: 40011, ContainerPort: 91, Protocol: "udp"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// The range skips a port another container holds.
	got, err = allocatePorts([]PortMapping{{HostPort: 40001, HostPortEnd: 40003, ContainerPort: 80, Protocol: "tcp"}}, others)
	if err != nil || got[0].HostPort != 40002 {
		t.Fatalf("range past a taken port: %+v %v", got, err)
	}
	// The same port twice in one request, or on 127.0.0.1 vs 0.0.0.0.
	if _, err := allocatePorts([]PortMapping{{HostPort: 40020, ContainerPort: 1}, {HostPort: 40020, ContainerPort: 2}}, nil); err == nil || !strings.Contains(err.Error(), "40020") {
		t.Fatalf("duplicate in one request: %v", err)
	}
	if _, err := allocatePorts([]PortMapping{{HostIP: "127.0.0.1", HostPort: 40001, ContainerPort: 1}}, others); err == nil || !strings.Contains(err.Error(), "web") {
		t.Fatalf("overlap with 0.0.0.0 of another container: %v", err)
	}
	// udp and tcp are separate.
	if _, err := allocatePorts([]PortMapping{{HostPort: 40001, ContainerPort: 1, Protocol: "udp"}}, others); err != nil {
		t.Fatal(err)
	}
	got, err = allocatePorts([]PortMapping{{ContainerPort: 80}, {ContainerPort: 81}}, nil)
	lo, hi := ephemeralRange()
	if err != nil || got[0].HostPort < lo || got[0].HostPort > hi || got[0].HostPort == got[1].HostPort {
		t.Fatalf("random ports: %+v %v", got, err)
	}
}

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	old := HostResolvConf
	defer func() { HostResolvConf = old }()
	HostResolvConf = filepath.Join(dir, "host")
	dst := filepath.Join(dir, "out")
	write := func(s string) { os.WriteFile(HostResolvConf, []byte(s), 0o644) }
	read := func() string { b, _ := os.ReadFile(dst); return string(b) }

	write("# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch a.example b.example\noptions ndots:2\n")
	if err := ResolvConf(dst, DNSOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "search a.example b.example\nnameserver 10.0.0.2\noptions ndots:2\n" {
		t.Fatalf("copy: %q", got)
	}
	before, _ := os.Stat(dst)
	if err := ResolvConf(dst, DNSOptions{Servers: []string{"1.1.1.1"}, Search: []string{"."}, Options: []string{"timeout:1"}}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(dst)
	if got := read(); got != "nameserver 1.1.1.1\noptions timeout:1\n" || !os.SameFile(before, after) {
		t.Fatalf("overrides (in place %v): %q", os.SameFile(before, after), read())
	}
	write("nameserver 127.0.0.1\n")
	if err := ResolvConf(dst, DNSOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "nameserver 8.8.8.8\nnameserver 8.8.4.4\n" {
		t.Fatalf("fallback: %q", got)
	}
	if err := ResolvConf(dst, DNSOptions{HostNetwork: true}); err != nil || read() != "nameserver 127.0.0.1\n" {
		t.Fatalf("host network: %q %v", read(), err)
	}
	if err := ResolvConf(dst, DNSOptions{Servers: []string{"not-an-ip"}}); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Fatalf("bad --dns: %v", err)
	}
}

func TestWriteHosts(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "hosts")
	if err := WriteHosts(dst, HostsOptions{ExtraHosts: []string{"db:10.0.0.5", "v6:[fd00::1]"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(dst)
	if !strings.HasPrefix(string(b), "127.0.0.1\tlocalhost\n") || !strings.Contains(string(b), "10.0.0.5\tdb\n") || !strings.Contains(string(b), "fd00::1\tv6\n") {
		t.Fatalf("hosts:\n%s", b)
	}
	if err := WriteHosts(dst, HostsOptions{ExtraHosts: []string{"nocolon"}}); err == nil || !strings.Contains(err.Error(), "nocolon") {
		t.Fatalf("bad --add-host: %v", err)
	}
}
