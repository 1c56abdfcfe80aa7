/* seam.h - flow tests of the daemon without PostgreSQL or an XMPP server (tests/seam/README.md).
 *
 * A seam is a `hippod` context built like daemon.c builds it, over the daemon library linked
 * with fakes of the XMPP link and of the database. A test feeds stanzas to the router, checks
 * each prepared statement the handlers send (in order), answers it with rows, an error or a
 * refusal, and checks every stanza that goes out (in order). The seam_expect_* functions fail
 * the running cmocka test with a message; seam_free() also fails it when a statement or an
 * outgoing stanza was left unchecked, so a test cannot pass while ignoring output. The macros
 * pass the test's file and line, which failures report. */
#ifndef HIPPO_SEAM_H
#define HIPPO_SEAM_H

#include <stdbool.h>
#include <stddef.h>
#include <strophe.h>

#include "hippod.h"

/* The component domain of every seam. */
#define SEAM_DOMAIN "rooms.example.test"

/* A count and an array literal of strings, for the (n, values) parameter pairs below:
 * SEAM_LIST("a", NULL, "c") is 3, (const char *const[]){"a", NULL, "c"}. */
/* clang-format off */
#define SEAM_LIST(...) \
    sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), \
    (const char *const[]){__VA_ARGS__}
/* clang-format on */

typedef struct seam seam;

/* A statement a handler sent. Strings live until seam_free(). */
typedef struct seam_query {
    const char *name;
    int nparams;
    const char *const *params; /* NULL entries are SQL NULLs */
    bool keyed;                /* hippo_db_query_keyed(); false: hippo_db_query() */
    const char *key;           /* the ordering key of a keyed statement (may be NULL) */
} seam_query;

/* A new seam: configuration loaded from a base file ([component] domain SEAM_DOMAIN,
 * [database], [log] level warning) followed by EXTRA_INI (other sections, e.g. "[rooms]\n
 * max_history = 2\n"; NULL for none); the statements of every module prepared, database and
 * link up. Nothing else runs on its own: call hippo_push_wake() or hippo_rooms_sweep() as the
 * daemon's state callbacks would. Fails the test on a bad configuration. Free with
 * seam_free(). */
seam *seam_new(const char *extra_ini);

/* Fails the test if a statement or a sent stanza was not checked, or if the daemon misused
 * db.h; then frees everything (statements still unanswered fail with "shutting down", as in
 * db.c). */
void seam_free(seam *s);

/* The daemon context, e.g. for hippo_push_wake(seam_hippod(s)->push) or to change a setting
 * in ->cfg. */
hippod *seam_hippod(seam *s);

/* Parses XML (one stanza, no whitespace between elements) and hands it to
 * hippo_router_stanza(), as the link does with what it receives. */
#define seam_feed_xml(s, xml) seam_feed_xml_at((s), (xml), __FILE__, __LINE__)
void seam_feed_xml_at(seam *s, const char *xml, const char *file, int line);

/* Runs the event loop once without waiting (callbacks made active, e.g. fan-out slices). */
void seam_run_loop(seam *s);

/* ---- statements ----------------------------------------------------------------------- */

/* The next statement sent since the last one checked; fails unless it is NAME. */
#define seam_expect_query(s, name) seam_expect_query_at((s), (name), __FILE__, __LINE__)
const seam_query *seam_expect_query_at(seam *s, const char *name, const char *file, int line);
/* Like seam_expect_query(), and its parameters must be exactly PARAMS[0..N) (use SEAM_LIST). */
#define seam_expect_statement(s, name, ...)                                                        \
    seam_expect_statement_at((s), (name), __VA_ARGS__, __FILE__, __LINE__)
const seam_query *seam_expect_statement_at(seam *s, const char *name, size_t n,
                                           const char *const *params, const char *file, int line);
/* Fails if a statement was sent since the last one checked. */
#define seam_expect_no_query(s) seam_expect_no_query_at((s), __FILE__, __LINE__)
void seam_expect_no_query_at(seam *s, const char *file, int line);

/* Answers the oldest checked statement not yet answered (its callback runs now) with rows:
 * COLUMNS is a comma-separated list of column names, VALUES[0..N) the rows one after another
 * (N a multiple of the number of columns; NULL is SQL NULL; N 0: no rows). */
#define seam_answer_rows(s, columns, ...)                                                          \
    seam_answer_rows_at((s), (columns), __VA_ARGS__, __FILE__, __LINE__)
void seam_answer_rows_at(seam *s, const char *columns, size_t n, const char *const *values,
                         const char *file, int line);
/* Answers it as a failed statement (libpq's error MESSAGE). */
#define seam_answer_error(s, message) seam_answer_error_at((s), (message), __FILE__, __LINE__)
void seam_answer_error_at(seam *s, const char *message, const char *file, int line);

/* One row of type hippo.room_row (sql/003_rooms.sql), every room function's result. NULL
 * fields are SQL NULLs. */
typedef struct seam_room_row {
    const char *what, *status, *user_id, *name, *photo_version, *nick, *role, *old_role,
        *res_old_role, *jid, *dialect, *serial, *ts_ms, *body, *kind, *title, *room_photo_version;
} seam_room_row;
/* seam_answer_rows() with the 17 columns of hippo.room_row. */
#define seam_answer_room_rows(s, rows, n)                                                          \
    seam_answer_room_rows_at((s), (rows), (n), __FILE__, __LINE__)
void seam_answer_room_rows_at(seam *s, const seam_room_row *rows, size_t n, const char *file,
                              int line);
/* The three columns hippod's room statements add after hippo.room_row (sql/016_room_music.sql):
 * the music of the user of a status or member row (NULL elsewhere). */
typedef struct seam_room_music {
    const char *playing, *arrangement_name, *artist;
} seam_room_music;
/* seam_answer_room_rows() with the music columns, MUSIC[r] after ROWS[r]; ROOM_IDS (NULL:
 * none) puts a room_id column before each row, as hippo.room_music_changed returns them. */
#define seam_answer_room_music_rows(s, room_ids, rows, music, n)                                   \
    seam_answer_room_music_rows_at((s), (room_ids), (rows), (music), (n), __FILE__, __LINE__)
void seam_answer_room_music_rows_at(seam *s, const char *const *room_ids, const seam_room_row *rows,
                                    const seam_room_music *music, size_t n, const char *file,
                                    int line);
/* The same for hippo.room_message_batch: seam_answer_batch_rows(s, SEAM_LIST(indexes...),
 * rows), each row ROWS[r] preceded by its message index INDEXES[r] (1-based, as the function
 * returns it). */
#define seam_answer_batch_rows(s, ...)                                                             \
    seam_answer_batch_rows_at((s), __VA_ARGS__, __FILE__, __LINE__)
void seam_answer_batch_rows_at(seam *s, size_t n, const char *const *indexes,
                               const seam_room_row *rows, const char *file, int line);

/* PostgreSQL notifies CHANNEL with PAYLOAD (OWN: raised by one of hippod's sessions). */
void seam_db_notify(seam *s, const char *channel, const char *payload, bool own);

/* From now on statements are refused (hippo_db_query* returns -1) with the database down
 * (hippo_db_is_up false) or overloaded (up, but saturated); seam_db_up() accepts again. */
void seam_db_down(seam *s);
void seam_db_overloaded(seam *s);
void seam_db_up(seam *s);

/* The link refuses (drops) what is sent while down. */
void seam_link_up(seam *s, bool up);

/* ---- outgoing stanzas ----------------------------------------------------------------- */

/* The next stanza sent, as canonical XML (see seam_stanza_text), or NULL when no more was
 * sent. The string belongs to the seam and lives until seam_free(). */
const char *seam_next_sent(seam *s);
/* Fails unless the next stanza sent is exactly XML (canonical form). */
#define seam_expect_sent(s, xml) seam_expect_sent_at((s), (xml), __FILE__, __LINE__)
void seam_expect_sent_at(seam *s, const char *xml, const char *file, int line);
/* Fails if a stanza was sent since the last one checked. */
#define seam_expect_nothing_sent(s) seam_expect_nothing_sent_at((s), __FILE__, __LINE__)
void seam_expect_nothing_sent_at(seam *s, const char *file, int line);

/* STANZA as canonical XML: attributes sorted by name, after an xmlns written only where the
 * namespace changes; text and attribute values escaped; no whitespace added. Returns a
 * malloc'd string the caller frees with free(). */
char *seam_stanza_text(xmpp_stanza_t *stanza);

#endif
