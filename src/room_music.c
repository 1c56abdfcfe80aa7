/* room_music.c - music presence in rooms: reading the music columns, and the presence a
 * musicChanged sends to the rooms of its user (room_music.h). */
#include "room_music.h"

#include <stdio.h>
#include <string.h>

#include "guid.h"
#include "room_op.h"
#include "room_stanzas.h"
#include "send.h"
#include "xmpp_link.h"

void hippo_room_music_read(const PGresult *res, int i, int col, hippo_room_music *music)
{
    *music = (hippo_room_music){0};
    if (PQnfields(res) < col + HIPPO_ROOM_MUSIC_COLUMNS)
        return;
    music->playing = !PQgetisnull(res, i, col) && PQgetvalue(res, i, col)[0] == 't';
    music->arrangement_name = PQgetisnull(res, i, col + 1) ? NULL : PQgetvalue(res, i, col + 1);
    music->artist = PQgetisnull(res, i, col + 2) ? NULL : PQgetvalue(res, i, col + 2);
}

/* The result of hippo.room_music_changed: room_id, then the room_row and music columns. */
#define COL_ROOM_ID 0
#define FIRST_ROW_COL 1
#define RESULT_COLUMNS (1 + HIPPO_ROOM_ROW_COLUMNS + HIPPO_ROOM_MUSIC_COLUMNS)

/* The copies of one room's presence: serialised once each, sent to many. */
enum copy { COPY_CLASSIC, COPY_MUC, COPY_MUC_SELF, COPY_COUNT };

struct room_send {
    hippod *d;
    char room_id[HIPPO_GUID_LEN + 1];
    char room_jid[HIPPO_GUID_NODE_MAX + 256];
    hippo_room_ref room;
    hippo_room_user user; /* the status row's user with its nick in this room */
    hippo_room_role role; /* its aggregate role there */
    hippo_send_many copies[COPY_COUNT];
    bool built[COPY_COUNT];
    unsigned sent, failed;
};

static void finish_room(struct room_send *r)
{
    for (int k = 0; k < COPY_COUNT; k++)
        if (r->built[k] && r->copies[k].text)
            hippo_send_many_free(r->d, &r->copies[k]);
    memset(r->copies, 0, sizeof r->copies);
    memset(r->built, 0, sizeof r->built);
    r->room_id[0] = '\0';
}

/* Starts the room of 'member' row MEMBER (the user STATUS there). False when its id or JID
 * does not fit (never from the database: it only holds GUIDs). */
static bool start_room(struct room_send *r, const char *room_id, const hippo_room_row *status,
                       const hippo_room_row *member)
{
    char node[HIPPO_GUID_NODE_MAX + 1];
    if (!room_id || !hippo_guid_valid(room_id) || hippo_guid_to_node(room_id, node) < 0)
        return false;
    int n = snprintf(r->room_jid, sizeof r->room_jid, "%s@%s", node, r->d->cfg.component_domain);
    if (n < 0 || (size_t)n >= sizeof r->room_jid)
        return false;
    snprintf(r->room_id, sizeof r->room_id, "%s", room_id);
    r->room = (hippo_room_ref){.jid = r->room_jid, .kind = member->kind ? member->kind : "post"};
    r->user = status->user;
    r->user.nick = member->user.nick;
    r->role = member->role;
    return true;
}

/* The copy for a resource in DIALECT (SELF: one of the user's own), built on first use;
 * NULL when out of memory. */
static const hippo_send_many *copy_for(struct room_send *r, hippo_room_dialect dialect, bool self)
{
    enum copy k = dialect == HIPPO_DIALECT_CLASSIC ? COPY_CLASSIC : self ? COPY_MUC_SELF : COPY_MUC;
    if (!r->built[k]) {
        r->built[k] = true;
        xmpp_ctx_t *ctx = hippo_link_ctx(r->d->link);
        /* a fresh available presence, not a role change: the classic one has no oldRole */
        xmpp_stanza_t *pres =
            k == COPY_CLASSIC
                ? hippo_room_classic_presence(ctx, &r->room, NULL, &r->user, r->role, NULL)
                : hippo_room_muc_presence(ctx, &r->room, NULL, &r->user, r->role,
                                          (hippo_muc_flags){.self = k == COPY_MUC_SELF});
        if (!pres || hippo_send_many_init(r->d, &r->copies[k], pres) < 0)
            r->copies[k] = (hippo_send_many){0};
        if (pres)
            xmpp_stanza_release(pres);
    }
    return r->copies[k].text ? &r->copies[k] : NULL;
}

static void send_to(struct room_send *r, const hippo_room_row *to)
{
    bool self = to->user.id && strcmp(to->user.id, r->user.id) == 0;
    const hippo_send_many *copy = copy_for(r, to->dialect, self);
    if (copy && to->jid && hippo_send_many_to(r->d, copy, to->jid) == 0) {
        r->sent++;
        return;
    }
    r->failed++;
    hippo_metrics_count(&r->d->metrics.drops, "room-music-unsent");
}

static const char *text_at(const PGresult *res, int i, int col)
{
    return PQgetisnull(res, i, col) ? NULL : PQgetvalue(res, i, col);
}

/* Row 0 of RES, the user's status row, into STATUS; false when RES has another shape. */
static bool read_status(const PGresult *res, hippo_room_row *status)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != RESULT_COLUMNS ||
        PQntuples(res) < 1)
        return false;
    hippo_room_row_read_from(res, 0, FIRST_ROW_COL, status);
    return status->status && strcmp(status->what, "status") == 0 && status->user.id;
}

void hippo_room_music_broadcast(hippod *d, const PGresult *res)
{
    hippo_room_row status;
    if (!read_status(res, &status)) {
        hippo_metrics_count(&d->metrics.drops, "room-music-bad-result");
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "rooms: musicChanged stored, but its rooms came back in an unexpected shape: "
                  "no presence sent");
        return;
    }
    if (strcmp(status.status, "changed") != 0)
        return; /* the rooms show the same music as before */
    struct room_send r = {.d = d};
    unsigned rooms = 0;
    bool skip = false; /* the rows of a room that could not be started */
    for (int i = 1; i < PQntuples(res); i++) {
        hippo_room_row row;
        hippo_room_row_read_from(res, i, FIRST_ROW_COL, &row);
        const char *room_id = text_at(res, i, COL_ROOM_ID);
        if (strcmp(row.what, "member") == 0) {
            finish_room(&r);
            skip = !start_room(&r, room_id, &status, &row);
            rooms += !skip;
            if (skip) {
                hippo_metrics_count(&d->metrics.drops, "room-music-bad-result");
                hippo_log(&d->log, HIPPO_LOG_WARNING,
                          "rooms: musicChanged of %s: bad room id, its room skipped",
                          status.user.id);
            }
        } else if (strcmp(row.what, "to") == 0 && !skip && r.room_id[0] && room_id &&
                   strcmp(room_id, r.room_id) == 0) {
            send_to(&r, &row);
        }
    }
    finish_room(&r);
    if (r.failed)
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "rooms: music presence of %s: %u of %u not sent (out of memory or link down)",
                  status.user.id, r.failed, r.failed + r.sent);
    hippo_log(&d->log, HIPPO_LOG_DEBUG, "rooms: music presence of %s: %u sent in %u rooms",
              status.user.id, r.sent, rooms);
}
