/* handle_myspace.c - the MySpace IQs, dispatched on the payload's type attribute (the
 * element name is irrelevant, as in the original): getName, getBlogComments, getContacts
 * (get) answer <mySpaceInfo>; addBlogComment and notifyContactComment (set) answer an empty
 * result. The contact-comment notices are queued in the database for the push feature. */
#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "user_iq_xml.h"

#define STMT_NAME "myspace_name"
#define STMT_COMMENTS "myspace_comments"
#define STMT_CONTACTS "myspace_contacts"
#define STMT_ADD_COMMENT "myspace_add_comment"
#define STMT_NOTIFY "myspace_notify_comment"

#define STR(x) #x
#define XSTR(x) STR(x)

void hippo_myspace_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_NAME, "SELECT name FROM hippo.myspace_names WHERE user_id = $1", 1);
    hippo_db_prepare(db, STMT_COMMENTS,
                     "SELECT comment_id, poster_id FROM hippo.blog_comments($1, " XSTR(
                         HIPPO_MYSPACE_MAX_COMMENTS) ")",
                     1);
    hippo_db_prepare(db, STMT_CONTACTS,
                     "SELECT name, friend_id FROM hippo.myspace_contacts($1, " XSTR(
                         HIPPO_MYSPACE_MAX_CONTACTS) ")",
                     1);
    hippo_db_prepare(db, STMT_ADD_COMMENT,
                     "SELECT hippo.add_blog_comment($1, $2::bigint, $3::bigint)", 3);
    hippo_db_prepare(db, STMT_NOTIFY, "SELECT hippo.notify_contact_comment($1, $2)", 2);
}

/* Answers with the mySpaceInfo INFO (NULL: out of memory) and releases it. */
static void answer_info(hippo_request *req, xmpp_stanza_t *info)
{
    if (!info) {
        hippo_request_error(req, "wait", "resource-constraint", "out of memory");
        return;
    }
    hippo_request_result(req, info);
    xmpp_stanza_release(info);
}

static void on_name(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    const char *name = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : NULL;
    answer_info(req, hippo_myspace_info_element(hippo_request_ctx(req), name));
}

static void on_comments(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    xmpp_stanza_t *info = hippo_myspace_info_element(hippo_request_ctx(req), NULL);
    for (int r = 0; info && r < PQntuples(res); r++) {
        if (hippo_myspace_info_add_comment(info, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1))) {
            xmpp_stanza_release(info);
            info = NULL;
        }
    }
    answer_info(req, info);
}

static void on_contacts(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    xmpp_stanza_t *info = hippo_myspace_info_element(hippo_request_ctx(req), NULL);
    for (int r = 0; info && r < PQntuples(res); r++) {
        if (hippo_myspace_info_add_contact(info, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1))) {
            xmpp_stanza_release(info);
            info = NULL;
        }
    }
    answer_info(req, info);
}

static void on_done(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    if (hippo_request_failed(req, res, error))
        return;
    hippo_request_result(req, NULL);
}

static void get_name(hippo_request *req)
{
    const char *params[] = {req->user_id};
    hippo_request_query(req, STMT_NAME, 1, params, on_name);
}

static void get_blog_comments(hippo_request *req)
{
    const char *params[] = {req->user_id};
    hippo_request_query(req, STMT_COMMENTS, 1, params, on_comments);
}

static void get_contacts(hippo_request *req)
{
    const char *params[] = {req->user_id};
    hippo_request_query(req, STMT_CONTACTS, 1, params, on_contacts);
}

static void add_blog_comment(hippo_request *req)
{
    char err[512];
    hippo_blog_comment c;
    if (hippo_blog_comment_parse(req->payload, &c, err, sizeof err) != 0) {
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    const char *params[] = {req->user_id, c.comment_id, c.poster_id};
    hippo_request_query(req, STMT_ADD_COMMENT, 3, params, on_done);
}

static void notify_contact_comment(hippo_request *req)
{
    char err[512];
    const char *name = xmpp_stanza_get_attribute(req->payload, "name");
    if (hippo_contact_comment_name_check(name, err, sizeof err) != 0) {
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    const char *params[] = {req->user_id, name};
    hippo_request_query(req, STMT_NOTIFY, 2, params, on_done);
}

static const struct myspace_op {
    const char *type;
    const char *iq_type; /* get or set */
    void (*run)(hippo_request *req);
} ops[] = {
    {"getName", "get", get_name},
    {"getBlogComments", "get", get_blog_comments},
    {"getContacts", "get", get_contacts},
    {"addBlogComment", "set", add_blog_comment},
    {"notifyContactComment", "set", notify_contact_comment},
};

#define KNOWN_TYPES                                                                                \
    "known types are: getName, getBlogComments, getContacts, addBlogComment, "                     \
    "notifyContactComment"

void hippo_myspace_iq(hippo_request *req)
{
    char err[512];
    const char *type = xmpp_stanza_get_attribute(req->payload, "type");
    if (!type) {
        hippo_request_error(req, "modify", "bad-request",
                            "myspace request without a type; " KNOWN_TYPES);
        return;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].type, type) != 0)
            continue;
        if (strcmp(ops[i].iq_type, xmpp_stanza_get_type(req->stanza)) != 0) {
            snprintf(err, sizeof err, "myspace %s is a %s request", ops[i].type, ops[i].iq_type);
            hippo_request_error(req, "modify", "bad-request", err);
            return;
        }
        ops[i].run(req);
        return;
    }
    snprintf(err, sizeof err, "unknown myspace type \"%.64s\"; " KNOWN_TYPES, type);
    hippo_request_error(req, "modify", "bad-request", err);
}
