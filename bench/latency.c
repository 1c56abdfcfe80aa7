/* latency.c - latency samples of a load run and their nearest-rank percentiles. */
#include "latency.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

void hippo_bench_lat_add(hippo_bench_lat *l, uint64_t ns)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1 << 14;
        l->us = hippo_bench_xrealloc(l->us, l->cap * sizeof *l->us);
    }
    uint64_t us = ns / 1000;
    l->us[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

void hippo_bench_lat_sort(hippo_bench_lat *l)
{
    if (l->n > 1) /* us is NULL without samples */
        qsort(l->us, l->n, sizeof *l->us, cmp_u32);
}

double hippo_bench_lat_pct_ms(const hippo_bench_lat *l, double p)
{
    if (l->n == 0)
        return -1.0;
    size_t i = (size_t)(p * (double)(l->n - 1) + 0.5);
    return l->us[i] / 1000.0;
}

void hippo_bench_lat_print_text(const hippo_bench_lat *l)
{
    printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (n=%zu)\n",
           hippo_bench_lat_pct_ms(l, 0.5), hippo_bench_lat_pct_ms(l, 0.9),
           hippo_bench_lat_pct_ms(l, 0.99), hippo_bench_lat_pct_ms(l, 0.999),
           hippo_bench_lat_pct_ms(l, 1.0), l->n);
}

void hippo_bench_lat_print_json(const hippo_bench_lat *l)
{
    printf("{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"n\":%zu}",
           hippo_bench_lat_pct_ms(l, 0.5), hippo_bench_lat_pct_ms(l, 0.9),
           hippo_bench_lat_pct_ms(l, 0.99), hippo_bench_lat_pct_ms(l, 0.999),
           hippo_bench_lat_pct_ms(l, 1.0), l->n);
}

void hippo_bench_lat_free(hippo_bench_lat *l)
{
    free(l->us);
    l->us = NULL;
    l->n = l->cap = 0;
}
