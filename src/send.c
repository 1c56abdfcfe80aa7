/* send.c - the one send path: stanzas out, error answers, counted drops. */
#include "send.h"

#include <stdbool.h>
#include <string.h>

#include "db.h"
#include "stanza.h"
#include "xmpp_link.h"

int hippo_send(hippod *d, xmpp_stanza_t *stanza)
{
    return hippo_link_send(d->link, stanza);
}

void hippo_send_drop(hippod *d, xmpp_stanza_t *stanza, const char *reason)
{
    const char *name = xmpp_stanza_get_name(stanza);
    const char *from = xmpp_stanza_get_from(stanza);
    hippo_metrics_count(&d->metrics.drops, reason);
    hippo_log(&d->log, HIPPO_LOG_DEBUG, "dropped <%s> from %s: %s", name ? name : "?",
              from ? from : "(none)", reason);
}

void hippo_send_error(hippod *d, xmpp_stanza_t *request, const char *type, const char *condition,
                      const char *text)
{
    if (hippo_stanza_is_reply_type(xmpp_stanza_get_type(request))) {
        hippo_send_drop(d, request, "no-error-to-result-or-error");
        return;
    }
    if (!xmpp_stanza_get_from(request)) {
        hippo_send_drop(d, request, "no-sender");
        return;
    }
    xmpp_stanza_t *reply =
        hippo_stanza_error(hippo_link_ctx(d->link), request, type, condition, text);
    if (!reply) {
        hippo_log(&d->log, HIPPO_LOG_ERR, "out of memory building a %s error", condition);
        return;
    }
    hippo_metrics_count(&d->metrics.errors, condition);
    hippo_send(d, reply);
    xmpp_stanza_release(reply);
}

static bool is_get_or_set(const char *type)
{
    return type && (strcmp(type, "get") == 0 || strcmp(type, "set") == 0);
}

/* RFC 6120 8.2.3: a get or set carries exactly one payload element. */
xmpp_stanza_t *hippo_send_iq_payload(hippod *d, xmpp_stanza_t *iq)
{
    const char *type = xmpp_stanza_get_type(iq);
    if (!is_get_or_set(type)) {
        hippo_send_error(d, iq, "modify", "bad-request", "iq type must be get or set");
        return NULL;
    }
    if (!xmpp_stanza_get_id(iq)) {
        hippo_send_error(d, iq, "modify", "bad-request", "iq without id");
        return NULL;
    }
    if (hippo_stanza_element_count(iq) != 1) {
        hippo_send_error(d, iq, "modify", "bad-request",
                         "iq get/set must carry exactly one payload element");
        return NULL;
    }
    return hippo_stanza_first_element(iq);
}

void hippo_send_db_refusal(const hippod *d, const char **condition, const char **text)
{
    bool up = hippo_db_is_up(d->db);
    *condition = up ? "resource-constraint" : "internal-server-error";
    *text = up ? "database overloaded, try again later" : "database unavailable, try again later";
}
