/* migrate.c - applies the embedded sql/ migrations once each, under an advisory lock. */
#include "migrate.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Session advisory lock key ("hippo" in ASCII) so concurrent runners take turns. */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_lock(448345321583)"
#define MIGRATE_UNLOCK_SQL "SELECT pg_advisory_unlock(448345321583)"

/* In public so it exists before (and independently of) the schemas the migrations make. */
#define MIGRATE_TABLE "public.hippo_schema_migrations"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* 1-based line of the 1-based character POSITION in SQL (PostgreSQL counts characters). */
static int line_of_position(const char *sql, long position)
{
    int line = 1;
    long chars = 0;
    for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++) {
        if ((*p & 0xC0) != 0x80 && ++chars >= position)
            break;
        if (*p == '\n')
            line++;
    }
    return line;
}

/* Formats the server's error of RES (or the connection's) into ERR, prefixed by WHAT.
 * SQL, when given, is the text the error position refers to. */
static void describe_error(PGconn *conn, const PGresult *res, const char *what, const char *sql,
                           char *err, size_t errlen)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary == NULL) {
        const char *msg = PQerrorMessage(conn);
        size_t n = strcspn(msg, "\n");
        set_err(err, errlen, "%s: %.*s", what, (int)n, msg);
        return;
    }
    const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    const char *context = PQresultErrorField(res, PG_DIAG_CONTEXT);
    char where[48] = "";
    if (pos != NULL && sql != NULL)
        snprintf(where, sizeof where, " (line %d)", line_of_position(sql, strtol(pos, NULL, 10)));
    int ctx_len = context ? (int)strcspn(context, "\n") : 0;
    set_err(err, errlen, "%s: %s%s%s%s%s%.*s", what, primary, where, detail ? "; " : "",
            detail ? detail : "", context ? "; " : "", ctx_len, context ? context : "");
}

/* Runs SQL (no parameters); on a status other than WANT describes the error and returns
 * NULL. Otherwise returns the result, which the caller frees with PQclear. */
static PGresult *run(PGconn *conn, const char *sql, ExecStatusType want, const char *what,
                     char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != want) {
        describe_error(conn, res, what, sql, err, errlen);
        PQclear(res);
        return NULL;
    }
    return res;
}

static bool run_ok(PGconn *conn, const char *sql, ExecStatusType want, const char *what, char *err,
                   size_t errlen)
{
    PGresult *res = run(conn, sql, want, what, err, errlen);
    PQclear(res);
    return res != NULL;
}

static bool ensure_table(PGconn *conn, char *err, size_t errlen)
{
    PGresult *res = run(conn, "SELECT to_regclass('" MIGRATE_TABLE "') IS NULL", PGRES_TUPLES_OK,
                        "checking " MIGRATE_TABLE, err, errlen);
    if (res == NULL)
        return false;
    bool missing = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!missing)
        return true;
    return run_ok(conn,
                  "CREATE TABLE " MIGRATE_TABLE " (name text PRIMARY KEY,"
                  " applied_at timestamptz NOT NULL DEFAULT now())",
                  PGRES_COMMAND_OK, "creating " MIGRATE_TABLE, err, errlen);
}

/* A migration may end with a query (e.g. SELECT setval(...)): both outcomes are success. */
static bool run_migration_sql(PGconn *conn, const hippo_migration *m, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, m->sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        describe_error(conn, res, m->name, m->sql, err, errlen);
    PQclear(res);
    return ok;
}

static bool is_known(const char *name)
{
    for (size_t i = 0; i < hippo_migrations_count; i++)
        if (strcmp(hippo_migrations[i].name, name) == 0)
            return true;
    return false;
}

/* A database migrated by a newer build is not an error, but worth saying. */
static bool warn_unknown(PGconn *conn, FILE *out, char *err, size_t errlen)
{
    PGresult *res = run(conn, "SELECT name FROM " MIGRATE_TABLE " ORDER BY name", PGRES_TUPLES_OK,
                        "reading " MIGRATE_TABLE, err, errlen);
    if (res == NULL)
        return false;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0);
        if (!is_known(name) && out != NULL)
            fprintf(out, "warning: the database has migration %s, unknown to this build\n", name);
    }
    PQclear(res);
    return true;
}

/* Inside an open transaction: 1 if M is recorded, 0 if not, -1 on error. */
static int is_applied(PGconn *conn, const hippo_migration *m, char *err, size_t errlen)
{
    const char *params[1] = {m->name};
    PGresult *res = PQexecParams(conn, "SELECT 1 FROM " MIGRATE_TABLE " WHERE name = $1", 1, NULL,
                                 params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        describe_error(conn, res, m->name, NULL, err, errlen);
        PQclear(res);
        return -1;
    }
    int found = PQntuples(res) > 0;
    PQclear(res);
    return found;
}

static bool record(PGconn *conn, const hippo_migration *m, char *err, size_t errlen)
{
    const char *params[1] = {m->name};
    PGresult *res = PQexecParams(conn, "INSERT INTO " MIGRATE_TABLE " (name) VALUES ($1)", 1, NULL,
                                 params, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        describe_error(conn, res, m->name, NULL, err, errlen);
    PQclear(res);
    return ok;
}

/* Applies M in its own transaction: 1 applied, 0 already there, -1 error (rolled back). */
static int apply_one(PGconn *conn, const hippo_migration *m, char *err, size_t errlen)
{
    if (!run_ok(conn, "BEGIN", PGRES_COMMAND_OK, m->name, err, errlen))
        return -1;
    int applied = is_applied(conn, m, err, errlen);
    bool ok = applied >= 0;
    if (ok && applied == 0)
        ok = run_migration_sql(conn, m, err, errlen) && record(conn, m, err, errlen);
    if (!ok) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    if (!run_ok(conn, "COMMIT", PGRES_COMMAND_OK, m->name, err, errlen))
        return -1;
    return applied == 0 ? 1 : 0;
}

static int apply_all(PGconn *conn, FILE *out, char *err, size_t errlen)
{
    if (!ensure_table(conn, err, errlen) || !warn_unknown(conn, out, err, errlen))
        return -1;
    int count = 0;
    for (size_t i = 0; i < hippo_migrations_count; i++) {
        int r = apply_one(conn, &hippo_migrations[i], err, errlen);
        if (r < 0)
            return -1;
        if (r > 0 && out != NULL)
            fprintf(out, "applied %s\n", hippo_migrations[i].name);
        count += r;
    }
    if (count == 0 && out != NULL)
        fprintf(out, "nothing to do\n");
    return count;
}

int hippo_migrate(PGconn *conn, FILE *out, char *err, size_t errlen)
{
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        describe_error(conn, NULL, "database connection", NULL, err, errlen);
        return -1;
    }
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
        set_err(err, errlen, "migrate: the connection is inside a transaction");
        return -1;
    }
    if (!run_ok(conn, MIGRATE_LOCK_SQL, PGRES_TUPLES_OK, "taking the migration lock", err, errlen))
        return -1;
    int count = apply_all(conn, out, err, errlen);
    /* The lock also ends with the session; an unlock failure is not worth reporting. */
    PQclear(PQexec(conn, MIGRATE_UNLOCK_SQL));
    if (out != NULL)
        fflush(out);
    return count;
}
