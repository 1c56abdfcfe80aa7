/* rate_limit.c - token buckets in an open-addressing hash table (linear probing) keyed by
 * bare JID. Entries are never removed one by one (that would break probe chains); the table
 * is rebuilt without the full buckets when it reaches its maximum. It starts small and
 * doubles while it is at least half full, so a daemon context costs little until senders
 * come (the fuzzer creates one per input). */
#include "rate_limit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
    char *key; /* bare JID, lower-cased (malloc'd); NULL: free slot */
    double tokens;
    double updated_s;
};

struct hippo_rate_limit {
    struct bucket *slots;
    size_t mask; /* slots - 1; slots is a power of two, more than twice the used ones */
    size_t used;
    size_t max;
};

#define INITIAL_SLOTS 16

hippo_rate_limit *hippo_rate_limit_new(size_t max_senders)
{
    hippo_rate_limit *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t n = INITIAL_SLOTS;
    r->slots = calloc(n, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    r->mask = n - 1;
    r->max = max_senders;
    return r;
}

void hippo_rate_limit_free(hippo_rate_limit *r)
{
    if (!r)
        return;
    for (size_t i = 0; i <= r->mask; i++)
        free(r->slots[i].key);
    free(r->slots);
    free(r);
}

size_t hippo_rate_limit_size(const hippo_rate_limit *r)
{
    return r->used;
}

static char fold(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* FNV-1a over the bare JID of JID, case folded; *LEN gets the bare JID's length. */
static uint64_t hash_bare(const char *jid, size_t *len)
{
    uint64_t h = 14695981039346656037u;
    size_t n = 0;
    for (; jid[n] && jid[n] != '/'; n++)
        h = (h ^ (unsigned char)fold(jid[n])) * 1099511628211u;
    *len = n;
    return h;
}

static bool same_key(const char *key, const char *jid, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (key[i] != fold(jid[i]))
            return false;
    return key[len] == '\0';
}

static double refilled(const struct bucket *b, double rate, int burst, double now_s)
{
    double elapsed = now_s > b->updated_s ? now_s - b->updated_s : 0;
    double tokens = b->tokens + rate * elapsed;
    return tokens < burst ? tokens : burst;
}

static struct bucket *slot_for(hippo_rate_limit *r, const char *jid, size_t len, uint64_t h)
{
    size_t i = (size_t)h & r->mask;
    while (r->slots[i].key && !same_key(r->slots[i].key, jid, len))
        i = (i + 1) & r->mask;
    return &r->slots[i];
}

/* Moves every bucket of OLD (N slots) that KEEP accepts into R's slots, freeing the others'
 * keys, then OLD. */
static void rehash(hippo_rate_limit *r, struct bucket *old, size_t n,
                   bool (*keep)(const struct bucket *, void *), void *arg)
{
    r->used = 0;
    for (size_t i = 0; i < n; i++) {
        struct bucket *b = &old[i];
        if (!b->key)
            continue;
        if (!keep(b, arg)) {
            free(b->key);
            continue;
        }
        size_t len;
        uint64_t h = hash_bare(b->key, &len);
        *slot_for(r, b->key, len, h) = *b;
        r->used++;
    }
    free(old);
}

static bool keep_all(const struct bucket *b, void *arg)
{
    (void)b, (void)arg;
    return true;
}

/* Doubles the table; false when out of memory. */
static bool grow(hippo_rate_limit *r)
{
    size_t n = r->mask + 1;
    struct bucket *fresh = calloc(2 * n, sizeof *fresh);
    if (!fresh)
        return false;
    struct bucket *old = r->slots;
    r->slots = fresh;
    r->mask = 2 * n - 1;
    rehash(r, old, n, keep_all, NULL);
    return true;
}

struct prune_rule {
    double rate, now_s;
    int burst;
    bool drop_all;
};

static bool keep_unrefilled(const struct bucket *b, void *arg)
{
    const struct prune_rule *p = arg;
    return !p->drop_all && refilled(b, p->rate, p->burst, p->now_s) < p->burst;
}

/* Drops the buckets that are full again at NOW_S, or every bucket when that leaves the table
 * more than half full. */
static void prune(hippo_rate_limit *r, double rate, int burst, double now_s)
{
    size_t n = r->mask + 1;
    struct bucket *old = r->slots;
    struct bucket *fresh = calloc(n, sizeof *fresh);
    if (!fresh)
        return;
    r->slots = fresh;
    struct prune_rule rule = {.rate = rate, .now_s = now_s, .burst = burst};
    size_t keep = 0;
    for (size_t i = 0; i < n; i++)
        keep += old[i].key && keep_unrefilled(&old[i], &rule);
    rule.drop_all = keep > r->max / 2;
    rehash(r, old, n, keep_unrefilled, &rule);
}

bool hippo_rate_limit_take(hippo_rate_limit *r, const char *jid, double rate, int burst,
                           double now_s)
{
    size_t len;
    uint64_t h = hash_bare(jid, &len);
    struct bucket *b = slot_for(r, jid, len, h);
    if (!b->key) {
        if (r->used >= r->max)
            prune(r, rate, burst, now_s);
        else if (2 * (r->used + 1) > r->mask + 1)
            grow(r);
        if (r->used >= r->max || 2 * (r->used + 1) > r->mask + 1)
            return true; /* out of memory: no bucket, no limit */
        b = slot_for(r, jid, len, h);
        char *key = malloc(len + 1);
        if (!key)
            return true;
        for (size_t i = 0; i < len; i++)
            key[i] = fold(jid[i]);
        key[len] = '\0';
        *b = (struct bucket){.key = key, .tokens = burst, .updated_s = now_s};
        r->used++;
    }
    b->tokens = refilled(b, rate, burst, now_s);
    b->updated_s = now_s;
    if (b->tokens < 1)
        return false;
    b->tokens -= 1;
    return true;
}
