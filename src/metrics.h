/* metrics.h - counters and histograms, rendered in the Prometheus text format. */
#ifndef HIPPO_METRICS_H
#define HIPPO_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hippo_stanza_kind {
    HIPPO_STANZA_MESSAGE,
    HIPPO_STANZA_PRESENCE,
    HIPPO_STANZA_IQ,
    HIPPO_STANZA_OTHER,
    HIPPO_STANZA_KIND_COUNT
};

/* Why a database query was refused (hippod_db_refused_total{reason}). */
enum hippo_db_refusal {
    HIPPO_DB_REFUSED_QUEUE_TIME, /* the connection's oldest statement waited too long */
    HIPPO_DB_REFUSED_IN_FLIGHT,  /* too many statements in flight on the connection */
    HIPPO_DB_REFUSED_DOWN,       /* the connection was down, connecting or broken */
    HIPPO_DB_REFUSAL_COUNT
};

#define HIPPO_METRICS_MAX_LABELS 48
#define HIPPO_DB_LATENCY_BUCKETS 12

/* A counter family with one free-text label (e.g. an error condition). */
typedef struct hippo_labelled_counter {
    size_t n;
    char *labels[HIPPO_METRICS_MAX_LABELS]; /* owned */
    uint64_t values[HIPPO_METRICS_MAX_LABELS];
    uint64_t overflow; /* counted under label "other" once the table is full */
} hippo_labelled_counter;

typedef struct hippo_metrics {
    uint64_t stanzas_in[HIPPO_STANZA_KIND_COUNT];
    uint64_t stanzas_out[HIPPO_STANZA_KIND_COUNT];
    hippo_labelled_counter errors;        /* XMPP error conditions sent, by condition */
    hippo_labelled_counter drops;         /* stanzas dropped without reply, by reason */
    hippo_labelled_counter reconnects;    /* by target: "xmpp", "database" */
    hippo_labelled_counter config_errors; /* reload failures etc., by reason */
    uint64_t db_latency_buckets[HIPPO_DB_LATENCY_BUCKETS]; /* cumulative per le bound */
    uint64_t db_latency_count;
    double db_latency_sum_seconds;
    uint64_t push_fanout_buckets[HIPPO_DB_LATENCY_BUCKETS]; /* same bounds as db latency */
    uint64_t push_fanout_count;
    double push_fanout_sum_seconds;
    uint64_t db_refused[HIPPO_DB_REFUSAL_COUNT];
    uint64_t user_lookups_cached;   /* protocol IQ senders found in the user cache */
    uint64_t user_lookups_database; /* ... and those asked of the database */
    uint64_t room_batches;          /* hippo.room_message_batch statements sent */
    uint64_t room_batch_messages;   /* ... and the messages in them */
    uint64_t room_known_messages;   /* ... of senders remembered present (room_state.h) */
    uint64_t room_foreign_joins;    /* joins to rooms this hippod serves, by another hippod */
    bool db_up;                     /* connection 0: the one LISTEN and the push outbox use */
    unsigned db_connections_up;     /* of the whole pool */
    bool link_up;
    bool link_standby;              /* refused with <conflict/>: another hippod is connected */
    uint64_t link_last_stanza_usec; /* monotonic, of the last stanza received; 0: none */
} hippo_metrics;

void hippo_metrics_init(hippo_metrics *m);
void hippo_metrics_free(hippo_metrics *m);

enum hippo_stanza_kind hippo_stanza_kind_of(const char *element_name);
void hippo_metrics_count(hippo_labelled_counter *c, const char *label);
uint64_t hippo_metrics_get(const hippo_labelled_counter *c, const char *label);
void hippo_metrics_db_latency(hippo_metrics *m, double seconds);
/* A newPost event's time from its claim to its last stanza handed to the link. */
void hippo_metrics_push_fanout(hippo_metrics *m, double seconds);

/* Renders every metric; returns a malloc'd NUL-terminated string the caller frees. */
char *hippo_metrics_render(const hippo_metrics *m);

#endif
