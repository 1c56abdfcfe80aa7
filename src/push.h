/* push.h - server-to-client notifications driven by the PostgreSQL outbox (sql/006, sql/007;
 * docs/push.md): claiming, coalescing, fan-out and retiring. What each kind sends is above
 * this module (push_kinds.h); it is given the kinds' table. */
#ifndef HIPPO_PUSH_H
#define HIPPO_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "guid.h"
#include "hippod.h"

typedef struct hippo_push hippo_push;

/* Outbox events older than this are deleted unsent (hippo.push_maintenance, run when the
 * database comes up and then every minute). */
#define HIPPO_PUSH_MAX_AGE "7 days"
#define HIPPO_PUSH_MAINTENANCE_S 60

typedef struct hippo_push_event {
    int64_t id;
    char kind[32];
    char post_id[HIPPO_GUID_LEN + 1]; /* empty when the event has none */
    char user_id[HIPPO_GUID_LEN + 1];
    char actor_id[HIPPO_GUID_LEN + 1];
    uint64_t claimed_usec; /* monotonic time its claim came back */
} hippo_push_event;

/* A kind's handler sends the stanzas of EV and then calls hippo_push_event_done() exactly
 * once (now or later), or hippo_push_event_hold(). */
typedef void (*hippo_push_handler)(hippod *d, const hippo_push_event *ev);

/* How a later event of the same kind in a batch can cover an earlier one. */
typedef enum hippo_push_cover {
    HIPPO_PUSH_COVER_NONE,
    HIPPO_PUSH_COVER_STATE, /* sends the current state: same post and user */
    HIPPO_PUSH_COVER_LIVE,  /* livePostChanged: same post; the later one then excludes nobody
                             * unless both were caused by the same user */
} hippo_push_cover;

/* An outbox kind this build sends (push_kinds.c has the table); events of other kinds stay
 * in the outbox for a build that knows them. */
typedef struct hippo_push_kind {
    const char *kind;
    hippo_push_handler handle;
    hippo_push_cover cover;
} hippo_push_kind;

/* Drains the outbox for the N KINDS (kept, not copied). Returns NULL on allocation failure;
 * free with hippo_push_free(). */
hippo_push *hippo_push_new(hippod *d, const hippo_push_kind *kinds, size_t n);
/* Cancels what is in progress without calling back (the database must be freed first:
 * held and claimed events go back to the outbox with the database session). */
void hippo_push_free(hippo_push *p);
/* The outbox's statements (the kinds' own: hippo_push_kinds_prepare()). */
void hippo_push_prepare(hippo_db *db);

/* Something may be waiting: a NOTIFY arrived, the database or the link came (back) up. */
void hippo_push_wake(hippo_push *p);

/* A batch is being claimed, sent or settled (a graceful stop waits for it). */
bool hippo_push_busy(const hippo_push *p);

/* The current event is finished: SENT when all its stanzas were handed to the link (it is
 * then retired), false when it must be tried again later. */
void hippo_push_event_done(hippo_push *p, bool sent);

/* The handler keeps the current event claimed past its batch (a coalesced notification
 * will cover it) and settles it later with hippo_push_settle(). */
void hippo_push_event_hold(hippo_push *p);

/* Retires (SENT) or releases our claimed events IDS[0..N) (held ones, or the current one
 * once done). Nothing to wait for: if the query cannot run, the claims go stale with the
 * database session and the events come back (at-least-once). */
void hippo_push_settle(hippo_push *p, const int64_t *ids, size_t n, bool sent);

/* ---- fan-out: one stanza per recipient, in slices between loop turns ---------------- */

/* Sends the stanza for recipient I; returns 0, or -1 when the link refused it. */
typedef int (*hippo_push_send_fn)(void *arg, size_t i);
/* Called once at the end: SENT when every stanza was handed to the link. */
typedef void (*hippo_push_fanout_done_fn)(void *arg, bool sent);
/* Called instead of done when hippo_push_free() cancels the fan-out: free ARG's state. */
typedef void (*hippo_push_fanout_cancel_fn)(void *arg);

/* Calls SEND for 0..N-1, HIPPO_PUSH_SLICE per loop turn (the first slice now), then DONE
 * (also from inside this call when everything fit in the first slice, or at the first
 * failure). Returns 0, or -1 (nothing called) on allocation failure. */
int hippo_push_fanout(hippo_push *p, size_t n, hippo_push_send_fn send,
                      hippo_push_fanout_done_fn done, hippo_push_fanout_cancel_fn cancel,
                      void *arg);
#define HIPPO_PUSH_SLICE 1000

#endif
