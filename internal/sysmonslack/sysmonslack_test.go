package sysmonslack

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func slackOf(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/timerslack_ns")
	if err != nil {
		t.Skipf("timer slack not readable: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The thread that got the slack must be the runtime's sysmon (the only
// thread that sleeps in nanosleep(2)), and no other thread may have it: if
// a Go release started another thread first, this fails.
func TestOnlySysmonHasSlack(t *testing.T) {
	tid := TID()
	if tid == 0 {
		t.Fatal("the pthread_create wrapper did not see sysmon start")
	}
	if got := slackOf(t, tid); got != SlackNS {
		t.Fatalf("sysmon (tid %d) slack %d, want %d", tid, got, SlackNS)
	}
	normal := slackOf(t, os.Getpid())
	if normal == SlackNS {
		t.Fatalf("the main thread got sysmon's slack")
	}
	// make the runtime start more threads, some from sysmon's hand-offs
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() {
			f, _ := os.Open("/dev/zero")
			defer f.Close()
			b := make([]byte, 1<<16)
			for {
				select {
				case <-done:
					return
				default:
					f.Read(b)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(done)
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		id, _ := strconv.Atoi(e.Name())
		if id != tid {
			if s := slackOf(t, id); s != normal {
				t.Errorf("thread %d has slack %d, want the process's %d", id, s, normal)
			}
		}
	}
	for i := 0; i < 200; i++ {
		b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/syscall")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(b), "35 ") { // nanosleep: runtime.usleep
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Errorf("thread %d never seen in nanosleep: not sysmon?", tid)
}
