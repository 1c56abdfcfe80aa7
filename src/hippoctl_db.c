/* hippoctl_db.c - where the database and the rooms domain come from, the blocking libpq
 * connection, the exit status an error calls for, and text or JSON output of query results.
 * Parameterised queries only: a value never becomes SQL text. */
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "hippoctl.h"

#define TEXTOID 25 /* pg_type.h is a server header */

/* ---- -c FILE ------------------------------------------------------------------------ */

static int keep(char **out, const char *value)
{
    free(*out);
    *out = strdup(value);
    return *out != NULL;
}

/* inih callback: keeps [database] conninfo and [component] domain (strdup'd into C). */
static int ini_wanted(void *user, const char *section, const char *name, const char *value)
{
    hippoctl *c = user;
    if (strcmp(section, "database") == 0 && strcmp(name, "conninfo") == 0)
        return keep(&c->config_conninfo, value);
    if (strcmp(section, "component") == 0 && strcmp(name, "domain") == 0)
        return keep(&c->config_domain, value);
    return 1;
}

/* Reads the two keys hippoctl needs from -c FILE, once: hippod validates the rest, and the
 * component secret need not be readable by operators. False (c->status set) on a problem. */
static bool read_config(hippoctl *c)
{
    if (c->config == NULL || c->config_read)
        return true;
    int rc = ini_parse(c->config, ini_wanted, c);
    if (rc == -1)
        fprintf(stderr, "hippoctl: %s: cannot open\n", c->config);
    else if (rc == -2)
        fprintf(stderr, "hippoctl: %s: out of memory\n", c->config);
    else if (rc != 0)
        fprintf(stderr, "hippoctl: %s:%d: cannot parse\n", c->config, rc);
    if (rc != 0) {
        c->status = HIPPOCTL_EXIT_CONFIG;
        return false;
    }
    c->config_read = true;
    return true;
}

const char *hippoctl_domain(hippoctl *c, bool *ok)
{
    *ok = true;
    if (c->domain_opt != NULL)
        return c->domain_opt;
    if (c->config != NULL) {
        *ok = read_config(c);
        if (c->config_domain != NULL || !*ok)
            return c->config_domain;
    }
    const char *env = getenv("HIPPO_DOMAIN");
    return env != NULL && *env != '\0' ? env : NULL;
}

/* ---- connection --------------------------------------------------------------------- */

/* A conninfo that libpq cannot parse is the caller's mistake, not an outage. */
static bool conninfo_parses(const char *conninfo, const char *source)
{
    if (strchr(conninfo, '=') == NULL && strncmp(conninfo, "postgresql://", 13) != 0 &&
        strncmp(conninfo, "postgres://", 11) != 0)
        return true; /* a plain database name, as libpq's expand_dbname takes it */
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        fprintf(stderr, "hippoctl: bad conninfo from %s: %s", source,
                err ? err : "out of memory\n");
        PQfreemem(err);
        return false;
    }
    PQconninfoFree(opts);
    return true;
}

static PGconn *connect_with(hippoctl *c, const char *conninfo, const char *source)
{
    if (!conninfo_parses(conninfo, source)) {
        c->status = c->config && c->conninfo == NULL ? HIPPOCTL_EXIT_CONFIG : HIPPOCTL_EXIT_USAGE;
        return NULL;
    }
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *values[] = {conninfo, "hippoctl", NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "hippoctl: cannot connect to the database: %s", PQerrorMessage(conn));
        PQfinish(conn);
        c->status = HIPPOCTL_EXIT_UNAVAILABLE;
        return NULL;
    }
    return conn;
}

/* The conninfo and where it came from: -d, else -c FILE, else $HIPPO_DATABASE. */
static const char *conninfo_source(hippoctl *c, const char **source)
{
    *source = "-d";
    if (c->conninfo != NULL)
        return c->conninfo;
    if (c->config != NULL) {
        if (!read_config(c))
            return NULL;
        *source = c->config;
        if (c->config_conninfo == NULL) {
            fprintf(stderr, "hippoctl: %s: no [database] conninfo\n", c->config);
            c->status = HIPPOCTL_EXIT_CONFIG;
        }
        return c->config_conninfo;
    }
    *source = "$HIPPO_DATABASE";
    const char *env = getenv("HIPPO_DATABASE");
    if (env == NULL || *env == '\0') {
        fprintf(stderr, "hippoctl: no database: use -d CONNINFO, -c CONFIG or $HIPPO_DATABASE\n");
        c->status = HIPPOCTL_EXIT_CONFIG;
        return NULL;
    }
    return env;
}

PGconn *hippoctl_db(hippoctl *c)
{
    if (c->conn != NULL)
        return c->conn;
    const char *source;
    const char *conninfo = conninfo_source(c, &source);
    if (conninfo != NULL)
        c->conn = connect_with(c, conninfo, source);
    return c->conn;
}

void hippoctl_close(hippoctl *c)
{
    PQfinish(c->conn);
    c->conn = NULL;
    free(c->config_conninfo);
    free(c->config_domain);
    c->config_conninfo = c->config_domain = NULL;
}

/* ---- queries ------------------------------------------------------------------------ */

/* SQLSTATEs that say the server is not there or not taking work (class 08, shutdown,
 * starting up, too many connections): worth retrying later. */
static bool state_unavailable(const char *state)
{
    static const char *const states[] = {"57P01", "57P02", "57P03", "53300", NULL};
    if (strncmp(state, "08", 2) == 0)
        return true;
    for (int i = 0; states[i]; i++)
        if (strcmp(state, states[i]) == 0)
            return true;
    return false;
}

/* The exit status for a failed statement: a lost connection or server unavailable is 69,
 * class 22 (malformed input: bad GUID, bad JID, empty name) is a usage error, the rest 1. */
static int status_of(PGconn *conn, const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQstatus(conn) == CONNECTION_BAD || (state != NULL && state_unavailable(state)))
        return HIPPOCTL_EXIT_UNAVAILABLE;
    if (state != NULL && strncmp(state, "22", 2) == 0)
        return HIPPOCTL_EXIT_USAGE;
    return HIPPOCTL_EXIT_OTHER;
}

static void print_server_error(PGconn *conn, const PGresult *res)
{
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    if (primary != NULL)
        fprintf(stderr, "hippoctl: %s\n", primary);
    else
        fprintf(stderr, "hippoctl: %s", PQerrorMessage(conn));
    if (detail != NULL)
        fprintf(stderr, "hippoctl: detail: %s\n", detail);
}

PGresult *hippoctl_query(hippoctl *c, const char *sql, int n, const char *const *params)
{
    PGconn *conn = hippoctl_db(c);
    if (conn == NULL)
        return NULL;
    /* Every parameter is declared text: a show command passes all of them to each of its
     * queries, and PostgreSQL cannot infer the type of one a query does not use. */
    Oid types[HIPPOCTL_MAX_PARAMS];
    if (n > HIPPOCTL_MAX_PARAMS) {
        fprintf(stderr, "hippoctl: internal error: %d parameters (at most %d)\n", n,
                HIPPOCTL_MAX_PARAMS);
        c->status = HIPPOCTL_EXIT_OTHER;
        return NULL;
    }
    for (int i = 0; i < n; i++)
        types[i] = TEXTOID;
    PGresult *res = PQexecParams(conn, sql, n, types, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        print_server_error(conn, res);
        c->status = status_of(conn, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

int hippoctl_exec(hippoctl *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = hippoctl_query(c, sql, n, params);
    if (res == NULL)
        return c->status;
    PQclear(res);
    return 0;
}

int hippoctl_exec_print(hippoctl *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = hippoctl_query(c, sql, n, params);
    if (res == NULL)
        return c->status;
    if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0) &&
        *PQgetvalue(res, 0, 0) != '\0')
        printf("%s\n", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* ---- output ------------------------------------------------------------------------- */

/* Prints the single value of SQL's result (PostgreSQL built the JSON). */
static int print_value(hippoctl *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = hippoctl_query(c, sql, n, params);
    if (res == NULL)
        return c->status;
    if (PQntuples(res) > 0)
        printf("%s\n", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* Writes V with backslash, tab, newline and carriage return escaped as PostgreSQL's COPY
 * text format does, so that a value (a message body) cannot break the lines and columns. */
static void put_text_value(const char *v)
{
    for (; *v; v++) {
        const char *esc = *v == '\\'   ? "\\\\"
                          : *v == '\t' ? "\\t"
                          : *v == '\n' ? "\\n"
                          : *v == '\r' ? "\\r"
                                       : NULL;
        if (esc != NULL)
            fputs(esc, stdout);
        else
            putchar(*v);
    }
}

/* Text rows, each after "PREFIX: " if PREFIX is given. */
static int print_text_rows(hippoctl *c, const char *prefix, const char *sql, int n,
                           const char *const *params)
{
    PGresult *res = hippoctl_query(c, sql, n, params);
    if (res == NULL)
        return c->status;
    for (int r = 0; r < PQntuples(res); r++) {
        if (prefix != NULL)
            printf("%s: ", prefix);
        for (int f = 0; f < PQnfields(res); f++) {
            if (f > 0)
                putchar('\t');
            put_text_value(PQgetvalue(res, r, f));
        }
        putchar('\n');
    }
    PQclear(res);
    return 0;
}

/* Wraps SQL as "SELECT coalesce(json_agg(q), '[]') FROM (SQL) q" (json keeps the column
 * order). Returns a string the caller frees, or NULL when out of memory. */
static char *json_array_sql(const char *sql, const char *agg)
{
    char *out = NULL;
    if (asprintf(&out, "(SELECT coalesce(%s(q), '[]') FROM (%s) q)", agg, sql) < 0)
        return NULL;
    return out;
}

int hippoctl_print_rows(hippoctl *c, const char *sql, int n, const char *const *params)
{
    if (!c->json)
        return print_text_rows(c, NULL, sql, n, params);
    char *inner = json_array_sql(sql, "json_agg"), *query = NULL;
    int status = HIPPOCTL_EXIT_OTHER;
    if (inner != NULL && asprintf(&query, "SELECT %s", inner) >= 0)
        status = print_value(c, query, n, params);
    else
        fprintf(stderr, "hippoctl: out of memory\n");
    free(inner);
    free(query);
    return status;
}

static int print_text_record(hippoctl *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = hippoctl_query(c, sql, n, params);
    if (res == NULL)
        return c->status;
    for (int f = 0; PQntuples(res) > 0 && f < PQnfields(res); f++) {
        printf("%s: ", PQfname(res, f));
        put_text_value(PQgetvalue(res, 0, f));
        putchar('\n');
    }
    PQclear(res);
    return 0;
}

/* "SELECT to_jsonb(r) || jsonb_build_object('NAME', (list), ...) FROM (RECORD) r". Returns
 * a string the caller frees, or NULL when out of memory. */
static char *json_show_sql(const char *record_sql, const hippoctl_section *sections, size_t ns)
{
    char *sql = strdup("SELECT to_jsonb(r) || jsonb_build_object(");
    for (size_t i = 0; sql != NULL && i < ns; i++) {
        char *list = json_array_sql(sections[i].sql, "jsonb_agg"), *next = NULL;
        if (list != NULL &&
            asprintf(&next, "%s%s'%s', %s", sql, i ? ", " : "", sections[i].name, list) < 0)
            next = NULL;
        free(list);
        free(sql);
        sql = next;
    }
    char *out = NULL;
    if (sql != NULL && asprintf(&out, "%s) FROM (%s) r", sql, record_sql) < 0)
        out = NULL;
    free(sql);
    return out;
}

int hippoctl_print_show(hippoctl *c, const char *record_sql, const hippoctl_section *sections,
                        size_t nsections, int n, const char *const *params)
{
    if (c->json) {
        char *sql = json_show_sql(record_sql, sections, nsections);
        if (sql == NULL) {
            fprintf(stderr, "hippoctl: out of memory\n");
            return HIPPOCTL_EXIT_OTHER;
        }
        int status = print_value(c, sql, n, params);
        free(sql);
        return status;
    }
    int status = print_text_record(c, record_sql, n, params);
    for (size_t i = 0; status == 0 && i < nsections; i++)
        status = print_text_rows(c, sections[i].name, sections[i].sql, n, params);
    return status;
}
