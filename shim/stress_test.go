package shim

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestAttachBulkMatchesLog(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "seq 1 200000; seq 1 1000 >&2"}, nil)
	c.Start = false
	start(t, c)
	var out, errb syncBuf
	wait := attachAsync(t, c.Dir, AttachOptions{Stdout: &out, Stderr: &errb})
	runtimeStart(t, c.ID)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, c.Dir)
	var lo, le bytes.Buffer
	if err := readLogsSplit(c, &lo, &le); err != nil {
		t.Fatal(err)
	}
	if out.String() != lo.String() || errb.String() != le.String() {
		t.Fatalf("attach got %d/%d bytes, log %d/%d", len(out.String()), len(errb.String()), lo.Len(), le.Len())
	}
	if !strings.HasSuffix(lo.String(), "\n200000\n") || !strings.HasSuffix(le.String(), "\n1000\n") {
		t.Fatalf("log ends %q / %q", lo.String()[lo.Len()-20:], le.String()[le.Len()-10:])
	}
}

func TestStuckClientDoesNotBlock(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "seq 1 2000000"}, nil)
	c.Start = false
	start(t, c)
	// A client that never reads.
	conn, err := net.Dial("unix", filepath.Join(c.Dir, "attach"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	runtimeStart(t, c.ID)
	if s := waitExit(t, c.Dir); s.ExitCode != 0 {
		t.Fatalf("state %+v", s)
	}
	var lo bytes.Buffer
	if err := readLogsSplit(c, &lo, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(lo.String(), "\n2000000\n") {
		t.Fatalf("log ends %q", lo.String()[max(0, lo.Len()-20):])
	}
}
