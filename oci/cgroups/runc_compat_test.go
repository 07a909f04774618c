package cgroups

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testutil"
)

// TestStatsJSONMatchesRunc runs a real container with runc, then reads its
// cgroup with our Stats and compares the JSON with `runc events --stats`:
// the same keys at every level, and the same values where they are stable.
func TestStatsJSONMatchesRunc(t *testing.T) {
	testutil.RequireRoot(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed")
	}
	if HostMode() == Unified {
		// Also fine on v2, but the layout checks below are v1's.
		t.Log("pure cgroup v2 host")
	}
	bundle := t.TempDir()
	testutil.BusyboxRootfs(t, filepath.Join(bundle, "rootfs"))
	state := t.TempDir()
	id := testID(t)
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	var spec map[string]any
	b, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	json.Unmarshal(b, &spec)
	proc := spec["process"].(map[string]any)
	proc["args"] = []string{"sleep", "1000"}
	proc["terminal"] = false
	linux := spec["linux"].(map[string]any)
	linux["cgroupsPath"] = "/" + id
	linux["resources"] = map[string]any{
		"memory": map[string]any{"limit": 64 << 20},
		"pids":   map[string]any{"limit": 20},
	}
	b, _ = json.Marshal(spec)
	os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
	// The container keeps the stdio it is given: hand it a file, not a
	// pipe that the test would wait on.
	logf, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	run := exec.Command(runc, "--root", state, "run", "-d", "--bundle", bundle, id)
	run.Stdout, run.Stderr = logf, logf
	if err := run.Run(); err != nil {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("runc run: %v: %s", err, b)
	}
	t.Cleanup(func() { exec.Command(runc, "--root", state, "delete", "-f", id).Run() })

	out, err := exec.Command(runc, "--root", state, "events", "--stats", id).Output()
	if err != nil {
		t.Fatalf("runc events --stats: %v", err)
	}
	var ev struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatalf("runc events output %q: %v", out, err)
	}
	m, err := New(Config{Path: "/" + id})
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	var ours map[string]any
	b, _ = json.Marshal(st)
	json.Unmarshal(b, &ours)

	if _, ok := m.(*manager).ctrl["hugetlb"]; !ok && HostMode() == Hybrid {
		// Deliberate difference: with no v1 hugetlb, we report (and
		// limit) hugetlb through the unified hierarchy; runc shows {}.
		delete(ev.Data, "hugetlb")
		delete(ours, "hugetlb")
	}
	var walk func(path string, a, b any)
	walk = func(path string, a, b any) {
		am, aok := a.(map[string]any)
		bm, bok := b.(map[string]any)
		if aok != bok {
			t.Errorf("%s: runc has %T, we have %T", path, a, b)
			return
		}
		if !aok || strings.HasSuffix(path, ".raw") {
			return
		}
		if ak, bk := keys(am), keys(bm); !reflect.DeepEqual(ak, bk) {
			t.Errorf("%s: runc keys %v, ours %v", path, ak, bk)
		}
		for k, v := range am {
			walk(path+"."+k, v, bm[k])
		}
	}
	walk("data", ev.Data, ours)
	// pids.current counts threads: runc's exiting init threads may still
	// be there when runc reads it, not a moment later when we do.
	if rl, ol := ev.Data["pids"].(map[string]any)["limit"], ours["pids"].(map[string]any)["limit"]; rl != ol {
		t.Errorf("pids limit: runc %v, ours %v", rl, ol)
	}
	for _, k := range []string{"cpuset", "hugetlb"} {
		if !reflect.DeepEqual(ev.Data[k], ours[k]) {
			t.Errorf("%s: runc %v, ours %v", k, ev.Data[k], ours[k])
		}
	}
	rl := ev.Data["memory"].(map[string]any)["usage"].(map[string]any)["limit"]
	ol := ours["memory"].(map[string]any)["usage"].(map[string]any)["limit"]
	if rl != ol || rl != float64(64<<20) {
		t.Errorf("memory limit: runc %v, ours %v", rl, ol)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
