/* driver.c - the phases, the ticker and the shared options of the load drivers. */
#include "driver.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TICK_US 1000
#define MAX_SENDS_PER_TICK 20000

void hippo_bench_note(const hippo_bench_driver *d, const char *fmt, ...)
{
    if (d->o.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%7.2f] ",
            hippo_bench_secs(hippo_bench_now_ns() - d->at[HIPPO_BENCH_PH_LOGIN]));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
}

void hippo_bench_error(hippo_bench_driver *d, const char *what, hippo_bench_span e)
{
    hippo_bench_first_error_keep(&d->err, what, e.p, e.n);
}

double hippo_bench_phase_s(const hippo_bench_driver *d, enum hippo_bench_phase from,
                           enum hippo_bench_phase to)
{
    return hippo_bench_secs(d->at[to] - d->at[from]);
}

double hippo_bench_window_s(const hippo_bench_driver *d)
{
    uint64_t t0 = d->at[HIPPO_BENCH_PH_MEASURE], t1 = d->at[HIPPO_BENCH_PH_DRAIN];
    return t1 > t0 ? hippo_bench_secs(t1 - t0) : 0.0;
}

double hippo_bench_per_s(const hippo_bench_driver *d, long n)
{
    double w = hippo_bench_window_s(d);
    return w > 0 ? (double)n / w : 0.0;
}

double hippo_bench_core_pct(const hippo_bench_driver *d, double seconds)
{
    double w = hippo_bench_window_s(d);
    return 100.0 * seconds / (w > 0 ? w : 1);
}

/* ------------------------------------------------------------------ phases */

static void enter_phase(hippo_bench_driver *d, enum hippo_bench_phase ph, uint64_t t)
{
    hippo_bench_watch_snapshot(&d->w, (int)ph);
    d->at[ph] = hippo_bench_now_ns();
    d->ph = ph;
    d->ph_start_ns = t;
}

static double phase_elapsed(const hippo_bench_driver *d, uint64_t t)
{
    return hippo_bench_secs(t - d->ph_start_ns);
}

static void start_sending(hippo_bench_driver *d, uint64_t t)
{
    d->send_start = t;
    enter_phase(d, HIPPO_BENCH_PH_WARMUP, t);
    if (d->hooks->sending)
        d->hooks->sending(d->owner);
}

static void tick_login(hippo_bench_driver *d, uint64_t t)
{
    const hippo_bench_clients *cl = &d->cl;
    double el = phase_elapsed(d, t);
    if (!hippo_bench_clients_login_tick(&d->cl, el, d->o.timeout))
        return;
    hippo_bench_note(d, "logged in %ld of %d connections (%ld failed) in %.2f s", cl->logged_in,
                     cl->n, cl->login_failed, el);
    if (d->hooks->join)
        enter_phase(d, HIPPO_BENCH_PH_JOIN, t);
    else
        start_sending(d, t);
}

static void start_measure(hippo_bench_driver *d, uint64_t t)
{
    enter_phase(d, HIPPO_BENCH_PH_MEASURE, t);
    if (d->hooks->window_start)
        d->hooks->window_start(d->owner);
    hippo_bench_note(d, "measuring for %.1f s", d->o.duration);
}

/* Open loop: what the schedule says is due by T; then the window's edges. */
static void tick_send(hippo_bench_driver *d, uint64_t t)
{
    if (d->o.rate > 0) {
        long due = (long)(d->o.rate * hippo_bench_secs(t - d->send_start)) - d->sched_sent;
        if (due > MAX_SENDS_PER_TICK) {
            d->late_ticks++;
            due = MAX_SENDS_PER_TICK;
        }
        for (long i = 0; i < due; i++) {
            d->hooks->send_one(d->owner);
            d->sched_sent++;
        }
    }
    uint64_t in_phase = t - d->ph_start_ns;
    if (d->ph == HIPPO_BENCH_PH_WARMUP && in_phase >= hippo_bench_ns_of(d->o.warmup)) {
        start_measure(d, t);
    } else if (d->ph == HIPPO_BENCH_PH_MEASURE && in_phase >= hippo_bench_ns_of(d->o.duration)) {
        enter_phase(d, HIPPO_BENCH_PH_DRAIN, t);
        d->hooks->window_end(d->owner);
    }
}

static void finish(hippo_bench_driver *d, uint64_t t)
{
    enter_phase(d, HIPPO_BENCH_PH_DONE, t);
    d->exit_code = d->hooks->report(d->owner);
    fflush(stdout);
    hippo_bench_clients_close(&d->cl);
    event_base_loopbreak(d->base);
}

static void tick_lag(hippo_bench_driver *d, uint64_t t)
{
    if (d->ph == HIPPO_BENCH_PH_MEASURE && d->last_tick_ns) {
        double lag = (double)(t - d->last_tick_ns) / 1e6 - TICK_US / 1000.0;
        if (lag > d->tick_lag_max_ms)
            d->tick_lag_max_ms = lag;
    }
    d->last_tick_ns = t;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hippo_bench_driver *d = arg;
    uint64_t t = hippo_bench_now_ns();
    tick_lag(d, t);
    switch (d->ph) {
    case HIPPO_BENCH_PH_LOGIN:
        tick_login(d, t);
        break;
    case HIPPO_BENCH_PH_JOIN:
        if (d->hooks->join(d->owner, t))
            start_sending(d, t);
        break;
    case HIPPO_BENCH_PH_WARMUP:
    case HIPPO_BENCH_PH_MEASURE:
        tick_send(d, t);
        break;
    case HIPPO_BENCH_PH_DRAIN:
        if (d->hooks->drained(d->owner) || t - d->ph_start_ns >= hippo_bench_ns_of(d->o.drain))
            finish(d, t);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ set-up */

void hippo_bench_driver_defaults(hippo_bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->c.host = "127.0.0.1";
    o->c.port = "5222";
    o->c.domain = "example.test";
    o->c.user_fmt = "u%d";
    o->c.password = "pw";
    o->c.conns_per_user = 1;
    o->c.login_rate = 500;
    o->c.max_pending = 200;
    o->duration = 10;
    o->timeout = 120;
}

static bool add_watch(void *opts, const char *arg)
{
    hippo_bench_watch_add(&((hippo_bench_driver *)opts)->w, arg, false);
    return true;
}

static bool add_watch_tree(void *opts, const char *arg)
{
    hippo_bench_watch_add(&((hippo_bench_driver *)opts)->w, arg, true);
    return true;
}

#define DRIVER hippo_bench_driver

static const hippo_bench_option shared_options[] = {
    HIPPO_BENCH_OPT_STRING(DRIVER, "host", o.c.host),
    HIPPO_BENCH_OPT_STRING(DRIVER, "port", o.c.port),
    HIPPO_BENCH_OPT_STRING(DRIVER, "domain", o.c.domain),
    HIPPO_BENCH_OPT_STRING(DRIVER, "user-fmt", o.c.user_fmt),
    HIPPO_BENCH_OPT_STRING(DRIVER, "password", o.c.password),
    HIPPO_BENCH_OPT_INT(DRIVER, "first-user", o.c.first_user, 0, 1e9),
    HIPPO_BENCH_OPT_INT(DRIVER, "conns-per-user", o.c.conns_per_user, 1, 64),
    HIPPO_BENCH_OPT_INT(DRIVER, "max-pending", o.c.max_pending, 1, 1e6),
    HIPPO_BENCH_OPT_REAL(DRIVER, "login-rate", o.c.login_rate, 1, 1e7),
    HIPPO_BENCH_OPT_REAL(DRIVER, "rate", o.rate, 0, 1e7),
    HIPPO_BENCH_OPT_REAL(DRIVER, "warmup", o.warmup, 0, 86400),
    HIPPO_BENCH_OPT_REAL(DRIVER, "duration", o.duration, 0.1, 86400),
    HIPPO_BENCH_OPT_REAL(DRIVER, "drain", o.drain, 0, 86400),
    HIPPO_BENCH_OPT_REAL(DRIVER, "timeout", o.timeout, 1, 86400),
    HIPPO_BENCH_OPT_CALL("watch", add_watch),
    HIPPO_BENCH_OPT_CALL("watch-tree", add_watch_tree),
    HIPPO_BENCH_OPT_FLAG(DRIVER, "quiet", o.quiet),
    {"help", HIPPO_BENCH_ARG_HELP, 0, 0, 0, NULL},
};

#define N_SHARED (sizeof shared_options / sizeof shared_options[0])
#define FIRST_CODE 256 /* getopt_long's codes: FIRST_CODE + index in shared, then own */

/* Stores ARG as OPT says into the options struct OPTS. */
static void apply(const hippo_bench_option *opt, void *opts, const char *arg,
                  void (*usage)(FILE *f))
{
    char *field = (char *)opts + opt->offset;
    char what[64];
    snprintf(what, sizeof what, "--%s", opt->name);
    switch (opt->kind) {
    case HIPPO_BENCH_ARG_STRING:
        *(const char **)(void *)field = arg;
        break;
    case HIPPO_BENCH_ARG_INT:
        *(int *)(void *)field = (int)hippo_bench_num(arg, what, opt->lo, opt->hi);
        break;
    case HIPPO_BENCH_ARG_REAL:
        *(double *)(void *)field = hippo_bench_num(arg, what, opt->lo, opt->hi);
        break;
    case HIPPO_BENCH_ARG_FLAG:
        *(bool *)(void *)field = true;
        break;
    case HIPPO_BENCH_ARG_CALL:
        if (opt->call(opts, arg))
            break;
        usage(stderr);
        exit(1);
    case HIPPO_BENCH_ARG_HELP:
        usage(stdout);
        exit(0);
    }
}

/* getopt_long's table of the shared options and then OWN; returns it malloc'ed (caller
 * frees). */
static struct option *long_options(const hippo_bench_option *own, size_t n_own)
{
    struct option *lo = calloc(N_SHARED + n_own + 1, sizeof *lo);
    if (!lo)
        hippo_bench_die("out of memory");
    for (size_t i = 0; i < N_SHARED + n_own; i++) {
        const hippo_bench_option *opt = i < N_SHARED ? &shared_options[i] : &own[i - N_SHARED];
        bool no_arg = opt->kind == HIPPO_BENCH_ARG_FLAG || opt->kind == HIPPO_BENCH_ARG_HELP;
        lo[i] = (struct option){opt->name, no_arg ? no_argument : required_argument, NULL,
                                FIRST_CODE + (int)i};
    }
    return lo;
}

void hippo_bench_driver_parse(hippo_bench_driver *d, int argc, char **argv,
                              const hippo_bench_option *own, size_t n_own, void *own_opts,
                              void (*usage)(FILE *f))
{
    struct option *lo = long_options(own, n_own);
    int code;
    while ((code = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        size_t i = (size_t)(code - FIRST_CODE);
        if (code < FIRST_CODE || i >= N_SHARED + n_own) { /* getopt_long has said why */
            usage(stderr);
            exit(1);
        }
        if (i < N_SHARED)
            apply(&shared_options[i], d, optarg, usage);
        else
            apply(&own[i - N_SHARED], own_opts, optarg, usage);
    }
    free(lo);
    if (optind != argc)
        hippo_bench_die("unexpected argument %s", argv[optind]);
}

static void setup_loop(hippo_bench_driver *d)
{
    /* precise: the default coarse clock ticks every 4 ms and would send in bursts */
    struct event_config *cfg = event_config_new();
    if (!cfg || event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) != 0)
        hippo_bench_die("event_config failed");
    d->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!d->base)
        hippo_bench_die("event_base_new failed");
    d->tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
    struct timeval tv = {0, TICK_US};
    if (!d->tick || event_add(d->tick, &tv) != 0)
        hippo_bench_die("cannot start the timer");
}

void hippo_bench_driver_setup(hippo_bench_driver *d, int n, size_t conn_size, size_t read_chunk,
                              const hippo_bench_hooks *hooks, const hippo_bench_conn_calls *calls,
                              void *owner)
{
    d->hooks = hooks;
    d->owner = owner;
    hippo_bench_raise_fd_limit(n);
    setup_loop(d);
    hippo_bench_clients_init(&d->cl, &d->o.c, d->base, n, conn_size, read_chunk, calls, owner,
                             &d->err);
}

int hippo_bench_driver_run(hippo_bench_driver *d)
{
    enter_phase(d, HIPPO_BENCH_PH_LOGIN, hippo_bench_now_ns());
    hippo_bench_note(d, "%d connections to %s:%s, login rate %.0f/s", d->cl.n, d->o.c.host,
                     d->o.c.port, d->o.c.login_rate);
    event_base_dispatch(d->base);
    return d->exit_code;
}

void hippo_bench_driver_free(hippo_bench_driver *d)
{
    hippo_bench_clients_free(&d->cl);
    if (d->tick)
        event_free(d->tick);
    if (d->base)
        event_base_free(d->base);
    d->tick = NULL;
    d->base = NULL;
}
