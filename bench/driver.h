/* driver.h - the skeleton both load drivers share: the options every driver has, one
 * libevent loop with a 1 ms precise ticker, and the phases of a run (login, an optional
 * join phase, warm-up, the measured window, drain), with an open-loop schedule at a fixed
 * total rate, CPU snapshots at each phase's start and progress notes. The driver supplies
 * what it sends and measures through hooks. */
#ifndef HIPPO_BENCH_DRIVER_H
#define HIPPO_BENCH_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "watch.h"
#include "xmpp_client.h"

enum hippo_bench_phase {
    HIPPO_BENCH_PH_LOGIN,
    HIPPO_BENCH_PH_JOIN, /* only with a join hook */
    HIPPO_BENCH_PH_WARMUP,
    HIPPO_BENCH_PH_MEASURE,
    HIPPO_BENCH_PH_DRAIN,
    HIPPO_BENCH_PH_DONE,
    HIPPO_BENCH_PH_COUNT
};

_Static_assert(HIPPO_BENCH_PH_COUNT <= HIPPO_BENCH_MAX_SNAPS, "a CPU snapshot per phase");

typedef struct {
    hippo_bench_client_opts c;
    double rate;     /* open loop: sends per second in total; 0: none scheduled */
    double warmup;   /* s of sending before the window */
    double duration; /* s of the window */
    double drain;    /* s to wait after the window for what is still due */
    double timeout;  /* s at most of the login (and join) phase */
    bool quiet;
} hippo_bench_opts;

/* The driver's part; OWNER is handed back to each. */
typedef struct {
    /* One tick of the join phase; true when it is over. NULL: no join phase. */
    bool (*join)(void *owner, uint64_t t);
    void (*sending)(void *owner);       /* the warm-up begins; may be NULL */
    void (*send_one)(void *owner);      /* the open-loop schedule says: one more now */
    void (*window_start)(void *owner);  /* may be NULL */
    void (*window_end)(void *owner);    /* the drain begins */
    bool (*drained)(const void *owner); /* nothing is due any more */
    int (*report)(void *owner);         /* prints the results; returns the exit status */
} hippo_bench_hooks;

typedef struct {
    hippo_bench_opts o;
    const hippo_bench_hooks *hooks;
    void *owner;
    struct event_base *base;
    struct event *tick;
    hippo_bench_clients cl;
    hippo_bench_watches w; /* snapshot k: the start of phase k */
    hippo_bench_first_error err;
    enum hippo_bench_phase ph;
    uint64_t ph_start_ns;              /* tick that began the phase */
    uint64_t at[HIPPO_BENCH_PH_COUNT]; /* when each phase began, right after its snapshot */
    uint64_t send_start;               /* the schedule's origin */
    long sched_sent;                   /* sends the schedule handed out since */
    uint64_t last_tick_ns;
    double tick_lag_max_ms; /* in the window */
    long late_ticks;        /* ticks that could not catch up with the schedule */
    int exit_code;
} hippo_bench_driver;

/* How an option's argument is stored. */
enum hippo_bench_arg {
    HIPPO_BENCH_ARG_STRING, /* const char * (argv's own string) */
    HIPPO_BENCH_ARG_INT,    /* int in lo..hi */
    HIPPO_BENCH_ARG_REAL,   /* double in lo..hi */
    HIPPO_BENCH_ARG_FLAG,   /* bool set to true; no argument */
    HIPPO_BENCH_ARG_CALL,   /* handed to call */
    HIPPO_BENCH_ARG_HELP,   /* prints the usage on stdout and exits 0; no argument */
};

/* One --NAME option of a driver: where its value goes in the options struct it belongs
 * to. */
typedef struct {
    const char *name;
    enum hippo_bench_arg kind;
    size_t offset; /* of the field */
    double lo, hi;
    bool (*call)(void *opts, const char *arg); /* false: a bad ARG (usage, exit 1) */
} hippo_bench_option;

/* Table entries of TYPE's FIELD; _Generic rejects a field of another type. */
#define HIPPO_BENCH_OPT_STRING(type, name, field)                                                       \
    {                                                                                                   \
        name, _Generic(((type *)0)->field, const char *: HIPPO_BENCH_ARG_STRING),                     \
     offsetof(type, field), 0, 0, NULL \
    }
#define HIPPO_BENCH_OPT_INT(type, name, field, lo, hi)                                             \
    {                                                                                              \
        name,                                                                                      \
            _Generic(((type *)0)->field, int                                                       \
                     : HIPPO_BENCH_ARG_INT),                                                       \
            offsetof(type, field), lo, hi, NULL                                                    \
    }
#define HIPPO_BENCH_OPT_REAL(type, name, field, lo, hi)                                            \
    {                                                                                              \
        name,                                                                                      \
            _Generic(((type *)0)->field, double                                                    \
                     : HIPPO_BENCH_ARG_REAL),                                                      \
            offsetof(type, field), lo, hi, NULL                                                    \
    }
#define HIPPO_BENCH_OPT_FLAG(type, name, field)                                                    \
    {                                                                                              \
        name,                                                                                      \
            _Generic(((type *)0)->field, bool                                                      \
                     : HIPPO_BENCH_ARG_FLAG),                                                      \
            offsetof(type, field), 0, 0, NULL                                                      \
    }
#define HIPPO_BENCH_OPT_CALL(name, fn)                                                             \
    {                                                                                              \
        name, HIPPO_BENCH_ARG_CALL, 0, 0, 0, fn                                                    \
    }

/* The shared defaults: 127.0.0.1:5222, example.test, u%d, pw, 1 connection per user, 10 s
 * window, 500 logins/s with 200 in flight, 120 s timeout; no rate, warm-up or drain. */
void hippo_bench_driver_defaults(hippo_bench_opts *o);

/* Parses the command line: the options every driver takes (the --host ... --quiet of
 * hippo_bench_opts, --watch, --watch-tree, --help) into D, and the driver's N_OWN options
 * OWN into OWN_OPTS. USAGE prints the driver's help. Exits 1 after a usage error, 0 after
 * --help. */
void hippo_bench_driver_parse(hippo_bench_driver *d, int argc, char **argv,
                              const hippo_bench_option *own, size_t n_own, void *own_opts,
                              void (*usage)(FILE *f));

/* Sets up the loop, the ticker and N connections of CONN_SIZE bytes (see
 * hippo_bench_clients_init) after the options are parsed; HOOKS, CALLS and OWNER must
 * outlive D. Dies on failure. */
void hippo_bench_driver_setup(hippo_bench_driver *d, int n, size_t conn_size, size_t read_chunk,
                              const hippo_bench_hooks *hooks, const hippo_bench_conn_calls *calls,
                              void *owner);

/* Runs the phases to their end; returns the report hook's exit status. */
int hippo_bench_driver_run(hippo_bench_driver *d);

/* Frees what hippo_bench_driver_setup allocated. */
void hippo_bench_driver_free(hippo_bench_driver *d);

/* A progress line "[elapsed] ..." on stderr, unless --quiet. */
void hippo_bench_note(const hippo_bench_driver *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keeps "WHAT: E" as the run's first error (see hippo_bench_first_error_keep). */
void hippo_bench_error(hippo_bench_driver *d, const char *what, hippo_bench_span e);

/* Seconds from the start of phase FROM to the start of phase TO. */
double hippo_bench_phase_s(const hippo_bench_driver *d, enum hippo_bench_phase from,
                           enum hippo_bench_phase to);

/* The measured window's length in s (0 when there was none). */
double hippo_bench_window_s(const hippo_bench_driver *d);

/* N per second of the window. */
double hippo_bench_per_s(const hippo_bench_driver *d, long n);

/* CPU SECONDS in % of one core over the window. */
double hippo_bench_core_pct(const hippo_bench_driver *d, double seconds);

#endif
