/* rooms.c - the rooms' statements and their state in memory. The router's table sends each
 * stanza to NODE@domain[/resource] to its handler (room_handlers.h).
 *
 * All room state is in PostgreSQL (sql/003_rooms.sql): each handler runs one hippo.room_*
 * function that checks, changes and returns what to send in one transaction (messages in
 * batches, sql/011_room_batch.sql), so several hippod processes could serve the same rooms
 * and a restart loses nothing. In memory are the message rate limits, the statements
 * waiting behind a batch (room_op.h), and each room's present resources as PostgreSQL last
 * said, so that a message of a present sender needs neither its check nor the room's
 * recipients from the database (room_state.h, sql/013_room_memory.sql). */
#include "rooms.h"

#include <stdlib.h>
#include <string.h>

#include "room_music.h"
#include "room_op.h"

#define ROOM_SELECT "SELECT * FROM hippo."
/* Joins and leaves change occupancy, a cache of client presence: they commit without
 * waiting for the WAL flush (hippo.commit_async in sql/011 says why that is safe). */
#define ASYNC_COMMIT " r WHERE hippo.commit_async()"
void hippo_rooms_prepare(hippo_db *db)
{
    hippo_db_prepare(db, "room_join",
                     HIPPO_ROOM_WITH_MUSIC("room_join($1, $2, $3, $4, $5::boolean, $6::integer, "
                                           "$7::integer, $8::timestamptz)" ASYNC_COMMIT,
                                           HIPPO_ROOM_JOINER),
                     8);
    hippo_db_prepare(db, "room_leave",
                     HIPPO_ROOM_WITH_MUSIC("room_leave($1, $2)" ASYNC_COMMIT, "NULL"), 2);
    hippo_db_prepare(db, "room_message_batch",
                     "SELECT b.i, (b.r).* FROM hippo.room_message_batch($1::text[], $2::text[], "
                     "$3::text[], $4::boolean[], $5::boolean[]) b",
                     5);
    /* One message of a sender hippod remembers present (room_state.h): the same answer as
     * room_message_batch's, from a plain statement. PostgreSQL caches its plan in the
     * session, while a PL/pgSQL function's arrays, loops and composite values cost more than
     * storing the message (measured: bench/room_sql.py, docs/performance.md). When the sender
     * is not present any more, it is checked in full by the batch function instead. */
    hippo_db_prepare(
        db, "room_message_known",
        "WITH o AS (SELECT user_id, kind FROM hippo.room_occupants"
        "           WHERE room_id = $1 AND occupant_jid = $2),"
        " b AS (UPDATE hippo.rooms x SET next_serial = x.next_serial + 1 FROM o"
        "       WHERE x.room_id = $1 RETURNING x.next_serial - 1 AS serial, o.user_id, o.kind),"
        " stored AS (INSERT INTO hippo.room_messages (room_id, serial, user_id, body)"
        "            SELECT $1, b.serial, b.user_id, $3 FROM b)"
        " SELECT 1 AS i, (ROW('known', 'ok', b.user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        "                     NULL, b.serial, (extract(epoch FROM now()) * 1000)::bigint, NULL,"
        "                     b.kind, NULL, NULL)::hippo.room_row).* FROM b"
        " UNION ALL"
        " SELECT m.i, (m.r).* FROM hippo.room_message_batch(ARRAY[$1], ARRAY[$2], ARRAY[$3],"
        "                                                   ARRAY[$4::boolean], '{f}') m"
        " WHERE NOT EXISTS (SELECT FROM b)",
        4);
    hippo_db_prepare(db, "room_details",
                     HIPPO_ROOM_WITH_MUSIC("room_details($1, $2, $3::integer) r", "NULL"), 3);
    hippo_db_prepare(db, "room_info", ROOM_SELECT "room_info($1, $2)", 2);
    hippo_db_prepare(db, "room_archive",
                     "SELECT a.n, a.complete, (a.r).* FROM hippo.room_archive($1, $2, "
                     "$3::timestamptz, $4::timestamptz, $5, $6::bigint, $7::bigint, $8::boolean, "
                     "$9::integer) a",
                     9);
    hippo_db_prepare(db, "room_ping", ROOM_SELECT "room_ping($1, $2, $3)", 3);
    hippo_rooms_sweep_prepare(db);
    hippo_db_listen(db, HIPPO_ROOMS_CHANNEL);
}

void hippo_rooms_forget(hippo_rooms *r, const char *room_id)
{
    hippo_room_states_forget(r->states, room_id);
}

/* With each room on one hippod (docs/deployment.md, "Several hippods on one domain") only
 * that hippod joins resources to it; a join by another one, while this one serves the room,
 * shows that the XMPP server spreads the room's stanzas (ejabberd without domain_balancing),
 * so its members can see messages out of serial order. Logged at the 1st, 2nd, 4th … */
static void foreign_join(hippod *d, const char *room_id)
{
    uint64_t n = ++d->metrics.room_foreign_joins;
    if ((n & (n - 1)) == 0)
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "room %s: a resource joined through another hippod while this one serves "
                  "the room: the XMPP server spreads the domain's rooms over several hippods, "
                  "so room order is not guaranteed (configure domain_balancing; %llu such joins)",
                  room_id, (unsigned long long)n);
}

void hippo_rooms_notified(hippod *d, const char *payload, bool own)
{
    char room_id[HIPPO_GUID_LEN + 1];
    size_t len = strcspn(payload, " ");
    if (len > HIPPO_GUID_LEN) {
        hippo_rooms_forget(d->rooms, "*"); /* not a room id: forget to be safe */
        return;
    }
    memcpy(room_id, payload, len);
    room_id[len] = '\0';
    if (!own && strcmp(payload + len, " join") == 0 &&
        hippo_room_states_get(d->rooms->states, room_id))
        foreign_join(d, room_id);
    hippo_rooms_forget(d->rooms, room_id);
}

/* Buckets for this many senders at most (rate_limit.h says what happens beyond). */
#define ROOM_RATE_SENDERS 100000
/* Rooms remembered at most (room_state.h says what happens beyond). */
#define ROOM_STATES 100000

hippo_rooms *hippo_rooms_new(unsigned connections)
{
    hippo_rooms *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->n_queues = connections ? connections : 1;
    r->queues = calloc(r->n_queues, sizeof *r->queues);
    r->rate = hippo_rate_limit_new(ROOM_RATE_SENDERS);
    r->states = hippo_room_states_new(ROOM_STATES);
    if (!r->queues || !r->rate || !r->states) {
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
    hippo_room_states_free(r->states);
    free(r);
}
