package shim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/shim/logs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHelperStart is not a test: run as a child by TestSurvivesCaller,
// it starts a monitor, prints its report and waits to be killed.
func TestHelperStart(t *testing.T) {
	js := os.Getenv("BERTH_SHIM_HELPER")
	if js == "" {
		t.Skip("helper process only")
	}
	var c Config
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	st, err := Start(context.Background(), c)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("started", st.ShimPID, st.PID)
	time.Sleep(time.Hour)
}

func TestSurvivesCaller(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "while true; do echo tick; sleep 0.05; done"}, nil)
	js, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStart$")
	cmd.Env = append(os.Environ(), "BERTH_SHIM_HELPER="+string(js))
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "started ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q", line)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	s, err := ReadState(c.Dir)
	if err != nil || !s.ShimAlive() || s.Status != "running" {
		t.Fatalf("after the caller died: %+v, %v", s, err)
	}
	// Still logging.
	n := strings.Count(readFile(c.LogPath), "tick")
	for i := 0; strings.Count(readFile(c.LogPath), "tick") <= n; i++ {
		if i == 2000 {
			t.Fatal("no new log lines after the caller died")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// sh as pid 1 ignores TERM: KILL.
	exec.Command(runtimeBin, "--root", runtimeRoot, "kill", c.ID, "KILL").Run()
	if s := waitExit(t, c.Dir); s.ExitCode != 137 {
		t.Errorf("state %+v", s)
	}
}

func TestRotation(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "i=0; while [ $i -lt 60 ]; do echo line$i; i=$((i+1)); done"}, nil)
	c.LogMaxSize, c.LogMaxFiles = 300, 3
	start(t, c)
	waitExit(t, c.Dir)
	for _, f := range []string{c.LogPath, c.LogPath + ".1", c.LogPath + ".2"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > c.LogMaxSize {
			t.Errorf("%s: %d bytes > max %d", f, fi.Size(), c.LogMaxSize)
		}
	}
	if _, err := os.Stat(c.LogPath + ".3"); err == nil {
		t.Errorf("%s.3 exists with max-file 3", c.LogPath)
	}
	var out bytes.Buffer
	if err := logs.Read(context.Background(), c.LogPath, "json-file", logs.ReadOptions{Tail: -1}, &out, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 3 || lines[len(lines)-1] != "line59" {
		t.Fatalf("read %q", out.String())
	}
	first, _ := strconv.Atoi(strings.TrimPrefix(lines[0], "line"))
	for i, l := range lines {
		if l != fmt.Sprintf("line%d", first+i) {
			t.Fatalf("line %d = %q, want consecutive lines: %q", i, l, out.String())
		}
	}
	out.Reset()
	if err := logs.Read(context.Background(), c.LogPath, "json-file", logs.ReadOptions{Tail: 2}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != "line58\nline59\n" {
		t.Errorf("tail 2 = %q", out.String())
	}
}

func TestRestartOnFailure(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "echo run; exit 1"}, nil)
	c.Restart = RestartPolicy{Name: "on-failure", MaxRetries: 2}
	start(t, c)
	s := waitExit(t, c.Dir)
	if s.RestartCount != 2 || s.ExitCode != 1 {
		t.Fatalf("state %+v", s)
	}
	if n := strings.Count(readFile(c.LogPath), `"log":"run\n"`); n != 3 {
		t.Errorf("%d runs logged, want 3", n)
	}
}

func TestStoppedPreventsRestart(t *testing.T) {
	c := baseConfig(t, []string{"sleep", "100"}, nil)
	c.Restart = RestartPolicy{Name: "always"}
	start(t, c)
	// One restart first: kill without the marker.
	exec.Command(runtimeBin, "--root", runtimeRoot, "kill", c.ID, "KILL").Run()
	for i := 0; ; i++ {
		s, err := ReadState(c.Dir)
		if err == nil && s.RestartCount == 1 && s.Status == "running" {
			break
		}
		if i == 3000 {
			t.Fatalf("no restart: %+v %v", s, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := MarkStopped(c.Dir); err != nil {
		t.Fatal(err)
	}
	exec.Command(runtimeBin, "--root", runtimeRoot, "kill", c.ID, "KILL").Run()
	s := waitExit(t, c.Dir)
	if s.RestartCount != 1 || s.ExitCode != 137 {
		t.Fatalf("state %+v", s)
	}
}

func TestOOMKilled(t *testing.T) {
	id := ""
	c := baseConfig(t, []string{"sh", "-c", "tail /dev/zero"}, func(s *specs.Spec) {
		lim := int64(20 << 20)
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim, Swap: &lim}}
		id = strings.TrimPrefix(s.Linux.CgroupsPath, "/")
	})
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		c.MemoryCgroup = "/sys/fs/cgroup/memory/" + id
	} else {
		c.MemoryCgroup = "/sys/fs/cgroup/" + id
	}
	start(t, c)
	s := waitExit(t, c.Dir)
	if !s.OOMKilled || s.ExitCode != 137 {
		t.Fatalf("state %+v", s)
	}
}

func TestHealth(t *testing.T) {
	c := baseConfig(t, []string{"sleep", "100"}, nil)
	c.Health = &Health{Cmd: []string{"sh", "-c", "echo probe; test -e /tmp/ok"}, Interval: 100 * time.Millisecond,
		Timeout: 5 * time.Second, Retries: 2}
	start(t, c)
	waitHealth := func(status string) *HealthState {
		for i := 0; ; i++ {
			h, err := ReadHealth(c.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if h != nil && h.Status == status {
				return h
			}
			if i == 3000 {
				t.Fatalf("health never %s: %+v (shim.log %s)", status, h, readFile(filepath.Join(c.Dir, "shim.log")))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	h := waitHealth("unhealthy")
	if h.FailingStreak < 2 || len(h.Log) == 0 || h.Log[0].ExitCode != 1 || h.Log[0].Output != "probe\n" {
		t.Fatalf("health %+v", h)
	}
	if out, err := exec.Command(runtimeBin, "--root", runtimeRoot, "exec", c.ID, "touch", "/tmp/ok").CombinedOutput(); err != nil {
		t.Fatalf("exec: %v %s", err, out)
	}
	h = waitHealth("healthy")
	if h.FailingStreak != 0 || len(h.Log) > 5 || h.Log[len(h.Log)-1].ExitCode != 0 {
		t.Fatalf("health %+v", h)
	}
}

func TestFollowLiveLog(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); [ $((i % 10)) = 0 ] && sleep 0.02; done"}, nil)
	c.LogMaxSize, c.LogMaxFiles = 2000, 20 // rotates while being followed
	c.Start = false
	start(t, c)
	res := make(chan error, 1)
	var out syncBuf
	go func() {
		res <- logs.Read(context.Background(), c.LogPath, "json-file",
			logs.ReadOptions{Follow: true, Tail: -1, Done: ExitedFunc(c.Dir)}, &out, nil)
	}()
	runtimeStart(t, c.ID)
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("follow did not end")
	}
	var want strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&want, "line%d\n", i)
	}
	if out.String() != want.String() {
		t.Errorf("followed:\n%s\nlog: %s\n%s", out.String(), readFile(c.LogPath), readFile(c.LogPath+".1"))
	}
	if _, err := os.Stat(c.LogPath + ".1"); err != nil {
		t.Errorf("no rotation happened: %v", err)
	}
}
