package sigcatch

import (
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// handler returns the address of the current handler of sig.
func handler(t *testing.T, sig syscall.Signal) uintptr {
	t.Helper()
	var act [4]uintptr // struct kernel_sigaction: handler, flags, restorer, mask
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&act[0])), 8, 0, 0); e != 0 {
		t.Fatal(e)
	}
	return act[0]
}

func recv(t *testing.T, c <-chan os.Signal, want syscall.Signal) {
	t.Helper()
	select {
	case s := <-c:
		if s != want {
			t.Fatalf("got %v, want %v", s, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%v not relayed", want)
	}
}

func TestRelayAndRestore(t *testing.T) {
	before := handler(t, syscall.SIGUSR1)
	a := make(chan os.Signal, 4)
	b := make(chan os.Signal, 4)
	stopA, err := Notify(a, syscall.SIGUSR1, syscall.SIGUSR2)
	if err != nil {
		t.Fatal(err)
	}
	stopB, err := Notify(b, syscall.SIGUSR1)
	if err != nil {
		t.Fatal(err)
	}
	if handler(t, syscall.SIGUSR1) == before {
		t.Fatal("handler not installed")
	}
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	recv(t, a, syscall.SIGUSR1)
	recv(t, b, syscall.SIGUSR1)
	syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	recv(t, a, syscall.SIGUSR2)
	select {
	case s := <-b:
		t.Fatalf("b got %v it did not ask for", s)
	case <-time.After(50 * time.Millisecond):
	}
	stopA()
	stopA() // idempotent
	// b still catches SIGUSR1; SIGUSR2 is back to what it was
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	recv(t, b, syscall.SIGUSR1)
	stopB()
	if got := handler(t, syscall.SIGUSR1); got != before {
		t.Fatalf("SIGUSR1 handler %#x after the last stop, want the previous %#x", got, before)
	}
}

func TestBadSignal(t *testing.T) {
	before := handler(t, syscall.SIGUSR1)
	if _, err := Notify(make(chan os.Signal, 1), syscall.SIGUSR1, syscall.Signal(99)); err == nil {
		t.Fatal("signal 99 accepted")
	}
	if got := handler(t, syscall.SIGUSR1); got != before {
		t.Fatal("a failed Notify left a handler installed")
	}
}
