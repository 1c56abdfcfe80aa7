/* user_cache.c - an open-addressing hash table (linear probing) from bare JID to user id.
 * It never deletes single entries, so no tombstones are needed: it only grows until it is
 * cleared. The table is kept at most half full so that probes stay short. */
#include "user_cache.h"

#include <stdlib.h>
#include <string.h>

#include "guid.h"
#include "hash.h"

struct entry {
    char *jid; /* NULL: an empty slot */
    char user_id[HIPPO_GUID_LEN + 1];
};

struct hippo_user_cache {
    struct entry *slots;
    size_t mask; /* number of slots - 1, a power of two minus one */
    size_t count;
    size_t max_entries;
    uint64_t generation;
};

/* The table starts small and doubles while half full, up to twice MAX_ENTRIES slots (a
 * daemon context is cheap to make: the fuzzer makes one per input). */
#define INITIAL_SLOTS 16

hippo_user_cache *hippo_user_cache_new(size_t max_entries)
{
    hippo_user_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(INITIAL_SLOTS, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->mask = INITIAL_SLOTS - 1;
    c->max_entries = max_entries ? max_entries : 1;
    return c;
}

void hippo_user_cache_clear(hippo_user_cache *c)
{
    for (size_t i = 0; c->count > 0 && i <= c->mask; i++) {
        if (c->slots[i].jid) {
            free(c->slots[i].jid);
            c->slots[i].jid = NULL;
            c->count--;
        }
    }
    c->generation++;
}

void hippo_user_cache_free(hippo_user_cache *c)
{
    if (!c)
        return;
    hippo_user_cache_clear(c);
    free(c->slots);
    free(c);
}

/* The slot holding JID, or the empty slot where it would go. */
static struct entry *find_slot(const hippo_user_cache *c, const char *jid)
{
    size_t i = (size_t)hippo_hash_str(jid) & c->mask;
    while (c->slots[i].jid && strcmp(c->slots[i].jid, jid) != 0)
        i = (i + 1) & c->mask;
    return &c->slots[i];
}

/* Doubles the slots when half full (and allowed to grow); out of memory only means it stays
 * as it is, with longer probes. */
static void grow(hippo_user_cache *c)
{
    size_t n = c->mask + 1;
    if (2 * (c->count + 1) <= n || n >= 2 * c->max_entries)
        return;
    struct entry *old = c->slots;
    c->slots = calloc(2 * n, sizeof *c->slots);
    if (!c->slots) {
        c->slots = old;
        return;
    }
    c->mask = 2 * n - 1;
    for (size_t i = 0; i < n; i++)
        if (old[i].jid)
            *find_slot(c, old[i].jid) = old[i];
    free(old);
}

const char *hippo_user_cache_get(const hippo_user_cache *c, const char *jid)
{
    const struct entry *e = find_slot(c, jid);
    return e->jid ? e->user_id : NULL;
}

void hippo_user_cache_put(hippo_user_cache *c, uint64_t generation, const char *jid,
                          const char *user_id)
{
    if (generation != c->generation || strlen(user_id) > HIPPO_GUID_LEN)
        return;
    struct entry *e = find_slot(c, jid);
    if (!e->jid) {
        if (c->count == c->max_entries) {
            /* A new generation would make the caller's answer look stale: keep it. */
            uint64_t keep = c->generation;
            hippo_user_cache_clear(c);
            c->generation = keep;
        }
        grow(c);
        e = find_slot(c, jid);
        e->jid = strdup(jid);
        if (!e->jid)
            return;
        c->count++;
    }
    memcpy(e->user_id, user_id, strlen(user_id) + 1);
}

uint64_t hippo_user_cache_generation(const hippo_user_cache *c)
{
    return c->generation;
}

size_t hippo_user_cache_size(const hippo_user_cache *c)
{
    return c->count;
}
