#ifndef BERTH_SYSMONSLACK_H
#define BERTH_SYSMONSLACK_H
// 10 ms: sysmon then wakes about as often as it does once a program has
// been idle for a while, from the start on.
#define BERTH_SYSMON_SLACK_NS 10000000UL
extern int berth_sysmon_tid;
extern unsigned long berth_sysmon_slack;
#endif
