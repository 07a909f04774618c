// Running the OCI runtime and other children, and reading its errors.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

// shim_spawn runs argv with the given stdio in a child that has the signal
// state of a fresh process (SIGPIPE ignored and SIGCHLD blocked here are
// inherited across exec otherwise).
pid_t shim_spawn(const char *const *argv, int in, int outfd, int errfd, int detach) {
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigprocmask(SIG_SETMASK, &shim_oldmask, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (detach)
		setsid();
	int fds[3] = {in, outfd, errfd};
	// Move the fds above 2 first so that dup2 cannot clobber one another.
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0 && fds[i] < 3)
			fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
	int null = -1;
	for (int i = 0; i < 3; i++) {
		int f = fds[i];
		if (f < 0) {
			if (null < 0)
				null = open("/dev/null", O_RDWR | O_CLOEXEC);
			f = null;
		}
		if (dup2(f, i) < 0)
			_exit(126);
	}
	syscall(SYS_close_range, 3, ~0U, 0);
	execvp(argv[0], (char *const *)argv);
	dprintf(2, "berth shim: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

// shim_runtime_argv builds RUNTIME RuntimeArgs... --log runtime.log
// --log-format json VERB extra... ID.
const char **shim_runtime_argv(const char *verb, const char **extra, int nextra, const char **tail, int ntail) {
	int n = 0, max = shimcfg.nrargs + nextra + ntail + 10;
	const char **a = calloc((size_t)max, sizeof(char *));
	if (a == NULL)
		return NULL;
	a[n++] = shimcfg.runtime;
	for (int i = 0; i < shimcfg.nrargs; i++)
		a[n++] = shimcfg.rargs[i];
	a[n++] = "--log";
	a[n++] = "runtime.log";
	a[n++] = "--log-format";
	a[n++] = "json";
	a[n++] = verb;
	for (int i = 0; i < nextra; i++)
		a[n++] = extra[i];
	a[n++] = shimcfg.id;
	for (int i = 0; i < ntail; i++)
		a[n++] = tail[i];
	a[n] = NULL;
	return a;
}

// shim_spawn_exec starts `RUNTIME exec ID cmd...` for a health check.
pid_t shim_spawn_exec(const char *const *cmd, int n, int outfd) {
	const char **a = shim_runtime_argv("exec", NULL, 0, (const char **)cmd, n);
	if (a == NULL)
		return -1;
	pid_t pid = shim_spawn(a, -1, outfd, outfd, 0);
	free(a);
	return pid;
}

int shim_wait_pid(pid_t pid) {
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

// json_str finds "key": "value" in a one-line JSON object (runc writes
// "key":"v", crun "key": "v") and copies the unescaped value to out.
static int json_str(const char *line, const char *key, char *out, size_t n) {
	char pat[32];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	for (const char *k = strstr(line, pat); k; k = strstr(k + 1, pat)) {
		const char *v = k + strlen(pat);
		while (*v == ' ')
			v++;
		if (*v++ != ':')
			continue;
		while (*v == ' ')
			v++;
		if (*v++ != '"')
			continue;
		size_t o = 0;
		for (; *v && *v != '"' && o + 1 < n; v++) {
			char c = *v;
			if (c == '\\' && v[1]) {
				c = *++v;
				if (c == 'n' || c == 't' || c == 'r')
					c = ' ';
				else if (c == 'u') {
					unsigned x = 0;
					int i;
					for (i = 1; i <= 4 && v[i]; i++) {
						char h = v[i];
						x = x * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
					}
					if (i <= 4)
						break;
					v += 4;
					c = x < 0x80 ? (char)x : '?';
				}
			}
			out[o++] = c;
		}
		out[o] = '\0';
		return 0;
	}
	return -1;
}

// shim_runtime_error returns the last "error" message in runtime.log, or a
// description of the exit status st.
void shim_runtime_error(char *out, size_t n, const char *verb, int st) {
	out[0] = '\0';
	int fd = open("runtime.log", O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size > 0) {
		off_t off = sb.st_size > 65536 ? sb.st_size - 65536 : 0;
		size_t len = (size_t)(sb.st_size - off);
		char *buf = malloc(len + 1);
		ssize_t r = buf ? pread(fd, buf, len, off) : -1;
		if (r > 0) {
			buf[r] = '\0';
			char *line = buf, lvl[16];
			while (line && *line) {
				char *nl = strchr(line, '\n');
				if (nl)
					*nl = '\0';
				if (json_str(line, "level", lvl, sizeof lvl) == 0 && strcmp(lvl, "error") == 0)
					json_str(line, "msg", out, n);
				line = nl ? nl + 1 : NULL;
			}
		}
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	if (out[0] == '\0') {
		if (st < 0)
			snprintf(out, n, "%s %s: wait failed", shimcfg.runtime, verb);
		else if (WIFSIGNALED(st))
			snprintf(out, n, "%s %s: killed by signal %d", shimcfg.runtime, verb, WTERMSIG(st));
		else
			snprintf(out, n, "%s %s: exit status %d", shimcfg.runtime, verb, WEXITSTATUS(st));
	}
}

// shim_run_runtime runs a short runtime command (start, delete) and waits.
int shim_run_runtime(const char *verb, const char **extra, int nextra, char *err, size_t errn) {
	const char **a = shim_runtime_argv(verb, extra, nextra, NULL, 0);
	if (a == NULL)
		return -1;
	pid_t pid = shim_spawn(a, -1, -1, -1, 0);
	free(a);
	if (pid < 0) {
		snprintf(err, errn, "fork: %s", strerror(errno));
		return -1;
	}
	int st = shim_wait_pid(pid);
	if (st == 0)
		return 0;
	if (err)
		shim_runtime_error(err, errn, verb, st);
	return -1;
}
