/* util.c - process helpers shared by the load drivers. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void hippo_bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *hippo_bench_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q && n)
        hippo_bench_die("out of memory");
    return q;
}

char *hippo_bench_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        hippo_bench_die("out of memory");
    return p;
}

char *hippo_bench_xstrdup(const char *s)
{
    return hippo_bench_xstrndup(s, strlen(s));
}

uint64_t hippo_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double hippo_bench_secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

uint64_t hippo_bench_ns_of(double seconds)
{
    return (uint64_t)(seconds * 1e9);
}

double hippo_bench_num(const char *s, const char *what, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || v < lo || v > hi)
        hippo_bench_die("bad %s: %s (allowed %g..%g)", what, s, lo, hi);
    return v;
}

void hippo_bench_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

void hippo_bench_raise_fd_limit(int conns)
{
    int need = conns + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        hippo_bench_die("getrlimit: %s", strerror(errno));
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)need)
        hippo_bench_die("%d connections need %d file descriptors; the hard limit is %lu", conns,
                        need, (unsigned long)rl.rlim_max);
}

void hippo_bench_first_error_keep(hippo_bench_first_error *fe, const char *what, const char *detail,
                                  size_t n)
{
    if (fe->text[0])
        return;
    size_t keep = n > 160 ? 160 : n;
    while (keep > 0 && keep < n && ((unsigned char)detail[keep] & 0xC0) == 0x80)
        keep--; /* not inside a UTF-8 sequence: the report is JSON */
    snprintf(fe->text, sizeof fe->text, "%s: %.*s", what, (int)keep, detail);
}
