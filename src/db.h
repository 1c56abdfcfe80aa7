/* db.h - the PostgreSQL connections: a small pool of async libpq connections on the event
 * loop, pipelined prepared statements, LISTEN, reconnect with backoff.
 *
 * Connection 0 is special: it carries the LISTENs and every hippo_db_query() (the push
 * outbox claims events per backend session, so claim, retire and release must share one),
 * and "the database is up" means connection 0 is up (hippo_db_is_up, on_state, healthz,
 * hippod_db_up). Requests from clients go through hippo_db_query_keyed(), spread over the
 * pool by key. */
#ifndef HIPPO_DB_H
#define HIPPO_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "log.h"
#include "metrics.h"

struct event_base;
typedef struct hippo_db hippo_db;

/* RES is the query's result (owned by the db module, valid during the call) or NULL
 * with ERROR set when the query failed, the connection dropped, or the module is freed. */
typedef void (*hippo_db_result_cb)(const PGresult *res, const char *error, void *arg);
/* Called on every change between up and down; REASON says why it is down. */
typedef void (*hippo_db_state_cb)(bool up, const char *reason, void *arg);
/* OWN: the notification was raised by one of this pool's own sessions. */
typedef void (*hippo_db_notify_cb)(const char *channel, const char *payload, bool own, void *arg);

typedef struct hippo_db_options {
    const char *conninfo;
    unsigned connections; /* size of the pool; 0 means 1 */
    unsigned reconnect_min_ms;
    unsigned reconnect_max_ms;
    size_t max_in_flight;  /* per connection, queries on the wire before a query is refused */
    unsigned max_queue_ms; /* keyed queries: refused once the oldest waited this long; 0 = 500 */
    hippo_db_state_cb on_state;
    hippo_db_notify_cb on_notify;
    void *arg;
} hippo_db_options;

/* The caller frees the result with hippo_db_free(). Nothing connects until start. */
hippo_db *hippo_db_new(struct event_base *base, const hippo_db_options *opts,
                       const hippo_logger *log, hippo_metrics *metrics);

/* Registers a statement prepared on every connection at every (re)connect. NAME and SQL
 * must outlive DB (string literals). Call before hippo_db_start(). */
void hippo_db_prepare(hippo_db *db, const char *name, const char *sql, int nparams);
/* LISTENs on CHANNEL on connection 0 after every (re)connect (literal string). */
void hippo_db_listen(hippo_db *db, const char *channel);

/* Connects every connection of the pool. */
void hippo_db_start(hippo_db *db);
/* Connection 0: the others do not change whether the database counts as up. */
bool hippo_db_is_up(const hippo_db *db);
/* Why connection 0 is down, or NULL when it is up. The string lives until the next event. */
const char *hippo_db_down_reason(const hippo_db *db);

/* Sends prepared statement NAME on connection 0. PARAMS are copied. Returns 0 when queued
 * (CB will be called exactly once, later, never from inside this call), -1 when connection 0
 * is down or has max_in_flight queries on the wire (CB is not called: answer with a
 * wait-type error). Statements sent here run in order in one backend session. Not subject
 * to max_queue_ms: the push outbox must be able to retire what it sent. */
int hippo_db_query(hippo_db *db, const char *name, int nparams, const char *const *params,
                   hippo_db_result_cb cb, void *arg);

/* Like hippo_db_query() on the connection hash(KEY) % connections, so that statements with
 * the same KEY run in order in one backend (KEY NULL: connection 0). When that connection is
 * not up, the next one up is used; then, just after it comes back, a new statement for KEY
 * may overtake earlier ones still in flight on the stand-in. Also returns -1 when the
 * chosen connection's oldest statement in flight was sent more than max_queue_ms ago, so
 * that overload answers fast wait errors instead of late answers. */
int hippo_db_query_keyed(hippo_db *db, const char *key, const char *name, int nparams,
                         const char *const *params, hippo_db_result_cb cb, void *arg);

/* The index (0 .. connections-1) of KEY's home connection, where hippo_db_query_keyed() sends
 * KEY's statements while that connection is up: keys with one home share one backend's
 * order. */
unsigned hippo_db_home(const hippo_db *db, const char *key);

/* Statements sent and not yet answered, on every connection (setup queries not counted):
 * a graceful stop waits for 0 so that committed work is answered before the link closes. */
size_t hippo_db_pending(const hippo_db *db);

/* Replaces the conninfo for the next reconnect of each connection (SIGHUP). */
void hippo_db_set_conninfo(hippo_db *db, const char *conninfo);

/* Fails pending queries of every connection with "shutting down" and closes them. */
void hippo_db_free(hippo_db *db);

#endif
