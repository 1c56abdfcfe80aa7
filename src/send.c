/* send.c - the one send path: stanzas out, error answers, counted drops. */
#include "send.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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
    /* XEP-0045 clients match a presence error (a refused room join) by its <x muc/> */
    if (reply && strcmp(xmpp_stanza_get_name(reply), "presence") == 0 &&
        !hippo_stanza_add_element(reply, "x", "http://jabber.org/protocol/muc")) {
        xmpp_stanza_release(reply);
        reply = NULL;
    }
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

int hippo_send_many_init(hippod *d, hippo_send_many *m, xmpp_stanza_t *stanza)
{
    const char *name = xmpp_stanza_get_name(stanza);
    *m = (hippo_send_many){0};
    if (!name || strlen(name) >= sizeof m->name)
        return -1;
    snprintf(m->name, sizeof m->name, "%s", name);
    m->head_len = 1 + strlen(name);
    xmpp_stanza_del_attribute(stanza, "to");
    if (!xmpp_stanza_get_from(stanza))
        xmpp_stanza_set_from(stanza, d->cfg.component_domain);
    return xmpp_stanza_to_text(stanza, &m->text, &m->len) == XMPP_EOK ? 0 : -1;
}

/* Writes S escaped for a double-quoted attribute at P (room for 6 bytes per byte of S);
 * returns the end. */
static char *put_attr_escaped(char *p, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '"' ? "&quot;" : NULL;
        if (!e) {
            *p++ = *s;
            continue;
        }
        size_t n = strlen(e);
        memcpy(p, e, n);
        p += n;
    }
    return p;
}

int hippo_send_many_to(hippod *d, const hippo_send_many *m, const char *to)
{
    static const char open[] = " to=\"";
    char small[2048];
    size_t need = m->len + sizeof open + 6 * strlen(to) + 1;
    char *buf = need <= sizeof small ? small : malloc(need);
    if (!buf) {
        hippo_log(&d->log, HIPPO_LOG_ERR, "out of memory sending a <%s>", m->name);
        return -1;
    }
    char *p = buf;
    memcpy(p, m->text, m->head_len);
    p += m->head_len;
    memcpy(p, open, sizeof open - 1);
    p = put_attr_escaped(p + sizeof open - 1, to);
    *p++ = '"';
    memcpy(p, m->text + m->head_len, m->len - m->head_len);
    p += m->len - m->head_len;
    int rc = hippo_link_send_text(d->link, m->name, buf, (size_t)(p - buf));
    if (buf != small)
        free(buf);
    return rc;
}

void hippo_send_many_free(hippod *d, hippo_send_many *m)
{
    if (m->text)
        xmpp_free(hippo_link_ctx(d->link), m->text);
    m->text = NULL;
}
