package logs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func jsonLine(i int, stream, text string) string {
	return fmt.Sprintf(`{"log":%q,"stream":%q,"time":%q}`+"\n", text, stream, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano))
}

func k8sLine(i int, stream, tag, text string) string {
	return fmt.Sprintf("%s %s %s %s\n", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), stream, tag, text)
}

func read(t *testing.T, path, driver string, o ReadOptions) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := Read(context.Background(), path, driver, o, &out, &errb); err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String()
}

func TestReadJSONRotated(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.log")
	os.WriteFile(p+".2", []byte(jsonLine(0, "stdout", "a\n")+jsonLine(1, "stderr", "e1\n")), 0o644)
	os.WriteFile(p+".1", []byte(jsonLine(2, "stdout", "b")+jsonLine(3, "stdout", "c\n")+"garbage\n"), 0o644)
	os.WriteFile(p, []byte(jsonLine(4, "stdout", "d\n")+`{"log":"torn`), 0o644)
	out, errs := read(t, p, "json-file", ReadOptions{Tail: -1})
	if out != "a\nbc\nd\n" || errs != "e1\n" {
		t.Errorf("stdout %q stderr %q", out, errs)
	}
	out, _ = read(t, p, "json-file", ReadOptions{Tail: 2})
	if out != "bc\nd\n" { // b is a piece of the line bc
		t.Errorf("tail 2: %q", out)
	}
	out, _ = read(t, p, "json-file", ReadOptions{Tail: 0})
	if out != "" {
		t.Errorf("tail 0: %q", out)
	}
	out, errs = read(t, p, "json-file", ReadOptions{Tail: -1, Since: t0.Add(time.Second), Until: t0.Add(4 * time.Second)})
	if out != "bc\n" || errs != "e1\n" {
		t.Errorf("since/until: %q %q", out, errs)
	}
	out, _ = read(t, p, "json-file", ReadOptions{Tail: -1, Timestamps: true, Since: t0.Add(2 * time.Second)})
	want := t0.Add(2*time.Second).Format(time.RFC3339Nano) + " bc\n" + t0.Add(4*time.Second).Format(time.RFC3339Nano) + " d\n"
	if out != want {
		t.Errorf("timestamps: %q, want %q", out, want)
	}
}

func TestReadK8s(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	os.WriteFile(p, []byte(k8sLine(0, "stdout", "P", "ab")+k8sLine(1, "stdout", "F", "c")+k8sLine(2, "stderr", "F", "")+k8sLine(3, "stdout", "F", "x y")), 0o644)
	out, errs := read(t, p, "k8s-file", ReadOptions{Tail: -1})
	if out != "abc\nx y\n" || errs != "\n" {
		t.Errorf("stdout %q stderr %q", out, errs)
	}
}

func TestReadErrors(t *testing.T) {
	var b bytes.Buffer
	if err := Read(context.Background(), "/x", "none", ReadOptions{}, &b, &b); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("driver none: %v", err)
	}
	if err := Read(context.Background(), "/x", "syslog", ReadOptions{}, &b, &b); err == nil || !strings.Contains(err.Error(), "syslog") {
		t.Errorf("driver syslog: %v", err)
	}
	// A missing file is an empty log.
	if err := Read(context.Background(), filepath.Join(t.TempDir(), "none.log"), "json-file", ReadOptions{Tail: -1}, &b, &b); err != nil {
		t.Errorf("missing file: %v", err)
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFollowRotation writes like the shim (append, rotate by rename)
// while a follower reads; Done ends it once the writer is finished.
func TestFollowRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	os.WriteFile(p, []byte(jsonLine(0, "stdout", "l0\n")), 0o644)
	var done atomic.Bool
	var out lockedBuf
	res := make(chan error, 1)
	go func() {
		res <- Read(context.Background(), p, "json-file", ReadOptions{Follow: true, Tail: -1, Done: done.Load}, &out, nil)
	}()
	for i := 1; i < 30; i++ {
		if i%10 == 0 {
			os.Rename(p, p+".1")
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		line := jsonLine(i, "stdout", fmt.Sprintf("l%d\n", i))
		// Half a line first: the reader must wait for the rest.
		f.WriteString(line[:10])
		time.Sleep(5 * time.Millisecond)
		f.WriteString(line[10:])
		f.Close()
		time.Sleep(20 * time.Millisecond)
	}
	done.Store(true)
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("follow did not end after Done")
	}
	var want strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&want, "l%d\n", i)
	}
	if out.String() != want.String() {
		t.Errorf("followed %q", out.String())
	}
}

func TestFollowCancel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- Read(ctx, p, "json-file", ReadOptions{Follow: true, Tail: -1}, &bytes.Buffer{}, nil) }()
	cancel()
	select {
	case err := <-res:
		if err != context.Canceled {
			t.Errorf("Read = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read ignored the cancel")
	}
}

func TestTailLongLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	os.WriteFile(p, []byte(k8sLine(0, "stdout", "F", "one")+k8sLine(1, "stdout", "P", "tw")+k8sLine(2, "stdout", "P", "o-")+
		k8sLine(3, "stdout", "F", "two")+k8sLine(4, "stdout", "F", "three")), 0o644)
	for tail, want := range map[int]string{1: "three\n", 2: "two-two\nthree\n", 3: "one\ntwo-two\nthree\n", 9: "one\ntwo-two\nthree\n"} {
		if out, _ := read(t, p, "k8s-file", ReadOptions{Tail: tail}); out != want {
			t.Errorf("tail %d: %q, want %q", tail, out, want)
		}
	}
}
