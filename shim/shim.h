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

extern struct shim_cfg shimcfg;

// Container output stream: bytes read from a pipe or the pty master are
// sent to attach clients at once and cut into log entries by line.
struct stream {
	int fd;
	int type; // 1 stdout, 2 stderr
	char *buf;
	size_t len;
};

// time
long long shim_mono_ms(void);
void shim_fmt_time(char *out, size_t n, const struct timespec *ts); // RFC3339Nano UTC
void shim_now(char *out, size_t n);

// util
void shim_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int shim_write_all(int fd, const void *p, size_t n);
int shim_write_atomic(const char *name, const char *data, size_t n);
unsigned long long shim_starttime(pid_t pid);
size_t shim_json_escape(char *out, const char *in, size_t n);

// log
int shim_log_open(void);
void shim_log_entry(int type, const char *p, size_t n, int partial);
void shim_log_close(void);
void shim_log_flush(void);
void shim_stream_read(struct stream *s);  // reads once; closes s->fd on EOF/error
void shim_stream_flush(struct stream *s); // logs a pending partial line

// attach
int shim_attach_listen(void);
void shim_attach_broadcast(int type, const char *p, size_t n);
int shim_attach_pollfds(struct pollfd *pfd, int max, int in_fd);
void shim_attach_handle(struct pollfd *pfd, int n, int *in_fd, int master);
void shim_attach_accept(int lfd);
void shim_attach_close_all(void);

// runtime
#include <signal.h>
extern sigset_t shim_oldmask; // the signal mask children get back
pid_t shim_spawn(const char *const *argv, int in, int outfd, int errfd, int detach);
const char **shim_runtime_argv(const char *verb, const char **extra, int nextra, const char **tail, int ntail);
int shim_wait_pid(pid_t pid);
void shim_runtime_error(char *out, size_t n, const char *verb, int st);
int shim_run_runtime(const char *verb, const char **extra, int nextra, char *err, size_t errn);

// health
pid_t shim_spawn_exec(const char *const *cmd, int n, int outfd);
void shim_health_init(void);
long long shim_health_next_timeout(long long now);
int shim_health_pollfd(struct pollfd *p);
void shim_health_handle(struct pollfd *p, long long now);
int shim_health_reaped(pid_t pid, int status);
void shim_health_running(int running);

#endif
