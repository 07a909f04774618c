// Attach socket: clients get output frames and send stdin/resize frames.
// Frame: [type, 0, 0, 0, uint32 big-endian length] + payload (stdcopy).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"

#define MAX_CLIENTS 32
#define MAX_FRAME (1 << 20)
#define MAX_QUEUE (4 << 20) // a client that falls this far behind is dropped

struct client {
	int fd;
	unsigned char hdr[8];
	int hgot;
	unsigned char *pl;
	uint32_t plen, pgot, pdone;
	int blocked; // payload waits for container stdin to take it
	char *q;     // output not yet sent
	size_t qlen, qcap;
	// wdead: the client closed its end (EPIPE): no more output for it, but
	// what it sent before (a resize, its last stdin) is still read; it is
	// dropped at its EOF. A client that just resizes connects, writes one
	// frame and closes, and output broadcast meanwhile must not lose it.
	int wdead;
};

static struct client *cl[MAX_CLIENTS];
static int ncl;

int shim_attach_listen(void) {
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, "attach"); // relative to Dir: no 108-byte limit on Dir
	unlink("attach");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void drop(int i) {
	struct client *c = cl[i];
	close(c->fd);
	free(c->pl);
	free(c->q);
	free(c);
	cl[i] = cl[--ncl];
}

void shim_attach_accept(int lfd) {
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct client *c = ncl < MAX_CLIENTS ? calloc(1, sizeof *c) : NULL;
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		cl[ncl++] = c;
	}
}

// flushq sends queued output; -1 when the client is gone.
static int flushq(struct client *c) {
	while (c->qlen > 0) {
		ssize_t w = send(c->fd, c->q, c->qlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		memmove(c->q, c->q + w, c->qlen - (size_t)w);
		c->qlen -= (size_t)w;
	}
	return 0;
}

static int enqueue(struct client *c, const void *p, size_t n) {
	if (c->qlen + n > MAX_QUEUE) {
		errno = ENOBUFS;
		return -1;
	}
	if (c->qlen + n > c->qcap) {
		size_t cap = c->qcap ? c->qcap : 4096;
		while (cap < c->qlen + n)
			cap *= 2;
		char *q = realloc(c->q, cap);
		if (q == NULL)
			return -1;
		c->q = q;
		c->qcap = cap;
	}
	memcpy(c->q + c->qlen, p, n);
	c->qlen += n;
	return 0;
}

static int send_frame(struct client *c, int type, const char *p, size_t n) {
	unsigned char h[8] = {(unsigned char)type, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
			      (unsigned char)(n >> 8), (unsigned char)n};
	if (c->qlen == 0) {
		struct iovec iov[2] = {{h, 8}, {(void *)p, n}};
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
		ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			w = 0;
		}
		if ((size_t)w == n + 8)
			return 0;
		if (w < 8) {
			if (enqueue(c, h + w, 8 - (size_t)w) < 0)
				return -1;
			w = 8;
		}
		return enqueue(c, p + (w - 8), n - (size_t)(w - 8));
	}
	if (enqueue(c, h, 8) < 0 || enqueue(c, p, n) < 0)
		return -1;
	return 0;
}

// write_dead marks a client whose peer closed; -1 when it is to be
// dropped instead (it fell too far behind, or another error).
static int write_dead(struct client *c) {
	if (errno != EPIPE && errno != ECONNRESET)
		return -1;
	c->wdead = 1;
	c->qlen = 0;
	return 0;
}

void shim_attach_broadcast(int type, const char *p, size_t n) {
	if (shimcfg.terminal)
		type = 1;
	for (int i = 0; i < ncl;) {
		if (!cl[i]->wdead && send_frame(cl[i], type, p, n) < 0 && write_dead(cl[i]) < 0)
			drop(i);
		else
			i++;
	}
}

int shim_attach_pollfds(struct pollfd *pfd, int max, int in_fd) {
	int n = 0, blocked = 0;
	for (int i = 0; i < ncl && n < max - 1; i++) {
		short ev = 0;
		if (!cl[i]->blocked)
			ev |= POLLIN;
		else
			blocked = 1;
		if (cl[i]->qlen > 0 && !cl[i]->wdead)
			ev |= POLLOUT;
		pfd[n++] = (struct pollfd){cl[i]->fd, ev, 0};
	}
	// Last entry: container stdin when a client waits to write to it.
	pfd[n++] = (struct pollfd){blocked ? in_fd : -1, POLLOUT, 0};
	return n;
}

// feed writes the client's stdin payload; 1 when all of it went.
static int feed(struct client *c, int *in_fd) {
	while (c->pdone < c->plen) {
		if (*in_fd < 0)
			break; // stdin closed: discard
		ssize_t w = write(*in_fd, c->pl + c->pdone, c->plen - c->pdone);
		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			break; // EPIPE: the container closed its stdin
		}
		c->pdone += (uint32_t)w;
	}
	c->blocked = 0;
	c->hgot = 0;
	c->pgot = c->pdone = c->plen = 0;
	return 1;
}

static void close_stdin(int *in_fd, int master) {
	if (*in_fd < 0)
		return;
	if (*in_fd == master) {
		// A pty has no half-close: send the EOF character instead.
		struct termios t;
		char eof = tcgetattr(master, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
		if (write(master, &eof, 1) < 0) {
		}
		return;
	}
	close(*in_fd);
	*in_fd = -1;
}

static void dispatch(struct client *c, int *in_fd, int master) {
	switch (c->hdr[0]) {
	case 0:
		if (!shimcfg.stdin_) {
			c->plen = 0;
			break;
		}
		c->blocked = 1;
		feed(c, in_fd);
		return;
	case 4: // stdin EOF; payload byte 1 forces the close
		if (shimcfg.stdin_once || (c->plen > 0 && c->pl[0] == 1))
			close_stdin(in_fd, master);
		break;
	case 5:
		if (master >= 0 && c->plen >= 4) {
			struct winsize ws = {0};
			ws.ws_row = (unsigned short)(c->pl[0] << 8 | c->pl[1]);
			ws.ws_col = (unsigned short)(c->pl[2] << 8 | c->pl[3]);
			ioctl(master, TIOCSWINSZ, &ws);
		}
		break;
	}
	c->hgot = 0;
	c->pgot = c->pdone = c->plen = 0;
}

// client_read reads once; -1 when the client is gone.
static int client_read(struct client *c, int *in_fd, int master) {
	if (c->hgot < 8) {
		ssize_t r = read(c->fd, c->hdr + c->hgot, 8 - (size_t)c->hgot);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (r == 0)
			return -1;
		c->hgot += (int)r;
		if (c->hgot < 8)
			return 0;
		c->plen = (uint32_t)c->hdr[4] << 24 | (uint32_t)c->hdr[5] << 16 | (uint32_t)c->hdr[6] << 8 | c->hdr[7];
		if (c->plen > MAX_FRAME)
			return -1;
		free(c->pl);
		c->pl = c->plen ? malloc(c->plen) : NULL;
		if (c->plen && c->pl == NULL)
			return -1;
		c->pgot = c->pdone = 0;
	}
	if (c->pgot < c->plen) {
		ssize_t r = read(c->fd, c->pl + c->pgot, c->plen - c->pgot);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (r == 0)
			return -1;
		c->pgot += (uint32_t)r;
	}
	if (c->pgot == c->plen)
		dispatch(c, in_fd, master);
	return 0;
}

void shim_attach_handle(struct pollfd *pfd, int n, int *in_fd, int master) {
	// Entries are in client order; the last one is container stdin.
	// With stdin gone, blocked clients are released (their data dropped).
	int stdin_ready = *in_fd < 0 || (n > 0 && (pfd[n - 1].revents & (POLLOUT | POLLERR | POLLHUP)));
	int nc = n - 1;
	// Walk backwards: drop() moves the last client into the hole.
	for (int i = nc - 1; i >= 0; i--) {
		if (i >= ncl || cl[i]->fd != pfd[i].fd)
			continue;
		struct client *c = cl[i];
		short re = pfd[i].revents;
		int gone = 0;
		if ((re & POLLOUT) && !c->wdead && flushq(c) < 0)
			gone = write_dead(c) < 0;
		if (!gone && c->blocked && stdin_ready)
			feed(c, in_fd);
		if (!gone && (re & (POLLIN | POLLHUP | POLLERR)) && !c->blocked)
			gone = client_read(c, in_fd, master) < 0;
		if (gone)
			drop(i);
	}
}

// shim_attach_close_all sends what is queued (briefly, blocking) and closes.
void shim_attach_close_all(void) {
	long long end = shim_mono_ms() + 2000;
	for (int i = 0; i < ncl; i++) {
		struct client *c = cl[i];
		while (c->qlen > 0 && shim_mono_ms() < end) {
			struct pollfd p = {c->fd, POLLOUT, 0};
			if (poll(&p, 1, 100) < 0 || flushq(c) < 0)
				break;
		}
		shutdown(c->fd, SHUT_RDWR);
	}
	while (ncl > 0)
		drop(ncl - 1);
}
