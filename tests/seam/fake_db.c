/* fake_db.c - an in-process stand-in for src/db.c: every function of db.h, no PostgreSQL.
 *
 * Statements are recorded instead of sent, and answered only when the test says so
 * (fake_db_answer), never from inside hippo_db_query*(): the handlers see the same
 * asynchrony as with the real pool. The contract of db.h is checked on the way (statements
 * prepared before use, with their number of parameters) and the first misuse is kept for the
 * seam to report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes.h"

struct fake_statement {
    const char *name; /* string literals, as db.h requires */
    const char *sql;
    int nparams;
};

struct hippo_db {
    hippo_db_options opts;
    hippo_metrics *metrics;
    char *conninfo;
    fake_db_mode mode;
    bool started;
    bool freeing;

    struct fake_statement *statements;
    size_t n_statements;
    const char **channels;
    size_t n_channels;

    fake_query **queries; /* pointers: a callback may send more while one is answered */
    size_t n_queries;
    char problem[256];
};

static void *checked(void *p)
{
    if (!p)
        abort(); /* test code: out of memory is not a case worth handling */
    return p;
}

static char *dup_or_null(const char *s)
{
    return s ? checked(strdup(s)) : NULL;
}

static void note_problem(hippo_db *db, const char *what, const char *name)
{
    if (!db->problem[0])
        snprintf(db->problem, sizeof db->problem, "%s: %s", what, name ? name : "(null)");
}

hippo_db *hippo_db_new(struct event_base *base, const hippo_db_options *opts,
                       const hippo_logger *log, hippo_metrics *metrics)
{
    (void)base, (void)log;
    hippo_db *db = checked(calloc(1, sizeof *db));
    db->opts = *opts;
    db->metrics = metrics;
    db->conninfo = dup_or_null(opts->conninfo ? opts->conninfo : "");
    db->mode = FAKE_DB_DOWN; /* nothing connects until start, as in db.c */
    return db;
}

void hippo_db_prepare(hippo_db *db, const char *name, const char *sql, int nparams)
{
    if (db->started)
        note_problem(db, "statement prepared after hippo_db_start", name);
    db->statements =
        checked(realloc(db->statements, (db->n_statements + 1) * sizeof *db->statements));
    db->statements[db->n_statements++] = (struct fake_statement){name, sql, nparams};
}

void hippo_db_listen(hippo_db *db, const char *channel)
{
    db->channels = checked(realloc(db->channels, (db->n_channels + 1) * sizeof *db->channels));
    db->channels[db->n_channels++] = channel;
}

void hippo_db_start(hippo_db *db)
{
    db->started = true;
    fake_db_set_mode(db, FAKE_DB_UP);
}

bool hippo_db_is_up(const hippo_db *db)
{
    return db->mode != FAKE_DB_DOWN;
}

const char *hippo_db_down_reason(const hippo_db *db)
{
    return hippo_db_is_up(db) ? NULL : "fake database down";
}

static const struct fake_statement *statement(const hippo_db *db, const char *name)
{
    for (size_t i = 0; i < db->n_statements; i++)
        if (strcmp(db->statements[i].name, name) == 0)
            return &db->statements[i];
    return NULL;
}

/* Checks NAME against the registered statements; records the first misuse. */
static void check_statement(hippo_db *db, const char *name, int nparams)
{
    const struct fake_statement *s = statement(db, name);
    if (!s)
        note_problem(db, "statement sent but never prepared", name);
    else if (s->nparams != nparams)
        note_problem(db, "statement sent with another number of parameters than prepared", name);
}

static int refuse(hippo_db *db, enum hippo_db_refusal why)
{
    db->metrics->db_refused[why]++;
    return -1;
}

static int record(hippo_db *db, bool keyed, const char *key, const char *name, int nparams,
                  const char *const *params, hippo_db_result_cb cb, void *arg)
{
    if (!cb) {
        note_problem(db, "statement sent without a callback", name);
        return -1;
    }
    check_statement(db, name, nparams);
    if (db->mode == FAKE_DB_DOWN || db->freeing)
        return refuse(db, HIPPO_DB_REFUSED_DOWN);
    if (db->mode == FAKE_DB_OVERLOADED)
        return refuse(db, keyed ? HIPPO_DB_REFUSED_QUEUE_TIME : HIPPO_DB_REFUSED_IN_FLIGHT);
    fake_query *q = checked(calloc(1, sizeof *q));
    q->name = dup_or_null(name);
    q->nparams = nparams;
    q->params = checked(calloc(nparams > 0 ? (size_t)nparams : 1, sizeof *q->params));
    for (int i = 0; i < nparams; i++)
        q->params[i] = dup_or_null(params[i]);
    q->keyed = keyed;
    q->key = dup_or_null(key);
    q->cb = cb;
    q->arg = arg;
    db->queries = checked(realloc(db->queries, (db->n_queries + 1) * sizeof *db->queries));
    db->queries[db->n_queries++] = q;
    return 0;
}

int hippo_db_query(hippo_db *db, const char *name, int nparams, const char *const *params,
                   hippo_db_result_cb cb, void *arg)
{
    return record(db, false, NULL, name, nparams, params, cb, arg);
}

int hippo_db_query_keyed(hippo_db *db, const char *key, const char *name, int nparams,
                         const char *const *params, hippo_db_result_cb cb, void *arg)
{
    return record(db, true, key, name, nparams, params, cb, arg);
}

unsigned hippo_db_home(const hippo_db *db, const char *key)
{
    (void)db, (void)key;
    return 0; /* one connection */
}

size_t hippo_db_pending(const hippo_db *db)
{
    size_t n = 0;
    for (size_t i = 0; i < db->n_queries; i++)
        n += !db->queries[i]->answered;
    return n;
}

void hippo_db_set_conninfo(hippo_db *db, const char *conninfo)
{
    free(db->conninfo);
    db->conninfo = dup_or_null(conninfo);
}

static void query_free(fake_query *q)
{
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->name);
    free(q->key);
    free(q);
}

/* As db.c: what is still in flight fails with "shutting down", and those callbacks can send
 * nothing more. */
void hippo_db_free(hippo_db *db)
{
    if (!db)
        return;
    db->freeing = true;
    for (size_t i = 0; i < db->n_queries; i++)
        if (!db->queries[i]->answered)
            fake_db_answer(db, i, NULL, "shutting down");
    for (size_t i = 0; i < db->n_queries; i++)
        query_free(db->queries[i]);
    free(db->queries);
    free(db->statements);
    free(db->channels);
    free(db->conninfo);
    free(db);
}

/* ------------------------------------------------------------------ control (fakes.h) */

void fake_db_set_mode(hippo_db *db, fake_db_mode mode)
{
    bool was_up = hippo_db_is_up(db);
    db->mode = mode;
    bool up = hippo_db_is_up(db);
    db->metrics->db_up = up;
    db->metrics->db_connections_up = up ? 1 : 0;
    if (up != was_up && db->opts.on_state)
        db->opts.on_state(up, up ? NULL : "fake database down", db->opts.arg);
}

void fake_db_notify(hippo_db *db, const char *channel, const char *payload, bool own)
{
    if (db->opts.on_notify)
        db->opts.on_notify(channel, payload, own, db->opts.arg);
}

size_t fake_db_query_count(const hippo_db *db)
{
    return db->n_queries;
}

const fake_query *fake_db_query_at(const hippo_db *db, size_t i)
{
    return i < db->n_queries ? db->queries[i] : NULL;
}

void fake_db_answer(hippo_db *db, size_t i, const PGresult *res, const char *error)
{
    if (i >= db->n_queries || db->queries[i]->answered) {
        note_problem(db, "answer to a statement not sent or already answered", NULL);
        return;
    }
    fake_query *q = db->queries[i];
    q->answered = true; /* before the callback: it may look at the queries */
    q->cb(res, res ? NULL : error, q->arg);
}

bool fake_db_is_prepared(const hippo_db *db, const char *name)
{
    return statement(db, name) != NULL;
}

bool fake_db_listens(const hippo_db *db, const char *channel)
{
    for (size_t i = 0; i < db->n_channels; i++)
        if (strcmp(db->channels[i], channel) == 0)
            return true;
    return false;
}

const char *fake_db_problem(const hippo_db *db)
{
    return db->problem[0] ? db->problem : NULL;
}
