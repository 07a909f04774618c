// Package sysmonslack makes the Go runtime's sysmon thread of berth's
// commands sleep with a 10 ms timer slack.
//
// sysmon polls every 20 µs while a program is busy and backs off only
// after about a millisecond of idle polls: during the 8-10 ms of a
// `berth-runc run` that is ~70 wake-ups of an otherwise idle vCPU, and
// measured here it costs 0.4-0.5 ms of wall time per container (a Go
// toolchain patched to let sysmon sleep 10 ms from the start: 8.07 vs
// 8.58 ms median, N=100 interleaved; without sysmon at all 7.94 ms). What
// sysmon does for a short command (hand a P blocked in a syscall to
// another thread, preempt a goroutine running >10 ms) can wait 10 ms.
//
// Only the sysmon thread gets the slack: the first thread the runtime
// creates (cgo threads go through pthread_create, which the linker routes
// to __wrap_pthread_create), and threads sysmon itself creates go back to
// the process's own slack, so no other thread's timers and no child
// process inherit it. Import it for its effect in a main package.
package sysmonslack

/*
#cgo LDFLAGS: -Wl,--wrap=pthread_create
#include "sysmonslack.h"
*/
import "C"

// TID is the sysmon thread's id, 0 if the wrapper did not see it start.
func TID() int { return int(C.berth_sysmon_tid) }

// SlackNS is the timer slack given to sysmon, in nanoseconds.
const SlackNS = C.BERTH_SYSMON_SLACK_NS
