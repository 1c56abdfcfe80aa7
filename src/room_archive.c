/* room_archive.c - XEP-0313 Message Archive Management (urn:xmpp:mam:2) at a room: the
 * query form (get) and queries of the room's stored messages (set) with the start, end and
 * with fields and XEP-0059 paging (max, after, before). Archive ids are the room serials,
 * the ids of the XEP-0359 stanza-ids the messages carry. One hippo.room_archive statement
 * (sql/014_room_archive.sql) checks the sender as a join would and returns the page; the
 * callback sends a result message per archived message, then the IQ result with the fin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "room_handlers.h"
#include "room_stanzas.h"
#include "send.h"
#include "stanza.h"

#define NS_MAM "urn:xmpp:mam:2"
#define NS_DATA "jabber:x:data"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_CLIENT "jabber:client"

/* The most messages one page returns, also when no max (or a larger one) is asked for: a
 * page is sent at once, so this bounds what one IQ costs (docs/protocol-rooms.md). */
#define ARCHIVE_MAX_PAGE 100

/* The serials are bigint; 18 digits always fit. */
#define MAX_ID_DIGITS 18

/* A parsed query: the statement's parameters. */
typedef struct archive_query {
    char sent_from[64];             /* "" or a timestamptz literal (inclusive) */
    char sent_before[64];           /* "" or a timestamptz literal (exclusive) */
    char *with_nick;                /* NULL: anyone (malloc'd) */
    char after[MAX_ID_DIGITS + 1];  /* "" or a serial */
    char before[MAX_ID_DIGITS + 1]; /* "" or a serial */
    bool from_end;                  /* an RSM <before/>: the last page */
    int max;
    /* when refused: the error's type and condition (the text is the parser's result) */
    const char *error_type, *condition;
} archive_query;

/* Refusals: the parsers return NULL, or the error text with Q's type and condition set. */
static const char *bad(archive_query *q, const char *text)
{
    q->error_type = "modify";
    q->condition = "bad-request";
    return text;
}

static const char *no_memory(archive_query *q)
{
    q->error_type = "wait";
    q->condition = "resource-constraint";
    return "out of memory";
}

/* ---- parsing */

/* The text of EL ("" for none), malloc'd; NULL when out of memory. */
static char *text_of(xmpp_ctx_t *ctx, xmpp_stanza_t *el)
{
    char *t = xmpp_stanza_get_text(el);
    char *copy = strdup(t ? t : "");
    xmpp_free(ctx, t);
    return copy;
}

/* Decimal digits only (no sign, no blanks), at most MAX_ID_DIGITS: copied into OUT. */
static bool read_id(const char *s, char out[MAX_ID_DIGITS + 1])
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_ID_DIGITS || strspn(s, "0123456789") != n)
        return false;
    memcpy(out, s, n + 1);
    return true;
}

/* Milliseconds rounded down or up, also before the epoch. */
static long long floor_ms(long long usec)
{
    return usec >= 0 ? usec / 1000 : -((-usec + 999) / 1000);
}

static long long ceil_ms(long long usec)
{
    return -floor_ms(-usec);
}

/* USEC since the epoch as a timestamptz literal PostgreSQL reads, "-infinity" before year 1
 * and "infinity" after 9999 (the XEP-0082 range the parser takes, widened by half a
 * millisecond). */
static void format_usec(char *buf, size_t size, long long usec)
{
    const long long year1 = -62135596800LL, year10000 = 253402300800LL; /* seconds */
    long long secs = usec >= 0 ? usec / 1000000 : -((-usec + 999999) / 1000000);
    if (secs < year1) {
        snprintf(buf, size, "-infinity");
        return;
    }
    if (secs >= year10000) {
        snprintf(buf, size, "infinity");
        return;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec - secs * 1000000);
}

/* A form field's one value into *VALUE (freed by the caller; NULL when the field has
 * none). */
static const char *field_value(xmpp_ctx_t *ctx, xmpp_stanza_t *field, archive_query *q,
                               char **value)
{
    *value = NULL;
    int n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(field); c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (!xmpp_stanza_is_tag(c) || !name || strcmp(name, "value") != 0)
            continue;
        if (n++ > 0) {
            free(*value);
            *value = NULL;
            return bad(q, "a form field has more than one value");
        }
        *value = text_of(ctx, c);
        if (!*value)
            return no_memory(q);
    }
    return NULL;
}

/* The date-time of a start or end field: bounds at the millisecond precision the archive's
 * stamps show. A message whose stamp (sent_at rounded to the millisecond, halves up) is at
 * or after START and at or before END is in the range. */
static const char *time_field(const char *value, bool is_start, archive_query *q)
{
    long long usec;
    if (hippo_room_read_datetime(value, &usec) < 0)
        return bad(q, is_start ? "start is not a XEP-0082 date-time"
                               : "end is not a XEP-0082 date-time");
    if (is_start) /* stamp >= ceil(START) <=> sent_at >= ceil(START) - 0.5 ms */
        format_usec(q->sent_from, sizeof q->sent_from, ceil_ms(usec) * 1000 - 500);
    else /* stamp <= floor(END) <=> sent_at < floor(END) + 0.5 ms */
        format_usec(q->sent_before, sizeof q->sent_before, floor_ms(usec) * 1000 + 500);
    return NULL;
}

/* A with field: an occupant JID of this room, ROOM/NICK (the standard dialect's nick, or the
 * classic dialect's user node). */
static const char *with_field(const char *value, const char *room_jid, archive_query *q)
{
    size_t n = strlen(room_jid);
    if (strncasecmp(value, room_jid, n) != 0 || value[n] != '/' || value[n + 1] == '\0')
        return bad(q, "with must be an occupant JID of this room (room/nick)");
    q->with_nick = strdup(value + n + 1);
    return q->with_nick ? NULL : no_memory(q);
}

static const char *parse_form(xmpp_ctx_t *ctx, xmpp_stanza_t *x, const char *room_jid,
                              archive_query *q)
{
    const char *type = xmpp_stanza_get_type(x);
    if (type && strcmp(type, "submit") != 0)
        return bad(q, "the query form must be of type submit");
    static const char *const vars[] = {"FORM_TYPE", "start", "end", "with"};
    bool seen[4] = {false};
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f; f = xmpp_stanza_get_next(f)) {
        const char *name = xmpp_stanza_get_name(f);
        if (!xmpp_stanza_is_tag(f) || !name || strcmp(name, "field") != 0)
            continue; /* XEP-0004 submit forms hold fields; anything else is not ours */
        const char *var = xmpp_stanza_get_attribute(f, "var");
        size_t k = 0;
        while (var && k < 4 && strcmp(vars[k], var) != 0)
            k++;
        if (!var || k == 4)
            return bad(q, "unsupported form field (known: FORM_TYPE, start, end, with)");
        if (seen[k])
            return bad(q, "a form field is given twice");
        seen[k] = true;
        char *value;
        const char *e = field_value(ctx, f, q, &value);
        if (!e && k == 0 && (!value || strcmp(value, NS_MAM) != 0))
            e = bad(q, "FORM_TYPE must be " NS_MAM);
        else if (!e && value && *value && (k == 1 || k == 2))
            e = time_field(value, k == 1, q);
        else if (!e && value && *value && k == 3)
            e = with_field(value, room_jid, q);
        free(value);
        if (e)
            return e;
    }
    return NULL;
}

static const char *parse_rsm(xmpp_ctx_t *ctx, xmpp_stanza_t *set, archive_query *q)
{
    bool seen_max = false, seen_after = false, seen_before = false;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(set); c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (!xmpp_stanza_is_tag(c) || !name)
            continue;
        bool *seen = strcmp(name, "max") == 0      ? &seen_max
                     : strcmp(name, "after") == 0  ? &seen_after
                     : strcmp(name, "before") == 0 ? &seen_before
                                                   : NULL;
        if (!seen) {
            if (strcmp(name, "index") == 0) { /* optional in XEP-0059 */
                q->error_type = "cancel";
                q->condition = "feature-not-implemented";
                return "RSM index is not supported: page by id";
            }
            return bad(q, "unsupported RSM element (known: max, after, before)");
        }
        if (*seen)
            return bad(q, "an RSM element is given twice");
        *seen = true;
        char *text = text_of(ctx, c);
        if (!text)
            return no_memory(q);
        const char *e = NULL;
        char digits[MAX_ID_DIGITS + 1];
        if (seen == &seen_max) {
            if (!read_id(text, digits))
                e = bad(q, "RSM max must be a non-negative integer");
            else
                q->max =
                    strtoll(digits, NULL, 10) < ARCHIVE_MAX_PAGE ? atoi(digits) : ARCHIVE_MAX_PAGE;
        } else if (seen == &seen_after) {
            if (!read_id(text, q->after))
                e = bad(q, "RSM after must be an archive id (a message serial)");
        } else {
            q->from_end = true;
            if (*text && !read_id(text, q->before))
                e = bad(q, "RSM before must be empty or an archive id (a message serial)");
        }
        free(text);
        if (e)
            return e;
    }
    return NULL;
}

/* Reads QUERY (<query xmlns=urn:xmpp:mam:2>) into *Q; NULL, or why it is refused. */
static const char *parse_query(xmpp_ctx_t *ctx, xmpp_stanza_t *query, const char *room_jid,
                               archive_query *q)
{
    *q = (archive_query){.max = ARCHIVE_MAX_PAGE};
    bool form = false, rsm = false;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(query); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *name = xmpp_stanza_get_name(c), *ns = xmpp_stanza_get_ns(c);
        const char *e;
        if (name && ns && strcmp(name, "x") == 0 && strcmp(ns, NS_DATA) == 0 && !form) {
            form = true;
            e = parse_form(ctx, c, room_jid, q);
        } else if (name && ns && strcmp(name, "set") == 0 && strcmp(ns, NS_RSM) == 0 && !rsm) {
            rsm = true;
            e = parse_rsm(ctx, c, q);
        } else {
            e = bad(q, "a MAM query holds one data form and one RSM set, nothing else");
        }
        if (e)
            return e;
    }
    return NULL;
}

/* ---- answers */

/* Answers OP with a result carrying PAYLOAD (a new stanza or NULL after an allocation
 * failure; released here), then frees OP. */
static void answer(hippo_room_op *op, xmpp_stanza_t *payload)
{
    xmpp_stanza_t *result =
        payload ? hippo_stanza_iq_result(hippo_room_op_ctx(op), op->r.stanza) : NULL;
    if (!result || hippo_room_adopt(result, payload) < 0) {
        if (result)
            xmpp_stanza_release(result);
        else if (payload)
            xmpp_stanza_release(payload);
        hippo_room_op_error(op, "wait", "resource-constraint", "out of memory");
        return;
    }
    hippo_send(op->r.d, result);
    xmpp_stanza_release(result);
    hippo_room_op_free(op);
}

static xmpp_stanza_t *new_element(xmpp_ctx_t *ctx, const char *name, const char *ns)
{
    xmpp_stanza_t *el = xmpp_stanza_new(ctx);
    if (el && (xmpp_stanza_set_name(el, name) != XMPP_EOK ||
               (ns && xmpp_stanza_set_ns(el, ns) != XMPP_EOK))) {
        xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

/* <field var=VAR type=TYPE>[<value>VALUE</value>]</field> */
static int add_field(xmpp_stanza_t *x, const char *var, const char *type, const char *value)
{
    xmpp_stanza_t *f = hippo_stanza_add_element(x, "field", NULL);
    if (!f || xmpp_stanza_set_attribute(f, "var", var) != XMPP_EOK ||
        xmpp_stanza_set_attribute(f, "type", type) != XMPP_EOK)
        return -1;
    xmpp_stanza_t *v = value ? hippo_stanza_add_element(f, "value", NULL) : NULL;
    return !value || (v && hippo_stanza_add_text(v, value) == 0) ? 0 : -1;
}

/* The query form (XEP-0313 4.1.1): the fields a query may use. */
static xmpp_stanza_t *query_form(xmpp_ctx_t *ctx)
{
    xmpp_stanza_t *query = new_element(ctx, "query", NS_MAM);
    xmpp_stanza_t *x = query ? hippo_stanza_add_element(query, "x", NS_DATA) : NULL;
    if (!x || xmpp_stanza_set_type(x, "form") != XMPP_EOK ||
        add_field(x, "FORM_TYPE", "hidden", NS_MAM) < 0 ||
        add_field(x, "with", "jid-single", NULL) < 0 ||
        add_field(x, "start", "text-single", NULL) < 0 ||
        add_field(x, "end", "text-single", NULL) < 0) {
        if (query)
            xmpp_stanza_release(query);
        return NULL;
    }
    return query;
}

static void on_form(const PGresult *res, const char *error, void *arg)
{
    hippo_room_op *op = arg;
    hippo_room_row status;
    if (hippo_room_op_failed(op, res, error, &status) || hippo_room_op_refused(op, &status))
        return;
    answer(op, query_form(hippo_room_op_ctx(op)));
}

/* <message from=ROOM to=QUERIER><result queryid id=SERIAL><forwarded><delay stamp/>
 * <message type=groupchat from=ROOM/NICK>…</message></forwarded></result></message>: the
 * archived message as a standard occupant got it live (body, stanza-id, messageInfo,
 * roomInfo), in the jabber:client namespace XEP-0297 requires. */
static xmpp_stanza_t *result_message(hippo_room_op *op, const hippo_room_ref *room,
                                     const char *queryid, const hippo_room_row *row)
{
    xmpp_ctx_t *ctx = hippo_room_op_ctx(op);
    hippo_room_msg msg = {
        .sender = row->user, .body = row->body, .serial = row->serial, .ts_ms = row->ts_ms};
    char id[24], stamp[32];
    snprintf(id, sizeof id, "%lld", row->serial);
    xmpp_stanza_t *outer = new_element(ctx, "message", NULL);
    xmpp_stanza_t *result = outer ? hippo_stanza_add_element(outer, "result", NS_MAM) : NULL;
    xmpp_stanza_t *fwd = result ? hippo_stanza_add_element(result, "forwarded", NS_FORWARD) : NULL;
    xmpp_stanza_t *delay = fwd ? hippo_stanza_add_element(fwd, "delay", HIPPO_NS_DELAY) : NULL;
    xmpp_stanza_t *inner = delay ? hippo_room_muc_message(ctx, room, NULL, &msg, false) : NULL;
    int bad = !inner || hippo_room_set_from(outer, room->jid, NULL) < 0 ||
              xmpp_stanza_set_to(outer, op->r.from) != XMPP_EOK ||
              (queryid && xmpp_stanza_set_attribute(result, "queryid", queryid) != XMPP_EOK) ||
              xmpp_stanza_set_attribute(result, "id", id) != XMPP_EOK ||
              xmpp_stanza_set_attribute(
                  delay, "stamp", hippo_room_stamp(stamp, sizeof stamp, row->ts_ms)) != XMPP_EOK ||
              xmpp_stanza_set_ns(inner, NS_CLIENT) != XMPP_EOK;
    if (inner && hippo_room_adopt(fwd, inner) < 0)
        bad = 1;
    if (bad && outer) {
        xmpp_stanza_release(outer);
        outer = NULL;
    }
    return outer;
}

/* <fin [complete="true"]><set><first index>…</first><last>…</last><count/></set></fin> */
static xmpp_stanza_t *fin(xmpp_ctx_t *ctx, bool complete, long long count, long long first_index,
                          long long first, long long last)
{
    char num[3][24];
    snprintf(num[0], sizeof num[0], "%lld", count);
    snprintf(num[1], sizeof num[1], "%lld", first_index);
    snprintf(num[2], sizeof num[2], "%lld", first);
    xmpp_stanza_t *el = new_element(ctx, "fin", NS_MAM);
    xmpp_stanza_t *set = el ? hippo_stanza_add_element(el, "set", NS_RSM) : NULL;
    int bad = !set || (complete && xmpp_stanza_set_attribute(el, "complete", "true") != XMPP_EOK);
    if (!bad && first >= 0) { /* an empty page has neither first nor last */
        xmpp_stanza_t *f = hippo_stanza_add_element(set, "first", NULL);
        xmpp_stanza_t *l = hippo_stanza_add_element(set, "last", NULL);
        bad = !f || !l || xmpp_stanza_set_attribute(f, "index", num[1]) != XMPP_EOK ||
              hippo_stanza_add_text(f, num[2]) < 0;
        snprintf(num[2], sizeof num[2], "%lld", last);
        bad = bad || hippo_stanza_add_text(l, num[2]) < 0;
    }
    xmpp_stanza_t *c = bad ? NULL : hippo_stanza_add_element(set, "count", NULL);
    if (!c || hippo_stanza_add_text(c, num[0]) < 0) {
        if (el)
            xmpp_stanza_release(el);
        return NULL;
    }
    return el;
}

/* The statement's own columns before its hippo.room_row: n, complete. */
#define COL_N 0
#define COL_COMPLETE 1
#define ROW_FIRST 2

static void on_archive(const PGresult *res, const char *error, void *arg)
{
    hippo_room_op *op = arg;
    hippo_room_row status;
    if (hippo_room_op_failed_at(op, res, error, ROW_FIRST, &status) ||
        hippo_room_op_refused(op, &status))
        return;
    if (strcmp(status.status, "unknown-id") == 0) {
        hippo_room_op_error(op, "cancel", "item-not-found", "no message of this room has that id");
        return;
    }
    xmpp_ctx_t *ctx = hippo_room_op_ctx(op);
    hippo_room_ref room = {.jid = op->room_jid, .kind = status.kind};
    const char *queryid =
        xmpp_stanza_get_attribute(hippo_stanza_first_element(op->r.stanza), "queryid");
    long long first = -1, last = -1, first_index = 0;
    int n = PQntuples(res);
    for (int i = 1; i < n; i++) {
        hippo_room_row row;
        hippo_room_row_read_from(res, i, ROW_FIRST, &row);
        if (i == 1) {
            first = row.serial;
            first_index = strtoll(PQgetvalue(res, i, COL_N), NULL, 10);
        }
        last = row.serial;
        hippo_room_send_new(op->r.d, result_message(op, &room, queryid, &row));
    }
    bool complete = strcmp(PQgetvalue(res, 0, COL_COMPLETE), "t") == 0;
    long long count = strtoll(PQgetvalue(res, 0, COL_N), NULL, 10);
    answer(op, fin(ctx, complete, count, first_index, first, last));
}

/* ---- dispatch */

static void query(hippod *d, xmpp_stanza_t *stanza, xmpp_stanza_t *payload, const char *room_id)
{
    hippo_room_op *op = hippo_room_op_new(d, stanza, room_id, NULL);
    if (!op) {
        hippo_send_error(d, stanza, "wait", "resource-constraint", "out of memory");
        return;
    }
    archive_query q;
    const char *refused = parse_query(hippo_room_op_ctx(op), payload, op->room_jid, &q);
    if (refused) {
        free(q.with_nick);
        hippo_room_op_error(op, q.error_type, q.condition, refused);
        return;
    }
    char max[16];
    snprintf(max, sizeof max, "%d", q.max);
    const char *params[] = {op->room_id,
                            op->r.from,
                            *q.sent_from ? q.sent_from : NULL,
                            *q.sent_before ? q.sent_before : NULL,
                            q.with_nick,
                            *q.after ? q.after : NULL,
                            *q.before ? q.before : NULL,
                            q.from_end ? "t" : "f",
                            max};
    hippo_room_op_query(op, "room_archive", 9, params, on_archive);
    free(q.with_nick);
}

void hippo_room_archive(hippod *d, xmpp_stanza_t *stanza, xmpp_stanza_t *payload,
                        const char *room_id, const char *nick)
{
    const char *name = xmpp_stanza_get_name(payload);
    bool get = strcmp(xmpp_stanza_get_type(stanza), "get") == 0;
    if (nick || !name || strcmp(name, "query") != 0) { /* the archive is the bare room's */
        hippo_send_error(d, stanza, "cancel", "service-unavailable",
                         "rooms do not serve this request");
        return;
    }
    if (!get) {
        query(d, stanza, payload, room_id);
        return;
    }
    hippo_room_op *op = hippo_room_op_new(d, stanza, room_id, NULL);
    if (!op) {
        hippo_send_error(d, stanza, "wait", "resource-constraint", "out of memory");
        return;
    }
    const char *params[] = {op->room_id, op->r.from};
    hippo_room_op_query(op, "room_info", 2, params, on_form);
}
