package network

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// 50 attach/detach cycles (default + user network, a published port)
// leave no interface, namespace, lease, cache entry, record, hosts file or
// iptables rule behind.
func TestCyclesLeaveNothing(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	user, err := m.Create(ctx, CreateOptions{Name: testID(t, "cy")})
	if err != nil {
		t.Fatal(err)
	}
	cycle := func() {
		id := testID(t, "c")
		ns, err := m.NewNetNS(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns,
			Networks: []Endpoint{{}, {Network: user.Name}}, Ports: []PortMapping{{ContainerPort: 80}}}); err != nil {
			t.Fatal(err)
		}
		if err := m.Detach(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := RemoveNetNS(ns); err != nil {
			t.Fatal(err)
		}
	}
	cycle() // portmap's top-level chains are made once and kept, by design
	before := settled(t, m, "")
	for i := 0; i < 50; i++ {
		cycle()
	}
	if after := settled(t, m, before); after != before {
		t.Fatalf("50 cycles left something:\nbefore %s\nafter  %s", before, after)
	}
}

// settled waits for the kernel's background namespace cleanup (which
// takes the interfaces of removed namespaces) before counting.
func settled(t *testing.T, m *Manager, want string) string {
	var s string
	for i := 0; i < 200; i++ {
		s = snapshotHost(t, m)
		if want == "" || s == want {
			return s
		}
		time.Sleep(25 * time.Millisecond)
	}
	return s
}

// A crash after ADD: the record is lost and the namespace is gone; the
// libcni cache alone is enough for Detach to release leases and port
// rules. And a crash before the cache was written: the record alone is.
func TestDetachAfterCrash(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	m.ensureDefault(ctx)
	base := settled(t, m, "")

	id := testID(t, "k")
	ns := newNS(t, m, id)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns, Ports: []PortMapping{{ContainerPort: 80}}}); err != nil {
		t.Fatal(err)
	}
	os.Remove(m.recordPath(id))
	os.Remove(m.HostsFile(id))
	if err := RemoveNetNS(ns); err != nil {
		t.Fatal(err)
	}
	if err := m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := settled(t, m, base); got != base {
		t.Fatalf("Detach from the cache left something:\nbefore %s\nafter  %s", base, got)
	}
	if err := m.Detach(ctx, id); err != nil {
		t.Fatalf("second Detach: %v", err)
	}

	id = testID(t, "k")
	ns = newNS(t, m, id)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns, Ports: []PortMapping{{ContainerPort: 80}}}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(m.cacheDir(), "results"))
	for _, e := range ents {
		if strings.Contains(e.Name(), id) {
			os.Remove(filepath.Join(m.cacheDir(), "results", e.Name()))
		}
	}
	if err := m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := settled(t, m, base); got != base {
		t.Fatalf("Detach from the record left something:\nbefore %s\nafter  %s", base, got)
	}
}

// A namespace still in use keeps living through Detach, without
// interfaces.
func TestDetachKeepsUsedNetNS(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	id := testID(t, "u")
	ns := newNS(t, m, id)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns}); err != nil {
		t.Fatal(err)
	}
	httpd(t, ns, 80, "busy") // a process in the namespace
	time.Sleep(50 * time.Millisecond)
	if err := m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}
	if !isNetNS(ns) {
		t.Fatal("Detach removed a namespace a process is in")
	}
	if links := mustNS(t, ns, "ip", "-o", "link"); strings.Contains(links, "eth0") {
		t.Fatalf("eth0 survives Detach: %s", links)
	}
}

// A new boot id drops the previous boot's runtime state at New.
func TestRebootDropsState(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	id := testID(t, "rb")
	ns := newNS(t, m, id)
	if _, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns}); err != nil {
		t.Fatal(err)
	}
	// Pretend the machine rebooted: the bind mount is gone, the state
	// files are not.
	if err := os.WriteFile(filepath.Join(m.stateDir(), "boot_id"), []byte("old-boot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m2, err := New(m.root, m.runroot)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ns, m.recordPath(id), m.HostsFile(id), m.ipamDir(), m.cacheDir(), m.firewallMark()} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survives a reboot: %v", p, err)
		}
	}
	if ids, _ := m2.Attached(); len(ids) != 0 {
		t.Errorf("records after reboot: %v", ids)
	}
	// The networks themselves are persistent.
	if _, err := m2.Inspect(ctx, "bridge"); err != nil {
		t.Fatal(err)
	}
}

// Concurrent attaches (as concurrent `berth run`s do) get distinct
// addresses and ports, and concurrent detaches leave nothing.
func TestConcurrentAttach(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	user, err := m.Create(ctx, CreateOptions{Name: testID(t, "cc")})
	if err != nil {
		t.Fatal(err)
	}
	m.ensureDefault(ctx)
	base := settled(t, m, "")
	const n = 8
	ids := make([]string, n)
	nss := make([]string, n)
	for i := range ids {
		ids[i] = testID(t, "cc")
		nss[i] = newNS(t, m, ids[i])
	}
	results := make([]*AttachResult, n)
	errs := make(chan error, n)
	for i := range ids {
		go func() {
			var err error
			results[i], err = m.Attach(ctx, AttachOptions{ContainerID: ids[i], ContainerName: ids[i], NetNSPath: nss[i],
				Networks: []Endpoint{{Network: user.Name}}, Ports: []PortMapping{{ContainerPort: 80}}})
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ips, ports := map[string]bool{}, map[uint16]bool{}
	for _, r := range results {
		ips[r.Networks[0].IP] = true
		ports[r.Ports[0].HostPort] = true
	}
	if len(ips) != n || len(ports) != n {
		t.Fatalf("addresses %v ports %v: want %d distinct", ips, ports, n)
	}
	// Every hosts file lists every other container.
	for i, id := range ids {
		b, _ := os.ReadFile(m.HostsFile(id))
		for j, other := range ids {
			if i != j && !strings.Contains(string(b), results[j].Networks[0].IP+"\t"+other) {
				t.Fatalf("hosts of %s lack %s:\n%s", id, other, b)
			}
		}
	}
	for i := range ids {
		go func() {
			err := m.Detach(ctx, ids[i])
			if err == nil {
				err = RemoveNetNS(nss[i])
			}
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := settled(t, m, base); got != base {
		t.Fatalf("concurrent cycles left something:\nbefore %s\nafter  %s", base, got)
	}
}

// GC cleans what a crashed command left (a record, a cache entry, a bare
// namespace) and keeps live containers.
func TestGC(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	m.ensureDefault(ctx)
	base := settled(t, m, "")
	keep, lost, bare := testID(t, "keep"), testID(t, "lost"), testID(t, "bare")
	nsKeep, nsLost := newNS(t, m, keep), newNS(t, m, lost)
	newNS(t, m, bare)
	for _, c := range [][2]string{{keep, nsKeep}, {lost, nsLost}} {
		if _, err := m.Attach(ctx, AttachOptions{ContainerID: c[0], NetNSPath: c[1]}); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(m.recordPath(lost)) // only the cache knows it now
	cleaned, err := m.GC(ctx, func(id string) bool { return id == keep })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cleaned, ",") != strings.Join([]string{bare, lost}, ",") {
		t.Fatalf("GC cleaned %v; want %s and %s", cleaned, bare, lost)
	}
	if got, _ := m.Attachment(keep); got == nil {
		t.Fatal("GC detached a live container")
	}
	if err := m.Detach(ctx, keep); err != nil {
		t.Fatal(err)
	}
	RemoveNetNS(nsKeep)
	if got := settled(t, m, base); got != base {
		t.Fatalf("GC left something:\nbefore %s\nafter  %s", base, got)
	}
}
