/* post_payload.c - the post-namespace payloads (entities, <post>, <livepost>) from a
 * viewer's viewpoint.
 *
 * One statement per payload, whatever the number of posts: hippo.post_payload_rows()
 * (sql/004_post_iqs.sql) returns the entity rows, then one row per visible post with its
 * recipients and live numbers, all from one snapshot. This file turns those rows into
 * stanzas through post_xml.c. */
#include "post_payload.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guid.h"
#include "post_xml.h"
#include "xmpp_link.h"

#define STMT_PAYLOAD "post_payload"
#define STMT_PAYLOAD_RECENT "post_payload_recent"

void hippo_post_payload_prepare(hippo_db *db)
{
    hippo_db_prepare(db, STMT_PAYLOAD,
                     "SELECT * FROM hippo.post_payload_rows($1, $2::text[], $3::boolean)", 3);
    hippo_db_prepare(db, STMT_PAYLOAD_RECENT,
                     "SELECT * FROM hippo.post_payload_rows($1, ARRAY("
                     "SELECT r.post_id FROM hippo.received_posts($1, $2::integer) AS r "
                     "ORDER BY r.created_at DESC, r.post_id DESC), $3::boolean)",
                     3);
}

/* ------------------------------------------------------------------ rows -> stanza */

enum col {
    COL_KIND,
    COL_ID,
    COL_NAME,
    COL_PHOTO_VERSION,
    COL_POSTER_ID,
    COL_HREF,
    COL_TITLE,
    COL_BODY,
    COL_TO_WORLD,
    COL_POST_DATE,
    COL_INFO,
    COL_FAVORITE,
    COL_IGNORED,
    COL_RECIPIENTS,
    COL_VIEWERS,
    COL_CHATTING,
    COL_VIEWING,
    COL_TOTAL,
    COL_COUNT
};

static const char *const col_names[COL_COUNT] = {
    "kind",    "id",         "name",     "photo_version",  "poster_id",     "href",
    "title",   "body",       "to_world", "post_date",      "info",          "favorite",
    "ignored", "recipients", "viewers",  "chatting_users", "viewing_users", "total_viewers",
};

struct rows {
    const PGresult *res;
    int col[COL_COUNT];
    int row;
};

/* The value at the current row, NULL when SQL NULL. */
static const char *val(const struct rows *r, enum col c)
{
    return PQgetisnull(r->res, r->row, r->col[c]) ? NULL : PQgetvalue(r->res, r->row, r->col[c]);
}

static const char *text_or_empty(const struct rows *r, enum col c)
{
    const char *v = val(r, c);
    return v ? v : "";
}

static long long num(const struct rows *r, enum col c)
{
    const char *v = val(r, c);
    return v ? strtoll(v, NULL, 10) : 0;
}

static bool flag(const struct rows *r, enum col c)
{
    const char *v = val(r, c);
    return v && v[0] == 't';
}

static const struct {
    const char *name; /* the row kind */
    char token;       /* the recipient token prefix: "u:ID" */
    hippo_entity_kind kind;
} entity_kinds[] = {{"user", 'u', HIPPO_ENTITY_USER},
                    {"resource", 'r', HIPPO_ENTITY_RESOURCE},
                    {"group", 'g', HIPPO_ENTITY_GROUP}};

static bool kind_of_row(const char *name, hippo_entity_kind *out)
{
    for (size_t i = 0; i < sizeof entity_kinds / sizeof entity_kinds[0]; i++)
        if (strcmp(name, entity_kinds[i].name) == 0) {
            *out = entity_kinds[i].kind;
            return true;
        }
    return false;
}

static bool kind_of_token(const char *token, hippo_entity_kind *out)
{
    for (size_t i = 0; i < sizeof entity_kinds / sizeof entity_kinds[0]; i++)
        if (token[0] == entity_kinds[i].token && token[1] == ':') {
            *out = entity_kinds[i].kind;
            return true;
        }
    return false;
}

/* Splits S (modified in place) at spaces into *TOKENS (malloc'd; the caller frees it).
 * Returns the number of tokens, or SIZE_MAX on allocation failure. */
static size_t split(char *s, char ***tokens)
{
    size_t max = 1;
    for (const char *p = s; *p; p++)
        max += *p == ' ';
    *tokens = malloc(max * sizeof **tokens);
    if (!*tokens)
        return SIZE_MAX;
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        (*tokens)[n++] = tok;
    return n;
}

static const char *add_entity_row(xmpp_stanza_t *el, const struct rows *r, hippo_entity_kind kind)
{
    hippo_post_entity e = {.kind = kind,
                           .id = text_or_empty(r, COL_ID),
                           .name = text_or_empty(r, COL_NAME),
                           .photo_version = num(r, COL_PHOTO_VERSION)};
    return hippo_post_xml_add_entity(el, &e) < 0 ? "out of memory" : NULL;
}

/* "u:ID g:ID r:ID" -> refs (pointing into the tokens). */
static const char *parse_recipients(char **tokens, size_t n, hippo_post_ref *refs)
{
    for (size_t i = 0; i < n; i++) {
        if (!kind_of_token(tokens[i], &refs[i].kind))
            return "malformed recipient list";
        refs[i].id = tokens[i] + 2;
    }
    return NULL;
}

static const char *add_post_fields(xmpp_stanza_t *el, const struct rows *r, char **tokens, size_t n)
{
    hippo_post_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs)
        return "out of memory";
    const char *err = parse_recipients(tokens, n, refs);
    hippo_post_fields p = {
        .id = text_or_empty(r, COL_ID),
        .poster_id = text_or_empty(r, COL_POSTER_ID),
        .href = text_or_empty(r, COL_HREF),
        .title = text_or_empty(r, COL_TITLE),
        .text = text_or_empty(r, COL_BODY),
        .to_world = flag(r, COL_TO_WORLD),
        .post_date = num(r, COL_POST_DATE),
        .info = val(r, COL_INFO),
        .recipients = refs,
        .n_recipients = n,
        .favorite = flag(r, COL_FAVORITE),
        .ignored = flag(r, COL_IGNORED),
    };
    if (!err && hippo_post_xml_add_post(el, &p) < 0)
        err = "out of memory";
    free(refs);
    return err;
}

static const char *add_post_row(xmpp_stanza_t *el, const struct rows *r)
{
    char *list = strdup(text_or_empty(r, COL_RECIPIENTS));
    char **tokens = NULL;
    size_t n = list ? split(list, &tokens) : SIZE_MAX;
    const char *err = n == SIZE_MAX ? "out of memory" : add_post_fields(el, r, tokens, n);
    free(tokens);
    free(list);
    return err;
}

static const char *add_livepost_row(xmpp_stanza_t *el, const struct rows *r)
{
    char *list = strdup(text_or_empty(r, COL_VIEWERS));
    char **tokens = NULL;
    size_t n = list ? split(list, &tokens) : SIZE_MAX;
    const char *err = n == SIZE_MAX ? "out of memory" : NULL;
    hippo_livepost_fields l = {
        .id = text_or_empty(r, COL_ID),
        .viewers = (const char *const *)tokens,
        .n_viewers = n,
        .chatting_users = num(r, COL_CHATTING),
        .viewing_users = num(r, COL_VIEWING),
        .total_viewers = num(r, COL_TOTAL),
    };
    if (!err && hippo_post_xml_add_livepost(el, &l) < 0)
        err = "out of memory";
    free(tokens);
    free(list);
    return err;
}

static const char *add_row(xmpp_stanza_t *el, const struct rows *r, hippo_post_payload_flags flags,
                           size_t *n_posts)
{
    const char *kind = text_or_empty(r, COL_KIND);
    hippo_entity_kind ek;
    if (strcmp(kind, "post") != 0)
        return kind_of_row(kind, &ek) ? add_entity_row(el, r, ek) : "unknown row kind";
    const char *err = add_post_row(el, r);
    if (!err && (flags & HIPPO_POST_WITH_LIVEPOST))
        err = add_livepost_row(el, r);
    if (!err)
        (*n_posts)++;
    return err;
}

xmpp_stanza_t *hippo_post_payload_from_result(xmpp_ctx_t *ctx, const PGresult *res,
                                              const char *element_name,
                                              hippo_post_payload_flags flags, size_t *n_posts,
                                              const char **error)
{
    struct rows r = {.res = res};
    *n_posts = 0;
    for (int c = 0; c < COL_COUNT; c++) {
        r.col[c] = PQfnumber(res, col_names[c]);
        if (r.col[c] < 0) {
            *error = "post payload result lacks a column";
            return NULL;
        }
    }
    xmpp_stanza_t *el = hippo_post_xml_wrapper(ctx, element_name);
    *error = el ? NULL : "out of memory";
    for (r.row = 0; el && r.row < PQntuples(res); r.row++) {
        *error = add_row(el, &r, flags, n_posts);
        if (*error) {
            xmpp_stanza_release(el);
            el = NULL;
        }
    }
    return el;
}

/* ------------------------------------------------------------------ queries */

struct build {
    hippod *d;
    char *element_name;
    hippo_post_payload_flags flags;
    hippo_post_payload_cb cb;
    void *arg;
    size_t requested; /* distinct post ids asked for */
};

static void on_rows(const PGresult *res, const char *error, void *arg)
{
    struct build *b = arg;
    xmpp_stanza_t *el = NULL;
    size_t n_posts = 0;
    if (res)
        el = hippo_post_payload_from_result(hippo_link_ctx(b->d->link), res, b->element_name,
                                            b->flags, &n_posts, &error);
    size_t missing = el && b->requested > n_posts ? b->requested - n_posts : 0;
    b->cb(b->d, el, missing, el ? NULL : (error ? error : "query failed"), b->arg);
    free(b->element_name);
    free(b);
}

static struct build *build_new(hippod *d, const char *element_name, hippo_post_payload_flags flags,
                               hippo_post_payload_cb cb, void *arg)
{
    struct build *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    *b = (struct build){.d = d, .flags = flags, .cb = cb, .arg = arg};
    b->element_name = strdup(element_name);
    if (!b->element_name) {
        free(b);
        return NULL;
    }
    return b;
}

/* Keyed by the viewer (params[0], a user id), like the viewer's other requests: a user's
 * recentPosts runs after the changes that user asked for before it. */
static int run(struct build *b, const char *stmt, const char *const params[3])
{
    if (hippo_db_query_keyed(b->d->db, params[0], stmt, 3, params, on_rows, b) == 0)
        return 0;
    free(b->element_name);
    free(b);
    return -1;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Number of distinct strings among IDS. Returns SIZE_MAX on allocation failure. */
static size_t count_distinct(const char *const *ids, size_t n)
{
    if (n == 0)
        return 0;
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return SIZE_MAX;
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_strings);
    size_t distinct = 1;
    for (size_t i = 1; i < n; i++)
        distinct += strcmp(sorted[i - 1], sorted[i]) != 0;
    free(sorted);
    return distinct;
}

/* A text[] literal of the well-formed GUIDs of IDS: they need no quoting. The caller frees
 * it. Malformed ids cannot name a post, so they are left out (and count as missing). */
static char *guid_array(const char *const *ids, size_t n)
{
    char *out = malloc(n * (HIPPO_GUID_LEN + 1) + 3);
    if (!out)
        return NULL;
    char *o = out;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (!ids[i] || !hippo_guid_valid(ids[i]))
            continue;
        if (o > out + 1)
            *o++ = ',';
        memcpy(o, ids[i], HIPPO_GUID_LEN);
        o += HIPPO_GUID_LEN;
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

int hippo_post_payload_build(hippod *d, const char *viewer_id, const char *const *post_ids,
                             size_t n_posts, const char *element_name,
                             hippo_post_payload_flags flags, hippo_post_payload_cb cb, void *arg)
{
    for (size_t i = 0; i < n_posts; i++)
        if (!post_ids[i])
            return -1;
    size_t requested = count_distinct(post_ids, n_posts);
    char *array = requested == SIZE_MAX ? NULL : guid_array(post_ids, n_posts);
    struct build *b = array ? build_new(d, element_name, flags, cb, arg) : NULL;
    int rc = -1;
    if (b) {
        b->requested = requested;
        const char *params[3] = {viewer_id, array,
                                 (flags & HIPPO_POST_WITH_LIVEPOST) ? "true" : "false"};
        rc = run(b, STMT_PAYLOAD, params);
    }
    free(array);
    return rc;
}

int hippo_post_payload_build_recent(hippod *d, const char *viewer_id, size_t max_posts,
                                    const char *element_name, hippo_post_payload_flags flags,
                                    hippo_post_payload_cb cb, void *arg)
{
    struct build *b = build_new(d, element_name, flags, cb, arg);
    if (!b)
        return -1;
    char limit[24];
    snprintf(limit, sizeof limit, "%zu", max_posts > INT32_MAX ? (size_t)INT32_MAX : max_posts);
    const char *params[3] = {viewer_id, limit,
                             (flags & HIPPO_POST_WITH_LIVEPOST) ? "true" : "false"};
    return run(b, STMT_PAYLOAD_RECENT, params);
}
