/* handle_clientinfo.c - clientInfo (get): the client versions of a platform, from the
 * [client "PLATFORM"] sections of the running configuration (reloaded on SIGHUP). The
 * client the user connected with is recorded too; that is best effort: the answer comes
 * from the configuration, so a failed recording is logged and the versions still sent. */
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "user_iq_xml.h"

#define STMT_RECORD "clientinfo_record"

void hippo_clientinfo_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_RECORD, "SELECT hippo.record_client_info($1, $2, $3, $4, $5)", 5);
}

/* "unknown platform "x"; known platforms: a, b" into ERR. */
static void unknown_platform(const hippo_config *cfg, const char *platform, char *err,
                             size_t errlen)
{
    int n = snprintf(err, errlen, "unknown platform \"%.32s\"; known platforms:", platform);
    for (size_t i = 0; i < cfg->n_clients && n > 0 && (size_t)n < errlen; i++)
        n += snprintf(err + n, errlen - (size_t)n, "%s %s", i ? "," : "", cfg->clients[i].platform);
    if (cfg->n_clients == 0 && n > 0 && (size_t)n < errlen)
        snprintf(err + n, errlen - (size_t)n, " none");
}

static void on_recorded(const PGresult *res, const char *error, void *arg)
{
    hippo_request *req = arg;
    xmpp_stanza_t *reply = req->area_state;
    req->area_state = NULL;
    if (!res)
        hippo_log(&req->d->log, HIPPO_LOG_WARNING, "clientInfo of %s not recorded: %s",
                  req->bare_jid, error ? error : "?");
    hippo_request_result(req, reply);
    xmpp_stanza_release(reply);
}

void hippo_clientinfo_iq(hippo_request *req)
{
    char err[512];
    hippo_clientinfo_request ci;
    if (strcmp(xmpp_stanza_get_type(req->stanza), "get") != 0) {
        hippo_request_error(req, "modify", "bad-request", "clientInfo is a get request");
        return;
    }
    if (hippo_clientinfo_parse(req->payload, &ci, err, sizeof err) != 0) {
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    const hippo_client_platform *client = hippo_config_client(&req->d->cfg, ci.platform);
    if (!client) {
        unknown_platform(&req->d->cfg, ci.platform, err, sizeof err);
        hippo_request_error(req, "modify", "bad-request", err);
        return;
    }
    xmpp_stanza_t *reply = hippo_clientinfo_element(hippo_request_ctx(req), client->minimum,
                                                    client->current, client->download);
    if (!reply) {
        hippo_request_error(req, "wait", "resource-constraint", "out of memory");
        return;
    }
    req->area_state = reply;
    const char *params[] = {req->user_id, client->platform, ci.distribution, ci.version,
                            ci.architecture};
    /* keyed like the user's other statements (post_payload.c has only the user id) */
    hippo_db *db = req->d->db;
    if (hippo_db_query_keyed(db, req->user_id, STMT_RECORD, 5, params, on_recorded, req) != 0) {
        hippo_log(&req->d->log, HIPPO_LOG_WARNING,
                  "clientInfo of %s not recorded: database unavailable", req->bare_jid);
        req->area_state = NULL;
        hippo_request_result(req, reply);
        xmpp_stanza_release(reply);
    }
}
