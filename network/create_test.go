package network

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Bad settings fail with an error naming the value and leave no network.
func TestCreateErrors(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	dup := testID(t, "dup")
	if _, err := m.Create(ctx, CreateOptions{Name: dup}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    CreateOptions
		want string
	}{
		{CreateOptions{Name: "x1", Subnet: "10.1.2.0/33"}, "10.1.2.0/33"},
		{CreateOptions{Name: "x2", Subnet: "nonsense"}, "nonsense"},
		{CreateOptions{Name: "x3", Subnet: "10.96.90.0/24", Gateway: "10.96.91.1"}, "10.96.91.1"},
		{CreateOptions{Name: "x4", Subnet: "10.96.90.0/24", Gateway: "bogus"}, "bogus"},
		{CreateOptions{Name: "x5", Subnet: "10.96.90.0/24", IPRange: "10.96.91.0/25"}, "10.96.91.0/25"},
		{CreateOptions{Name: "x6", Gateway: "10.96.90.1"}, "--subnet"},
		{CreateOptions{Name: dup}, dup},
		{CreateOptions{Name: "x7", Driver: "nosuchdriver"}, "nosuchdriver"},
		{CreateOptions{Name: "x8", Options: map[string]string{"frobnicate": "1"}}, "frobnicate"},
		{CreateOptions{Name: "x9", Driver: "macvlan", Options: map[string]string{"parent": "nosuchif0"}}, "nosuchif0"},
		{CreateOptions{Name: "bad/name"}, "bad/name"},
		{CreateOptions{Name: "host"}, "host"},
		{CreateOptions{Name: "bridge"}, "bridge"},
		{CreateOptions{Name: "x10", Subnet: "fd00::/64"}, "fd00::/64"},
		{CreateOptions{Name: "x11", Options: map[string]string{"mtu": "9"}}, "mtu=9"},
	} {
		_, err := m.Create(ctx, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Create(%+v): %v; want an error naming %q", c.o, err, c.want)
		}
	}
	// An overlapping subnet names the network it overlaps.
	a, err := m.Create(ctx, CreateOptions{Name: testID(t, "ov"), Subnet: "10.96.91.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, CreateOptions{Name: "x12", Subnet: "10.96.91.128/25"}); err == nil || !strings.Contains(err.Error(), a.Name) {
		t.Errorf("overlapping subnet: %v", err)
	}
	nets, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nets {
		names = append(names, n.Name)
	}
	if len(nets) != 3 || names[0] != DefaultNetwork {
		t.Fatalf("networks after failed creates: %v", names)
	}
}

// Subnets and bridges are allocated without clashes; --ip-range and the
// gateway reach the conflist; prune removes unused networks only.
func TestCreateAllocatePrune(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	a, err := m.Create(ctx, CreateOptions{Name: testID(t, "a")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(ctx, CreateOptions{Name: testID(t, "b"), Internal: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnets[0].Subnet == b.Subnets[0].Subnet || a.Interface == b.Interface {
		t.Fatalf("clash: %+v %+v", a, b)
	}
	c, err := m.Create(ctx, CreateOptions{Name: testID(t, "c"), Subnet: "10.96.92.0/24", IPRange: "10.96.92.0/28", Gateway: "10.96.92.1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c.Conf), `"rangeStart": "10.96.92.2"`) || !strings.Contains(string(c.Conf), `"rangeEnd": "10.96.92.15"`) {
		t.Fatalf("ip range in the conflist:\n%s", c.Conf)
	}
	rules, _ := exec.Command("iptables-save").Output()
	if !strings.Contains(string(rules), "-s "+a.Subnets[0].Subnet+" ! -o "+a.Interface) || strings.Contains(string(rules), "-s "+b.Subnets[0].Subnet) {
		t.Fatalf("masquerade rules (want %s, not internal %s):\n%s", a.Subnets[0].Subnet, b.Subnets[0].Subnet, rules)
	}
	// Inspect by id prefix; a container keeps a from being pruned.
	if in, err := m.Inspect(ctx, b.ID[:8]); err != nil || in.Name != b.Name || !in.Internal {
		t.Fatalf("inspect by id: %+v %v", in, err)
	}
	id := testID(t, "p")
	ns := newNS(t, m, id)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns, Networks: []Endpoint{{Network: a.Name}}}); err != nil {
		t.Fatal(err)
	}
	removed, err := m.Prune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(removed, ",") != b.Name+","+c.Name && strings.Join(removed, ",") != c.Name+","+b.Name {
		t.Fatalf("pruned %v; want %s and %s", removed, b.Name, c.Name)
	}
	if _, err := os.Stat(b.Path); !os.IsNotExist(err) {
		t.Fatalf("pruned conflist remains: %v", err)
	}
	if err := m.Remove(ctx, "bridge"); err == nil || !strings.Contains(err.Error(), "pre-defined") {
		t.Fatalf("remove of the default network: %v", err)
	}
	if err := m.Remove(ctx, "nosuchnet"); err == nil || !strings.Contains(err.Error(), "nosuchnet") {
		t.Fatalf("remove of a missing network: %v", err)
	}
}

// macvlan and ipvlan on a veth parent (this kernel may lack ipvlan: then
// that half is skipped).
func TestMacvlanIpvlan(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	parent := fmt.Sprintf("btp%d", os.Getpid())
	if out, err := exec.Command("ip", "link", "add", parent, "type", "veth", "peer", "name", parent+"p").CombinedOutput(); err != nil {
		t.Fatalf("veth: %v %s", err, out)
	}
	defer exec.Command("ip", "link", "del", parent).Run()
	exec.Command("ip", "link", "set", parent, "up").Run()
	for i, driver := range []string{"macvlan", "ipvlan"} {
		probe := parent + "x"
		if out, err := exec.Command("ip", "link", "add", "link", parent, "name", probe, "type", driver).CombinedOutput(); err != nil {
			t.Logf("skip %s: the kernel lacks it: %s", driver, out)
			continue
		}
		exec.Command("ip", "link", "del", probe).Run()
		n, err := m.Create(ctx, CreateOptions{Name: testID(t, driver), Driver: driver, Subnet: []string{"10.96.93.0/24", "10.96.94.0/24"}[i], Options: map[string]string{"parent": parent}})
		if err != nil {
			t.Fatal(err)
		}
		id := testID(t, "v")
		ns := newNS(t, m, id)
		res, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns, Networks: []Endpoint{{Network: n.Name}}})
		if err != nil {
			t.Fatal(err)
		}
		if addrs := mustNS(t, ns, "ip", "-o", "addr"); !strings.Contains(addrs, res.Networks[0].IP) {
			t.Fatalf("%s: address %s missing: %s", driver, res.Networks[0].IP, addrs)
		}
		if in, _ := m.Inspect(ctx, n.Name); in.Driver != driver || in.Options["parent"] != parent {
			t.Fatalf("inspect %s: %+v", driver, in)
		}
		if err := m.Detach(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := m.Remove(ctx, n.Name); err != nil {
			t.Fatal(err)
		}
	}
}

// Connect and Disconnect on a running container update the peers' files.
func TestConnectDisconnect(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	n, err := m.Create(ctx, CreateOptions{Name: testID(t, "cd")})
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := testID(t, "a"), testID(t, "b")
	nsA, nsB := newNS(t, m, idA), newNS(t, m, idB)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: idA, ContainerName: "one", NetNSPath: nsA}); err != nil {
		t.Fatal(err)
	}
	resB, err := m.Attach(ctx, AttachOptions{ContainerID: idB, ContainerName: "two", NetNSPath: nsB, Networks: []Endpoint{{Network: n.Name}}})
	if err != nil {
		t.Fatal(err)
	}
	found, err := m.FindAttached("one")
	if err != nil || found != idA {
		t.Fatalf("FindAttached: %q %v", found, err)
	}
	nr, err := m.Connect(ctx, idA, Endpoint{Network: n.Name, Aliases: []string{"uno"}})
	if err != nil {
		t.Fatal(err)
	}
	if nr.Interface != "eth1" || nr.IP == "" {
		t.Fatalf("connect: %+v", nr)
	}
	if !strings.Contains(mustNS(t, nsA, "ip", "-o", "addr"), nr.IP) {
		t.Fatal("connected address missing")
	}
	mustNS(t, nsA, "ping", "-c", "1", "-W", "5", resB.Networks[0].IP)
	hostsB, _ := os.ReadFile(m.HostsFile(idB))
	if !strings.Contains(string(hostsB), nr.IP+"\tone "+shortID(idA)+" uno") {
		t.Fatalf("B's hosts after connect:\n%s", hostsB)
	}
	if _, err := m.Connect(ctx, idA, Endpoint{Network: n.Name}); err == nil || !strings.Contains(err.Error(), "already") {
		t.Fatalf("second connect: %v", err)
	}
	if err := m.Disconnect(ctx, idA, n.Name); err != nil {
		t.Fatal(err)
	}
	hostsB, _ = os.ReadFile(m.HostsFile(idB))
	if strings.Contains(string(hostsB), "one") {
		t.Fatalf("B's hosts after disconnect:\n%s", hostsB)
	}
	if strings.Contains(mustNS(t, nsA, "ip", "-o", "link"), "eth1") {
		t.Fatal("eth1 survives disconnect")
	}
	if err := m.Disconnect(ctx, idA, n.Name); err == nil {
		t.Fatal("second disconnect succeeded")
	}
}
