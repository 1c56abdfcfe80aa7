/* daemon.c - the daemon's lifetime: start the link, database and HTTP listener on one
 * libevent loop, tell systemd how things are, reload on SIGHUP, stop on SIGTERM/SIGINT. */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "handle_privilege.h"
#include "handlers.h"
#include "hippod.h"
#include "http.h"
#include "post_payload.h"
#include "protocol.h"
#include "push.h"
#include "push_kinds.h"
#include "rooms.h"
#include "router.h"
#include "sdnotify.h"
#include "user_cache.h"
#include "xmpp_link.h"

#define TICK_MAX_USEC 1000000
#define DRAIN_POLL_USEC 10000
#define USER_CACHE_MAX 65536 /* senders remembered; at most ~5 MiB */

/* Why the link is down, or NULL when it is up. */
static const char *link_down_reason(const hippod *d)
{
    return d->link_started ? hippo_link_down_reason(d->link) : "waiting for the database";
}

/* Waiting to take over from another hippod that holds the component domain. */
static bool standby(const hippod *d)
{
    return d->link_started && hippo_link_is_standby(d->link);
}

static void update_status(hippod *d)
{
    const char *link_reason = link_down_reason(d);
    const char *db_reason = hippo_db_down_reason(d->db);
    char status[sizeof d->last_status];
    snprintf(status, sizeof status, "xmpp: %s%s%s; database: %s%s%s",
             standby(d)    ? "standby ("
             : link_reason ? "down ("
                           : "up",
             link_reason ? link_reason : "", link_reason ? ")" : "", db_reason ? "down (" : "up",
             db_reason ? db_reason : "", db_reason ? ")" : "");
    if (strcmp(status, d->last_status) == 0)
        return;
    snprintf(d->last_status, sizeof d->last_status, "%s", status);
    char msg[sizeof status + 16];
    snprintf(msg, sizeof msg, "STATUS=%s", status);
    hippo_sd_notify(msg);
}

static int health(void *arg, char *reason, size_t reason_len)
{
    hippod *d = arg;
    const char *link_reason = link_down_reason(d);
    const char *db_reason = hippo_db_down_reason(d->db);
    if (!link_reason && !db_reason)
        return HIPPO_HEALTH_OK;
    if (standby(d) && !db_reason) {
        snprintf(reason, reason_len, "%s", link_reason);
        return HIPPO_HEALTH_STANDBY;
    }
    snprintf(reason, reason_len, "%s%s%s%s%s", link_reason ? "xmpp link down: " : "",
             link_reason ? link_reason : "", link_reason && db_reason ? "; " : "",
             db_reason ? "database down: " : "", db_reason ? db_reason : "");
    return HIPPO_HEALTH_DOWN;
}

/* S as the inside of a JSON string into OUT (cut to fit). */
static void json_escape(const char *s, char *out, size_t len)
{
    size_t used = 0;
    for (; *s && used + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            used += (size_t)snprintf(out + used, len - used, "\\%c", c);
        else if (c < 0x20)
            used += (size_t)snprintf(out + used, len - used, "\\u%04x", c);
        else
            out[used++] = (char)c;
    }
    out[used] = '\0';
}

/* GET /healthz?detail: the same verdict and what else an operator asks first. */
static void health_detail(void *arg, int healthy, const char *reason, char *out, size_t len)
{
    hippod *d = arg;
    char why[512];
    json_escape(reason, why, sizeof why);
    static const char *const verdicts[] = {[HIPPO_HEALTH_DOWN] = "unhealthy",
                                           [HIPPO_HEALTH_OK] = "ok",
                                           [HIPPO_HEALTH_STANDBY] = "standby"};
    uint64_t last = d->link_started ? hippo_link_last_stanza_usec(d->link) : 0;
    char age[32] = "null"; /* no stanza yet */
    if (last)
        snprintf(age, sizeof age, "%.1f", (double)(hippo_monotonic_usec() - last) / 1e6);
    snprintf(out, len,
             "{\"status\": \"%s\", \"reason\": \"%s\", \"xmpp\": \"%s\", \"database\": \"%s\","
             " \"privilege\": \"%s\", \"last_stanza_age_s\": %s}\n",
             verdicts[healthy], why,
             standby(d)            ? "standby"
             : link_down_reason(d) ? "down"
                                   : "up",
             hippo_db_down_reason(d->db) ? "down" : "up", hippo_logins_privilege(d->logins), age);
}

static char *render_metrics(void *arg)
{
    hippod *d = arg;
    return hippo_metrics_render(&d->metrics);
}

static void on_link_stanza(xmpp_stanza_t *stanza, void *arg)
{
    hippo_router_stanza(arg, stanza);
}

static void on_link_state(bool up, const char *reason, bool closed, void *arg)
{
    (void)reason;
    hippod *d = arg;
    if (closed && d->stopping) {
        event_base_loopexit(d->base, NULL);
        return;
    }
    update_status(d);
    hippo_logins_link_state(d->logins, up);
    if (up)
        hippo_push_wake(d->push); /* events waited for the link */
    hippo_rooms_sweep(d);         /* no-op unless link and database are both up */
}

/* The link starts once the database is first up: a client served before that would get
 * an internal-server-error for hippod's own start-up, where the XMPP server's
 * "service unavailable" tells it the truth. A later database loss keeps the link up and
 * answers wait errors. */
static void start_link_once(hippod *d)
{
    if (d->link_started || d->stopping)
        return;
    d->link_started = true;
    hippo_link_start(d->link);
}

static void on_db_state(bool up, const char *reason, void *arg)
{
    (void)reason;
    hippod *d = arg;
    if (up)
        start_link_once(d);
    update_status(d);
    hippo_user_cache_clear(d->users);  /* user changes may have gone unnoticed meanwhile */
    hippo_rooms_forget(d->rooms, "*"); /* and room changes */
    if (up)
        hippo_push_wake(d->push); /* drain what was written meanwhile */
    hippo_rooms_sweep(d);
}

void hippod_on_db_notify(const char *channel, const char *payload, bool own, void *arg)
{
    /* the outbox table holds the events; user changes clear the whole cache */
    hippod *d = arg;
    if (strcmp(channel, HIPPO_USERS_CHANNEL) == 0)
        hippo_user_cache_clear(d->users);
    else if (strcmp(channel, HIPPO_ROOMS_CHANNEL) == 0)
        hippo_rooms_notified(d, payload, own);
    else
        hippo_push_wake(d->push);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippod *d = arg;
    if (d->watchdog_usec) {
        uint64_t now = hippo_monotonic_usec();
        if (now - d->last_watchdog_usec >= d->watchdog_usec / 2) {
            hippo_sd_notify("WATCHDOG=1");
            d->last_watchdog_usec = now;
        }
    }
    update_status(d);
}

#define SWAP(a, b)                                                                                 \
    do {                                                                                           \
        __typeof__(a) tmp_ = (a);                                                                  \
        (a) = (b);                                                                                 \
        (b) = tmp_;                                                                                \
    } while (0)

/* Takes from FRESH what can change while running; FRESH keeps the old values to be freed. */
static void apply_live_settings(hippod *d, hippo_config *fresh)
{
    hippo_db_set_conninfo(d->db, fresh->database_conninfo);
    SWAP(d->cfg.database_conninfo, fresh->database_conninfo);
    SWAP(d->cfg.clients, fresh->clients);
    SWAP(d->cfg.n_clients, fresh->n_clients);
    d->cfg.log_level = fresh->log_level;
    d->cfg.rooms_max_body_bytes = fresh->rooms_max_body_bytes;
    d->cfg.rooms_messages_per_second = fresh->rooms_messages_per_second;
    d->cfg.rooms_message_burst = fresh->rooms_message_burst;
    d->cfg.rooms_max_history = fresh->rooms_max_history;
    d->cfg.rooms_max_occupants = fresh->rooms_max_occupants;
    d->cfg.rooms_batch_max = fresh->rooms_batch_max;
    d->cfg.push_live_post_interval_ms = fresh->push_live_post_interval_ms;
}

/* SIGHUP: re-read the file; apply what can change live, keep the rest (and say so). */
static void reload(hippod *d)
{
    char msg[64];
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)hippo_monotonic_usec());
    hippo_sd_notify(msg);
    hippo_config fresh;
    char err[512];
    if (hippo_config_load(d->config_path, &fresh, err, sizeof err) < 0) {
        hippo_metrics_count(&d->metrics.config_errors, "reload");
        hippo_log(&d->log, HIPPO_LOG_ERR, "reload failed, keeping the running configuration: %s",
                  err);
        hippo_sd_notify("READY=1");
        return;
    }
    if (strcmp(fresh.component_host, d->cfg.component_host) != 0 ||
        fresh.component_port != d->cfg.component_port ||
        strcmp(fresh.component_domain, d->cfg.component_domain) != 0 ||
        strcmp(fresh.component_secret, d->cfg.component_secret) != 0 ||
        strcmp(fresh.http_address, d->cfg.http_address) != 0 || fresh.http_port != d->cfg.http_port)
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "reload: [component] and [http] changes take effect at the next restart");
    if (fresh.database_connections != d->cfg.database_connections ||
        fresh.database_max_queue_ms != d->cfg.database_max_queue_ms)
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "reload: [database] pool changes take effect at the next restart");
    apply_live_settings(d, &fresh);
    hippo_config_free(&fresh);
    d->log.level = d->cfg.log_level;
    hippo_log(&d->log, HIPPO_LOG_NOTICE, "configuration reloaded from %s", d->config_path);
    hippo_sd_notify("READY=1");
}

/* Work in flight: statements not answered yet, or a push batch not settled. */
static bool work_in_flight(const hippod *d)
{
    return hippo_db_pending(d->db) > 0 || hippo_push_busy(d->push);
}

/* During a graceful stop: once the work in flight is done (its answers and echoes handed
 * to the link), or the time is up, or nothing can be sent anyway, the stream is closed;
 * the loop ends when it is. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippod *d = arg;
    bool busy = work_in_flight(d) && hippo_link_is_up(d->link);
    if (busy && hippo_monotonic_usec() < d->stop_deadline_usec)
        return;
    event_del(d->drain);
    if (busy)
        hippo_log(&d->log, HIPPO_LOG_WARNING,
                  "stop: %zu statements still unanswered after %d ms; closing anyway",
                  hippo_db_pending(d->db), d->cfg.stop_timeout_ms);
    else
        hippo_log(&d->log, HIPPO_LOG_INFO, "stop: work in flight done; closing the stream");
    hippo_link_shutdown(d->link);
}

static void stop(hippod *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true; /* the router refuses new requests, push claims nothing new */
    hippo_log(&d->log, HIPPO_LOG_NOTICE, "%s: stopping (%zu statements in flight)", why,
              hippo_db_pending(d->db));
    hippo_sd_notify("STOPPING=1");
    d->stop_deadline_usec = hippo_monotonic_usec() + (uint64_t)d->cfg.stop_timeout_ms * 1000;
    struct timeval tv = {.tv_sec = 0, .tv_usec = DRAIN_POLL_USEC};
    event_add(d->drain, &tv);
    on_drain(-1, 0, d);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    hippod *d = arg;
    if (sig == SIGHUP)
        reload(d);
    else
        stop(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int start_http(hippod *d)
{
    if (d->cfg.http_port == 0)
        return 0;
    hippo_http_handlers handlers = {
        .health = health, .detail = health_detail, .metrics = render_metrics, .arg = d};
    char err[256];
    d->http = hippo_http_new(d->base, d->cfg.http_address, d->cfg.http_port, &handlers, &d->log,
                             err, sizeof err);
    if (!d->http) {
        hippo_log(&d->log, HIPPO_LOG_ERR, "http listener: %s", err);
        return -1;
    }
    hippo_log(&d->log, HIPPO_LOG_INFO, "http listener on %s:%d (/healthz, /metrics)",
              d->cfg.http_address, d->cfg.http_port);
    return 0;
}

void hippod_prepare_statements(hippo_db *db)
{
    hippo_protocol_prepare(db);
    hippo_disco_prepare(db);
    hippo_post_payload_prepare(db);
    hippo_rooms_prepare(db);
    hippo_push_prepare(db);
    hippo_push_kinds_prepare(db);
    hippo_logins_prepare(db);
}

int hippod_create_state(hippod *d)
{
    d->push = hippo_push_new(d, hippo_push_kinds, hippo_push_n_kinds);
    d->push_live = hippo_push_live_new(d);
    d->users = hippo_user_cache_new(USER_CACHE_MAX);
    d->rooms = hippo_rooms_new((unsigned)d->cfg.database_connections);
    d->logins = hippo_logins_new(d);
    return d->push && d->push_live && d->users && d->rooms && d->logins ? 0 : -1;
}

void hippod_free_state(hippod *d)
{
    hippo_push_free(d->push);
    hippo_push_live_free(d->push_live);
    hippo_user_cache_free(d->users);
    hippo_rooms_free(d->rooms); /* after the database: its last callbacks empty the queues */
    hippo_logins_free(d->logins);
}

static int create_parts(hippod *d)
{
    hippo_link_options lo = {
        .host = d->cfg.component_host,
        .port = d->cfg.component_port,
        .domain = d->cfg.component_domain,
        .secret = d->cfg.component_secret,
        .reconnect_min_ms = (unsigned)d->cfg.reconnect_min_ms,
        .reconnect_max_ms = (unsigned)d->cfg.reconnect_max_ms,
        .standby_retry_ms = (unsigned)d->cfg.standby_retry_ms,
        .on_stanza = on_link_stanza,
        .on_state = on_link_state,
        .arg = d,
    };
    hippo_db_options dbo = {
        .conninfo = d->cfg.database_conninfo,
        .reconnect_min_ms = (unsigned)d->cfg.reconnect_min_ms,
        .reconnect_max_ms = (unsigned)d->cfg.reconnect_max_ms,
        .connections = (unsigned)d->cfg.database_connections,
        .max_queue_ms = (unsigned)d->cfg.database_max_queue_ms,
        .on_state = on_db_state,
        .on_notify = hippod_on_db_notify,
        .arg = d,
    };
    d->link = hippo_link_new(d->base, &lo, &d->log, &d->metrics);
    d->db = hippo_db_new(d->base, &dbo, &d->log, &d->metrics);
    d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
    d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
    d->sig_hup = evsignal_new(d->base, SIGHUP, on_signal, d);
    d->tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
    d->drain = event_new(d->base, -1, EV_PERSIST, on_drain, d);
    if (!d->link || !d->db || !d->sig_term || !d->sig_int || !d->sig_hup || !d->tick || !d->drain ||
        hippod_create_state(d) < 0)
        return -1;
    hippod_prepare_statements(d->db);
    return 0;
}

static void destroy_parts(hippod *d)
{
    struct event *events[] = {d->sig_term, d->sig_int, d->sig_hup, d->tick, d->drain};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (events[i])
            event_free(events[i]);
    hippo_http_free(d->http);
    hippo_db_free(d->db); /* before the state: pending queries call back into it */
    hippod_free_state(d);
    hippo_link_free(d->link);
}

static void start_tick(hippod *d)
{
    d->watchdog_usec = hippo_sd_watchdog_usec();
    uint64_t period = TICK_MAX_USEC;
    if (d->watchdog_usec && d->watchdog_usec / 4 < period)
        period = d->watchdog_usec / 4;
    struct timeval tv = {.tv_sec = (time_t)(period / 1000000),
                         .tv_usec = (suseconds_t)(period % 1000000)};
    event_add(d->tick, &tv);
}

int hippod_run(hippod *d)
{
    int status = 1;
    signal(SIGPIPE, SIG_IGN);
    d->base = event_base_new();
    if (!d->base || create_parts(d) < 0) {
        hippo_log(&d->log, HIPPO_LOG_ERR, "cannot set up the event loop: out of memory");
        goto out;
    }
    if (start_http(d) < 0)
        goto out;
    event_add(d->sig_term, NULL);
    event_add(d->sig_int, NULL);
    event_add(d->sig_hup, NULL);
    start_tick(d);
    hippo_db_start(d->db); /* the link follows once the database is up */
    hippo_log(&d->log, HIPPO_LOG_NOTICE, "hippod %s serving %s", HIPPOD_VERSION,
              d->cfg.component_domain);
    hippo_sd_notify("READY=1"); /* the loop is about to run; STATUS tells the link state */
    update_status(d);
    event_base_dispatch(d->base);
    status = 0;
out:
    destroy_parts(d);
    if (d->base)
        event_base_free(d->base);
    return status;
}
