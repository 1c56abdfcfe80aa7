/* db.c - the PostgreSQL connections on the event loop.
 *
 * A small pool of async libpq connections, each in pipeline mode: every query is a prepared
 * statement followed by its own sync point, so many are in flight at once, results come back
 * in order on each connection, and one failing query does not abort the others. Statements
 * are (re)prepared on every connection at every connect; LISTENs are (re)issued on
 * connection 0 only. Each connection reconnects on its own, with its own backoff. While a
 * connection is connecting or down, queries for it are refused so that callers answer with a
 * wait-type error instead of queueing without bound; keyed queries are also refused once the
 * connection's oldest statement has waited longer than max_queue_ms. */
#include "db.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"

#define DB_CONNECT_TIMEOUT_S 10
#define DB_DEFAULT_MAX_IN_FLIGHT 10000
#define DB_DEFAULT_MAX_QUEUE_MS 500
#define DB_MAX_CONNECTIONS 64

enum db_state { DB_IDLE, DB_CONNECTING, DB_PREPARING, DB_UP, DB_WAITING };

struct db_statement {
    const char *name;
    const char *sql;
    int nparams;
};

struct db_query {
    struct db_query *next;
    hippo_db_result_cb cb; /* NULL for the setup queries (prepare, LISTEN) */
    void *arg;
    const char *what; /* setup queries: what it was, for the error message */
    PGresult *result;
    char *error;
    struct timespec started;
};

/* One connection of the pool. */
struct db_conn {
    hippo_db *db;
    unsigned index;
    char app_name[24]; /* fallback_application_name: "hippod/N" in pg_stat_activity */

    PGconn *conn;
    enum db_state state;
    bool broken; /* a send failed: the connection is dropped from the flush event */
    struct event *ev_io;
    short io_flags;
    struct event *ev_retry;
    struct event *ev_timeout;
    struct event *ev_flush;

    struct db_query *head, *tail; /* in flight, oldest first */
    size_t in_flight;
    size_t setup_pending;

    hippo_backoff backoff;
    unsigned attempts;
    char reason[256];
    char logged_reason[256];
};

struct hippo_db {
    struct event_base *base;
    const hippo_logger *log;
    hippo_metrics *metrics;
    hippo_db_options opts;
    char *conninfo;

    struct db_conn *conns;
    unsigned n_conns;

    struct db_statement *statements;
    size_t n_statements;
    const char **channels;
    size_t n_channels;
};

static void on_io(evutil_socket_t fd, short what, void *arg);
static void on_connect_io(evutil_socket_t fd, short what, void *arg);

/* " (connection N)" when there is more than one, else "": for log lines. */
static const char *conn_label(const struct db_conn *c, char *buf, size_t len)
{
    if (c->db->n_conns == 1)
        return "";
    snprintf(buf, len, " (connection %u)", c->index);
    return buf;
}

static void watch(struct db_conn *c, short flags, event_callback_fn cb)
{
    event_del(c->ev_io);
    c->io_flags = flags;
    if (!flags)
        return;
    event_assign(c->ev_io, c->db->base, PQsocket(c->conn), flags, cb, c);
    event_add(c->ev_io, NULL);
}

/* libpq messages end in newlines and may span lines: keep one line for logs and healthz. */
static void set_reason(struct db_conn *c, const char *prefix, const char *msg)
{
    snprintf(c->reason, sizeof c->reason, "%s%s", prefix, msg ? msg : "");
    for (char *p = c->reason; *p; p++)
        if (*p == '\n')
            *p = ' ';
    size_t n = strlen(c->reason);
    while (n > 0 && c->reason[n - 1] == ' ')
        c->reason[--n] = '\0';
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void query_free(struct db_query *q)
{
    if (q->result)
        PQclear(q->result);
    free(q->error);
    free(q);
}

static struct db_query *pop_head(struct db_conn *c)
{
    struct db_query *q = c->head;
    c->head = q->next;
    if (!c->head)
        c->tail = NULL;
    c->in_flight--;
    return q;
}

/* Fails every query in flight on C with REASON (their callbacks run now). */
static void fail_all(struct db_conn *c, const char *reason)
{
    while (c->head) {
        struct db_query *q = pop_head(c);
        if (q->cb)
            q->cb(NULL, reason, q->arg);
        query_free(q);
    }
    c->setup_pending = 0;
}

static void schedule_retry(struct db_conn *c)
{
    uint32_t ms = hippo_backoff_next(&c->backoff);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    c->state = DB_WAITING;
    evtimer_add(c->ev_retry, &tv);
}

/* The connection failed or was lost: everything in flight on it fails, a reconnect is
 * scheduled, and the failure is logged once per change of reason. Only connection 0
 * changes whether the database counts as up. */
static void connection_lost(struct db_conn *c)
{
    hippo_db *db = c->db;
    bool was_up = c->state == DB_UP;
    c->state = DB_WAITING; /* callbacks run by fail_all() must see the connection down */
    c->broken = false;
    watch(c, 0, NULL);
    evtimer_del(c->ev_timeout);
    if (c->conn) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
    if (was_up)
        db->metrics->db_connections_up--;
    if (c->index == 0)
        db->metrics->db_up = false;
    fail_all(c, c->reason);
    bool fresh = was_up || strcmp(c->reason, c->logged_reason) != 0;
    char label[32];
    hippo_log(db->log, fresh ? HIPPO_LOG_WARNING : HIPPO_LOG_DEBUG,
              "database down%s: %s; retrying with backoff", conn_label(c, label, sizeof label),
              c->reason);
    if (fresh)
        snprintf(c->logged_reason, sizeof c->logged_reason, "%s", c->reason);
    schedule_retry(c);
    if (c->index == 0 && db->opts.on_state)
        db->opts.on_state(false, c->reason, db->opts.arg);
}

static void became_up(struct db_conn *c)
{
    hippo_db *db = c->db;
    c->state = DB_UP;
    db->metrics->db_connections_up++;
    if (c->index == 0)
        db->metrics->db_up = true;
    c->logged_reason[0] = '\0';
    hippo_backoff_reset(&c->backoff);
    if (db->n_conns == 1)
        hippo_log(db->log, HIPPO_LOG_NOTICE, "database up (%zu statements prepared)",
                  db->n_statements);
    else
        hippo_log(db->log, HIPPO_LOG_NOTICE, "database up (connection %u, %zu statements prepared)",
                  c->index, db->n_statements);
    if (c->index == 0 && db->opts.on_state)
        db->opts.on_state(true, NULL, db->opts.arg);
}

static void flush_output(struct db_conn *c)
{
    int rc = PQflush(c->conn);
    if (rc < 0) {
        set_reason(c, "write failed: ", PQerrorMessage(c->conn));
        connection_lost(c);
        return;
    }
    short want = EV_READ | EV_PERSIST | (rc == 1 ? EV_WRITE : 0);
    if (want != c->io_flags)
        watch(c, want, on_io);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct db_conn *c = arg;
    if (c->broken) { /* from here, not the query call: its callbacks may not run inside it */
        connection_lost(c);
        return;
    }
    if (c->conn && (c->state == DB_UP || c->state == DB_PREPARING))
        flush_output(c);
}

static struct db_query *enqueue(struct db_conn *c, hippo_db_result_cb cb, void *arg,
                                const char *what)
{
    struct db_query *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->cb = cb;
    q->arg = arg;
    q->what = what;
    clock_gettime(CLOCK_MONOTONIC, &q->started);
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    c->in_flight++;
    return q;
}

static void complete_setup(struct db_conn *c, struct db_query *q)
{
    if (q->error) {
        set_reason(c, q->what, q->error);
        query_free(q);
        connection_lost(c);
        return;
    }
    query_free(q);
    if (--c->setup_pending == 0 && c->state == DB_PREPARING)
        became_up(c);
}

static void complete_head(struct db_conn *c)
{
    struct db_query *q = pop_head(c);
    hippo_metrics_db_latency(c->db->metrics, seconds_since(&q->started));
    if (!q->cb) {
        complete_setup(c, q);
        return;
    }
    q->cb(q->error ? NULL : q->result, q->error, q->arg);
    query_free(q);
}

static void store_result(struct db_query *q, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) {
        const char *msg = PQresultErrorMessage(res);
        free(q->error);
        q->error = strdup(msg && *msg ? msg : "query aborted");
        PQclear(res);
        return;
    }
    if (q->result)
        PQclear(q->result);
    q->result = res;
}

static void drain_results(struct db_conn *c)
{
    int empty_in_a_row = 0;
    while (c->conn && c->head && !PQisBusy(c->conn)) {
        PGresult *res = PQgetResult(c->conn);
        if (!res) { /* the end of one query's results; its sync point follows */
            if (++empty_in_a_row > 1)
                break;
            continue;
        }
        empty_in_a_row = 0;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            complete_head(c);
            continue;
        }
        store_result(c->head, res);
    }
}

/* Whether backend PID is one of this pool's sessions. */
static bool own_backend(const hippo_db *db, int pid)
{
    for (unsigned i = 0; i < db->n_conns; i++)
        if (db->conns[i].conn && PQbackendPID(db->conns[i].conn) == pid)
            return true;
    return false;
}

static void drain_notifications(struct db_conn *c)
{
    const hippo_db_options *opts = &c->db->opts;
    PGnotify *n;
    while (c->conn && (n = PQnotifies(c->conn)) != NULL) {
        if (opts->on_notify)
            opts->on_notify(n->relname, n->extra, own_backend(c->db, n->be_pid), opts->arg);
        PQfreemem(n);
    }
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct db_conn *c = arg;
    if ((what & EV_READ) && !PQconsumeInput(c->conn)) {
        set_reason(c, "connection lost: ", PQerrorMessage(c->conn));
        connection_lost(c);
        return;
    }
    drain_results(c);
    if (!c->conn)
        return; /* a callback saw the connection go */
    drain_notifications(c);
    if (PQstatus(c->conn) == CONNECTION_BAD) {
        set_reason(c, "connection lost: ", PQerrorMessage(c->conn));
        connection_lost(c);
        return;
    }
    flush_output(c);
}

static int send_listens(struct db_conn *c)
{
    hippo_db *db = c->db;
    for (size_t i = 0; i < db->n_channels; i++) {
        char *ident = PQescapeIdentifier(c->conn, db->channels[i], strlen(db->channels[i]));
        char sql[300];
        snprintf(sql, sizeof sql, "LISTEN %s", ident ? ident : "\"\"");
        PQfreemem(ident);
        if (!PQsendQueryParams(c->conn, sql, 0, NULL, NULL, NULL, NULL, 0) ||
            !PQpipelineSync(c->conn) || !enqueue(c, NULL, NULL, "cannot LISTEN: "))
            return -1;
        c->setup_pending++;
    }
    return 0;
}

/* "Stored before echoed" must not depend on the server's settings: with synchronous_commit
 * off or local (a common tuning, or ALTER ROLE/DATABASE), a crash of PostgreSQL or a
 * failover loses commits hippod already acknowledged, and the room serials they took are
 * handed out again. A session setting outranks the role's, the database's and the server's.
 * remote_apply is stronger than on and is kept. */
static const char *const session_settings =
    "SELECT set_config('synchronous_commit', 'on', false) "
    "WHERE current_setting('synchronous_commit') <> 'remote_apply'";

static int send_setup_queries(struct db_conn *c)
{
    hippo_db *db = c->db;
    if (!PQsendQueryParams(c->conn, session_settings, 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(c->conn) || !enqueue(c, NULL, NULL, "cannot apply session settings: "))
        return -1;
    c->setup_pending++;
    for (size_t i = 0; i < db->n_statements; i++) {
        const struct db_statement *s = &db->statements[i];
        if (!PQsendPrepare(c->conn, s->name, s->sql, s->nparams, NULL) ||
            !PQpipelineSync(c->conn) || !enqueue(c, NULL, NULL, "cannot prepare statement: "))
            return -1;
        c->setup_pending++;
    }
    return c->index == 0 ? send_listens(c) : 0;
}

static void connection_established(struct db_conn *c)
{
    evtimer_del(c->ev_timeout);
    if (PQsetnonblocking(c->conn, 1) != 0 || !PQenterPipelineMode(c->conn)) {
        set_reason(c, "cannot enter pipeline mode: ", PQerrorMessage(c->conn));
        connection_lost(c);
        return;
    }
    c->state = DB_PREPARING;
    if (send_setup_queries(c) < 0) {
        set_reason(c, "cannot send setup queries: ", PQerrorMessage(c->conn));
        connection_lost(c);
        return;
    }
    if (c->setup_pending == 0)
        became_up(c);
    flush_output(c);
}

static void continue_connect(struct db_conn *c, PostgresPollingStatusType st)
{
    switch (st) {
    case PGRES_POLLING_READING:
        watch(c, EV_READ, on_connect_io);
        break;
    case PGRES_POLLING_WRITING:
        watch(c, EV_WRITE, on_connect_io);
        break;
    case PGRES_POLLING_OK:
        connection_established(c);
        break;
    default:
        set_reason(c, "", PQerrorMessage(c->conn));
        connection_lost(c);
        break;
    }
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct db_conn *c = arg;
    continue_connect(c, PQconnectPoll(c->conn));
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct db_conn *c = arg;
    set_reason(c, "connection attempt timed out", NULL);
    connection_lost(c);
}

/* The conninfo is expanded in place of dbname; the application name only fills a gap. */
static PGconn *connect_start(const struct db_conn *c)
{
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *values[] = {c->db->conninfo, c->app_name, NULL};
    return PQconnectStartParams(keys, values, 1);
}

static void start_connect(struct db_conn *c)
{
    if (c->attempts++ > 0)
        hippo_metrics_count(&c->db->metrics->reconnects, "database");
    c->state = DB_CONNECTING;
    c->conn = connect_start(c);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        set_reason(c, "", c->conn ? PQerrorMessage(c->conn) : "out of memory");
        connection_lost(c);
        return;
    }
    struct timeval tv = {.tv_sec = DB_CONNECT_TIMEOUT_S, .tv_usec = 0};
    evtimer_add(c->ev_timeout, &tv);
    continue_connect(c, PGRES_POLLING_WRITING); /* libpq: start as if polling said so */
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    start_connect(arg);
}

static int conn_init(hippo_db *db, struct db_conn *c, unsigned index)
{
    c->db = db;
    c->index = index;
    snprintf(c->app_name, sizeof c->app_name, "hippod/%u", index);
    c->ev_io = event_new(db->base, -1, 0, on_io, c);
    c->ev_retry = evtimer_new(db->base, on_retry, c);
    c->ev_timeout = evtimer_new(db->base, on_connect_timeout, c);
    c->ev_flush = event_new(db->base, -1, 0, on_flush, c);
    snprintf(c->reason, sizeof c->reason, "not connected yet");
    uint64_t seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() ^ (uint64_t)index << 32;
    hippo_backoff_init(&c->backoff, db->opts.reconnect_min_ms, db->opts.reconnect_max_ms, seed);
    return c->ev_io && c->ev_retry && c->ev_timeout && c->ev_flush ? 0 : -1;
}

hippo_db *hippo_db_new(struct event_base *base, const hippo_db_options *opts,
                       const hippo_logger *log, hippo_metrics *metrics)
{
    hippo_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->base = base;
    db->log = log;
    db->metrics = metrics;
    db->opts = *opts;
    if (!db->opts.max_in_flight)
        db->opts.max_in_flight = DB_DEFAULT_MAX_IN_FLIGHT;
    if (!db->opts.max_queue_ms)
        db->opts.max_queue_ms = DB_DEFAULT_MAX_QUEUE_MS;
    unsigned n = opts->connections ? opts->connections : 1;
    db->n_conns = n < DB_MAX_CONNECTIONS ? n : DB_MAX_CONNECTIONS;
    db->conninfo = strdup(opts->conninfo ? opts->conninfo : "");
    db->conns = calloc(db->n_conns, sizeof *db->conns);
    bool ok = db->conninfo && db->conns;
    for (unsigned i = 0; ok && i < db->n_conns; i++)
        ok = conn_init(db, &db->conns[i], i) == 0;
    if (!ok) {
        hippo_db_free(db);
        return NULL;
    }
    return db;
}

void hippo_db_prepare(hippo_db *db, const char *name, const char *sql, int nparams)
{
    struct db_statement *s = realloc(db->statements, (db->n_statements + 1) * sizeof *s);
    if (!s)
        abort(); /* start-up only: nothing sensible to continue with */
    db->statements = s;
    db->statements[db->n_statements++] = (struct db_statement){name, sql, nparams};
}

void hippo_db_listen(hippo_db *db, const char *channel)
{
    const char **c = realloc(db->channels, (db->n_channels + 1) * sizeof *c);
    if (!c)
        abort(); /* start-up only */
    db->channels = c;
    db->channels[db->n_channels++] = channel;
}

void hippo_db_start(hippo_db *db)
{
    for (unsigned i = 0; i < db->n_conns; i++)
        start_connect(&db->conns[i]);
}

bool hippo_db_is_up(const hippo_db *db)
{
    return db->conns[0].state == DB_UP;
}

const char *hippo_db_down_reason(const hippo_db *db)
{
    const struct db_conn *c = &db->conns[0];
    if (c->state == DB_UP)
        return NULL;
    if (c->state == DB_CONNECTING || c->state == DB_PREPARING)
        return c->logged_reason[0] ? c->logged_reason : "connecting";
    return c->reason;
}

static int refuse(hippo_db *db, enum hippo_db_refusal why)
{
    db->metrics->db_refused[why]++;
    return -1;
}

/* Sends on C, which is up. */
static int send_query(struct db_conn *c, const char *name, int nparams, const char *const *params,
                      hippo_db_result_cb cb, void *arg)
{
    bool sent = PQsendQueryPrepared(c->conn, name, nparams, params, NULL, NULL, 0);
    if (!sent || !PQpipelineSync(c->conn)) {
        char label[32];
        hippo_log(c->db->log, HIPPO_LOG_WARNING, "database%s: cannot send %s: %s",
                  conn_label(c, label, sizeof label), name, PQerrorMessage(c->conn));
        /* a query without its sync point would shift every later result by one: drop the
         * connection, but from the flush event, as callbacks may not run inside this call */
        if (sent || PQstatus(c->conn) != CONNECTION_OK) {
            set_reason(c, "cannot send: ", PQerrorMessage(c->conn));
            c->broken = true;
            event_active(c->ev_flush, EV_TIMEOUT, 0);
        }
        return refuse(c->db, HIPPO_DB_REFUSED_DOWN);
    }
    if (!enqueue(c, cb, arg, NULL))
        abort(); /* the query is on the wire: its result would have no owner */
    event_active(c->ev_flush, EV_TIMEOUT, 0); /* one flush for a burst of queries */
    return 0;
}

static bool usable(const struct db_conn *c)
{
    return c->state == DB_UP && !c->broken;
}

int hippo_db_query(hippo_db *db, const char *name, int nparams, const char *const *params,
                   hippo_db_result_cb cb, void *arg)
{
    struct db_conn *c = &db->conns[0];
    if (!cb)
        return -1;
    if (!usable(c))
        return refuse(db, HIPPO_DB_REFUSED_DOWN);
    if (c->in_flight >= db->opts.max_in_flight)
        return refuse(db, HIPPO_DB_REFUSED_IN_FLIGHT);
    return send_query(c, name, nparams, params, cb, arg);
}

/* FNV-1a: cheap, and spreads short similar keys (GUIDs, JIDs) well enough. */
static uint32_t key_hash(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

unsigned hippo_db_home(const hippo_db *db, const char *key)
{
    return key ? key_hash(key) % db->n_conns : 0;
}

/* KEY's connection, or the next one up after it; NULL when none is up. */
static struct db_conn *pick(hippo_db *db, const char *key)
{
    unsigned home = hippo_db_home(db, key);
    for (unsigned i = 0; i < db->n_conns; i++) {
        struct db_conn *c = &db->conns[(home + i) % db->n_conns];
        if (usable(c))
            return c;
    }
    return NULL;
}

int hippo_db_query_keyed(hippo_db *db, const char *key, const char *name, int nparams,
                         const char *const *params, hippo_db_result_cb cb, void *arg)
{
    if (!cb)
        return -1;
    struct db_conn *c = pick(db, key);
    if (!c)
        return refuse(db, HIPPO_DB_REFUSED_DOWN);
    if (c->in_flight >= db->opts.max_in_flight)
        return refuse(db, HIPPO_DB_REFUSED_IN_FLIGHT);
    if (c->head && seconds_since(&c->head->started) * 1000.0 > (double)db->opts.max_queue_ms)
        return refuse(db, HIPPO_DB_REFUSED_QUEUE_TIME);
    return send_query(c, name, nparams, params, cb, arg);
}

size_t hippo_db_pending(const hippo_db *db)
{
    size_t n = 0;
    for (unsigned i = 0; i < db->n_conns; i++)
        n += db->conns[i].in_flight - db->conns[i].setup_pending;
    return n;
}

void hippo_db_set_conninfo(hippo_db *db, const char *conninfo)
{
    char *copy = strdup(conninfo);
    if (!copy)
        return;
    explicit_bzero(db->conninfo, strlen(db->conninfo));
    free(db->conninfo);
    db->conninfo = copy;
}

static void conn_close(struct db_conn *c)
{
    if (c->conn)
        PQfinish(c->conn);
    c->conn = NULL;
    struct event *events[] = {c->ev_io, c->ev_retry, c->ev_timeout, c->ev_flush};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (events[i])
            event_free(events[i]);
}

void hippo_db_free(hippo_db *db)
{
    if (!db)
        return;
    for (unsigned i = 0; db->conns && i < db->n_conns; i++)
        db->conns[i].state = DB_WAITING; /* callbacks run by fail_all() cannot queue more */
    for (unsigned i = 0; db->conns && i < db->n_conns; i++)
        fail_all(&db->conns[i], "shutting down");
    for (unsigned i = 0; db->conns && i < db->n_conns; i++)
        conn_close(&db->conns[i]);
    free(db->conns);
    free(db->statements);
    free(db->channels);
    if (db->conninfo)
        explicit_bzero(db->conninfo, strlen(db->conninfo));
    free(db->conninfo);
    free(db);
}
