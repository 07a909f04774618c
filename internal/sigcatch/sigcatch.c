// Signal handlers of package sigcatch (see sigcatch.go).
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sigcatch.h"

static int catch_fd = -1;
static struct sigaction saved[SIGCATCH_NSIG];

// on_signal only writes the signal number to the pipe the reader
// goroutine polls: async-signal-safe, and it runs on the Go thread's
// signal stack (SA_ONSTACK), as Go requires of non-Go handlers.
static void on_signal(int sig) {
	int e = errno;
	unsigned char b = (unsigned char)sig;
	if (write(__atomic_load_n(&catch_fd, __ATOMIC_RELAXED), &b, 1) < 0) {
		// pipe full: the signal is dropped, as os/signal drops one that
		// finds its channel full
	}
	errno = e;
}

void berth_sigcatch_set_fd(int fd) { __atomic_store_n(&catch_fd, fd, __ATOMIC_RELAXED); }

int berth_sigcatch_install(int sig) {
	if (sig <= 0 || sig >= SIGCATCH_NSIG)
		return -EINVAL;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return sigaction(sig, &sa, &saved[sig]) < 0 ? -errno : 0;
}

int berth_sigcatch_restore(int sig) {
	if (sig <= 0 || sig >= SIGCATCH_NSIG)
		return -EINVAL;
	return sigaction(sig, &saved[sig], NULL) < 0 ? -errno : 0;
}
