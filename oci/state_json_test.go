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

// The hand-written creating record reads back as json.Marshal's would.
func TestCreatingRecord(t *testing.T) {
	for _, st := range []State{
		{ID: "c1", Bundle: "/b \"q\"\\ é", Rootfs: "/b/rootfs", Cgroup: cgroups.Config{Path: "/x/y", ID: "c1", Systemd: true},
			Rootless: true, Creating: true, CreatorPid: 42, CreatorStart: 1234567},
		{ID: "c2", Creating: true},
	} {
		b, err := st.creatingJSON()
		if err != nil {
			t.Fatal(err)
		}
		var got State
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Errorf("%s read back as %+v, want %+v", b, got, st)
		}
	}
	full := State{ID: "x", Pid: 3, Creating: true}
	if _, err := full.creatingJSON(); err == nil {
		t.Error("a state with a pid encoded as a creating record")
	}
}
