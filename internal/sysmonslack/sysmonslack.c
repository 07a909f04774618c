// Timer slack for the Go runtime's sysmon thread. See sysmonslack.go.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sysmonslack.h"

int __real_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int berth_sysmon_tid;
unsigned long berth_sysmon_slack = BERTH_SYSMON_SLACK_NS;
static unsigned long normal_slack; // this process's slack when it started
static int created;                // threads created so far
static __thread int in_sysmon;     // this thread is sysmon

struct start {
	void *(*fn)(void *);
	void *arg;
	int sysmon, reset;
};

static void *thread_start(void *p) {
	struct start s = *(struct start *)p;
	free(p);
	if (s.sysmon) {
		in_sysmon = 1;
		berth_sysmon_tid = (int)syscall(SYS_gettid);
		prctl(PR_SET_TIMERSLACK, berth_sysmon_slack);
	} else if (s.reset) {
		// created by sysmon (an M for a P it handed off): back to normal
		prctl(PR_SET_TIMERSLACK, normal_slack);
	}
	return s.fn(s.arg);
}

// The Go runtime creates its threads with pthread_create when cgo is
// linked in, and sysmon is the first one (runtime.main, before any package
// init): the linker routes the calls here (-Wl,--wrap=pthread_create).
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
	struct start *s = malloc(sizeof *s);
	if (s == NULL)
		return __real_pthread_create(t, attr, fn, arg);
	s->fn = fn;
	s->arg = arg;
	s->sysmon = __atomic_fetch_add(&created, 1, __ATOMIC_RELAXED) == 0 && berth_sysmon_slack > 0;
	s->reset = in_sysmon;
	if (s->sysmon)
		normal_slack = (unsigned long)prctl(PR_GET_TIMERSLACK);
	int r = __real_pthread_create(t, attr, thread_start, s);
	if (r != 0)
		free(s);
	return r;
}
