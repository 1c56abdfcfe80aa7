/* test_config.c - the ini configuration: defaults, every key's validation, the exact
 * "FILE:LINE: [section] key: reason" messages, secret resolution, and that no message ever
 * contains the secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define SECRET "s3cr3t-Hunter2-xyzzy"

/* Lines 1-4 and 5-6 (or wherever they are appended). */
#define COMPONENT                                                                                  \
    "[component]\n"                                                                                \
    "host = 127.0.0.1\n"                                                                           \
    "domain = rooms.example.org\n"                                                                 \
    "secret = " SECRET "\n"
#define DATABASE                                                                                   \
    "[database]\n"                                                                                 \
    "conninfo = dbname=hippo\n"

typedef struct fixture {
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/hippo-test-config-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    unsetenv("CREDENTIALS_DIRECTORY");
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture *f = *state;
    unsetenv("CREDENTIALS_DIRECTORY");
    int rc = nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* Writes TEXT to DIR/NAME; the full path goes to PATH. */
static void write_file(const fixture *f, const char *name, const char *text, char *path,
                       size_t size)
{
    snprintf(path, size, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void load_ok(const fixture *f, const char *text, hippo_config *cfg)
{
    char path[256], err[1024];
    write_file(f, "hippod.ini", text, path, sizeof path);
    if (hippo_config_load(path, cfg, err, sizeof err) != 0)
        fail_msg("rejected: %s\n--- config:\n%s", err, text);
    assert_string_equal(err, "");
    assert_string_equal(cfg->path, path);
}

/* The load must fail with exactly "PATH:LINE: WHERE" (or "PATH: WHERE" for line 0),
 * followed by a reason containing REASON, and never mention the secret. */
static void expect_error_at(const char *path, int line, const char *where, const char *reason)
{
    char err[1024], prefix[512];
    hippo_config cfg;
    memset(&cfg, 0xA5, sizeof cfg);
    int rc = hippo_config_load(path, &cfg, err, sizeof err);
    if (rc != -1)
        fail_msg("accepted, expected an error with \"%s\"", reason);
    if (line > 0)
        snprintf(prefix, sizeof prefix, "%s:%d: %s", path, line, where);
    else
        snprintf(prefix, sizeof prefix, "%s: %s", path, where);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("got      \"%s\"\nexpected \"%s...\"", err, prefix);
    if (!strstr(err + strlen(prefix), reason))
        fail_msg("got \"%s\", reason should contain \"%s\"", err, reason);
    if (strstr(err, SECRET) || strstr(err, "Hunter2"))
        fail_msg("the secret leaked into: %s", err);
    assert_null(cfg.path); /* a failed load leaves nothing to free */
    assert_null(cfg.component_secret);
    assert_int_equal(cfg.n_clients, 0);
}

static void expect_error(const fixture *f, const char *text, int line, const char *where,
                         const char *reason)
{
    char path[256];
    write_file(f, "hippod.ini", text, path, sizeof path);
    expect_error_at(path, line, where, reason);
}

typedef struct bad_case {
    const char *text;
    int line; /* 0: no line in the message */
    const char *where;
    const char *reason;
} bad_case;

static void run_cases(void **state, const bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        print_message("case %zu: %s%s\n", i, cases[i].where, cases[i].reason);
        expect_error(*state, cases[i].text, cases[i].line, cases[i].where, cases[i].reason);
    }
}

#define RUN_CASES(state, cases) run_cases(state, cases, sizeof cases / sizeof cases[0])

static void test_minimal_config_gets_all_defaults(void **state)
{
    hippo_config cfg;
    load_ok(*state, COMPONENT DATABASE, &cfg);
    assert_string_equal(cfg.component_host, "127.0.0.1");
    assert_int_equal(cfg.component_port, 5347);
    assert_string_equal(cfg.component_domain, "rooms.example.org");
    assert_string_equal(cfg.component_secret, SECRET);
    assert_int_equal(cfg.reconnect_min_ms, 250);
    assert_int_equal(cfg.reconnect_max_ms, 30000);
    assert_int_equal(cfg.standby_retry_ms, 1000);
    assert_int_equal(cfg.stop_timeout_ms, 5000);
    assert_string_equal(cfg.database_conninfo, "dbname=hippo");
    assert_int_equal(cfg.database_connections, 1);
    assert_int_equal(cfg.database_max_queue_ms, 500);
    assert_string_equal(cfg.http_address, "127.0.0.1");
    assert_int_equal(cfg.http_port, 8347);
    assert_int_equal(cfg.log_level, HIPPO_LOG_INFO);
    assert_int_equal(cfg.rooms_max_body_bytes, 8192);
    assert_true(cfg.rooms_messages_per_second == 10.0);
    assert_int_equal(cfg.rooms_message_burst, 30);
    assert_int_equal(cfg.rooms_max_history, -1);
    assert_int_equal(cfg.rooms_max_occupants, 1000);
    assert_int_equal(cfg.rooms_batch_max, 256);
    assert_int_equal(cfg.push_live_post_interval_ms, 1000);
    assert_int_equal(cfg.n_clients, 0);
    assert_null(hippo_config_client(&cfg, "windows"));
    hippo_config_free(&cfg);
    assert_null(cfg.component_secret); /* zeroed: a second free is harmless */
    hippo_config_free(&cfg);
}

static void test_every_key_is_read(void **state)
{
    hippo_config cfg;
    load_ok(*state,
            "; a comment\n"
            "# another\n"
            "[component]\n"
            "host = xmpp.example.org\n"
            "port = 5348 ; inline comment\n"
            "domain = rooms.example-1.org\n"
            "secret: " SECRET "\n"
            "reconnect_min_ms = 100\n"
            "reconnect_max_ms = 100\n"
            "standby_retry_ms = 200\n"
            "stop_timeout_ms = 0\n"
            "[database]\n"
            "conninfo = host=/var/run/postgresql dbname=hippo password='a b'\n"
            "connections = 16\n"
            "max_queue_ms = 10\n"
            "[http]\n"
            "address = ::1\n"
            "port = 0\n"
            "[log]\n"
            "level = debug\n"
            "[rooms]\n"
            "max_body_bytes = 1048576\n"
            "messages_per_second = 2.5\n"
            "message_burst = 1\n"
            "max_history = 0\n"
            "max_occupants = 7\n"
            "batch_max = 4096\n"
            "[push]\n"
            "live_post_interval_ms = 0\n",
            &cfg);
    assert_string_equal(cfg.component_host, "xmpp.example.org");
    assert_int_equal(cfg.component_port, 5348);
    assert_string_equal(cfg.component_domain, "rooms.example-1.org");
    assert_string_equal(cfg.component_secret, SECRET);
    assert_int_equal(cfg.reconnect_min_ms, 100);
    assert_int_equal(cfg.reconnect_max_ms, 100);
    assert_int_equal(cfg.standby_retry_ms, 200);
    assert_int_equal(cfg.stop_timeout_ms, 0);
    assert_string_equal(cfg.database_conninfo,
                        "host=/var/run/postgresql dbname=hippo password='a b'");
    assert_int_equal(cfg.database_connections, 16);
    assert_int_equal(cfg.database_max_queue_ms, 10);
    assert_string_equal(cfg.http_address, "::1");
    assert_int_equal(cfg.http_port, 0);
    assert_int_equal(cfg.log_level, HIPPO_LOG_DEBUG);
    assert_int_equal(cfg.rooms_max_body_bytes, 1048576);
    assert_true(cfg.rooms_messages_per_second == 2.5);
    assert_int_equal(cfg.rooms_message_burst, 1);
    assert_int_equal(cfg.rooms_max_history, 0);
    assert_int_equal(cfg.rooms_max_occupants, 7);
    assert_int_equal(cfg.rooms_batch_max, 4096);
    assert_int_equal(cfg.push_live_post_interval_ms, 0);
    hippo_config_free(&cfg);
}

static void test_empty_http_address_disables_listener(void **state)
{
    hippo_config cfg;
    load_ok(*state, COMPONENT DATABASE "[http]\naddress =\n", &cfg);
    assert_string_equal(cfg.http_address, "");
    assert_int_equal(cfg.http_port, 0);
    hippo_config_free(&cfg);
}

static void test_bad_component_values(void **state)
{
    static const bad_case cases[] = {
        {COMPONENT "port = 0\n" DATABASE, 5,
         "[component] port: ", "\"0\" is out of range (1..65535)"},
        {COMPONENT "port = 65536\n" DATABASE, 5, "[component] port: ", "out of range"},
        {COMPONENT "port = 99999999999999999999\n" DATABASE, 5,
         "[component] port: ", "out of range"},
        {COMPONENT "port = 53x\n" DATABASE, 5, "[component] port: ", "\"53x\" is not an integer"},
        {COMPONENT "port = +5\n" DATABASE, 5, "[component] port: ", "is not an integer"},
        {COMPONENT "port = 5 6\n" DATABASE, 5, "[component] port: ", "is not an integer"},
        {COMPONENT "port =\n" DATABASE, 5, "[component] port: ", "empty value"},
        {COMPONENT "reconnect_min_ms = 0\n" DATABASE, 5,
         "[component] reconnect_min_ms: ", "out of range"},
        {COMPONENT "standby_retry_ms = 99\n" DATABASE, 5,
         "[component] standby_retry_ms: ", "\"99\" is out of range (100..60000)"},
        {COMPONENT "stop_timeout_ms = -1\n" DATABASE, 5,
         "[component] stop_timeout_ms: ", "\"-1\" is out of range (0..60000)"},
        {COMPONENT "stop_timeout_ms = 60001\n" DATABASE, 5,
         "[component] stop_timeout_ms: ", "out of range"},
        {COMPONENT "reconnect_max_ms = 100\n" DATABASE, 5,
         "[component] reconnect_max_ms: ", "100 is less than reconnect_min_ms (250)"},
        {COMPONENT "reconnect_max_ms = 500\nreconnect_min_ms = 600\n" DATABASE, 5,
         "[component] reconnect_max_ms: ", "less than reconnect_min_ms (600)"},
        {"[component]\nsecret = " SECRET
         "\nhost = 127.0.0.1\ndomain = Rooms.example.org\n" DATABASE,
         4, "[component] domain: ", "lowercase"},
        {"[component]\nsecret = " SECRET "\nhost = 127.0.0.1\ndomain = user@example.org\n" DATABASE,
         4, "[component] domain: ", "\"user@example.org\" may only hold"},
        {"[component]\nsecret = " SECRET "\nhost = 127.0.0.1\ndomain = rooms/x\n" DATABASE, 4,
         "[component] domain: ", "may only hold"},
        {"[component]\nsecret = " SECRET "\nhost = 127.0.0.1\ndomain = a..b\n" DATABASE, 4,
         "[component] domain: ", "empty label"},
        {"[component]\nsecret = " SECRET "\nhost = 127.0.0.1\ndomain = -a.b\n" DATABASE, 4,
         "[component] domain: ", "starts or ends with '-'"},
        {"[component]\nsecret = " SECRET "\ndomain = a.b\nhost = my host\n" DATABASE, 4,
         "[component] host: ", "\"my host\" is not a host name or address"},
        {"[component]\nsecret = " SECRET "\ndomain = a.b\nhost =\n" DATABASE, 4,
         "[component] host: ", "empty value"},
    };
    RUN_CASES(state, cases);
}

static void test_bad_other_values(void **state)
{
    static const bad_case cases[] = {
        {COMPONENT DATABASE "[http]\naddress = localhost\n", 8,
         "[http] address: ", "\"localhost\" is not a numeric IPv4 or IPv6 address"},
        {COMPONENT DATABASE "[http]\nport = 65536\n", 8, "[http] port: ", "(0..65535)"},
        {COMPONENT DATABASE "[http]\nport = -1\n", 8, "[http] port: ", "out of range"},
        {COMPONENT DATABASE "[log]\nlevel = verbose\n", 8,
         "[log] level: ", "\"verbose\" is not one of error, warning, notice, info, debug"},
        {COMPONENT DATABASE "[log]\nlevel = INFO\n", 8, "[log] level: ", "is not one of"},
        {COMPONENT DATABASE "[rooms]\nmax_body_bytes = 0\n", 8,
         "[rooms] max_body_bytes: ", "(1..1048576)"},
        {COMPONENT DATABASE "[rooms]\nmax_body_bytes = 1048577\n", 8,
         "[rooms] max_body_bytes: ", "out of range"},
        {COMPONENT DATABASE "[rooms]\nmessages_per_second = 0\n", 8,
         "[rooms] messages_per_second: ", "greater than 0"},
        {COMPONENT DATABASE "[rooms]\nmessages_per_second = -1\n", 8,
         "[rooms] messages_per_second: ", "not a decimal number"},
        {COMPONENT DATABASE "[rooms]\nmessages_per_second = 1e3\n", 8,
         "[rooms] messages_per_second: ", "not a decimal number"},
        {COMPONENT DATABASE "[rooms]\nmessages_per_second = inf\n", 8,
         "[rooms] messages_per_second: ", "not a decimal number"},
        {COMPONENT DATABASE "[rooms]\nmessages_per_second = 1.\n", 8,
         "[rooms] messages_per_second: ", "not a decimal number"},
        {COMPONENT DATABASE "[rooms]\nmessage_burst = 0\n", 8,
         "[rooms] message_burst: ", "out of range"},
        {COMPONENT DATABASE "[rooms]\nmax_history = -2\n", 8,
         "[rooms] max_history: ", "(-1..2147483647)"},
        {COMPONENT DATABASE "[rooms]\nmax_occupants = 0\n", 8,
         "[rooms] max_occupants: ", "out of range"},
        {COMPONENT DATABASE "[rooms]\nmax_occupants = 2147483648\n", 8,
         "[rooms] max_occupants: ", "out of range"},
        {COMPONENT DATABASE "[rooms]\nbatch_max = 0\n", 8,
         "[rooms] batch_max: ", "\"0\" is out of range (1..4096)"},
        {COMPONENT DATABASE "[rooms]\nbatch_max = 4097\n", 8,
         "[rooms] batch_max: ", "out of range"},
        {COMPONENT DATABASE "[push]\nlive_post_interval_ms = -1\n", 8,
         "[push] live_post_interval_ms: ", "(0..3600000)"},
        {COMPONENT DATABASE "[push]\nlive_post_interval_ms = 3600001\n", 8,
         "[push] live_post_interval_ms: ", "out of range"},
        {COMPONENT DATABASE "[push]\nlive_post_interval_ms = 1s\n", 8,
         "[push] live_post_interval_ms: ", "is not an integer"},
        {COMPONENT "[database]\nconninfo = host=x bogus=1\n", 6,
         "[database] conninfo: ", "invalid libpq conninfo: invalid connection option \"bogus\""},
        {COMPONENT "[database]\nconninfo = host='x\n", 6,
         "[database] conninfo: ", "invalid libpq conninfo: unterminated quoted string"},
        {COMPONENT "[database]\nconninfo =\n", 6, "[database] conninfo: ", "empty value"},
        {COMPONENT DATABASE "connections = 0\n", 7,
         "[database] connections: ", "\"0\" is out of range (1..16)"},
        {COMPONENT DATABASE "connections = 17\n", 7, "[database] connections: ", "out of range"},
        {COMPONENT DATABASE "connections = two\n", 7,
         "[database] connections: ", "is not an integer"},
        {COMPONENT DATABASE "max_queue_ms = 9\n", 7,
         "[database] max_queue_ms: ", "\"9\" is out of range (10..60000)"},
        {COMPONENT DATABASE "max_queue_ms = 60001\n", 7,
         "[database] max_queue_ms: ", "out of range"},
        {COMPONENT DATABASE "max_queue_ms = 0.5\n", 7,
         "[database] max_queue_ms: ", "is not an integer"},
        {COMPONENT DATABASE "connections = 2\nconnections = 3\n", 8,
         "[database] connections: ", "duplicate key (first set at line 7)"},
    };
    RUN_CASES(state, cases);
}

static void test_structure_errors(void **state)
{
    static const bad_case cases[] = {
        {COMPONENT DATABASE "[bogus]\n", 7, "[bogus]: ", "unknown section"},
        {COMPONENT DATABASE "[bogus]\nkey = 1\n", 7, "[bogus]: ", "unknown section"},
        {COMPONENT "hots = x\n" DATABASE, 5, "[component] hots: ", "unknown key"},
        {COMPONENT DATABASE "[rooms]\nmax_bodybytes = 1\n", 8,
         "[rooms] max_bodybytes: ", "unknown key"},
        {COMPONENT DATABASE "[push]\ninterval = 1\n", 8, "[push] interval: ", "unknown key"},
        {COMPONENT "host = 10.0.0.1\n" DATABASE, 5,
         "[component] host: ", "duplicate key (first set at line 2)"},
        {COMPONENT DATABASE "[component]\nport = 1\n", 7,
         "[component]: ", "duplicate section (first at line 1)"},
        {"host = x\n" COMPONENT DATABASE, 1, "host: ", "key outside of any section"},
        {COMPONENT "just some words\n" DATABASE, 5,
         "[component]: ", "expected \"key = value\" or \"[section]\""},
        {COMPONENT "= 5\n" DATABASE, 5, "[component]: ", "missing key name"},
        {COMPONENT "[database\n", 5, "", "section header without closing ']'"},
        {COMPONENT "[database] x\n", 5, "", "unexpected text after section header"},
        {COMPONENT "  port = 5\n" DATABASE, 5, "[component]: ", "line starts with whitespace"},
        {COMPONENT DATABASE "[client windows]\n", 7,
         "[client windows]: ", "expected [client \"NAME\"]"},
        {COMPONENT DATABASE "[client \"Windows\"]\n", 7,
         "[client \"Windows\"]: ", "expected [client \"NAME\"]"},
        {COMPONENT DATABASE "[client \"\"]\n", 7, "[client \"\"]: ", "expected [client"},
    };
    RUN_CASES(state, cases);
}

static void test_missing_required_keys(void **state)
{
    static const bad_case cases[] = {
        {"[component]\nhost = h\nsecret = " SECRET "\n" DATABASE, 1,
         "[component] domain: ", "required key missing"},
        {"[database]\nconninfo = dbname=x\n[component]\ndomain = a.b\nsecret = " SECRET "\n", 3,
         "[component] host: ", "required key missing"},
        {COMPONENT, 0, "[database] conninfo: ", "required key missing"},
        {COMPONENT "[database]\n", 5, "[database] conninfo: ", "required key missing"},
        {DATABASE, 0, "[component] host: ", "required key missing"},
        {"", 0, "[component] host: ", "required key missing"},
    };
    RUN_CASES(state, cases);
}

/* inih (Debian's build) reads lines into a 200-byte buffer and would split a longer line
 * into two silently; hippod takes up to 198 bytes and rejects the rest. */
static void test_long_line_is_an_error_not_a_split(void **state)
{
    const char *key = "conninfo = ";
    char line[512], text[1024];
    for (size_t len = 198; len <= 400; len += len == 198 ? 1 : 201) {
        snprintf(line, sizeof line, "%sdbname=x application_name=", key);
        size_t have = strlen(line);
        memset(line + have, 'a', len - have);
        line[len] = '\0';
        snprintf(text, sizeof text, COMPONENT "[database]\n%s\n", line);
        if (len > 198) {
            expect_error(*state, text, 6, "", "line is longer than 198 bytes");
            continue;
        }
        hippo_config cfg;
        load_ok(*state, text, &cfg);
        assert_string_equal(cfg.database_conninfo, line + strlen(key));
        hippo_config_free(&cfg);
    }
}

static void test_nul_byte_is_an_error(void **state)
{
    const fixture *f = *state;
    static const char text[] = COMPONENT "[database]\nconninfo = dbname=x\0y\n";
    char path[256];
    snprintf(path, sizeof path, "%s/hippod.ini", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, sizeof text - 1, fp), sizeof text - 1);
    assert_int_equal(fclose(fp), 0);
    expect_error_at(path, 6, "", "line contains a NUL byte");
}

static void test_missing_file(void **state)
{
    const fixture *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/does-not-exist.ini", f->dir);
    expect_error_at(path, 0, "cannot open: ", "No such file or directory");
    expect_error_at(f->dir, 0, "cannot open: ", "Is a directory");
}

static void test_error_without_buffer_still_fails(void **state)
{
    char path[256];
    write_file(*state, "hippod.ini", COMPONENT "port = x\n" DATABASE, path, sizeof path);
    hippo_config cfg;
    assert_int_equal(hippo_config_load(path, &cfg, NULL, 0), -1);
    char tiny[8];
    assert_int_equal(hippo_config_load(path, &cfg, tiny, sizeof tiny), -1);
    assert_int_equal(strlen(tiny), sizeof tiny - 1); /* truncated, terminated */
}

/* ---- the secret ---- */

#define COMPONENT_NO_SECRET                                                                        \
    "[component]\n"                                                                                \
    "host = 127.0.0.1\n"                                                                           \
    "domain = rooms.example.org\n"

static void test_secret_file_absolute_strips_newline(void **state)
{
    const fixture *f = *state;
    char secret_path[256], text[1024];
    write_file(f, "secret", SECRET "\r\n", secret_path, sizeof secret_path);
    snprintf(text, sizeof text, COMPONENT_NO_SECRET "secret_file = %s\n" DATABASE, secret_path);
    hippo_config cfg;
    load_ok(f, text, &cfg);
    assert_string_equal(cfg.component_secret, SECRET);
    hippo_config_free(&cfg);
}

static void test_secret_file_relative_to_config_dir(void **state)
{
    const fixture *f = *state;
    char secret_path[256];
    write_file(f, "the-secret", SECRET "\n", secret_path, sizeof secret_path);
    hippo_config cfg;
    load_ok(f, COMPONENT_NO_SECRET "secret_file = the-secret\n" DATABASE, &cfg);
    assert_string_equal(cfg.component_secret, SECRET);
    hippo_config_free(&cfg);
}

static void test_secret_file_relative_to_credentials_dir(void **state)
{
    const fixture *f = *state;
    char creds[128], path[256];
    snprintf(creds, sizeof creds, "%s/creds", f->dir);
    assert_int_equal(mkdir(creds, 0700), 0);
    write_file(f, "creds/the-secret", "from-credentials\n", path, sizeof path);
    write_file(f, "the-secret", "from-config-dir\n", path, sizeof path);
    setenv("CREDENTIALS_DIRECTORY", creds, 1);
    hippo_config cfg;
    load_ok(f, COMPONENT_NO_SECRET "secret_file = the-secret\n" DATABASE, &cfg);
    assert_string_equal(cfg.component_secret, "from-credentials");
    hippo_config_free(&cfg);
}

static void test_credential_used_when_no_secret_key(void **state)
{
    const fixture *f = *state;
    char creds[128], path[256];
    snprintf(creds, sizeof creds, "%s/creds", f->dir);
    assert_int_equal(mkdir(creds, 0700), 0);
    write_file(f, "creds/hippod-secret", SECRET "\n", path, sizeof path);
    setenv("CREDENTIALS_DIRECTORY", creds, 1);
    hippo_config cfg;
    load_ok(f, COMPONENT_NO_SECRET DATABASE, &cfg);
    assert_string_equal(cfg.component_secret, SECRET);
    hippo_config_free(&cfg);

    /* an inline secret wins over the credential */
    load_ok(f, COMPONENT_NO_SECRET "secret = inline\n" DATABASE, &cfg);
    assert_string_equal(cfg.component_secret, "inline");
    hippo_config_free(&cfg);
}

static void test_secret_errors(void **state)
{
    const fixture *f = *state;
    char path[256], empty_path[256], text[1024];
    write_file(f, "empty", "\n", empty_path, sizeof empty_path);

    expect_error(f, COMPONENT "secret_file = x\n" DATABASE, 5,
                 "[component] secret_file: ", "secret and secret_file are both set");
    expect_error(f, COMPONENT_NO_SECRET "secret_file = x\nsecret = " SECRET "\n" DATABASE, 5,
                 "[component] secret: ", "secret and secret_file are both set");
    expect_error(f, COMPONENT_NO_SECRET DATABASE, 1,
                 "[component] secret: ", "required key missing");
    expect_error(f, COMPONENT_NO_SECRET "secret =\n" DATABASE, 4,
                 "[component] secret: ", "empty value");
    snprintf(text, sizeof text, COMPONENT_NO_SECRET "secret_file = %s\n" DATABASE, empty_path);
    expect_error(f, text, 4, "[component] secret_file: ", "is empty");
    snprintf(path, sizeof path, "%s/nope", f->dir);
    expect_error(f, COMPONENT_NO_SECRET "secret_file = nope\n" DATABASE, 4,
                 "[component] secret_file: ", "No such file or directory");
    write_file(f, "hippod.ini", COMPONENT_NO_SECRET "secret_file = nope\n" DATABASE, text,
               sizeof text);
    char err[1024];
    hippo_config cfg;
    assert_int_equal(hippo_config_load(text, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, path)); /* names the resolved path */

    /* CREDENTIALS_DIRECTORY set, but no hippod-secret in it */
    setenv("CREDENTIALS_DIRECTORY", f->dir, 1);
    expect_error(f, COMPONENT_NO_SECRET DATABASE, 1,
                 "[component] secret: ", "required key missing");
}

/* Every way the secret can sit in a bad file: the message never shows it. */
static void test_secret_never_in_messages(void **state)
{
    static const bad_case cases[] = {
        {COMPONENT "  " SECRET "\n" DATABASE, 5, "[component]: ", "starts with whitespace"},
        {COMPONENT SECRET "\n" DATABASE, 5, "[component]: ", "expected \"key = value\""},
        {COMPONENT "secret = " SECRET "\n" DATABASE, 5, "[component] secret: ", "duplicate key"},
        {COMPONENT "secret_file = " SECRET "\n" DATABASE, 5,
         "[component] secret_file: ", "both set"},
        {COMPONENT "[database]\nconninfo = host=x " SECRET "\n", 6,
         "[database] conninfo: ", "missing \"=\" after \"...\""},
        {COMPONENT "[database]\nconninfo = host=x password " SECRET "\n", 6,
         "[database] conninfo: ", "invalid libpq conninfo"},
        {COMPONENT "[database]\nconninfo = postgresql://u:" SECRET "%zz@h/db\n", 6,
         "[database] conninfo: ", "invalid libpq conninfo"},
        {COMPONENT "[database]\nconninfo = postgresql://u:" SECRET "@[::1/db\n", 6,
         "[database] conninfo: ", "invalid libpq conninfo"},
        {COMPONENT "[" SECRET "\n" DATABASE, 5, "", "without closing ']'"},
    };
    RUN_CASES(state, cases);
}

/* Found by fuzz/fuzz_config.c: libpq quotes an unknown conninfo keyword back verbatim, and a
 * secret_file name is part of its message, so control bytes (a terminal escape, a line
 * break) reached the log line. They become '?'. */
static void test_control_bytes_never_in_messages(void **state)
{
    static const bad_case cases[] = {
        {COMPONENT "[database]\nconninfo = db\x1b"
                   "ame='x'\n",
         6, "[database] conninfo: ", "invalid connection option \"db?ame\""},
        {"[component]\nhost = h\ndomain = d\nsecret_file = a\x1b[31m\x7f\n" DATABASE, 4,
         "[component] secret_file: ", "/a?[31m? "},
    };
    RUN_CASES(state, cases);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], err[1024];
        hippo_config cfg;
        write_file(*state, "hippod.ini", cases[i].text, path, sizeof path);
        assert_int_equal(hippo_config_load(path, &cfg, err, sizeof err), -1);
        for (const char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                fail_msg("control byte 0x%02x in: %s", (unsigned char)*c, err);
    }
}

/* ---- [client "NAME"] ---- */

static void test_clients_in_file_order(void **state)
{
    hippo_config cfg;
    load_ok(*state,
            COMPONENT DATABASE "[client \"windows\"]\n"
                               "minimum = 1.1.60\n"
                               "current = 1.1.72\n"
                               "download = https://example.org/MugshotSetup.exe\n"
                               "[client \"linux\"]\n"
                               "download = http://example.org/mugshot.rpm\n"
                               "current = 1.2\n"
                               "minimum = 1.2.0\n"
                               "[client \"x11\"]\n"
                               "minimum = 1\n"
                               "current = 1\n"
                               "download = https://example.org/x\n",
            &cfg);
    assert_int_equal(cfg.n_clients, 3);
    assert_string_equal(cfg.clients[0].platform, "windows");
    assert_string_equal(cfg.clients[1].platform, "linux");
    assert_string_equal(cfg.clients[2].platform, "x11");
    const hippo_client_platform *lin = hippo_config_client(&cfg, "linux");
    assert_ptr_equal(lin, &cfg.clients[1]);
    assert_string_equal(lin->minimum, "1.2.0");
    assert_string_equal(lin->current, "1.2");
    assert_string_equal(lin->download, "http://example.org/mugshot.rpm");
    const hippo_client_platform *win = hippo_config_client(&cfg, "windows");
    assert_string_equal(win->minimum, "1.1.60");
    assert_string_equal(win->current, "1.1.72");
    assert_null(hippo_config_client(&cfg, "mac"));
    assert_null(hippo_config_client(&cfg, "Windows"));
    assert_null(hippo_config_client(&cfg, NULL));
    hippo_config_free(&cfg);
}

#define CLIENT_HEAD COMPONENT DATABASE "[client \"windows\"]\n" /* header on line 7 */

static void test_bad_clients(void **state)
{
    static const bad_case cases[] = {
        {CLIENT_HEAD "minimum = 1.1\ncurrent = 1.2\n", 7,
         "[client \"windows\"] download: ", "required key missing"},
        {CLIENT_HEAD "minimum = 1.x\n", 8,
         "[client \"windows\"] minimum: ", "\"1.x\" is not a version"},
        {CLIENT_HEAD "current = 1..2\n", 8, "[client \"windows\"] current: ", "is not a version"},
        {CLIENT_HEAD "current = v1\n", 8, "[client \"windows\"] current: ", "is not a version"},
        {CLIENT_HEAD "download = ftp://example.org/x\n", 8,
         "[client \"windows\"] download: ", "is not an http:// or https:// URL"},
        {CLIENT_HEAD "download = https://\n", 8,
         "[client \"windows\"] download: ", "is not an http"},
        {CLIENT_HEAD "download =\n", 8, "[client \"windows\"] download: ", "empty value"},
        {CLIENT_HEAD "minimum = 1.10\ncurrent = 1.9\ndownload = https://e.org/x\n", 8,
         "[client \"windows\"] minimum: ", "1.10 is newer than current (1.9)"},
        {CLIENT_HEAD "min = 1\n", 8, "[client \"windows\"] min: ", "unknown key"},
        {CLIENT_HEAD "minimum = 1\nminimum = 2\n", 9,
         "[client \"windows\"] minimum: ", "duplicate key (first set at line 8)"},
        {CLIENT_HEAD "minimum = 1\ncurrent = 1\ndownload = https://e.org/x\n"
                     "[client \"windows\"]\n",
         11, "[client \"windows\"]: ", "duplicate section (first at line 7)"},
    };
    RUN_CASES(state, cases);
}

/* The shipped example must stay valid; it takes its secret from LoadCredential=. */
static void test_shipped_example_loads(void **state)
{
    const fixture *f = *state;
    const char *srcdir = getenv("SRCDIR");
    if (!srcdir)
        fail_msg("SRCDIR is not set (meson test sets it)");
    char example[512], path[256], err[1024];
    snprintf(example, sizeof example, "%s/contrib/hippod.ini.example", srcdir);
    write_file(f, "hippod-secret", SECRET "\n", path, sizeof path);
    setenv("CREDENTIALS_DIRECTORY", f->dir, 1);
    hippo_config cfg;
    if (hippo_config_load(example, &cfg, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.component_secret, SECRET);
    assert_non_null(hippo_config_client(&cfg, "windows"));
    assert_non_null(hippo_config_client(&cfg, "linux"));
    hippo_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_minimal_config_gets_all_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_key_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_http_address_disables_listener, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_component_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_other_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structure_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_required_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_is_an_error_not_a_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_without_buffer_still_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_absolute_strips_newline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_relative_to_config_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_relative_to_credentials_dir, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_credential_used_when_no_secret_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_never_in_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_bytes_never_in_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clients_in_file_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shipped_example_loads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
