/* rate_limit.h - a token bucket per sender, in memory: the room message rate limit.
 *
 * Until migration 011 the buckets were rows of hippo.room_rate, written by every message;
 * that row write cost more than the message itself. Kept in memory, a limit holds per hippod
 * process and starts full after a restart: a flood is still cut after the burst, which is
 * what the limit is for. Senders are told apart by bare JID (all resources of an account
 * share one bucket, as they shared the user's row). The table is bounded: when it is full,
 * buckets that have refilled completely are dropped (they hold nothing a new bucket would
 * not), and if that frees too little, everything is. */
#ifndef HIPPO_RATE_LIMIT_H
#define HIPPO_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hippo_rate_limit hippo_rate_limit;

/* MAX_SENDERS > 0 buckets at most. The caller frees the result with hippo_rate_limit_free();
 * NULL when out of memory. */
hippo_rate_limit *hippo_rate_limit_new(size_t max_senders);
void hippo_rate_limit_free(hippo_rate_limit *r);

/* Takes a token for the sender JID (full or bare; compared by bare JID, ASCII case folded) at
 * NOW_S, a monotonic time in seconds. A bucket holds at most BURST tokens and gains RATE per
 * second. True when a token was there. Out of memory lets the message through. */
bool hippo_rate_limit_take(hippo_rate_limit *r, const char *jid, double rate, int burst,
                           double now_s);

/* How many senders have a bucket. */
size_t hippo_rate_limit_size(const hippo_rate_limit *r);

#endif
