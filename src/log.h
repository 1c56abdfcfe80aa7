/* log.h - leveled logging to stderr, with journald priority prefixes. */
#ifndef HIPPO_LOG_H
#define HIPPO_LOG_H

#include <stdarg.h>
#include <stdbool.h>

/* syslog priorities, as journald reads them from a "<N>" line prefix. */
enum hippo_log_level {
    HIPPO_LOG_ERR = 3,
    HIPPO_LOG_WARNING = 4,
    HIPPO_LOG_NOTICE = 5,
    HIPPO_LOG_INFO = 6,
    HIPPO_LOG_DEBUG = 7,
};

typedef struct hippo_logger {
    enum hippo_log_level level; /* lines above this level are dropped */
    bool journald;              /* stderr is read by journald: prefix "<N>" */
} hippo_logger;

/* Sets journald mode from $JOURNAL_STREAM (compared against stderr's dev:inode). */
void hippo_log_init(hippo_logger *log, enum hippo_log_level level);

/* Parses "error", "warning", "notice", "info", "debug"; returns -1 if unknown. */
int hippo_log_level_parse(const char *name, enum hippo_log_level *out);
const char *hippo_log_level_name(enum hippo_log_level level);

void hippo_log(const hippo_logger *log, enum hippo_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hippo_vlog(const hippo_logger *log, enum hippo_log_level level, const char *fmt, va_list ap);

#endif
