#ifndef BERTH_SIGCATCH_H
#define BERTH_SIGCATCH_H
#define SIGCATCH_NSIG 65
void berth_sigcatch_set_fd(int fd);
int berth_sigcatch_install(int sig);
int berth_sigcatch_restore(int sig);
#endif
