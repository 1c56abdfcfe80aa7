/* push_hotness.c - hotness (original-behaviour.md 4.7): <hotness value=.../> as a headline
 * to each user whose hotness differs from the value last pushed to them
 * (hippo.push_hotness_sent). An event names a user (a view, an ignore, a membership, a
 * value gone stale with time) or a post (its receivers, when it is created). Two queries
 * per event whatever the audience: the changes, then the record of what was sent, written
 * only once every headline was handed to the link. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "post_xml.h"
#include "send.h"
#include "push_kinds.h"
#include "push_xml.h"
#include "xmpp_link.h"

#define STMT_CHANGES "push_hotness_changes"
#define STMT_RECORD "push_hotness_record"
#define VALUE_MAX 16 /* GETTING_HOT is the longest */

struct change {
    char user_id[HIPPO_GUID_LEN + 1];
    char value[VALUE_MAX];
    char *jid;
};

struct hotness {
    hippod *d;
    struct change *changes;
    size_t n;
};

void hippo_push_hotness_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_CHANGES,
                     "SELECT user_id, jid, value"
                     " FROM hippo.push_hotness_changes(nullif($1, ''), nullif($2, ''))",
                     2);
    hippo_db_prepare(db, STMT_RECORD, "SELECT hippo.push_hotness_record($1::text[], $2::text[])",
                     2);
}

static void hotness_free(void *arg)
{
    struct hotness *h = arg;
    for (size_t i = 0; i < h->n; i++)
        free(h->changes[i].jid);
    free(h->changes);
    free(h);
}

static void finish(struct hotness *h, bool sent)
{
    hippod *d = h->d;
    hotness_free(h);
    hippo_push_event_done(d->push, sent);
}

static int send_one(void *arg, size_t i)
{
    struct hotness *h = arg;
    xmpp_ctx_t *ctx = hippo_link_ctx(h->d->link);
    xmpp_stanza_t *payload = hippo_post_xml_hotness(ctx, h->changes[i].value);
    xmpp_stanza_t *msg = payload ? hippo_push_xml_message(ctx, "headline", NULL, payload) : NULL;
    int rc = -1;
    if (msg) {
        xmpp_stanza_set_to(msg, h->changes[i].jid);
        rc = hippo_send(h->d, msg);
        xmpp_stanza_release(msg);
    }
    if (payload)
        xmpp_stanza_release(payload);
    return rc;
}

static void on_recorded(const PGresult *res, const char *error, void *arg)
{
    struct hotness *h = arg;
    if (!res) /* sent but not recorded: sent again (at-least-once) */
        hippo_log(&h->d->log, HIPPO_LOG_WARNING, "push: recording hotness: %s", error);
    finish(h, res != NULL);
}

/* "{A,B,...}" of field OFFSET of each change: GUIDs and hotness values need no quoting.
 * The caller frees it. */
static char *array_of(const struct hotness *h, size_t offset)
{
    char *out = malloc(h->n * (VALUE_MAX + HIPPO_GUID_LEN + 1) + 3);
    if (!out)
        return NULL;
    strcpy(out, "{");
    for (size_t i = 0; i < h->n; i++) {
        strcat(out, i ? "," : "");
        strcat(out, (const char *)&h->changes[i] + offset);
    }
    strcat(out, "}");
    return out;
}

static void on_sent(void *arg, bool sent)
{
    struct hotness *h = arg;
    if (!sent) {
        finish(h, false);
        return;
    }
    char *users = array_of(h, offsetof(struct change, user_id));
    char *values = array_of(h, offsetof(struct change, value));
    const char *params[] = {users, values};
    if (!users || !values || hippo_db_query(h->d->db, STMT_RECORD, 2, params, on_recorded, h) < 0)
        finish(h, false);
    free(users);
    free(values);
}

static int copy_changes(struct hotness *h, const PGresult *res)
{
    size_t n = (size_t)PQntuples(res);
    h->changes = calloc(n, sizeof *h->changes);
    if (!h->changes)
        return -1;
    for (; h->n < n; h->n++) {
        struct change *c = &h->changes[h->n];
        int row = (int)h->n;
        snprintf(c->user_id, sizeof c->user_id, "%s", PQgetvalue(res, row, 0));
        snprintf(c->value, sizeof c->value, "%s", PQgetvalue(res, row, 2));
        if (!(c->jid = strdup(PQgetvalue(res, row, 1))))
            return -1;
    }
    return 0;
}

static void on_changes(const PGresult *res, const char *error, void *arg)
{
    struct hotness *h = arg;
    if (!res) {
        hippo_log(&h->d->log, HIPPO_LOG_WARNING, "push: hotness: %s", error);
        finish(h, false);
        return;
    }
    if (PQntuples(res) == 0) {
        finish(h, true);
        return;
    }
    if (copy_changes(h, res) < 0 ||
        hippo_push_fanout(h->d->push, h->n, send_one, on_sent, hotness_free, h) < 0)
        finish(h, false);
}

void hippo_push_hotness(hippod *d, const hippo_push_event *ev)
{
    struct hotness *h = calloc(1, sizeof *h);
    if (!h) {
        hippo_push_event_done(d->push, false);
        return;
    }
    h->d = d;
    const char *params[] = {ev->post_id, ev->user_id};
    if (hippo_db_query(d->db, STMT_CHANGES, 2, params, on_changes, h) < 0)
        finish(h, false);
}
