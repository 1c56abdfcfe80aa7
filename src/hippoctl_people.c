/* hippoctl_people.c - users, groups, resources and contacts. */
#include "hippoctl.h"

/* Commands with no options and no arguments but --json: print SQL's rows. */
static int list_command(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                        const char *sql)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 0, &first, &status))
        return status;
    return hippoctl_print_rows(c, sql, 0, NULL);
}

/* Resolves the single USER argument into PARAMS[0] and checks that the user exists, so
 * that a show or list of nothing is told apart from an unknown user. */
static int one_user(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                    hippoctl_id buf, const char **params)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    params[0] = hippoctl_user_id(c, argv[first], buf);
    if (params[0] == NULL)
        return c->status;
    return hippoctl_exec(c, "SELECT hippo.require_user($1)", 1, params);
}

HIPPOCTL_COMMAND(user_add)
{
    const char *jid = NULL, *name = NULL;
    const hippoctl_opt opts[] = {{"jid", HIPPOCTL_OPT_VALUE, &jid},
                                 {"name", HIPPOCTL_OPT_VALUE, &name}};
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, opts, HIPPOCTL_COUNT(opts), 0, &first, &status))
        return status;
    if (jid == NULL)
        return hippoctl_usage_error(cmd, "missing --jid", NULL);
    if (name == NULL)
        return hippoctl_usage_error(cmd, "missing --name", NULL);
    const char *params[] = {jid, name};
    return hippoctl_exec_print(c, "SELECT hippo.create_user($1, $2)", 2, params);
}

HIPPOCTL_COMMAND(user_list)
{
    return list_command(c, cmd, argc, argv,
                        "SELECT id, jid, name FROM hippo.users ORDER BY created_at, id");
}

HIPPOCTL_COMMAND(user_show)
{
    hippoctl_id buf;
    const char *params[2] = {NULL}; /* stays NULL after --help */
    int status = one_user(c, cmd, argc, argv, buf, params);
    if (status != 0 || params[0] == NULL)
        return status;
    bool ok;
    if ((params[1] = hippoctl_domain(c, &ok), !ok))
        return c->status;
    static const hippoctl_section groups[] = {
        {"group", "SELECT g.id, g.name, m.status, hippo.room_jid(g.id, $2) AS room"
                  " FROM hippo.group_members m JOIN hippo.groups g ON g.id = m.group_id"
                  " WHERE m.user_id = $1 ORDER BY g.name, g.id"},
    };
    return hippoctl_print_show(c,
                               "SELECT u.id, u.jid, u.name, u.photo_version, u.created_at,"
                               " u.last_login_at, u.last_logout_at, m.name AS myspace_name"
                               " FROM hippo.users u"
                               " LEFT JOIN hippo.myspace_names m ON m.user_id = u.id"
                               " WHERE u.id = $1",
                               groups, HIPPOCTL_COUNT(groups), 2, params);
}

/* group add / resource add: one --name, "SELECT fn($1)". A group also has a room. */
static int name_only(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                     const char *call, bool room)
{
    const char *name = NULL;
    const hippoctl_opt opts[] = {{"name", HIPPOCTL_OPT_VALUE, &name}};
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, opts, HIPPOCTL_COUNT(opts), 0, &first, &status))
        return status;
    if (name == NULL)
        return hippoctl_usage_error(cmd, "missing --name", NULL);
    const char *params[2] = {name};
    if (room)
        return hippoctl_create_room(c, call, 1, params);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s", call);
    return hippoctl_exec_print(c, sql, 1, params);
}

HIPPOCTL_COMMAND(group_add)
{
    return name_only(c, cmd, argc, argv, "hippo.create_group($1)", true);
}

HIPPOCTL_COMMAND(resource_add)
{
    return name_only(c, cmd, argc, argv, "hippo.create_resource($1)", false);
}

HIPPOCTL_COMMAND(resource_list)
{
    return list_command(c, cmd, argc, argv, "SELECT id, name FROM hippo.resources ORDER BY name");
}

/* The rooms domain into *DOMAIN (NULL when none is given); false when -c is unreadable. */
static bool domain_param(hippoctl *c, const char **domain)
{
    bool ok;
    *domain = hippoctl_domain(c, &ok);
    return ok;
}

HIPPOCTL_COMMAND(group_list)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 0, &first, &status))
        return status;
    const char *params[1];
    if (!domain_param(c, &params[0]))
        return c->status;
    return hippoctl_print_rows(
        c,
        "SELECT g.id, g.name,"
        " count(m.user_id) FILTER (WHERE m.status = 'ACTIVE') AS active_members,"
        " hippo.room_jid(g.id, $1) AS room"
        " FROM hippo.groups g LEFT JOIN hippo.group_members m ON m.group_id = g.id"
        " GROUP BY g.id ORDER BY g.created_at, g.id",
        1, params);
}

HIPPOCTL_COMMAND(group_show)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 1, &first, &status))
        return status;
    hippoctl_id buf;
    const char *params[2] = {hippoctl_room_id(c, argv[first], buf)};
    if (params[0] == NULL || !domain_param(c, &params[1]))
        return c->status;
    if ((status = hippoctl_exec(c, "SELECT hippo.require_group($1)", 1, params)) != 0)
        return status;
    static const hippoctl_section members[] = {
        {"member", "SELECT u.id, u.jid, u.name, m.status FROM hippo.group_members m"
                   " JOIN hippo.users u ON u.id = m.user_id"
                   " WHERE m.group_id = $1 ORDER BY u.jid"},
    };
    return hippoctl_print_show(c,
                               "SELECT id, name, photo_version, created_at,"
                               " hippo.room_node(id) AS room_node,"
                               " hippo.room_jid(id, $2) AS room"
                               " FROM hippo.groups WHERE id = $1",
                               members, HIPPOCTL_COUNT(members), 2, params);
}

/* GROUP USER commands calling "SELECT fn($1, $2)". */
static int group_user(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                      const char *sql)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    hippoctl_id gbuf, ubuf;
    const char *params[2] = {hippoctl_room_id(c, argv[first], gbuf), NULL};
    if (params[0] == NULL || (params[1] = hippoctl_user_id(c, argv[first + 1], ubuf)) == NULL)
        return c->status;
    return hippoctl_exec(c, sql, 2, params);
}

HIPPOCTL_COMMAND(group_member_add)
{
    return group_user(c, cmd, argc, argv, "SELECT hippo.add_group_member($1, $2)");
}

HIPPOCTL_COMMAND(group_member_remove)
{
    return group_user(c, cmd, argc, argv, "SELECT hippo.remove_group_member($1, $2)");
}

/* USER CONTACT commands calling "SELECT fn($1, $2)" with both resolved to user ids. */
static int user_pair(hippoctl *c, const hippoctl_command *cmd, int argc, char **argv,
                     const char *sql)
{
    int first, status;
    if (!hippoctl_parse_args(c, cmd, argc, argv, NULL, 0, 2, &first, &status))
        return status;
    hippoctl_id buf[2];
    const char *params[2] = {hippoctl_user_id(c, argv[first], buf[0]), NULL};
    if (params[0] == NULL || (params[1] = hippoctl_user_id(c, argv[first + 1], buf[1])) == NULL)
        return c->status;
    return hippoctl_exec_print(c, sql, 2, params);
}

HIPPOCTL_COMMAND(contact_add)
{
    return user_pair(c, cmd, argc, argv, "SELECT hippo.add_contact($1, $2)");
}

HIPPOCTL_COMMAND(contact_remove)
{
    return user_pair(c, cmd, argc, argv, "SELECT hippo.remove_contact($1, $2)");
}

HIPPOCTL_COMMAND(contact_list)
{
    hippoctl_id buf;
    const char *params[1] = {NULL}; /* stays NULL after --help */
    int status = one_user(c, cmd, argc, argv, buf, params);
    if (status != 0 || params[0] == NULL)
        return status;
    return hippoctl_print_rows(c,
                               "SELECT u.id, u.jid, u.name, coalesce(m.name, '') AS myspace_name,"
                               " coalesce(f.friend_id::text, '') AS myspace_friend_id"
                               " FROM hippo.contacts k"
                               " JOIN hippo.users u ON u.id = k.contact_id"
                               " LEFT JOIN hippo.myspace_names m ON m.user_id = u.id"
                               " LEFT JOIN hippo.myspace_friend_ids f ON f.user_id = u.id"
                               " WHERE k.owner_id = $1 ORDER BY u.jid",
                               1, params);
}
