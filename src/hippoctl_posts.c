/* hippoctl_posts.c - posts, views, ignores and the chat rooms of posts and groups. */
#include <stdlib.h>
#include <string.h>

#include "hippoctl.h"
#include "pg_array.h"

/* Resolves every --to into IDS (user and group JIDs allowed); BUFS holds the resolved ones.
 * Returns 0 or the exit status after printing why. */
static int resolve_recipients(hippoctl *c, const hippoctl_list *to, const char **ids,
                              hippoctl_id *bufs)
{
    for (size_t i = 0; i < to->n; i++) {
        ids[i] = hippoctl_recipient_id(c, to->items[i], bufs[i]);
        if (ids[i] == NULL)
            return c->status;
    }
    return 0;
}

/* The text[] literal of the recipients. Returns a string the caller frees, or NULL with
 * *STATUS set after printing why. */
static char *recipients_literal(hippoctl *c, const hippoctl_list *to, int *status)
{
    const char **ids = calloc(to->n + 1, sizeof *ids);
    hippoctl_id *bufs = calloc(to->n + 1, sizeof *bufs);
    char *literal = NULL;
    *status = HIPPOCTL_EXIT_OTHER;
    if (ids == NULL || bufs == NULL)
        fprintf(stderr, "hippoctl: out of memory\n");
    else if ((*status = resolve_recipients(c, to, ids, bufs)) == 0 &&
             (literal = hippo_pg_text_array(ids, to->n)) == NULL) {
        fprintf(stderr, "hippoctl: out of memory\n");
        *status = HIPPOCTL_EXIT_OTHER;
    }
    free(ids);
    free(bufs);
    return literal;
}

static int post_create(hippoctl *c, const char *poster, const char *href, const char *title,
                       const char *body, const hippoctl_list *to, bool world)
{
    hippoctl_id buf;
    const char *poster_id = hippoctl_user_id(c, poster, buf);
    if (poster_id == NULL)
        return c->status;
    int status;
    char *recipients = recipients_literal(c, to, &status);
    if (recipients == NULL)
        return status;
    const char *params[7] = {poster_id, href, title, body, recipients, world ? "true" : "false"};
    status = hippoctl_create_room(c, "hippo.create_post($1, $2, $3, $4, $5::text[], $6::boolean)",
                                  6, params);
    free(recipients);
    return status;
}

HIPPOCTL_COMMAND(post_create)
{
    const char *poster = NULL, *href = NULL, *title = NULL, *body = "";
    bool world = false;
    hippoctl_list to = {NULL, 0};
    const hippoctl_opt opts[] = {
        {"poster", HIPPOCTL_OPT_VALUE, &poster}, {"href", HIPPOCTL_OPT_VALUE, &href},
        {"title", HIPPOCTL_OPT_VALUE, &title},   {"body", HIPPOCTL_OPT_VALUE, &body},
        {"to", HIPPOCTL_OPT_LIST, &to},          {"world", HIPPOCTL_OPT_FLAG, &world},
    };
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, opts, HIPPOCTL_COUNT(opts), 0, &first, &status)) {
        hippoctl_list_free(&to);
        return status;
    }
    if (poster == NULL || href == NULL || title == NULL)
        status = hippoctl_usage_error(cmd, "missing ",
                                      poster == NULL ? "--poster"
                                      : href == NULL ? "--href"
                                                     : "--title");
    else
        status = post_create(c, poster, href, title, body, &to, world);
    hippoctl_list_free(&to);
    return status;
}

/* Parses the options of a command whose only option is --limit N (default LIMIT) and that
 * takes NPOS arguments. False when the command must end with *STATUS. */
static bool limit_args(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv, int npos,
                       const char **limit, int *first, int *status)
{
    const hippoctl_opt opts[] = {{"limit", HIPPOCTL_OPT_VALUE, limit}};
    if (!hippoctl_parse_args(c, cmd, argc, argv, opts, HIPPOCTL_COUNT(opts), npos, first, status))
        return false;
    if (!hippoctl_is_count(*limit)) {
        *status = hippoctl_usage_error(cmd, "--limit needs a number, not ", *limit);
        return false;
    }
    return true;
}

HIPPOCTL_COMMAND(post_list)
{
    const char *limit = "20";
    int first, status;
    if (!limit_args(c, cmd, argc, argv, 0, &limit, &first, &status))
        return status;
    bool ok;
    const char *params[] = {limit, hippoctl_domain(c, &ok)};
    if (!ok)
        return c->status;
    return hippoctl_print_rows(c,
                               "SELECT p.id, p.created_at, u.jid AS poster_jid, p.title,"
                               " hippo.room_jid(p.id, $2) AS room"
                               " FROM hippo.posts p JOIN hippo.users u ON u.id = p.poster_id"
                               " ORDER BY p.created_at DESC, p.id LIMIT $1::integer",
                               2, params);
}

HIPPOCTL_COMMAND(post_show)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    hippoctl_id buf;
    bool ok = true;
    const char *params[2] = {hippoctl_room_id(c, argv[first], buf)};
    if (params[0] == NULL || (params[1] = hippoctl_domain(c, &ok), !ok))
        return c->status;
    if ((status = hippoctl_exec(c, "SELECT hippo.require_post($1)", 1, params)) != 0)
        return status;
    static const hippoctl_section sections[] = {
        {"recipient", "SELECT CASE WHEN r.user_id IS NOT NULL THEN 'user'"
                      " WHEN r.group_id IS NOT NULL THEN 'group' ELSE 'resource' END AS kind,"
                      " coalesce(r.user_id, r.group_id, r.resource_id) AS id,"
                      " coalesce(u.jid, g.name, s.name) AS name"
                      " FROM hippo.post_recipients r LEFT JOIN hippo.users u ON u.id = r.user_id"
                      " LEFT JOIN hippo.groups g ON g.id = r.group_id"
                      " LEFT JOIN hippo.resources s ON s.id = r.resource_id"
                      " WHERE r.post_id = $1 ORDER BY r.position"},
        {"audience", "SELECT a.id FROM hippo.post_audience($1) AS a(id) ORDER BY a.id"},
        {"viewer", "SELECT user_id AS id, first_viewed_at FROM hippo.post_views"
                   " WHERE post_id = $1 ORDER BY first_viewed_at, user_id"},
    };
    return hippoctl_print_show(c,
                               "SELECT p.id, p.poster_id, u.jid AS poster_jid, p.href, p.title,"
                               " p.body, p.to_world, p.created_at,"
                               " (SELECT count(*) FROM hippo.post_views v"
                               " WHERE v.post_id = p.id) AS total_viewers,"
                               " hippo.room_node(p.id) AS room_node,"
                               " hippo.room_jid(p.id, $2) AS room"
                               " FROM hippo.posts p JOIN hippo.users u ON u.id = p.poster_id"
                               " WHERE p.id = $1",
                               sections, HIPPOCTL_COUNT(sections), 2, params);
}

/* POST USER: resolves both into PARAMS[0..1]; 0 or the exit status. */
static int post_user(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                     hippoctl_id bufs[2], const char **params)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    if ((params[0] = hippoctl_room_id(c, argv[first], bufs[0])) == NULL ||
        (params[1] = hippoctl_user_id(c, argv[first + 1], bufs[1])) == NULL)
        return c->status;
    return 0;
}

HIPPOCTL_COMMAND(view_record)
{
    hippoctl_id bufs[2];
    const char *params[2] = {NULL, NULL};
    int status = post_user(c, cmd, argc, argv, bufs, params);
    if (status != 0 || params[1] == NULL)
        return status;
    return hippoctl_exec(c, "SELECT hippo.record_view($1, $2)", 2, params);
}

/* POST USER: set_post_ignored to IGNORED; an unknown or invisible post is an error. */
static int post_ignore(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                       const char *ignored)
{
    hippoctl_id bufs[2];
    const char *params[3] = {NULL, NULL, ignored};
    int status = post_user(c, cmd, argc, argv, bufs, params);
    if (status != 0 || params[1] == NULL)
        return status;
    PGresult *res =
        hippoctl_query(c, "SELECT hippo.set_post_ignored($1, $2, $3::boolean)", 3, params);
    if (res == NULL)
        return c->status;
    bool done = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!done) {
        fprintf(stderr, "hippoctl: no post \"%s\" that this user can see\n", params[0]);
        return HIPPOCTL_EXIT_OTHER;
    }
    return 0;
}

HIPPOCTL_COMMAND(post_ignore)
{
    return post_ignore(c, cmd, argc, argv, "true");
}

HIPPOCTL_COMMAND(post_unignore)
{
    return post_ignore(c, cmd, argc, argv, "false");
}

/* ---- rooms -------------------------------------------------------------------------- */

/* Fails (exit 1) unless a post or group has id PARAMS[0]; a malformed id is 64. */
static int require_room(hippoctl *c, const char *const *params)
{
    PGresult *res = hippoctl_query(
        c, "SELECT hippo.room_node($1), (SELECT l.kind FROM hippo.room_lookup($1) AS l)", 1,
        params);
    if (res == NULL)
        return c->status;
    bool found = !PQgetisnull(res, 0, 1);
    PQclear(res);
    if (!found) {
        fprintf(stderr, "hippoctl: no post or group has id \"%s\"\n", params[0]);
        return HIPPOCTL_EXIT_OTHER;
    }
    return 0;
}

HIPPOCTL_COMMAND(room_show)
{
    const char *limit = "20";
    int first, status;
    if (!limit_args(c, cmd, argc, argv, 1, &limit, &first, &status))
        return status;
    hippoctl_id buf;
    bool ok = true;
    const char *params[3] = {hippoctl_room_id(c, argv[first], buf), NULL, limit};
    if (params[0] == NULL || (params[1] = hippoctl_domain(c, &ok), !ok))
        return c->status;
    if ((status = require_room(c, params)) != 0)
        return status;
    static const hippoctl_section sections[] = {
        {"occupant", "SELECT o.user_id, u.jid, u.name, o.role, o.dialect, o.muc_nick,"
                     " o.occupant_jid, o.joined_at FROM hippo.room_occupants o"
                     " JOIN hippo.users u ON u.id = o.user_id WHERE o.room_id = $1"
                     " ORDER BY o.joined_at, o.occupant_jid"},
        {"message", "SELECT * FROM (SELECT m.serial, m.sent_at, m.user_id, u.name, m.body"
                    " FROM hippo.room_messages m JOIN hippo.users u ON u.id = m.user_id"
                    " WHERE m.room_id = $1 ORDER BY m.serial DESC LIMIT $3::integer) AS x"
                    " ORDER BY serial"},
    };
    return hippoctl_print_show(
        c,
        "SELECT $1 AS id, l.kind, l.title, hippo.room_node($1) AS room_node,"
        " hippo.room_jid($1, $2) AS room,"
        " (SELECT count(DISTINCT o.user_id) FROM hippo.room_occupants o"
        " WHERE o.room_id = $1) AS users_present,"
        " coalesce((SELECT r.next_serial FROM hippo.rooms r WHERE r.room_id = $1), 0) AS messages"
        " FROM hippo.room_lookup($1) AS l",
        sections, HIPPOCTL_COUNT(sections), 3, params);
}
