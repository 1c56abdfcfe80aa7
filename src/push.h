/* push.h - server-to-client notifications driven by the PostgreSQL outbox (sql/006). */
#ifndef HIPPO_PUSH_H
#define HIPPO_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "guid.h"
#include "hippod.h"

typedef struct hippo_push hippo_push;

typedef struct hippo_push_event {
    int64_t id;
    char kind[32];
    char post_id[HIPPO_GUID_LEN + 1]; /* empty when the event has none */
    char user_id[HIPPO_GUID_LEN + 1];
    char actor_id[HIPPO_GUID_LEN + 1];
} hippo_push_event;

/* A kind's handler sends the stanzas of EV and then calls hippo_push_event_done() exactly
 * once (now or later). */
typedef void (*hippo_push_handler)(hippod *d, const hippo_push_event *ev);

/* Returns NULL on allocation failure; free with hippo_push_free(). */
hippo_push *hippo_push_new(hippod *d);
void hippo_push_free(hippo_push *p);
void hippo_push_prepare(hippo_db *db);

/* Something may be waiting: a NOTIFY arrived, the database or the link came (back) up. */
void hippo_push_wake(hippo_push *p);

/* The current event is finished: SENT when all its stanzas were handed to the link (it is
 * then retired), false when it must be tried again later. */
void hippo_push_event_done(hippo_push *p, bool sent);

/* The kinds (one push_<kind>.c each). */
void hippo_push_new_post_prepare(hippo_db *db);
void hippo_push_new_post(hippod *d, const hippo_push_event *ev);

#endif
