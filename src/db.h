/* db.h - the PostgreSQL connection: async libpq on the event loop, pipelined prepared
 * statements, LISTEN, reconnect with backoff. */
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
typedef void (*hippo_db_notify_cb)(const char *channel, const char *payload, void *arg);

typedef struct hippo_db_options {
    const char *conninfo;
    unsigned reconnect_min_ms;
    unsigned reconnect_max_ms;
    size_t max_in_flight; /* queries queued or on the wire before hippo_db_query refuses */
    hippo_db_state_cb on_state;
    hippo_db_notify_cb on_notify;
    void *arg;
} hippo_db_options;

/* The caller frees the result with hippo_db_free(). Nothing connects until start. */
hippo_db *hippo_db_new(struct event_base *base, const hippo_db_options *opts,
                       const hippo_logger *log, hippo_metrics *metrics);

/* Registers a statement prepared on every (re)connect. NAME and SQL must outlive DB
 * (string literals). Call before hippo_db_start(). */
void hippo_db_prepare(hippo_db *db, const char *name, const char *sql, int nparams);
/* LISTENs on CHANNEL after every (re)connect (literal string). */
void hippo_db_listen(hippo_db *db, const char *channel);

void hippo_db_start(hippo_db *db);
bool hippo_db_is_up(const hippo_db *db);
const char *hippo_db_down_reason(const hippo_db *db);

/* Sends prepared statement NAME. PARAMS are copied. Returns 0 when queued (CB will be
 * called exactly once, later, never from inside this call), -1 when the database is down
 * or overloaded (CB is not called: answer with a wait-type error). */
int hippo_db_query(hippo_db *db, const char *name, int nparams, const char *const *params,
                   hippo_db_result_cb cb, void *arg);

/* Replaces the conninfo for the next reconnect (SIGHUP). */
void hippo_db_set_conninfo(hippo_db *db, const char *conninfo);

/* Fails pending queries with "shutting down" and closes the connection. */
void hippo_db_free(hippo_db *db);

#endif
