/* handle_disco_items.c - disco#items (XEP-0030) at the component domain: the rooms the asking
 * user may enter, paged with XEP-0059 result set management.
 *
 * One statement, hippo.rooms_for_user (sql/015_room_discovery.sql), resolves the sender's
 * bare JID, lists the rooms and cuts the page; a JID that is no hippo user gets the answer of
 * a user without rooms, so nothing leaks to strangers. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "handlers.h"
#include "rsm.h"
#include "request.h"
#include "send.h"
#include "stanza.h"
#include "xmpp_link.h"

#define STMT_ROOMS_FOR_USER "rooms_for_user"

/* One request in flight (request.h), and whether it asked for paging. */
typedef struct items_req {
    hippo_request r; /* first: the request is the items_req */
    bool rsm;
} items_req;

void hippo_disco_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_ROOMS_FOR_USER,
                     "SELECT * FROM hippo.rooms_for_user($1, $2, $3::integer, $4::integer, $5, "
                     "$6, $7::integer)",
                     7);
}

static int add_text_child(xmpp_stanza_t *parent, const char *name, const char *text)
{
    xmpp_stanza_t *child = hippo_stanza_add_element(parent, name, NULL);
    return child ? hippo_stanza_add_text(child, text) : -1;
}

/* The answer's <set/>: first (with its index) and last when the page has items, and the
 * count of the whole list. */
static int add_set(xmpp_stanza_t *query, const PGresult *res, long total)
{
    xmpp_stanza_t *set = hippo_stanza_add_element(query, "set", HIPPO_NS_RSM);
    if (!set)
        return -1;
    int last = PQntuples(res) - 1;
    if (last >= 1) {
        xmpp_stanza_t *first = hippo_stanza_add_element(set, "first", NULL);
        if (!first || xmpp_stanza_set_attribute(first, "index", PQgetvalue(res, 1, 3)) ||
            hippo_stanza_add_text(first, PQgetvalue(res, 1, 1)) < 0 ||
            add_text_child(set, "last", PQgetvalue(res, last, 1)) < 0)
            return -1;
    }
    char count[16];
    snprintf(count, sizeof count, "%ld", total);
    return add_text_child(set, "count", count);
}

/* Rows: ('status', STATUS, NULL, COUNT), then ('item', ROOM_JID, TITLE, POSITION). */
static void on_rooms(const PGresult *res, const char *error, void *arg)
{
    items_req *r = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) < 4 ||
        PQntuples(res) < 1 || strcmp(PQgetvalue(res, 0, 0), "status") != 0) {
        hippo_request_fail(&r->r, error);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "item-not-found") == 0) {
        hippo_request_error(&r->r, "cancel", "item-not-found", "no such item in this result set");
        return;
    }
    long total = strtol(PQgetvalue(res, 0, 3), NULL, 10); /* a count: 0 .. INT_MAX */
    if (total < 0 || total > INT_MAX)
        total = 0;
    int items = PQntuples(res) - 1;
    xmpp_stanza_t *query = xmpp_stanza_new(hippo_request_ctx(&r->r));
    bool bad = !query || xmpp_stanza_set_name(query, "query") ||
               xmpp_stanza_set_ns(query, HIPPO_NS_DISCO_ITEMS);
    for (int i = 1; !bad && i <= items; i++) {
        xmpp_stanza_t *item = hippo_stanza_add_element(query, "item", NULL);
        bad = !item || xmpp_stanza_set_attribute(item, "jid", PQgetvalue(res, i, 1)) ||
              xmpp_stanza_set_attribute(item, "name", PQgetvalue(res, i, 2));
    }
    /* Without RSM in the request a full list needs no <set/>; a cut one says so (XEP-0059
     * 2.1: the service may limit an unpaged result, then returns a <set/>). */
    if (!bad && (r->rsm || items < total))
        bad = add_set(query, res, total) < 0;
    if (bad)
        hippo_request_error(&r->r, "wait", "resource-constraint", "out of memory");
    else
        hippo_request_result(&r->r, query);
    if (query)
        xmpp_stanza_release(query);
}

void hippo_disco_items(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload)
{
    if (xmpp_stanza_get_attribute(payload, "node")) {
        hippo_send_error(d, iq, "cancel", "item-not-found", "no such node");
        return;
    }
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    hippo_rsm rsm;
    const char *why;
    int rc = hippo_rsm_parse(ctx, payload, &rsm, &why);
    if (rc == -1) {
        hippo_send_error(d, iq, "modify", "bad-request", why);
        return;
    }
    items_req *r = rc == 0 ? (items_req *)hippo_request_new(d, iq, sizeof *r, NULL) : NULL;
    if (!r) {
        hippo_send_error(d, iq, "wait", "resource-constraint", "out of memory");
        return;
    }
    r->rsm = rsm.present;
    char max_posts[16], page_max[16], index[16];
    snprintf(max_posts, sizeof max_posts, "%d", HIPPO_DISCO_MAX_POSTS);
    long max = rsm.max < 0 || rsm.max > HIPPO_DISCO_PAGE_MAX ? HIPPO_DISCO_PAGE_MAX : rsm.max;
    snprintf(page_max, sizeof page_max, "%ld", max);
    snprintf(index, sizeof index, "%ld", rsm.index);
    const char *params[] = {r->r.bare_jid,
                            d->cfg.component_domain,
                            max_posts,
                            page_max,
                            rsm.has_after ? rsm.after : NULL,
                            rsm.has_before ? rsm.before : NULL,
                            rsm.index >= 0 ? index : NULL};
    /* keyed by the sender (its bare JID): its listings run in the order it asked */
    hippo_request_query(&r->r, STMT_ROOMS_FOR_USER, 7, params, on_rooms);
}
