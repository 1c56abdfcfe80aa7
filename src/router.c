/* router.c - routes every incoming stanza by address kind, stanza kind and namespace.
 *
 * Addresses: the bare component domain answers the service IQs (disco, ping, version, the
 * dumbhippo protocol) and takes the XEP-0356 permission message and the users' presences
 * the server forwards with it (handle_privilege.c); NODE@domain is a room. Every get/set IQ gets
 * exactly one answer; results and errors are never answered (RFC 6120 8.3.1), only counted. */
#include "router.h"
#include "send.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "guid.h"
#include "handle_privilege.h"
#include "handlers.h"
#include "room_handlers.h"
#include "stanza.h"
#include "xmpp_link.h"

/* Where a stanza is addressed. */
enum to_class {
    TO_SERVICE = 1, /* the bare component domain */
    TO_ROOM = 2,    /* NODE@domain[/resource], NODE a room's GUID */
    TO_NO_ROOM = 4, /* NODE@domain[/resource], NODE no GUID */
};

/* The stanza's type, as the table tells them apart. */
enum type_class {
    T_NONE = 1,
    T_GET = 2,
    T_SET = 4,
    T_RESULT = 8,
    T_ERROR = 16,
    T_AVAILABLE = 32, /* presence type="available" (not in RFC 6121, taken as none) */
    T_UNAVAILABLE = 64,
    T_OTHER = 128, /* groupchat, chat, normal, headline, probe, subscribe ... */
    T_ANY = 255,
};

/* An incoming stanza, parsed once: its address and kind. */
typedef struct stanza_in {
    xmpp_stanza_t *stanza;
    const char *name;
    enum to_class to;
    enum type_class type;
    xmpp_stanza_t *payload; /* a checked get/set's only child, a message's first extension
                             * element (see extension_of), else NULL */
    const char *ns;         /* the payload's namespace, or NULL */
    char room_id[HIPPO_GUID_LEN + 1];
    const char *nick; /* the resource of the address, or NULL */
} stanza_in;

typedef void (*route_fn)(hippod *d, const stanza_in *in, const char *arg);

static void drop(hippod *d, const stanza_in *in, const char *reason)
{
    hippo_send_drop(d, in->stanza, reason);
}

static void refuse(hippod *d, const stanza_in *in, const char *text)
{
    hippo_send_error(d, in->stanza, "cancel", "service-unavailable", text);
}

static void no_such_room(hippod *d, const stanza_in *in, const char *text)
{
    hippo_send_error(d, in->stanza, "cancel", "item-not-found", text);
}

static void protocol_iq(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_protocol_iq(d, in->stanza, in->payload);
}

static void disco_info(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_disco_info(d, in->stanza, in->payload);
}

static void disco_items(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_disco_items(d, in->stanza, in->payload);
}

static void ping(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_disco_ping(d, in->stanza, in->payload);
}

static void version(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_disco_version(d, in->stanza, in->payload);
}

static void privilege_message(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_logins_privilege_message(d, in->stanza, in->payload);
}

static void iq_answer(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    if (!hippo_logins_iq_answer(d, in->stanza))
        drop(d, in, in->type & T_ERROR ? "error-received" : "unexpected-result");
}

static void user_presence(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_logins_presence(d, in->stanza, !(in->type & T_UNAVAILABLE));
}

static void room_bounce(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_room_bounce(d, in->stanza, in->room_id);
}

static void room_join(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_room_join(d, in->stanza, in->room_id, in->nick);
}

static void room_leave(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_room_leave(d, in->stanza, in->room_id);
}

static void room_message(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_room_message(d, in->stanza, in->room_id, in->nick);
}

static void room_archive(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_room_archive(d, in->stanza, in->payload, in->room_id, in->nick);
}

static void room_iq(hippod *d, const stanza_in *in, const char *arg)
{
    (void)arg;
    hippo_room_iq(d, in->stanza, in->payload, in->room_id, in->nick);
}

/* Which handler serves which stanza: the first row that matches wins. A NULL name or ns
 * matches any; an ns ending in '*' is a prefix. Results and errors are never answered (RFC
 * 6120 8.3.1), only counted, except the errors that bounce what rooms sent to an occupant. */
static const struct route {
    int to;
    const char *name;
    int types;
    const char *ns;
    route_fn handle;
    const char *arg; /* the drop reason or the error text */
} routes[] = {
    /* the component domain */
    {TO_SERVICE, "iq", T_RESULT | T_ERROR, NULL, iq_answer, NULL}, /* the resync ping's */
    {TO_SERVICE, NULL, T_ERROR, NULL, drop, "error-received"},
    {TO_SERVICE, NULL, T_RESULT, NULL, drop, "unexpected-result"},
    {TO_SERVICE, "iq", T_GET | T_SET, HIPPO_NS_PROTOCOL_PREFIX "*", protocol_iq, NULL},
    {TO_SERVICE, "iq", T_GET, HIPPO_NS_DISCO_INFO, disco_info, NULL},
    {TO_SERVICE, "iq", T_GET, HIPPO_NS_DISCO_ITEMS, disco_items, NULL},
    {TO_SERVICE, "iq", T_GET, HIPPO_NS_PING, ping, NULL},
    {TO_SERVICE, "iq", T_GET, HIPPO_NS_VERSION, version, NULL},
    {TO_SERVICE, "iq", T_ANY, NULL, refuse, "this service does not handle that request"},
    /* XEP-0356: the server's permission announcement, then its users' presences */
    {TO_SERVICE, "message", T_NONE | T_OTHER, HIPPO_NS_PRIVILEGE_PREFIX "*", privilege_message,
     NULL},
    {TO_SERVICE, "message", T_ANY, NULL, refuse, "messages to the service itself are not handled"},
    {TO_SERVICE, "presence", T_NONE | T_AVAILABLE | T_UNAVAILABLE, NULL, user_presence, NULL},
    {TO_SERVICE, "presence", T_ANY, NULL, drop, "presence-to-service"},
    /* rooms and their occupants */
    {TO_ROOM, NULL, T_ERROR, NULL, room_bounce, NULL},
    {TO_NO_ROOM, NULL, T_ERROR, NULL, drop, "error-received"},
    {TO_ROOM | TO_NO_ROOM, NULL, T_RESULT, NULL, drop, "room-result"}, /* e.g. sweep pings */
    {TO_NO_ROOM, "presence", T_UNAVAILABLE | T_OTHER, NULL, drop, "presence-to-unknown-room"},
    {TO_NO_ROOM, NULL, T_ANY, NULL, no_such_room, "no such room"},
    {TO_ROOM, "presence", T_NONE | T_AVAILABLE, NULL, room_join, NULL},
    {TO_ROOM, "presence", T_UNAVAILABLE, NULL, room_leave, NULL},
    {TO_ROOM, "presence", T_ANY, NULL, drop, "room-presence-type"},
    {TO_ROOM, "message", T_ANY, NULL, room_message, NULL},
    {TO_ROOM, "iq", T_GET | T_SET, "urn:xmpp:mam:2", room_archive, NULL}, /* XEP-0313 */
    {TO_ROOM, "iq", T_GET | T_SET, NULL, room_iq, NULL},
};

static enum type_class type_class_of(const char *type)
{
    static const struct {
        const char *name;
        enum type_class class;
    } types[] = {{"get", T_GET},
                 {"set", T_SET},
                 {"result", T_RESULT},
                 {"error", T_ERROR},
                 {"available", T_AVAILABLE},
                 {"unavailable", T_UNAVAILABLE}};
    if (!type)
        return T_NONE;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].name, type) == 0)
            return types[i].class;
    return T_OTHER;
}

static bool ns_matches(const char *pattern, const char *ns)
{
    if (!pattern)
        return true;
    size_t n = strlen(pattern);
    if (!ns)
        return false;
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(pattern, ns, n - 1) == 0;
    return strcmp(pattern, ns) == 0;
}

/* A message's first child element in a namespace of its own (an extension such as
 * <privilege/>), or NULL: children in the stream's namespaces (<body/>, <subject/>) are
 * skipped whether the parser gave them their namespace or none. */
static xmpp_stanza_t *extension_of(xmpp_stanza_t *message)
{
    const char *own = xmpp_stanza_get_ns(message);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(message); c; c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_ns(c) : NULL;
        if (ns && (!own || strcmp(ns, own) != 0) && strcmp(ns, "jabber:client") != 0 &&
            strcmp(ns, "jabber:component:accept") != 0)
            return c;
    }
    return NULL;
}

static const struct route *route_of(const stanza_in *in)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        if ((r->to & in->to) && (!r->name || strcmp(r->name, in->name) == 0) &&
            (r->types & in->type) && ns_matches(r->ns, in->ns))
            return r;
    }
    return NULL;
}

/* Fills IN's address from TO (NODE and RESOURCE freed by the caller); false when the domain
 * is not ours. */
static bool parse_address(hippod *d, const char *to, stanza_in *in, char **node, char **resource)
{
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    char *domain = xmpp_jid_domain(ctx, to);
    bool ours = domain && strcasecmp(domain, d->cfg.component_domain) == 0;
    xmpp_free(ctx, domain);
    if (!ours)
        return false;
    *node = xmpp_jid_node(ctx, to);
    *resource = xmpp_jid_resource(ctx, to);
    if (!*node)
        in->to = TO_SERVICE;
    else if (hippo_guid_from_node(*node, strlen(*node), in->room_id) == 0)
        in->to = TO_ROOM;
    else
        in->to = TO_NO_ROOM;
    in->nick = *resource && **resource ? *resource : NULL;
    return true;
}

/* While a graceful stop drains, only what ends work is taken: results and errors (pings
 * answered, bounces) and leaves. A new request would start work the stop must not wait
 * for, so it gets a wait error and the client retries once hippod is back. Presences to the
 * service are no requests (the server forwards them, XEP-0356): never answered. */
static bool taken_while_stopping(const stanza_in *in)
{
    return (in->type & (T_RESULT | T_ERROR | T_UNAVAILABLE)) ||
           (in->to == TO_SERVICE && strcmp(in->name, "presence") == 0);
}

static void route(hippod *d, stanza_in *in)
{
    if (d->stopping && !taken_while_stopping(in)) {
        hippo_send_error(d, in->stanza, "wait", "service-unavailable",
                         "the service is restarting, try again shortly");
        return;
    }
    /* every get/set must be well formed before anything looks at its payload */
    if (strcmp(in->name, "iq") == 0 && !(in->type & (T_RESULT | T_ERROR))) {
        in->payload = hippo_send_iq_payload(d, in->stanza);
        if (!in->payload)
            return;
        in->ns = xmpp_stanza_get_ns(in->payload);
    } else if (in->to == TO_SERVICE && strcmp(in->name, "message") == 0) { /* not rooms': hot */
        in->payload = extension_of(in->stanza);
        in->ns = in->payload ? xmpp_stanza_get_ns(in->payload) : NULL;
    }
    const struct route *r = route_of(in);
    if (r)
        r->handle(d, in, r->arg);
    else
        hippo_send_drop(d, in->stanza, "no-route"); /* the table covers every case */
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
    stanza_in in = {
        .stanza = stanza, .name = name, .type = type_class_of(xmpp_stanza_get_type(stanza))};
    const char *to = xmpp_stanza_get_to(stanza);
    char *node = NULL, *resource = NULL;
    if (to && xmpp_stanza_get_from(stanza) && parse_address(d, to, &in, &node, &resource))
        route(d, &in);
    else
        hippo_send_drop(d, stanza, "bad-address");
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    xmpp_free(ctx, node);
    xmpp_free(ctx, resource);
}
