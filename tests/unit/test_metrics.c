/* test_metrics.c - metric counting and Prometheus rendering; the HTTP listener that
 * serves them (/healthz, /metrics) through a real loopback socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "http.h"
#include "metrics.h"

/* True when TEXT holds LINE as a whole line. */
static bool has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = strstr(text, line); p != NULL; p = strstr(p + 1, line)) {
        bool starts = p == text || p[-1] == '\n';
        if (starts && p[len] == '\n')
            return true;
    }
    return false;
}

static void expect_line(const char *text, const char *line)
{
    if (!has_line(text, line))
        fail_msg("missing line \"%s\" in:\n%s", line, text);
}

static void expect_no_line(const char *text, const char *line)
{
    if (has_line(text, line))
        fail_msg("unexpected line \"%s\"", line);
}

static int setup_metrics(void **state)
{
    hippo_metrics *m = malloc(sizeof *m);
    if (m == NULL)
        return -1;
    hippo_metrics_init(m);
    *state = m;
    return 0;
}

static int teardown_metrics(void **state)
{
    hippo_metrics_free(*state);
    free(*state);
    return 0;
}

static void test_kind_of(void **state)
{
    (void)state;
    assert_int_equal(hippo_stanza_kind_of("message"), HIPPO_STANZA_MESSAGE);
    assert_int_equal(hippo_stanza_kind_of("presence"), HIPPO_STANZA_PRESENCE);
    assert_int_equal(hippo_stanza_kind_of("iq"), HIPPO_STANZA_IQ);
    assert_int_equal(hippo_stanza_kind_of("handshake"), HIPPO_STANZA_OTHER);
    assert_int_equal(hippo_stanza_kind_of("Message"), HIPPO_STANZA_OTHER);
    assert_int_equal(hippo_stanza_kind_of(""), HIPPO_STANZA_OTHER);
    assert_int_equal(hippo_stanza_kind_of(NULL), HIPPO_STANZA_OTHER);
}

static void test_empty_render(void **state)
{
    hippo_metrics *m = *state;
    char *text = hippo_metrics_render(m);
    assert_non_null(text);
    const char *families[][2] = {
        {"hippod_stanzas_in_total", "counter"},
        {"hippod_stanzas_out_total", "counter"},
        {"hippod_errors_total", "counter"},
        {"hippod_drops_total", "counter"},
        {"hippod_reconnects_total", "counter"},
        {"hippod_config_errors_total", "counter"},
        {"hippod_db_query_duration_seconds", "histogram"},
        {"hippod_db_refused_total", "counter"},
        {"hippod_user_lookups_total", "counter"},
        {"hippod_db_up", "gauge"},
        {"hippod_db_connections_up", "gauge"},
        {"hippod_link_up", "gauge"},
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "# TYPE %s %s", families[i][0], families[i][1]);
        expect_line(text, line);
        snprintf(line, sizeof line, "# HELP %s ", families[i][0]);
        assert_non_null(strstr(text, line));
    }
    expect_line(text, "hippod_stanzas_in_total{kind=\"message\"} 0");
    expect_line(text, "hippod_stanzas_out_total{kind=\"other\"} 0");
    expect_line(text, "hippod_db_up 0");
    expect_line(text, "hippod_db_connections_up 0");
    expect_line(text, "hippod_link_up 0");
    expect_line(text, "hippod_db_refused_total{reason=\"queue_time\"} 0");
    expect_line(text, "hippod_user_lookups_total{source=\"cache\"} 0");
    expect_line(text, "hippod_user_lookups_total{source=\"database\"} 0");
    expect_line(text, "hippod_db_query_duration_seconds_bucket{le=\"+Inf\"} 0");
    expect_line(text, "hippod_db_query_duration_seconds_sum 0");
    expect_line(text, "hippod_db_query_duration_seconds_count 0");
    assert_null(strstr(text, "hippod_errors_total{")); /* no samples, only HELP/TYPE */
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
}

static void test_counts_render(void **state)
{
    hippo_metrics *m = *state;
    m->stanzas_in[hippo_stanza_kind_of("message")] += 3;
    m->stanzas_in[hippo_stanza_kind_of("iq")] += 1;
    m->stanzas_out[hippo_stanza_kind_of("presence")] += 7;
    hippo_metrics_count(&m->errors, "bad-request");
    hippo_metrics_count(&m->errors, "bad-request");
    hippo_metrics_count(&m->errors, "item-not-found");
    hippo_metrics_count(&m->drops, "rate-limited");
    hippo_metrics_count(&m->reconnects, "xmpp");
    hippo_metrics_count(&m->reconnects, "database");
    hippo_metrics_count(&m->reconnects, "database");
    hippo_metrics_count(&m->config_errors, "parse");
    m->db_up = true;
    m->link_up = true;
    m->db_refused[HIPPO_DB_REFUSED_IN_FLIGHT] = 4;
    m->user_lookups_cached = 5;
    m->user_lookups_database = 6;

    assert_int_equal(hippo_metrics_get(&m->errors, "bad-request"), 2);
    assert_int_equal(hippo_metrics_get(&m->errors, "forbidden"), 0);
    assert_int_equal(hippo_metrics_get(&m->reconnects, "database"), 2);

    char *text = hippo_metrics_render(m);
    assert_non_null(text);
    expect_line(text, "hippod_stanzas_in_total{kind=\"message\"} 3");
    expect_line(text, "hippod_stanzas_in_total{kind=\"presence\"} 0");
    expect_line(text, "hippod_stanzas_in_total{kind=\"iq\"} 1");
    expect_line(text, "hippod_stanzas_in_total{kind=\"other\"} 0");
    expect_line(text, "hippod_stanzas_out_total{kind=\"presence\"} 7");
    expect_line(text, "hippod_errors_total{condition=\"bad-request\"} 2");
    expect_line(text, "hippod_errors_total{condition=\"item-not-found\"} 1");
    expect_line(text, "hippod_drops_total{reason=\"rate-limited\"} 1");
    expect_line(text, "hippod_reconnects_total{target=\"xmpp\"} 1");
    expect_line(text, "hippod_reconnects_total{target=\"database\"} 2");
    expect_line(text, "hippod_db_refused_total{reason=\"in_flight\"} 4");
    expect_line(text, "hippod_user_lookups_total{source=\"cache\"} 5");
    expect_line(text, "hippod_user_lookups_total{source=\"database\"} 6");
    expect_line(text, "hippod_config_errors_total{reason=\"parse\"} 1");
    expect_line(text, "hippod_db_up 1");
    expect_line(text, "hippod_link_up 1");
    expect_no_line(text, "hippod_errors_total{condition=\"other\"} 0");
    free(text);
}

static void test_histogram(void **state)
{
    hippo_metrics *m = *state;
    hippo_metrics_db_latency(m, 0.0004); /* first bucket */
    hippo_metrics_db_latency(m, 0.0005); /* on the bound: le is inclusive */
    hippo_metrics_db_latency(m, 0.003);  /* 0.005 bucket */
    hippo_metrics_db_latency(m, 0.2);    /* 0.25 bucket */
    hippo_metrics_db_latency(m, 7.5);    /* only +Inf */
    hippo_metrics_db_latency(m, -1);     /* clamped to 0 */
    char *text = hippo_metrics_render(m);
    assert_non_null(text);
    const char *expected[] = {
        "hippod_db_query_duration_seconds_bucket{le=\"0.0005\"} 3",
        "hippod_db_query_duration_seconds_bucket{le=\"0.001\"} 3",
        "hippod_db_query_duration_seconds_bucket{le=\"0.0025\"} 3",
        "hippod_db_query_duration_seconds_bucket{le=\"0.005\"} 4",
        "hippod_db_query_duration_seconds_bucket{le=\"0.01\"} 4",
        "hippod_db_query_duration_seconds_bucket{le=\"0.025\"} 4",
        "hippod_db_query_duration_seconds_bucket{le=\"0.05\"} 4",
        "hippod_db_query_duration_seconds_bucket{le=\"0.1\"} 4",
        "hippod_db_query_duration_seconds_bucket{le=\"0.25\"} 5",
        "hippod_db_query_duration_seconds_bucket{le=\"0.5\"} 5",
        "hippod_db_query_duration_seconds_bucket{le=\"1\"} 5",
        "hippod_db_query_duration_seconds_bucket{le=\"2.5\"} 5",
        "hippod_db_query_duration_seconds_bucket{le=\"+Inf\"} 6",
        "hippod_db_query_duration_seconds_count 6",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        expect_line(text, expected[i]);
    const char *sum = strstr(text, "\nhippod_db_query_duration_seconds_sum ");
    assert_non_null(sum);
    double got = strtod(strchr(sum + 1, ' '), NULL);
    assert_true(got > 7.7039 - 1e-12 && got < 7.7039 + 1e-12);
    /* Buckets in the order of their bounds, +Inf last, then _sum and _count. */
    const char *prev = text;
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const char *at = strstr(text, expected[i]);
        assert_true(at >= prev);
        prev = at;
    }
    free(text);
    /* NaN is not an observation. */
    hippo_metrics_db_latency(m, NAN);
    assert_int_equal(m->db_latency_count, 6);
}

static void test_label_escaping(void **state)
{
    hippo_metrics *m = *state;
    hippo_metrics_count(&m->drops, "a\"quote\\back\nline");
    char *text = hippo_metrics_render(m);
    assert_non_null(text);
    expect_line(text, "hippod_drops_total{reason=\"a\\\"quote\\\\back\\nline\"} 1");
    free(text);
}

static void test_overflow_label(void **state)
{
    hippo_metrics *m = *state;
    char label[32];
    for (int i = 0; i < HIPPO_METRICS_MAX_LABELS; i++) {
        snprintf(label, sizeof label, "reason-%d", i);
        hippo_metrics_count(&m->drops, label);
    }
    assert_int_equal(m->drops.n, HIPPO_METRICS_MAX_LABELS);
    assert_int_equal(m->drops.overflow, 0);
    hippo_metrics_count(&m->drops, "one-too-many");
    hippo_metrics_count(&m->drops, "another");
    hippo_metrics_count(&m->drops, "reason-0"); /* known labels still count as themselves */
    assert_int_equal(m->drops.n, HIPPO_METRICS_MAX_LABELS);
    assert_int_equal(hippo_metrics_get(&m->drops, "other"), 2);
    assert_int_equal(hippo_metrics_get(&m->drops, "reason-0"), 2);
    assert_int_equal(hippo_metrics_get(&m->drops, "one-too-many"), 0);
    char *text = hippo_metrics_render(m);
    assert_non_null(text);
    expect_line(text, "hippod_drops_total{reason=\"other\"} 2");
    expect_line(text, "hippod_drops_total{reason=\"reason-0\"} 2");
    expect_line(text, "hippod_drops_total{reason=\"reason-47\"} 1");
    assert_null(strstr(text, "one-too-many"));
    free(text);
}

static void test_overflow_merges_with_other_label(void **state)
{
    hippo_metrics *m = *state;
    hippo_metrics_count(&m->errors, "other");
    char label[32];
    for (int i = 1; i < HIPPO_METRICS_MAX_LABELS + 3; i++) {
        snprintf(label, sizeof label, "c-%d", i);
        hippo_metrics_count(&m->errors, label);
    }
    assert_int_equal(hippo_metrics_get(&m->errors, "other"), 4);
    char *text = hippo_metrics_render(m);
    assert_non_null(text);
    expect_line(text, "hippod_errors_total{condition=\"other\"} 4");
    /* One sample per label value: "other" must not appear twice. */
    const char *first = strstr(text, "{condition=\"other\"}");
    assert_non_null(first);
    assert_null(strstr(first + 1, "{condition=\"other\"}"));
    free(text);
}

static void test_free_and_reinit(void **state)
{
    hippo_metrics *m = *state;
    hippo_metrics_count(&m->errors, "bad-request");
    hippo_metrics_free(m);
    assert_int_equal(m->errors.n, 0);
    hippo_metrics_free(m); /* twice is harmless */
    hippo_metrics_init(m);
    assert_int_equal(hippo_metrics_get(&m->errors, "bad-request"), 0);
}

/* ---- HTTP listener, exercised through a real loopback socket ---- */

typedef struct http_fixture {
    struct event_base *base;
    hippo_http *http;
    hippo_logger log;
    hippo_metrics metrics;
    int port;
    bool healthy;
} http_fixture;

static int health_cb(void *arg, char *reason, size_t reason_len)
{
    http_fixture *fx = arg;
    if (fx->healthy)
        return 1;
    snprintf(reason, reason_len, "xmpp link down: connection refused");
    return 0;
}

static char *metrics_cb(void *arg)
{
    http_fixture *fx = arg;
    return hippo_metrics_render(&fx->metrics);
}

/* A free loopback port: bind port 0, read it back, release it. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static int setup_http(void **state)
{
    http_fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    fx->base = event_base_new();
    fx->log.level = HIPPO_LOG_ERR; /* keep the test output quiet */
    hippo_metrics_init(&fx->metrics);
    fx->healthy = true;
    hippo_http_handlers h = {.health = health_cb, .metrics = metrics_cb, .arg = fx};
    char err[256] = "";
    for (int tries = 0; tries < 5 && fx->http == NULL; tries++) {
        fx->port = free_port();
        fx->http = hippo_http_new(fx->base, "127.0.0.1", fx->port, &h, &fx->log, err, sizeof err);
    }
    if (fx->base == NULL || fx->http == NULL) {
        fprintf(stderr, "setup_http: %s\n", err);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown_http(void **state)
{
    http_fixture *fx = *state;
    hippo_http_free(fx->http);
    event_base_free(fx->base);
    hippo_metrics_free(&fx->metrics);
    free(fx);
    return 0;
}

typedef struct exchange {
    struct event_base *base;
    char buf[65536];
    size_t len;
    bool eof;
} exchange;

static void on_client_readable(evutil_socket_t fd, short what, void *arg)
{
    exchange *x = arg;
    if (what & EV_TIMEOUT) {
        event_base_loopbreak(x->base);
        return;
    }
    ssize_t n = read(fd, x->buf + x->len, sizeof x->buf - 1 - x->len);
    if (n > 0) {
        x->len += (size_t)n;
        x->buf[x->len] = '\0';
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    x->eof = true; /* the server closed: the response is complete */
    event_base_loopbreak(x->base);
}

/* Sends REQUEST raw and runs the loop until the server closes (5 s at most).
 * Returns the whole response in a malloc'd string the caller frees. */
static char *roundtrip(http_fixture *fx, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)fx->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    size_t len = strlen(request);
    assert_int_equal(write(fd, request, len), (ssize_t)len);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);

    exchange *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->base = fx->base;
    struct event *ev = event_new(fx->base, fd, EV_READ | EV_PERSIST, on_client_readable, x);
    struct timeval limit = {5, 0};
    event_add(ev, &limit);
    event_base_dispatch(fx->base);
    event_free(ev);
    close(fd);
    assert_true(x->eof);
    char *out = strdup(x->buf);
    free(x);
    return out;
}

static const char *body_of(const char *response)
{
    const char *p = strstr(response, "\r\n\r\n");
    assert_non_null(p);
    return p + 4;
}

static void test_http_health(void **state)
{
    http_fixture *fx = *state;
    char *r = roundtrip(fx, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 200 ", 13) == 0 || strncmp(r, "HTTP/1.1 200 ", 13) == 0);
    assert_string_equal(body_of(r), "ok\n");
    free(r);

    fx->healthy = false;
    r = roundtrip(fx, "GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(strncmp(r, "HTTP/1.1 503 ", 13), 0);
    assert_string_equal(body_of(r), "xmpp link down: connection refused\n");
    free(r);
}

static void test_http_metrics(void **state)
{
    http_fixture *fx = *state;
    hippo_metrics_count(&fx->metrics.errors, "bad-request");
    fx->metrics.link_up = true;
    char *r = roundtrip(fx, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(strncmp(r, "HTTP/1.1 200 ", 13), 0);
    assert_non_null(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    const char *body = body_of(r);
    expect_line(body, "hippod_errors_total{condition=\"bad-request\"} 1");
    expect_line(body, "hippod_link_up 1");
    char *direct = hippo_metrics_render(&fx->metrics);
    assert_string_equal(body, direct); /* the page is exactly the rendering */
    free(direct);
    free(r);
}

static void test_http_head(void **state)
{
    http_fixture *fx = *state;
    char *r = roundtrip(fx, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(strncmp(r, "HTTP/1.1 200 ", 13), 0);
    assert_string_equal(body_of(r), "");
    /* The headers still announce the GET body's length. */
    char *page = hippo_metrics_render(&fx->metrics);
    char length[64];
    snprintf(length, sizeof length, "\r\nContent-Length: %zu\r\n", strlen(page));
    assert_non_null(strstr(r, length));
    free(page);
    free(r);
    r = roundtrip(fx, "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(strncmp(r, "HTTP/1.1 200 ", 13), 0);
    assert_non_null(strstr(r, "\r\nContent-Length: 3\r\n"));
    assert_string_equal(body_of(r), "");
    free(r);
}

static void test_http_not_found_and_bad_method(void **state)
{
    http_fixture *fx = *state;
    char *r = roundtrip(fx, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(strncmp(r, "HTTP/1.1 404 ", 13), 0);
    free(r);
    r = roundtrip(fx, "GET /healthz/extra HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(strncmp(r, "HTTP/1.1 404 ", 13), 0);
    free(r);
    const char *methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char req[128];
        snprintf(
            req, sizeof req,
            "%s /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            methods[i]);
        r = roundtrip(fx, req);
        if (strncmp(r, "HTTP/1.1 405 ", 13) != 0)
            fail_msg("%s answered: %.40s", methods[i], r);
        assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
        free(r);
    }
}

static void test_http_limits(void **state)
{
    http_fixture *fx = *state;
    /* A header block far over the limit is refused, not buffered. Twice the limit, yet
     * within loopback socket buffers so the blocking write cannot stall. */
    static char req[16 * 1024 + 128];
    const char *head = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ";
    const char *tail = "\r\nConnection: close\r\n\r\n";
    size_t big = sizeof req - strlen(head) - strlen(tail) - 1;
    memcpy(req, head, strlen(head));
    memset(req + strlen(head), 'a', big);
    memcpy(req + strlen(head) + big, tail, strlen(tail) + 1);
    char *r = roundtrip(fx, req);
    /* evhttp answers 400 and closes (or resets); it never serves the page. */
    assert_null(strstr(r, " 200 "));
    if (r[0] != '\0')
        assert_int_equal(strncmp(r, "HTTP/1.1 4", 10), 0);
    free(r);
}

static void test_http_bind_error(void **state)
{
    http_fixture *fx = *state;
    hippo_http_handlers h = {.health = health_cb, .metrics = metrics_cb, .arg = fx};
    char err[256] = "";
    hippo_http *again =
        hippo_http_new(fx->base, "127.0.0.1", fx->port, &h, &fx->log, err, sizeof err);
    assert_null(again);
    assert_non_null(strstr(err, "127.0.0.1"));
    assert_non_null(strstr(err, "Address already in use"));
    err[0] = '\0';
    assert_null(hippo_http_new(fx->base, "127.0.0.1", 70000, &h, &fx->log, err, sizeof err));
    assert_true(err[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_of),
        cmocka_unit_test_setup_teardown(test_empty_render, setup_metrics, teardown_metrics),
        cmocka_unit_test_setup_teardown(test_counts_render, setup_metrics, teardown_metrics),
        cmocka_unit_test_setup_teardown(test_histogram, setup_metrics, teardown_metrics),
        cmocka_unit_test_setup_teardown(test_label_escaping, setup_metrics, teardown_metrics),
        cmocka_unit_test_setup_teardown(test_overflow_label, setup_metrics, teardown_metrics),
        cmocka_unit_test_setup_teardown(test_overflow_merges_with_other_label, setup_metrics,
                                        teardown_metrics),
        cmocka_unit_test_setup_teardown(test_free_and_reinit, setup_metrics, teardown_metrics),
        cmocka_unit_test_setup_teardown(test_http_health, setup_http, teardown_http),
        cmocka_unit_test_setup_teardown(test_http_metrics, setup_http, teardown_http),
        cmocka_unit_test_setup_teardown(test_http_head, setup_http, teardown_http),
        cmocka_unit_test_setup_teardown(test_http_not_found_and_bad_method, setup_http,
                                        teardown_http),
        cmocka_unit_test_setup_teardown(test_http_limits, setup_http, teardown_http),
        cmocka_unit_test_setup_teardown(test_http_bind_error, setup_http, teardown_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
