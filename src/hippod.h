/* hippod.h - the one top-level context of the daemon, passed explicitly everywhere. */
#ifndef HIPPOD_H
#define HIPPOD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "metrics.h"

struct event_base;
struct event;
typedef struct hippo_link hippo_link;
typedef struct hippo_db hippo_db;
typedef struct hippo_http hippo_http;
typedef struct hippo_push hippo_push;
typedef struct hippo_push_live hippo_push_live;
typedef struct hippo_user_cache hippo_user_cache;
typedef struct hippo_rooms hippo_rooms;
typedef struct hippo_logins hippo_logins;

typedef struct hippod {
    const char *config_path;
    hippo_config cfg;
    hippo_logger log;
    hippo_metrics metrics;

    struct event_base *base;
    hippo_link *link;
    hippo_db *db;
    hippo_http *http;
    hippo_push *push;
    hippo_push_live *push_live; /* livePostChanged coalescing (push_live_post.c) */
    hippo_user_cache *users;    /* sender JID -> user id (handle_protocol.c) */
    hippo_rooms *rooms;         /* the rooms' state in memory (rooms.h) */
    hippo_logins *logins;       /* who is online, from XEP-0356 presences (handle_privilege.h) */

    struct event *sig_term;
    struct event *sig_int;
    struct event *sig_hup;
    struct event *tick;  /* once a second: watchdog, status */
    struct event *drain; /* during a graceful stop: is the work in flight done? */

    uint64_t watchdog_usec;
    uint64_t last_watchdog_usec;
    bool ready_sent;
    bool link_started;           /* once the database was first up (daemon.c) */
    bool stopping;               /* SIGTERM/SIGINT: draining, then closing the stream */
    uint64_t stop_deadline_usec; /* monotonic: the drain gives up then */
    char last_status[256];
} hippod;

/* Registers every module's prepared statements and LISTENs on DB (before it starts). */
void hippod_prepare_statements(hippo_db *db);

/* The parts of D that are neither I/O nor signals (the push outbox and its live state, the
 * user cache, the rooms), made after d->base and d->cfg: -1 when out of memory (free what
 * was made with hippod_free_state()). Freed after the database, whose last callbacks use
 * them. */
int hippod_create_state(hippod *d);
void hippod_free_state(hippod *d);

/* daemon.c: what a NOTIFY from PostgreSQL changes (a hippo_db_notify_cb; ARG is the
 * hippod). */
void hippod_on_db_notify(const char *channel, const char *payload, bool own, void *arg);

/* Runs the daemon with an already loaded configuration until SIGTERM/SIGINT.
 * Returns the process exit status. */
int hippod_run(hippod *d);

#endif
