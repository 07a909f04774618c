package network

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A conflist a user drops into networks/ is a network, and any plugin on
// the plugin path works, under any name, as a conflist plugin or as a
// --driver.
func TestForeignConflistAndPlugin(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	// A plugin installed elsewhere (a copy of ptp under another name).
	dir := t.TempDir()
	src, err := os.ReadFile("/usr/lib/cni/ptp")
	if err != nil {
		t.Skip("no ptp plugin")
	}
	if err := os.WriteFile(filepath.Join(dir, "myptp"), src, 0o755); err != nil {
		t.Fatal(err)
	}
	m.PluginPath = append(append([]string(nil), DefaultPluginPath...), dir)

	conf := `{"cniVersion":"1.0.0","name":"userptp","plugins":[{"type":"myptp","ipMasq":false,
		"ipam":{"type":"host-local","subnet":"10.96.140.0/24","routes":[{"dst":"0.0.0.0/0"}]}}]}`
	if err := os.WriteFile(filepath.Join(m.networksDir(), "userptp.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := m.Inspect(ctx, "userptp")
	if err != nil || in.Driver != "myptp" || len(in.IPAM.Config) != 1 || in.IPAM.Config[0].Subnet != "10.96.140.0/24" {
		t.Fatalf("inspect of a user's conflist: %+v %v", in, err)
	}
	gen, err := m.Create(ctx, CreateOptions{Name: testID(t, "gen"), Driver: "myptp", Subnet: "10.96.141.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	for _, net := range []string{"userptp", gen.Name} {
		id := testID(t, "f")
		ns := newNS(t, m, id)
		res, err := m.Attach(ctx, AttachOptions{ContainerID: id, NetNSPath: ns, Networks: []Endpoint{{Network: net}}})
		if err != nil {
			t.Fatal(err)
		}
		if addrs := mustNS(t, ns, "ip", "-o", "addr"); res.Networks[0].IP == "" || !strings.Contains(addrs, res.Networks[0].IP) {
			t.Fatalf("%s: address %q not in %s", net, res.Networks[0].IP, addrs)
		}
		mustNS(t, ns, "ping", "-c", "1", "-W", "5", res.Networks[0].Gateway)
		if err := m.Detach(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// Leases of the user's network live under runroot too.
	if ents, _ := os.ReadDir(filepath.Join(m.ipamDir(), "userptp")); len(ents) == 0 {
		t.Fatal("no lease directory for the user's network under runroot")
	}
}
