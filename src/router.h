/* router.h - routes every incoming stanza by address kind, stanza kind and namespace (what
 * leaves goes through send.h). */
#ifndef HIPPO_ROUTER_H
#define HIPPO_ROUTER_H

#include <strophe.h>

#include "hippod.h"

/* Entry point for every stanza the link receives. */
void hippo_router_stanza(hippod *d, xmpp_stanza_t *stanza);

#endif
