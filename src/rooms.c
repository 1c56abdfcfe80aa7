/* rooms.c - placeholder until the rooms feature lands: a room address exists for nobody. */
#include "rooms.h"

#include <string.h>

#include "router.h"
#include "stanza.h"

void hippo_rooms_prepare(hippo_db *db)
{
    (void)db;
}

void hippo_rooms_stanza(hippod *d, xmpp_stanza_t *stanza)
{
    const char *name = xmpp_stanza_get_name(stanza);
    const char *type = xmpp_stanza_get_type(stanza);
    if (hippo_stanza_is_reply_type(type)) {
        hippo_router_drop(d, stanza, strcmp(type, "error") == 0 ? "error-received"
                                                                : "unexpected-result");
        return;
    }
    if (strcmp(name, "presence") == 0 && type && strcmp(type, "available") != 0) {
        hippo_router_drop(d, stanza, "presence-to-unknown-room");
        return;
    }
    if (strcmp(name, "iq") == 0 && !hippo_router_iq_payload(d, stanza))
        return;
    hippo_router_reply_error(d, stanza, "cancel", "item-not-found", "no such room");
}
