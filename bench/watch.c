/* watch.c - CPU and RSS of the watched processes over a load run. */
#include "watch.h"

#include <stdio.h>
#include <string.h>

#include "procstat.h"
#include "util.h"

void hippo_bench_watch_add(hippo_bench_watches *ws, const char *arg, bool tree)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof ws->w[0].label)
        hippo_bench_die("bad --watch %s: expected LABEL=PID", arg);
    if (ws->n == HIPPO_BENCH_MAX_WATCH)
        hippo_bench_die("at most %d --watch options", HIPPO_BENCH_MAX_WATCH);
    hippo_bench_watch *w = &ws->w[ws->n++];
    snprintf(w->label, sizeof w->label, "%.*s", (int)(eq - arg), arg);
    w->pid = (pid_t)hippo_bench_num(eq + 1, "pid", 1, 1 << 30);
    w->tree = tree;
}

void hippo_bench_watch_snapshot(hippo_bench_watches *ws, int snap)
{
    for (int i = 0; i < ws->n; i++)
        ws->w[i].cpu[snap] = hippo_bench_cpu_seconds(ws->w[i].pid, ws->w[i].tree);
    ws->self[snap] = hippo_bench_self_cpu_seconds();
    ws->machine[snap] = hippo_bench_machine_busy_seconds();
}

double hippo_bench_watch_cpu(const hippo_bench_watch *w, int from, int to)
{
    return w->cpu[from] >= 0 && w->cpu[to] >= 0 ? w->cpu[to] - w->cpu[from] : -1.0;
}

double hippo_bench_watch_self(const hippo_bench_watches *ws, int from, int to)
{
    return ws->self[to] - ws->self[from];
}

double hippo_bench_watch_machine(const hippo_bench_watches *ws, int from, int to)
{
    return ws->machine[to] - ws->machine[from];
}

double hippo_bench_watch_others(const hippo_bench_watches *ws, int from, int to)
{
    if (ws->machine[from] < 0 || ws->machine[to] < 0)
        return -1.0;
    double all = hippo_bench_watch_machine(ws, from, to) - hippo_bench_watch_self(ws, from, to);
    for (int i = 0; i < ws->n; i++) {
        double w = hippo_bench_watch_cpu(&ws->w[i], from, to);
        all -= w > 0 ? w : 0;
    }
    return all > 0 ? all : 0.0;
}

void hippo_bench_watch_read_rss(hippo_bench_watches *ws, bool start)
{
    for (int i = 0; i < ws->n; i++) {
        hippo_bench_watch *w = &ws->w[i];
        long rss, hwm;
        if (!hippo_bench_rss_kib(w->pid, &rss, &hwm))
            rss = hwm = -1;
        if (start) {
            w->rss_start_kib = rss;
        } else {
            w->rss_kib = rss;
            w->hwm_kib = hwm;
        }
    }
}
