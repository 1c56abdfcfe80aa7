/* xmpp_client.h - the load drivers' c2s connections: non-blocking sockets on a libevent
 * loop, an output queue, input split into top-level elements (xmpp_scan.h), and the login
 * (stream, SASL PLAIN, resource binding, a session when the server requires one), paced
 * at a rate with a bound on handshakes in flight. What comes after the login is the
 * driver's: it gets every later element through a callback. */
#ifndef HIPPO_BENCH_XMPP_CLIENT_H
#define HIPPO_BENCH_XMPP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "util.h"
#include "xmpp_scan.h"

enum hippo_bench_conn_state {
    HIPPO_BENCH_CS_IDLE,
    HIPPO_BENCH_CS_CONNECTING,
    HIPPO_BENCH_CS_FEATURES1,
    HIPPO_BENCH_CS_AUTH,
    HIPPO_BENCH_CS_FEATURES2,
    HIPPO_BENCH_CS_BIND,
    HIPPO_BENCH_CS_SESSION,
    HIPPO_BENCH_CS_READY, /* logged in */
    HIPPO_BENCH_CS_DEAD,
};

typedef struct hippo_bench_clients hippo_bench_clients;

/* One connection. A driver that keeps more per connection makes this the first member of
 * its own struct and passes that struct's size to hippo_bench_clients_init. */
typedef struct {
    hippo_bench_clients *set;
    struct event *rev, *wev;
    int fd;
    int idx;  /* in the set */
    int user; /* 0-based user of this run: idx / conns_per_user */
    enum hippo_bench_conn_state st;
    bool need_session;
    char *in; /* the unscanned tail of the input */
    size_t in_len, in_cap;
    char *out; /* output the socket did not take yet */
    size_t out_len, out_cap;
    hippo_bench_scan scan;
} hippo_bench_conn;

/* Where and as whom the connections log in, and how fast. */
typedef struct {
    const char *host;
    const char *port;
    const char *domain;
    const char *user_fmt; /* printf format of user k's name */
    const char *password;
    int first_user;
    int conns_per_user; /* resources r0.. of each user */
    double login_rate;  /* new connections per second */
    int max_pending;    /* handshakes in flight at once */
} hippo_bench_client_opts;

/* The driver's part; OWNER is handed back to each. */
typedef struct {
    void (*ready)(void *owner, hippo_bench_conn *c); /* logged in; may be NULL */
    /* a top-level element after the login; NAME is its local name (required) */
    void (*stanza)(void *owner, hippo_bench_conn *c, hippo_bench_span e, hippo_bench_span name);
    /* a logged-in connection failed; it is closed right after (required) */
    void (*lost)(void *owner, hippo_bench_conn *c, const char *why);
} hippo_bench_conn_calls;

struct hippo_bench_clients {
    const hippo_bench_client_opts *o;
    struct event_base *base;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *conns; /* n connections of conn_size bytes */
    size_t conn_size;
    int n;
    char *scratch; /* read_chunk bytes shared by every read */
    size_t read_chunk;
    hippo_bench_conn_calls calls;
    void *owner;
    hippo_bench_first_error *err;
    int cursor; /* next connection to start */
    long started, in_handshake, logged_in, login_failed, stream_errors;
};

/* Sets up N idle connections of CONN_SIZE bytes (zeroed beyond the hippo_bench_conn) on
 * BASE, reading READ_CHUNK bytes at a time; O, CALLS' owner and ERR must outlive CL. Dies
 * when the address does not resolve or memory is short. */
void hippo_bench_clients_init(hippo_bench_clients *cl, const hippo_bench_client_opts *o,
                              struct event_base *base, int n, size_t conn_size, size_t read_chunk,
                              const hippo_bench_conn_calls *calls, void *owner,
                              hippo_bench_first_error *err);

/* Connection I (0 <= I < n). */
hippo_bench_conn *hippo_bench_clients_at(const hippo_bench_clients *cl, int i);

/* One step of the login phase, ELAPSED seconds into it: starts the connections now due.
 * True when the phase is over (every connection logged in or failed, or TIMEOUT passed:
 * then the handshakes still going fail). */
bool hippo_bench_clients_login_tick(hippo_bench_clients *cl, double elapsed, double timeout);

/* Ends every stream (when nothing is queued) and closes every socket. */
void hippo_bench_clients_close(hippo_bench_clients *cl);

/* Closes everything and frees what hippo_bench_clients_init allocated. */
void hippo_bench_clients_free(hippo_bench_clients *cl);

/* Writes at once when nothing is queued, else queues behind what is (keeps order). */
void hippo_bench_conn_send(hippo_bench_conn *c, const char *data, size_t len);

/* conn_send of a formatted stanza of at most 2 KiB; dies when longer. */
void hippo_bench_conn_sendf(hippo_bench_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Closes C for good, counting it as a failed login or telling the driver (calls.lost). */
void hippo_bench_conn_fail(hippo_bench_conn *c, const char *why);

/* Answers a request E (an iq get or set of id ID) from the server like any client: a
 * ping with a result, anything else with feature-not-implemented, never silence. */
void hippo_bench_conn_answer_request(hippo_bench_conn *c, hippo_bench_span e, hippo_bench_span id);

/* User name of C (user_fmt applied to its user) into BUF; returns BUF. */
const char *hippo_bench_conn_user_name(const hippo_bench_conn *c, char *buf, size_t size);

#endif
