/* push_room_departure.c - occupants removed because they lost access to a room (removed
 * from the group or the post's recipients, the post made private or deleted: "revoked") or
 * because their account changed (deleted, another JID: "kicked"). sql/010_room_access.sql
 * removes them in the transaction of the change, so nothing of the room reaches them from
 * then on; this tells the removed resource it is out and the room that the user left.
 *
 * XEP-0045 9.8 and 5.2.1: a user removed for an affiliation change gets status 321 (and
 * affiliation none), a kicked one 307, in its own unavailable presence (with 110) and in the
 * one the other occupants get. The classic dialect has no reasons: a plain unavailable. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push_kinds.h"
#include "send.h"
#include "room_music.h"
#include "room_op.h"
#include "room_stanzas.h"
#include "xmpp_link.h"

#define STMT "push_room_departure"

void hippo_push_room_departure_prepare(hippo_db *db)
{
    /* with the user's music (sql/016): a participant -> visitor change is an available
     * presence with userInfo */
    hippo_db_prepare(db, STMT, HIPPO_ROOM_WITH_MUSIC("room_departure($1::bigint) r", "NULL"), 1);
}

/* A departure being told: the room's JID outlives the event's query. */
struct departure {
    hippod *d;
    char room_jid[HIPPO_GUID_NODE_MAX + 256];
};

/* Sends PRES (released here; NULL = out of memory) to TO. Returns 0, or -1 when it could
 * not be built or the link refused it. */
static int send_presence(hippod *d, xmpp_stanza_t *pres, const char *to)
{
    if (!pres)
        return -1;
    xmpp_stanza_set_to(pres, to);
    int rc = hippo_send(d, pres);
    xmpp_stanza_release(pres);
    return rc;
}

/* The presence of STATUS's user with ROLE for a resource in DIALECT. */
static xmpp_stanza_t *user_presence(hippod *d, const hippo_room_ref *room,
                                    const hippo_room_row *status, hippo_room_dialect dialect,
                                    hippo_room_role role, bool self)
{
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    if (dialect == HIPPO_DIALECT_CLASSIC)
        return hippo_room_classic_presence(ctx, room, NULL, &status->user, role, &status->old_role);
    hippo_muc_flags flags = {.self = self,
                             .removal = strcmp(status->status, "revoked") == 0 ? "321" : "307"};
    return hippo_room_muc_presence(ctx, room, NULL, &status->user, role, flags);
}

/* The removed resource first, then every 'to' row (present only when the user's aggregate
 * role changed, i.e. it has no other resource left in the room). */
static int tell(hippod *d, const hippo_room_ref *room, const PGresult *res,
                const hippo_room_row *status)
{
    if (send_presence(d,
                      user_presence(d, room, status, status->dialect, HIPPO_ROLE_NONMEMBER, true),
                      status->jid) < 0)
        return -1;
    for (int i = 1; i < PQntuples(res); i++) {
        hippo_room_row row;
        hippo_room_row_read(res, i, &row);
        bool self = strcmp(row.user.id, status->user.id) == 0;
        if (strcmp(row.what, "to") == 0 &&
            send_presence(d, user_presence(d, room, status, row.dialect, status->role, self),
                          row.jid) < 0)
            return -1;
    }
    return 0;
}

static void on_departure(const PGresult *res, const char *error, void *arg)
{
    struct departure *dep = arg;
    hippod *d = dep->d;
    hippo_room_row status;
    bool sent = false;
    if (!res)
        hippo_log(&d->log, HIPPO_LOG_WARNING, "push: room departure: %s", error);
    else if (PQntuples(res) == 0 || PQnfields(res) < HIPPO_ROOM_ROW_COLUMNS)
        sent = true; /* nothing left to tell */
    else {
        hippo_room_row_read(res, 0, &status);
        hippo_room_ref room = {.jid = dep->room_jid, .kind = status.kind};
        sent = tell(d, &room, res, &status) == 0;
        if (sent)
            hippo_log(&d->log, HIPPO_LOG_INFO, "room %s: %s removed (%s)", dep->room_jid,
                      status.jid, status.status);
    }
    free(dep);
    hippo_push_event_done(d->push, sent);
}

void hippo_push_room_departure(hippod *d, const hippo_push_event *ev)
{
    if (!hippo_guid_valid(ev->post_id)) { /* not written by room_depart: nothing to tell */
        hippo_push_event_done(d->push, true);
        return;
    }
    struct departure *dep = calloc(1, sizeof *dep);
    if (!dep) {
        hippo_push_event_done(d->push, false);
        return;
    }
    char node[HIPPO_GUID_NODE_MAX + 1], id[24];
    dep->d = d;
    hippo_guid_to_node(ev->post_id, node);
    snprintf(dep->room_jid, sizeof dep->room_jid, "%s@%s", node, d->cfg.component_domain);
    snprintf(id, sizeof id, "%" PRId64, ev->id);
    const char *params[] = {id};
    if (hippo_db_query(d->db, STMT, 1, params, on_departure, dep) < 0) {
        free(dep);
        hippo_push_event_done(d->push, false);
    }
}
