/* seam.c - the helper API of the flow tests (seam.h) over the fakes (fakes.h). */
#include "seam.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "fakes.h"
#include "handle_privilege.h"
#include "handlers.h"
#include "post_payload.h"
#include "push_kinds.h"
#include "rooms.h"
#include "router.h"
#include "user_cache.h"

static const char base_ini[] = "[component]\n"
                               "host = 127.0.0.1\n"
                               "domain = " SEAM_DOMAIN "\n"
                               "secret = seam\n"
                               "[database]\n"
                               "conninfo = dbname=seam\n"
                               "[log]\n"
                               "level = warning\n";

struct seam {
    hippod d;
    size_t next_query; /* index of the first statement not yet checked */
    size_t next_sent;  /* index of the first sent stanza not yet read */
    seam_query **checked;
    size_t n_checked;
    char **texts; /* returned by seam_next_sent, freed with the seam */
    size_t n_texts;
};

static void *checked_alloc(void *p)
{
    if (!p)
        fail_msg("%s", "seam: out of memory");
    return p;
}

/* ------------------------------------------------------------------ canonical XML */

struct buf {
    char *s;
    size_t len, cap;
};

static void append(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = checked_alloc(realloc(b->s, b->cap));
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void append_str(struct buf *b, const char *s)
{
    append(b, s, strlen(s));
}

static void append_escaped(struct buf *b, const char *s, bool attribute)
{
    for (; *s; s++) {
        if (*s == '&')
            append_str(b, "&amp;");
        else if (*s == '<')
            append_str(b, "&lt;");
        else if (*s == '>')
            append_str(b, "&gt;");
        else if (*s == '"' && attribute)
            append_str(b, "&quot;");
        else
            append(b, s, 1);
    }
}

static void append_attribute(struct buf *b, const char *name, const char *value)
{
    append_str(b, " ");
    append_str(b, name);
    append_str(b, "=\"");
    append_escaped(b, value, true);
    append_str(b, "\"");
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The attributes but xmlns, as name/value pairs sorted by name; the caller frees it. */
static const char **sorted_attributes(xmpp_stanza_t *st, int *n_pairs)
{
    int count = xmpp_stanza_get_attribute_count(st);
    const char **attrs = checked_alloc(calloc((size_t)(2 * count + 2), sizeof *attrs));
    int filled = xmpp_stanza_get_attributes(st, attrs, 2 * count);
    int kept = 0;
    for (int i = 0; i + 1 < filled; i += 2) {
        if (strcmp(attrs[i], "xmlns") == 0)
            continue;
        attrs[2 * kept] = attrs[i];
        attrs[2 * kept + 1] = attrs[i + 1];
        kept++;
    }
    qsort(attrs, (size_t)kept, 2 * sizeof *attrs, compare_names);
    *n_pairs = kept;
    return attrs;
}

static void serialize(struct buf *b, xmpp_stanza_t *st, const char *parent_ns)
{
    if (xmpp_stanza_is_text(st)) {
        append_escaped(b, xmpp_stanza_get_text_ptr(st), false);
        return;
    }
    const char *name = xmpp_stanza_get_name(st);
    const char *ns = xmpp_stanza_get_ns(st);
    append_str(b, "<");
    append_str(b, name ? name : "?");
    if (ns && (!parent_ns || strcmp(ns, parent_ns) != 0))
        append_attribute(b, "xmlns", ns);
    int n_pairs;
    const char **attrs = sorted_attributes(st, &n_pairs);
    for (int i = 0; i < n_pairs; i++)
        append_attribute(b, attrs[2 * i], attrs[2 * i + 1]);
    free(attrs);
    xmpp_stanza_t *child = xmpp_stanza_get_children(st);
    if (!child) {
        append_str(b, "/>");
        return;
    }
    append_str(b, ">");
    for (; child; child = xmpp_stanza_get_next(child))
        serialize(b, child, ns ? ns : parent_ns);
    append_str(b, "</");
    append_str(b, name ? name : "?");
    append_str(b, ">");
}

char *seam_stanza_text(xmpp_stanza_t *stanza)
{
    struct buf b = {0};
    serialize(&b, stanza, NULL);
    return b.s;
}

/* ------------------------------------------------------------------ life */

/* Loads BASE_INI + EXTRA into CFG through a file, as hippod reads it. */
static void load_config(hippo_config *cfg, const char *extra)
{
    char path[] = "/tmp/hippo-seam-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(base_ini, f);
    fputs(extra ? extra : "", f);
    fclose(f);
    char err[512];
    int rc = hippo_config_load(path, cfg, err, sizeof err);
    unlink(path);
    if (rc < 0)
        fail_msg("seam: bad configuration: %s", err);
}

/* What daemon.c's create_parts() does, with the fakes behind db.h and xmpp_link.h. */
static void create_parts(hippod *d)
{
    hippo_link_options lo = {.host = d->cfg.component_host,
                             .port = d->cfg.component_port,
                             .domain = d->cfg.component_domain,
                             .secret = d->cfg.component_secret};
    hippo_db_options dbo = {
        .conninfo = d->cfg.database_conninfo, .on_notify = hippod_on_db_notify, .arg = d};
    d->base = checked_alloc(event_base_new());
    d->link = checked_alloc(hippo_link_new(d->base, &lo, &d->log, &d->metrics));
    d->db = checked_alloc(hippo_db_new(d->base, &dbo, &d->log, &d->metrics));
    if (hippod_create_state(d) < 0)
        fail_msg("seam: out of memory");
    hippod_prepare_statements(d->db);
}

seam *seam_new(const char *extra_ini)
{
    xmpp_initialize();
    seam *s = checked_alloc(calloc(1, sizeof *s));
    hippod *d = &s->d;
    load_config(&d->cfg, extra_ini);
    hippo_log_init(&d->log, d->cfg.log_level);
    hippo_metrics_init(&d->metrics);
    create_parts(d);
    hippo_db_start(d->db);
    hippo_link_start(d->link);
    return s;
}

hippod *seam_hippod(seam *s)
{
    return &s->d;
}

/* Fails the running test at the test's FILE:LINE. */
__attribute__((format(printf, 3, 4))) static void fail_at(const char *file, int line,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_error(fmt, ap);
    va_end(ap);
    print_error("\n");
    _fail(file, line);
}

static void check_contract(seam *s, const char *file, int line)
{
    const char *problem = fake_db_problem(s->d.db);
    if (problem)
        fail_at(file, line, "seam: the daemon misused db.h: %s", problem);
}

/* Everything sent was checked. */
static void check_done(seam *s)
{
    check_contract(s, __FILE__, __LINE__);
    size_t n = fake_db_query_count(s->d.db);
    if (s->next_query < n)
        fail_msg("seam: statement %s (and %zu more) sent but never checked",
                 fake_db_query_at(s->d.db, s->next_query)->name, n - s->next_query - 1);
    size_t sent = fake_link_sent_count(s->d.link);
    if (s->next_sent < sent) {
        char *text = seam_stanza_text(fake_link_sent_at(s->d.link, s->next_sent));
        print_error("seam: unchecked stanza %zu: %s\n", s->next_sent, text);
        free(text);
        fail_msg("seam: %zu stanzas sent but never checked", sent - s->next_sent);
    }
}

void seam_free(seam *s)
{
    check_done(s);
    hippod *d = &s->d;
    hippo_db_free(d->db); /* before the state: pending statements call back into it */
    hippod_free_state(d);
    hippo_link_free(d->link);
    event_base_free(d->base);
    hippo_config_free(&d->cfg);
    hippo_metrics_free(&d->metrics);
    for (size_t i = 0; i < s->n_checked; i++)
        free(s->checked[i]);
    free(s->checked);
    for (size_t i = 0; i < s->n_texts; i++)
        free(s->texts[i]);
    free(s->texts);
    free(s);
    xmpp_shutdown();
}

void seam_feed_xml_at(seam *s, const char *xml, const char *file, int line)
{
    xmpp_stanza_t *st = xmpp_stanza_new_from_string(hippo_link_ctx(s->d.link), xml);
    if (!st)
        fail_at(file, line, "seam: cannot parse %s", xml);
    hippo_router_stanza(&s->d, st);
    xmpp_stanza_release(st);
    check_contract(s, file, line);
}

void seam_run_loop(seam *s)
{
    event_base_loop(s->d.base, EVLOOP_NONBLOCK);
    check_contract(s, __FILE__, __LINE__);
}

/* ------------------------------------------------------------------ statements */

const seam_query *seam_expect_query_at(seam *s, const char *name, const char *file, int line)
{
    check_contract(s, file, line);
    const fake_query *q = fake_db_query_at(s->d.db, s->next_query);
    if (!q)
        fail_at(file, line, "seam: expected statement %s, but no more was sent", name);
    if (strcmp(q->name, name) != 0)
        fail_at(file, line, "seam: expected statement %s, but %s was sent", name, q->name);
    s->next_query++;
    seam_query *view = checked_alloc(malloc(sizeof *view));
    *view = (seam_query){.name = q->name,
                         .nparams = q->nparams,
                         .params = (const char *const *)q->params,
                         .keyed = q->keyed,
                         .key = q->key};
    s->checked = checked_alloc(realloc(s->checked, (s->n_checked + 1) * sizeof *s->checked));
    s->checked[s->n_checked++] = view;
    return view;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* "\"TEXT\"" or "NULL" into BUF; returns BUF. */
static const char *quoted(char *buf, size_t size, const char *text)
{
    if (text)
        snprintf(buf, size, "\"%s\"", text);
    else
        snprintf(buf, size, "NULL");
    return buf;
}

const seam_query *seam_expect_statement_at(seam *s, const char *name, size_t n,
                                           const char *const *params, const char *file, int line)
{
    const seam_query *q = seam_expect_query_at(s, name, file, line);
    if ((size_t)q->nparams != n)
        fail_at(file, line, "seam: %s sent with %d parameters, expected %zu", name, q->nparams, n);
    for (size_t i = 0; i < n; i++) {
        char got[512], want[512];
        if (!same_text(q->params[i], params[i]))
            fail_at(file, line, "seam: %s parameter $%zu is %s, expected %s", name, i + 1,
                    quoted(got, sizeof got, q->params[i]), quoted(want, sizeof want, params[i]));
    }
    return q;
}

void seam_expect_no_query_at(seam *s, const char *file, int line)
{
    check_contract(s, file, line);
    const fake_query *q = fake_db_query_at(s->d.db, s->next_query);
    if (q)
        fail_at(file, line, "seam: expected no statement, but %s was sent", q->name);
}

/* The oldest checked statement not answered yet. */
static size_t oldest_waiting(seam *s, const char *file, int line)
{
    for (size_t i = 0; i < s->next_query; i++)
        if (!fake_db_query_at(s->d.db, i)->answered)
            return i;
    fail_at(file, line, "%s", "seam: an answer, but no checked statement waits for one");
    return SIZE_MAX; /* not reached */
}

/* Splits COLUMNS ("a,b,c") into descriptors pointing into COPY (which it modifies). */
static int column_descs(char *copy, PGresAttDesc *descs, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *name = strtok_r(copy, ",", &save); name && n < max;
         name = strtok_r(NULL, ",", &save))
        descs[n++] = (PGresAttDesc){
            .name = name, .format = 0, .typid = 25 /* text */, .typlen = -1, .atttypmod = -1};
    return n;
}

/* A result of COLUMNS holding VALUES[0..N), row after row; the caller clears it. */
static PGresult *make_result(const char *columns, size_t n, const char *const *values,
                             const char *file, int line)
{
    enum { MAX_COLUMNS = 32 };
    char *copy = checked_alloc(strdup(columns));
    PGresAttDesc descs[MAX_COLUMNS];
    int ncols = column_descs(copy, descs, MAX_COLUMNS);
    if (ncols == 0 || n % (size_t)ncols != 0)
        fail_at(file, line, "seam: %zu values do not make rows of the %d columns %s", n, ncols,
                columns);
    PGresult *res = checked_alloc(PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK));
    bool ok = PQsetResultAttrs(res, ncols, descs); /* copies the names */
    for (size_t v = 0; ok && v < n; v++) {
        int row = (int)(v / (size_t)ncols), col = (int)(v % (size_t)ncols);
        char *value = (char *)(values[v] ? values[v] : ""); /* PQsetvalue copies it */
        ok = PQsetvalue(res, row, col, value, values[v] ? (int)strlen(value) : -1);
    }
    free(copy);
    if (!ok)
        fail_at(file, line, "%s", "seam: cannot build a PGresult");
    return res;
}

void seam_answer_rows_at(seam *s, const char *columns, size_t n, const char *const *values,
                         const char *file, int line)
{
    size_t i = oldest_waiting(s, file, line);
    PGresult *res = make_result(columns, n, values, file, line);
    fake_db_answer(s->d.db, i, res, NULL);
    PQclear(res);
    check_contract(s, file, line);
}

void seam_answer_error_at(seam *s, const char *message, const char *file, int line)
{
    fake_db_answer(s->d.db, oldest_waiting(s, file, line), NULL, message);
    check_contract(s, file, line);
}

#define ROOM_COLUMNS                                                                               \
    "what,status,user_id,name,photo_version,nick,role,old_role,res_old_role,jid,dialect,serial,"   \
    "ts_ms,body,kind,title,room_photo_version"
enum { ROOM_NCOLS = sizeof(seam_room_row) / sizeof(const char *) };
_Static_assert(ROOM_NCOLS == 17, "hippo.room_row has 17 columns");

void seam_answer_room_rows_at(seam *s, const seam_room_row *rows, size_t n, const char *file,
                              int line)
{
    const char **values = checked_alloc(calloc(n * ROOM_NCOLS + 1, sizeof *values));
    for (size_t r = 0; r < n; r++)
        memcpy(values + r * ROOM_NCOLS, &rows[r], sizeof rows[r]); /* fields in column order */
    seam_answer_rows_at(s, ROOM_COLUMNS, n * ROOM_NCOLS, values, file, line);
    free(values);
}

void seam_answer_room_music_rows_at(seam *s, const char *const *room_ids, const seam_room_row *rows,
                                    const seam_room_music *music, size_t n, const char *file,
                                    int line)
{
    enum { MUSIC_NCOLS = sizeof(seam_room_music) / sizeof(const char *) };
    size_t first = room_ids ? 1 : 0, ncols = first + ROOM_NCOLS + MUSIC_NCOLS;
    const char **values = checked_alloc(calloc(n * ncols + 1, sizeof *values));
    for (size_t r = 0; r < n; r++) {
        const char **row = values + r * ncols;
        if (room_ids)
            row[0] = room_ids[r];
        memcpy(row + first, &rows[r], sizeof rows[r]);
        memcpy(row + first + ROOM_NCOLS, &music[r], sizeof music[r]);
    }
    seam_answer_rows_at(s,
                        room_ids ? "room_id," ROOM_COLUMNS ",music_playing,arrangement_name,artist"
                                 : ROOM_COLUMNS ",music_playing,arrangement_name,artist",
                        n * ncols, values, file, line);
    free(values);
}

void seam_answer_batch_rows_at(seam *s, size_t n, const char *const *indexes,
                               const seam_room_row *rows, const char *file, int line)
{
    enum { NCOLS = 1 + ROOM_NCOLS };
    const char **values = checked_alloc(calloc(n * NCOLS + 1, sizeof *values));
    for (size_t r = 0; r < n; r++) {
        values[r * NCOLS] = indexes[r];
        memcpy(values + r * NCOLS + 1, &rows[r], sizeof rows[r]);
    }
    seam_answer_rows_at(s, "i," ROOM_COLUMNS, n * NCOLS, values, file, line);
    free(values);
}

void seam_db_notify(seam *s, const char *channel, const char *payload, bool own)
{
    fake_db_notify(s->d.db, channel, payload, own);
}

void seam_db_down(seam *s)
{
    fake_db_set_mode(s->d.db, FAKE_DB_DOWN);
}

void seam_db_overloaded(seam *s)
{
    fake_db_set_mode(s->d.db, FAKE_DB_OVERLOADED);
}

void seam_db_up(seam *s)
{
    fake_db_set_mode(s->d.db, FAKE_DB_UP);
}

void seam_link_up(seam *s, bool up)
{
    fake_link_set_up(s->d.link, up);
}

/* ------------------------------------------------------------------ outgoing stanzas */

const char *seam_next_sent(seam *s)
{
    xmpp_stanza_t *st = fake_link_sent_at(s->d.link, s->next_sent);
    if (!st)
        return NULL;
    s->next_sent++;
    s->texts = checked_alloc(realloc(s->texts, (s->n_texts + 1) * sizeof *s->texts));
    s->texts[s->n_texts] = seam_stanza_text(st);
    return s->texts[s->n_texts++];
}

void seam_expect_sent_at(seam *s, const char *xml, const char *file, int line)
{
    size_t index = s->next_sent;
    const char *sent = seam_next_sent(s);
    if (!sent)
        fail_at(file, line, "seam: expected stanza %zu, but no more was sent:\n  expected %s",
                index, xml);
    if (strcmp(sent, xml) != 0)
        fail_at(file, line, "seam: stanza %zu differs:\n  expected %s\n  sent     %s", index, xml,
                sent);
}

void seam_expect_nothing_sent_at(seam *s, const char *file, int line)
{
    size_t index = s->next_sent;
    const char *sent = seam_next_sent(s);
    if (sent)
        fail_at(file, line, "seam: expected nothing more sent, but stanza %zu was:\n  %s", index,
                sent);
}
