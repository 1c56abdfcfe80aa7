/* test_log.c - level names, the plain and journald line formats, level filtering,
 * JOURNAL_STREAM matching, and that concurrent writers never interleave inside a line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* stderr redirected into a temporary file for the length of a test. */
typedef struct capture {
    FILE *file;
    int saved_stderr;
    char text[16384];
} capture;

static void capture_start(capture *c)
{
    c->file = tmpfile();
    assert_non_null(c->file);
    fflush(stderr);
    c->saved_stderr = dup(STDERR_FILENO);
    assert_true(c->saved_stderr >= 0);
    assert_int_equal(dup2(fileno(c->file), STDERR_FILENO), STDERR_FILENO);
}

/* Restores stderr and returns everything written meanwhile (in c->text). */
static const char *capture_end(capture *c)
{
    assert_int_equal(dup2(c->saved_stderr, STDERR_FILENO), STDERR_FILENO);
    close(c->saved_stderr);
    rewind(c->file);
    size_t n = fread(c->text, 1, sizeof c->text - 1, c->file);
    c->text[n] = '\0';
    fclose(c->file);
    return c->text;
}

/* "DEV:INODE" of FD, the way systemd writes JOURNAL_STREAM. */
static void stream_id(int fd, char *out, size_t size)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    snprintf(out, size, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
}

static void assert_matches(const char *text, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("\"%s\" does not match /%s/", text, pattern);
}

static int setup(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    return 0;
}

static void test_level_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum hippo_log_level level;
    } known[] = {{"error", HIPPO_LOG_ERR},
                 {"warning", HIPPO_LOG_WARNING},
                 {"notice", HIPPO_LOG_NOTICE},
                 {"info", HIPPO_LOG_INFO},
                 {"debug", HIPPO_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        enum hippo_log_level level = HIPPO_LOG_ERR;
        assert_int_equal(hippo_log_level_parse(known[i].name, &level), 0);
        assert_int_equal(level, known[i].level);
        assert_string_equal(hippo_log_level_name(level), known[i].name);
    }
    static const char *const bad[] = {"", "warn", "INFO", "Info", "info ", "err", "7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum hippo_log_level level = HIPPO_LOG_NOTICE;
        assert_int_equal(hippo_log_level_parse(bad[i], &level), -1);
        assert_int_equal(level, HIPPO_LOG_NOTICE); /* untouched */
    }
    enum hippo_log_level level;
    assert_int_equal(hippo_log_level_parse(NULL, &level), -1);
    assert_string_equal(hippo_log_level_name((enum hippo_log_level)42), "unknown");
}

static void test_plain_format(void **state)
{
    (void)state;
    capture c;
    capture_start(&c);
    hippo_logger log;
    hippo_log_init(&log, HIPPO_LOG_DEBUG);
    time_t before = time(NULL);
    hippo_log(&log, HIPPO_LOG_INFO, "hello %d %s", 42, "world");
    hippo_log(&log, HIPPO_LOG_ERR, "bad");
    hippo_log(&log, HIPPO_LOG_DEBUG, "detail");
    time_t after = time(NULL);
    const char *out = capture_end(&c);
    assert_false(log.journald);

    const char *stamp = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";
    char pattern[512];
    snprintf(pattern, sizeof pattern, "^%s INFO hello 42 world\n%s ERROR bad\n%s DEBUG detail\n$",
             stamp, stamp, stamp);
    assert_matches(out, pattern);

    struct tm tm = {0};
    assert_non_null(strptime(out, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t logged = timegm(&tm); /* UTC, not local time */
    assert_true(logged >= before && logged <= after);
}

static void test_journald_format(void **state)
{
    (void)state;
    capture c;
    capture_start(&c);
    char id[64];
    stream_id(STDERR_FILENO, id, sizeof id);
    setenv("JOURNAL_STREAM", id, 1);
    hippo_logger log;
    hippo_log_init(&log, HIPPO_LOG_DEBUG);
    hippo_log(&log, HIPPO_LOG_ERR, "e");
    hippo_log(&log, HIPPO_LOG_WARNING, "w %s", "x");
    hippo_log(&log, HIPPO_LOG_NOTICE, "n");
    hippo_log(&log, HIPPO_LOG_INFO, "i");
    hippo_log(&log, HIPPO_LOG_DEBUG, "d");
    hippo_log(&log, HIPPO_LOG_INFO, "two\nlines\r\n");
    const char *out = capture_end(&c);
    assert_true(log.journald);
    assert_string_equal(out, "<3>e\n<4>w x\n<5>n\n<6>i\n<7>d\n<6>two lines  \n");
}

static void test_level_filter(void **state)
{
    (void)state;
    capture c;
    capture_start(&c);
    hippo_logger log = {.level = HIPPO_LOG_WARNING, .journald = true};
    hippo_log(&log, HIPPO_LOG_DEBUG, "dropped debug");
    hippo_log(&log, HIPPO_LOG_INFO, "dropped info");
    hippo_log(&log, HIPPO_LOG_NOTICE, "dropped notice");
    hippo_log(&log, HIPPO_LOG_WARNING, "kept warning");
    hippo_log(&log, HIPPO_LOG_ERR, "kept error");
    log.level = HIPPO_LOG_ERR;
    hippo_log(&log, HIPPO_LOG_WARNING, "dropped warning");
    hippo_log(&log, HIPPO_LOG_ERR, "kept error 2");
    const char *out = capture_end(&c);
    assert_string_equal(out, "<4>kept warning\n<3>kept error\n<3>kept error 2\n");
}

static void test_journal_stream_matching(void **state)
{
    (void)state;
    capture c;
    capture_start(&c);
    char id[64];
    stream_id(STDERR_FILENO, id, sizeof id);
    struct stat st;
    assert_int_equal(fstat(STDERR_FILENO, &st), 0);
    char other_inode[64], other_dev[64], with_sign[80], trailing[80];
    snprintf(other_inode, sizeof other_inode, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    snprintf(other_dev, sizeof other_dev, "%llu:%llu", (unsigned long long)st.st_dev + 1,
             (unsigned long long)st.st_ino);
    snprintf(with_sign, sizeof with_sign, "+%s", id);
    snprintf(trailing, sizeof trailing, "%sx", id);
    const char *const no[] = {other_inode, other_dev, with_sign, trailing, "",
                              "abc",       "1:",      ":1",      "1",      "-1:-1"};
    hippo_logger log;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        setenv("JOURNAL_STREAM", no[i], 1);
        hippo_log_init(&log, HIPPO_LOG_INFO);
        if (log.journald) {
            capture_end(&c);
            fail_msg("JOURNAL_STREAM=\"%s\" taken as journald (stderr is %s)", no[i], id);
        }
    }
    unsetenv("JOURNAL_STREAM");
    hippo_log_init(&log, HIPPO_LOG_INFO);
    bool unset_journald = log.journald;
    setenv("JOURNAL_STREAM", id, 1);
    hippo_log_init(&log, HIPPO_LOG_NOTICE);
    capture_end(&c);
    assert_false(unset_journald);
    assert_true(log.journald);
    assert_int_equal(log.level, HIPPO_LOG_NOTICE);
}

static void test_long_message_is_one_cut_line(void **state)
{
    (void)state;
    static char big[10000];
    memset(big, 'x', sizeof big - 1);
    capture c;
    capture_start(&c);
    hippo_logger log = {.level = HIPPO_LOG_INFO, .journald = true};
    hippo_log(&log, HIPPO_LOG_INFO, "%s", big);
    hippo_log(&log, HIPPO_LOG_INFO, "after");
    const char *out = capture_end(&c);
    const char *nl = strchr(out, '\n');
    assert_non_null(nl);
    size_t first = (size_t)(nl - out) + 1;
    assert_true(first <= 4096);
    assert_true(first > 4000);
    assert_memory_equal(out, "<6>xxx", 6);
    assert_memory_equal(nl - 3, "...", 3);
    assert_string_equal(nl + 1, "<6>after\n");
}

static void test_errno_preserved_and_null_logger(void **state)
{
    (void)state;
    capture c;
    capture_start(&c);
    hippo_logger log = {.level = HIPPO_LOG_INFO, .journald = true};
    errno = EACCES;
    hippo_log(&log, HIPPO_LOG_ERR, "open failed: %s", strerror(errno));
    int after_log = errno;
    errno = EACCES;
    hippo_log(&log, HIPPO_LOG_DEBUG, "dropped");
    int after_dropped = errno;
    hippo_log(NULL, HIPPO_LOG_DEBUG, "dropped too"); /* NULL: info, plain */
    hippo_log(NULL, HIPPO_LOG_NOTICE, "plain");
    const char *out = capture_end(&c);
    assert_int_equal(after_log, EACCES);
    assert_int_equal(after_dropped, EACCES);
    assert_matches(out, "^<3>open failed: Permission denied\n[0-9T:.Z-]+ NOTICE plain\n$");
}

static void vlog_wrapper(const hippo_logger *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hippo_vlog(log, HIPPO_LOG_NOTICE, fmt, ap);
    va_end(ap);
}

static void test_vlog(void **state)
{
    (void)state;
    capture c;
    capture_start(&c);
    hippo_logger log = {.level = HIPPO_LOG_INFO, .journald = true};
    vlog_wrapper(&log, "%s=%d", "n", 7);
    const char *out = capture_end(&c);
    assert_string_equal(out, "<5>n=7\n");
}

enum { WRITERS = 4, LINES_PER_WRITER = 400, PAYLOAD = 200 };

static bool is_payload(const char *s, char ch)
{
    size_t n = 0;
    while (s[n] == ch)
        n++;
    return n == PAYLOAD && s[n] == '\0';
}

/* Several processes share one pipe as stderr, as they would a journald stream: each line
 * must arrive whole, which holds only if a line is a single write(). */
static void test_concurrent_lines_do_not_interleave(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            close(fds[0]);
            dup2(fds[1], STDERR_FILENO);
            hippo_logger log = {.level = HIPPO_LOG_INFO, .journald = false};
            char payload[PAYLOAD + 1];
            memset(payload, 'a' + w, PAYLOAD);
            payload[PAYLOAD] = '\0';
            for (int i = 0; i < LINES_PER_WRITER; i++)
                hippo_log(&log, HIPPO_LOG_INFO, "w%d %04d %s", w, i, payload);
            _exit(0);
        }
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    assert_non_null(in);
    char line[1024];
    int seen[WRITERS] = {0};
    while (fgets(line, sizeof line, in)) {
        int w = -1, i = -1;
        char payload[256];
        char *msg = strstr(line, " INFO ");
        if (!msg || sscanf(msg, " INFO w%d %d %255s", &w, &i, payload) != 3 || w < 0 ||
            w >= WRITERS || !is_payload(payload, (char)('a' + w)) || i != seen[w])
            fail_msg("mangled or reordered line: %s", line);
        seen[w]++;
    }
    fclose(in);
    for (int w = 0; w < WRITERS; w++) {
        int status;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(seen[w], LINES_PER_WRITER);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_level_names, setup),
        cmocka_unit_test_setup(test_plain_format, setup),
        cmocka_unit_test_setup(test_journald_format, setup),
        cmocka_unit_test_setup(test_level_filter, setup),
        cmocka_unit_test_setup(test_journal_stream_matching, setup),
        cmocka_unit_test_setup(test_long_message_is_one_cut_line, setup),
        cmocka_unit_test_setup(test_errno_preserved_and_null_logger, setup),
        cmocka_unit_test_setup(test_vlog, setup),
        cmocka_unit_test_setup(test_concurrent_lines_do_not_interleave, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
