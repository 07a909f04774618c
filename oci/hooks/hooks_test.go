package hooks

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunPassesStateAndEnv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	h := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$OUT"; printf "\n%s\n" "$FOO" >> "$OUT"`}, Env: []string{"OUT=" + out, "FOO=bar"}}
	st := &specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 42, Bundle: "/b"}
	if err := Run("createRuntime", []specs.Hook{h}, st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	js, rest, _ := strings.Cut(string(b), "\n")
	var got specs.State
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("state on stdin %q: %v", js, err)
	}
	if got.ID != "c1" || got.Pid != 42 || strings.TrimSpace(rest) != "bar" {
		t.Fatalf("got %+v, rest %q", got, rest)
	}
}

func TestRunFailureNamesHook(t *testing.T) {
	hs := []specs.Hook{{Path: "/bin/true"}, {Path: "/bin/sh", Args: []string{"sh", "-c", "echo boom >&2; exit 3"}}}
	err := Run("poststart", hs, &specs.State{})
	var he *Error
	if !errors.As(err, &he) || he.Index != 1 || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunTimeout(t *testing.T) {
	one := 1
	err := Run("prestart", []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "10"}, Timeout: &one}}, &specs.State{})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
}
