/* hippoctl_resolve.c - arguments given as GUIDs or JIDs, and room JIDs of new posts and
 * groups. A USER is a user id or the user's JID; a POST or GROUP is an id or its room JID
 * (NODE@rooms domain, NODE the GUID through the mapping of src/guid.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hippoctl.h"

const char *hippoctl_user_id(hippoctl *c, const char *arg, hippoctl_id buf)
{
    if (strchr(arg, '@') == NULL)
        return arg; /* an id: the SQL function checks it and names it if it is bad */
    const char *params[] = {arg};
    PGresult *res = hippoctl_query(c, "SELECT hippo.user_by_jid($1)", 1, params);
    if (res == NULL)
        return NULL;
    const char *id = NULL;
    if (PQgetisnull(res, 0, 0)) {
        fprintf(stderr, "hippoctl: no user with jid \"%s\"\n", arg);
        c->status = HIPPOCTL_EXIT_OTHER; /* like an unknown id: well-formed, not there */
    } else {
        snprintf(buf, HIPPO_GUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
        id = buf;
    }
    PQclear(res);
    return id;
}

/* The domain part of JID (after '@', before any '/'), as a pointer and length. */
static const char *jid_domain(const char *jid, size_t *len)
{
    const char *d = strchr(jid, '@') + 1;
    *len = strcspn(d, "/");
    return d;
}

static bool same_domain(const char *jid, const char *domain)
{
    size_t len;
    const char *d = jid_domain(jid, &len);
    return domain != NULL && strlen(domain) == len && strncasecmp(d, domain, len) == 0;
}

/* Decodes the node of JID (case-folded, as servers fold nodes) into BUF. */
static bool decode_node(const char *jid, hippoctl_id buf)
{
    char node[HIPPO_GUID_NODE_MAX + 1];
    size_t len = strcspn(jid, "@");
    if (len > HIPPO_GUID_NODE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        node[i] = (char)(jid[i] >= 'A' && jid[i] <= 'Z' ? jid[i] - 'A' + 'a' : jid[i]);
    return hippo_guid_from_node(node, len, buf) == 0;
}

const char *hippoctl_room_id(hippoctl *c, const char *arg, hippoctl_id buf)
{
    if (strchr(arg, '@') == NULL)
        return arg;
    bool ok;
    const char *domain = hippoctl_domain(c, &ok);
    if (!ok)
        return NULL;
    c->status = HIPPOCTL_EXIT_USAGE;
    if (domain != NULL && !same_domain(arg, domain)) {
        fprintf(stderr, "hippoctl: \"%s\" is not a room JID: the rooms are at %s\n", arg, domain);
        return NULL;
    }
    if (!decode_node(arg, buf)) {
        fprintf(stderr,
                "hippoctl: \"%s\" is not a room JID: its node is not the image of a GUID"
                " (e.g. pz_4k_w9mb_t2x_q_c_l for Pz4kW9mbT2xQcL)\n",
                arg);
        return NULL;
    }
    return buf;
}

const char *hippoctl_recipient_id(hippoctl *c, const char *arg, hippoctl_id buf)
{
    if (strchr(arg, '@') == NULL)
        return arg;
    bool ok;
    const char *domain = hippoctl_domain(c, &ok);
    if (!ok)
        return NULL;
    if (same_domain(arg, domain))
        return hippoctl_room_id(c, arg, buf); /* no user lives at the component domain */
    return hippoctl_user_id(c, arg, buf);
}

/* ---- new posts and groups ----------------------------------------------------------- */

/* The statement around CALL (e.g. "hippo.create_group($1)"), whose parameter $DOMAIN is the
 * rooms domain: the id, its room node and JID (NULL without a domain), in the same
 * statement as the creation so that nothing half-done can be reported. The caller frees it. */
static char *created_sql(const char *call, int domain, bool json)
{
    char *sql = NULL;
    int rc = json ? asprintf(&sql,
                             "SELECT json_build_object('id', x.id, 'room_node',"
                             " hippo.room_node(x.id), 'room', hippo.room_jid(x.id, $%d))"
                             " FROM %s AS x(id)",
                             domain, call)
                  : asprintf(&sql,
                             "SELECT x.id, hippo.room_node(x.id), hippo.room_jid(x.id, $%d)"
                             " FROM %s AS x(id)",
                             domain, call);
    return rc < 0 ? NULL : sql;
}

static void print_created(const PGresult *res, bool json)
{
    /* stdout keeps the id alone (or the JSON object), so that ID=$(hippoctl post create ...)
     * still works; the room JID is for the operator's eyes. */
    printf("%s\n", PQgetvalue(res, 0, 0));
    if (json)
        return;
    fflush(stdout); /* the id first, also when both streams go to one terminal or file */
    if (!PQgetisnull(res, 0, 2))
        fprintf(stderr, "room: %s\n", PQgetvalue(res, 0, 2));
    else
        fprintf(stderr,
                "room node: %s (for the room JID give --domain, -c CONFIG or $HIPPO_DOMAIN)\n",
                PQgetvalue(res, 0, 1));
}

int hippoctl_create_room(hippoctl *c, const char *call, int n, const char **params)
{
    bool ok;
    params[n] = hippoctl_domain(c, &ok);
    if (!ok)
        return c->status;
    char *sql = created_sql(call, n + 1, c->json);
    if (sql == NULL) {
        fprintf(stderr, "hippoctl: out of memory\n");
        return HIPPOCTL_EXIT_OTHER;
    }
    PGresult *res = hippoctl_query(c, sql, n + 1, params);
    free(sql);
    if (res == NULL)
        return c->status;
    if (PQntuples(res) == 1)
        print_created(res, c->json);
    PQclear(res);
    return 0;
}
