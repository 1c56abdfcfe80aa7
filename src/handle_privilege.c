/* handle_privilege.c - login awareness through XEP-0356 (privileged entity).
 *
 * A server configured to grant hippod's component the presence permission announces it in
 * a <message><privilege xmlns='urn:xmpp:privilege:N'><perm access='presence'
 * type='managed_entity'/>... right after the handshake (Prosody's mod_privilege: namespace
 * :2; ejabberd 23.01: :1), then forwards its users' broadcast presences to the component
 * as plain <presence/> stanzas from the user's full JID (both servers; neither wraps them
 * in <forwarded/>). hippod counts each bare JID's available resources in memory: the first
 * one up is a login (hippo.session_login: last_login_at, hotness and activePostsChanged
 * through the push outbox), one more up is a session start too (hippo.session_resend: the
 * two pushes again, as the original sent them on every session start), the last one down
 * is a logout (hippo.session_logout: last_logout_at).
 *
 * Without the permission nothing changes: presences to the service are dropped as before.
 *
 * A new stream starts empty. Prosody then sends the current presence of every online
 * session (XEP-0356 7.1) right after the permission, in the same burst; ejabberd 23.01
 * sends none, so users already online are unknown until their next presence (an unavailable
 * from a user with no known resource is taken as a logout: it is the best information there
 * is). To tell that burst from real logins, hippod pings the granting server as soon as the
 * permission arrives: the server answers after what it had already written, so a first
 * resource seen before the answer is a resumed session (hippo.session_resume: a login only
 * if the database does not have the user online already, e.g. after logging in while hippod
 * was down). docs/push.md "Login" has the whole story. */
#include "handle_privilege.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "send.h"
#include "stanza.h"
#include "xmpp_link.h"

#define STMT_LOGIN "session_login"
#define STMT_RESEND "session_resend"
#define STMT_LOGOUT "session_logout"
#define STMT_RESUME "session_resume"
#define MAX_DOMAINS 16 /* servers announce once per virtual host */
#define DOMAIN_MAX 256
#define INITIAL_BUCKETS 64

/* One bare JID's resources that are online. */
struct user {
    char *bare; /* lower case */
    char **resources;
    size_t n, cap;
    struct user *next; /* in its bucket */
};

struct hippo_logins {
    hippod *d;
    char domains[MAX_DOMAINS][DOMAIN_MAX]; /* user domains whose presences we receive */
    size_t n_domains;
    bool announced; /* a permission message arrived on this stream */
    struct event *ev_wait;
    /* the server's resend of the open sessions: until the answer to our ping (or the timer) */
    bool resyncing;
    unsigned resync_serial;
    char resync_id[32];
    struct event *ev_resync;
    struct user **buckets;
    size_t n_buckets, n_users;
};

void hippo_logins_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_LOGIN, "SELECT hippo.session_login($1)", 1);
    hippo_db_prepare(db, STMT_RESEND, "SELECT hippo.session_resend($1)", 1);
    hippo_db_prepare(db, STMT_LOGOUT, "SELECT hippo.session_logout($1)", 1);
    hippo_db_prepare(db, STMT_RESUME, "SELECT hippo.session_resume($1)", 1);
}

/* ------------------------------------------------------------------ the online set */

static uint64_t hash_of(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct user **slot_of(hippo_logins *l, const char *bare)
{
    struct user **p = &l->buckets[hash_of(bare) & (l->n_buckets - 1)];
    while (*p && strcmp((*p)->bare, bare) != 0)
        p = &(*p)->next;
    return p;
}

static void user_free(struct user *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->resources[i]);
    free(u->resources);
    free(u->bare);
    free(u);
}

static void clear_users(hippo_logins *l)
{
    for (size_t i = 0; i < l->n_buckets; i++)
        while (l->buckets[i]) {
            struct user *u = l->buckets[i];
            l->buckets[i] = u->next;
            user_free(u);
        }
    l->n_users = 0;
}

/* Doubles the table once it holds as many users as buckets; a failure keeps it as is. */
static void grow(hippo_logins *l)
{
    if (l->n_users < l->n_buckets)
        return;
    size_t n = l->n_buckets * 2;
    struct user **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < l->n_buckets; i++)
        while (l->buckets[i]) {
            struct user *u = l->buckets[i];
            l->buckets[i] = u->next;
            size_t j = hash_of(u->bare) & (n - 1);
            u->next = b[j];
            b[j] = u;
        }
    free(l->buckets);
    l->buckets = b;
    l->n_buckets = n;
}

static ptrdiff_t find_resource(const struct user *u, const char *resource)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->resources[i], resource) == 0)
            return (ptrdiff_t)i;
    return -1;
}

/* What a presence changed for its bare JID. */
enum change { NOTHING, LOGIN, ONE_MORE, LOGOUT, RESUME, NO_MEMORY };

static enum change resource_up(hippo_logins *l, const char *bare, const char *resource)
{
    struct user **slot = slot_of(l, bare);
    struct user *u = *slot;
    if (u && find_resource(u, resource) >= 0)
        return NOTHING; /* a status change of a resource we know */
    if (!u) {
        if (!(u = calloc(1, sizeof *u)) || !(u->bare = strdup(bare))) {
            free(u);
            return NO_MEMORY;
        }
        *slot = u;
        l->n_users++;
    }
    char *copy = strdup(resource);
    if (copy && u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 2;
        char **r = realloc(u->resources, cap * sizeof *r);
        if (r) {
            u->resources = r;
            u->cap = cap;
        }
    }
    if (!copy || u->n == u->cap) {
        free(copy);
        if (u->n == 0) { /* no user without resources stays behind */
            *slot = u->next;
            user_free(u);
            l->n_users--;
        }
        return NO_MEMORY;
    }
    u->resources[u->n++] = copy;
    if (u->n > 1)
        return ONE_MORE;
    grow(l);
    return LOGIN;
}

static enum change resource_down(hippo_logins *l, const char *bare, const char *resource)
{
    struct user **slot = slot_of(l, bare);
    struct user *u = *slot;
    if (!u) /* unknown since the stream started (ejabberd does not resend): see the top */
        return LOGOUT;
    ptrdiff_t i = find_resource(u, resource);
    if (i < 0)
        return NOTHING; /* another resource of the user is still known online */
    free(u->resources[i]);
    u->resources[i] = u->resources[--u->n];
    if (u->n > 0)
        return NOTHING;
    *slot = u->next;
    user_free(u);
    l->n_users--;
    return LOGOUT;
}

/* ------------------------------------------------------------------ the database */

struct call {
    hippod *d;
    const char *what;
    char bare[];
};

static void on_recorded(const PGresult *res, const char *error, void *arg)
{
    struct call *c = arg;
    if (!res)
        hippo_log(&c->d->log, HIPPO_LOG_WARNING, "login awareness: recording the %s of %s: %s",
                  c->what, c->bare, error ? error : "no result");
    else if (PQntuples(res) == 1 && PQgetisnull(res, 0, 0))
        hippo_log(&c->d->log, HIPPO_LOG_DEBUG, "login awareness: %s of %s, who is no user", c->what,
                  c->bare);
    else
        hippo_log(&c->d->log, HIPPO_LOG_DEBUG, "login awareness: %s of %s recorded", c->what,
                  c->bare);
    free(c);
}

static void record(hippod *d, enum change change, const char *bare)
{
    static const struct {
        const char *stmt, *what;
    } calls[] = {[LOGIN] = {STMT_LOGIN, "login"},
                 [ONE_MORE] = {STMT_RESEND, "new session"},
                 [LOGOUT] = {STMT_LOGOUT, "logout"},
                 [RESUME] = {STMT_RESUME, "resumed session"}};
    size_t len = strlen(bare) + 1;
    struct call *c = malloc(sizeof *c + len);
    if (!c) {
        hippo_log(&d->log, HIPPO_LOG_ERR, "login awareness: out of memory");
        return;
    }
    c->d = d;
    c->what = calls[change].what;
    memcpy(c->bare, bare, len);
    const char *params[] = {c->bare};
    /* keyed by the user: a login and the logout after it run in order */
    if (hippo_db_query_keyed(d->db, c->bare, calls[change].stmt, 1, params, on_recorded, c) < 0) {
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "login awareness: database busy or down, the %s of %s is not recorded", c->what,
                  c->bare);
        free(c);
    }
}

/* ------------------------------------------------------------------ stanzas */

static bool domain_granted(const hippo_logins *l, const char *domain)
{
    for (size_t i = 0; i < l->n_domains; i++)
        if (strcasecmp(l->domains[i], domain) == 0)
            return true;
    return false;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

void hippo_logins_presence(hippod *d, xmpp_stanza_t *presence, bool available)
{
    hippo_logins *l = d->logins;
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    const char *from = xmpp_stanza_get_from(presence);
    char *node = xmpp_jid_node(ctx, from);
    char *domain = xmpp_jid_domain(ctx, from);
    char *resource = xmpp_jid_resource(ctx, from);
    char *bare = xmpp_jid_bare(ctx, from);
    if (!domain || !domain_granted(l, domain))
        hippo_send_drop(d, presence, "presence-to-service"); /* as without the privilege */
    else if (!node || !*node || !resource || !*resource || !bare)
        hippo_send_drop(d, presence, "privileged-presence-not-full-jid");
    else {
        lower(bare);
        enum change change =
            available ? resource_up(l, bare, resource) : resource_down(l, bare, resource);
        if (l->resyncing && change == LOGIN)
            change = RESUME; /* a session open before this stream, resent by the server */
        else if (l->resyncing && change == ONE_MORE)
            change = NOTHING;
        if (change == NO_MEMORY)
            hippo_log(&d->log, HIPPO_LOG_ERR, "login awareness: out of memory");
        else if (change != NOTHING)
            record(d, change, bare);
    }
    xmpp_free(ctx, node);
    xmpp_free(ctx, domain);
    xmpp_free(ctx, resource);
    xmpp_free(ctx, bare);
}

static void start_resync(hippod *d, const char *server);

static void refuse(hippod *d, xmpp_stanza_t *message, const char *why)
{
    hippo_log(&d->log, HIPPO_LOG_WARNING, "XEP-0356: ignoring a permission message from %s: %s",
              xmpp_stanza_get_from(message), why);
    hippo_send_error(d, message, "modify", "bad-request", why);
}

/* The presence permission's type in PRIVILEGE, "none" when absent; NULL when malformed. */
static const char *presence_type(xmpp_stanza_t *privilege)
{
    const char *type = "none";
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(privilege); c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (!xmpp_stanza_is_tag(c) || !name || strcmp(name, "perm") != 0)
            continue;
        const char *access = xmpp_stanza_get_attribute(c, "access");
        const char *t = xmpp_stanza_get_attribute(c, "type");
        if (!access)
            return NULL;
        if (strcmp(access, "presence") != 0)
            continue;
        if (!t || (strcmp(t, "none") != 0 && strcmp(t, "managed_entity") != 0 &&
                   strcmp(t, "roster") != 0))
            return NULL;
        type = t;
    }
    return type;
}

void hippo_logins_privilege_message(hippod *d, xmpp_stanza_t *message, xmpp_stanza_t *privilege)
{
    hippo_logins *l = d->logins;
    const char *ns = xmpp_stanza_get_ns(privilege);
    const char *from = xmpp_stanza_get_from(message);
    /* :1 (XEP-0356 0.2, ejabberd 23.01) and :2 (0.4+, Prosody) announce alike */
    if (strcmp(ns, HIPPO_NS_PRIVILEGE_PREFIX "1") != 0 &&
        strcmp(ns, HIPPO_NS_PRIVILEGE_PREFIX "2") != 0) {
        refuse(d, message, "unknown privilege namespace version");
        return;
    }
    /* only a server sends it: a bare domain (a user cannot send from one) */
    if (strchr(from, '@') || strchr(from, '/') || strlen(from) >= DOMAIN_MAX) {
        refuse(d, message, "a permission message must come from a server domain");
        return;
    }
    const char *type = presence_type(privilege);
    if (!type) {
        refuse(d, message, "malformed <perm/> element");
        return;
    }
    l->announced = true;
    if (strcmp(type, "none") == 0) {
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "XEP-0356: %s granted no presence permission: login awareness off for its "
                  "users (see docs/deployment.md)",
                  from);
        return;
    }
    if (domain_granted(l, from))
        return;
    if (l->n_domains == MAX_DOMAINS) {
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "XEP-0356: more than %d domains granted presence: ignoring %s", MAX_DOMAINS,
                  from);
        return;
    }
    snprintf(l->domains[l->n_domains++], DOMAIN_MAX, "%s", from);
    start_resync(d, from);
    hippo_log(&d->log, HIPPO_LOG_NOTICE,
              "XEP-0356: %s granted the presence permission (%s, %s): login awareness on", from,
              type, ns);
}

/* ------------------------------------------------------------------ the resync window */

static void end_resync(hippo_logins *l, const char *why)
{
    if (!l->resyncing)
        return;
    l->resyncing = false;
    event_del(l->ev_resync);
    hippo_log(&l->d->log, HIPPO_LOG_INFO,
              "login awareness: %zu users online when the stream started (%s)", l->n_users, why);
}

/* Pings SERVER: what it sent before its answer is the resend of the open sessions. */
static void start_resync(hippod *d, const char *server)
{
    hippo_logins *l = d->logins;
    if (l->resyncing)
        return; /* one window per stream: the first server's */
    xmpp_ctx_t *ctx = hippo_link_ctx(d->link);
    snprintf(l->resync_id, sizeof l->resync_id, "hippo-resync-%u", ++l->resync_serial);
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", l->resync_id);
    if (!iq)
        return;
    xmpp_stanza_set_to(iq, server);
    bool sent = hippo_stanza_add_element(iq, "ping", "urn:xmpp:ping") && hippo_send(d, iq) == 0;
    xmpp_stanza_release(iq);
    if (!sent)
        return;
    l->resyncing = true;
    struct timeval tv = {.tv_sec = HIPPO_RESYNC_MAX_MS / 1000,
                         .tv_usec = (HIPPO_RESYNC_MAX_MS % 1000) * 1000};
    event_add(l->ev_resync, &tv);
}

static void on_resync_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    end_resync(arg, "no answer to the ping");
}

bool hippo_logins_iq_answer(hippod *d, xmpp_stanza_t *iq)
{
    hippo_logins *l = d->logins;
    const char *id = xmpp_stanza_get_id(iq);
    if (!l->resyncing || !id || strcmp(id, l->resync_id) != 0)
        return false;
    end_resync(l, "the server answered the ping");
    return true;
}

/* ------------------------------------------------------------------ lifetime */

static void on_wait(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_logins *l = arg;
    if (l->n_domains == 0 && !l->announced) /* a grant without presence was logged */
        hippo_log(&l->d->log, HIPPO_LOG_NOTICE,
                  "XEP-0356: no presence permission from the XMPP server: login awareness off "
                  "(everything else works; see docs/deployment.md \"Login awareness\")");
}

void hippo_logins_link_state(hippo_logins *l, bool up)
{
    clear_users(l);
    l->n_domains = 0;
    l->announced = false;
    l->resyncing = false;
    event_del(l->ev_wait);
    event_del(l->ev_resync);
    if (up) {
        struct timeval tv = {.tv_sec = HIPPO_PRIVILEGE_WAIT_MS / 1000,
                             .tv_usec = (HIPPO_PRIVILEGE_WAIT_MS % 1000) * 1000};
        event_add(l->ev_wait, &tv);
    }
}

const char *hippo_logins_privilege(const hippo_logins *l)
{
    return l->n_domains > 0 ? "presence" : "none";
}

hippo_logins *hippo_logins_new(hippod *d)
{
    hippo_logins *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->d = d;
    l->n_buckets = INITIAL_BUCKETS;
    l->buckets = calloc(l->n_buckets, sizeof *l->buckets);
    l->ev_wait = evtimer_new(d->base, on_wait, l);
    l->ev_resync = evtimer_new(d->base, on_resync_timeout, l);
    if (!l->buckets || !l->ev_wait || !l->ev_resync) {
        hippo_logins_free(l);
        return NULL;
    }
    return l;
}

void hippo_logins_free(hippo_logins *l)
{
    if (!l)
        return;
    if (l->buckets)
        clear_users(l);
    free(l->buckets);
    if (l->ev_wait)
        event_free(l->ev_wait);
    if (l->ev_resync)
        event_free(l->ev_resync);
    free(l);
}
