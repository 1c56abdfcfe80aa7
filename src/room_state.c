/* room_state.c - rooms' states and the table that remembers them: open addressing (linear
 * probing) from room id to its generation and state. An entry stays when its room is
 * forgotten (its generation must survive for the marks of batches in flight), so no
 * tombstones are needed; the table only grows until it holds its maximum, then everything
 * is forgotten at once (a new epoch: every mark taken before is stale). */
#include "room_state.h"

#include <stdlib.h>
#include <string.h>

#include "guid.h"
#include "hash.h"

hippo_room_state *hippo_room_state_new(const char *kind)
{
    hippo_room_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->refs = 1;
    s->kind = strdup(kind ? kind : "");
    if (!s->kind) {
        free(s);
        return NULL;
    }
    return s;
}

static void occupant_free(hippo_room_occupant *o)
{
    free(o->jid);
    free((char *)o->user.id);
    free((char *)o->user.name);
    free((char *)o->user.nick);
}

int hippo_room_state_add(hippo_room_state *s, const char *jid, hippo_room_dialect dialect,
                         const char *user_id, const char *name, int photo_version, const char *nick)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        hippo_room_occupant *o = realloc(s->occupants, cap * sizeof *o);
        if (!o)
            return -1;
        s->occupants = o;
        s->cap = cap;
    }
    hippo_room_occupant o = {.jid = strdup(jid),
                             .dialect = dialect,
                             .user = {.id = strdup(user_id ? user_id : ""),
                                      .name = strdup(name ? name : ""),
                                      .photo_version = photo_version,
                                      .nick = strdup(nick ? nick : "")}};
    if (!o.jid || !o.user.id || !o.user.name || !o.user.nick) {
        occupant_free(&o);
        return -1;
    }
    s->occupants[s->n++] = o;
    return 0;
}

const hippo_room_occupant *hippo_room_state_find(const hippo_room_state *s, const char *jid)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->occupants[i].jid, jid) == 0)
            return &s->occupants[i];
    return NULL;
}

hippo_room_state *hippo_room_state_ref(hippo_room_state *s)
{
    s->refs++;
    return s;
}

void hippo_room_state_unref(hippo_room_state *s)
{
    if (!s || --s->refs > 0)
        return;
    for (size_t i = 0; i < s->n; i++)
        occupant_free(&s->occupants[i]);
    free(s->occupants);
    free(s->kind);
    free(s);
}

struct entry {
    char room_id[HIPPO_GUID_LEN + 1]; /* "": an empty slot */
    uint64_t gen;
    unsigned holds;          /* the room's own statements in flight */
    hippo_room_state *state; /* NULL: forgotten */
};

struct hippo_room_states {
    struct entry *slots;
    size_t mask; /* number of slots - 1 */
    size_t count, max_rooms, remembered;
    uint64_t epoch;
};

/* The table starts small and doubles while half full (a daemon context is cheap to make:
 * the fuzzer makes one per input), up to twice MAX_ROOMS slots. */
#define INITIAL_SLOTS 16

hippo_room_states *hippo_room_states_new(size_t max_rooms)
{
    hippo_room_states *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->slots = calloc(INITIAL_SLOTS, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    m->mask = INITIAL_SLOTS - 1;
    m->max_rooms = max_rooms ? max_rooms : 1;
    return m;
}

static struct entry *find_slot(const hippo_room_states *m, const char *room_id);

/* Empties the table but for the rooms on hold, which keep their entries (and holds). */
void hippo_room_states_forget_all(hippo_room_states *m)
{
    size_t held = 0;
    for (size_t i = 0; i <= m->mask; i++) {
        struct entry e = m->slots[i];
        hippo_room_state_unref(e.state);
        e.state = NULL;
        m->slots[i] = (struct entry){0};
        if (e.room_id[0] && e.holds)
            m->slots[held++] = e; /* held <= i: compacted at the front, rehashed below */
    }
    m->count = 0;
    for (size_t i = 0; i < held; i++) {
        struct entry e = m->slots[i];
        m->slots[i] = (struct entry){0};
        *find_slot(m, e.room_id) = e;
        m->count++;
    }
    m->remembered = 0;
    m->epoch++;
}

void hippo_room_states_free(hippo_room_states *m)
{
    if (!m)
        return;
    hippo_room_states_forget_all(m);
    free(m->slots);
    free(m);
}

/* The slot holding ROOM_ID, or the empty slot where it would go. */
static struct entry *find_slot(const hippo_room_states *m, const char *room_id)
{
    size_t i = (size_t)hippo_hash_str(room_id) & m->mask;
    while (m->slots[i].room_id[0] && strcmp(m->slots[i].room_id, room_id) != 0)
        i = (i + 1) & m->mask;
    return &m->slots[i];
}

hippo_room_state *hippo_room_states_get(const hippo_room_states *m, const char *room_id)
{
    return find_slot(m, room_id)->state;
}

/* Doubles the slots when half full (and allowed to grow); out of memory only means it stays
 * as it is, with longer probes. */
static void grow(hippo_room_states *m)
{
    size_t n = m->mask + 1;
    if (2 * (m->count + 1) <= n || n >= 2 * m->max_rooms)
        return;
    struct entry *old = m->slots;
    m->slots = calloc(2 * n, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return;
    }
    m->mask = 2 * n - 1;
    for (size_t i = 0; i < n; i++)
        if (old[i].room_id[0])
            *find_slot(m, old[i].room_id) = old[i];
    free(old);
}

/* The entry of ROOM_ID, created if needed; NULL when the table is full of held rooms. */
static struct entry *entry_of(hippo_room_states *m, const char *room_id)
{
    if (strlen(room_id) > HIPPO_GUID_LEN)
        return NULL;
    struct entry *e = find_slot(m, room_id);
    if (e->room_id[0])
        return e;
    if (m->count >= m->max_rooms) {
        hippo_room_states_forget_all(m);
        if (m->count >= m->max_rooms)
            return NULL;
    }
    grow(m);
    e = find_slot(m, room_id);
    strcpy(e->room_id, room_id);
    m->count++;
    return e;
}

int hippo_room_states_mark(hippo_room_states *m, const char *room_id, hippo_room_mark *mark)
{
    struct entry *e = entry_of(m, room_id);
    if (!e)
        return -1;
    *mark = (hippo_room_mark){.epoch = m->epoch, .gen = e->gen};
    return 0;
}

int hippo_room_states_remember(hippo_room_states *m, const char *room_id, hippo_room_mark mark,
                               hippo_room_state *s)
{
    struct entry *e = find_slot(m, room_id);
    if (mark.epoch != m->epoch || !e->room_id[0] || e->gen != mark.gen || e->holds)
        return 0;
    if (!e->state)
        m->remembered++;
    hippo_room_state_unref(e->state);
    e->state = hippo_room_state_ref(s);
    return 1;
}

static void forget(hippo_room_states *m, struct entry *e)
{
    e->gen++;
    if (e->state)
        m->remembered--;
    hippo_room_state_unref(e->state);
    e->state = NULL;
}

void hippo_room_states_forget(hippo_room_states *m, const char *room_id)
{
    if (strcmp(room_id, "*") == 0) {
        hippo_room_states_forget_all(m);
        return;
    }
    struct entry *e = find_slot(m, room_id);
    if (e->room_id[0]) /* else no mark was taken since everything was last forgotten */
        forget(m, e);
}

void hippo_room_states_hold(hippo_room_states *m, const char *room_id)
{
    struct entry *e = entry_of(m, room_id);
    if (!e) {
        hippo_room_states_forget_all(m); /* nothing remembered can be trusted then */
        return;
    }
    forget(m, e);
    e->holds++;
}

void hippo_room_states_release(hippo_room_states *m, const char *room_id)
{
    struct entry *e = find_slot(m, room_id);
    if (!e->room_id[0] || e->holds == 0)
        return;
    forget(m, e); /* what a batch learnt during the hold may predate the statement */
    e->holds--;
}

size_t hippo_room_states_count(const hippo_room_states *m)
{
    return m->remembered;
}
