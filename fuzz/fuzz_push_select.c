/* fuzz_push_select.c - cutting one user's activePostsChanged out of a payload of many posts
 * (src/push_xml.c). The payload comes from the database: its texts are user-written, its
 * shape is the code's own. The first input byte picks the mode:
 *   even: a payload built like post_payload.c builds it, from the input's control bytes (ids,
 *         recipients, viewers, the selection, flags) and texts (names, titles). The
 *         selection must hold exactly the selected known posts once each, in order, each
 *         followed by its livepost, with the flags applied; exactly the entities they
 *         reference, each once, in order of first reference; and it must serialize to
 *         well-formed XML. The shared payload must not change.
 *   odd:  any XML as the payload ("XML\0id\0id..."): never a crash, posts once each, each
 *         followed by a livepost, well-formed output, shared payload unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "post_xml.h"
#include "push_xml.h"

#define MAX_POSTS 5
#define MAX_SELECTED 8
#define MAX_RECIPIENTS 3
#define MAX_VIEWERS 7

/* ---- reading the input */

typedef struct input {
    const uint8_t *ctl; /* control bytes: everything up to the first NUL */
    size_t n_ctl, at;
    char **texts; /* the NUL-separated pieces after it */
    size_t n_texts, next_text;
} input;

static unsigned byte(input *in)
{
    return in->at < in->n_ctl ? in->ctl[in->at++] : 0;
}

static const char *text(input *in)
{
    return in->n_texts ? in->texts[in->next_text++ % in->n_texts] : "";
}

/* ---- the model: what the payload holds */

static const char *const user_ids[] = {"Uaaaaaaaaaaaa0", "Uaaaaaaaaaaaa1", "Uaaaaaaaaaaaa2",
                                       "Uaaaaaaaaaaaa3", "Uunknownuser00"};
static const char *const group_ids[] = {"Gaaaaaaaaaaaa0", "Gaaaaaaaaaaaa1", "Gunknowngroup0"};
static const char *const resource_ids[] = {"Raaaaaaaaaaaa0", "Runknownresrc0"};
static const char *const post_ids[] = {"Paaaaaaaaaaaa0", "Paaaaaaaaaaaa1", "Paaaaaaaaaaaa2",
                                       "Paaaaaaaaaaaa3", "Paaaaaaaaaaaa4", "Punknownpost00"};
static const char *const flag_values[] = {"tt", "tf", "ft", "ff", "t", "", "ttt", "xx"};

typedef struct model_post {
    const char *poster;
    hippo_post_ref recipients[MAX_RECIPIENTS];
    size_t n_recipients;
    const char *viewers[MAX_VIEWERS];
    size_t n_viewers;
    bool favorite, ignored;
} model_post;

typedef struct model {
    size_t n_users, n_groups, n_resources, n_posts;
    model_post posts[MAX_POSTS];
} model;

static const char *ref_id(hippo_entity_kind kind, unsigned pick)
{
    if (kind == HIPPO_ENTITY_GROUP)
        return group_ids[pick % 3];
    if (kind == HIPPO_ENTITY_RESOURCE)
        return resource_ids[pick % 2];
    return user_ids[pick % 5];
}

static void add_entities(xmpp_stanza_t *w, const model *m, input *in)
{
    for (size_t i = 0; i < m->n_users + m->n_groups + m->n_resources; i++) {
        hippo_post_entity e = {.name = text(in), .photo_version = (long long)byte(in) - 1};
        if (i < m->n_users)
            e.kind = HIPPO_ENTITY_USER, e.id = user_ids[i];
        else if (i < m->n_users + m->n_groups)
            e.kind = HIPPO_ENTITY_GROUP, e.id = group_ids[i - m->n_users];
        else
            e.kind = HIPPO_ENTITY_RESOURCE, e.id = resource_ids[i - m->n_users - m->n_groups];
        HIPPO_FUZZ_CHECK(hippo_post_xml_add_entity(w, &e) == 0);
    }
}

static void add_post(xmpp_stanza_t *w, model_post *p, size_t i, input *in)
{
    p->poster = user_ids[byte(in) % 5];
    p->n_recipients = byte(in) % (MAX_RECIPIENTS + 1);
    for (size_t r = 0; r < p->n_recipients; r++) {
        p->recipients[r].kind = (hippo_entity_kind)(byte(in) % 3);
        p->recipients[r].id = ref_id(p->recipients[r].kind, byte(in));
    }
    p->n_viewers = byte(in) % (MAX_VIEWERS + 1);
    for (size_t v = 0; v < p->n_viewers; v++)
        p->viewers[v] = user_ids[byte(in) % 5];
    p->favorite = byte(in) & 1;
    p->ignored = byte(in) & 1;
    hippo_post_fields f = {.id = post_ids[i],
                           .poster_id = p->poster,
                           .href = text(in),
                           .title = text(in),
                           .text = text(in),
                           .info = text(in),
                           .recipients = p->recipients,
                           .n_recipients = p->n_recipients,
                           .favorite = p->favorite,
                           .ignored = p->ignored};
    hippo_livepost_fields l = {.id = post_ids[i], .viewers = p->viewers, .n_viewers = p->n_viewers};
    HIPPO_FUZZ_CHECK(hippo_post_xml_add_post(w, &f) == 0);
    HIPPO_FUZZ_CHECK(hippo_post_xml_add_livepost(w, &l) == 0);
}

/* The payload *M describes, built from IN; the caller releases it. */
static xmpp_stanza_t *build_payload(model *m, input *in)
{
    m->n_users = byte(in) % 5;
    m->n_groups = byte(in) % 3;
    m->n_resources = byte(in) % 2;
    m->n_posts = byte(in) % (MAX_POSTS + 1);
    xmpp_stanza_t *w = hippo_post_xml_wrapper(hippo_fuzz_ctx(), "activePostsChanged");
    HIPPO_FUZZ_CHECK(w != NULL);
    add_entities(w, m, in);
    for (size_t i = 0; i < m->n_posts; i++)
        add_post(w, &m->posts[i], i, in);
    return w;
}

/* ---- the expected selection */

typedef struct expected {
    const char *entity_kind[64];
    const char *entity_id[64];
    size_t n_entities;
    size_t posts[MAX_SELECTED]; /* indexes into the model */
    const char *flags[MAX_SELECTED];
    size_t n_posts;
} expected;

static bool entity_exists(const model *m, hippo_entity_kind kind, const char *id)
{
    size_t n = kind == HIPPO_ENTITY_USER    ? m->n_users
               : kind == HIPPO_ENTITY_GROUP ? m->n_groups
                                            : m->n_resources;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ref_id(kind, (unsigned)i), id) == 0)
            return true;
    return false;
}

static void expect_entity(expected *e, const model *m, hippo_entity_kind kind, const char *id)
{
    static const char *const names[] = {"user", "resource", "group"};
    if (!entity_exists(m, kind, id))
        return;
    for (size_t i = 0; i < e->n_entities; i++)
        if (strcmp(e->entity_kind[i], names[kind]) == 0 && strcmp(e->entity_id[i], id) == 0)
            return;
    HIPPO_FUZZ_CHECK(e->n_entities < 64);
    e->entity_kind[e->n_entities] = names[kind];
    e->entity_id[e->n_entities++] = id;
}

static void expect_selection(expected *e, const model *m, const size_t *sel, size_t n,
                             const char *const *flags)
{
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        if (sel[i] >= m->n_posts)
            continue;
        const model_post *p = &m->posts[sel[i]];
        expect_entity(e, m, HIPPO_ENTITY_USER, p->poster);
        for (size_t r = 0; r < p->n_recipients; r++)
            expect_entity(e, m, p->recipients[r].kind, p->recipients[r].id);
        for (size_t v = 0; v < p->n_viewers && v < HIPPO_POST_XML_MAX_VIEWERS; v++)
            expect_entity(e, m, HIPPO_ENTITY_USER, p->viewers[v]);
        bool repeated = false;
        for (size_t j = 0; j < e->n_posts; j++)
            repeated = repeated || e->posts[j] == sel[i];
        if (!repeated) {
            e->flags[e->n_posts] = flags ? flags[i] : NULL;
            e->posts[e->n_posts++] = sel[i];
        }
    }
}

/* ---- comparing */

static const char *child_text(xmpp_stanza_t *el, const char *name)
{
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(el, name);
    xmpp_stanza_t *t = c ? xmpp_stanza_get_children(c) : NULL;
    return t ? xmpp_stanza_get_text_ptr(t) : NULL;
}

static void check_post_flags(xmpp_stanza_t *post, const model_post *p, const char *flags)
{
    bool fav = p->favorite, ign = p->ignored;
    if (flags && strlen(flags) == 2)
        fav = flags[0] == 't', ign = flags[1] == 't';
    const char *f = child_text(post, "favorite"), *i = child_text(post, "ignored");
    HIPPO_FUZZ_CHECK(f && strcmp(f, fav ? "true" : "false") == 0);
    HIPPO_FUZZ_CHECK(i && strcmp(i, ign ? "true" : "false") == 0);
}

static xmpp_stanza_t *next_tag(xmpp_stanza_t *c)
{
    while (c && !xmpp_stanza_is_tag(c))
        c = xmpp_stanza_get_next(c);
    return c;
}

static bool named(xmpp_stanza_t *el, const char *name, const char *id)
{
    const char *got = el ? xmpp_stanza_get_id(el) : NULL;
    return el && strcmp(xmpp_stanza_get_name(el), name) == 0 && got && strcmp(got, id) == 0;
}

static void check_structured(xmpp_stanza_t *out, const expected *e, const model *m)
{
    xmpp_stanza_t *c = next_tag(xmpp_stanza_get_children(out));
    for (size_t i = 0; i < e->n_entities; i++, c = next_tag(xmpp_stanza_get_next(c)))
        HIPPO_FUZZ_CHECK(named(c, e->entity_kind[i], e->entity_id[i]));
    for (size_t i = 0; i < e->n_posts; i++) {
        const char *id = post_ids[e->posts[i]];
        HIPPO_FUZZ_CHECK(named(c, "post", id));
        check_post_flags(c, &m->posts[e->posts[i]], e->flags[i]);
        c = next_tag(xmpp_stanza_get_next(c));
        HIPPO_FUZZ_CHECK(named(c, "livepost", id));
        c = next_tag(xmpp_stanza_get_next(c));
    }
    HIPPO_FUZZ_CHECK(c == NULL);
}

/* EL as text (the caller frees it with xmpp_free), checked well-formed when CHECK. */
static char *serialized(xmpp_stanza_t *el, bool check)
{
    char *xml;
    size_t len;
    HIPPO_FUZZ_CHECK(xmpp_stanza_to_text(el, &xml, &len) == XMPP_EOK);
    HIPPO_FUZZ_CHECK(!check || hippo_fuzz_well_formed(xml, len));
    return xml;
}

/* Every <post> at most once and followed by a <livepost>. The livepost's id is not compared:
 * hippo_push_posts_index pairs a post with the next livepost whatever its id (finding 4 in
 * docs/reliability.md; payloads from post_payload.c always match). */
static void check_shape(xmpp_stanza_t *out)
{
    size_t n = 0;
    const char *seen[256];
    for (xmpp_stanza_t *c = next_tag(xmpp_stanza_get_children(out)); c;
         c = next_tag(xmpp_stanza_get_next(c))) {
        if (strcmp(xmpp_stanza_get_name(c), "post") != 0)
            continue;
        const char *id = xmpp_stanza_get_id(c);
        xmpp_stanza_t *live = next_tag(xmpp_stanza_get_next(c));
        HIPPO_FUZZ_CHECK(id && live && strcmp(xmpp_stanza_get_name(live), "livepost") == 0);
        for (size_t i = 0; i < n; i++)
            HIPPO_FUZZ_CHECK(strcmp(seen[i], id) != 0);
        if (n < 256)
            seen[n++] = id;
    }
}

/* Selects IDS out of PAYLOAD (BEFORE: its text before any selection); checks what every
 * selection must satisfy and returns it. */
static xmpp_stanza_t *select_checked(xmpp_stanza_t *payload, const char *before,
                                     hippo_push_posts *ix, const char *const *ids,
                                     const char *const *flags, size_t n)
{
    xmpp_stanza_t *out = hippo_push_posts_select(ix, "activePostsChanged", ids, flags, n);
    HIPPO_FUZZ_CHECK(out != NULL);
    char *after = serialized(payload, false), *xml = serialized(out, true);
    HIPPO_FUZZ_CHECK(strcmp(before, after) == 0); /* the shared payload is left alone */
    check_shape(out);
    xmpp_free(hippo_fuzz_ctx(), xml);
    xmpp_free(hippo_fuzz_ctx(), after);
    return out;
}

static void run_structured(input *in)
{
    model m = {0};
    xmpp_stanza_t *payload = build_payload(&m, in);
    hippo_push_posts *ix = hippo_push_posts_index(payload);
    HIPPO_FUZZ_CHECK(ix != NULL);
    char *before = serialized(payload, true);
    for (int round = 0; round < 2; round++) { /* twice: the index is reused for every user */
        size_t n = byte(in) % (MAX_SELECTED + 1), sel[MAX_SELECTED];
        const char *ids[MAX_SELECTED], *flags[MAX_SELECTED];
        bool with_flags = byte(in) & 1;
        for (size_t i = 0; i < n; i++) {
            sel[i] = byte(in) % 6;
            ids[i] = post_ids[sel[i]];
            flags[i] = flag_values[byte(in) % 8];
        }
        expected e;
        expect_selection(&e, &m, sel, n, with_flags ? flags : NULL);
        xmpp_stanza_t *out = select_checked(payload, before, ix, ids, with_flags ? flags : NULL, n);
        check_structured(out, &e, &m);
        xmpp_stanza_release(out);
    }
    xmpp_free(hippo_fuzz_ctx(), before);
    hippo_push_posts_free(ix);
    xmpp_stanza_release(payload);
}

/* SEED's bits choose whether flags are given and which. */
static void run_raw(input *in, unsigned seed)
{
    if (in->n_texts == 0)
        return;
    xmpp_stanza_t *payload = xmpp_stanza_new_from_string(hippo_fuzz_ctx(), in->texts[0]);
    if (!payload)
        return;
    hippo_push_posts *ix = hippo_push_posts_index(payload);
    if (ix) {
        size_t n = in->n_texts - 1;
        const char **flags = malloc((n ? n : 1) * sizeof *flags);
        HIPPO_FUZZ_CHECK(flags != NULL);
        for (size_t i = 0; i < n; i++)
            flags[i] = flag_values[(seed / 4 + i) % 8];
        char *before = serialized(payload, false);
        xmpp_stanza_t *out = select_checked(payload, before, ix, (const char *const *)in->texts + 1,
                                            seed & 2 ? flags : NULL, n);
        xmpp_free(hippo_fuzz_ctx(), before);
        xmpp_stanza_release(out);
        free(flags);
        hippo_push_posts_free(ix);
    }
    xmpp_stanza_release(payload);
}

/* Splits S[0..LEN] (NUL-separated pieces from START on) into IN's texts. */
static void split_texts(input *in, char *s, size_t start, size_t len)
{
    size_t max = 0;
    for (size_t i = start; i <= len; i++)
        max += i == len || s[i] == '\0';
    in->texts = malloc((max ? max : 1) * sizeof *in->texts);
    HIPPO_FUZZ_CHECK(in->texts != NULL);
    for (size_t at = start; at <= len && in->n_texts < max; at += strlen(s + at) + 1)
        in->texts[in->n_texts++] = s + at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool raw = data[0] & 1;
    char *s = hippo_fuzz_string(data + 1, size - 1);
    size_t ctl = raw ? 0 : strlen(s);
    input in = {.ctl = (const uint8_t *)s, .n_ctl = ctl};
    split_texts(&in, s, raw ? 0 : ctl + 1, size - 1);
    if (raw)
        run_raw(&in, data[0]);
    else
        run_structured(&in);
    free(in.texts);
    free(s);
    return 0;
}
