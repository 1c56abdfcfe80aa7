/* hippoctl.h - what the parts of hippoctl share: the run's state, the command table's row,
 * option parsing, the database and output helpers, and the argument resolvers.
 *
 * hippoctl.c: main, global options, the command table, dispatch.
 * hippoctl_args.c: a command's options and usage. hippoctl_db.c: config, connection, queries,
 * exit statuses, text and JSON output. hippoctl_resolve.c: USER, POST, GROUP and recipient
 * arguments given as GUIDs or JIDs, room JIDs. The commands: hippoctl_people.c (users,
 * groups, resources, contacts), hippoctl_posts.c (posts, views, rooms), hippoctl_misc.c
 * (migrate, prefs, MySpace, outbox).
 */
#ifndef HIPPOCTL_H
#define HIPPOCTL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sysexits.h>

#include "guid.h"

/* Exit statuses (hippoctl(1)): a script can tell a mistake of its own (64), an outage worth
 * retrying (69) and a refusal by the data (1) apart. */
#define HIPPOCTL_EXIT_OTHER 1                    /* the database refused: unknown id, duplicate */
#define HIPPOCTL_EXIT_USAGE EX_USAGE             /* 64: bad command line or malformed value */
#define HIPPOCTL_EXIT_UNAVAILABLE EX_UNAVAILABLE /* 69: cannot reach the database */
#define HIPPOCTL_EXIT_CONFIG EX_CONFIG           /* 78: no database given, unreadable -c FILE */

#define HIPPOCTL_MAX_OPTS 8
#define HIPPOCTL_MAX_PARAMS 8 /* of one statement */
#define HIPPOCTL_COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct hippoctl {
    const char *conninfo;   /* -d */
    const char *config;     /* -c */
    const char *domain_opt; /* --domain */
    bool config_read;       /* -c FILE has been read into the two fields below */
    char *config_conninfo;  /* its [database] conninfo, owned */
    char *config_domain;    /* its [component] domain, owned */
    PGconn *conn;           /* opened on first query, closed by hippoctl_close */
    int status;             /* exit status of the last failure */
    bool json;              /* --json of the running command */
} hippoctl;

typedef struct hippoctl_command hippoctl_command;
typedef int (*hippoctl_run_fn)(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv);

struct hippoctl_command {
    const char *words;    /* "group member add" */
    const char *synopsis; /* what follows the words */
    const char *summary;
    const char *details; /* option descriptions, or NULL */
    hippoctl_run_fn run;
    bool json; /* takes --json */
};

/* ---- hippoctl_args.c ---------------------------------------------------------------- */

/* Values of a repeated option; ITEMS point into argv; freed with hippoctl_list_free. */
typedef struct hippoctl_list {
    const char **items;
    size_t n;
} hippoctl_list;

enum hippoctl_opt_kind { HIPPOCTL_OPT_VALUE, HIPPOCTL_OPT_FLAG, HIPPOCTL_OPT_LIST };

typedef struct hippoctl_opt {
    const char *name;
    enum hippoctl_opt_kind kind;
    void *target; /* const char **, bool * or hippoctl_list * */
} hippoctl_opt;

void hippoctl_list_free(hippoctl_list *l);
void hippoctl_print_usage(FILE *f, const hippoctl_command *cmd);
/* Prints "hippoctl WORDS: MSG ARG" and the usage on stderr; returns HIPPOCTL_EXIT_USAGE. */
int hippoctl_usage_error(const hippoctl_command *cmd, const char *msg, const char *arg);

/*
 * Parses ARGV (ARGV[0] is the last command word) against OPTS, --help and (for a command
 * with json set) --json into c->json, and checks that exactly NPOS positional arguments
 * remain; they start at *FIRST. Returns false when the command must end with *STATUS: 0
 * after --help, HIPPOCTL_EXIT_USAGE after a usage error.
 */
bool hippoctl_parse_args(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                         const hippoctl_opt *opts, size_t nopts, int npos, int *first, int *status);

/* A --limit value: 1 to 9 digits. */
bool hippoctl_is_count(const char *s);

/* ---- hippoctl_db.c ------------------------------------------------------------------ */

/* The open connection (from -d, -c FILE or $HIPPO_DATABASE), or NULL with c->status set. */
PGconn *hippoctl_db(hippoctl *c);
/* The rooms component domain (--domain, [component] domain of -c FILE, $HIPPO_DOMAIN), or
 * NULL when none is given. *OK is false (c->status set) when -c FILE cannot be read. The
 * string lives as long as C. */
const char *hippoctl_domain(hippoctl *c, bool *ok);
void hippoctl_close(hippoctl *c);

/* Runs SQL with N text PARAMS. Returns the result (the caller PQclears it), or NULL after
 * printing the server's message, with c->status set to the exit status it calls for. */
PGresult *hippoctl_query(hippoctl *c, const char *sql, int n, const char *const *params);
/* hippoctl_query for statements whose result is not needed; returns 0 or c->status. */
int hippoctl_exec(hippoctl *c, const char *sql, int n, const char *const *params);
/* Prints the first value of SQL's result, if any and not empty (a new GUID). */
int hippoctl_exec_print(hippoctl *c, const char *sql, int n, const char *const *params);

/* Prints SQL's rows: tab-separated lines (NULL as empty), or with --json an array of
 * objects keyed by the column names. */
int hippoctl_print_rows(hippoctl *c, const char *sql, int n, const char *const *params);

/* One list of a show command: text lines "NAME: a\tb", JSON key NAME (an array). */
typedef struct hippoctl_section {
    const char *name;
    const char *sql;
} hippoctl_section;

/* Prints RECORD_SQL's first row as "column: value" lines, then each section's rows; with
 * --json one object: the record's columns plus one array per section. */
int hippoctl_print_show(hippoctl *c, const char *record_sql, const hippoctl_section *sections,
                        size_t nsections, int n, const char *const *params);

/* ---- hippoctl_resolve.c ------------------------------------------------------------- */

/* Buffer for a resolved id. */
typedef char hippoctl_id[HIPPO_GUID_LEN + 1];

/* USER: a user id (returned as is) or a JID (the user's id, copied into BUF). Returns NULL
 * after printing why (no such user, database error), with c->status set. */
const char *hippoctl_user_id(hippoctl *c, const char *arg, hippoctl_id buf);
/* POST or GROUP: an id or its room JID (decoded into BUF). NULL after printing why. */
const char *hippoctl_room_id(hippoctl *c, const char *arg, hippoctl_id buf);
/* A post recipient: a user, group or resource id, a user's JID or a group's room JID. */
const char *hippoctl_recipient_id(hippoctl *c, const char *arg, hippoctl_id buf);
/* Runs "SELECT ... FROM CALL" (CALL creates a post or group and returns its id, e.g.
 * "hippo.create_group($1)"; PARAMS has N values and room for one more, the rooms domain).
 * Prints the id on stdout and its room JID (or, without a domain, how to get it) on
 * stderr; with --json {"id", "room_node", "room"} on stdout. */
int hippoctl_create_room(hippoctl *c, const char *call, int n, const char **params);

/* ---- commands ----------------------------------------------------------------------- */

#define HIPPOCTL_COMMAND(name)                                                                     \
    int hippoctl_cmd_##name(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv)

HIPPOCTL_COMMAND(migrate);
HIPPOCTL_COMMAND(user_add);
HIPPOCTL_COMMAND(user_list);
HIPPOCTL_COMMAND(user_show);
HIPPOCTL_COMMAND(group_add);
HIPPOCTL_COMMAND(group_list);
HIPPOCTL_COMMAND(group_show);
HIPPOCTL_COMMAND(group_member_add);
HIPPOCTL_COMMAND(group_member_remove);
HIPPOCTL_COMMAND(resource_add);
HIPPOCTL_COMMAND(resource_list);
HIPPOCTL_COMMAND(post_create);
HIPPOCTL_COMMAND(post_list);
HIPPOCTL_COMMAND(post_show);
HIPPOCTL_COMMAND(view_record);
HIPPOCTL_COMMAND(post_ignore);
HIPPOCTL_COMMAND(post_unignore);
HIPPOCTL_COMMAND(room_show);
HIPPOCTL_COMMAND(pref_set);
HIPPOCTL_COMMAND(pref_unset);
HIPPOCTL_COMMAND(pref_list);
HIPPOCTL_COMMAND(myspace_set);
HIPPOCTL_COMMAND(myspace_comment);
HIPPOCTL_COMMAND(contact_add);
HIPPOCTL_COMMAND(contact_remove);
HIPPOCTL_COMMAND(contact_list);
HIPPOCTL_COMMAND(outbox_list);

#endif
