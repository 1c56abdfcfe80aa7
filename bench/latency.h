/* latency.h - latency samples of a load run and their nearest-rank percentiles. */
#ifndef HIPPO_BENCH_LATENCY_H
#define HIPPO_BENCH_LATENCY_H

#include <stddef.h>
#include <stdint.h>

/* Every sample is kept (in µs), not a sketch: the percentiles are exact. */
typedef struct {
    uint32_t *us; /* owned; freed by hippo_bench_lat_free */
    size_t n, cap;
} hippo_bench_lat;

/* Adds a sample of NS nanoseconds; dies when out of memory. */
void hippo_bench_lat_add(hippo_bench_lat *l, uint64_t ns);

/* Sorts the samples: call once, before the percentiles. */
void hippo_bench_lat_sort(hippo_bench_lat *l);

/* Nearest-rank percentile P (0..1) of the sorted samples, in ms; -1 without samples. */
double hippo_bench_lat_pct_ms(const hippo_bench_lat *l, double p);

/* Prints "latency ms: p50 ... max ...  (n=N)" and a newline on stdout. */
void hippo_bench_lat_print_text(const hippo_bench_lat *l);

/* Prints {"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"n":N} on stdout. */
void hippo_bench_lat_print_json(const hippo_bench_lat *l);

void hippo_bench_lat_free(hippo_bench_lat *l);

#endif
