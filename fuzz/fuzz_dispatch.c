/* fuzz_dispatch.c - the whole dispatch: a stanza as a client could send it, through the
 * router and whichever handler serves it (service IQs, the protocol areas, rooms in both
 * dialects), with the database faked by tests/seam/fake_db.c and the link by fake_link.c.
 *
 * Input: one mode byte (bit 0: database down, bit 1: overloaded, bit 2: a graceful stop is
 * draining), the stanza's XML up to a NUL byte, then one byte per statement the handlers
 * send, choosing its answer: a failure, no rows, or rows whose values come from a small
 * table of the values the database really returns (ids, roles, statuses, numbers). Values
 * are never NULL and rows have enough columns: the database's own contract is not what is
 * fuzzed here, the client's stanza is.
 *
 * Checked after every input: no crash, no sanitizer report, no leak (everything is freed),
 * no misuse of db.h (fake_db_problem), and every stanza hippod sent is addressed. */
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakes.h"
#include "handle_privilege.h"
#include "hippod.h"
#include "push.h"
#include "rooms.h"
#include "router.h"
#include "user_cache.h"

#define MAX_ANSWERS 64
#define ROW_COLUMNS 24 /* more than any statement reads (post payload rows: 19) */

static const char *const values[] = {
    "",
    "0",
    "1",
    "-1",
    "3",
    "t",
    "f",
    "9223372036854775807",
    "status",
    "ok",
    "to",
    "member",
    "history",
    "joined",
    "updated",
    "left",
    "absent",
    "forbidden",
    "full",
    "rate",
    "participant",
    "visitor",
    "nonmember",
    "muc",
    "classic",
    "post",
    "group",
    "revoked",
    "AbC1dEfGhJkLmN",
    "UALICEAAAAAAA1",
    "alice@example.test/desk",
    "bob@example.test",
    "HOT",
    "http://example.com/<&>",
    "\xc3\xa9\x01\xef\xbf\xbe", /* what text cleaning must handle */
};
#define N_VALUES (sizeof values / sizeof values[0])

static const char config_text[] = "[component]\nhost = 127.0.0.1\ndomain = rooms.example.test\n"
                                  "secret = s\n[database]\nconninfo = dbname=fuzz\n"
                                  "[log]\nlevel = error\n";

/* The configuration is read once; each input gets a fresh daemon around it. */
static hippo_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char path[] = "/tmp/hippo-fuzz-XXXXXX";
    int fd = mkstemp(path);
    char err[256];
    if (fd < 0 || write(fd, config_text, sizeof config_text - 1) < 0)
        abort();
    close(fd);
    int rc = hippo_config_load(path, &cfg, err, sizeof err);
    unlink(path);
    if (rc < 0) {
        fprintf(stderr, "fuzz_dispatch: %s\n", err);
        abort();
    }
    xmpp_initialize();
    return 0;
}

static void create(hippod *d)
{
    memset(d, 0, sizeof *d);
    d->cfg = cfg; /* shared, never freed per input */
    hippo_log_init(&d->log, HIPPO_LOG_ERR);
    d->log.level = (enum hippo_log_level)0; /* quiet: the fuzzer's output is what matters */
    hippo_metrics_init(&d->metrics);
    hippo_link_options lo = {.domain = cfg.component_domain};
    hippo_db_options dbo = {.conninfo = cfg.database_conninfo};
    d->base = event_base_new();
    d->link = hippo_link_new(d->base, &lo, &d->log, &d->metrics);
    d->db = hippo_db_new(d->base, &dbo, &d->log, &d->metrics);
    if (!d->base || !d->link || !d->db || hippod_create_state(d) < 0)
        abort();
    hippod_prepare_statements(d->db);
    hippo_db_start(d->db);
    hippo_link_start(d->link);
}

static void destroy(hippod *d)
{
    hippo_db_free(d->db); /* before the state: pending statements call back into it */
    hippod_free_state(d);
    hippo_link_free(d->link);
    event_base_free(d->base);
    hippo_metrics_free(&d->metrics);
}

/* A result chosen by CHOICE: NULL (the statement fails), no rows, or one to three rows. */
static PGresult *answer(uint8_t choice, const uint8_t **script, const uint8_t *end)
{
    if (choice % 4 == 0)
        return NULL;
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[ROW_COLUMNS];
    char names[ROW_COLUMNS][8];
    for (int c = 0; c < ROW_COLUMNS; c++) {
        snprintf(names[c], sizeof names[c], "c%d", c);
        attrs[c] = (PGresAttDesc){
            .name = names[c], .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1};
    }
    if (!res || !PQsetResultAttrs(res, ROW_COLUMNS, attrs))
        abort();
    int rows = choice % 4 - 1;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < ROW_COLUMNS; c++) {
            const char *v = values[*script < end ? *(*script)++ % N_VALUES : (size_t)c % N_VALUES];
            if (!PQsetvalue(res, r, c, (char *)v, (int)strlen(v)))
                abort();
        }
    return res;
}

/* Answers what the handlers sent, one script byte per statement (more may follow). */
static void answer_all(hippod *d, const uint8_t *script, const uint8_t *end)
{
    for (size_t i = 0; i < fake_db_query_count(d->db) && i < MAX_ANSWERS; i++) {
        if (fake_db_query_at(d->db, i)->answered)
            continue;
        uint8_t choice = script < end ? *script++ : 0;
        PGresult *res = answer(choice, &script, end);
        fake_db_answer(d->db, i, res, res ? NULL : "fuzz: statement failed");
        if (res)
            PQclear(res);
        event_base_loop(d->base, EVLOOP_NONBLOCK); /* fan-out slices, timers due */
    }
}

static void check_sent(const hippod *d)
{
    for (size_t i = 0; i < fake_link_sent_count(d->link); i++)
        if (!xmpp_stanza_get_to(fake_link_sent_at(d->link, i)))
            abort(); /* an answer nobody can route */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *xml = data + 1, *end = data + size;
    const uint8_t *nul = memchr(xml, 0, (size_t)(end - xml));
    char *text = strndup((const char *)xml, (size_t)((nul ? nul : end) - xml));
    if (!text)
        return 0;
    hippod d;
    create(&d);
    fake_db_set_mode(d.db, mode & 1 ? FAKE_DB_DOWN : mode & 2 ? FAKE_DB_OVERLOADED : FAKE_DB_UP);
    d.stopping = mode & 4;
    xmpp_stanza_t *stanza = xmpp_stanza_new_from_string(hippo_link_ctx(d.link), text);
    free(text);
    if (stanza) {
        hippo_router_stanza(&d, stanza);
        xmpp_stanza_release(stanza);
        fake_db_set_mode(d.db, FAKE_DB_UP);
        answer_all(&d, nul ? nul + 1 : end, end);
        check_sent(&d);
        if (fake_db_problem(d.db))
            abort();
    }
    destroy(&d);
    return 0;
}
