/* backoff.h - capped exponential backoff with full jitter for reconnects. */
#ifndef HIPPO_BACKOFF_H
#define HIPPO_BACKOFF_H

#include <stdint.h>

typedef struct hippo_backoff {
    uint32_t min_ms;
    uint32_t max_ms;
    uint32_t attempt; /* failures since the last success */
    uint64_t rng;     /* xorshift state, seeded at init */
} hippo_backoff;

void hippo_backoff_init(hippo_backoff *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed);
/* Delay before the next attempt: random in [ceil/2, ceil], ceil = min(max, min * 2^attempt). */
uint32_t hippo_backoff_next(hippo_backoff *b);
void hippo_backoff_reset(hippo_backoff *b);

#endif
