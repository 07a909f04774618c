package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two namespaces on a user network and one also on the default network:
// addresses, ping and HTTP by name, hosts files, no names on the default.
func TestAttachUserAndDefault(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	user, err := m.Create(ctx, CreateOptions{Name: testID(t, "net"), Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	idA, idB, idC := testID(t, "a"), testID(t, "b"), testID(t, "c")
	nsA, nsB, nsC := newNS(t, m, idA), newNS(t, m, idB), newNS(t, m, idC)

	resA, err := m.Attach(ctx, AttachOptions{ContainerID: idA, ContainerName: "alpha", Hostname: "hosta", NetNSPath: nsA,
		Networks:   []Endpoint{{Network: "bridge"}, {Network: user.Name, Aliases: []string{"web"}}},
		ExtraHosts: []string{"extra.example:192.0.2.7", "gw:host-gateway"}})
	if err != nil {
		t.Fatal(err)
	}
	resB, err := m.Attach(ctx, AttachOptions{ContainerID: idB, ContainerName: "beta", NetNSPath: nsB, Networks: []Endpoint{{Network: user.Name}}})
	if err != nil {
		t.Fatal(err)
	}
	resC, err := m.Attach(ctx, AttachOptions{ContainerID: idC, ContainerName: "gamma", NetNSPath: nsC})
	if err != nil {
		t.Fatal(err)
	}
	if len(resA.Networks) != 2 || resA.Networks[0].Interface != "eth0" || resA.Networks[1].Interface != "eth1" {
		t.Fatalf("networks of A: %+v", resA.Networks)
	}
	addrs := mustNS(t, nsA, "ip", "-o", "addr")
	for _, n := range resA.Networks {
		if n.IP == "" || !strings.Contains(addrs, n.IP+"/"+fmt.Sprint(n.PrefixLen)) {
			t.Fatalf("A's addresses %q lack %s/%d", addrs, n.IP, n.PrefixLen)
		}
		if !strings.Contains(addrs, n.Interface) {
			t.Fatalf("A's addresses %q lack %s", addrs, n.Interface)
		}
	}
	if !strings.Contains(mustNS(t, nsA, "ip", "route"), "default via "+resA.Networks[0].Gateway) {
		t.Fatal("A has no default route via the default network's gateway")
	}
	ipB := resB.Networks[0].IP
	mustNS(t, nsA, "ping", "-c", "1", "-W", "5", ipB)

	// Name resolution: A's file has beta, B's has alpha and its alias;
	// gamma (default network only) is in nobody's and sees nobody.
	hostsA, _ := os.ReadFile(resA.HostsFile)
	hostsB, _ := os.ReadFile(resB.HostsFile)
	hostsC, _ := os.ReadFile(resC.HostsFile)
	for _, want := range []string{"127.0.0.1\tlocalhost", ipB + "\tbeta", "192.0.2.7\textra.example", resA.Networks[0].Gateway + "\tgw", resA.Networks[0].IP + "\thosta"} {
		if !strings.Contains(string(hostsA), want) {
			t.Errorf("A's hosts lack %q:\n%s", want, hostsA)
		}
	}
	if !strings.Contains(string(hostsB), resA.Networks[1].IP+"\talpha "+shortID(idA)+" web") {
		t.Errorf("B's hosts lack alpha with its alias:\n%s", hostsB)
	}
	if strings.Contains(string(hostsA), "gamma") || strings.Contains(string(hostsC), "alpha") || strings.Contains(string(hostsB), resA.Networks[0].IP) {
		t.Errorf("names leak over the default network:\nA:\n%s\nB:\n%s\nC:\n%s", hostsA, hostsB, hostsC)
	}
	// HTTP by name and by short id, with A's file as its /etc/hosts;
	// gamma, on the default network only, cannot resolve beta.
	httpd(t, nsB, 8080, "beta")
	for _, host := range []string{ipB, "beta", shortID(idB)} {
		var out string
		for i := 0; i < 50; i++ {
			if out, err = inNSHosts(nsA, resA.HostsFile, "wget", "-q", "-O", "-", "http://"+host+":8080/"); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if out != "hello beta\n" {
			t.Fatalf("wget from A to http://%s:8080/: %v %q", host, err, out)
		}
	}
	if out, err := inNSHosts(nsC, resC.HostsFile, "ping", "-c", "1", "-W", "1", "beta"); err == nil || !strings.Contains(out, "bad address") {
		t.Fatalf("gamma resolved beta over the default network: %v %q", err, out)
	}
	if out, err := inNSHosts(nsB, resB.HostsFile, "ping", "-c", "1", "-W", "5", "web"); err != nil {
		t.Fatalf("beta pings alpha's alias web: %v %q", err, out)
	}

	// inspect lists the containers of the user network.
	in, err := m.Inspect(ctx, user.ID[:12])
	if err != nil {
		t.Fatal(err)
	}
	if in.Name != user.Name || len(in.Containers) != 2 || in.Containers[idB].Name != "beta" || in.Containers[idB].IPv4Address != ipB+"/24" || in.Labels["a"] != "b" || in.IPAM.Config[0].Subnet != user.Subnets[0].Subnet {
		t.Fatalf("inspect: %+v", in)
	}
	// rm refuses while containers are attached, naming them.
	if err := m.Remove(ctx, user.Name); err == nil || !strings.Contains(err.Error(), "alpha") || !strings.Contains(err.Error(), "beta") {
		t.Fatalf("remove of a used network: %v", err)
	}
	// B leaves: A's file forgets it, in place (same inode).
	before, _ := os.Stat(resA.HostsFile)
	if err := m.Detach(ctx, idB); err != nil {
		t.Fatal(err)
	}
	hostsA, _ = os.ReadFile(resA.HostsFile)
	after, _ := os.Stat(resA.HostsFile)
	if strings.Contains(string(hostsA), "beta") || !os.SameFile(before, after) {
		t.Fatalf("A's hosts after B left (same file %v):\n%s", os.SameFile(before, after), hostsA)
	}
	if _, err := os.Stat(resB.HostsFile); !os.IsNotExist(err) {
		t.Fatalf("B's hosts file outlives Detach: %v", err)
	}
	for _, id := range []string{idA, idC} {
		if err := m.Detach(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Remove(ctx, user.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := net.InterfaceByName(user.Interface); err == nil {
		t.Fatalf("bridge %s outlives its network", user.Interface)
	}
}

// A published port answers on the host; a port taken by another container
// or by a process fails before anything is created.
func TestPublish(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	id := testID(t, "p")
	ns := newNS(t, m, id)
	ports, err := ParsePorts([]string{"80", "127.0.0.1::81/udp"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Attach(ctx, AttachOptions{ContainerID: id, ContainerName: "pub", NetNSPath: ns, Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ports) != 2 || res.Ports[0].HostPort == 0 || res.Ports[1].HostIP != "127.0.0.1" || res.Ports[1].Protocol != "udp" {
		t.Fatalf("ports: %+v", res.Ports)
	}
	httpd(t, ns, 80, "pub")
	url := fmt.Sprintf("http://127.0.0.1:%d/", res.Ports[0].HostPort)
	var out []byte
	for i := 0; i < 50; i++ {
		if out, err = wget(url); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if string(out) != "hello pub\n" {
		t.Fatalf("wget %s: %v %q", url, err, out)
	}
	if got, _ := m.Attachment(id); got == nil || len(got.Ports) != 2 || got.Ports[0] != res.Ports[0] {
		t.Fatalf("Attachment: %+v", got)
	}
	// Attaching again (a start after a crashed stop) replaces the stale
	// attachment: same port free again, one lease.
	before0 := snapshotHost(t, m)
	res, err = m.Attach(ctx, AttachOptions{ContainerID: id, ContainerName: "pub", NetNSPath: ns,
		Ports: []PortMapping{{HostPort: res.Ports[0].HostPort, ContainerPort: 80}, {HostIP: "127.0.0.1", ContainerPort: 81, Protocol: "udp"}}})
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshotHost(t, m); after != before0 {
		t.Fatalf("re-attach:\nbefore %s\nafter  %s", before0, after)
	}

	// The same host port for another container.
	id2 := testID(t, "p")
	ns2 := newNS(t, m, id2)
	before := snapshotHost(t, m)
	_, err = m.Attach(ctx, AttachOptions{ContainerID: id2, NetNSPath: ns2, Ports: []PortMapping{{HostPort: res.Ports[0].HostPort, ContainerPort: 80}}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(res.Ports[0].HostPort)) || !strings.Contains(err.Error(), "pub") {
		t.Fatalf("second attach on a used port: %v", err)
	}
	// A port a process listens on.
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := uint16(l.Addr().(*net.TCPAddr).Port)
	_, err = m.Attach(ctx, AttachOptions{ContainerID: id2, NetNSPath: ns2, Ports: []PortMapping{{HostPort: taken, ContainerPort: 80}}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(taken)) {
		t.Fatalf("attach on a port in use by a process: %v", err)
	}
	if after := snapshotHost(t, m); after != before {
		t.Fatalf("failed attaches left something:\nbefore %s\nafter  %s", before, after)
	}
	if r, _ := m.readRecord(id2); r != nil {
		t.Fatalf("failed attach left a record: %+v", r)
	}
	if err := m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := wget(url); err == nil {
		t.Fatalf("%s still answers after Detach", url)
	}
}

// A failing plugin in the middle of a chain: every network already
// attached is rolled back.
func TestAttachRollback(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	good, err := m.Create(ctx, CreateOptions{Name: testID(t, "ok")})
	if err != nil {
		t.Fatal(err)
	}
	// A static address outside the range host-local serves fails in ADD,
	// after the first network is attached.
	other, err := m.Create(ctx, CreateOptions{Name: testID(t, "rg"), Subnet: "10.96.77.0/24", IPRange: "10.96.77.128/25"})
	if err != nil {
		t.Fatal(err)
	}
	id := testID(t, "r")
	ns := newNS(t, m, id)
	m.ensureDefault(ctx)
	before := snapshotHost(t, m)
	_, err = m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns, Networks: []Endpoint{{Network: good.Name}, {Network: other.Name, IP: "10.96.77.5"}}})
	if err == nil || !strings.Contains(err.Error(), other.Name) {
		t.Fatalf("attach with an unavailable --ip: %v", err)
	}
	if after := snapshotHost(t, m); after != before {
		t.Fatalf("rollback left something:\nbefore %s\nafter  %s", before, after)
	}
	if links := mustNS(t, ns, "ip", "-o", "link"); strings.Contains(links, "eth") {
		t.Fatalf("rollback left interfaces in the namespace: %s", links)
	}
}

// Static IP and MAC, and --internal has no default route.
func TestStaticAndInternal(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	in, err := m.Create(ctx, CreateOptions{Name: testID(t, "in"), Internal: true, Subnet: "10.96.78.0/24", Gateway: "10.96.78.254"})
	if err != nil {
		t.Fatal(err)
	}
	id := testID(t, "s")
	ns := newNS(t, m, id)
	res, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns, Networks: []Endpoint{{Network: in.Name, IP: "10.96.78.42", MAC: "02:42:ac:11:00:2a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Networks[0]; n.IP != "10.96.78.42" || n.MAC != "02:42:ac:11:00:2a" {
		t.Fatalf("static address: %+v", n)
	}
	links := mustNS(t, ns, "ip", "-o", "link")
	if !strings.Contains(links, "02:42:ac:11:00:2a") {
		t.Fatalf("MAC not set: %s", links)
	}
	if routes := mustNS(t, ns, "ip", "route"); strings.Contains(routes, "default") {
		t.Fatalf("internal network has a default route: %s", routes)
	}
	// The host reaches it (the bridge has the gateway address).
	mustNS(t, ns, "ping", "-c", "1", "-W", "5", "10.96.78.254")
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: testID(t, "x"), NetNSPath: ns, Networks: []Endpoint{{Network: in.Name, IP: "10.96.79.1"}}}); err == nil || !strings.Contains(err.Error(), "10.96.79.1") {
		t.Fatalf("--ip outside the subnet: %v", err)
	}
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: testID(t, "x"), NetNSPath: ns, Networks: []Endpoint{{Aliases: []string{"x"}}}}); err == nil || !strings.Contains(err.Error(), "user-defined") {
		t.Fatalf("alias on the default network: %v", err)
	}
}

// wget fetches url from the host with busybox (no proxy settings).
func wget(url string) ([]byte, error) {
	return execOut("/bin/busybox", "wget", "-q", "-O", "-", url)
}

// snapshotHost counts what attachments leave on the host: links, netns
// files, leases, cache entries, records, hosts files, iptables lines.
func snapshotHost(t testing.TB, m *Manager) string {
	t.Helper()
	links, _ := execOut("ip", "-o", "link")
	rules, _ := execOut("iptables-save")
	natRules := 0
	for _, l := range strings.Split(string(rules), "\n") {
		if strings.HasPrefix(l, "-") || strings.HasPrefix(l, ":") {
			natRules++
		}
	}
	count := func(dir string) int {
		n := 0
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && !strings.HasPrefix(fi.Name(), "last_reserved_ip") && fi.Name() != "lock" {
				n++
			}
			return nil
		})
		return n
	}
	return fmt.Sprintf("links=%d netns=%d leases=%d cache=%d records=%d hosts=%d iptables=%d",
		strings.Count(string(links), "\n"), count(m.netnsDir()), count(m.ipamDir()), count(m.cacheDir()),
		count(m.endpointsDir()), count(m.hostsDir()), natRules)
}
