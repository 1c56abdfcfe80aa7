/* room_sweep.c - occupancy lives in PostgreSQL, so it survives a restart of hippod; but a
 * client that went away while hippod (or its database) was down, or while the XMPP server
 * restarted, left no leave behind. Whenever the link and the database are both up again,
 * every stored occupant gets a ping (XEP-0199) from its room: the server answers for a
 * resource that is gone with a delivery error (service-unavailable), which removes the
 * occupant like any other bounce (room_presence.c). Live clients answer or ignore it. */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "guid.h"
#include "rooms.h"
#include "room_stanzas.h"
#include "send.h"
#include "stanza.h"
#include "xmpp_link.h"

#define SWEEP_STMT "room_all_occupants"

static void ping(hippod *d, const char *room_id, const char *jid, int n)
{
    char node[HIPPO_GUID_NODE_MAX + 1], id[48], room_jid[HIPPO_GUID_NODE_MAX + 1 + 1024];
    if (hippo_guid_to_node(room_id, node) < 0)
        return;
    snprintf(room_jid, sizeof room_jid, "%s@%s", node, d->cfg.component_domain);
    snprintf(id, sizeof id, "hippo-sweep-%d", n);
    xmpp_stanza_t *iq = xmpp_iq_new(hippo_link_ctx(d->link), "get", id);
    if (!iq || !hippo_stanza_add_element(iq, "ping", "urn:xmpp:ping") ||
        xmpp_stanza_set_to(iq, jid) != XMPP_EOK || hippo_room_set_from(iq, room_jid, NULL) < 0) {
        if (iq)
            xmpp_stanza_release(iq);
        hippo_log(&d->log, HIPPO_LOG_ERR, "rooms: out of memory pinging occupants");
        return;
    }
    hippo_send(d, iq);
    xmpp_stanza_release(iq);
}

static void on_occupants(const PGresult *res, const char *error, void *arg)
{
    hippod *d = arg;
    if (!res) {
        hippo_log(&d->log, HIPPO_LOG_WARNING, "rooms: cannot list occupants to check: %s",
                  error ? error : "?");
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        ping(d, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), i);
    if (n)
        hippo_log(&d->log, HIPPO_LOG_INFO, "rooms: pinged %d stored occupants to find those gone",
                  n);
}

void hippo_rooms_sweep(hippod *d)
{
    if (!hippo_link_is_up(d->link) || !hippo_db_is_up(d->db))
        return;
    if (hippo_db_query(d->db, SWEEP_STMT, 0, NULL, on_occupants, d) < 0)
        hippo_log(&d->log, HIPPO_LOG_WARNING, "rooms: cannot list occupants to check");
}

void hippo_rooms_sweep_prepare(hippo_db *db)
{
    hippo_db_prepare(db, SWEEP_STMT,
                     "SELECT room_id, occupant_jid FROM hippo.room_occupants "
                     "ORDER BY room_id, joined_at",
                     0);
}
