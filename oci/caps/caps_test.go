package caps

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		bad  bool
	}{
		{"CAP_CHOWN", 0, false},
		{"net_admin", 12, false},
		{"CAP_CHECKPOINT_RESTORE", 40, false},
		{"CAP_NOPE", 0, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("Parse(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestCompileNamesField(t *testing.T) {
	_, err := Compile(&specs.LinuxCapabilities{Effective: []string{"CAP_KILL", "CAP_BOGUS"}})
	if err == nil || err.Error() != `process.capabilities.effective: unknown capability "CAP_BOGUS"` {
		t.Fatalf("err = %v", err)
	}
	s, err := Compile(&specs.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_CHOWN"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Bounding.List(); len(got) != 2 || got[0] != "CAP_CHOWN" || got[1] != "CAP_KILL" {
		t.Fatalf("bounding = %v", got)
	}
}

func TestCurrent(t *testing.T) {
	s, err := Current(0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Bounding == 0 {
		t.Fatal("bounding set of the test process reads empty")
	}
}
