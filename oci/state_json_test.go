package oci

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/berth-dev/berth/oci/cgroups"
	"github.com/berth-dev/berth/oci/specconv"
)

// A state file reads back as it was written (its spec through specjson).
func TestStateRoundTrip(t *testing.T) {
	spec := specconv.Example()
	spec.Annotations = map[string]string{"a": "b"}
	spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	for _, st := range []State{
		{ID: "x", Bundle: "/b", Rootfs: "/b/rootfs", Pid: 42, PidStart: 7, Created: time.Unix(1700000000, 123).UTC(),
			Owner: "root", Annotations: map[string]string{"k": "v"}, Cgroup: cgroups.Config{Path: "/p", ID: "x"},
			Spec: spec, Namespaces: map[string]string{"net": "/proc/42/ns/net"}, Rootless: true},
		{ID: "creating", Creating: true, CreatorPid: 9, CreatorStart: 3},
	} {
		b, err := json.Marshal(&st)
		if err != nil {
			t.Fatal(err)
		}
		var got State
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Errorf("state %s: read back\n%+v\nwant\n%+v", st.ID, got, st)
		}
	}
	// a spec encoding/json would refuse is refused, naming it
	var got State
	if err := json.Unmarshal([]byte(`{"id":"x","spec":{"process":{"terminal":"yes"}}}`), &got); err == nil {
		t.Fatal("bad spec in a state file accepted")
	}
	var none State
	if err := json.Unmarshal([]byte(`{"id":"x","spec":null}`), &none); err != nil || none.Spec != nil || none.ID != "x" {
		t.Fatalf("null spec: %v %+v", err, none)
	}
}
