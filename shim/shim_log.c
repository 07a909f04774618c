// Log drivers (json-file, k8s-file, none), rotation, and small helpers.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

// Docker cuts lines at 16 KiB; a longer line becomes several partial entries.
#define LINE_BUF 16384

static int logfd = -1;
static long long logsize;
static int driver; // 0 none, 1 json-file, 2 k8s-file

long long shim_mono_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void shim_fmt_time(char *out, size_t n, const struct timespec *ts) {
	struct tm tm;
	gmtime_r(&ts->tv_sec, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec);
}

void shim_now(char *out, size_t n) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	shim_fmt_time(out, n, &ts);
}

int shim_write_all(int fd, const void *p, size_t n) {
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

// shim_write_atomic replaces name (relative to Dir) by writing a temp
// file and renaming it: readers see the old or the new content, never half.
int shim_write_atomic(const char *name, const char *data, size_t n) {
	char tmp[256];
	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (shim_write_all(fd, data, n) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return rename(tmp, name);
}

// shim_starttime is field 22 of /proc/PID/stat (0: self); with the pid
// it identifies a process across pid reuse.
unsigned long long shim_starttime(pid_t pid) {
	char p[64], buf[1024];
	if (pid)
		snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
	else
		strcpy(p, "/proc/self/stat");
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *s = strrchr(buf, ')');
	if (s == NULL)
		return 0;
	// s+2 is field 3 (state); skip to field 22.
	s += 2;
	for (int f = 3; f < 22 && s; f++) {
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	return s ? strtoull(s, NULL, 10) : 0;
}

size_t shim_json_escape(char *out, const char *in, size_t n) {
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		switch (c) {
		case '"':
			out[o++] = '\\', out[o++] = '"';
			break;
		case '\\':
			out[o++] = '\\', out[o++] = '\\';
			break;
		case '\n':
			out[o++] = '\\', out[o++] = 'n';
			break;
		case '\r':
			out[o++] = '\\', out[o++] = 'r';
			break;
		case '\t':
			out[o++] = '\\', out[o++] = 't';
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				memcpy(out + o, "\\u00", 4);
				o += 4;
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 15];
			} else
				out[o++] = (char)c;
		}
	}
	return o;
}

static int open_log(void) {
	logfd = open(shimcfg.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (logfd < 0)
		return -1;
	struct stat sb;
	logsize = fstat(logfd, &sb) == 0 ? sb.st_size : 0;
	return 0;
}

int shim_log_open(void) {
	if (shimcfg.log_path == NULL || shimcfg.log_path[0] == '\0' || strcmp(shimcfg.log_driver, "none") == 0) {
		driver = 0;
		return 0;
	}
	driver = strcmp(shimcfg.log_driver, "k8s-file") == 0 ? 2 : 1;
	return open_log();
}

void shim_log_close(void) {
	shim_log_flush();
	if (logfd >= 0)
		close(logfd);
	logfd = -1;
}

// rotate shifts path.N-2 → path.N-1 ... path → path.1 (the oldest is
// dropped) and starts an empty path. With one file it just truncates.
static void rotate(void) {
	size_t pl = strlen(shimcfg.log_path) + 16;
	char *a = malloc(pl), *b = malloc(pl);
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return;
	}
	if (logfd >= 0)
		close(logfd); // not shim_log_close: the caller holds entries in lbuf
	logfd = -1;
	if (shimcfg.log_max_files <= 1) {
		logfd = open(shimcfg.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
		logsize = 0;
	} else {
		for (int i = shimcfg.log_max_files - 1; i >= 1; i--) {
			snprintf(b, pl, "%s.%d", shimcfg.log_path, i);
			if (i == 1)
				snprintf(a, pl, "%s", shimcfg.log_path);
			else
				snprintf(a, pl, "%s.%d", shimcfg.log_path, i - 1);
			if (rename(a, b) < 0 && errno != ENOENT)
				shim_logf("rotate %s: %s", a, strerror(errno));
		}
		if (open_log() < 0)
			shim_logf("open log %s: %s", shimcfg.log_path, strerror(errno));
	}
	free(a);
	free(b);
}

// Entries are gathered in lbuf and written once per read from the
// container (one write per line costs 2x at high output rates).
static char *lbuf;
static size_t llen, lcap;

void shim_log_flush(void) {
	if (llen > 0 && logfd >= 0 && shim_write_all(logfd, lbuf, llen) == 0)
		logsize += (long long)llen;
	llen = 0;
	if (lcap > 256 * 1024) { // a burst grew it: give the memory back
		free(lbuf);
		lbuf = NULL;
		lcap = 0;
	}
}

// shim_log_entry adds one entry for a line (without its '\n') or, when
// partial, a piece of a line longer than the buffer or cut by exit.
void shim_log_entry(int type, const char *p, size_t n, int partial) {
	if (driver == 0 || logfd < 0)
		return;
	size_t need = llen + n * 6 + 128;
	if (need > lcap) {
		size_t cap = lcap ? lcap : 16384;
		while (cap < need)
			cap *= 2;
		char *b = realloc(lbuf, cap);
		if (b == NULL)
			return;
		lbuf = b;
		lcap = cap;
	}
	char ts[40];
	shim_now(ts, sizeof ts);
	const char *sname = type == 2 ? "stderr" : "stdout";
	char *e = lbuf + llen;
	size_t cap = lcap - llen, o;
	if (driver == 1) {
		o = (size_t)snprintf(e, cap, "{\"log\":\"");
		o += shim_json_escape(e + o, p, n);
		o += (size_t)snprintf(e + o, cap - o, "%s\",\"stream\":\"%s\",\"time\":\"%s\"}\n", partial ? "" : "\\n",
				      sname, ts);
	} else {
		o = (size_t)snprintf(e, cap, "%s %s %c ", ts, sname, partial ? 'P' : 'F');
		memcpy(e + o, p, n);
		o += n;
		e[o++] = '\n';
	}
	if (shimcfg.log_max_size > 0 && logsize + (long long)llen > 0 &&
	    logsize + (long long)(llen + o) > shimcfg.log_max_size) {
		// Earlier entries go to the current file, this one to the next.
		size_t prev = llen;
		if (prev > 0 && logfd >= 0 && shim_write_all(logfd, lbuf, prev) == 0)
			logsize += (long long)prev;
		llen = 0;
		rotate();
		memmove(lbuf, lbuf + prev, o);
		llen = o;
		return;
	}
	llen += o;
}

// shim_stream_read reads once from s, forwards the bytes to attach clients and
// logs complete lines; a full buffer without newline is logged partial.
void shim_stream_read(struct stream *s) {
	if (s->fd < 0)
		return;
	if (s->buf == NULL && (s->buf = malloc(LINE_BUF)) == NULL)
		return;
	ssize_t r = read(s->fd, s->buf + s->len, LINE_BUF - s->len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) { // EOF, or EIO from a pty master whose slave is gone
		close(s->fd);
		s->fd = -1;
		return;
	}
	shim_attach_broadcast(s->type, s->buf + s->len, (size_t)r);
	s->len += (size_t)r;
	size_t start = 0;
	for (size_t i = s->len - (size_t)r; i < s->len; i++) {
		if (s->buf[i] == '\n') {
			shim_log_entry(s->type, s->buf + start, i - start, 0);
			start = i + 1;
		}
	}
	if (start == 0 && s->len == LINE_BUF) {
		shim_log_entry(s->type, s->buf, s->len, 1);
		start = s->len;
	}
	if (start > 0) {
		memmove(s->buf, s->buf + start, s->len - start);
		s->len -= start;
	}
	shim_log_flush();
}

void shim_stream_flush(struct stream *s) {
	if (s->len > 0 && s->buf)
		shim_log_entry(s->type, s->buf, s->len, 1);
	s->len = 0;
	shim_log_flush();
}
