// Health checks: every interval `RUNTIME exec ID cmd...`; the last five
// results and the status go to Dir/health.json in Docker's shape.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define KEEP 5
#define OUT_MAX 4096

struct result {
	char start[40], end[40];
	int code;
	char *out;
};

static int enabled, running, failing;
static const char *status = "starting";
static long long next_ms = -1, deadline_ms, start_period_end;
static pid_t hpid = -1;
static int hfd = -1, timed_out;
static char *hout;
static size_t houtlen;
static char hstart[40];
static struct result res[KEEP];
static int nres;


void shim_health_init(void) {
	enabled = shimcfg.nhealth > 0;
	if (!enabled)
		return;
	if (shimcfg.health_interval_ms <= 0)
		shimcfg.health_interval_ms = 30000;
	if (shimcfg.health_timeout_ms <= 0)
		shimcfg.health_timeout_ms = 30000;
	if (shimcfg.health_retries <= 0)
		shimcfg.health_retries = 3;
}

void shim_health_running(int r) {
	running = r;
	if (enabled && r) {
		long long now = shim_mono_ms();
		// Like Docker: a (re)started container is "starting" again.
		status = "starting";
		failing = 0;
		next_ms = now + shimcfg.health_interval_ms;
		start_period_end = now + shimcfg.health_start_ms;
	}
}

long long shim_health_next_timeout(long long now) {
	if (!enabled)
		return -1;
	if (hpid > 0)
		return deadline_ms > now ? deadline_ms - now : 0;
	if (!running)
		return -1;
	return next_ms > now ? next_ms - now : 0;
}

int shim_health_pollfd(struct pollfd *p) {
	if (hfd < 0)
		return 0;
	*p = (struct pollfd){hfd, POLLIN, 0};
	return 1;
}

static void read_out(void) {
	if (hfd < 0)
		return;
	char buf[1024];
	for (;;) {
		ssize_t r = read(hfd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			close(hfd);
			hfd = -1;
			return;
		}
		if (hout == NULL)
			hout = malloc(OUT_MAX);
		size_t take = (size_t)r;
		if (hout == NULL || houtlen >= OUT_MAX)
			continue;
		if (take > OUT_MAX - houtlen)
			take = OUT_MAX - houtlen;
		memcpy(hout + houtlen, buf, take);
		houtlen += take;
	}
}

static void write_health(void) {
	size_t cap = 256;
	for (int i = 0; i < nres; i++)
		cap += 200 + 6 * (res[i].out ? strlen(res[i].out) : 0);
	char *b = malloc(cap);
	if (b == NULL)
		return;
	size_t o = (size_t)snprintf(b, cap, "{\"Status\":\"%s\",\"FailingStreak\":%d,\"Log\":[", status, failing);
	for (int i = 0; i < nres; i++) {
		const char *out = res[i].out ? res[i].out : "";
		o += (size_t)snprintf(b + o, cap - o, "%s{\"Start\":\"%s\",\"End\":\"%s\",\"ExitCode\":%d,\"Output\":\"",
				      i ? "," : "", res[i].start, res[i].end, res[i].code);
		o += shim_json_escape(b + o, out, strlen(out));
		o += (size_t)snprintf(b + o, cap - o, "\"}");
	}
	o += (size_t)snprintf(b + o, cap - o, "]}\n");
	if (shim_write_atomic("health.json", b, o) < 0)
		shim_logf("write health.json: %s", strerror(errno));
	free(b);
}

static void record(int code) {
	if (nres == KEEP) {
		free(res[0].out);
		memmove(res, res + 1, sizeof res[0] * (KEEP - 1));
		nres--;
	}
	struct result *r = &res[nres++];
	memcpy(r->start, hstart, sizeof r->start);
	shim_now(r->end, sizeof r->end);
	r->code = code;
	r->out = malloc(houtlen + 64);
	if (r->out) {
		if (timed_out)
			houtlen = (size_t)snprintf(r->out, 64, "Health check exceeded timeout (%lldms)", shimcfg.health_timeout_ms);
		else
			memcpy(r->out, hout ? hout : "", houtlen);
		r->out[houtlen] = '\0';
	}
	free(hout);
	hout = NULL;
	houtlen = 0;
	if (code == 0) {
		failing = 0;
		status = "healthy";
	} else if (shim_mono_ms() >= start_period_end || strcmp(status, "starting") != 0) {
		failing++;
		if (failing >= shimcfg.health_retries)
			status = "unhealthy";
	}
	write_health();
}

static void start_check(long long now) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	shim_now(hstart, sizeof hstart);
	timed_out = 0;
	hpid = shim_spawn_exec(shimcfg.health_cmd, shimcfg.nhealth, p[1]);
	close(p[1]);
	if (hpid < 0) {
		close(p[0]);
		next_ms = now + shimcfg.health_interval_ms;
		return;
	}
	hfd = p[0];
	fcntl(hfd, F_SETFL, O_NONBLOCK);
	deadline_ms = now + shimcfg.health_timeout_ms;
}

void shim_health_handle(struct pollfd *p, long long now) {
	if (!enabled)
		return;
	if (p && p->revents)
		read_out();
	if (hpid > 0) {
		if (now >= deadline_ms && !timed_out) {
			timed_out = 1;
			kill(hpid, SIGKILL);
		}
		return;
	}
	if (running && now >= next_ms)
		start_check(now);
}

int shim_health_reaped(pid_t pid, int st) {
	if (pid != hpid || hpid <= 0)
		return 0;
	hpid = -1;
	read_out();
	if (hfd >= 0) {
		close(hfd);
		hfd = -1;
	}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (timed_out)
		code = -1;
	if (running)
		record(code);
	next_ms = shim_mono_ms() + shimcfg.health_interval_ms;
	return 1;
}
