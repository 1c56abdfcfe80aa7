/* router.c - routes every incoming stanza by address kind, stanza kind and namespace.
 *
 * Addresses: the bare component domain answers the service IQs (disco, ping, version, the
 * dumbhippo protocol); NODE@domain is a room. Every get/set IQ gets exactly one answer;
 * results and errors are never answered (RFC 6120 8.3.1), only counted. */
#include "router.h"
#include "send.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "handlers.h"
#include "rooms.h"
#include "stanza.h"
#include "xmpp_link.h"

static void route_service_iq(hippod *d, xmpp_stanza_t *iq)
{
    xmpp_stanza_t *payload = hippo_send_iq_payload(d, iq);
    if (!payload)
        return;
    const char *ns = xmpp_stanza_get_ns(payload);
    bool is_get = strcmp(xmpp_stanza_get_type(iq), "get") == 0;
    if (ns && strncmp(ns, HIPPO_NS_PROTOCOL_PREFIX, strlen(HIPPO_NS_PROTOCOL_PREFIX)) == 0) {
        hippo_protocol_iq(d, iq, payload);
        return;
    }
    hippo_iq_handler handler = ns && is_get ? hippo_disco_get_handler(ns) : NULL;
    if (handler) {
        handler(d, iq, payload);
        return;
    }
    hippo_send_error(d, iq, "cancel", "service-unavailable",
                     "this service does not handle that request");
}

static void route_service(hippod *d, xmpp_stanza_t *stanza, const char *name)
{
    if (strcmp(name, "iq") == 0)
        route_service_iq(d, stanza);
    else if (strcmp(name, "message") == 0)
        hippo_send_error(d, stanza, "cancel", "service-unavailable",
                         "messages to the service itself are not handled");
    else
        hippo_send_drop(d, stanza, "presence-to-service");
}

/* Splits TO into "has a node" and checks its domain is ours. */
static int classify_address(hippod *d, const char *to, bool *has_node)
{
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    char *domain = xmpp_jid_domain(ctx, to);
    char *node = xmpp_jid_node(ctx, to);
    int rc = domain && strcasecmp(domain, d->cfg.component_domain) == 0 ? 0 : -1;
    *has_node = node != NULL;
    xmpp_free(ctx, domain);
    xmpp_free(ctx, node);
    return rc;
}

/* While a graceful stop drains, only what ends work is taken: results and errors (pings
 * answered, bounces) and leaves. A new request would start work the stop must not wait
 * for, so it gets a wait error and the client retries once hippod is back. */
static bool taken_while_stopping(xmpp_stanza_t *stanza)
{
    const char *type = xmpp_stanza_get_type(stanza);
    return hippo_stanza_is_reply_type(type) || (type && strcmp(type, "unavailable") == 0);
}

void hippo_router_stanza(hippod *d, xmpp_stanza_t *stanza)
{
    const char *name = xmpp_stanza_get_name(stanza);
    enum hippo_stanza_kind kind = hippo_stanza_kind_of(name ? name : "");
    d->metrics.stanzas_in[kind]++;
    if (kind == HIPPO_STANZA_OTHER) {
        hippo_send_drop(d, stanza, "unknown-element");
        return;
    }
    const char *to = xmpp_stanza_get_to(stanza);
    bool has_node = false;
    if (!to || !xmpp_stanza_get_from(stanza) || classify_address(d, to, &has_node) < 0) {
        hippo_send_drop(d, stanza, "bad-address");
        return;
    }
    if (d->stopping && !taken_while_stopping(stanza)) {
        hippo_send_error(d, stanza, "wait", "service-unavailable",
                         "the service is restarting, try again shortly");
        return;
    }
    if (has_node) {
        hippo_rooms_stanza(d, stanza); /* errors too: bounces of what rooms sent */
        return;
    }
    const char *type = xmpp_stanza_get_type(stanza);
    if (hippo_stanza_is_reply_type(type)) {
        hippo_send_drop(d, stanza,
                        strcmp(type, "error") == 0 ? "error-received" : "unexpected-result");
        return;
    }
    route_service(d, stanza, name);
}
