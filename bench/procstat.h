/* procstat.h - CPU time and memory of other processes, read from /proc. */
#ifndef HIPPO_BENCH_PROCSTAT_H
#define HIPPO_BENCH_PROCSTAT_H

#include <stdbool.h>
#include <sys/types.h>

/* utime + stime of PID and, when TREE, of all its live descendants, in seconds; -1 when
 * PID does not exist. Ticks of 1/sysconf(_SC_CLK_TCK) s: compare over seconds, not ms. */
double hippo_bench_cpu_seconds(pid_t pid, bool tree);

/* VmRSS and VmHWM (peak) of PID in KiB; false when PID does not exist. */
bool hippo_bench_rss_kib(pid_t pid, long *rss, long *hwm);

/* This process's own utime + stime in seconds. */
double hippo_bench_self_cpu_seconds(void);

/* CPU time the whole machine spent busy (user, nice, system, irq, softirq, steal; summed
 * over all cores) in seconds, from /proc/stat; -1 when unreadable. */
double hippo_bench_machine_busy_seconds(void);

#endif
