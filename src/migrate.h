/* migrate.h - ordered SQL migrations (sql/NNN_name.sql, embedded at build time). */
#ifndef HIPPO_MIGRATE_H
#define HIPPO_MIGRATE_H

#include <stdio.h>
#include <libpq-fe.h>

typedef struct hippo_migration {
    const char *name; /* file name, e.g. "001_core.sql" */
    const char *sql;
} hippo_migration;

/* The embedded migrations in order (generated from sql/ by the build). */
extern const hippo_migration hippo_migrations[];
extern const size_t hippo_migrations_count;

/* Applies every migration not yet recorded in the public.hippo_schema_migrations table, each in its
 * own transaction, on a blocking connection (a one-shot command, not the event loop). Reports
 * progress to OUT. Returns the number applied, or -1 with a reason in ERR. */
int hippo_migrate(PGconn *conn, FILE *out, char *err, size_t errlen);

#endif
