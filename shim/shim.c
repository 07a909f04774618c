// The per-container monitor. See shim.go: berth_shim runs from a C
// constructor before the Go runtime starts, so the monitor is a plain
// single-threaded C process (a Go process idles at ~770 kB Pss, this one
// aims at conmon's ~450 kB). It never returns to Go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define SYNC_FD 3

struct shim_cfg shimcfg;

static int sigfd = -1, attach_lfd = -1, sync_fd = -1;
sigset_t shim_oldmask;
static struct stream sout = {-1, 1, NULL, 0}, serr = {-1, 2, NULL, 0};
static int in_fd = -1;  // container stdin (pipe write end or pty master)
static int master = -1; // pty master
static pid_t cpid;      // container init
static int running;
static char started_at[40], exited_at[40];
static int exit_code, oom_killed, restart_count;
static long long oom_base;
static long long run_start_ms, restart_at_ms = -1, backoff_ms = 100;
static unsigned long long my_start;

void shim_logf(const char *fmt, ...) {
	char buf[1024], ts[40];
	shim_now(ts, sizeof ts);
	int n = snprintf(buf, sizeof buf, "%s ", ts);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	shim_write_all(2, buf, (size_t)n);
}

static void add_arg(const char ***arr, int *n, int max, const char *v) {
	if (*arr == NULL)
		*arr = calloc((size_t)max + 1, sizeof(char *));
	if (*arr == NULL)
		_exit(120);
	(*arr)[(*n)++] = v;
}

static long long num(const char *v) { return strtoll(v, NULL, 10); }

// parse_args reads the key=value arguments written by shim.go (args.go).
static void parse_args(int argc, char **argv) {
	shimcfg.log_driver = "json-file";
	shimcfg.restart = "no";
	for (int i = 1; i < argc; i++) {
		char *a = argv[i], *eq = strchr(a, '=');
		if (eq == NULL)
			continue;
		size_t kl = (size_t)(eq - a);
		const char *v = eq + 1;
#define K(s) (kl == sizeof(s) - 1 && memcmp(a, s, kl) == 0)
		if (K("id"))
			shimcfg.id = v;
		else if (K("runtime"))
			shimcfg.runtime = v;
		else if (K("rarg"))
			add_arg(&shimcfg.rargs, &shimcfg.nrargs, argc, v);
		else if (K("bundle"))
			shimcfg.bundle = v;
		else if (K("dir"))
			shimcfg.dir = v;
		else if (K("terminal"))
			shimcfg.terminal = v[0] == '1';
		else if (K("stdin"))
			shimcfg.stdin_ = v[0] == '1';
		else if (K("stdin-once"))
			shimcfg.stdin_once = v[0] == '1';
		else if (K("start"))
			shimcfg.start = v[0] == '1';
		else if (K("log-driver"))
			shimcfg.log_driver = v;
		else if (K("log-path"))
			shimcfg.log_path = v;
		else if (K("log-max-size"))
			shimcfg.log_max_size = num(v);
		else if (K("log-max-files"))
			shimcfg.log_max_files = (int)num(v);
		else if (K("exit-cmd"))
			add_arg(&shimcfg.exit_cmd, &shimcfg.nexit, argc, v);
		else if (K("restart"))
			shimcfg.restart = v;
		else if (K("restart-max"))
			shimcfg.restart_max = (int)num(v);
		else if (K("memcg"))
			shimcfg.memcg = v;
		else if (K("health-cmd"))
			add_arg(&shimcfg.health_cmd, &shimcfg.nhealth, argc, v);
		else if (K("health-interval"))
			shimcfg.health_interval_ms = num(v);
		else if (K("health-timeout"))
			shimcfg.health_timeout_ms = num(v);
		else if (K("health-start-period"))
			shimcfg.health_start_ms = num(v);
		else if (K("health-retries"))
			shimcfg.health_retries = (int)num(v);
#undef K
	}
}

static void sync_report(const char *fmt, ...) {
	if (sync_fd < 0)
		return;
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 1)
		n = (int)sizeof buf - 1;
	if (n > 0)
		shim_write_all(sync_fd, buf, (size_t)n);
	// After an error the fd stays open until _exit: the caller's EOF then
	// means that no monitor is left.
	if (strncmp(buf, "ok", 2) == 0) {
		close(sync_fd);
		sync_fd = -1;
	}
}

static long long read_oom(void) {
	if (shimcfg.memcg == NULL || shimcfg.memcg[0] == '\0')
		return -1;
	static const char *files[] = {"memory.events", "memory.oom_control"};
	for (int i = 0; i < 2; i++) {
		char p[4200], buf[1024];
		snprintf(p, sizeof p, "%s/%s", shimcfg.memcg, files[i]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		char *k = strstr(buf, "oom_kill ");
		if (k)
			return strtoll(k + 9, NULL, 10);
	}
	return -1;
}

static void write_state(const char *status) {
	char buf[1024];
	int n = snprintf(buf, sizeof buf,
			 "{\"status\":\"%s\",\"pid\":%d,\"started_at\":\"%s\",\"exit_code\":%d,\"exited_at\":\"%s\","
			 "\"oom_killed\":%s,\"restart_count\":%d,\"shim_pid\":%d,\"shim_start\":%llu}\n",
			 status, (int)cpid, started_at, exit_code, exited_at, oom_killed ? "true" : "false",
			 restart_count, (int)getpid(), my_start);
	if (shim_write_atomic("state.json", buf, (size_t)n) < 0)
		shim_logf("write state.json: %s", strerror(errno));
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// recv_master accepts the runtime's connection on the console socket
// and takes the pty master it sends (SCM_RIGHTS).
static int recv_master(int lfd) {
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return -1;
	char data[256];
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {data, sizeof data};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	int fd = -1;
	struct timeval tv = {5, 0};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (recvmsg(c, &msg, MSG_CMSG_CLOEXEC) >= 0) {
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	}
	close(c);
	return fd;
}

// create_container runs `RUNTIME create` with fresh stdio and leaves the
// container created (not started). On failure err holds the message.
static int create_container(char *err, size_t errn) {
	int opipe[2] = {-1, -1}, epipe[2] = {-1, -1}, ipipe[2] = {-1, -1}, clfd = -1;
	int cin = -1, cout = -1, cerr = -1;
	char sockpath[256];
	unlink("runtime.log");
	unlink("pid");
	if (shimcfg.terminal) {
		unlink("console.sock");
		clfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		strcpy(sa.sun_path, "console.sock");
		if (clfd < 0 || bind(clfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(clfd, 1) < 0) {
			snprintf(err, errn, "console socket in %s: %s", shimcfg.dir, strerror(errno));
			goto fail;
		}
		// Absolute when it fits in sun_path; the runtime runs in Dir anyway.
		if (strlen(shimcfg.dir) + 14 < sizeof sa.sun_path)
			snprintf(sockpath, sizeof sockpath, "%s/console.sock", shimcfg.dir);
		else
			strcpy(sockpath, "console.sock");
		// The runtime's own stderr goes to a pipe: its messages are read
		// into the log like conmon does.
		if (pipe2(epipe, O_CLOEXEC) < 0) {
			snprintf(err, errn, "pipe: %s", strerror(errno));
			goto fail;
		}
		cerr = epipe[1];
	} else {
		if (pipe2(opipe, O_CLOEXEC) < 0 || pipe2(epipe, O_CLOEXEC) < 0 ||
		    (shimcfg.stdin_ && pipe2(ipipe, O_CLOEXEC) < 0)) {
			snprintf(err, errn, "pipe: %s", strerror(errno));
			goto fail;
		}
		cout = opipe[1];
		cerr = epipe[1];
		cin = ipipe[0];
	}
	const char *extra[6];
	int ne = 0;
	extra[ne++] = "--bundle";
	extra[ne++] = shimcfg.bundle;
	extra[ne++] = "--pid-file";
	extra[ne++] = "pid";
	if (shimcfg.terminal) {
		extra[ne++] = "--console-socket";
		extra[ne++] = sockpath;
	}
	const char **a = shim_runtime_argv("create", extra, ne, NULL, 0);
	pid_t rpid = a ? shim_spawn(a, cin, cout, cerr, 0) : -1;
	free(a);
	// Our copies of the child's ends must go, or EOF never comes.
	if (cin >= 0)
		close(cin), ipipe[0] = -1;
	if (cout >= 0)
		close(cout), opipe[1] = -1;
	if (cerr >= 0)
		close(cerr), epipe[1] = -1;
	if (rpid < 0) {
		snprintf(err, errn, "fork runtime: %s", strerror(errno));
		goto fail;
	}
	if (shimcfg.terminal) {
		int pfd = (int)syscall(SYS_pidfd_open, rpid, 0);
		int got = 0;
		while (master < 0 && !got) {
			struct pollfd p[2] = {{clfd, POLLIN, 0}, {pfd, POLLIN, 0}};
			int r = poll(p, pfd >= 0 ? 2 : 1, pfd >= 0 ? -1 : 100);
			if (r < 0 && errno != EINTR)
				break;
			if (p[0].revents & POLLIN)
				master = recv_master(clfd);
			if (pfd >= 0)
				got = (p[1].revents & POLLIN) != 0;
			else {
				siginfo_t si = {0};
				got = waitid(P_PID, (id_t)rpid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == rpid;
			}
		}
		if (pfd >= 0)
			close(pfd);
	}
	int st = shim_wait_pid(rpid);
	if (shimcfg.terminal && master < 0 && st == 0) {
		// The runtime may have exited right after sending.
		set_nonblock(clfd);
		master = recv_master(clfd);
	}
	if (clfd >= 0) {
		close(clfd);
		clfd = -1;
		unlink("console.sock");
	}
	if (st != 0) {
		shim_runtime_error(err, errn, "create", st);
		goto fail;
	}
	char pbuf[32] = {0};
	int pf = open("pid", O_RDONLY | O_CLOEXEC);
	ssize_t pn = pf >= 0 ? read(pf, pbuf, sizeof pbuf - 1) : -1;
	if (pf >= 0)
		close(pf);
	if (pn <= 0 || (cpid = (pid_t)atoi(pbuf)) <= 0) {
		snprintf(err, errn, "%s create: no pid in %s/pid", shimcfg.runtime, shimcfg.dir);
		goto fail;
	}
	if (shimcfg.terminal) {
		if (master < 0) {
			snprintf(err, errn, "%s create: no pty master received on the console socket", shimcfg.runtime);
			goto fail;
		}
		set_nonblock(master);
		// Its own fd: the output side closes at EIO while stdin writes
		// and resizes still use master.
		sout.fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		if (shimcfg.stdin_)
			in_fd = master;
		// The runtime's stderr (its warnings) goes to the log as stderr.
		serr.fd = epipe[0];
		set_nonblock(serr.fd);
	} else {
		sout.fd = opipe[0];
		serr.fd = epipe[0];
		set_nonblock(sout.fd);
		set_nonblock(serr.fd);
		if (shimcfg.stdin_) {
			in_fd = ipipe[1];
			set_nonblock(in_fd);
		}
	}
	oom_base = read_oom();
	return 0;
fail:
	// Put what the runtime printed into the log before giving up.
	for (int i = 0; i < 2; i++) {
		int *p = i ? epipe : opipe;
		if (p[0] >= 0) {
			struct stream s = {p[0], i ? 2 : 1, NULL, 0};
			set_nonblock(s.fd);
			while (s.fd >= 0 && s.len < 16384) {
				size_t before = s.len;
				shim_stream_read(&s);
				if (s.fd >= 0 && s.len == before)
					break;
			}
			shim_stream_flush(&s);
			if (s.fd >= 0)
				close(s.fd);
			free(s.buf);
		}
	}
	int fds[] = {opipe[1], epipe[1], ipipe[0], ipipe[1], clfd, master};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	master = -1;
	if (shimcfg.terminal)
		unlink("console.sock");
	return -1;
}

static int start_container(char *err, size_t errn) {
	if (shim_run_runtime("start", NULL, 0, err, errn) < 0)
		return -1;
	return 0;
}

static void delete_container(void) {
	const char *f[] = {"-f"};
	char err[512];
	if (shim_run_runtime("delete", f, 1, err, sizeof err) < 0)
		shim_logf("delete: %s", err);
}

static void mark_running(void) {
	running = 1;
	shim_now(started_at, sizeof started_at);
	exited_at[0] = '\0';
	run_start_ms = shim_mono_ms();
	oom_killed = 0;
	exit_code = 0;
	write_state("running");
	shim_health_running(1);
}

static void close_stdio(void) {
	if (sout.fd >= 0)
		close(sout.fd);
	if (serr.fd >= 0)
		close(serr.fd);
	if (in_fd >= 0 && in_fd != master)
		close(in_fd);
	if (master >= 0)
		close(master);
	sout.fd = serr.fd = in_fd = master = -1;
}

// drain reads what the streams still hold after the container exited.
// Bounded: a grandchild that inherited the pipes may keep them open.
static void drain(void) {
	long long end = shim_mono_ms() + 2000;
	while ((sout.fd >= 0 || serr.fd >= 0) && shim_mono_ms() < end) {
		struct pollfd p[2] = {{sout.fd, POLLIN, 0}, {serr.fd, POLLIN, 0}};
		int r = poll(p, 2, 100);
		if (r <= 0)
			break;
		if (p[0].revents)
			shim_stream_read(&sout);
		if (p[1].revents)
			shim_stream_read(&serr);
	}
	shim_stream_flush(&sout);
	shim_stream_flush(&serr);
	close_stdio();
}

static int should_restart(void) {
	if (access("stopped", F_OK) == 0)
		return 0;
	if (strcmp(shimcfg.restart, "always") == 0 || strcmp(shimcfg.restart, "unless-stopped") == 0)
		return 1;
	if (strcmp(shimcfg.restart, "on-failure") == 0)
		return exit_code != 0 && (shimcfg.restart_max <= 0 || restart_count < shimcfg.restart_max);
	return 0;
}

// cleanup_owned says whether a live process has taken the cleanup upon
// itself (an attached `berth run --rm` writes its pid to Dir/cleanup-owner):
// then the exit command would only race it for the same work. If that
// process died, the exit command runs as usual.
static int cleanup_owned(void) {
	char b[32] = {0};
	int fd = open("cleanup-owner", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0)
		return 0;
	long pid = strtol(b, NULL, 10);
	return pid > 0 && kill((pid_t)pid, 0) == 0;
}

static void finish(void) {
	write_state("exited");
	unlink("attach"); // new clients find it gone, not a dead listener
	shim_attach_close_all();
	shim_log_close();
	if (shimcfg.nexit > 0 && !cleanup_owned())
		shim_spawn(shimcfg.exit_cmd, -1, -1, -1, 1);
	_exit(0);
}

static void container_exited(int st) {
	running = 0;
	shim_health_running(0);
	shim_now(exited_at, sizeof exited_at);
	exit_code = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	long long o = read_oom();
	oom_killed = o >= 0 && o > oom_base;
	drain();
	if (!should_restart())
		finish();
	if (shim_mono_ms() - run_start_ms >= 10000)
		backoff_ms = 100;
	restart_at_ms = shim_mono_ms() + backoff_ms;
	backoff_ms *= 2;
	if (backoff_ms > 10000)
		backoff_ms = 10000;
	write_state("restarting");
}

static void do_restart(void) {
	char err[2048];
	restart_at_ms = -1;
	if (access("stopped", F_OK) == 0)
		finish();
	delete_container();
	restart_count++;
	if (create_container(err, sizeof err) < 0 || start_container(err, sizeof err) < 0) {
		shim_logf("restart: %s", err);
		close_stdio();
		exit_code = 128;
		if (!should_restart())
			finish();
		restart_at_ms = shim_mono_ms() + backoff_ms;
		backoff_ms = backoff_ms * 2 > 10000 ? 10000 : backoff_ms * 2;
		write_state("restarting");
		return;
	}
	mark_running();
}

static void reap(void) {
	struct signalfd_siginfo si;
	while (read(sigfd, &si, sizeof si) > 0)
		;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return;
		if (p == cpid && running)
			container_exited(st);
		else
			shim_health_reaped(p, st);
	}
}

static void loop(void) {
	struct pollfd p[64];
	for (;;) {
		int n = 0;
		p[n++] = (struct pollfd){sigfd, POLLIN, 0};
		p[n++] = (struct pollfd){attach_lfd, POLLIN, 0};
		p[n++] = (struct pollfd){sout.fd, POLLIN, 0};
		p[n++] = (struct pollfd){serr.fd, POLLIN, 0};
		int hp = n;
		n += shim_health_pollfd(&p[n]);
		int ap = n;
		n += shim_attach_pollfds(&p[n], 64 - n, in_fd);
		long long now = shim_mono_ms(), to = -1;
		if (restart_at_ms >= 0)
			to = restart_at_ms > now ? restart_at_ms - now : 0;
		long long ht = shim_health_next_timeout(now);
		if (ht >= 0 && (to < 0 || ht < to))
			to = ht;
		int r = poll(p, (nfds_t)n, (int)to);
		if (r < 0 && errno != EINTR) {
			shim_logf("poll: %s", strerror(errno));
			_exit(1);
		}
		now = shim_mono_ms();
		if (r > 0) {
			// Accept first: a client that connected before this output
			// was produced gets it.
			if (p[1].revents & POLLIN)
				shim_attach_accept(attach_lfd);
			if (p[2].revents)
				shim_stream_read(&sout);
			if (p[3].revents)
				shim_stream_read(&serr);
			shim_attach_handle(&p[ap], n - ap, &in_fd, master);
			if (hp < ap)
				shim_health_handle(&p[hp], now);
			if (p[0].revents & POLLIN)
				reap();
		}
		if (hp == ap)
			shim_health_handle(NULL, now);
		if (restart_at_ms >= 0 && shim_mono_ms() >= restart_at_ms)
			do_restart();
	}
}

static void setup_fds(void) {
	// Keep only the sync pipe (fd 3); stdio becomes /dev/null and
	// stderr the monitor's own log.
	syscall(SYS_close_range, 4, ~0U, 0);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(null, 0);
	dup2(null, 1);
	int lf = open("shim.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	dup2(lf >= 0 ? lf : null, 2);
	if (lf > 2)
		close(lf);
	if (null > 2)
		close(null);
	sync_fd = fcntl(SYNC_FD, F_GETFD) >= 0 ? SYNC_FD : -1;
	if (sync_fd >= 0)
		fcntl(sync_fd, F_SETFD, FD_CLOEXEC);
}

// berth_shim_args reads this process's arguments from /proc/self/cmdline
// (see the constructor in shim.go); -1 on failure.
int berth_shim_args(char ***argvp) {
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (buf == NULL) {
			close(fd);
			return -1;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	close(fd);
	buf[n] = '\0';
	int argc = 0;
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			argc++;
	char **argv = calloc((size_t)argc + 1, sizeof *argv);
	if (argv == NULL)
		return -1;
	char *p = buf;
	for (int i = 0; i < argc; i++) {
		argv[i] = p;
		p += strlen(p) + 1;
	}
	*argvp = argv;
	return argc;
}

void berth_shim(int argc, char **argv) {
	const char *env = getenv("_BERTH_SHIM");
	if (env == NULL || env[0] == '\0')
		return;
	unsetenv("_BERTH_SHIM");
	parse_args(argc, argv);
	if (shimcfg.id == NULL || shimcfg.runtime == NULL || shimcfg.bundle == NULL || shimcfg.dir == NULL) {
		dprintf(SYNC_FD, "error shim: missing id, runtime, bundle or dir argument");
		_exit(2);
	}
	pid_t pid = fork();
	if (pid < 0) {
		dprintf(SYNC_FD, "error shim: fork: %s", strerror(errno));
		_exit(1);
	}
	if (pid > 0)
		_exit(0); // the Go caller reaps this one at once
	setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (chdir(shimcfg.dir) < 0) {
		dprintf(SYNC_FD, "error shim: chdir %s: %s", shimcfg.dir, strerror(errno));
		_exit(1);
	}
	setup_fds();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m, &shim_oldmask);
	sigfd = signalfd(-1, &m, SFD_CLOEXEC | SFD_NONBLOCK);
	my_start = shim_starttime(0);
	char buf[64];
	int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (shim_write_atomic("shim.pid", buf, (size_t)n) < 0) {
		sync_report("error shim: write %s/shim.pid: %s", shimcfg.dir, strerror(errno));
		_exit(1);
	}
	char err[2048];
	if (sigfd < 0) {
		sync_report("error shim: signalfd: %s", strerror(errno));
		_exit(1);
	}
	if (shim_log_open() < 0) {
		sync_report("error shim: open log %s: %s", shimcfg.log_path ? shimcfg.log_path : "", strerror(errno));
		_exit(1);
	}
	attach_lfd = shim_attach_listen();
	if (attach_lfd < 0) {
		sync_report("error shim: attach socket %s/attach: %s", shimcfg.dir, strerror(errno));
		_exit(1);
	}
	if (create_container(err, sizeof err) < 0) {
		sync_report("error %s", err);
		unlink("attach");
		unlink("shim.pid");
		_exit(1);
	}
	if (shimcfg.start && start_container(err, sizeof err) < 0) {
		sync_report("error %s", err);
		close_stdio();
		delete_container();
		unlink("attach");
		unlink("shim.pid");
		_exit(1);
	}
	shim_health_init();
	mark_running();
	sync_report("ok %d %d\n", (int)getpid(), (int)cpid);
	loop();
}
