/* log.c - leveled logging to stderr, with "<N>" priority prefixes when journald reads it. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Longer messages are cut (with "...") so that a line always goes out in one write(). */
enum { LOG_LINE_MAX = 4096 };

typedef struct level_def {
    enum hippo_log_level level;
    const char *name; /* config value */
    const char *tag;  /* plain-format column */
} level_def;

static const level_def levels[] = {
    {HIPPO_LOG_ERR, "error", "ERROR"},      {HIPPO_LOG_WARNING, "warning", "WARNING"},
    {HIPPO_LOG_NOTICE, "notice", "NOTICE"}, {HIPPO_LOG_INFO, "info", "INFO"},
    {HIPPO_LOG_DEBUG, "debug", "DEBUG"},
};

static const level_def *level_find(enum hippo_log_level level)
{
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (levels[i].level == level)
            return &levels[i];
    }
    return NULL;
}

int hippo_log_level_parse(const char *name, enum hippo_log_level *out)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcmp(levels[i].name, name) == 0) {
            *out = levels[i].level;
            return 0;
        }
    }
    return -1;
}

const char *hippo_log_level_name(enum hippo_log_level level)
{
    const level_def *def = level_find(level);
    return def ? def->name : "unknown";
}

/* Parses one unsigned decimal field of JOURNAL_STREAM; strtoull alone would accept
 * signs and spaces. */
static const char *parse_field(const char *s, unsigned long long *out)
{
    if (!isdigit((unsigned char)*s))
        return NULL;
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno ? NULL : end;
}

/* systemd's documented rule: stderr goes to journald only if JOURNAL_STREAM ("DEV:INODE")
 * still names the file stderr is open on; a redirected stderr gets plain lines. */
static bool stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    if (!env)
        return false;
    const char *p = parse_field(env, &dev);
    if (!p || *p != ':')
        return false;
    p = parse_field(p + 1, &ino);
    if (!p || *p != '\0')
        return false;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void hippo_log_init(hippo_logger *log, enum hippo_log_level level)
{
    log->level = level;
    log->journald = stderr_is_journal();
}

/* Writes "<N>" or "TIMESTAMP LEVEL " into LINE; returns its length. */
static size_t format_prefix(const hippo_logger *log, enum hippo_log_level level, char *line,
                            size_t size)
{
    int n;
    if (log && log->journald) {
        n = snprintf(line, size, "<%d>", (int)level);
    } else {
        struct timespec ts;
        struct tm tm;
        char stamp[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        const level_def *def = level_find(level);
        n = snprintf(line, size, "%s.%03ldZ %s ", stamp, ts.tv_nsec / 1000000L,
                     def ? def->tag : "LOG");
    }
    return n < 0 ? 0 : (size_t)n;
}

/* journald splits entries at '\n': keep one message one entry. */
static void flatten(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
    }
}

static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere left to report it */
        buf += n;
        len -= (size_t)n;
    }
}

void hippo_vlog(const hippo_logger *log, enum hippo_log_level level, const char *fmt, va_list ap)
{
    int saved_errno = errno; /* callers may log strerror(errno) or %m after us */
    enum hippo_log_level max = log ? log->level : HIPPO_LOG_INFO;
    if (level > max)
        return;

    char line[LOG_LINE_MAX];
    size_t room = sizeof line - 1; /* keep one byte for the '\n' */
    size_t len = format_prefix(log, level, line, room);
    errno = saved_errno;
    int n = vsnprintf(line + len, room - len, fmt, ap);
    if (n < 0) {
        n = snprintf(line + len, room - len, "(unformattable log message: %s)", fmt);
        n = n < 0 ? 0 : n;
    }
    size_t msg = (size_t)n;
    if (msg >= room - len) {
        msg = room - len - 1;
        memcpy(line + len + msg - 3, "...", 3);
    }
    flatten(line + len, msg);
    len += msg;
    line[len++] = '\n';
    write_all(line, len);
    errno = saved_errno;
}

void hippo_log(const hippo_logger *log, enum hippo_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hippo_vlog(log, level, fmt, ap);
    va_end(ap);
}
