/* fake_link.c - an in-process stand-in for src/xmpp_link.c: every function of xmpp_link.h,
 * no socket. It owns a libstrophe context for the handlers (hippo_link_ctx) and keeps a copy
 * of every stanza sent, as it was when sent: rooms reuse one stanza for several recipients,
 * changing its `to` between sends. */
#include <stdlib.h>
#include <string.h>

#include "fakes.h"

struct hippo_link {
    hippo_link_options opts; /* domain copied; the other strings are not used */
    char *domain;
    hippo_metrics *metrics;
    xmpp_ctx_t *ctx;
    bool up;
    bool shut_down;

    xmpp_stanza_t **sent;
    size_t n_sent;
    size_t dropped;
};

static void *checked(void *p)
{
    if (!p)
        abort(); /* test code: out of memory is not a case worth handling */
    return p;
}

hippo_link *hippo_link_new(struct event_base *base, const hippo_link_options *opts,
                           const hippo_logger *log, hippo_metrics *metrics)
{
    (void)base, (void)log;
    hippo_link *link = checked(calloc(1, sizeof *link));
    link->opts = *opts;
    link->domain = checked(strdup(opts->domain ? opts->domain : ""));
    link->opts.domain = link->domain;
    link->metrics = metrics;
    link->ctx = checked(xmpp_ctx_new(NULL, NULL));
    return link;
}

void hippo_link_start(hippo_link *link)
{
    fake_link_set_up(link, true);
}

bool hippo_link_is_up(const hippo_link *link)
{
    return link->up;
}

bool hippo_link_is_standby(const hippo_link *link)
{
    (void)link;
    return false;
}

uint64_t hippo_link_last_stanza_usec(const hippo_link *link)
{
    (void)link;
    return 0;
}

const char *hippo_link_down_reason(const hippo_link *link)
{
    return link->up ? NULL : "fake link down";
}

xmpp_ctx_t *hippo_link_ctx(hippo_link *link)
{
    return link->ctx;
}

const char *hippo_link_domain(const hippo_link *link)
{
    return link->domain;
}

/* As xmpp_link.c: a missing from becomes the component domain, and sends are counted. */
int hippo_link_send(hippo_link *link, xmpp_stanza_t *stanza)
{
    const char *name = xmpp_stanza_get_name(stanza);
    if (!link->up) {
        hippo_metrics_count(&link->metrics->drops, "link-down");
        link->dropped++;
        return -1;
    }
    if (!xmpp_stanza_get_from(stanza))
        xmpp_stanza_set_from(stanza, link->domain);
    link->metrics->stanzas_out[hippo_stanza_kind_of(name ? name : "")]++;
    link->sent = checked(realloc(link->sent, (link->n_sent + 1) * sizeof *link->sent));
    link->sent[link->n_sent++] = checked(xmpp_stanza_copy(stanza));
    return 0;
}

/* As xmpp_link.c; the text is parsed back into a stanza so that tests see every send alike. */
int hippo_link_send_text(hippo_link *link, const char *name, const char *text, size_t len)
{
    char *copy = checked(strndup(text, len));
    xmpp_stanza_t *stanza = checked(xmpp_stanza_new_from_string(link->ctx, copy));
    free(copy);
    int rc = strcmp(xmpp_stanza_get_name(stanza), name) == 0 ? hippo_link_send(link, stanza) : -1;
    xmpp_stanza_release(stanza);
    return rc;
}

void hippo_link_shutdown(hippo_link *link)
{
    link->shut_down = true;
    link->up = false;
    link->metrics->link_up = false;
    if (link->opts.on_state)
        link->opts.on_state(false, "shut down", true, link->opts.arg);
}

void hippo_link_free(hippo_link *link)
{
    if (!link)
        return;
    for (size_t i = 0; i < link->n_sent; i++)
        xmpp_stanza_release(link->sent[i]);
    free(link->sent);
    xmpp_ctx_free(link->ctx);
    free(link->domain);
    free(link);
}

/* ------------------------------------------------------------------ control (fakes.h) */

void fake_link_set_up(hippo_link *link, bool up)
{
    bool changed = link->up != up;
    link->up = up;
    link->metrics->link_up = up;
    if (changed && link->opts.on_state)
        link->opts.on_state(up, up ? NULL : "fake link down", false, link->opts.arg);
}

size_t fake_link_sent_count(const hippo_link *link)
{
    return link->n_sent;
}

xmpp_stanza_t *fake_link_sent_at(const hippo_link *link, size_t i)
{
    return i < link->n_sent ? link->sent[i] : NULL;
}

size_t fake_link_dropped_count(const hippo_link *link)
{
    return link->dropped;
}

bool fake_link_shut_down(const hippo_link *link)
{
    return link->shut_down;
}
