package opts

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseVolume(t *testing.T) {
	wd, _ := os.Getwd()
	tests := []struct {
		in   string
		want MountSpec
	}{
		{"/data", MountSpec{Type: TypeVolume, Target: "/data"}},
		{"/data/", MountSpec{Type: TypeVolume, Target: "/data"}},
		{"myvol:/data", MountSpec{Type: TypeVolume, Source: "myvol", Target: "/data"}},
		{"myvol:/data:ro", MountSpec{Type: TypeVolume, Source: "myvol", Target: "/data", ReadOnly: true, Options: []string{"ro"}}},
		{"my_vol.1-x:/data:nocopy", MountSpec{Type: TypeVolume, Source: "my_vol.1-x", Target: "/data", NoCopy: true, Options: []string{"nocopy"}}},
		{"/host:/ctr", MountSpec{Type: TypeBind, Source: "/host", Target: "/ctr"}},
		{"/host/:/ctr/sub/..", MountSpec{Type: TypeBind, Source: "/host", Target: "/ctr"}},
		{"/host:/ctr:rw", MountSpec{Type: TypeBind, Source: "/host", Target: "/ctr", Options: []string{"rw"}}},
		{"/host:/ctr:ro,Z,rslave", MountSpec{Type: TypeBind, Source: "/host", Target: "/ctr", ReadOnly: true, Relabel: "Z", Propagation: "rslave", Options: []string{"ro", "Z", "rslave"}}},
		{"/host:/ctr:z,shared,cached", MountSpec{Type: TypeBind, Source: "/host", Target: "/ctr", Relabel: "z", Propagation: "shared", Consistency: "cached", Options: []string{"z", "shared", "cached"}}},
		{"/host:/ctr:private", MountSpec{Type: TypeBind, Source: "/host", Target: "/ctr", Propagation: "private", Options: []string{"private"}}},
		{"./rel:/ctr", MountSpec{Type: TypeBind, Source: filepath.Join(wd, "rel"), Target: "/ctr"}},
	}
	for _, tc := range tests {
		got, err := ParseVolume(tc.in)
		if err != nil {
			t.Errorf("ParseVolume(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseVolume(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseVolumeErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "invalid volume specification: ''"},
		{":/data", "invalid volume specification: ':/data'"},
		{"/data:ro", "invalid volume specification: '/data:ro'"},
		{"/data:", "invalid volume specification: '/data:'"},
		{"a:b:c:d", "invalid volume specification: 'a:b:c:d'"},
		{"/host:/ctr:rx", "invalid mode: rx"},
		{"/host:/ctr:ro,rw", "invalid mode: ro,rw"},
		{"/host:/ctr:z,Z", "invalid mode: z,Z"},
		{"/host:/", "destination can't be '/'"},
		{"/host:rel", "invalid mount path: 'rel' mount path must be absolute"},
		{"rel/path:/ctr", `"rel/path" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"~/x:/ctr", "includes invalid characters for a local volume name"},
		{"a:/ctr", "volume name is too short"},
		{"myvol:/ctr:shared", `invalid mount config for type "volume": field BindOptions must not be specified`},
		{"/host:/ctr:nocopy", `invalid mount config for type "bind": field VolumeOptions must not be specified`},
		{"relative", "invalid mount path: 'relative' mount path must be absolute"},
	}
	for _, tc := range tests {
		_, err := ParseVolume(tc.in)
		if err == nil {
			t.Errorf("ParseVolume(%q): no error, want %q", tc.in, tc.want)
			continue
		}
		checkFlagErr(t, err, flagVolume, tc.in, tc.want)
	}
}

// checkFlagErr asserts the error names the flag and the value, and
// carries Docker's cause text.
func checkFlagErr(t *testing.T, err error, flag, value, want string) {
	t.Helper()
	var fe *FlagError
	if !errors.As(err, &fe) {
		t.Errorf("%q: error %v is not a *FlagError", value, err)
		return
	}
	if fe.Flag != flag || fe.Value != value {
		t.Errorf("%q: FlagError names %q/%q, want %q/%q", value, fe.Flag, fe.Value, flag, value)
	}
	msg := err.Error()
	if !strings.Contains(msg, `"`+flag+`" flag`) || !strings.Contains(msg, want) {
		t.Errorf("%q: error %q, want flag %q and %q", value, msg, flag, want)
	}
}

func TestCheckDuplicateTargets(t *testing.T) {
	a, _ := ParseVolume("/a:/data")
	b, _ := ParseVolume("vol:/data/")
	c, _ := ParseVolume("/other")
	if err := CheckDuplicateTargets([]MountSpec{a, c}); err != nil {
		t.Fatal(err)
	}
	err := CheckDuplicateTargets([]MountSpec{a, c, b})
	if err == nil || err.Error() != "Duplicate mount point: /data" {
		t.Fatalf("got %v", err)
	}
}
