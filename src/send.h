/* send.h - the one path for everything hippod sends: stanzas, error answers, and the
 * decision to answer nothing (a counted drop). Handlers, rooms and push use it; the router
 * only routes. */
#ifndef HIPPO_SEND_H
#define HIPPO_SEND_H

#include <strophe.h>

#include "hippod.h"

/* Sends STANZA (the caller keeps its reference); returns hippo_link_send()'s result: 0, or
 * -1 when the link is down and nothing was sent. */
int hippo_send(hippod *d, xmpp_stanza_t *stanza);

/* Answers REQUEST with an XMPP error, counted by condition. Never answers a stanza of type
 * result or error (those are dropped and counted instead). TEXT may be NULL. */
void hippo_send_error(hippod *d, xmpp_stanza_t *request, const char *type, const char *condition,
                      const char *text);

/* One stanza for many recipients, serialised once: the copies differ only in their 'to'. A
 * room message goes to every occupant; serialising each copy was most of hippod's CPU per
 * delivery. */
typedef struct hippo_send_many {
    char *text;      /* the stanza without 'to' (freed with xmpp_free) */
    size_t len;      /* of TEXT */
    size_t head_len; /* "<NAME": where each copy's to="…" goes */
    char name[16];
} hippo_send_many;

/* Serialises STANZA for hippo_send_many_to() (its 'to' is removed, a missing 'from' becomes
 * the component domain as hippo_send() does). Returns -1 when out of memory; otherwise free
 * M with hippo_send_many_free(). */
int hippo_send_many_init(hippod *d, hippo_send_many *m, xmpp_stanza_t *stanza);
/* Sends M's copy addressed to TO; hippo_send()'s result. */
int hippo_send_many_to(hippod *d, const hippo_send_many *m, const char *to);
void hippo_send_many_free(hippod *d, hippo_send_many *m);

/* Counts and logs (debug) a stanza dropped without a reply. */
void hippo_send_drop(hippod *d, xmpp_stanza_t *stanza, const char *reason);

/* The wait-type error for a request whose database query was refused: resource-constraint
 * while the database is up but busy, internal-server-error while it is down. Sets
 * *CONDITION and *TEXT to static strings. */
void hippo_send_db_refusal(const hippod *d, const char **condition, const char **text);

/* Checks an incoming IQ (RFC 6120 8.2.3: type get or set, an id, exactly one payload
 * element) and returns its payload; otherwise answers bad-request and returns NULL. */
xmpp_stanza_t *hippo_send_iq_payload(hippod *d, xmpp_stanza_t *iq);

#endif
