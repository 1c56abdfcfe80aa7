/* rsm.c - reading XEP-0059 <set/> requests. */
#include "rsm.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "stanza.h"

/* A decimal integer 0 .. INT_MAX, blanks around it allowed (xs:int as written, no sign):
 * the value, or -1. */
static long read_count(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    long v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v > INT_MAX)
            return -1;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return *s ? -1 : v;
}

static const char out_of_memory[] = "out of memory";

/* Whether EL has a child of each kind. */
static void children_of(xmpp_stanza_t *el, bool *text, bool *tag)
{
    *text = *tag = false;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(el); c; c = xmpp_stanza_get_next(c)) {
        if (xmpp_stanza_is_text(c))
            *text = true;
        else if (xmpp_stanza_is_tag(c))
            *tag = true;
    }
}

/* One child of <set/> into OUT; a reason when it is malformed (or out_of_memory), else
 * NULL. */
static const char *read_child(xmpp_ctx_t *ctx, xmpp_stanza_t *child, hippo_rsm *out)
{
    const char *name = xmpp_stanza_get_name(child);
    const char *ns = xmpp_stanza_get_ns(child);
    if (!name || (ns && strcmp(ns, HIPPO_NS_RSM) != 0))
        return "unexpected element in the RSM set";
    bool is_max = strcmp(name, "max") == 0, is_index = strcmp(name, "index") == 0;
    bool is_after = strcmp(name, "after") == 0, is_before = strcmp(name, "before") == 0;
    if (!is_max && !is_index && !is_after && !is_before)
        return "a request's RSM set holds only max, index, after and before";
    if ((is_max && out->max >= 0) || (is_index && out->index >= 0) ||
        (is_after && out->has_after) || (is_before && out->has_before))
        return "repeated element in the RSM set";
    bool has_text, has_tag;
    children_of(child, &has_text, &has_tag);
    if (has_tag)
        return "RSM elements hold text only";
    char *copy = xmpp_stanza_get_text(child); /* NULL: empty, or out of memory */
    if (!copy && has_text)
        return out_of_memory;
    const char *text = copy ? copy : "";
    const char *why = NULL;
    if (is_max || is_index) {
        long v = read_count(text);
        if (v < 0)
            why = is_max ? "RSM max must be an integer from 0 to 2147483647"
                         : "RSM index must be an integer from 0 to 2147483647";
        else if (is_max)
            out->max = v;
        else
            out->index = v;
    } else if (strlen(text) > HIPPO_RSM_ID_MAX) {
        why = "RSM item id too long";
    } else if (is_after && !*text) {
        why = "RSM after must name an item";
    } else {
        snprintf(is_after ? out->after : out->before, HIPPO_RSM_ID_MAX + 1, "%s", text);
        if (is_after)
            out->has_after = true;
        else
            out->has_before = true;
    }
    if (copy)
        xmpp_free(ctx, copy);
    return why;
}

int hippo_rsm_parse(xmpp_ctx_t *ctx, xmpp_stanza_t *query, hippo_rsm *out, const char **why)
{
    *out = (hippo_rsm){.max = -1, .index = -1};
    *why = NULL;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(query); c; c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_get_ns(c);
        if (!xmpp_stanza_is_tag(c) || !ns || strcmp(ns, HIPPO_NS_RSM) != 0)
            continue;
        if (out->present || strcmp(xmpp_stanza_get_name(c), "set") != 0) {
            *why = out->present ? "more than one RSM set" : "unexpected RSM element";
            return -1;
        }
        out->present = true;
        for (xmpp_stanza_t *e = xmpp_stanza_get_children(c); e; e = xmpp_stanza_get_next(e)) {
            if (!xmpp_stanza_is_tag(e))
                continue;
            if ((*why = read_child(ctx, e, out)))
                return *why == out_of_memory ? -2 : -1;
        }
    }
    if (out->has_after && out->has_before)
        *why = "RSM after and before together";
    else if (out->index >= 0 && (out->has_after || out->has_before))
        *why = "RSM index with after or before";
    return *why ? -1 : 0;
}
