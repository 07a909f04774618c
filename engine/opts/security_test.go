package opts

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseSecurityOpt(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "prof.json")
	if err := os.WriteFile(prof, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	tests := []struct {
		in   []string
		want SecurityOpts
	}{
		{nil, SecurityOpts{}},
		{[]string{"no-new-privileges"}, SecurityOpts{NoNewPrivileges: true}},
		{[]string{"no-new-privileges:true"}, SecurityOpts{NoNewPrivileges: true}},
		{[]string{"no-new-privileges", "no-new-privileges=false"}, SecurityOpts{}},
		{[]string{"seccomp=unconfined"}, SecurityOpts{Seccomp: "unconfined"}},
		{[]string{"seccomp:builtin"}, SecurityOpts{Seccomp: "builtin"}},
		{[]string{"seccomp=" + prof}, SecurityOpts{Seccomp: prof, SeccompProfile: []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`)}},
		{[]string{"apparmor=unconfined"}, SecurityOpts{AppArmor: "unconfined"}},
		{[]string{"apparmor=my-prof"}, SecurityOpts{AppArmor: "my-prof"}},
		{[]string{"label=user:USER", "label=role:ROLE", "label=type:svirt_t", "label=level:s0:c100,c200", "label:filetype:ft"},
			SecurityOpts{Label: LabelOpts{User: "USER", Role: "ROLE", Type: "svirt_t", Level: "s0:c100,c200", FileType: "ft"}}},
		{[]string{"label=disable", "label=nested"}, SecurityOpts{Label: LabelOpts{Disable: true, Nested: true}}},
		{[]string{"systempaths=unconfined"}, SecurityOpts{SystemPathsUnconfined: true}},
		{[]string{"writable-cgroups=true"}, SecurityOpts{WritableCgroups: &yes}},
		{[]string{"writable-cgroups=0"}, SecurityOpts{WritableCgroups: &no}},
	}
	for _, tc := range tests {
		got, err := ParseSecurityOpt(tc.in)
		if err != nil {
			t.Errorf("ParseSecurityOpt(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSecurityOpt(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}

	badJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(badJSON, []byte("{nope"), 0o600)
	missing := filepath.Join(dir, "missing.json")
	bad := map[string]string{
		"disable":                 `invalid --security-opt: "disable"`,
		"seccomp=":                `invalid --security-opt: "seccomp="`,
		"foo=bar":                 `invalid --security-opt 2: "foo=bar"`,
		"no-new-privileges=maybe": `invalid --security-opt 2: "no-new-privileges=maybe"`,
		"systempaths=strict":      `invalid --security-opt 2: "systempaths=strict"`,
		"label=bogus:x":           `bad label option "bogus:x"`,
		"label=user:":             `bad label option "user:"`,
		"seccomp=" + missing:      "opening seccomp profile (" + missing + ") failed",
		"seccomp=" + badJSON:      "compacting json for seccomp profile (" + badJSON + ") failed",
	}
	for in, want := range bad {
		_, err := ParseSecurityOpt([]string{"no-new-privileges", in})
		if err == nil {
			t.Errorf("ParseSecurityOpt(%q): no error", in)
			continue
		}
		checkFlagErr(t, err, flagSecurityOpt, in, want)
	}
}
