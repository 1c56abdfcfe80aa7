/* user_cache.h - which hippo user a sender's bare JID belongs to, remembered in memory.
 *
 * Every protocol IQ starts by resolving its sender; asking PostgreSQL each time doubled the
 * statements per IQ. Only found users are remembered. The daemon clears the whole cache when
 * PostgreSQL says a user's JID changed or a user was deleted (NOTIFY hippo_users) and when the
 * database connection comes back (notifications may have been missed meanwhile). Such changes
 * are rare administrative acts, so clearing everything keeps the rule simple and obviously
 * correct. The cache is bounded: when it holds its maximum it starts again from empty. */
#ifndef HIPPO_USER_CACHE_H
#define HIPPO_USER_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct hippo_user_cache hippo_user_cache;

/* MAX_ENTRIES > 0. The caller frees the result with hippo_user_cache_free(); NULL when out of
 * memory. */
hippo_user_cache *hippo_user_cache_new(size_t max_entries);
void hippo_user_cache_free(hippo_user_cache *c);

/* The user id remembered for JID (exact bytes), or NULL. The string belongs to the cache and
 * stays valid until the next put, clear or free. */
const char *hippo_user_cache_get(const hippo_user_cache *c, const char *jid);

/* Remembers JID -> USER_ID (both copied) unless the cache was cleared since GENERATION was
 * read with hippo_user_cache_generation(): the answer may predate the change that cleared it.
 * Out of memory only means the entry is not remembered. */
void hippo_user_cache_put(hippo_user_cache *c, uint64_t generation, const char *jid,
                          const char *user_id);

/* Forgets everything and starts a new generation. */
void hippo_user_cache_clear(hippo_user_cache *c);

uint64_t hippo_user_cache_generation(const hippo_user_cache *c);
size_t hippo_user_cache_size(const hippo_user_cache *c);

#endif
