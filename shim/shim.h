// Shared declarations of the C monitor (see shim.go for the protocol).
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>
#include <time.h>

struct shim_cfg {
	const char *id, *runtime, *bundle, *dir;
	const char **rargs;
	int nrargs;
	int terminal, stdin_, stdin_once, start;
	const char *log_driver, *log_path;
	long long log_max_size;
	int log_max_files;
	const char **exit_cmd;
	int nexit;
	const char *restart; // no, on-failure, always, unless-stopped
	int restart_max;     // on-failure limit, 0 = unlimited
	const char *memcg;
	const char **health_cmd;
	int nhealth;
	long long health_interval_ms, health_timeout_ms, health_start_ms;
	int health_retries;
};

extern struct shim_cfg cfg;

// Container output stream: bytes read from a pipe or the pty master are
// sent to attach clients at once and cut into log entries by line.
struct stream {
	int fd;
	int type; // 1 stdout, 2 stderr
	char *buf;
	size_t len;
};

// time
long long mono_ms(void);
void fmt_time(char *out, size_t n, const struct timespec *ts); // RFC3339Nano UTC
void now_str(char *out, size_t n);

// util
void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int write_all(int fd, const void *p, size_t n);
int write_file_atomic(const char *name, const char *data, size_t n);
unsigned long long proc_starttime(pid_t pid);
size_t json_escape(char *out, const char *in, size_t n);

// log
int log_open(void);
void log_entry(int type, const char *p, size_t n, int partial);
void log_close(void);
void log_flush(void);
void stream_read(struct stream *s);  // reads once; closes s->fd on EOF/error
void stream_flush(struct stream *s); // logs a pending partial line

// attach
int attach_listen(void);
void attach_broadcast(int type, const char *p, size_t n);
int attach_pollfds(struct pollfd *pfd, int max, int in_fd);
void attach_handle(struct pollfd *pfd, int n, int *in_fd, int master);
void attach_accept(int lfd);
void attach_close_all(void);

// health
pid_t shim_spawn_exec(const char *const *cmd, int n, int outfd);
void health_init(void);
long long health_next_timeout(long long now);
int health_pollfd(struct pollfd *p);
void health_handle(struct pollfd *p, long long now);
int health_reaped(pid_t pid, int status);
void health_container_running(int running);

#endif
