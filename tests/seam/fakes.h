/* fakes.h - how seam.c drives the in-process fakes of src/xmpp_link.h (fake_link.c) and
 * src/db.h (fake_db.c). Tests use seam.h, not this. The fakes keep all their state in the
 * hippo_link / hippo_db they return: no globals. */
#ifndef HIPPO_SEAM_FAKES_H
#define HIPPO_SEAM_FAKES_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include <strophe.h>

#include "db.h"
#include "xmpp_link.h"

/* ---- the fake database ---------------------------------------------------------------- */

/* One statement a handler sent, in the order they were sent. */
typedef struct fake_query {
    char *name;
    int nparams;
    char **params; /* copies; NULL entries are SQL NULLs */
    bool keyed;    /* sent with hippo_db_query_keyed() (else hippo_db_query(): connection 0) */
    char *key;     /* the key of a keyed query (NULL: none) */
    hippo_db_result_cb cb;
    void *arg;
    bool answered;
} fake_query;

typedef enum fake_db_mode {
    FAKE_DB_UP,         /* queries are accepted */
    FAKE_DB_DOWN,       /* refused, and hippo_db_is_up() is false */
    FAKE_DB_OVERLOADED, /* refused while hippo_db_is_up() is true (max_in_flight, max_queue_ms) */
} fake_db_mode;

/* Changes the mode; the on_state callback of the options runs when up/down changes. */
void fake_db_set_mode(hippo_db *db, fake_db_mode mode);
/* A NOTIFY on CHANNEL with PAYLOAD, as connection 0 would report it (OWN: raised by one of
 * the pool's sessions). */
void fake_db_notify(hippo_db *db, const char *channel, const char *payload, bool own);

size_t fake_db_query_count(const hippo_db *db);
/* The I-th statement sent (0 = first); valid until hippo_db_free(). */
const fake_query *fake_db_query_at(const hippo_db *db, size_t i);

/* Calls the I-th statement's callback with RES (NULL: failed with ERROR) and marks it
 * answered. Each statement is answered at most once. The caller keeps RES. */
void fake_db_answer(hippo_db *db, size_t i, const PGresult *res, const char *error);

/* True when NAME was registered with hippo_db_prepare(). */
bool fake_db_is_prepared(const hippo_db *db, const char *name);
/* True when CHANNEL was registered with hippo_db_listen(). */
bool fake_db_listens(const hippo_db *db, const char *channel);

/* The first misuse of the db.h contract seen (a statement not prepared or with another number
 * of parameters, a NULL callback, a prepare after start), or NULL. Static storage of DB. */
const char *fake_db_problem(const hippo_db *db);

/* ---- the fake link -------------------------------------------------------------------- */

/* Up (hippo_link_send accepts) or down (it drops and returns -1); on_state runs on changes. */
void fake_link_set_up(hippo_link *link, bool up);

size_t fake_link_sent_count(const hippo_link *link);
/* A copy of the I-th stanza handed to hippo_link_send() as it was at that moment (owned by
 * the link, released by hippo_link_free()). */
xmpp_stanza_t *fake_link_sent_at(const hippo_link *link, size_t i);
/* Stanzas hippo_link_send() refused because the link was down. */
size_t fake_link_dropped_count(const hippo_link *link);
bool fake_link_shut_down(const hippo_link *link);

#endif
