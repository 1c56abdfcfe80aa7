/* stanza.h - stanza builders shared by every handler (replies, errors, children). */
#ifndef HIPPO_STANZA_H
#define HIPPO_STANZA_H

#include <stdbool.h>
#include <strophe.h>

#define HIPPO_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* True for the stanza types that must never be answered: "result" and "error". */
bool hippo_stanza_is_reply_type(const char *type);

/* A new <iq type="result"> answering REQUEST: same id, to = request's from,
 * from = request's to. The caller releases it with xmpp_stanza_release(). */
xmpp_stanza_t *hippo_stanza_iq_result(xmpp_ctx_t *ctx, xmpp_stanza_t *request);

/*
 * A new error reply to REQUEST (same element name and id, to/from swapped, type="error")
 * carrying <error type=TYPE><CONDITION xmlns=stanzas/>[<text>TEXT</text>]</error>.
 * TYPE is cancel|continue|modify|auth|wait. TEXT may be NULL. The request's payload is not
 * copied. The caller releases the result with xmpp_stanza_release().
 */
xmpp_stanza_t *hippo_stanza_error(xmpp_ctx_t *ctx, xmpp_stanza_t *request, const char *type,
                                  const char *condition, const char *text);

/* Adds a new child element NAME (in namespace NS when not NULL) to PARENT and returns it;
 * the parent owns it (do not release). Returns NULL on allocation failure. */
xmpp_stanza_t *hippo_stanza_add_element(xmpp_stanza_t *parent, const char *name, const char *ns);

/* Adds a text node to PARENT. Returns 0, or -1 on allocation failure. */
int hippo_stanza_add_text(xmpp_stanza_t *parent, const char *text);

/* Number of element children (text nodes are not counted). */
int hippo_stanza_element_count(xmpp_stanza_t *stanza);

/* The first element child, or NULL. */
xmpp_stanza_t *hippo_stanza_first_element(xmpp_stanza_t *stanza);

#endif
