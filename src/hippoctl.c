/* hippoctl.c - operator and demo CLI over the SQL API of schema hippo (docs/sql-api.md).
 *
 * A one-shot command: a blocking libpq connection, parameterised queries only. Every
 * command is one row of the table at the end; its function parses its own options.
 */
#include <getopt.h>
#include <ini.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "guid.h"
#include "migrate.h"

#ifndef HIPPOD_VERSION
#define HIPPOD_VERSION "unknown"
#endif

#define EXIT_DB 1 /* connection or SQL error */
#define MAX_OPTS 8
#define OPT_BASE 256 /* getopt_long return values of table options: OPT_BASE + index */

typedef struct ctl {
    const char *conninfo; /* -d */
    const char *config;   /* -c */
    PGconn *conn;         /* opened on first query, closed by main */
    int fail_status;      /* exit status after a failed query: EXIT_DB or EX_CONFIG */
} ctl;

typedef struct ctl_command ctl_command;
typedef int (*ctl_run_fn)(ctl *c, const ctl_command *cmd, int argc, char **argv);

struct ctl_command {
    const char *words;    /* "group member add" */
    const char *synopsis; /* what follows the words */
    const char *summary;
    const char *details; /* option descriptions, or NULL */
    ctl_run_fn run;
};

/* Values of a repeated option; ITEMS point into argv, the array is freed with list_free. */
typedef struct ctl_list {
    const char **items;
    size_t n;
} ctl_list;

enum ctl_opt_kind { OPT_VALUE, OPT_FLAG, OPT_LIST };

typedef struct ctl_opt {
    const char *name;
    enum ctl_opt_kind kind;
    void *target; /* const char **, bool * or ctl_list * */
} ctl_opt;

/* ---- usage ------------------------------------------------------------------------- */

static void print_usage(FILE *f, const ctl_command *cmd)
{
    fprintf(f, "usage: hippoctl [-d CONNINFO | -c CONFIG] %s%s%s\n%s\n", cmd->words,
            *cmd->synopsis ? " " : "", cmd->synopsis, cmd->summary);
    if (cmd->details != NULL)
        fprintf(f, "\n%s", cmd->details);
}

static int usage_error(const ctl_command *cmd, const char *msg, const char *arg)
{
    fprintf(stderr, "hippoctl %s: %s%s\n", cmd->words, msg, arg ? arg : "");
    print_usage(stderr, cmd);
    return EX_USAGE;
}

/* ---- option parsing ---------------------------------------------------------------- */

static bool list_add(ctl_list *l, const char *item)
{
    const char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (items == NULL)
        return false;
    items[l->n++] = item;
    l->items = items;
    return true;
}

static void list_free(ctl_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static bool store_opt(const ctl_opt *o, const char *arg)
{
    switch (o->kind) {
    case OPT_VALUE:
        *(const char **)o->target = arg;
        return true;
    case OPT_FLAG:
        *(bool *)o->target = true;
        return true;
    case OPT_LIST:
        return list_add(o->target, arg);
    }
    return false;
}

/*
 * Parses ARGV (ARGV[0] is the last command word) against OPTS plus --help, and checks that
 * exactly NPOS positional arguments remain; they start at *FIRST. Returns false when the
 * command must end with *STATUS: 0 after --help, EX_USAGE after a usage error.
 */
static bool parse_args(const ctl_command *cmd, int argc, char **argv, const ctl_opt *opts,
                       size_t nopts, int npos, int *first, int *status)
{
    struct option longopts[MAX_OPTS + 2];
    size_t i;
    for (i = 0; i < nopts && i < MAX_OPTS; i++)
        longopts[i] = (struct option){opts[i].name,
                                      opts[i].kind == OPT_FLAG ? no_argument : required_argument,
                                      NULL, OPT_BASE + (int)i};
    longopts[i++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[i] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* GNU: full reinitialisation, scanning starts at argv[1] */
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            print_usage(stdout, cmd);
            *status = 0;
            return false;
        }
        if (ch == ':' || ch == '?') {
            *status = usage_error(cmd, ch == ':' ? "missing value for " : "unknown option ",
                                  argv[optind - 1]);
            return false;
        }
        if (!store_opt(&opts[ch - OPT_BASE], optarg)) {
            fprintf(stderr, "hippoctl: out of memory\n");
            *status = EXIT_DB;
            return false;
        }
    }
    if (argc - optind != npos) {
        *status = usage_error(cmd, argc - optind < npos ? "missing argument" : "too many arguments",
                              NULL);
        return false;
    }
    *first = optind;
    return true;
}

/* ---- database ---------------------------------------------------------------------- */

/* inih callback: keeps [database] conninfo (a strdup'd copy in *USER, freed by the caller). */
static int ini_conninfo(void *user, const char *section, const char *name, const char *value)
{
    char **out = user;
    if (strcmp(section, "database") == 0 && strcmp(name, "conninfo") == 0) {
        free(*out);
        *out = strdup(value);
        return *out != NULL;
    }
    return 1;
}

/* Reads only [database] conninfo of PATH: hippod validates the rest, and the component
 * secret need not be readable by operators. Returns a string the caller frees, or NULL. */
static char *config_conninfo(const char *path)
{
    char *conninfo = NULL;
    int rc = ini_parse(path, ini_conninfo, &conninfo);
    if (rc == -1)
        fprintf(stderr, "hippoctl: %s: cannot open\n", path);
    else if (rc != 0)
        fprintf(stderr, "hippoctl: %s:%d: cannot parse\n", path, rc);
    else if (conninfo == NULL)
        fprintf(stderr, "hippoctl: %s: no [database] conninfo\n", path);
    if (rc != 0) {
        free(conninfo);
        return NULL;
    }
    return conninfo;
}

static PGconn *connect_with(const char *conninfo)
{
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *values[] = {conninfo, "hippoctl", NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "hippoctl: cannot connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* The connection, opened on first use from -d, -c CONFIG or $HIPPO_DATABASE. */
static PGconn *db(ctl *c)
{
    if (c->conn != NULL)
        return c->conn;
    if (c->conninfo != NULL) {
        c->conn = connect_with(c->conninfo);
    } else if (c->config != NULL) {
        char *conninfo = config_conninfo(c->config);
        if (conninfo == NULL) {
            c->fail_status = EX_CONFIG;
            return NULL;
        }
        c->conn = connect_with(conninfo);
        free(conninfo);
    } else if (getenv("HIPPO_DATABASE") != NULL) {
        c->conn = connect_with(getenv("HIPPO_DATABASE"));
    } else {
        fprintf(stderr, "hippoctl: no database: use -d CONNINFO, -c CONFIG or $HIPPO_DATABASE\n");
        c->fail_status = EX_CONFIG;
    }
    return c->conn;
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

/* Runs SQL with N text PARAMS. Returns the result (the caller PQclears it), or NULL after
 * printing the server's message; then the command exits with c->fail_status. */
static PGresult *query(ctl *c, const char *sql, int n, const char *const *params)
{
    PGconn *conn = db(c);
    if (conn == NULL)
        return NULL;
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        print_server_error(conn, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Runs SQL and prints every row tab-separated (NULL as empty), each after PREFIX if given. */
static int print_query(ctl *c, const char *prefix, const char *sql, int n,
                       const char *const *params)
{
    PGresult *res = query(c, sql, n, params);
    if (res == NULL)
        return c->fail_status;
    for (int r = 0; r < PQntuples(res); r++) {
        if (prefix != NULL)
            printf("%s: ", prefix);
        for (int f = 0; f < PQnfields(res); f++)
            printf("%s%s", f ? "\t" : "", PQgetvalue(res, r, f));
        putchar('\n');
    }
    PQclear(res);
    return 0;
}

/* Runs SQL and prints its first row as "column: value" lines. */
static int print_record(ctl *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = query(c, sql, n, params);
    if (res == NULL)
        return c->fail_status;
    for (int f = 0; PQntuples(res) > 0 && f < PQnfields(res); f++)
        printf("%s: %s\n", PQfname(res, f), PQgetvalue(res, 0, f));
    PQclear(res);
    return 0;
}

/* Runs SQL whose result is nothing or one value to print (a new GUID). */
static int exec_print(ctl *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = query(c, sql, n, params);
    if (res == NULL)
        return c->fail_status;
    if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0) &&
        *PQgetvalue(res, 0, 0) != '\0')
        printf("%s\n", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* A USER argument is a user id or a JID. Returns the id (ARG itself, or copied into BUF),
 * or NULL after printing why. */
static const char *resolve_user(ctl *c, const char *arg, char buf[HIPPO_GUID_LEN + 1])
{
    if (strchr(arg, '@') == NULL)
        return arg;
    const char *params[] = {arg};
    PGresult *res = query(c, "SELECT hippo.user_by_jid($1)", 1, params);
    if (res == NULL)
        return NULL;
    const char *id = NULL;
    if (PQgetisnull(res, 0, 0)) {
        fprintf(stderr, "hippoctl: no user with jid \"%s\"\n", arg);
    } else {
        snprintf(buf, HIPPO_GUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
        id = buf;
    }
    PQclear(res);
    return id;
}

/* ---- commands ---------------------------------------------------------------------- */

static int cmd_migrate(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 0, &first, &status))
        return status;
    PGconn *conn = db(c);
    if (conn == NULL)
        return c->fail_status;
    char err[1024];
    if (hippo_migrate(conn, stdout, err, sizeof err) < 0) {
        fprintf(stderr, "hippoctl: migrate: %s\n", err);
        return EXIT_DB;
    }
    return 0;
}

static int cmd_user_add(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    const char *jid = NULL, *name = NULL;
    const ctl_opt opts[] = {{"jid", OPT_VALUE, &jid}, {"name", OPT_VALUE, &name}};
    int first, status;
    if (!parse_args(cmd, argc, argv, opts, 2, 0, &first, &status))
        return status;
    if (jid == NULL)
        return usage_error(cmd, "missing --jid", NULL);
    if (name == NULL)
        return usage_error(cmd, "missing --name", NULL);
    const char *params[] = {jid, name};
    return exec_print(c, "SELECT hippo.create_user($1, $2)", 2, params);
}

static int cmd_user_list(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 0, &first, &status))
        return status;
    return print_query(c, NULL, "SELECT id, jid, name FROM hippo.users ORDER BY created_at, id", 0,
                       NULL);
}

static int cmd_user_show(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {resolve_user(c, argv[first], buf)};
    if (params[0] == NULL)
        return c->fail_status;
    PGresult *check = query(c, "SELECT hippo.require_user($1)", 1, params);
    if (check == NULL)
        return c->fail_status;
    PQclear(check);
    status = print_record(c,
                          "SELECT u.id, u.jid, u.name, u.photo_version, u.created_at,"
                          " u.last_login_at, u.last_logout_at, m.name AS myspace_name"
                          " FROM hippo.users u LEFT JOIN hippo.myspace_names m ON m.user_id = u.id"
                          " WHERE u.id = $1",
                          1, params);
    if (status == 0)
        status = print_query(c, "group",
                             "SELECT g.id, g.name, m.status FROM hippo.group_members m"
                             " JOIN hippo.groups g ON g.id = m.group_id"
                             " WHERE m.user_id = $1 ORDER BY g.name, g.id",
                             1, params);
    return status;
}

/* Commands whose only input is one --name: "SELECT fn($1)" printing the new id. */
static int name_only(ctl *c, const ctl_command *cmd, int argc, char **argv, const char *sql)
{
    const char *name = NULL;
    const ctl_opt opts[] = {{"name", OPT_VALUE, &name}};
    int first, status;
    if (!parse_args(cmd, argc, argv, opts, 1, 0, &first, &status))
        return status;
    if (name == NULL)
        return usage_error(cmd, "missing --name", NULL);
    const char *params[] = {name};
    return exec_print(c, sql, 1, params);
}

static int cmd_group_add(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return name_only(c, cmd, argc, argv, "SELECT hippo.create_group($1)");
}

static int cmd_resource_add(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return name_only(c, cmd, argc, argv, "SELECT hippo.create_resource($1)");
}

static int cmd_group_list(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 0, &first, &status))
        return status;
    return print_query(c, NULL,
                       "SELECT g.id, g.name, count(m.user_id) FILTER (WHERE m.status = 'ACTIVE')"
                       " FROM hippo.groups g LEFT JOIN hippo.group_members m ON m.group_id = g.id"
                       " GROUP BY g.id ORDER BY g.created_at, g.id",
                       0, NULL);
}

static int cmd_group_show(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    const char *params[] = {argv[first]};
    PGresult *check = query(c, "SELECT hippo.require_group($1)", 1, params);
    if (check == NULL)
        return c->fail_status;
    PQclear(check);
    status = print_record(
        c, "SELECT id, name, photo_version, created_at FROM hippo.groups WHERE id = $1", 1, params);
    if (status == 0)
        status = print_query(c, "member",
                             "SELECT u.id, u.jid, u.name, m.status FROM hippo.group_members m"
                             " JOIN hippo.users u ON u.id = m.user_id"
                             " WHERE m.group_id = $1 ORDER BY u.jid",
                             1, params);
    return status;
}

/* GROUP USER commands calling "SELECT fn($1, $2)". */
static int group_user(ctl *c, const ctl_command *cmd, int argc, char **argv, const char *sql)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {argv[first], resolve_user(c, argv[first + 1], buf)};
    if (params[1] == NULL)
        return c->fail_status;
    return exec_print(c, sql, 2, params);
}

static int cmd_group_member_add(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return group_user(c, cmd, argc, argv, "SELECT hippo.add_group_member($1, $2)");
}

static int cmd_group_member_remove(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return group_user(c, cmd, argc, argv, "SELECT hippo.remove_group_member($1, $2)");
}

static int cmd_resource_list(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 0, &first, &status))
        return status;
    return print_query(c, NULL, "SELECT id, name FROM hippo.resources ORDER BY name", 0, NULL);
}

/* A text[] literal of ITEMS, every element quoted. Returns a string the caller frees. */
static char *array_literal(const ctl_list *items)
{
    size_t len = 3;
    for (size_t i = 0; i < items->n; i++)
        len += 2 * strlen(items->items[i]) + 3;
    char *out = malloc(len), *p = out;
    if (out == NULL)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < items->n; i++) {
        if (i > 0)
            *p++ = ',';
        *p++ = '"';
        for (const char *s = items->items[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

static int post_create(ctl *c, const char *poster, const char *href, const char *title,
                       const char *body, const ctl_list *to, bool world)
{
    char buf[HIPPO_GUID_LEN + 1];
    const char *poster_id = resolve_user(c, poster, buf);
    if (poster_id == NULL)
        return c->fail_status;
    char *recipients = array_literal(to);
    if (recipients == NULL) {
        fprintf(stderr, "hippoctl: out of memory\n");
        return EXIT_DB;
    }
    const char *params[] = {poster_id, href, title, body, recipients, world ? "true" : "false"};
    int status = exec_print(c, "SELECT hippo.create_post($1, $2, $3, $4, $5::text[], $6::boolean)",
                            6, params);
    free(recipients);
    return status;
}

static int cmd_post_create(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    const char *poster = NULL, *href = NULL, *title = NULL, *body = "";
    bool world = false;
    ctl_list to = {NULL, 0};
    const ctl_opt opts[] = {
        {"poster", OPT_VALUE, &poster}, {"href", OPT_VALUE, &href}, {"title", OPT_VALUE, &title},
        {"body", OPT_VALUE, &body},     {"to", OPT_LIST, &to},      {"world", OPT_FLAG, &world},
    };
    int first, status;
    if (!parse_args(cmd, argc, argv, opts, sizeof opts / sizeof opts[0], 0, &first, &status)) {
        list_free(&to);
        return status;
    }
    if (poster == NULL || href == NULL || title == NULL)
        status = usage_error(cmd, "missing ",
                             poster == NULL ? "--poster"
                             : href == NULL ? "--href"
                                            : "--title");
    else
        status = post_create(c, poster, href, title, body, &to, world);
    list_free(&to);
    return status;
}

static int cmd_post_list(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    const char *limit = "20";
    const ctl_opt opts[] = {{"limit", OPT_VALUE, &limit}};
    int first, status;
    if (!parse_args(cmd, argc, argv, opts, 1, 0, &first, &status))
        return status;
    if (strspn(limit, "0123456789") != strlen(limit) || *limit == '\0' || strlen(limit) > 9)
        return usage_error(cmd, "--limit needs a number, not ", limit);
    const char *params[] = {limit};
    return print_query(c, NULL,
                       "SELECT p.id, p.created_at, u.jid, p.title FROM hippo.posts p"
                       " JOIN hippo.users u ON u.id = p.poster_id"
                       " ORDER BY p.created_at DESC, p.id LIMIT $1::integer",
                       1, params);
}

static int cmd_post_show(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    const char *params[] = {argv[first]};
    PGresult *check = query(c, "SELECT hippo.require_post($1)", 1, params);
    if (check == NULL)
        return c->fail_status;
    PQclear(check);
    status = print_record(c,
                          "SELECT p.id, p.poster_id, u.jid AS poster_jid, p.href, p.title, p.body,"
                          " p.to_world, p.created_at,"
                          " (SELECT count(*) FROM hippo.post_views v WHERE v.post_id = p.id)"
                          " AS total_viewers"
                          " FROM hippo.posts p JOIN hippo.users u ON u.id = p.poster_id"
                          " WHERE p.id = $1",
                          1, params);
    if (status == 0)
        status = print_query(
            c, "recipient",
            "SELECT CASE WHEN r.user_id IS NOT NULL THEN 'user'"
            " WHEN r.group_id IS NOT NULL THEN 'group' ELSE 'resource' END,"
            " coalesce(r.user_id, r.group_id, r.resource_id), coalesce(u.jid, g.name, s.name)"
            " FROM hippo.post_recipients r LEFT JOIN hippo.users u ON u.id = r.user_id"
            " LEFT JOIN hippo.groups g ON g.id = r.group_id"
            " LEFT JOIN hippo.resources s ON s.id = r.resource_id"
            " WHERE r.post_id = $1 ORDER BY r.position",
            1, params);
    if (status == 0)
        status = print_query(c, "audience",
                             "SELECT a.id FROM hippo.post_audience($1) AS a(id) ORDER BY a.id", 1,
                             params);
    if (status == 0)
        status = print_query(c, "viewer",
                             "SELECT user_id, first_viewed_at FROM hippo.post_views"
                             " WHERE post_id = $1 ORDER BY first_viewed_at, user_id",
                             1, params);
    return status;
}

static int cmd_view_record(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {argv[first], resolve_user(c, argv[first + 1], buf)};
    if (params[1] == NULL)
        return c->fail_status;
    return exec_print(c, "SELECT hippo.record_view($1, $2)", 2, params);
}

/* USER KEY [VALUE]: set_pref with VALUE, or with NULL (unset) when NARGS is 2. */
static int pref_change(ctl *c, const ctl_command *cmd, int argc, char **argv, int nargs)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, nargs, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {resolve_user(c, argv[first], buf), argv[first + 1],
                            nargs == 3 ? argv[first + 2] : NULL};
    if (params[0] == NULL)
        return c->fail_status;
    return exec_print(c, "SELECT hippo.set_pref($1, $2, $3)", 3, params);
}

static int cmd_pref_set(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return pref_change(c, cmd, argc, argv, 3);
}

static int cmd_pref_unset(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return pref_change(c, cmd, argc, argv, 2);
}

static int cmd_pref_list(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {resolve_user(c, argv[first], buf)};
    if (params[0] == NULL)
        return c->fail_status;
    PGresult *check = query(c, "SELECT hippo.require_user($1)", 1, params);
    if (check == NULL)
        return c->fail_status;
    PQclear(check);
    return print_query(
        c, NULL, "SELECT key, value FROM hippo.prefs WHERE user_id = $1 ORDER BY key", 1, params);
}

static int cmd_myspace_set(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {resolve_user(c, argv[first], buf), argv[first + 1]};
    if (params[0] == NULL)
        return c->fail_status;
    return exec_print(c, "SELECT hippo.set_myspace_name($1, $2)", 2, params);
}

static int cmd_myspace_comment(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {resolve_user(c, argv[first], buf), argv[first + 1]};
    if (params[0] == NULL)
        return c->fail_status;
    return exec_print(c, "SELECT hippo.notify_contact_comment($1, $2)", 2, params);
}

/* POST USER: set_post_ignored to IGNORED; an unknown or invisible post is an error. */
static int post_ignore(ctl *c, const ctl_command *cmd, int argc, char **argv, const char *ignored)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {argv[first], resolve_user(c, argv[first + 1], buf), ignored};
    if (params[1] == NULL)
        return c->fail_status;
    PGresult *res = query(c, "SELECT hippo.set_post_ignored($1, $2, $3::boolean)", 3, params);
    if (res == NULL)
        return c->fail_status;
    bool done = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!done) {
        fprintf(stderr, "hippoctl: no post \"%s\" that this user can see\n", params[0]);
        return EXIT_DB;
    }
    return 0;
}

static int cmd_post_ignore(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return post_ignore(c, cmd, argc, argv, "true");
}

static int cmd_post_unignore(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return post_ignore(c, cmd, argc, argv, "false");
}

static int cmd_outbox_list(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    const char *limit = "100";
    const ctl_opt opts[] = {{"limit", OPT_VALUE, &limit}};
    int first, status;
    if (!parse_args(cmd, argc, argv, opts, 1, 0, &first, &status))
        return status;
    if (strspn(limit, "0123456789") != strlen(limit) || *limit == '\0' || strlen(limit) > 9)
        return usage_error(cmd, "--limit needs a number, not ", limit);
    const char *params[] = {limit};
    return print_query(c, NULL,
                       "SELECT id, kind, coalesce(post_id, ''), coalesce(user_id, ''),"
                       " coalesce(actor_id, ''), date_trunc('second', now() - created_at),"
                       " coalesce(claimed_pid::text, '')"
                       " FROM hippo.outbox ORDER BY id LIMIT $1::integer",
                       1, params);
}

/* USER CONTACT commands calling "SELECT fn($1, $2)" with both resolved to user ids. */
static int user_pair(ctl *c, const ctl_command *cmd, int argc, char **argv, const char *sql)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    char buf[2][HIPPO_GUID_LEN + 1];
    const char *params[] = {resolve_user(c, argv[first], buf[0]), NULL};
    if (params[0] == NULL)
        return c->fail_status;
    params[1] = resolve_user(c, argv[first + 1], buf[1]);
    if (params[1] == NULL)
        return c->fail_status;
    return exec_print(c, sql, 2, params);
}

static int cmd_contact_add(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return user_pair(c, cmd, argc, argv, "SELECT hippo.add_contact($1, $2)");
}

static int cmd_contact_remove(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    return user_pair(c, cmd, argc, argv, "SELECT hippo.remove_contact($1, $2)");
}

static int cmd_contact_list(ctl *c, const ctl_command *cmd, int argc, char **argv)
{
    int first, status;
    if (!parse_args(cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    char buf[HIPPO_GUID_LEN + 1];
    const char *params[] = {resolve_user(c, argv[first], buf)};
    if (params[0] == NULL)
        return c->fail_status;
    PGresult *check = query(c, "SELECT hippo.require_user($1)", 1, params);
    if (check == NULL)
        return c->fail_status;
    PQclear(check);
    return print_query(c, NULL,
                       "SELECT u.id, u.jid, u.name, coalesce(m.name, ''),"
                       " coalesce(f.friend_id::text, '') FROM hippo.contacts k"
                       " JOIN hippo.users u ON u.id = k.contact_id"
                       " LEFT JOIN hippo.myspace_names m ON m.user_id = u.id"
                       " LEFT JOIN hippo.myspace_friend_ids f ON f.user_id = u.id"
                       " WHERE k.owner_id = $1 ORDER BY u.jid",
                       1, params);
}

/* ---- dispatch ---------------------------------------------------------------------- */

static const ctl_command commands[] = {
    {"migrate", "", "Apply the pending database migrations.", NULL, cmd_migrate},
    {"user add", "--jid JID --name NAME", "Create a user; prints its id.",
     "  --jid JID     bare XMPP address (stored lower-cased)\n"
     "  --name NAME   display name\n",
     cmd_user_add},
    {"user list", "", "List users: id, jid, name.", NULL, cmd_user_list},
    {"user show", "USER", "Show a user (id or JID), its groups.", NULL, cmd_user_show},
    {"group add", "--name NAME", "Create a group; prints its id.", NULL, cmd_group_add},
    {"group list", "", "List groups: id, name, active members.", NULL, cmd_group_list},
    {"group show", "GROUP", "Show a group and its members.", NULL, cmd_group_show},
    {"group member add", "GROUP USER", "Make USER an active member of GROUP.", NULL,
     cmd_group_member_add},
    {"group member remove", "GROUP USER", "Mark USER's membership of GROUP removed.", NULL,
     cmd_group_member_remove},
    {"resource add", "--name NAME", "Create (or find) a non-user recipient, e.g. an e-mail.", NULL,
     cmd_resource_add},
    {"resource list", "", "List resources: id, name.", NULL, cmd_resource_list},
    {"post create", "--poster USER --href URL --title TITLE [--body TEXT] [--to ID]... [--world]",
     "Create a post; prints its id.",
     "  --poster USER   poster (user id or JID)\n"
     "  --href URL      the shared link\n"
     "  --title TITLE   its title\n"
     "  --body TEXT     description (default empty)\n"
     "  --to ID         a recipient: user, group or resource id (repeatable, kept in order)\n"
     "  --world         visible to everyone\n",
     cmd_post_create},
    {"post list", "[--limit N]", "List the newest posts: id, date, poster, title.",
     "  --limit N   at most N posts (default 20)\n", cmd_post_list},
    {"post show", "POST", "Show a post, its recipients, audience and viewers.", NULL,
     cmd_post_show},
    {"view record", "POST USER", "Record that USER viewed (clicked) POST.", NULL, cmd_view_record},
    {"post ignore", "POST USER", "Mark POST ignored by USER (postControl ignore).", NULL,
     cmd_post_ignore},
    {"post unignore", "POST USER", "Mark POST no longer ignored by USER.", NULL, cmd_post_unignore},
    {"pref set", "USER KEY VALUE", "Set a preference of USER.", NULL, cmd_pref_set},
    {"pref unset", "USER KEY", "Remove a preference of USER.", NULL, cmd_pref_unset},
    {"pref list", "USER", "List USER's preferences: key, value.", NULL, cmd_pref_list},
    {"myspace set", "USER NAME", "Set USER's MySpace name; an empty NAME clears it.", NULL,
     cmd_myspace_set},
    {"myspace comment", "USER NAME",
     "notifyContactComment: tell USER's contacts named NAME; prints how many.", NULL,
     cmd_myspace_comment},
    {"contact add", "USER CONTACT", "Add CONTACT (a user) to USER's contacts.", NULL,
     cmd_contact_add},
    {"contact remove", "USER CONTACT", "Remove CONTACT from USER's contacts.", NULL,
     cmd_contact_remove},
    {"contact list", "USER", "List USER's contacts: id, jid, name, MySpace name, friend id.", NULL,
     cmd_contact_list},
    {"outbox list", "[--limit N]",
     "List waiting push events: id, kind, post, user, actor, age, claimer pid.",
     "  --limit N   at most N events, oldest first (default 100)\n", cmd_outbox_list},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* Number of leading ARGV elements that equal the leading words of WORDS. */
static int words_matched(const char *words, int argc, char **argv)
{
    int n = 0;
    const char *w = words;
    while (*w != '\0' && n < argc) {
        size_t len = strcspn(w, " ");
        if (strlen(argv[n]) != len || strncmp(argv[n], w, len) != 0)
            break;
        n++;
        w += len;
        w += *w == ' ';
    }
    return n;
}

static int word_count(const char *words)
{
    int n = 1;
    for (const char *p = words; *p; p++)
        n += *p == ' ';
    return n;
}

/* Lists the commands whose first N words are ARGV[0..N-1] (all commands for N = 0). */
static void print_commands(FILE *f, int n, char **argv)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (words_matched(commands[i].words, n, argv) < n)
            continue;
        char left[128];
        snprintf(left, sizeof left, "%s%s%s", commands[i].words, *commands[i].synopsis ? " " : "",
                 commands[i].synopsis);
        if (strlen(left) > 38)
            fprintf(f, "  %s\n  %-38s %s\n", left, "", commands[i].summary);
        else
            fprintf(f, "  %-38s %s\n", left, commands[i].summary);
    }
}

static void print_main_usage(FILE *f)
{
    fprintf(f, "usage: hippoctl [-d CONNINFO | -c CONFIG] COMMAND [ARGS]\n"
               "       hippoctl --help | --version\n\n"
               "Operator and demo tool over hippod's SQL API (schema hippo).\n"
               "Database: -d CONNINFO, else [database] conninfo of -c CONFIG, else "
               "$HIPPO_DATABASE.\n"
               "USER arguments take a user id or a JID. COMMAND --help describes a command.\n\n"
               "Commands:\n");
    print_commands(f, 0, NULL);
    fprintf(f, "\nExit status: 0 success, 1 database error, 64 usage error, 78 configuration "
               "error.\n");
}

/* Runs the command named by the leading words of ARGV. */
static int dispatch(ctl *c, int argc, char **argv)
{
    int best = 0;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        int n = words_matched(commands[i].words, argc, argv);
        if (n == word_count(commands[i].words))
            return commands[i].run(c, &commands[i], argc - n + 1, argv + n - 1);
        best = n > best ? n : best;
    }
    if (best == 0) {
        fprintf(stderr, "hippoctl: unknown command \"%s\"\n", argv[0]);
        print_main_usage(stderr);
        return EX_USAGE;
    }
    bool help = best < argc && (strcmp(argv[best], "--help") == 0 || strcmp(argv[best], "-h") == 0);
    FILE *f = help ? stdout : stderr;
    if (!help)
        fprintf(stderr, "hippoctl: incomplete or unknown command\n");
    fprintf(f, "usage:\n");
    print_commands(f, best, argv);
    return help ? 0 : EX_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"database", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    ctl c = {.fail_status = EXIT_DB};
    int ch;
    /* "+": stop at the command, whose options are its own. */
    while ((ch = getopt_long(argc, argv, "+d:c:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            c.conninfo = optarg;
            break;
        case 'c':
            c.config = optarg;
            break;
        case 'h':
            print_main_usage(stdout);
            return 0;
        case 'V':
            printf("hippoctl %s\n", HIPPOD_VERSION);
            return 0;
        default:
            print_main_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "hippoctl: missing command\n");
        print_main_usage(stderr);
        return EX_USAGE;
    }
    int status = dispatch(&c, argc - optind, argv + optind);
    PQfinish(c.conn);
    return status;
}
