package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

// runBerth runs the built berth with args (env nil: the test's own) and
// returns stdout, stderr and the exit code; failing to run it at all
// fails the test.
func runBerth(t *testing.T, env []string, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	c := exec.Command(berthBin, args...)
	c.Env = env
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("berth %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// removeAll removes every container of a root ("berth ps" then "rm -f").
func removeAll(run func(stdin []byte, args ...string) (string, string, int)) {
	ids, _, _ := run(nil, "ps", "-aq", "--no-trunc")
	for _, id := range strings.Fields(ids) {
		run(nil, "rm", "-f", id)
	}
}

// resetRoots runs "system reset" (networks: the root's bridge and firewall
// chains go too), detaches whatever is still mounted under the roots and
// removes the runroot.
func resetRoots(t *testing.T, run func(stdin []byte, args ...string) (string, string, int), root, runroot string) {
	if _, errs, code := run(nil, "system", "reset", "-f"); code != 0 {
		t.Errorf("system reset: %s", errs)
	}
	for _, d := range []string{root, runroot} {
		m := testutil.MountsUnder(t, d)
		for i := len(m) - 1; i >= 0; i-- {
			unix.Unmount(m[i], unix.MNT_DETACH)
		}
	}
	os.RemoveAll(runroot)
}
