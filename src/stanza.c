/* stanza.c - stanza builders shared by every handler. */
#include "stanza.h"

#include <string.h>

bool hippo_stanza_is_reply_type(const char *type)
{
    return type && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0);
}

/* A new element named like REQUEST, addressed back to its sender. */
static xmpp_stanza_t *reply_shell(xmpp_ctx_t *ctx, xmpp_stanza_t *request, const char *type)
{
    xmpp_stanza_t *reply = xmpp_stanza_new(ctx);
    if (!reply)
        return NULL;
    const char *name = xmpp_stanza_get_name(request);
    const char *id = xmpp_stanza_get_id(request);
    const char *from = xmpp_stanza_get_from(request);
    const char *to = xmpp_stanza_get_to(request);
    xmpp_stanza_set_name(reply, name ? name : "iq");
    xmpp_stanza_set_type(reply, type);
    if (id)
        xmpp_stanza_set_id(reply, id);
    if (from)
        xmpp_stanza_set_to(reply, from);
    if (to)
        xmpp_stanza_set_from(reply, to);
    return reply;
}

xmpp_stanza_t *hippo_stanza_iq_result(xmpp_ctx_t *ctx, xmpp_stanza_t *request)
{
    return reply_shell(ctx, request, "result");
}

xmpp_stanza_t *hippo_stanza_add_element(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    xmpp_stanza_t *child = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    if (!child)
        return NULL;
    xmpp_stanza_set_name(child, name);
    if (ns)
        xmpp_stanza_set_ns(child, ns);
    xmpp_stanza_add_child(parent, child);
    xmpp_stanza_release(child); /* add_child took its own reference */
    return child;
}

int hippo_stanza_add_text(xmpp_stanza_t *parent, const char *text)
{
    xmpp_stanza_t *node = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    if (!node)
        return -1;
    xmpp_stanza_set_text(node, text);
    xmpp_stanza_add_child(parent, node);
    xmpp_stanza_release(node);
    return 0;
}

xmpp_stanza_t *hippo_stanza_error(xmpp_ctx_t *ctx, xmpp_stanza_t *request, const char *type,
                                  const char *condition, const char *text)
{
    xmpp_stanza_t *reply = reply_shell(ctx, request, "error");
    if (!reply)
        return NULL;
    xmpp_stanza_t *error = hippo_stanza_add_element(reply, "error", NULL);
    if (!error)
        goto fail;
    xmpp_stanza_set_type(error, type);
    if (!hippo_stanza_add_element(error, condition, HIPPO_NS_STANZAS))
        goto fail;
    if (text) {
        xmpp_stanza_t *t = hippo_stanza_add_element(error, "text", HIPPO_NS_STANZAS);
        if (!t || hippo_stanza_add_text(t, text) < 0)
            goto fail;
        xmpp_stanza_set_attribute(t, "xml:lang", "en");
    }
    return reply;
fail:
    xmpp_stanza_release(reply);
    return NULL;
}

int hippo_stanza_element_count(xmpp_stanza_t *stanza)
{
    int n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(stanza); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            n++;
    return n;
}

xmpp_stanza_t *hippo_stanza_first_element(xmpp_stanza_t *stanza)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(stanza); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c))
            return c;
    return NULL;
}
