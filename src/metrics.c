/* metrics.c - counters and histograms, rendered in the Prometheus text format 0.0.4. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdnotify.h"

#define OVERFLOW_LABEL "other"

static const char *const kind_names[HIPPO_STANZA_KIND_COUNT] = {
    [HIPPO_STANZA_MESSAGE] = "message",
    [HIPPO_STANZA_PRESENCE] = "presence",
    [HIPPO_STANZA_IQ] = "iq",
    [HIPPO_STANZA_OTHER] = "other",
};

static const char *const refusal_names[HIPPO_DB_REFUSAL_COUNT] = {
    [HIPPO_DB_REFUSED_QUEUE_TIME] = "queue_time",
    [HIPPO_DB_REFUSED_IN_FLIGHT] = "in_flight",
    [HIPPO_DB_REFUSED_DOWN] = "down",
};

/* Upper bounds of the database latency buckets, as numbers and as printed labels. */
static const double latency_bounds[HIPPO_DB_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};
static const char *const latency_labels[HIPPO_DB_LATENCY_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
};

void hippo_metrics_init(hippo_metrics *m)
{
    memset(m, 0, sizeof *m);
}

static void counter_free(hippo_labelled_counter *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->labels[i]);
    memset(c, 0, sizeof *c);
}

void hippo_metrics_free(hippo_metrics *m)
{
    counter_free(&m->errors);
    counter_free(&m->drops);
    counter_free(&m->reconnects);
    counter_free(&m->config_errors);
}

enum hippo_stanza_kind hippo_stanza_kind_of(const char *element_name)
{
    if (element_name == NULL)
        return HIPPO_STANZA_OTHER;
    for (int k = 0; k < HIPPO_STANZA_OTHER; k++) {
        if (strcmp(element_name, kind_names[k]) == 0)
            return (enum hippo_stanza_kind)k;
    }
    return HIPPO_STANZA_OTHER;
}

static long find_label(const hippo_labelled_counter *c, const char *label)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->labels[i], label) == 0)
            return (long)i;
    }
    return -1;
}

void hippo_metrics_count(hippo_labelled_counter *c, const char *label)
{
    if (label == NULL)
        label = OVERFLOW_LABEL;
    long i = find_label(c, label);
    if (i >= 0) {
        c->values[i]++;
        return;
    }
    char *copy = c->n < HIPPO_METRICS_MAX_LABELS ? strdup(label) : NULL;
    if (copy == NULL) {
        c->overflow++; /* full table (or no memory): keep the total right */
        return;
    }
    c->labels[c->n] = copy;
    c->values[c->n] = 1;
    c->n++;
}

uint64_t hippo_metrics_get(const hippo_labelled_counter *c, const char *label)
{
    if (label == NULL)
        label = OVERFLOW_LABEL;
    long i = find_label(c, label);
    uint64_t v = i >= 0 ? c->values[i] : 0;
    if (strcmp(label, OVERFLOW_LABEL) == 0)
        v += c->overflow;
    return v;
}

static void observe(uint64_t *buckets, uint64_t *count, double *sum, double seconds)
{
    if (isnan(seconds))
        return;
    if (seconds < 0)
        seconds = 0; /* a clock step must not make a negative observation */
    for (int i = 0; i < HIPPO_DB_LATENCY_BUCKETS; i++) {
        if (seconds <= latency_bounds[i])
            buckets[i]++;
    }
    (*count)++;
    *sum += seconds;
}

void hippo_metrics_db_latency(hippo_metrics *m, double seconds)
{
    observe(m->db_latency_buckets, &m->db_latency_count, &m->db_latency_sum_seconds, seconds);
}

void hippo_metrics_push_fanout(hippo_metrics *m, double seconds)
{
    observe(m->push_fanout_buckets, &m->push_fanout_count, &m->push_fanout_sum_seconds, seconds);
}

/* Rendering: everything goes through one memstream; errors surface at fclose. */

static void put_header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and newline (exposition format 0.0.4). */
static void put_label_value(FILE *f, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '"')
            fputs("\\\"", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
}

static void put_sample(FILE *f, const char *name, const char *label, const char *value, uint64_t n)
{
    fprintf(f, "%s{%s=\"", name, label);
    put_label_value(f, value);
    fprintf(f, "\"} %llu\n", (unsigned long long)n);
}

static void put_kinds(FILE *f, const char *name, const char *help, const uint64_t *values)
{
    put_header(f, name, "counter", help);
    for (int k = 0; k < HIPPO_STANZA_KIND_COUNT; k++)
        put_sample(f, name, "kind", kind_names[k], values[k]);
}

static void put_labelled(FILE *f, const char *name, const char *label, const char *help,
                         const hippo_labelled_counter *c)
{
    put_header(f, name, "counter", help);
    bool other_listed = false;
    for (size_t i = 0; i < c->n; i++) {
        bool is_other = strcmp(c->labels[i], OVERFLOW_LABEL) == 0;
        other_listed = other_listed || is_other;
        put_sample(f, name, label, c->labels[i], c->values[i] + (is_other ? c->overflow : 0));
    }
    if (c->overflow > 0 && !other_listed)
        put_sample(f, name, label, OVERFLOW_LABEL, c->overflow);
}

/* The shortest of %.15g and %.17g that reads back as V: exact, yet 0.1 stays "0.1". */
static const char *format_double(double v, char *buf, size_t len)
{
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, len, "%.17g", v);
    return buf;
}

static void put_double(FILE *f, double v)
{
    char buf[32];
    if (isnan(v))
        fputs("NaN", f);
    else if (isinf(v))
        fputs(v > 0 ? "+Inf" : "-Inf", f);
    else
        fprintf(f, "%s", format_double(v, buf, sizeof buf));
}

static void put_histogram(FILE *f, const char *name, const char *help, const uint64_t *buckets,
                          uint64_t count, double sum)
{
    put_header(f, name, "histogram", help);
    for (int i = 0; i < HIPPO_DB_LATENCY_BUCKETS; i++) {
        fprintf(f, "%s_bucket{le=\"%s\"} %llu\n", name, latency_labels[i],
                (unsigned long long)buckets[i]);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)count);
    fprintf(f, "%s_sum ", name);
    put_double(f, sum);
    fprintf(f, "\n%s_count %llu\n", name, (unsigned long long)count);
}

static void put_latency(FILE *f, const hippo_metrics *m)
{
    put_histogram(f, "hippod_db_query_duration_seconds",
                  "Time from sending a database query to its result.", m->db_latency_buckets,
                  m->db_latency_count, m->db_latency_sum_seconds);
    put_histogram(f, "hippod_push_fanout_seconds",
                  "Time from claiming a newPost event to its last stanza handed to the XMPP link.",
                  m->push_fanout_buckets, m->push_fanout_count, m->push_fanout_sum_seconds);
}

/* Every reason is listed, zeros included, so that rate() works from the first refusal. */
static void put_refusals(FILE *f, const uint64_t *values)
{
    const char *name = "hippod_db_refused_total";
    put_header(f, name, "counter",
               "Database queries refused at once (callers answer with a wait error), by reason.");
    for (int r = 0; r < HIPPO_DB_REFUSAL_COUNT; r++)
        put_sample(f, name, "reason", refusal_names[r], values[r]);
}

static void put_user_lookups(FILE *f, const hippo_metrics *m)
{
    const char *name = "hippod_user_lookups_total";
    put_header(f, name, "counter",
               "Protocol IQ senders resolved to a user, by where the answer came from.");
    put_sample(f, name, "source", "cache", m->user_lookups_cached);
    put_sample(f, name, "source", "database", m->user_lookups_database);
}

static void put_counter(FILE *f, const char *name, const char *help, uint64_t value)
{
    put_header(f, name, "counter", help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)value);
}

static void put_gauge(FILE *f, const char *name, const char *help, unsigned value)
{
    put_header(f, name, "gauge", help);
    fprintf(f, "%s %u\n", name, value);
}

static void put_all(FILE *f, const hippo_metrics *m)
{
    put_kinds(f, "hippod_stanzas_in_total", "Stanzas received from the XMPP server, by kind.",
              m->stanzas_in);
    put_kinds(f, "hippod_stanzas_out_total", "Stanzas sent to the XMPP server, by kind.",
              m->stanzas_out);
    put_labelled(f, "hippod_errors_total", "condition",
                 "XMPP error replies sent, by error condition.", &m->errors);
    put_labelled(f, "hippod_drops_total", "reason", "Stanzas dropped without a reply, by reason.",
                 &m->drops);
    put_labelled(f, "hippod_reconnects_total", "target",
                 "Reconnect attempts, by target (xmpp, database).", &m->reconnects);
    put_labelled(f, "hippod_config_errors_total", "reason",
                 "Configuration reloads that failed, by reason.", &m->config_errors);
    put_refusals(f, m->db_refused);
    put_user_lookups(f, m);
    put_counter(f, "hippod_room_batches_total",
                "Transactions that stored room messages (group commit).", m->room_batches);
    put_counter(f, "hippod_room_batch_messages_total",
                "Room messages sent to the database in those transactions.",
                m->room_batch_messages);
    put_counter(f, "hippod_room_known_messages_total",
                "Room messages whose sender hippod remembered present: checked only for presence.",
                m->room_known_messages);
    put_counter(f, "hippod_room_foreign_joins_total",
                "Joins to rooms this hippod serves that another hippod handled: the XMPP server "
                "spreads a room's stanzas over several hippods, so its order is not guaranteed.",
                m->room_foreign_joins);
    put_latency(f, m);
    put_gauge(f, "hippod_db_up",
              "1 when the database connection 0 (LISTEN, push outbox) is up, else 0.", m->db_up);
    put_gauge(f, "hippod_db_connections_up", "Database connections of the pool that are up.",
              m->db_connections_up);
    put_gauge(f, "hippod_link_up", "1 when the XMPP component link is up, else 0.", m->link_up);
    put_gauge(f, "hippod_link_standby",
              "1 while the XMPP server refuses the link with <conflict/>: another hippod holds "
              "the component domain and this one waits to take over.",
              m->link_standby);
    put_header(f, "hippod_link_last_stanza_age_seconds", "gauge",
               "Seconds since the last stanza arrived over the link; -1 when none arrived yet. "
               "A connected hippod that receives nothing (a spare) shows a growing age.");
    fputs("hippod_link_last_stanza_age_seconds ", f);
    put_double(f, m->link_last_stanza_usec
                      ? (double)(hippo_monotonic_usec() - m->link_last_stanza_usec) / 1e6
                      : -1.0);
    fputc('\n', f);
}

char *hippo_metrics_render(const hippo_metrics *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    put_all(f, m);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        free(buf);
        return NULL;
    }
    return buf;
}
