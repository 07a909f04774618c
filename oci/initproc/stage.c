// The init stage of berth's runtime, run from a constructor of the
// re-exec'd runtime binary before the Go runtime starts (see stage.h and
// plan.go): it reads the plan the runtime compiled from config.json,
// executes it op by op and execs the container process. Nothing here reads
// the OCI spec. Until it has told the runtime "ready", every failure goes
// back over the sync socket as (op index, error code, detail) and the
// runtime words the error; afterwards failures go to the container's stderr.
#define _GNU_SOURCE
#include "stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER 1
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef TIOCSPTLCK
#define TIOCSPTLCK _IOW('T', 0x31, int)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

struct open_how_ {
	uint64_t flags, mode, resolve;
};
#define RESOLVE_NO_MAGICLINKS_ 0x02
#define RESOLVE_IN_ROOT_ 0x10

struct mount_attr_ {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

struct sched_attr_ {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};

// Memory is never given back: the stage lives for one container start
// and then execs (or exits). A bump allocator over anonymous mappings
// stands in for malloc: no locks, no bookkeeping, and none of the
// unmap/remap churn some libcs' free does for small blocks.
static char *arena_next, *arena_end;

static void *salloc(size_t n) {
	n = (n + 15) & ~(size_t)15;
	if (n > (size_t)(arena_end - arena_next)) {
		size_t sz = n > (1u << 20) ? n : (1u << 20);
		void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		arena_next = p;
		arena_end = arena_next + sz;
	}
	void *r = arena_next;
	arena_next += n;
	return r;
}

// scalloc: fresh mappings are zeroed and nothing is reused.
static void *scalloc(size_t count, size_t size) {
	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	return salloc(count * size);
}

#define sfree(p) ((void)(p))

struct op {
	int code;
	unsigned nint, nstr;
	int64_t i[PLAN_MAX_INTS];
	const char **s;
	uint32_t *len;
};

static struct {
	int sync, fifo, proc;
	int ready;
	int op; // index of the op being run, for errors
	int regs[PLAN_REGS];
	mode_t saved_umask;
	int cwd_done;
	const char *argv0;
	int tracing;
} st;

static void trace(const char *what) {
	if (!st.tracing)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char buf[256];
	int n = snprintf(buf, sizeof buf, "[init   %02ld.%06ld] %s\n", (long)(ts.tv_sec % 60), ts.tv_nsec / 1000, what);
	if (n > 0 && write(2, buf, (size_t)n) < 0) {
	}
}

static int send_msg(const char *buf, size_t len, int fd) {
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	char cbuf[CMSG_SPACE(sizeof(int))];
	if (fd >= 0) {
		memset(cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	ssize_t n;
	do
		n = sendmsg(st.sync, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

// errtext is strerror in Go's wording (lower-case first letter).
static const char *errtext(int code, char *buf, size_t cap) {
	snprintf(buf, cap, "%s", strerror(code));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

// errtext_sig is strsignal in Go's wording ("killed").
static const char *errtext_sig(int sig) {
	static char buf[64];
	snprintf(buf, sizeof buf, "%s", strsignal(sig));
	for (char *c = buf; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return buf;
}

// fail reports code (an errno or ERR_*) and a detail for the current op,
// then exits. Before "ready" the runtime gets it and words the error;
// afterwards it goes to the container's stderr.
static void __attribute__((noreturn, format(printf, 2, 3))) fail(int code, const char *fmt, ...) {
	char detail[2048];
	detail[0] = '\0';
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof detail, fmt, ap);
		va_end(ap);
	}
	if (!st.ready && st.sync >= 0) {
		char msg[2200];
		int n = snprintf(msg, sizeof msg, "error%c%d%c%d%c%s", 0, st.op, 0, code, 0, detail);
		if (n >= (int)sizeof msg)
			n = sizeof msg - 1;
		send_msg(msg, (size_t)n, -1);
		_exit(1);
	}
	char buf[2300], e[128];
	int n;
	if (code > 0 && code < ERR_NOT_IN_PATH)
		n = snprintf(buf, sizeof buf, "berth init: %s: %s\n", detail, errtext(code, e, sizeof e));
	else
		n = snprintf(buf, sizeof buf, "berth init: %s\n", detail);
	if (n >= (int)sizeof buf)
		n = sizeof buf - 1;
	if (write(2, buf, (size_t)n) < 0) {
	}
	_exit(1);
}

static void fd_path(char *buf, size_t cap, int fd) { snprintf(buf, cap, "/proc/self/fd/%d", fd); }

static int reg(const struct op *o, unsigned k) {
	int64_t r = o->i[k];
	if (r < 0 || r >= PLAN_REGS)
		fail(ERR_PLAN, "register %lld out of range", (long long)r);
	return (int)r;
}

static void set_reg(int r, int fd) {
	if (st.regs[r] >= 0)
		close(st.regs[r]);
	st.regs[r] = fd;
}

static int reg_fd(const struct op *o, unsigned k) {
	int fd = st.regs[reg(o, k)];
	if (fd < 0)
		fail(ERR_PLAN, "register %lld is empty", (long long)o->i[k]);
	return fd;
}

static int resolve_walk(int base, const char *path, int mode);

// resolve opens path inside the directory base as if base were "/" (see
// resolve_walk). It first asks the kernel for that walk in one call:
// openat2(RESOLVE_IN_ROOT) scopes absolute symlinks and ".." to base the
// same way, and magic links are refused. Anything it does not answer with
// a usable handle (a component to create, a magic link, a race it
// detected, no openat2) goes through resolve_walk, which also words the
// error.
static int openat2_off;
static int resolve(int base, const char *path, int mode) {
	if (!openat2_off) {
		struct open_how_ how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT_ | RESOLVE_NO_MAGICLINKS_};
		int fd = (int)syscall(SYS_openat2, base, path, &how, sizeof how);
		if (fd >= 0) {
			struct stat sb;
			if ((mode & 3) != RES_DIR || (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)))
				return fd;
			close(fd);
		} else if (errno == ENOSYS || errno == EPERM) {
			openat2_off = 1; // old kernel, or our caller's seccomp filter
		}
	}
	return resolve_walk(base, path, mode);
}

// resolve_walk opens path inside the directory base as if base were "/":
// each component is opened with O_NOFOLLOW, symlinks are expanded here (an
// absolute target restarts at base), ".." never climbs above base, so no
// path the container's files name can lead outside the rootfs. With
// RES_DIR/RES_FILE missing components are created. Returns an O_PATH fd,
// or -1 with errno set.
static int resolve_walk(int base, const char *path, int mode) {
	enum { MAXDEPTH = 256, MAXLINKS = 40 };
	int stack[MAXDEPTH];
	int depth = 0, links = 0, err = 0;
	int create = mode & 3;
	size_t cap = strlen(path) + 1;
	char *rest = salloc(cap);
	if (rest == NULL)
		return -1;
	memcpy(rest, path, cap);
	char *p = rest;
	stack[0] = fcntl(base, F_DUPFD_CLOEXEC, 3);
	if (stack[0] < 0) {
		sfree(rest);
		return -1;
	}
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		char *end = strchr(p, '/');
		size_t clen = end ? (size_t)(end - p) : strlen(p);
		char comp[NAME_MAX + 1];
		if (clen > NAME_MAX) {
			err = ENAMETOOLONG;
			goto out;
		}
		memcpy(comp, p, clen);
		comp[clen] = '\0';
		p += clen;
		const char *q = p;
		while (*q == '/')
			q++;
		int last = *q == '\0';
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (depth > 0)
				close(stack[depth--]);
			continue;
		}
		int dir = stack[depth];
		int fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create != RES_OPEN) {
			if (!last || create == RES_DIR) {
				if (mkdirat(dir, comp, 0755) < 0 && errno != EEXIST) {
					err = errno;
					goto out;
				}
			} else {
				int c = openat(dir, comp, O_CREAT | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, 0644);
				if (c >= 0)
					close(c);
				else if (errno != ELOOP && errno != EISDIR && errno != EEXIST) {
					err = errno;
					goto out;
				}
			}
			fd = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0) {
			err = errno;
			goto out;
		}
		struct stat sb;
		if (fstat(fd, &sb) < 0) {
			err = errno;
			close(fd);
			goto out;
		}
		if (S_ISLNK(sb.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
			close(fd);
			if (n < 0) {
				err = errno;
				goto out;
			}
			if (++links > MAXLINKS) {
				err = ELOOP;
				goto out;
			}
			target[n] = '\0';
			// rest := target + "/" + what is left
			size_t left = strlen(p);
			char *nr = salloc((size_t)n + left + 2);
			if (nr == NULL) {
				err = ENOMEM;
				goto out;
			}
			memcpy(nr, target, (size_t)n);
			nr[n] = '/';
			memcpy(nr + n + 1, p, left + 1);
			sfree(rest);
			rest = p = nr;
			if (target[0] == '/')
				while (depth > 0)
					close(stack[depth--]);
			continue;
		}
		if ((!last || create == RES_DIR) && !S_ISDIR(sb.st_mode)) {
			close(fd);
			err = ENOTDIR;
			goto out;
		}
		if (depth + 1 >= MAXDEPTH) {
			close(fd);
			err = ENAMETOOLONG;
			goto out;
		}
		stack[++depth] = fd;
	}
out:
	sfree(rest);
	for (int k = 0; k < depth; k++)
		close(stack[k]);
	if (err != 0) {
		close(stack[depth]);
		errno = err;
		return -1;
	}
	return stack[depth];
}

// remount applies flags to an existing mount; when the kernel refuses
// (flags locked by a user namespace) it retries with the locked ones added.
static int remount(const char *target, unsigned long flags) {
	if (mount("", target, "", flags | MS_REMOUNT, NULL) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	struct statfs sf;
	if (statfs(target, &sf) < 0) {
		errno = EPERM;
		return -1;
	}
	unsigned long locked = (unsigned long)sf.f_flags &
			       (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
	return mount("", target, "", flags | locked | MS_REMOUNT, NULL);
}

static int recv_msg(char *buf, size_t cap, int *fdp) {
	struct iovec iov = {.iov_base = buf, .iov_len = cap - 1};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	ssize_t n;
	do
		n = recvmsg(st.sync, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (fdp != NULL)
		*fdp = -1;
	return (int)n;
}

// sync_with sends msg (and fd) and waits for the runtime's "ack"; an
// "error" answer fails the op with the runtime's text.
static void sync_with(const char *msg, int fd) {
	if (send_msg(msg, strlen(msg), fd) < 0)
		fail(errno, "sync %s", msg);
	char buf[4096];
	int n = recv_msg(buf, sizeof buf, NULL);
	if (n < 0)
		fail(ERR_SYNC, "sync %s: the runtime went away", msg);
	if (strcmp(buf, "ack") == 0)
		return;
	// "error\0op\0code\0text"
	const char *t = buf;
	for (int k = 0; k < 3 && t < buf + n; k++)
		t += strlen(t) + 1;
	fail(ERR_SYNC, "%s", t < buf + n ? t : "the runtime refused");
}

// check_exec is execvp's test of one candidate.
static int check_exec(const char *p) {
	struct stat sb;
	if (stat(p, &sb) < 0)
		return errno;
	if (S_ISDIR(sb.st_mode))
		return EISDIR;
	if ((sb.st_mode & 0111) == 0)
		return EACCES;
	return 0;
}

static void op_lookpath(const struct op *o) {
	const char *name = o->s[0], *path = o->s[1];
	if (strchr(name, '/') != NULL) {
		int e = check_exec(name);
		if (e != 0)
			fail(e, NULL);
		st.argv0 = name;
		return;
	}
	size_t nl = strlen(name);
	const char *d = path;
	for (;;) {
		const char *e = strchr(d, ':');
		size_t dl = e ? (size_t)(e - d) : strlen(d);
		char *cand = salloc(dl + nl + 3);
		if (cand == NULL)
			fail(ENOMEM, NULL);
		if (dl == 0) {
			memcpy(cand, ".", 1);
			dl = 1;
		} else
			memcpy(cand, d, dl);
		cand[dl] = '/';
		memcpy(cand + dl + 1, name, nl + 1);
		if (check_exec(cand) == 0) {
			st.argv0 = cand;
			return;
		}
		sfree(cand);
		if (e == NULL)
			break;
		d = e + 1;
	}
	fail(ERR_NOT_IN_PATH, NULL);
}

static int64_t now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

// op_hook runs a hook in the container's namespaces: the state on its
// stdin, its stdout and stderr kept for the error, killed at the timeout
// (which covers writing its stdin too). Once it has exited, output is
// read for at most a second more: a child it left running may hold the
// pipe open (Go's WaitDelay, which the runtime used before).
static void op_hook(const struct op *o) {
	int64_t timeout = o->i[0];
	uint64_t nargs = (uint64_t)o->i[1];
	if (nargs > o->nstr || o->nstr - nargs < 2)
		fail(ERR_PLAN, "hook: %u strings for %llu args", o->nstr, (unsigned long long)nargs);
	const char *path = o->s[0], *state = o->s[1];
	char **argv = scalloc(nargs + 2, sizeof *argv);
	char **envp = scalloc(o->nstr - 2 - nargs + 1, sizeof *envp);
	if (argv == NULL || envp == NULL)
		fail(ENOMEM, "hook");
	if (nargs == 0)
		argv[0] = (char *)path;
	for (unsigned k = 0; k < nargs; k++)
		argv[k] = (char *)o->s[2 + k];
	for (unsigned k = 2 + nargs; k < o->nstr; k++)
		envp[k - 2 - nargs] = (char *)o->s[k];
	int in[2], out[2], ex[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0)
		fail(errno, "hook pipes");
	pid_t pid = fork();
	if (pid < 0)
		fail(errno, "fork");
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
			_exit(127);
		// Only stdio reaches the hook (preserved fds are the container's);
		// ex[1], close-on-exec, reports a failed exec.
		if (ex[1] > 3)
			syscall(SYS_close_range, 3U, (unsigned)ex[1] - 1, 0U);
		syscall(SYS_close_range, (unsigned)ex[1] + 1, ~0U, 0U);
		execve(path, argv, envp);
		int e = errno;
		if (write(ex[1], &e, sizeof e) < 0) {
		}
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(ex[1]);
	// A hook that does not read its stdin must not kill us with SIGPIPE;
	// the disposition is put back after (an ignored signal survives exec).
	struct sigaction ign = {.sa_handler = SIG_IGN}, oldpipe;
	sigaction(SIGPIPE, &ign, &oldpipe);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	size_t sl = o->len[1];
	const char *sp = state;
	char outbuf[4096];
	size_t outn = 0;
	int64_t deadline = timeout > 0 ? now_ms() + timeout * 1000 : INT64_MAX;
	int64_t grace = INT64_MAX; // set when the hook has exited
	int status = 0, exited = 0, timed_out = 0;
	int infd = in[1], outfd = out[0];
	if (sl == 0) {
		close(infd);
		infd = -1;
	}
	while (outfd >= 0 || !exited) {
		int64_t now = now_ms(), until = deadline < grace ? deadline : grace;
		if (now >= until) {
			if (!exited)
				timed_out = 1;
			break;
		}
		int64_t w = until == INT64_MAX ? -1 : until - now;
		if (pidfd < 0 && !exited && (w < 0 || w > 20))
			w = 20; // no pidfd: look at the hook every 20 ms
		struct pollfd pf[3];
		int np = 0, iout = -1, iin = -1, ipid = -1;
		if (outfd >= 0)
			iout = np, pf[np++] = (struct pollfd){.fd = outfd, .events = POLLIN};
		if (infd >= 0)
			iin = np, pf[np++] = (struct pollfd){.fd = infd, .events = POLLOUT};
		if (pidfd >= 0 && !exited)
			ipid = np, pf[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		int r = poll(pf, (nfds_t)np, w > INT32_MAX ? INT32_MAX : (int)w);
		if (r < 0 && errno != EINTR)
			break;
		if (iin >= 0 && pf[iin].revents) {
			ssize_t n = write(infd, sp, sl);
			if (n > 0) {
				sp += n;
				sl -= (size_t)n;
			}
			if (sl == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				close(infd); // written, or the hook does not read it
				infd = -1;
			}
		}
		if (iout >= 0 && pf[iout].revents) {
			char tmp[1024];
			ssize_t n = read(outfd, tmp, sizeof tmp);
			if (n > 0) {
				size_t take = (size_t)n;
				if (take > sizeof outbuf - 1 - outn)
					take = sizeof outbuf - 1 - outn;
				memcpy(outbuf + outn, tmp, take);
				outn += take;
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(outfd);
				outfd = -1;
			}
		}
		if (!exited && (ipid >= 0 ? pf[ipid].revents != 0 : pidfd < 0)) {
			pid_t wp = waitpid(pid, &status, pidfd < 0 ? WNOHANG : 0);
			if (wp == pid) {
				exited = 1;
				grace = now_ms() + 1000;
				if (infd >= 0) {
					close(infd);
					infd = -1;
				}
			}
		}
	}
	if (infd >= 0)
		close(infd);
	if (outfd >= 0)
		close(outfd);
	if (!exited) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (pidfd >= 0)
		close(pidfd);
	sigaction(SIGPIPE, &oldpipe, NULL);
	int e = 0;
	ssize_t en = read(ex[0], &e, sizeof e);
	close(ex[0]);
	sfree(argv);
	sfree(envp);
	if (timed_out)
		fail(ERR_HOOK_TIMEOUT, "timed out after %llds", (long long)timeout);
	if (en == (ssize_t)sizeof e && e != 0)
		fail(e, "fork/exec %s", path);
	while (outn > 0 && (outbuf[outn - 1] == '\n' || outbuf[outn - 1] == ' ' || outbuf[outn - 1] == '\t' || outbuf[outn - 1] == '\r'))
		outn--;
	outbuf[outn] = '\0';
	char what[96];
	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == 0)
			return;
		snprintf(what, sizeof what, "exit status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status))
		snprintf(what, sizeof what, "signal: %s", errtext_sig(WTERMSIG(status)));
	else
		snprintf(what, sizeof what, "status %d", status);
	if (outn > 0)
		fail(ERR_HOOK_EXIT, "%s: %s", what, outbuf);
	fail(ERR_HOOK_EXIT, "%s", what);
}

// op_console makes a pty in the container's devpts, gives the master to
// the runtime (for --console-socket) and makes the slave our stdio and
// controlling terminal.
static void op_console(const struct op *o) {
	if (o->i[1] && setsid() < 0 && errno != EPERM)
		fail(errno, "setsid");
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail(errno, "open /dev/ptmx (is devpts mounted at /dev/pts?)");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail(errno, "unlockpt");
	// The peer from the master itself, never a /dev/pts path the
	// container's files could redirect; it is also what /dev/console binds.
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		fail(errno, "open the pty's peer");
	char sp[64];
	fd_path(sp, sizeof sp, slave);
	if (o->i[2] > 0 || o->i[3] > 0) {
		struct winsize ws = {.ws_row = (unsigned short)o->i[2], .ws_col = (unsigned short)o->i[3]};
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	if (o->i[0]) {
		int fd = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat sb;
		if (fd >= 0 && fstat(fd, &sb) == 0 && !S_ISLNK(sb.st_mode)) {
			char tp[64];
			fd_path(tp, sizeof tp, fd);
			mount(sp, tp, NULL, MS_BIND, NULL);
		} else if (fd < 0 && errno == ENOENT) {
			int c = open("/dev/console", O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (c >= 0) {
				close(c);
				mount(sp, "/dev/console", NULL, MS_BIND, NULL);
			}
		}
		if (fd >= 0)
			close(fd);
	}
	sync_with("console", master);
	close(master);
	for (int k = 0; k < 3; k++)
		if (dup3(slave, k, 0) < 0)
			fail(errno, "dup pty");
	close(slave);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail(errno, "set controlling terminal");
}

static void op_pivot(const char *rootfs) {
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		fail(errno, "open /");
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0)
		fail(errno, "open %s", rootfs);
	if (fchdir(newroot) < 0)
		fail(errno, "chdir %s", rootfs);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(errno, "pivot_root %s", rootfs);
	if (fchdir(oldroot) < 0)
		fail(errno, "chdir old root");
	// Keep unmount events of the old root from reaching the host.
	if (mount("", ".", "", MS_SLAVE | MS_REC, NULL) < 0)
		fail(errno, "make old root slave");
	if (umount2(".", MNT_DETACH) < 0)
		fail(errno, "detach old root");
	if (chdir("/") < 0)
		fail(errno, "chdir /");
	close(oldroot);
	close(newroot);
}

// open_nofollow opens p without following a final symlink: 1 done, 0 p is
// missing or a symlink (nothing to do), fails otherwise.
static int open_nofollow(const char *p, int *fdp, struct stat *sb) {
	int fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			return 0;
		fail(errno, NULL);
	}
	if (fstat(fd, sb) < 0)
		fail(errno, NULL);
	if (S_ISLNK(sb->st_mode)) {
		close(fd);
		return 0;
	}
	*fdp = fd;
	return 1;
}

static void op_mask(const struct op *o) {
	int fd;
	struct stat sb;
	if (!open_nofollow(o->s[0], &fd, &sb))
		return;
	char tp[64];
	fd_path(tp, sizeof tp, fd);
	int r;
	if (S_ISDIR(sb.st_mode))
		r = mount("tmpfs", tp, "tmpfs", MS_RDONLY, o->s[1]);
	else {
		// the container's /dev/null, checked to be the null device before
		// it is bound (a symlink or another file there would unmask)
		int null = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat nb;
		if (null < 0 || fstat(null, &nb) < 0 || !S_ISCHR(nb.st_mode) || nb.st_rdev != makedev(1, 3))
			fail(null < 0 ? errno : EINVAL, "/dev/null is not the null device");
		char np[64];
		fd_path(np, sizeof np, null);
		r = mount(np, tp, NULL, MS_BIND, NULL);
		close(null);
	}
	if (r < 0)
		fail(errno, NULL);
	close(fd);
}

static void op_readonly(const struct op *o) {
	int fd, g;
	struct stat sb;
	if (!open_nofollow(o->s[0], &fd, &sb))
		return;
	char tp[64];
	fd_path(tp, sizeof tp, fd);
	if (mount(tp, tp, "", MS_BIND | MS_REC, NULL) < 0)
		fail(errno, NULL);
	close(fd);
	if (!open_nofollow(o->s[0], &g, &sb))
		fail(ENOENT, NULL);
	fd_path(tp, sizeof tp, g);
	if (remount(tp, MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0)
		fail(errno, NULL);
	close(g);
}

static void cloexec_from(int from) {
	if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		fail(errno, "close fds");
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		if (fd >= from && fd != dfd && e->d_name[0] != '.')
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

static void verify_cwd(void) {
	char buf[PATH_MAX];
	long r = syscall(SYS_getcwd, buf, sizeof buf);
	if (r < 0)
		fail(ERR_CWD_OUTSIDE, "%s", strerror(errno));
	if (buf[0] != '/')
		fail(ERR_CWD_OUTSIDE, "%s", buf);
}

static void op_seccomp(const struct op *o) {
	size_t n = o->len[0] / sizeof(struct sock_filter);
	if (n == 0 || n > 4096)
		fail(EINVAL, "seccomp program of %zu instructions", n);
	struct sock_filter *f = salloc(n * sizeof *f);
	if (f == NULL)
		fail(ENOMEM, NULL);
	memcpy(f, o->s[0], n * sizeof *f);
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned long)o->i[0], &prog);
	if (r < 0)
		fail(errno, NULL);
	sfree(f);
	if (o->i[1]) {
		if (st.ready)
			fail(EINVAL, "seccomp listener after start is not supported");
		sync_with("seccomp", (int)r);
		close((int)r);
	}
}

static void op_capset(const struct op *o) {
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	uint64_t eff = (uint64_t)o->i[0], perm = (uint64_t)o->i[1], inh = (uint64_t)o->i[2];
	uint64_t amb = (uint64_t)o->i[3];
	int last = (int)o->i[4];
	data[0].effective = (uint32_t)eff, data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)perm, data[1].permitted = (uint32_t)(perm >> 32);
	data[0].inheritable = (uint32_t)inh, data[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(errno, NULL);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(errno, "clear ambient capabilities");
	for (int c = 0; c <= last && c < 64; c++)
		if (amb & (1ULL << c))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0); // like runc: not an error
}

static void op_ready(const struct op *o) {
	trace(o->i[0] ? "ready, waiting for start" : "ready");
	if (send_msg("ready", 5, -1) < 0)
		fail(errno, "report ready");
	st.ready = 1;
	if (o->i[0] == 2) {
		// `run`: the runtime says "start" on the socket, which stays open
		// (close-on-exec) so that its EOF tells the runtime we exec'd.
		char buf[64];
		if (recv_msg(buf, sizeof buf, NULL) < 0 || strcmp(buf, "start") != 0)
			fail(ERR_SYNC, "the runtime went away before start");
		return;
	}
	close(st.sync);
	st.sync = -1;
	if (!o->i[0])
		return;
	// Blocks until `start` opens the fifo for reading. Reached through our
	// /proc handle: after pivot_root its path is gone and the container may
	// have no /proc. The fd stays open (close-on-exec): `start` reads to EOF,
	// so it returns once the container process runs.
	char p[64];
	snprintf(p, sizeof p, "self/fd/%d", st.fifo);
	int f = openat(st.proc, p, O_WRONLY | O_CLOEXEC);
	if (f < 0)
		fail(errno, "open exec fifo");
	char z = 0;
	if (write(f, &z, 1) != 1)
		fail(errno, "write exec fifo");
	close(st.fifo);
	close(st.proc);
	st.fifo = st.proc = -1;
}

static void op_exec(const struct op *o) {
	unsigned nargs = (unsigned)o->i[0];
	if (nargs == 0 || nargs > o->nstr || st.argv0 == NULL)
		fail(ERR_PLAN, "exec without a program");
	char **argv = scalloc(nargs + 1, sizeof *argv);
	char **envp = scalloc(o->nstr - nargs + 1, sizeof *envp);
	if (argv == NULL || envp == NULL)
		fail(ENOMEM, "exec");
	for (unsigned k = 0; k < nargs; k++)
		argv[k] = (char *)o->s[k];
	for (unsigned k = nargs; k < o->nstr; k++)
		envp[k - nargs] = (char *)o->s[k];
	trace("exec");
	execve(st.argv0, argv, envp);
	int e = errno;
	char buf[PATH_MAX + 200], et[128];
	int n = snprintf(buf, sizeof buf, "berth init: exec %s: %s\n", argv[0], errtext(e, et, sizeof et));
	if (n >= (int)sizeof buf)
		n = sizeof buf - 1;
	if (st.ready) {
		if (write(2, buf, (size_t)n) < 0) {
		}
		_exit(e == ENOENT ? 127 : 126);
	}
	fail(e, "exec %s", argv[0]);
}

static void run_op(const struct op *o) {
	char tp[64];
	switch (o->code) {
	case OP_WRITE: {
		int fd = open(o->s[0], O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			if (errno == ENOENT && (o->i[0] & WR_IGNORE_ENOENT))
				return;
			fail(errno, NULL);
		}
		struct statfs sf;
		if ((o->i[0] & WR_PROCFS) && (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC))
			fail(EXDEV, "%s is not on procfs (is proc mounted at /proc?)", o->s[0]);
		if (write(fd, o->s[1], o->len[1]) != (ssize_t)o->len[1])
			fail(errno, NULL);
		close(fd);
		return;
	}
	case OP_UNSHARE:
		if (unshare((int)o->i[0]) < 0)
			fail(errno, NULL);
		return;
	case OP_KEYRING:
		if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, o->s[0]) < 0 && errno != ENOSYS)
			fail(errno, NULL);
		return;
	case OP_OPEN: {
		int fd = open(o->s[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			fail(errno, NULL);
		set_reg(reg(o, 0), fd);
		return;
	}
	case OP_MOUNT: {
		const char *target = o->s[1];
		if (o->i[1] >= 0) {
			fd_path(tp, sizeof tp, reg_fd(o, 1));
			target = tp;
		}
		const char *data = o->len[3] ? o->s[3] : NULL;
		if (mount(o->s[0], target, o->s[2], (unsigned long)o->i[0], data) == 0)
			return;
		if (errno == EPERM && (o->i[2] & MNT_SYSFS_FALLBACK) &&
		    mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) == 0)
			return;
		if (o->i[2] & MNT_IGNORE_ERROR)
			return;
		fail(errno, NULL);
	}
	case OP_RESOLVE: {
		int out = reg(o, 0);
		int fd = resolve(reg_fd(o, 1), o->s[0], (int)o->i[2]);
		if (fd < 0 && !(o->i[2] & RES_OPTIONAL))
			fail(errno, NULL);
		set_reg(out, fd);
		return;
	}
	case OP_CHECKDIR: {
		struct stat sb;
		if (fstat(reg_fd(o, 0), &sb) < 0 || !S_ISDIR(sb.st_mode))
			fail(ERR_NOT_DIR_MOUNT, NULL);
		return;
	}
	case OP_REMOUNT: {
		const char *target = o->s[0];
		if (o->i[0] >= 0) {
			fd_path(tp, sizeof tp, reg_fd(o, 0));
			target = tp;
		}
		if (remount(target, (unsigned long)o->i[1]) < 0)
			fail(errno, NULL);
		return;
	}
	case OP_SETATTR: {
		struct mount_attr_ a = {.attr_set = (uint64_t)o->i[1], .attr_clr = (uint64_t)o->i[2]};
		if (syscall(SYS_mount_setattr, reg_fd(o, 0), "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
			fail(errno, NULL);
		return;
	}
	case OP_CLOSE:
		set_reg(reg(o, 0), -1);
		return;
	case OP_UMASK:
		if (o->i[0] < 0)
			umask(st.saved_umask);
		else
			st.saved_umask = umask((mode_t)o->i[0]);
		return;
	case OP_MKNOD: {
		int dir = reg_fd(o, 0);
		uid_t uid = (uid_t)o->i[3];
		gid_t gid = (gid_t)o->i[4];
		unlinkat(dir, o->s[0], 0);
		if (mknodat(dir, o->s[0], (mode_t)o->i[1], (dev_t)o->i[2]) < 0)
			fail(errno, "mknod");
		if (o->i[3] >= 0 || o->i[4] >= 0) {
			// through a handle of the node just made, checked to be it
			int nfd = openat(dir, o->s[0], O_PATH | O_NOFOLLOW | O_CLOEXEC);
			struct stat nb;
			if (nfd < 0 || fstat(nfd, &nb) < 0 || (nb.st_mode & S_IFMT) != ((mode_t)o->i[1] & S_IFMT) ||
			    nb.st_rdev != (dev_t)o->i[2])
				fail(nfd < 0 ? errno : EEXIST, "device node replaced before chown");
			if (fchownat(nfd, "", uid, gid, AT_EMPTY_PATH) < 0)
				fail(errno, "chown");
			close(nfd);
		}
		return;
	}
	case OP_SYMLINK:
		if (symlinkat(o->s[0], reg_fd(o, 0), o->s[1]) < 0 && !(errno == EEXIST && o->i[1]))
			fail(errno, NULL);
		return;
	case OP_SYNC:
		sync_with(o->s[0], -1);
		return;
	case OP_HOOK:
		op_hook(o);
		return;
	case OP_PIVOT:
		op_pivot(o->s[0]);
		return;
	case OP_MOVEROOT:
		if (chdir(o->s[0]) < 0)
			fail(errno, "chdir");
		if (mount(o->s[0], "/", NULL, MS_MOVE, NULL) < 0)
			fail(errno, "move rootfs");
		if (chroot(".") < 0)
			fail(errno, "chroot");
		if (chdir("/") < 0)
			fail(errno, "chdir /");
		return;
	case OP_CHROOT:
		if (chroot(o->s[0]) < 0)
			fail(errno, NULL);
		if (chdir("/") < 0)
			fail(errno, "chdir /");
		return;
	case OP_CONSOLE:
		op_console(o);
		return;
	case OP_HOSTNAME:
		if (sethostname(o->s[0], o->len[0]) < 0)
			fail(errno, NULL);
		return;
	case OP_DOMAINNAME:
		if (setdomainname(o->s[0], o->len[0]) < 0)
			fail(errno, NULL);
		return;
	case OP_MASK:
		op_mask(o);
		return;
	case OP_READONLY:
		op_readonly(o);
		return;
	case OP_RLIMIT: {
		struct rlimit rl = {.rlim_cur = (rlim_t)o->i[1], .rlim_max = (rlim_t)o->i[2]};
		if (setrlimit((int)o->i[0], &rl) < 0)
			fail(errno, NULL);
		return;
	}
	case OP_PERSONALITY:
		if (personality((unsigned long)o->i[0]) < 0)
			fail(errno, NULL);
		return;
	case OP_SCHED: {
		struct sched_attr_ a = {.size = sizeof a};
		a.sched_policy = (uint32_t)o->i[0];
		a.sched_flags = (uint64_t)o->i[1];
		a.sched_nice = (int32_t)o->i[2];
		a.sched_priority = (uint32_t)o->i[3];
		a.sched_runtime = (uint64_t)o->i[4];
		a.sched_deadline = (uint64_t)o->i[5];
		a.sched_period = (uint64_t)o->i[6];
		if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
			fail(errno, NULL);
		return;
	}
	case OP_IOPRIO:
		if (syscall(SYS_ioprio_set, 1, 0, (int)o->i[0]) < 0)
			fail(errno, NULL);
		return;
	case OP_LOOKPATH:
		op_lookpath(o);
		return;
	case OP_CLOEXEC_FROM:
		cloexec_from((int)o->i[0]);
		return;
	case OP_SECCOMP:
		op_seccomp(o);
		return;
	case OP_CHDIR:
		if (!o->i[0]) {
			// as root first, so that a cwd the user cannot search still
			// works (runc does the same); with no_new_privs this is
			// before the filter, which may refuse getcwd, is loaded.
			if (chdir(o->s[0]) == 0) {
				verify_cwd();
				st.cwd_done = 1;
			}
			return;
		}
		if (st.cwd_done)
			return;
		if (chdir(o->s[0]) < 0)
			fail(errno, NULL);
		verify_cwd();
		return;
	case OP_CAPBSET: {
		uint64_t keep = (uint64_t)o->i[0];
		for (int c = 0; c <= (int)o->i[1] && c < 64; c++) {
			if (keep & (1ULL << c))
				continue;
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				fail(errno, "capability %d", c);
		}
		return;
	}
	case OP_KEEPCAPS:
		if (prctl(PR_SET_KEEPCAPS, (unsigned long)o->i[0], 0, 0, 0) < 0)
			fail(errno, NULL);
		return;
	case OP_SETUSER: {
		size_t ng = o->len[0] / sizeof(gid_t);
		gid_t *groups = NULL;
		if (ng > 0) {
			groups = salloc(ng * sizeof *groups);
			if (groups == NULL)
				fail(ENOMEM, NULL);
			memcpy(groups, o->s[0], ng * sizeof *groups);
		}
		// raw syscalls: glibc's wrappers would signal other threads (none).
		if (syscall(SYS_setgroups, ng, groups) < 0 && !(errno == EPERM && ng == 0))
			fail(errno, "setgroups");
		if (syscall(SYS_setresgid, (gid_t)o->i[1], (gid_t)o->i[1], (gid_t)o->i[1]) < 0)
			fail(errno, "setresgid %lld", (long long)o->i[1]);
		if (syscall(SYS_setresuid, (uid_t)o->i[0], (uid_t)o->i[0], (uid_t)o->i[0]) < 0)
			fail(errno, "setresuid %lld", (long long)o->i[0]);
		sfree(groups);
		return;
	}
	case OP_CAPSET:
		op_capset(o);
		return;
	case OP_NNP:
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			fail(errno, NULL);
		return;
	case OP_READY:
		op_ready(o);
		return;
	case OP_EXEC:
		op_exec(o);
		return;
	}
	fail(ERR_PLAN, "unknown op %d", o->code);
}

static char *read_all(int fd, size_t *lenp) {
	size_t cap = 16384, n = 0;
	char *buf = salloc(cap);
	if (buf == NULL)
		return NULL;
	for (;;) {
		if (n == cap) {
			char *nb = salloc(cap * 2);
			if (nb == NULL)
				return NULL;
			memcpy(nb, buf, n);
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sfree(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*lenp = n;
	return buf;
}

// minArgs is, per op, how many ints and strings run_op reads: a plan
// that gives fewer is refused before the op runs.
static const struct {
	unsigned char ints, strs;
} minArgs[OP_MAX] = {
	[OP_WRITE] = {1, 2},    [OP_UNSHARE] = {1, 0},  [OP_KEYRING] = {0, 1},    [OP_OPEN] = {1, 1},
	[OP_MOUNT] = {3, 4},    [OP_RESOLVE] = {3, 1},  [OP_CHECKDIR] = {1, 0},   [OP_REMOUNT] = {2, 1},
	[OP_SETATTR] = {3, 0},  [OP_CLOSE] = {1, 0},    [OP_UMASK] = {1, 0},      [OP_MKNOD] = {5, 1},
	[OP_SYMLINK] = {2, 2},  [OP_SYNC] = {0, 1},     [OP_HOOK] = {2, 2},       [OP_PIVOT] = {0, 1},
	[OP_MOVEROOT] = {0, 1}, [OP_CHROOT] = {0, 1},   [OP_CONSOLE] = {4, 0},    [OP_HOSTNAME] = {0, 1},
	[OP_DOMAINNAME] = {0, 1}, [OP_MASK] = {0, 2},   [OP_READONLY] = {0, 1},   [OP_RLIMIT] = {3, 0},
	[OP_PERSONALITY] = {1, 0}, [OP_SCHED] = {7, 0}, [OP_IOPRIO] = {1, 0},     [OP_LOOKPATH] = {0, 2},
	[OP_CLOEXEC_FROM] = {1, 0}, [OP_SECCOMP] = {2, 1}, [OP_CHDIR] = {1, 1},   [OP_CAPBSET] = {2, 0},
	[OP_KEEPCAPS] = {1, 0}, [OP_SETUSER] = {2, 1},  [OP_CAPSET] = {5, 0},     [OP_NNP] = {0, 0},
	[OP_READY] = {1, 0},    [OP_EXEC] = {1, 1},
};

// run_plan decodes and runs the ops one at a time.
static void run_plan(const char *buf, size_t len) {
	const char *p = buf, *end = buf + len;
	st.op = -1;
	if (len < 12 || memcmp(p, PLAN_MAGIC, 8) != 0)
		fail(ERR_PLAN, "bad plan header");
	uint32_t nops;
	memcpy(&nops, p + 8, 4);
	p += 12;
	struct op o;
	for (uint32_t k = 0; k < nops; k++) {
		st.op = (int)k;
		uint16_t code, nint;
		uint32_t nstr;
		if (end - p < 8)
			fail(ERR_PLAN, "truncated op");
		memcpy(&code, p, 2);
		memcpy(&nint, p + 2, 2);
		memcpy(&nstr, p + 4, 4);
		p += 8;
		if (nint > PLAN_MAX_INTS || (size_t)(end - p) < (size_t)nint * 8 || nstr > 1u << 20)
			fail(ERR_PLAN, "bad op %u", (unsigned)code);
		if (code == 0 || code >= OP_MAX || nint < minArgs[code].ints || nstr < minArgs[code].strs)
			fail(ERR_PLAN, "op %u with %u ints and %u strings", (unsigned)code, (unsigned)nint, nstr);
		memset(&o, 0, sizeof o);
		o.code = code;
		o.nint = nint;
		o.nstr = nstr;
		memcpy(o.i, p, (size_t)nint * 8);
		p += (size_t)nint * 8;
		o.s = scalloc(nstr + 1, sizeof *o.s);
		o.len = scalloc(nstr + 1, sizeof *o.len);
		if (o.s == NULL || o.len == NULL)
			fail(ENOMEM, "decode plan");
		for (uint32_t j = 0; j < nstr; j++) {
			uint32_t l;
			if (end - p < 4)
				fail(ERR_PLAN, "truncated string");
			memcpy(&l, p, 4);
			p += 4;
			if ((size_t)(end - p) < (size_t)l + 1 || p[l] != '\0')
				fail(ERR_PLAN, "bad string");
			o.s[j] = p;
			o.len[j] = l;
			p += l + 1;
		}
		// Strings stay in the plan buffer (exec keeps pointers into it).
		struct timespec t0, t1;
		if (st.tracing > 1)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		run_op(&o);
		if (st.tracing > 1) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			char what[128];
			snprintf(what, sizeof what, "op %u (code %d) %ld us", k, o.code,
				 (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
			trace(what);
		}
		sfree(o.s);
		sfree(o.len);
	}
	fail(ERR_PLAN, "plan ended without exec");
}

// berth_init_stage runs when the runtime started this binary with
// _BERTH_INIT_FDS="sync,plan,fifo" set; it never returns then.
void berth_init_stage(void) {
	const char *env = getenv("_BERTH_INIT_FDS");
	if (env == NULL || *env == '\0')
		return;
	int sync = -1, cfg = -1, fifo = -1;
	if (sscanf(env, "%d,%d,%d", &sync, &cfg, &fifo) != 3 || sync < 0 || cfg < 0) {
		fprintf(stderr, "berth init: _BERTH_INIT_FDS=%s: want sync,plan,fifo fds\n", env);
		_exit(1);
	}
	unsetenv("_BERTH_INIT_FDS");
	const char *tr = getenv("BERTH_TRACE");
	st.tracing = tr == NULL ? 0 : strcmp(tr, "2") == 0 ? 2 : 1;
	trace("init main");
	// `ps` shows this stage by name, not as the fd it was exec'd from.
	prctl(PR_SET_NAME, "berth:init", 0, 0, 0);
	st.sync = sync;
	st.fifo = fifo;
	st.proc = -1;
	for (int k = 0; k < PLAN_REGS; k++)
		st.regs[k] = -1;
	fcntl(sync, F_SETFD, FD_CLOEXEC);
	fcntl(cfg, F_SETFD, FD_CLOEXEC);
	st.op = -1;
	if (fifo >= 0) {
		fcntl(fifo, F_SETFD, FD_CLOEXEC);
		st.proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (st.proc < 0)
			fail(errno, "open /proc");
	}
	size_t len;
	char *plan = read_all(cfg, &len);
	if (plan == NULL)
		fail(errno, "read init plan");
	close(cfg);
	trace("plan read");
	run_plan(plan, len);
}
