package shim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// syncBuf is a bytes.Buffer safe for a writer and a polling reader.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until the buffer holds want (bounded; not a timing check).
func waitFor(t *testing.T, b *syncBuf, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q; got %q", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runtimeStart(t *testing.T, id string) {
	t.Helper()
	if out, err := exec.Command(runtimeBin, "--root", runtimeRoot, "start", id).CombinedOutput(); err != nil {
		t.Fatalf("runtime start: %v %s", err, out)
	}
}

// attachAsync attaches in the background; the returned func waits for
// the result.
func attachAsync(t *testing.T, dir string, o AttachOptions) func() error {
	done := make(chan error, 1)
	connected := make(chan struct{})
	o.Connected = func() { close(connected) }
	go func() { done <- Attach(context.Background(), dir, o) }()
	select {
	case <-connected:
	case err := <-done:
		t.Fatalf("Attach: %v", err)
	}
	return func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatalf("Attach did not return")
			return nil
		}
	}
}

func TestAttachStdin(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "cat; echo bye >&2"}, nil)
	c.Start, c.Stdin, c.StdinOnce = false, true, true
	start(t, c)
	pr, pw := io.Pipe()
	var out, errb syncBuf
	wait := attachAsync(t, c.Dir, AttachOptions{Stdin: pr, Stdout: &out, Stderr: &errb})
	runtimeStart(t, c.ID)
	pw.Write([]byte("hello\n"))
	waitFor(t, &out, "hello\n")
	pw.Write([]byte("world\n"))
	pw.Close()
	if err := wait(); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if out.String() != "hello\nworld\n" || errb.String() != "bye\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
	if s := waitExit(t, c.Dir); s.ExitCode != 0 {
		t.Errorf("state %+v", s)
	}
	log := readFile(c.LogPath)
	if !strings.Contains(log, `"log":"world\n","stream":"stdout"`) || !strings.Contains(log, `"log":"bye\n","stream":"stderr"`) {
		t.Errorf("log:\n%s", log)
	}
	// Attaching after the end returns at once.
	if err := Attach(context.Background(), c.Dir, AttachOptions{Stdout: &out}); err != nil {
		t.Errorf("Attach after exit: %v", err)
	}
}

func TestAttachDetach(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "while read l; do echo got $l; done"}, nil)
	c.Stdin = true
	start(t, c)
	pr, pw := io.Pipe()
	var out syncBuf
	wait := attachAsync(t, c.Dir, AttachOptions{Stdin: pr, Stdout: &out})
	pw.Write([]byte("a\n"))
	waitFor(t, &out, "got a\n")
	// ctrl-p then x is not the sequence: both bytes go through.
	pw.Write([]byte("\x10x\n\x10"))
	waitFor(t, &out, "got \x10x\n")
	pw.Write([]byte("\x11"))
	if err := wait(); !errors.Is(err, ErrDetached) {
		t.Fatalf("Attach = %v, want ErrDetached", err)
	}
	// The container goes on; a new attach still works.
	pr2, pw2 := io.Pipe()
	var out2 syncBuf
	wait = attachAsync(t, c.Dir, AttachOptions{Stdin: pr2, Stdout: &out2, CloseStdin: true})
	pw2.Write([]byte("b\n"))
	waitFor(t, &out2, "got b\n")
	pw2.Close() // CloseStdin: the loop ends, the container exits
	if err := wait(); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if s := waitExit(t, c.Dir); s.ExitCode != 0 {
		t.Errorf("state %+v", s)
	}
}

func TestTerminal(t *testing.T) {
	c := baseConfig(t, []string{"sh"}, func(s *specs.Spec) { s.Process.Terminal = true })
	c.Terminal, c.Stdin = true, true
	c.Start = false
	start(t, c)
	if err := Resize(c.Dir, 10, 20); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	var out syncBuf
	wait := attachAsync(t, c.Dir, AttachOptions{Stdin: pr, Stdout: &out, Tty: true})
	runtimeStart(t, c.ID)
	pw.Write([]byte("tty; stty size\n"))
	waitFor(t, &out, "/dev/pts/0")
	waitFor(t, &out, "10 20")
	if err := Resize(c.Dir, 40, 100); err != nil {
		t.Fatal(err)
	}
	// The resize comes on a connection of its own: the monitor may read
	// this client's next stdin first, so ask until the new size shows.
	for i := 0; i < 100 && !strings.Contains(out.String(), "40 100"); i++ {
		pw.Write([]byte("stty size\n"))
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, &out, "40 100")
	pw.Write([]byte("exit 5\n"))
	if err := wait(); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if s := waitExit(t, c.Dir); s.ExitCode != 5 {
		t.Errorf("state %+v", s)
	}
	log := readFile(c.LogPath)
	if !strings.Contains(log, "/dev/pts/0") || strings.Contains(log, `"stream":"stderr"`) {
		t.Errorf("log:\n%s", log)
	}
}

func TestTerminalRestart(t *testing.T) {
	c := baseConfig(t, []string{"sh", "-c", "tty; exit 1"}, func(s *specs.Spec) { s.Process.Terminal = true })
	c.Terminal = true
	c.Restart = RestartPolicy{Name: "on-failure", MaxRetries: 1}
	start(t, c)
	s := waitExit(t, c.Dir)
	if s.RestartCount != 1 || s.ExitCode != 1 {
		t.Fatalf("state %+v", s)
	}
	if n := strings.Count(readFile(c.LogPath), "/dev/pts/0"); n != 2 {
		t.Errorf("tty printed %d times, want 2:\n%s", n, readFile(c.LogPath))
	}
}

func TestStdinNotRead(t *testing.T) {
	// The container never reads stdin: the client's data waits (the
	// monitor stays responsive) and is dropped when the container ends.
	c := baseConfig(t, []string{"sleep", "100"}, nil)
	c.Stdin = true
	start(t, c)
	pr, pw := io.Pipe()
	var out syncBuf
	wait := attachAsync(t, c.Dir, AttachOptions{Stdin: pr, Stdout: &out})
	go func() {
		pw.Write(bytes.Repeat([]byte("x"), 1<<20))
	}()
	if err := Resize(c.Dir, 10, 10); err != nil { // another client is served meanwhile
		t.Fatal(err)
	}
	exec.Command(runtimeBin, "--root", runtimeRoot, "kill", c.ID, "KILL").Run()
	if err := wait(); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if s := waitExit(t, c.Dir); s.ExitCode != 137 {
		t.Fatalf("state %+v", s)
	}
	pw.Close()
}
