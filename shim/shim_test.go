package shim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/shim/logs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestExitCodeAndJSONLog(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "echo out1; echo err1 >&2; printf 'a\"b\\\\c\\t'; exit 3"}, nil)
	st := start(t, c)
	if st.ShimPID <= 0 || st.PID <= 0 {
		t.Fatalf("Started = %+v", st)
	}
	s := waitExit(t, c.Dir)
	if s.ExitCode != 3 || s.Status != "exited" || s.PID != st.PID || s.ExitedAt.IsZero() || s.StartedAt.IsZero() {
		t.Fatalf("state = %+v", s)
	}
	for i := 0; s.ShimAlive(); i++ {
		if i == 500 {
			t.Fatalf("shim still alive after final exit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	log := readFile(c.LogPath)
	for _, want := range []string{`{"log":"out1\n","stream":"stdout","time":"`, `{"log":"err1\n","stream":"stderr"`,
		`{"log":"a\"b\\c\t","stream":"stdout"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	var out, errb bytes.Buffer
	if err := logs.Read(context.Background(), c.LogPath, "json-file", logs.ReadOptions{Tail: -1}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out1\na\"b\\c\t" || errb.String() != "err1\n" {
		t.Errorf("logs.Read: stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestK8sFileLog(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "echo out1; echo err1 >&2; echo; printf partial"}, nil)
	c.LogDriver = "k8s-file"
	start(t, c)
	if s := waitExit(t, c.Dir); s.ExitCode != 0 {
		t.Fatalf("state = %+v", s)
	}
	log := readFile(c.LogPath)
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	var got []string
	for _, l := range lines {
		f := strings.SplitN(l, " ", 4)
		if len(f) < 3 {
			t.Fatalf("bad line %q", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Errorf("line %q: %v", l, err)
		}
		got = append(got, strings.Join(f[1:], " "))
	}
	want := map[string]bool{"stdout F out1": true, "stderr F err1": true, "stdout F ": true, "stdout P partial": true}
	if len(got) != len(want) {
		t.Fatalf("log:\n%s", log)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected entry %q in\n%s", g, log)
		}
	}
	var out, errb bytes.Buffer
	if err := logs.Read(context.Background(), c.LogPath, "k8s-file", logs.ReadOptions{Tail: -1, Timestamps: true}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), " out1\n") && !strings.Contains(out.String(), " out1\n") || !strings.HasSuffix(errb.String(), " err1\n") {
		t.Errorf("logs.Read: stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestSignalExit(t *testing.T) {
	c := baseConfig(t, []string{"sleep", "100"}, nil)
	start(t, c)
	if s, err := ReadState(c.Dir); err != nil || s.Status != "running" || !s.ShimAlive() {
		t.Fatalf("state = %+v, %v", s, err)
	}
	if out, err := exec.Command(runtimeBin, "--root", runtimeRoot, "kill", c.ID, "KILL").CombinedOutput(); err != nil {
		t.Fatalf("kill: %v %s", err, out)
	}
	if s := waitExit(t, c.Dir); s.ExitCode != 137 || s.OOMKilled {
		t.Fatalf("state = %+v", s)
	}
}

// shimProcs lists processes whose cwd is dir (the monitor chdirs there).
func shimProcs(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestCreateFailure(t *testing.T) {
	c := baseConfig(t, []string{"true"}, func(s *specs.Spec) { s.Root.Path = "/nonexistent-rootfs-dir" })
	_, err := Start(context.Background(), c)
	var re *RuntimeError
	if !errors.As(err, &re) {
		t.Fatalf("Start: %v, want a RuntimeError", err)
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "nonexistent-rootfs-dir") {
		t.Errorf("error %q does not name the rootfs", err)
	}
	if p := shimProcs(c.Dir); len(p) > 0 {
		t.Errorf("processes left in %s: %v", c.Dir, p)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "attach")); err == nil {
		t.Errorf("attach socket left behind")
	}
	if out, err := exec.Command(runtimeBin, "--root", runtimeRoot, "state", c.ID).CombinedOutput(); err == nil {
		t.Errorf("container left in the runtime: %s", out)
	}
	// A bad mount fails later, in the init stage.
	c2 := baseConfig(t, []string{"true"}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/nonexistent-mount-src", Options: []string{"bind"}})
	})
	_, err = Start(context.Background(), c2)
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "nonexistent-mount-src") {
		t.Fatalf("Start with a bad mount: %v", err)
	}
	if p := shimProcs(c2.Dir); len(p) > 0 {
		for _, pid := range p {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
			t.Logf("%d: %q\n%s", pid, b, st)
		}
		t.Errorf("processes left in %s: %v", c2.Dir, p)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Runtime: "r", Bundle: "b", Dir: "d", LogPath: "l"}, "ID"},
		{Config{ID: "x", Runtime: "r", Bundle: "b", Dir: "d"}, "LogPath"},
		{Config{ID: "x", Runtime: "r", Bundle: "b", Dir: "d", LogDriver: "syslog"}, "LogDriver"},
		{Config{ID: "x", Runtime: "r", Bundle: "b", Dir: "d", LogDriver: "none", Restart: RestartPolicy{Name: "sometimes"}}, "Restart"},
		{Config{ID: "x", Runtime: "r", Bundle: "b", Dir: "d", LogDriver: "none", Health: &Health{}}, "Health.Cmd"},
	} {
		_, err := Start(context.Background(), tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v, want an error naming %s", tc.c, err, tc.want)
		}
	}
	for _, s := range []string{"on-failure:x", "always:3", "maybe"} {
		if _, err := ParseRestartPolicy(s); err == nil {
			t.Errorf("ParseRestartPolicy(%q) succeeded", s)
		}
	}
	if p, err := ParseRestartPolicy("on-failure:2"); err != nil || p.MaxRetries != 2 || p.String() != "on-failure:2" {
		t.Errorf("ParseRestartPolicy(on-failure:2) = %+v, %v", p, err)
	}
}

func TestExitCommand(t *testing.T) {
	c := baseConfig(t, []string{"true"}, nil)
	mark := filepath.Join(c.Dir, "exit-ran")
	c.ExitCommand = []string{"/bin/sh", "-c", "echo $0 > " + mark, "done"}
	start(t, c)
	waitExit(t, c.Dir)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if readFile(mark) == "done\n" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("exit command did not run")
}
