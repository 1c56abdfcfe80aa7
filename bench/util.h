/* util.h - process helpers shared by the load drivers: fatal errors, allocation, the
 * monotonic clock, strict number parsing, JSON strings and the run's first error. */
#ifndef HIPPO_BENCH_UTIL_H
#define HIPPO_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Prints "PROGRAM: MESSAGE" on stderr and exits with status 1. */
_Noreturn void hippo_bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* realloc that dies when out of memory; returns the new block (caller frees). */
void *hippo_bench_xrealloc(void *p, size_t n);

/* Returns a malloc'ed, NUL-terminated copy of S[0..N) (caller frees); dies when out of
 * memory. */
char *hippo_bench_xstrndup(const char *s, size_t n);

/* Returns a malloc'ed copy of S (caller frees); dies when out of memory. */
char *hippo_bench_xstrdup(const char *s);

/* CLOCK_MONOTONIC in ns. */
uint64_t hippo_bench_now_ns(void);

double hippo_bench_secs(uint64_t ns);

uint64_t hippo_bench_ns_of(double seconds);

/* S as a number in LO..HI; dies with "bad WHAT: S (allowed LO..HI)" otherwise. */
double hippo_bench_num(const char *s, const char *what, double lo, double hi);

/* Writes S to F as a JSON string literal. */
void hippo_bench_json_string(FILE *f, const char *s);

/* Lifts the soft limit of open files to the hard one; dies when CONNS connections and 64
 * other descriptors do not fit. */
void hippo_bench_raise_fd_limit(int conns);

/* The first error of a run, kept for its report (later ones are only counted). */
typedef struct {
    char text[200];
} hippo_bench_first_error;

/* Keeps "WHAT: DETAIL" (DETAIL[0..N), cut to 160 bytes) unless an error is already kept. */
void hippo_bench_first_error_keep(hippo_bench_first_error *fe, const char *what, const char *detail,
                                  size_t n);

#endif
