package initproc

/*
#cgo CFLAGS: -Wall -O2
#include "stage.h"
extern void berth_nsenter(void);
extern void berth_init_stage(void);
// Runs before the Go runtime of every binary that links this package: it
// does nothing unless the runtime started this process as an init or exec
// stage (EnvFDs, EnvNsenter, EnvCgroup set), and then never returns.
void __attribute__((constructor)) berth_stage_ctor(void) {
	berth_nsenter();
	berth_init_stage();
}
*/
import "C"

// Environment of a stage process, read by the constructor.
const (
	// EnvFDs carries "sync,plan,fifo" fd numbers (fifo -1 for exec).
	EnvFDs = "_BERTH_INIT_FDS"
	// EnvNsenter asks the constructor to join namespaces first:
	// "<pidfd>;<type>=<path>,<type>=<path>..." where pidfd is a pipe that
	// receives the pid of the process that goes on (decimal, in the
	// runtime's pid namespace; "0" when it is the started process: it
	// forks only when a pid or time namespace applies to children), and
	// type is one of user, mnt, pid, net, ipc, uts, cgroup, time.
	EnvNsenter = "_BERTH_NSENTER"
	// EnvCgroup lists cgroup v1 directories (colon-separated) the
	// constructor joins before entering any namespace, by writing "0" to
	// their tasks files: cheap for a single thread moving itself, unlike a
	// parent's cgroup.procs write (see nsenter.c).
	EnvCgroup = "_BERTH_CGROUP"
)

// Op codes, from stage.h.
const (
	opWrite       = C.OP_WRITE
	opUnshare     = C.OP_UNSHARE
	opKeyring     = C.OP_KEYRING
	opOpen        = C.OP_OPEN
	opMount       = C.OP_MOUNT
	opResolve     = C.OP_RESOLVE
	opCheckDir    = C.OP_CHECKDIR
	opRemount     = C.OP_REMOUNT
	opSetattr     = C.OP_SETATTR
	opClose       = C.OP_CLOSE
	opUmask       = C.OP_UMASK
	opMknod       = C.OP_MKNOD
	opSymlink     = C.OP_SYMLINK
	opSync        = C.OP_SYNC
	opHook        = C.OP_HOOK
	opPivot       = C.OP_PIVOT
	opMoveRoot    = C.OP_MOVEROOT
	opChroot      = C.OP_CHROOT
	opConsole     = C.OP_CONSOLE
	opHostname    = C.OP_HOSTNAME
	opDomainname  = C.OP_DOMAINNAME
	opMask        = C.OP_MASK
	opReadonly    = C.OP_READONLY
	opRlimit      = C.OP_RLIMIT
	opPersonality = C.OP_PERSONALITY
	opSched       = C.OP_SCHED
	opIOPrio      = C.OP_IOPRIO
	opLookPath    = C.OP_LOOKPATH
	opCloexecFrom = C.OP_CLOEXEC_FROM
	opSeccomp     = C.OP_SECCOMP
	opChdir       = C.OP_CHDIR
	opCapBset     = C.OP_CAPBSET
	opKeepCaps    = C.OP_KEEPCAPS
	opSetUser     = C.OP_SETUSER
	opCapSet      = C.OP_CAPSET
	opNNP         = C.OP_NNP
	opReady       = C.OP_READY
	opExec        = C.OP_EXEC
	opMax         = C.OP_MAX

	wrIgnoreENOENT   = C.WR_IGNORE_ENOENT
	wrProcfs         = C.WR_PROCFS
	mntIgnoreError   = C.MNT_IGNORE_ERROR
	mntSysfsFallback = C.MNT_SYSFS_FALLBACK
	resOpen          = C.RES_OPEN
	resDir           = C.RES_DIR
	resFile          = C.RES_FILE
	resOptional      = C.RES_OPTIONAL

	errNotInPath   = C.ERR_NOT_IN_PATH
	errNotDirMount = C.ERR_NOT_DIR_MOUNT
	errCwdOutside  = C.ERR_CWD_OUTSIDE
	errHookExit    = C.ERR_HOOK_EXIT
	errHookTimeout = C.ERR_HOOK_TIMEOUT
	errSync        = C.ERR_SYNC
	errPlan        = C.ERR_PLAN

	planMagic = C.PLAN_MAGIC
	planRegs  = C.PLAN_REGS
	maxInts   = C.PLAN_MAX_INTS
)
