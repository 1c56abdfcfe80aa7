/* request.c - the life of a request: its copy of the stanza, its statement, its one
 * answer. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

#include "send.h"
#include "stanza.h"
#include "xmpp_link.h"

xmpp_ctx_t *hippo_request_ctx(const hippo_request *req)
{
    return hippo_link_ctx(req->d->link);
}

hippo_request *hippo_request_new(hippod *d, xmpp_stanza_t *stanza, size_t size,
                                 void (*free_self)(hippo_request *req))
{
    hippo_request *req = calloc(1, size < sizeof *req ? sizeof *req : size);
    if (!req)
        return NULL;
    req->d = d;
    req->free_self = free_self;
    req->stanza = xmpp_stanza_copy(stanza); /* the request outlives the link's stanza */
    const char *from = xmpp_stanza_get_from(stanza);
    req->from = from ? strdup(from) : NULL;
    char *bare = from ? xmpp_jid_bare(hippo_request_ctx(req), from) : NULL;
    req->bare_jid = bare ? strdup(bare) : NULL;
    if (bare)
        xmpp_free(hippo_request_ctx(req), bare);
    if (!req->stanza || !req->from || !req->bare_jid) {
        hippo_request_free(req);
        return NULL;
    }
    req->payload = hippo_stanza_first_element(req->stanza);
    return req;
}

void hippo_request_free(hippo_request *req)
{
    if (!req)
        return;
    if (req->stanza)
        xmpp_stanza_release(req->stanza);
    free(req->from);
    free(req->bare_jid);
    if (req->free_self)
        req->free_self(req);
    else
        free(req);
}

void hippo_request_result(hippo_request *req, xmpp_stanza_t *payload)
{
    xmpp_stanza_t *result = hippo_stanza_iq_result(hippo_request_ctx(req), req->stanza);
    if (!result) {
        hippo_request_error(req, "wait", "resource-constraint", "out of memory");
        return;
    }
    if (payload)
        xmpp_stanza_add_child(result, payload);
    hippo_send(req->d, result);
    xmpp_stanza_release(result);
    hippo_request_free(req);
}

void hippo_request_error(hippo_request *req, const char *type, const char *condition,
                         const char *text)
{
    hippod *d = req->d;
    if (req->silent) {
        hippo_log(&d->log, HIPPO_LOG_INFO, "%s for %s (not answered): %s", condition, req->from,
                  text ? text : "");
        hippo_request_free(req);
        return;
    }
    hippo_send_error(d, req->stanza, type, condition, text);
    hippo_request_free(req);
}

void hippo_request_refused(hippo_request *req)
{
    const char *condition, *text;
    hippo_send_db_refusal(req->d, &condition, &text);
    hippo_request_error(req, "wait", condition, text);
}

int hippo_request_query(hippo_request *req, const char *stmt, int nparams,
                        const char *const *params, hippo_db_result_cb cb)
{
    const char *key = req->key ? req->key : req->user_id[0] ? req->user_id : req->bare_jid;
    if (hippo_db_query_keyed(req->d->db, key, stmt, nparams, params, cb, req) == 0)
        return 0;
    hippo_request_refused(req);
    return -1;
}

void hippo_request_fail(hippo_request *req, const char *error)
{
    const char *what = req->payload ? xmpp_stanza_get_ns(req->payload) : NULL;
    hippo_log(&req->d->log, HIPPO_LOG_WARNING, "%s %s from %s failed: %s",
              xmpp_stanza_get_name(req->stanza), what ? what : "request", req->from,
              error ? error : "unexpected result shape");
    hippo_request_error(req, "wait", "internal-server-error",
                        "database unavailable, try again later");
}

bool hippo_request_failed(hippo_request *req, const PGresult *res, const char *error)
{
    if (res)
        return false;
    hippo_request_fail(req, error);
    return true;
}
