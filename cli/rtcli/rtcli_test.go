package rtcli

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/internal/version"
)

func TestTopCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--bundle", "b", "id"}, "run"},
		{[]string{"--root", "/r", "--log", "l", "--log-format", "json", "create", "id"}, "create"},
		{[]string{"--root=/r", "--systemd-cgroup", "--debug", "delete", "-f", "id"}, "delete"},
		{[]string{"--rootless", "true", "state", "id"}, "state"},
		{[]string{"--help"}, ""},
		{[]string{"--root", "/r"}, ""},
	} {
		if got := topCommand(c.args); got != c.want {
			t.Errorf("topCommand(%q) = %q, want %q", c.args, got, c.want)
		}
	}
	// only the command asked for is built; anything else gets the whole tree
	if n := len(newRoot("runc", "run").Commands()); n != 1 {
		t.Errorf("run tree has %d commands", n)
	}
	if n := len(newRoot("runc", "nosuch").Commands()); n < 15 {
		t.Errorf("full tree has %d commands", n)
	}
}

// Engines run `runc --version` (docker info, podman info) and read the
// "<name> version <v>" line and the "commit:"/"spec:" lines.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}, {"--root", "/r", "--version"}} {
		if !versionArg(args) {
			t.Errorf("%q: not a version request", args)
		}
	}
	for _, args := range [][]string{{"run", "-v"}, {"--root", "-v"}, {"state", "x"}, {}} {
		if versionArg(args) {
			t.Errorf("%q: taken for a version request", args)
		}
	}
	var out strings.Builder
	writeVersion(&out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || lines[0] != "berth-runc version "+version.Version ||
		!strings.HasPrefix(lines[1], "commit: ") || lines[2] != "spec: "+specs.Version ||
		!strings.HasPrefix(lines[4], "libseccomp: 2.") {
		t.Errorf("printed %q", out.String())
	}
}
