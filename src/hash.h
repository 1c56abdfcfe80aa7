/* hash.h - the string hash of hippod's in-memory tables (user_cache.c, room_state.c). */
#ifndef HIPPO_HASH_H
#define HIPPO_HASH_H

#include <stdint.h>

/* FNV-1a over the bytes of S. */
static inline uint64_t hippo_hash_str(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

#endif
