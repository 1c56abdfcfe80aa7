/* backoff.c - capped exponential backoff with jitter for reconnects. */
#include "backoff.h"

/* splitmix64 spreads any seed (0 included) into a well-mixed xorshift state. */
static uint64_t seed_state(uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15u;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    return z != 0 ? z : 0x2545F4914F6CDD1Du; /* xorshift must never hold 0 */
}

/* xorshift64* (Vigna): tiny, fast, good enough for jitter. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Du;
}

void hippo_backoff_init(hippo_backoff *b, uint32_t min_ms, uint32_t max_ms, uint64_t seed)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->attempt = 0;
    b->rng = seed_state(seed);
}

/* min(max, min * 2^attempt) without overflowing for any attempt. */
static uint32_t ceiling_ms(const hippo_backoff *b)
{
    uint64_t ceil = b->min_ms;
    for (uint32_t i = 0; i < b->attempt && ceil != 0 && ceil < b->max_ms; i++)
        ceil <<= 1;
    return ceil < b->max_ms ? (uint32_t)ceil : b->max_ms;
}

uint32_t hippo_backoff_next(hippo_backoff *b)
{
    if (b->rng == 0)
        b->rng = seed_state(0); /* a zeroed struct that skipped init still works */
    uint32_t ceil = ceiling_ms(b);
    uint32_t low = ceil / 2;
    uint64_t span = (uint64_t)(ceil - low) + 1;
    uint32_t delay = low + (uint32_t)(next_random(&b->rng) % span);
    if (b->attempt < UINT32_MAX)
        b->attempt++;
    return delay;
}

void hippo_backoff_reset(hippo_backoff *b)
{
    b->attempt = 0;
}
