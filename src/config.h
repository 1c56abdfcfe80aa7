/* config.h - the ini configuration file (inih): keys, defaults, validation. */
#ifndef HIPPO_CONFIG_H
#define HIPPO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

/* Exit status for a bad configuration (sysexits.h EX_CONFIG). */
#define HIPPO_EXIT_CONFIG 78

/* The systemd credential (LoadCredential=NAME:FILE) that holds the component secret when the
 * file sets neither secret nor secret_file. */
#define HIPPO_SECRET_CREDENTIAL "hippod-secret"

/* What the caller is about to do with the file. Every mode rejects unknown keys and bad
 * values; they differ only in what must be present. */
enum hippo_config_mode {
    HIPPO_CONFIG_RUN,      /* a start or a reload: everything, the secret read */
    HIPPO_CONFIG_CHECK,    /* --check-config: as RUN, except that outside the service (no
                              $CREDENTIALS_DIRECTORY) a secret left to the credential is
                              accepted unread, since only systemd can provide it */
    HIPPO_CONFIG_DATABASE, /* --migrate: only [database] is required; no secret is read */
};

typedef struct hippo_client_platform {
    char *platform; /* section name: [client "windows"] -> "windows" */
    char *minimum;
    char *current;
    char *download;
} hippo_client_platform;

typedef struct hippo_config {
    char *path; /* the file it was read from */

    /* [component] */
    char *component_host;   /* numeric address preferred: libstrophe resolves blocking */
    int component_port;     /* default 5347 */
    char *component_domain; /* e.g. rooms.example.org */
    char *component_secret; /* resolved from secret, secret_file or credentials; never logged */
    int reconnect_min_ms;   /* first retry delay, default 250 */
    int reconnect_max_ms;   /* backoff cap, default 30000 */
    int standby_retry_ms;   /* retry interval while another hippod holds the domain, 1000 */
    int stop_timeout_ms;    /* a graceful stop waits this long for work in flight; 5000 */
    /* CHECK mode only: the secret is left to HIPPO_SECRET_CREDENTIAL and was not read */
    bool secret_from_credential;

    /* [database] */
    char *database_conninfo;   /* libpq conninfo; may hold a password: never logged */
    int database_connections;  /* size of the connection pool, 1-16, default 1 */
    int database_max_queue_ms; /* refuse requests once the oldest waited this long; 500 */

    /* [http] */
    char *http_address; /* default 127.0.0.1; empty listen = disabled */
    int http_port;      /* default 8347; 0 = disabled */

    /* [log] */
    enum hippo_log_level log_level; /* default info */

    /* [rooms] */
    size_t rooms_max_body_bytes;      /* default 8192 */
    double rooms_messages_per_second; /* default 10 */
    int rooms_message_burst;          /* default 30 */
    int rooms_max_history;            /* default -1 = all */
    int rooms_max_occupants;          /* default 1000 */
    int rooms_batch_max;              /* default 256: room messages stored per transaction */

    /* [push] */
    int push_live_post_interval_ms; /* livePostChanged per post at most this often; 1000 */

    /* [client "NAME"] sections, in file order */
    hippo_client_platform *clients;
    size_t n_clients;
} hippo_config;

/*
 * Reads and validates PATH into *OUT (which it first zeroes). On failure returns -1
 * and writes one message "FILE:LINE: [section] key: reason" into ERR (never containing
 * a secret). The secret is resolved from `secret`, `secret_file` or
 * $CREDENTIALS_DIRECTORY/hippod-secret. On success the caller frees *OUT with
 * hippo_config_free().
 */
int hippo_config_load(const char *path, hippo_config *out, char *err, size_t errlen);

/* hippo_config_load() for MODE (hippo_config_load() is MODE HIPPO_CONFIG_RUN). In the other
 * modes component_secret may be NULL. */
int hippo_config_load_for(const char *path, enum hippo_config_mode mode, hippo_config *out,
                          char *err, size_t errlen);

void hippo_config_free(hippo_config *cfg);

/* Returns the [client "PLATFORM"] entry or NULL. The pointer lives as long as CFG. */
const hippo_client_platform *hippo_config_client(const hippo_config *cfg, const char *platform);

#endif
