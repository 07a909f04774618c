// Entering existing namespaces, before the Go runtime and before the init
// stage (stage.c) runs: setns(2) into a mount or user namespace needs a
// single-threaded process, so it is done here, from the constructor (see
// stage.go for the environment). When the runtime re-execs itself with
// _BERTH_NSENTER set, this joins the listed namespaces, forks when a pid or
// time namespace applies only to children, and reports the pid of the
// process that goes on. Never return with a half-entered set of namespaces
// (exit instead).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

static void bail(const char *what, const char *arg) {
	char buf[512];
	int n = snprintf(buf, sizeof buf, "berth nsenter: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
	if (n > 0) {
		ssize_t w = write(2, buf, (size_t)n);
		(void)w;
	}
	_exit(1);
}

struct ns { const char *type; int flag; int order; };
static const struct ns kinds[] = {
	{"user", CLONE_NEWUSER, 0}, {"ipc", CLONE_NEWIPC, 1}, {"uts", CLONE_NEWUTS, 1},
	{"net", CLONE_NEWNET, 1},   {"pid", CLONE_NEWPID, 1}, {"cgroup", CLONE_NEWCGROUP, 1},
	{"time", CLONE_NEWTIME, 1}, {"mnt", CLONE_NEWNS, 2},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

// join_cgroups moves this (still single-threaded) process into the cgroup
// v1 directories listed in _BERTH_CGROUP (colon-separated) by writing "0"
// to each "tasks" file. A thread that moves only itself skips the kernel's
// global threadgroup lock, whose RCU grace period makes a cgroup.procs
// write from the parent cost 10-30 ms on this kind of host.
static void join_cgroups(void) {
	const char *env = getenv("_BERTH_CGROUP");
	if (env == NULL || *env == '\0')
		return;
	char *list = strdup(env);
	if (list == NULL)
		bail("strdup", NULL);
	unsetenv("_BERTH_CGROUP");
	char *save = NULL;
	for (char *dir = strtok_r(list, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		char path[4096];
		if (snprintf(path, sizeof path, "%s/tasks", dir) >= (int)sizeof path) {
			errno = ENAMETOOLONG;
			bail("cgroup path", dir);
		}
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			bail("join cgroup", path);
		if (write(fd, "0", 1) != 1)
			bail("join cgroup", path);
		close(fd);
	}
	free(list);
}

void berth_nsenter(void) {
	join_cgroups();
	const char *env = getenv("_BERTH_NSENTER");
	if (env == NULL || *env == '\0')
		return;
	char *spec = strdup(env);
	if (spec == NULL)
		bail("strdup", NULL);
	unsetenv("_BERTH_NSENTER");
	// The process will live in the container: keep its memory away from
	// the container's ptrace and /proc until it has exec'd.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("prctl dumpable", NULL);

	char *semi = strchr(spec, ';');
	if (semi == NULL)
		bail("bad _BERTH_NSENTER", spec);
	*semi = '\0';
	int pidfd = atoi(spec);

	int fds[NKINDS];
	int flags[NKINDS];
	const char *names[NKINDS];
	int orders[NKINDS];
	int n = 0, needfork = 0;
	char *save = NULL;
	for (char *tok = strtok_r(semi + 1, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (eq == NULL)
			bail("bad namespace entry", tok);
		*eq = '\0';
		size_t k;
		for (k = 0; k < NKINDS; k++)
			if (strcmp(kinds[k].type, tok) == 0)
				break;
		if (k == NKINDS || n == (int)NKINDS) {
			errno = EINVAL;
			bail("unknown namespace type", tok);
		}
		// Open every namespace first: paths under /proc change meaning
		// once we are in another mount namespace.
		int fd = open(eq + 1, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			bail("open namespace", eq + 1);
		fds[n] = fd;
		flags[n] = kinds[k].flag;
		names[n] = eq + 1;
		orders[n] = kinds[k].order;
		if (kinds[k].flag == CLONE_NEWPID || kinds[k].flag == CLONE_NEWTIME)
			needfork = 1;
		n++;
	}
	// user first (it grants the capabilities the others need), mnt last.
	for (int pass = 0; pass <= 2; pass++) {
		for (int i = 0; i < n; i++) {
			if (orders[i] != pass)
				continue;
			if (setns(fds[i], flags[i]) < 0)
				bail("setns", names[i]);
			close(fds[i]);
		}
	}
	pid_t pid;
	if (needfork) {
		pid = fork();
		if (pid < 0)
			bail("fork", NULL);
		if (pid > 0) {
			char buf[32];
			int l = snprintf(buf, sizeof buf, "%d", (int)pid);
			if (write(pidfd, buf, (size_t)l) != l)
				bail("report pid", NULL);
			_exit(0);
		}
	} else {
		// "0": the process the runtime started goes on itself. (getpid()
		// may be 1 here: the runtime may have cloned us into a new pid
		// namespace.)
		if (write(pidfd, "0", 1) != 1)
			bail("report pid", NULL);
	}
	close(pidfd);
	free(spec);
}
