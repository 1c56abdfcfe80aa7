/* handlers.h - the IQ handlers of each protocol area (one handle_*.c file per area). */
#ifndef HIPPO_HANDLERS_H
#define HIPPO_HANDLERS_H

#include <strophe.h>

#include "hippod.h"

/* An IQ handler gets the validated request (type get or set, one payload element) and must
 * answer it exactly once, now or later. PAYLOAD is the request's only element child. The
 * router's table (router.c) says which handler serves which IQ. */

#define HIPPO_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define HIPPO_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define HIPPO_NS_PING "urn:xmpp:ping"
#define HIPPO_NS_VERSION "jabber:iq:version"

/* handle_disco.c: service discovery (XEP-0030), ping (XEP-0199), version (XEP-0092) at the
 * component domain. */
void hippo_disco_info(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload);
void hippo_disco_ping(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload);
void hippo_disco_version(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload);

/* handle_disco_items.c: disco#items at the component domain, the rooms the sender may enter
 * (groups, then the newest HIPPO_DISCO_MAX_POSTS posts addressed to it), XEP-0059 pages of at
 * most HIPPO_DISCO_PAGE_MAX items (also without RSM). */
#define HIPPO_DISCO_MAX_POSTS 200
#define HIPPO_DISCO_PAGE_MAX 100
void hippo_disco_prepare(hippo_db *db);
void hippo_disco_items(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload);

/* handle_protocol.c: the http://dumbhippo.com/protocol/ namespaces. */
#define HIPPO_NS_PROTOCOL_PREFIX "http://dumbhippo.com/protocol/"
void hippo_protocol_prepare(hippo_db *db);
void hippo_protocol_iq(hippod *d, xmpp_stanza_t *iq, xmpp_stanza_t *payload);

#endif
