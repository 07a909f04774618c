// Package shim is berth's per-container monitor (what conmon is to
// Podman): one small process per container that owns its stdio or pty,
// writes the log file, reaps the container, records its exit status,
// restarts it by policy, runs health checks, and survives the engine.
//
// The monitor is C (shim*.c), run by a constructor before the Go runtime
// starts: a Go process idles at ~770 kB Pss, the C monitor at a fraction.
// Start execs Config.Exe (a binary that links this package: cmd/berth, or
// a test binary) with _BERTH_SHIM=1 and the configuration as arguments
// "key=value" (see args in config.go); the constructor forks the monitor,
// exits at once, and the monitor reports "ok SHIMPID PID" or
// "error MESSAGE" on fd 3 once `RUNTIME create` is done.
//
// Files in Config.Dir: shim.pid, shim.log (the monitor's own errors),
// runtime.log (the runtime's, JSON), pid (container init), state.json,
// health.json, attach (socket), console.sock (while a pty container is
// created). The engine creates Dir/stopped (MarkStopped) before it stops
// or kills the container on purpose, which prevents a restart.
//
// state.json says "running" from the moment the container is created:
// the monitor cannot see the engine's `RUNTIME start` (unless
// Config.Start), so StartedAt is the create (or restart) time.
package shim

/*
#cgo CFLAGS: -Wall -O2
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
extern void berth_shim(int argc, char **argv);
extern int berth_shim_args(char ***argvp);
// glibc passes argc and argv to constructors, musl (the release binaries'
// libc, mk/init.mk) does not: a monitor reads them from /proc/self/cmdline.
void __attribute__((constructor)) berth_shim_init(void) {
	const char *env = getenv("_BERTH_SHIM");
	if (env == NULL || env[0] == '\0')
		return;
	char **argv;
	int argc = berth_shim_args(&argv);
	if (argc <= 0) {
		// fd 3 is where the engine reads the monitor's first word
		dprintf(3, "error shim: cannot read /proc/self/cmdline");
		_exit(1);
	}
	berth_shim(argc, argv);
}
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
)

// Env is the variable that turns a process of a binary linking this
// package into a monitor.
const Env = "_BERTH_SHIM"

// StoppedFile is the marker in Dir that stops restarts (the engine
// creates it before a deliberate stop or kill).
const StoppedFile = "stopped"

// MarkStopped creates dir/stopped: the monitor will not restart the
// container after its next exit. The engine calls it before a
// deliberate stop or kill.
func MarkStopped(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, StoppedFile), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("mark container stopped: %w", err)
	}
	return f.Close()
}
