// Package nsenter enters existing namespaces before the Go runtime starts.
//
// setns(2) into a mount or user namespace needs a single-threaded process,
// and the Go runtime has several threads before main runs. So, like runc,
// berth does this in a C constructor: when the runtime re-execs itself with
// _BERTH_NSENTER set, the constructor joins the listed namespaces, forks
// when a pid or time namespace applies only to children, reports the pid of
// the process that goes on, and lets the Go runtime start inside the
// container. Importing this package (for its side effect) links it in.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
extern void berth_nsenter(void);
void __attribute__((constructor)) berth_nsenter_init(void) { berth_nsenter(); }
*/
import "C"

// Env is the variable that asks the constructor to act. Its value is
// "<pidfd>;<type>=<path>,<type>=<path>..." where pidfd is a pipe on which
// the pid of the process that continues is written (as decimal text, in
// the runtime's pid namespace; "0" when it is the started process), and
// type is one of user, mnt, pid, net, ipc, uts, cgroup, time.
const Env = "_BERTH_NSENTER"

// EnvCgroup lists cgroup v1 directories (colon-separated) that the
// constructor joins, before entering any namespace, by writing "0" to their
// tasks files: cheap for a single thread moving itself, unlike a parent's
// cgroup.procs write (see nsenter.c). `exec` uses it.
const EnvCgroup = "_BERTH_CGROUP"
