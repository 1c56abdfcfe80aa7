/* push_xml.c - the message around a notification payload, the per-recipient viewpoint of a
 * shared payload, and the per-user selection of posts out of one payload of many. */
#include "push_xml.h"

#include <stdlib.h>
#include <string.h>

#include "post_xml.h"
#include "stanza.h"

xmpp_stanza_t *hippo_push_xml_message(xmpp_ctx_t *ctx, const char *type, const char *body,
                                      xmpp_stanza_t *payload)
{
    xmpp_stanza_t *msg = xmpp_message_new(ctx, type, NULL, NULL);
    if (!msg)
        return NULL;
    if (body) {
        xmpp_stanza_t *b = hippo_stanza_add_element(msg, "body", NULL);
        if (!b || hippo_stanza_add_text(b, body) < 0) {
            xmpp_stanza_release(msg);
            return NULL;
        }
    }
    if (xmpp_stanza_add_child(msg, payload) != XMPP_EOK) {
        xmpp_stanza_release(msg);
        return NULL;
    }
    return msg;
}

/* The text node of child NAME of EL, or NULL. */
static xmpp_stanza_t *text_of(xmpp_stanza_t *el, const char *name)
{
    xmpp_stanza_t *child = xmpp_stanza_get_child_by_name(el, name);
    xmpp_stanza_t *text = child ? xmpp_stanza_get_children(child) : NULL;
    return text && xmpp_stanza_is_text(text) ? text : NULL;
}

static int post_viewpoint(xmpp_stanza_t *post, hippo_push_viewpoint *out)
{
    out->favorite = text_of(post, "favorite");
    out->ignored = text_of(post, "ignored");
    return out->favorite && out->ignored ? 0 : -1;
}

int hippo_push_xml_viewpoint(xmpp_stanza_t *payload, hippo_push_viewpoint *out)
{
    xmpp_stanza_t *post = xmpp_stanza_get_child_by_name(payload, "post");
    return post ? post_viewpoint(post, out) : -1;
}

int hippo_push_xml_set_viewpoint(const hippo_push_viewpoint *vp, bool favorite, bool ignored)
{
    if (xmpp_stanza_set_text(vp->favorite, favorite ? "true" : "false") != XMPP_EOK ||
        xmpp_stanza_set_text(vp->ignored, ignored ? "true" : "false") != XMPP_EOK)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ the index */

struct entity {
    char kind; /* 'u', 'r', 'g' */
    const char *id;
    xmpp_stanza_t *el;
    unsigned stamp; /* == the index's stamp: already in the element being built */
};

struct post {
    const char *id;
    xmpp_stanza_t *post;
    xmpp_stanza_t *live;
};

struct hippo_push_posts {
    xmpp_stanza_t *payload;
    struct entity *entities; /* sorted by kind, id */
    size_t n_entities;
    struct post *posts; /* payload order */
    size_t n_posts;
    unsigned stamp;
};

static char kind_char(const char *name)
{
    if (strcmp(name, "user") == 0)
        return 'u';
    if (strcmp(name, "resource") == 0)
        return 'r';
    if (strcmp(name, "group") == 0)
        return 'g';
    return 0;
}

static int compare_entities(const void *a, const void *b)
{
    const struct entity *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->id, y->id);
}

static size_t count_elements(xmpp_stanza_t *payload)
{
    size_t n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(payload); c; c = xmpp_stanza_get_next(c))
        n += xmpp_stanza_is_tag(c);
    return n;
}

/* Sorts each child of the payload into entities and posts; -1 when a post lacks its
 * livepost or an element lacks its id. */
static int fill_index(hippo_push_posts *ix)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(ix->payload); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *name = xmpp_stanza_get_name(c);
        const char *id = xmpp_stanza_get_id(c);
        if (!id)
            return -1;
        if (strcmp(name, "post") == 0) {
            xmpp_stanza_t *live = xmpp_stanza_get_next(c);
            while (live && !xmpp_stanza_is_tag(live))
                live = xmpp_stanza_get_next(live);
            const char *live_id = live ? xmpp_stanza_get_id(live) : NULL;
            if (!live || strcmp(xmpp_stanza_get_name(live), "livepost") != 0 || !live_id ||
                strcmp(live_id, id) != 0)
                return -1;
            ix->posts[ix->n_posts++] = (struct post){.id = id, .post = c, .live = live};
        } else if (kind_char(name)) {
            ix->entities[ix->n_entities++] =
                (struct entity){.kind = kind_char(name), .id = id, .el = c};
        }
    }
    qsort(ix->entities, ix->n_entities, sizeof *ix->entities, compare_entities);
    return 0;
}

hippo_push_posts *hippo_push_posts_index(xmpp_stanza_t *payload)
{
    hippo_push_posts *ix = calloc(1, sizeof *ix);
    size_t n = count_elements(payload);
    if (!ix)
        return NULL;
    ix->entities = calloc(n ? n : 1, sizeof *ix->entities);
    ix->posts = calloc(n ? n : 1, sizeof *ix->posts);
    ix->payload = xmpp_stanza_clone(payload);
    if (!ix->entities || !ix->posts || fill_index(ix) < 0) {
        hippo_push_posts_free(ix);
        return NULL;
    }
    return ix;
}

void hippo_push_posts_free(hippo_push_posts *ix)
{
    if (!ix)
        return;
    if (ix->payload)
        xmpp_stanza_release(ix->payload);
    free(ix->entities);
    free(ix->posts);
    free(ix);
}

/* ------------------------------------------------------------------ selecting */

static const struct post *find_post(const hippo_push_posts *ix, const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < ix->n_posts; i++)
        if (strcmp(ix->posts[i].id, id) == 0)
            return &ix->posts[i];
    return NULL;
}

static int add_copy(xmpp_stanza_t *parent, xmpp_stanza_t *el, xmpp_stanza_t **copy_out)
{
    xmpp_stanza_t *copy = xmpp_stanza_copy(el);
    if (!copy)
        return -1;
    int rc = xmpp_stanza_add_child(parent, copy) == XMPP_EOK ? 0 : -1;
    xmpp_stanza_release(copy); /* the parent holds its own reference */
    if (copy_out)
        *copy_out = copy;
    return rc;
}

/* Adds the entity KIND:ID to OUT unless it is there already or unknown. */
static int add_entity(hippo_push_posts *ix, xmpp_stanza_t *out, char kind, const char *id)
{
    if (!id)
        return 0;
    struct entity key = {.kind = kind, .id = id};
    struct entity *e =
        bsearch(&key, ix->entities, ix->n_entities, sizeof *ix->entities, compare_entities);
    if (!e || e->stamp == ix->stamp)
        return 0;
    e->stamp = ix->stamp;
    return add_copy(out, e->el, NULL);
}

/* The entities one post references: poster, recipients, then recent viewers. */
static int add_post_entities(hippo_push_posts *ix, xmpp_stanza_t *out, const struct post *p)
{
    xmpp_stanza_t *poster = text_of(p->post, "poster");
    if (poster && add_entity(ix, out, 'u', xmpp_stanza_get_text_ptr(poster)) < 0)
        return -1;
    xmpp_stanza_t *recipients = xmpp_stanza_get_child_by_name(p->post, "recipients");
    for (xmpp_stanza_t *r = recipients ? xmpp_stanza_get_children(recipients) : NULL; r;
         r = xmpp_stanza_get_next(r))
        if (xmpp_stanza_is_tag(r) &&
            add_entity(ix, out, kind_char(xmpp_stanza_get_name(r)), xmpp_stanza_get_id(r)) < 0)
            return -1;
    xmpp_stanza_t *viewers = xmpp_stanza_get_child_by_name(p->live, "recentViewers");
    for (xmpp_stanza_t *v = viewers ? xmpp_stanza_get_children(viewers) : NULL; v;
         v = xmpp_stanza_get_next(v))
        if (xmpp_stanza_is_tag(v) && add_entity(ix, out, 'u', xmpp_stanza_get_id(v)) < 0)
            return -1;
    return 0;
}

static int add_post(xmpp_stanza_t *out, const struct post *p, const char *flags)
{
    xmpp_stanza_t *copy = NULL;
    if (add_copy(out, p->post, &copy) < 0)
        return -1;
    hippo_push_viewpoint vp;
    if (flags && strlen(flags) == 2 && post_viewpoint(copy, &vp) == 0 &&
        hippo_push_xml_set_viewpoint(&vp, flags[0] == 't', flags[1] == 't') < 0)
        return -1;
    return add_copy(out, p->live, NULL);
}

/* True when IDS[I] also appears before I: a post is sent once. */
static bool seen_before(const char *const *ids, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (ids[j] && strcmp(ids[j], ids[i]) == 0)
            return true;
    return false;
}

xmpp_stanza_t *hippo_push_posts_select(hippo_push_posts *ix, const char *name,
                                       const char *const *post_ids, const char *const *flags,
                                       size_t n)
{
    xmpp_stanza_t *out = hippo_post_xml_wrapper(xmpp_stanza_get_context(ix->payload), name);
    if (!out)
        return NULL;
    ix->stamp++;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct post *p = find_post(ix, post_ids[i]);
        if (p)
            rc = add_post_entities(ix, out, p);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct post *p = find_post(ix, post_ids[i]);
        if (p && !seen_before(post_ids, i))
            rc = add_post(out, p, flags ? flags[i] : NULL);
    }
    if (rc < 0) {
        xmpp_stanza_release(out);
        return NULL;
    }
    return out;
}
