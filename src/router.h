/* router.h - routes every incoming stanza by address kind, stanza kind and namespace, and
 * sends replies and errors. */
#ifndef HIPPO_ROUTER_H
#define HIPPO_ROUTER_H

#include <strophe.h>

#include "hippod.h"

/* Entry point for every stanza the link receives. */
void hippo_router_stanza(hippod *d, xmpp_stanza_t *stanza);

/* Sends STANZA (the caller keeps its reference). */
void hippo_router_send(hippod *d, xmpp_stanza_t *stanza);

/* Answers REQUEST with an XMPP error, counted by condition. Never answers a stanza of type
 * result or error (those are dropped and counted instead). TEXT may be NULL. */
void hippo_router_reply_error(hippod *d, xmpp_stanza_t *request, const char *type,
                              const char *condition, const char *text);

/* The wait-type error for a request whose database query was refused: resource-constraint
 * while the database is up but busy, internal-server-error while it is down. Sets
 * *CONDITION and *TEXT to static strings. */
void hippo_router_db_refusal(const hippod *d, const char **condition, const char **text);

/* Checks an incoming IQ (RFC 6120 8.2.3: type get or set, an id, exactly one payload
 * element) and returns its payload; otherwise answers bad-request and returns NULL. */
xmpp_stanza_t *hippo_router_iq_payload(hippod *d, xmpp_stanza_t *iq);

/* Counts and logs (debug) a stanza dropped without a reply. */
void hippo_router_drop(hippod *d, xmpp_stanza_t *stanza, const char *reason);

#endif
