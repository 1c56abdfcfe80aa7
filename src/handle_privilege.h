/* handle_privilege.h - login awareness through XEP-0356 (privileged entity, presence permission):
 * the server's permission announcement, then the users' presences it forwards, counted
 * per bare JID in memory (first resource up: a login, last one down: a logout; sql/017). */
#ifndef HIPPO_HANDLE_PRIVILEGE_H
#define HIPPO_HANDLE_PRIVILEGE_H

#include <stdbool.h>
#include <strophe.h>

#include "db.h"
#include "hippod.h"

#define HIPPO_NS_PRIVILEGE_PREFIX "urn:xmpp:privilege:"

/* How long after the link comes up hippod waits for the permission announcement before it
 * logs that login awareness is off (servers send it right after the handshake). */
#define HIPPO_PRIVILEGE_WAIT_MS 3000

/* The longest hippod takes presences for the server's resend of the open sessions after
 * the permission arrives, when the server does not answer its ping sooner. */
#define HIPPO_RESYNC_MAX_MS 5000

typedef struct hippo_logins hippo_logins;

/* Returns NULL on allocation failure; free with hippo_logins_free() (after the database:
 * its pending callbacks own their own memory and do not touch the table). */
hippo_logins *hippo_logins_new(hippod *d);
void hippo_logins_free(hippo_logins *l);
void hippo_logins_prepare(hippo_db *db);

/* The link went UP (a new stream: the grant and the online set start empty, the server
 * announces both again) or down (everything is forgotten). */
void hippo_logins_link_state(hippo_logins *l, bool up);

/* "presence" when a server granted the presence permission on this stream, else "none"
 * (static strings). */
const char *hippo_logins_privilege(const hippo_logins *l);

/* A <message/> to the service whose extension PRIVILEGE is in HIPPO_NS_PRIVILEGE_PREFIX*:
 * the permission announcement (XEP-0356 4.2). The caller keeps its references. */
void hippo_logins_privilege_message(hippod *d, xmpp_stanza_t *message, xmpp_stanza_t *privilege);

/* An iq result or error to the service: true when it answered the resync ping (taken),
 * false when it is not ours (the caller drops it as before). */
bool hippo_logins_iq_answer(hippod *d, xmpp_stanza_t *iq);

/* A <presence/> to the service (type none, available or unavailable): a forwarded user
 * presence when the presence permission was granted for the sender's domain; otherwise
 * dropped as before. The caller keeps its reference. */
void hippo_logins_presence(hippod *d, xmpp_stanza_t *presence, bool available);

#endif
