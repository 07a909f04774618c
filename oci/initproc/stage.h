// The init stage's instruction set. The runtime (Go, plan.go) turns the
// OCI config into a flat list of these operations; stage.c executes them in
// the new container before any Go runtime exists, then execs the container
// process. Every decision that reads the spec is made in Go; C only does
// the syscalls, resolving paths inside the rootfs one component at a time.
//
// Encoding (native byte order, the runtime and its child run on one host):
//   "BRTHPLN1" u32 nops, then per op:
//   u16 code, u16 nint, u32 nstr, nint x i64, nstr x (u32 len, len bytes, NUL)
#ifndef BERTH_STAGE_H
#define BERTH_STAGE_H

#define PLAN_MAGIC "BRTHPLN1"
#define PLAN_MAX_INTS 16
#define PLAN_REGS 8

enum {
	OP_WRITE = 1,     // S path, data; I flags (WR_*)
	OP_UNSHARE,       // I clone flags
	OP_KEYRING,       // S name: join a new session keyring (ENOSYS ignored)
	OP_OPEN,          // I reg; S host path: O_PATH|O_DIRECTORY handle
	OP_MOUNT,         // I flags, reg (-1: the path string), mflags (MNT_*); S source, target, fstype, data
	OP_RESOLVE,       // I out reg, base reg, mode (RES_*); S path inside base
	OP_CHECKDIR,      // I reg: fail unless a directory
	OP_REMOUNT,       // I reg (-1: path), flags; S path: MS_REMOUNT, adding locked flags on EPERM
	OP_SETATTR,       // I reg, set, clr: mount_setattr(AT_RECURSIVE)
	OP_CLOSE,         // I reg
	OP_UMASK,         // I mask (-1: restore the one saved by the last OP_UMASK)
	OP_MKNOD,         // I parent reg, mode, dev, uid, gid; S name
	OP_SYMLINK,       // I dir reg, ignore EEXIST; S target, name
	OP_SYNC,          // S message: send it to the runtime, wait for "ack"
	OP_HOOK,          // I timeout secs (0: none), nargs; S path, state json, args..., env...
	OP_PIVOT,         // S rootfs: pivot_root and detach the old root
	OP_MOVEROOT,      // S rootfs: --no-pivot (MS_MOVE + chroot)
	OP_CHROOT,        // S path
	OP_CONSOLE,       // I bind /dev/console, setsid, rows, cols
	OP_HOSTNAME,      // S name
	OP_DOMAINNAME,    // S name
	OP_MASK,          // S path, tmpfs data: tmpfs over a directory, /dev/null over a file
	OP_READONLY,      // S path: bind it read-only onto itself
	OP_RLIMIT,        // I resource, soft, hard
	OP_PERSONALITY,   // I persona
	OP_SCHED,         // I policy, flags, nice, priority, runtime, deadline, period
	OP_IOPRIO,        // I ioprio value (class<<13 | data)
	OP_LOOKPATH,      // S name, PATH: find the executable as execvp would
	OP_CLOEXEC_FROM,  // I first fd: close-on-exec for it and every fd above
	OP_SECCOMP,       // I filter flags, notify; S program (struct sock_filter[])
	OP_CHDIR,         // I as_user; S cwd: chdir and check it is inside the root
	OP_CAPBSET,       // I keep mask, last cap: drop the rest of the bounding set
	OP_KEEPCAPS,      // I on
	OP_SETUSER,       // I uid, gid; S groups (u32 array)
	OP_CAPSET,        // I effective, permitted, inheritable, ambient, last cap
	OP_NNP,           // no_new_privs
	OP_READY,         // I wait: tell the runtime; then 1: block on the exec fifo, 2: wait for "start" on the sync socket
	OP_EXEC,          // I nargs; S args..., env...
	OP_MAX
};

// OP_WRITE flags
#define WR_IGNORE_ENOENT 1
#define WR_PROCFS 2 // the file must be on procfs (a path under /proc)

// OP_MOUNT mflags
#define MNT_IGNORE_ERROR 1
#define MNT_SYSFS_FALLBACK 2 // on EPERM bind the host's /sys (user namespace without a netns)

// OP_RESOLVE modes
#define RES_OPEN 0     // the path must exist
#define RES_DIR 1      // create missing directories
#define RES_FILE 2     // create missing parents and an empty file at the end
#define RES_OPTIONAL 8 // or'ed: on failure leave the register empty, no error

// Error codes the stage reports besides errnos.
#define ERR_NOT_IN_PATH 10000 // OP_LOOKPATH: not found in $PATH
#define ERR_NOT_DIR_MOUNT 10001 // OP_CHECKDIR
#define ERR_CWD_OUTSIDE 10002 // OP_CHDIR: the cwd is not under the root
#define ERR_HOOK_EXIT 10003 // OP_HOOK: detail holds the exit status and output
#define ERR_HOOK_TIMEOUT 10004
#define ERR_SYNC 10005 // the runtime answered with an error (detail)
#define ERR_PLAN 10006 // malformed plan

#endif
