package shim

import (
	"testing"
	"time"
)

// TestLogThroughput reports how long 2M short lines take to reach the log.
func TestLogThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput report")
	}
	for _, d := range []string{"json-file", "k8s-file"} {
		c := baseConfig(t, []string{"seq", "1", "2000000"}, nil)
		c.LogDriver = d
		t0 := time.Now()
		start(t, c)
		waitExit(t, c.Dir)
		t.Logf("%s: 2M lines logged in %v", d, time.Since(t0))
	}
}
