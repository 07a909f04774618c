package shim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStdinNull(t *testing.T) {
	// Without Stdin the container reads /dev/null: cat ends at once.
	c := baseConfig(t, []string{"cat"}, nil)
	start(t, c)
	if s := waitExit(t, c.Dir); s.ExitCode != 0 {
		t.Fatalf("state %+v", s)
	}
}

func TestLongLinePartial(t *testing.T) {
	// 40000 bytes without newline, then a newline: entries of at most
	// 16 KiB, the last one complete; read back as one line.
	c := baseConfig(t, []string{"sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo; echo end"}, nil)
	c.LogDriver = "k8s-file"
	start(t, c)
	waitExit(t, c.Dir)
	log := readFile(c.LogPath)
	if n := strings.Count(log, " stdout P "); n < 2 {
		t.Errorf("%d partial entries, want >= 2", n)
	}
	var out strings.Builder
	if err := readLogs(c, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != strings.Repeat("x", 40000)+"\nend\n" {
		t.Errorf("read back %d bytes", out.Len())
	}
}

func TestShimDied(t *testing.T) {
	c := baseConfig(t, []string{"sleep", "100"}, nil)
	st := start(t, c)
	syscall.Kill(st.ShimPID, syscall.SIGKILL)
	_, err := WaitExit(context.Background(), c.Dir)
	if !errors.Is(err, ErrShimDied) {
		t.Fatalf("WaitExit = %v, want ErrShimDied", err)
	}
}

// fakeRuntime writes a script that logs like crun (spaces in its JSON)
// and fails create.
func fakeRuntime(t *testing.T, logLine string) string {
	p := filepath.Join(t.TempDir(), "fake-runtime")
	script := `#!/bin/sh
while [ $# -gt 0 ]; do
	case "$1" in --log) shift; log="$1";; esac
	shift
done
[ -n '` + logLine + `' ] && echo '` + logLine + `' >> "$log"
echo "fake runtime stderr" >&2
exit 7
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRuntimeErrorFormats(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"msg": "crun says \"no\"\u0021", "level": "error", "time": "x"}`, `crun says "no"!`},
		{`{"level":"warning","msg":"just a warning"}`, "exit status 7"},
		{``, "exit status 7"},
	} {
		c := baseConfig(t, []string{"true"}, nil)
		c.Runtime = fakeRuntime(t, tc.line)
		_, err := Start(context.Background(), c)
		var re *RuntimeError
		if !errors.As(err, &re) || !strings.Contains(re.Msg, tc.want) {
			t.Errorf("log %q: Start = %v, want %q", tc.line, err, tc.want)
		}
		// The runtime's stderr went to the container log.
		if log := readFile(c.LogPath); !strings.Contains(log, "fake runtime stderr") {
			t.Errorf("log: %q", log)
		}
	}
}

func TestStartTimeout(t *testing.T) {
	c := baseConfig(t, []string{"true"}, nil)
	pidFile := filepath.Join(t.TempDir(), "rt.pid")
	c.Runtime = filepath.Join(t.TempDir(), "slow-runtime")
	os.WriteFile(c.Runtime, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nexec sleep 60\n"), 0o755)
	defer func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			var pid int
			fmt.Sscan(string(b), &pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Start(ctx, c)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want a deadline error", err)
	}
	b, err := os.ReadFile(filepath.Join(c.Dir, "shim.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	for i := 0; procStart(pid) != 0; i++ {
		if i == 500 {
			t.Fatalf("monitor %d left after the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartFailure(t *testing.T) {
	// A missing binary passes create and fails start (runc-like runtimes):
	// with Config.Start the error is the runtime's and nothing is left.
	c := baseConfig(t, []string{"/no-such-binary"}, nil)
	_, err := Start(context.Background(), c)
	var re *RuntimeError
	if !errors.As(err, &re) {
		t.Fatalf("Start = %v, want a RuntimeError", err)
	}
	t.Logf("error: %v", err)
	if p := shimProcs(c.Dir); len(p) > 0 {
		t.Errorf("processes left in %s: %v", c.Dir, p)
	}
	if out, err := exec.Command(runtimeBin, "--root", runtimeRoot, "state", c.ID).CombinedOutput(); err == nil {
		t.Errorf("container left in the runtime: %s", out)
	}
}
