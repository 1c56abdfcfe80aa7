/* watch.h - the processes a load driver is told to watch (--watch LABEL=PID): their CPU
 * time at a few instants of the run, the driver's own and the whole machine's, and RSS. */
#ifndef HIPPO_BENCH_WATCH_H
#define HIPPO_BENCH_WATCH_H

#include <stdbool.h>
#include <sys/types.h>

#define HIPPO_BENCH_MAX_WATCH 8
#define HIPPO_BENCH_MAX_SNAPS 8 /* instants a run snapshots: the driver's phases */

typedef struct {
    char label[32];
    pid_t pid;
    bool tree;                         /* CPU summed over the pid and its descendants */
    double cpu[HIPPO_BENCH_MAX_SNAPS]; /* seconds; -1 when the pid was gone */
    long rss_start_kib;                /* -1 when unknown */
    long rss_kib, hwm_kib;
} hippo_bench_watch;

typedef struct {
    hippo_bench_watch w[HIPPO_BENCH_MAX_WATCH];
    int n;
    double self[HIPPO_BENCH_MAX_SNAPS];    /* the driver's own CPU */
    double machine[HIPPO_BENCH_MAX_SNAPS]; /* busy CPU of all cores; -1 when unreadable */
} hippo_bench_watches;

/* Adds the watch of a "LABEL=PID" option argument; dies when it is malformed or one too
 * many. */
void hippo_bench_watch_add(hippo_bench_watches *ws, const char *arg, bool tree);

/* Reads every CPU figure into snapshot SNAP (< HIPPO_BENCH_MAX_SNAPS). */
void hippo_bench_watch_snapshot(hippo_bench_watches *ws, int snap);

/* CPU seconds W used from snapshot FROM to TO; -1 when unknown. */
double hippo_bench_watch_cpu(const hippo_bench_watch *w, int from, int to);

/* CPU seconds the driver itself used from snapshot FROM to TO. */
double hippo_bench_watch_self(const hippo_bench_watches *ws, int from, int to);

/* Busy CPU seconds of the whole machine from snapshot FROM to TO. */
double hippo_bench_watch_machine(const hippo_bench_watches *ws, int from, int to);

/* CPU seconds of the processes neither watched nor the driver (other people's work on a
 * shared box, kernel threads: the noise in the figures); -1 when unknown. A watched tree
 * that is not a real tree may count twice. */
double hippo_bench_watch_others(const hippo_bench_watches *ws, int from, int to);

/* Reads the RSS of every watch: into rss_start_kib when START, else rss_kib and hwm_kib. */
void hippo_bench_watch_read_rss(hippo_bench_watches *ws, bool start);

#endif
