/* hippoctl_misc.c - migrations, prefs, MySpace names and comments, the push outbox. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hippoctl.h"
#include "migrate.h"

HIPPOCTL_COMMAND(migrate)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 0, &first, &status))
        return status;
    PGconn *conn = hippoctl_db(c);
    if (conn == NULL)
        return c->status;
    char err[1024];
    if (hippo_migrate(conn, stdout, err, sizeof err) < 0) {
        fprintf(stderr, "hippoctl: migrate: %s\n", err);
        return PQstatus(conn) == CONNECTION_BAD ? HIPPOCTL_EXIT_UNAVAILABLE : HIPPOCTL_EXIT_OTHER;
    }
    return 0;
}

/* ---- prefs -------------------------------------------------------------------------- */

/* Checks KEY against the prefs clients understand (hippo.pref_defaults(), the one list),
 * or, with USER_ID, a key stored for that user (so that a stray key can be unset). Returns
 * 0, or after naming the key and the known ones HIPPOCTL_EXIT_USAGE (or a query's status). */
static int check_pref_key(hippoctl *c, const char *user_id, const char *key)
{
    const char *params[] = {key, user_id};
    PGresult *res =
        hippoctl_query(c,
                       "SELECT bool_or(d.key = $1) OR EXISTS (SELECT FROM hippo.prefs p"
                       " WHERE p.user_id = $2 AND p.key = $1),"
                       " string_agg(d.key, ', ' ORDER BY d.key) FROM hippo.pref_defaults() AS d",
                       2, params);
    if (res == NULL)
        return c->status;
    int status = 0;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        fprintf(stderr, "hippoctl: unknown pref key \"%s\": clients know %s\n", key,
                PQgetvalue(res, 0, 1));
        status = HIPPOCTL_EXIT_USAGE;
    }
    PQclear(res);
    return status;
}

/* Every pref clients know is a boolean sent as lower-case true/false (original-behaviour.md
 * 3.6): anything else reaches them as the default, silently. Returns the value to store. */
static const char *pref_boolean(const char *key, const char *value)
{
    if (strcasecmp(value, "true") == 0)
        return "true";
    if (strcasecmp(value, "false") == 0)
        return "false";
    fprintf(stderr, "hippoctl: pref %s: \"%s\" is not a boolean: use true or false\n", key, value);
    return NULL;
}

/* USER KEY [VALUE]: set_pref with VALUE, or with NULL (unset) when NARGS is 2. */
static int pref_change(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv, int nargs)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, nargs, &first, &status))
        return status;
    const char *key = argv[first + 1], *value = NULL;
    if (nargs == 3 && (value = pref_boolean(key, argv[first + 2])) == NULL)
        return HIPPOCTL_EXIT_USAGE;
    hippoctl_id buf;
    const char *params[] = {hippoctl_user_id(c, argv[first], buf), key, value};
    if (params[0] == NULL)
        return c->status;
    if ((status = hippoctl_exec(c, "SELECT hippo.require_user($1)", 1, params)) != 0 ||
        (status = check_pref_key(c, nargs == 2 ? params[0] : NULL, key)) != 0)
        return status;
    return hippoctl_exec(c, "SELECT hippo.set_pref($1, $2, $3)", 3, params);
}

HIPPOCTL_COMMAND(pref_set)
{
    return pref_change(c, cmd, argc, argv, 3);
}

HIPPOCTL_COMMAND(pref_unset)
{
    return pref_change(c, cmd, argc, argv, 2);
}

HIPPOCTL_COMMAND(pref_list)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    hippoctl_id buf;
    const char *params[] = {hippoctl_user_id(c, argv[first], buf)};
    if (params[0] == NULL)
        return c->status;
    if ((status = hippoctl_exec(c, "SELECT hippo.require_user($1)", 1, params)) != 0)
        return status;
    return hippoctl_print_rows(
        c, "SELECT key, value FROM hippo.prefs WHERE user_id = $1 ORDER BY key", 1, params);
}

/* ---- MySpace ------------------------------------------------------------------------ */

/* USER NAME commands: "SELECT fn($1, $2)", printing what it returns. */
static int user_name(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                     const char *sql)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    hippoctl_id buf;
    const char *params[] = {hippoctl_user_id(c, argv[first], buf), argv[first + 1]};
    if (params[0] == NULL)
        return c->status;
    return hippoctl_exec_print(c, sql, 2, params);
}

HIPPOCTL_COMMAND(myspace_set)
{
    return user_name(c, cmd, argc, argv, "SELECT hippo.set_myspace_name($1, $2)");
}

HIPPOCTL_COMMAND(myspace_comment)
{
    return user_name(c, cmd, argc, argv, "SELECT hippo.notify_contact_comment($1, $2)");
}

/* ---- outbox ------------------------------------------------------------------------- */

HIPPOCTL_COMMAND(outbox_list)
{
    const char *limit = "100";
    const hippoctl_opt opts[] = {{"limit", HIPPOCTL_OPT_VALUE, &limit}};
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, opts, HIPPOCTL_COUNT(opts), 0, &first, &status))
        return status;
    if (!hippoctl_is_count(limit))
        return hippoctl_usage_error(cmd, "--limit needs a number, not ", limit);
    const char *params[] = {limit};
    return hippoctl_print_rows(c,
                               "SELECT id, kind, coalesce(post_id, '') AS post_id,"
                               " coalesce(user_id, '') AS user_id,"
                               " coalesce(actor_id, '') AS actor_id,"
                               " date_trunc('second', now() - created_at) AS age,"
                               " coalesce(claimed_pid::text, '') AS claimed_pid"
                               " FROM hippo.outbox ORDER BY id LIMIT $1::integer",
                               1, params);
}
