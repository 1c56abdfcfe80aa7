/* db.c - the PostgreSQL connection on the event loop.
 *
 * One async libpq connection in pipeline mode: every query is a prepared statement followed
 * by its own sync point, so many are in flight at once, results come back in order, and one
 * failing query does not abort the others. Statements are (re)prepared and LISTENs
 * (re)issued on every connect; while that runs, and while the database is down, queries are
 * refused so that callers answer with a wait-type error instead of queueing without bound. */
#include "db.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"

#define DB_CONNECT_TIMEOUT_S 10
#define DB_DEFAULT_MAX_IN_FLIGHT 10000

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

struct hippo_db {
    struct event_base *base;
    const hippo_logger *log;
    hippo_metrics *metrics;
    hippo_db_options opts;
    char *conninfo;

    PGconn *conn;
    enum db_state state;
    struct event *ev_io;
    short io_flags;
    struct event *ev_retry;
    struct event *ev_timeout;
    struct event *ev_flush;

    struct db_statement *statements;
    size_t n_statements;
    const char **channels;
    size_t n_channels;

    struct db_query *head, *tail;
    size_t in_flight;
    size_t setup_pending;

    hippo_backoff backoff;
    unsigned attempts;
    char reason[256];
    char logged_reason[256];
};

static void on_io(evutil_socket_t fd, short what, void *arg);
static void on_connect_io(evutil_socket_t fd, short what, void *arg);

static void watch(hippo_db *db, short flags, event_callback_fn cb)
{
    event_del(db->ev_io);
    db->io_flags = flags;
    if (!flags)
        return;
    event_assign(db->ev_io, db->base, PQsocket(db->conn), flags, cb, db);
    event_add(db->ev_io, NULL);
}

/* libpq messages end in newlines and may span lines: keep one line for logs and healthz. */
static void set_reason(hippo_db *db, const char *prefix, const char *msg)
{
    snprintf(db->reason, sizeof db->reason, "%s%s", prefix, msg ? msg : "");
    for (char *p = db->reason; *p; p++)
        if (*p == '\n')
            *p = ' ';
    size_t n = strlen(db->reason);
    while (n > 0 && db->reason[n - 1] == ' ')
        db->reason[--n] = '\0';
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

static struct db_query *pop_head(hippo_db *db)
{
    struct db_query *q = db->head;
    db->head = q->next;
    if (!db->head)
        db->tail = NULL;
    db->in_flight--;
    return q;
}

/* Fails every query in flight with REASON (their callbacks run now). */
static void fail_all(hippo_db *db, const char *reason)
{
    while (db->head) {
        struct db_query *q = pop_head(db);
        if (q->cb)
            q->cb(NULL, reason, q->arg);
        query_free(q);
    }
    db->setup_pending = 0;
}

static void schedule_retry(hippo_db *db)
{
    uint32_t ms = hippo_backoff_next(&db->backoff);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    db->state = DB_WAITING;
    evtimer_add(db->ev_retry, &tv);
}

/* The connection failed or was lost: everything in flight fails, a reconnect is scheduled,
 * and the failure is logged once per change of reason. */
static void connection_lost(hippo_db *db)
{
    bool was_up = db->state == DB_UP;
    db->state = DB_WAITING; /* callbacks run by fail_all() must see the database down */
    watch(db, 0, NULL);
    evtimer_del(db->ev_timeout);
    if (db->conn) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
    db->metrics->db_up = false;
    fail_all(db, db->reason);
    bool fresh = was_up || strcmp(db->reason, db->logged_reason) != 0;
    hippo_log(db->log, fresh ? HIPPO_LOG_WARNING : HIPPO_LOG_DEBUG,
              "database down: %s; retrying with backoff", db->reason);
    if (fresh)
        snprintf(db->logged_reason, sizeof db->logged_reason, "%s", db->reason);
    schedule_retry(db);
    if (db->opts.on_state)
        db->opts.on_state(false, db->reason, db->opts.arg);
}

static void became_up(hippo_db *db)
{
    db->state = DB_UP;
    db->metrics->db_up = true;
    db->logged_reason[0] = '\0';
    hippo_backoff_reset(&db->backoff);
    hippo_log(db->log, HIPPO_LOG_NOTICE, "database up (%zu statements prepared)", db->n_statements);
    if (db->opts.on_state)
        db->opts.on_state(true, NULL, db->opts.arg);
}

static void flush_output(hippo_db *db)
{
    int rc = PQflush(db->conn);
    if (rc < 0) {
        set_reason(db, "write failed: ", PQerrorMessage(db->conn));
        connection_lost(db);
        return;
    }
    short want = EV_READ | EV_PERSIST | (rc == 1 ? EV_WRITE : 0);
    if (want != db->io_flags)
        watch(db, want, on_io);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_db *db = arg;
    if (db->conn && (db->state == DB_UP || db->state == DB_PREPARING))
        flush_output(db);
}

static struct db_query *enqueue(hippo_db *db, hippo_db_result_cb cb, void *arg, const char *what)
{
    struct db_query *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->cb = cb;
    q->arg = arg;
    q->what = what;
    clock_gettime(CLOCK_MONOTONIC, &q->started);
    if (db->tail)
        db->tail->next = q;
    else
        db->head = q;
    db->tail = q;
    db->in_flight++;
    return q;
}

static void complete_setup(hippo_db *db, struct db_query *q)
{
    if (q->error) {
        set_reason(db, q->what, q->error);
        query_free(q);
        connection_lost(db);
        return;
    }
    query_free(q);
    if (--db->setup_pending == 0 && db->state == DB_PREPARING)
        became_up(db);
}

static void complete_head(hippo_db *db)
{
    struct db_query *q = pop_head(db);
    hippo_metrics_db_latency(db->metrics, seconds_since(&q->started));
    if (!q->cb) {
        complete_setup(db, q);
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

static void drain_results(hippo_db *db)
{
    int empty_in_a_row = 0;
    while (db->conn && db->head && !PQisBusy(db->conn)) {
        PGresult *res = PQgetResult(db->conn);
        if (!res) { /* the end of one query's results; its sync point follows */
            if (++empty_in_a_row > 1)
                break;
            continue;
        }
        empty_in_a_row = 0;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            complete_head(db);
            continue;
        }
        store_result(db->head, res);
    }
}

static void drain_notifications(hippo_db *db)
{
    PGnotify *n;
    while (db->conn && (n = PQnotifies(db->conn)) != NULL) {
        if (db->opts.on_notify)
            db->opts.on_notify(n->relname, n->extra, db->opts.arg);
        PQfreemem(n);
    }
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    hippo_db *db = arg;
    if ((what & EV_READ) && !PQconsumeInput(db->conn)) {
        set_reason(db, "connection lost: ", PQerrorMessage(db->conn));
        connection_lost(db);
        return;
    }
    drain_results(db);
    if (!db->conn)
        return; /* a callback saw the connection go */
    drain_notifications(db);
    if (PQstatus(db->conn) == CONNECTION_BAD) {
        set_reason(db, "connection lost: ", PQerrorMessage(db->conn));
        connection_lost(db);
        return;
    }
    flush_output(db);
}

static int send_setup_queries(hippo_db *db)
{
    for (size_t i = 0; i < db->n_statements; i++) {
        const struct db_statement *s = &db->statements[i];
        if (!PQsendPrepare(db->conn, s->name, s->sql, s->nparams, NULL) ||
            !PQpipelineSync(db->conn) || !enqueue(db, NULL, NULL, "cannot prepare statement: "))
            return -1;
        db->setup_pending++;
    }
    for (size_t i = 0; i < db->n_channels; i++) {
        char *ident = PQescapeIdentifier(db->conn, db->channels[i], strlen(db->channels[i]));
        char sql[300];
        snprintf(sql, sizeof sql, "LISTEN %s", ident ? ident : "\"\"");
        PQfreemem(ident);
        if (!PQsendQueryParams(db->conn, sql, 0, NULL, NULL, NULL, NULL, 0) ||
            !PQpipelineSync(db->conn) || !enqueue(db, NULL, NULL, "cannot LISTEN: "))
            return -1;
        db->setup_pending++;
    }
    return 0;
}

static void connection_established(hippo_db *db)
{
    evtimer_del(db->ev_timeout);
    if (PQsetnonblocking(db->conn, 1) != 0 || !PQenterPipelineMode(db->conn)) {
        set_reason(db, "cannot enter pipeline mode: ", PQerrorMessage(db->conn));
        connection_lost(db);
        return;
    }
    db->state = DB_PREPARING;
    if (send_setup_queries(db) < 0) {
        set_reason(db, "cannot send setup queries: ", PQerrorMessage(db->conn));
        connection_lost(db);
        return;
    }
    if (db->setup_pending == 0)
        became_up(db);
    flush_output(db);
}

static void continue_connect(hippo_db *db, PostgresPollingStatusType st)
{
    switch (st) {
    case PGRES_POLLING_READING:
        watch(db, EV_READ, on_connect_io);
        break;
    case PGRES_POLLING_WRITING:
        watch(db, EV_WRITE, on_connect_io);
        break;
    case PGRES_POLLING_OK:
        connection_established(db);
        break;
    default:
        set_reason(db, "", PQerrorMessage(db->conn));
        connection_lost(db);
        break;
    }
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_db *db = arg;
    continue_connect(db, PQconnectPoll(db->conn));
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    hippo_db *db = arg;
    set_reason(db, "connection attempt timed out", NULL);
    connection_lost(db);
}

static void start_connect(hippo_db *db)
{
    if (db->attempts++ > 0)
        hippo_metrics_count(&db->metrics->reconnects, "database");
    db->state = DB_CONNECTING;
    db->conn = PQconnectStart(db->conninfo);
    if (!db->conn || PQstatus(db->conn) == CONNECTION_BAD) {
        set_reason(db, "", db->conn ? PQerrorMessage(db->conn) : "out of memory");
        connection_lost(db);
        return;
    }
    struct timeval tv = {.tv_sec = DB_CONNECT_TIMEOUT_S, .tv_usec = 0};
    evtimer_add(db->ev_timeout, &tv);
    continue_connect(db, PGRES_POLLING_WRITING); /* libpq: start as if polling said so */
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    start_connect(arg);
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
    db->conninfo = strdup(opts->conninfo ? opts->conninfo : "");
    db->ev_io = event_new(base, -1, 0, on_io, db);
    db->ev_retry = evtimer_new(base, on_retry, db);
    db->ev_timeout = evtimer_new(base, on_connect_timeout, db);
    db->ev_flush = event_new(base, -1, 0, on_flush, db);
    if (!db->conninfo || !db->ev_io || !db->ev_retry || !db->ev_timeout || !db->ev_flush) {
        hippo_db_free(db);
        return NULL;
    }
    snprintf(db->reason, sizeof db->reason, "not connected yet");
    hippo_backoff_init(&db->backoff, opts->reconnect_min_ms, opts->reconnect_max_ms,
                       (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid());
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
    start_connect(db);
}

bool hippo_db_is_up(const hippo_db *db)
{
    return db->state == DB_UP;
}

const char *hippo_db_down_reason(const hippo_db *db)
{
    if (db->state == DB_UP)
        return NULL;
    if (db->state == DB_CONNECTING || db->state == DB_PREPARING)
        return db->logged_reason[0] ? db->logged_reason : "connecting";
    return db->reason;
}

int hippo_db_query(hippo_db *db, const char *name, int nparams, const char *const *params,
                   hippo_db_result_cb cb, void *arg)
{
    if (db->state != DB_UP || db->in_flight >= db->opts.max_in_flight || !cb)
        return -1;
    if (!PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0) ||
        !PQpipelineSync(db->conn)) {
        hippo_log(db->log, HIPPO_LOG_WARNING, "database: cannot send %s: %s", name,
                  PQerrorMessage(db->conn));
        return -1;
    }
    if (!enqueue(db, cb, arg, NULL))
        abort(); /* the query is on the wire: its result would have no owner */
    event_active(db->ev_flush, EV_TIMEOUT, 0); /* one flush for a burst of queries */
    return 0;
}

void hippo_db_set_conninfo(hippo_db *db, const char *conninfo)
{
    char *copy = strdup(conninfo);
    if (!copy)
        return;
    free(db->conninfo);
    db->conninfo = copy;
}

void hippo_db_free(hippo_db *db)
{
    if (!db)
        return;
    db->state = DB_WAITING; /* callbacks run by fail_all() cannot queue more */
    fail_all(db, "shutting down");
    if (db->conn)
        PQfinish(db->conn);
    if (db->ev_io)
        event_free(db->ev_io);
    if (db->ev_retry)
        event_free(db->ev_retry);
    if (db->ev_timeout)
        event_free(db->ev_timeout);
    if (db->ev_flush)
        event_free(db->ev_flush);
    free(db->statements);
    free(db->channels);
    if (db->conninfo)
        explicit_bzero(db->conninfo, strlen(db->conninfo));
    free(db->conninfo);
    free(db);
}
