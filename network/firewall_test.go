package network

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testutil"
)

// Traffic leaves the default network masqueraded (the "outside" namespace
// has no route back to the container subnet, so only NAT can work); an
// internal network cannot leave; two user networks cannot reach each
// other.
func TestMasqueradeInternalIsolation(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()

	// The outside: a namespace behind a veth, 10.96.200.0/24, no routes.
	outID := testID(t, "out")
	outNS := newNS(t, m, outID)
	host, peer := fmt.Sprintf("bto%d", os.Getpid()), fmt.Sprintf("btp%d", os.Getpid())
	for _, args := range [][]string{
		{"link", "add", host, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", outNS},
		{"addr", "add", "10.96.200.1/24", "dev", host},
		{"link", "set", host, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	defer exec.Command("ip", "link", "del", host).Run()
	mustNS(t, outNS, "ip", "addr", "add", "10.96.200.2/24", "dev", peer)
	mustNS(t, outNS, "ip", "link", "set", peer, "up")
	httpd(t, outNS, 80, "outside")

	fetch := func(ns, url string) (string, error) {
		var out string
		var err error
		for i := 0; i < 3; i++ {
			if out, err = inNS(ns, "wget", "-q", "-O", "-", url); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		return out, err
	}

	id := testID(t, "nat")
	ns := newNS(t, m, id)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns}); err != nil {
		t.Fatal(err)
	}
	if out, err := fetch(ns, "http://10.96.200.2/"); err != nil || out != "hello outside\n" {
		t.Fatalf("default network to the outside: %v %q", err, out)
	}

	in, err := m.Create(ctx, CreateOptions{Name: testID(t, "int"), Internal: true})
	if err != nil {
		t.Fatal(err)
	}
	idIn := testID(t, "int")
	nsIn := newNS(t, m, idIn)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: idIn, NetNSPath: nsIn, Networks: []Endpoint{{Network: in.Name}}}); err != nil {
		t.Fatal(err)
	}
	// Even with a route added by hand, the firewall drops it.
	gw := in.Subnets[0].Gateway
	mustNS(t, nsIn, "ip", "route", "add", "default", "via", gw)
	if out, err := inNS(nsIn, "timeout", "2", testutil.BusyboxPath, "wget", "-q", "-O", "-", "http://10.96.200.2/"); err == nil {
		t.Fatalf("internal network reached the outside: %q", out)
	}

	// Isolation between user networks.
	a, err := m.Create(ctx, CreateOptions{Name: testID(t, "isoa")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(ctx, CreateOptions{Name: testID(t, "isob")})
	if err != nil {
		t.Fatal(err)
	}
	idA, idB := testID(t, "a"), testID(t, "b")
	nsA, nsB := newNS(t, m, idA), newNS(t, m, idB)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: idA, NetNSPath: nsA, Networks: []Endpoint{{Network: a.Name}}}); err != nil {
		t.Fatal(err)
	}
	resB, err := m.Attach(ctx, AttachOptions{ContainerID: idB, NetNSPath: nsB, Networks: []Endpoint{{Network: b.Name}}})
	if err != nil {
		t.Fatal(err)
	}
	httpd(t, nsB, 80, "b")
	if out, err := fetch(nsB, "http://127.0.0.1/"); err != nil || !strings.Contains(out, "hello b") {
		t.Fatalf("httpd in B: %v %q", err, out)
	}
	if out, err := inNS(nsA, "timeout", "2", testutil.BusyboxPath, "wget", "-q", "-O", "-", "http://"+resB.Networks[0].IP+"/"); err == nil {
		t.Fatalf("network %s reached network %s: %q", a.Name, b.Name, out)
	}
	// But both reach the outside.
	if out, err := fetch(nsA, "http://10.96.200.2/"); err != nil || out != "hello outside\n" {
		t.Fatalf("user network to the outside: %v %q", err, out)
	}
}
