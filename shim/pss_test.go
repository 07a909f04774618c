package shim

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smapsRollup returns the Pss, Rss and private (clean+dirty) kB of pid.
func smapsRollup(t *testing.T, pid int) (pss, rss, priv int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Pss:":
			pss = v
		case "Rss:":
			rss = v
		case "Private_Clean:", "Private_Dirty:":
			priv += v
		}
	}
	return
}

// TestIdlePss measures the memory of 10 idle monitors (reported, not
// checked: conmon idles at ~445 kB Pss on this kind of host).
func TestIdlePss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 10 containers")
	}
	var pids []int
	for i := 0; i < 10; i++ {
		c := baseConfig(t, []string{"sleep", "1000"}, nil)
		pids = append(pids, start(t, c).ShimPID)
	}
	var pss, rss, priv int
	for _, p := range pids {
		a, b, c := smapsRollup(t, p)
		pss, rss, priv = pss+a, rss+b, priv+c
	}
	n := len(pids)
	t.Logf("idle shim, mean of %d: Pss %d kB, Rss %d kB, private %d kB", n, pss/n, rss/n, priv/n)
	if _, err := exec.LookPath("conmon"); err != nil {
		return
	}
	// The peer in the same run: conmon on the same runtime and bundle.
	var cpss, crss, cpriv int
	for i := 0; i < n; i++ {
		cp := conmonIdle(t)
		if cp == 0 {
			return
		}
		a, b, c := smapsRollup(t, cp)
		cpss, crss, cpriv = cpss+a, crss+b, cpriv+c
	}
	t.Logf("idle conmon, mean of %d: Pss %d kB, Rss %d kB, private %d kB; shim/conmon Pss %.2f",
		n, cpss/n, crss/n, cpriv/n, float64(pss)/float64(cpss))
}

// conmonIdle starts conmon for a `sleep 1000` container; 0 if it fails.
func conmonIdle(t *testing.T) int {
	c := baseConfig(t, []string{"sleep", "1000"}, nil)
	for _, d := range []string{"exit", "sock"} {
		os.Mkdir(filepath.Join(c.Dir, d), 0o700)
	}
	out, err := exec.Command("conmon", "--cid", c.ID, "--cuuid", c.ID, "--name", c.ID, "--runtime", runtimeBin,
		"--runtime-arg", "--root="+runtimeRoot, "--bundle", c.Bundle, "--log-path", "k8s-file:"+c.LogPath,
		"--exit-dir", filepath.Join(c.Dir, "exit"), "--container-pidfile", filepath.Join(c.Dir, "pid"),
		"--conmon-pidfile", filepath.Join(c.Dir, "conmon.pid"), "--socket-dir-path", filepath.Join(c.Dir, "sock"),
		"--log-level", "error").CombinedOutput()
	if err != nil {
		t.Logf("conmon: %v %s", err, out)
		return 0
	}
	// conmon daemonizes before the runtime is done (podman waits on a
	// sync pipe): wait for the container's pid file.
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(c.Dir, "pid")); err == nil {
			break
		}
		if i == 1000 {
			t.Logf("conmon: no container pid file")
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtimeStart(t, c.ID)
	b, _ := os.ReadFile(filepath.Join(c.Dir, "conmon.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
