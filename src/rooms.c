/* rooms.c - the rooms' statements and their state in memory. The router's table sends each
 * stanza to NODE@domain[/resource] to its handler (room_handlers.h).
 *
 * All room state is in PostgreSQL (sql/003_rooms.sql): each handler runs one hippo.room_*
 * function that checks, changes and returns what to send in one transaction (messages in
 * batches, sql/011_room_batch.sql), so several hippod processes could serve the same rooms
 * and a restart loses nothing. In memory are only the message rate limits and the
 * statements waiting behind a batch (room_op.h). */
#include "rooms.h"

#include <stdlib.h>

#include "room_op.h"

#define ROOM_SELECT "SELECT * FROM hippo."
/* Joins and leaves change occupancy, a cache of client presence: they commit without
 * waiting for the WAL flush (hippo.commit_async in sql/011 says why that is safe). */
#define ASYNC_COMMIT " r WHERE hippo.commit_async()"

void hippo_rooms_prepare(hippo_db *db)
{
    hippo_db_prepare(db, "room_join",
                     ROOM_SELECT "room_join($1, $2, $3, $4, $5::boolean, $6::integer, "
                                 "$7::integer, $8::timestamptz)" ASYNC_COMMIT,
                     8);
    hippo_db_prepare(db, "room_leave", ROOM_SELECT "room_leave($1, $2)" ASYNC_COMMIT, 2);
    hippo_db_prepare(db, "room_message_batch",
                     "SELECT b.i, (b.r).* FROM hippo.room_message_batch($1::text[], $2::text[], "
                     "$3::text[], $4::boolean[]) b",
                     4);
    hippo_db_prepare(db, "room_details", ROOM_SELECT "room_details($1, $2, $3::integer)", 3);
    hippo_db_prepare(db, "room_info", ROOM_SELECT "room_info($1, $2)", 2);
    hippo_db_prepare(db, "room_ping", ROOM_SELECT "room_ping($1, $2, $3)", 3);
    hippo_rooms_sweep_prepare(db);
}

/* Buckets for this many senders at most (rate_limit.h says what happens beyond). */
#define ROOM_RATE_SENDERS 100000

hippo_rooms *hippo_rooms_new(unsigned connections)
{
    hippo_rooms *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->n_queues = connections ? connections : 1;
    r->queues = calloc(r->n_queues, sizeof *r->queues);
    r->rate = hippo_rate_limit_new(ROOM_RATE_SENDERS);
    if (!r->queues || !r->rate) {
        hippo_rooms_free(r);
        return NULL;
    }
    return r;
}

/* Called after the database was freed: its last callbacks have emptied the queues (a queue
 * holds statements only while a batch is in flight). */
void hippo_rooms_free(hippo_rooms *r)
{
    if (!r)
        return;
    for (unsigned i = 0; r->queues && i < r->n_queues; i++)
        if (r->queues[i].head)
            abort();
    free(r->queues);
    hippo_rate_limit_free(r->rate);
    free(r);
}
