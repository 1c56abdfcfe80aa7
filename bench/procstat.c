/* procstat.c - /proc readers for the load driver's CPU and RSS figures. */
#include "procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Opens /proc/PID/WHAT for reading (caller fcloses); NULL when PID does not exist. */
static FILE *proc_open(pid_t pid, const char *what)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    return fopen(path, "r");
}

/* Parses /proc/PID/stat: parent pid and utime + stime in ticks. */
static bool read_stat(pid_t pid, pid_t *ppid, unsigned long long *ticks)
{
    char buf[1024];
    FILE *f = proc_open(pid, "stat");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rest = strrchr(buf, ')'); /* comm may hold spaces and parens */
    if (!rest)
        return false;
    char state;
    int pp;
    unsigned long long ut, st;
    /* fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime */
    if (sscanf(rest + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &pp, &ut,
               &st) != 4)
        return false;
    *ppid = pp;
    *ticks = ut + st;
    return state != 'Z' && state != 'X';
}

/* Adds the ticks of every live descendant of ROOT (one /proc scan, parents before children
 * need not hold: repeats until no new process is found). */
static unsigned long long descendant_ticks(pid_t root)
{
    enum { MAX = 4096 };
    pid_t pids[MAX], parents[MAX];
    unsigned long long ticks[MAX];
    int n = 0;
    DIR *dir = opendir("/proc");
    if (!dir)
        return 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < MAX) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        if (read_stat((pid_t)pid, &parents[n], &ticks[n]))
            pids[n++] = (pid_t)pid;
    }
    closedir(dir);
    bool in[MAX] = {false};
    unsigned long long sum = 0;
    for (bool grew = true; grew;) {
        grew = false;
        for (int i = 0; i < n; i++) {
            if (in[i] || pids[i] == root)
                continue;
            bool parent_in = parents[i] == root;
            for (int j = 0; j < n && !parent_in; j++)
                parent_in = in[j] && pids[j] == parents[i];
            if (parent_in) {
                in[i] = true;
                sum += ticks[i];
                grew = true;
            }
        }
    }
    return sum;
}

double hippo_bench_cpu_seconds(pid_t pid, bool tree)
{
    pid_t ppid;
    unsigned long long ticks;
    if (pid <= 0 || !read_stat(pid, &ppid, &ticks))
        return -1.0;
    if (tree)
        ticks += descendant_ticks(pid);
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

bool hippo_bench_rss_kib(pid_t pid, long *rss, long *hwm)
{
    char line[256];
    FILE *f = proc_open(pid, "status");
    if (!f)
        return false;
    *rss = *hwm = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return *rss >= 0;
}

double hippo_bench_self_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double hippo_bench_machine_busy_seconds(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1.0;
    unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                   &iowait, &irq, &softirq, &steal);
    fclose(f);
    if (n != 8)
        return -1.0;
    /* guest time is already inside user */
    return (double)(user + nice + sys + irq + softirq + steal) / (double)sysconf(_SC_CLK_TCK);
}
