#!/usr/bin/python3
"""livePostChanged coalescing is shared by every hippod draining one outbox (docs/push.md,
"livePostChanged coalescing"; sql/018_live_post_slots.sql).

Two hippods on one component domain behind ejabberd 23.01 (no domain_balancing: ejabberd
spreads stanzas at random, which does not matter for pushes) share one PostgreSQL; both
drain the outbox. 30 views of one post in 2.9 s with [push] live_post_interval_ms = 1000
give its poster at most 4 livePostChanged (the first at once, then at most one per second
whichever hippod sends it), at least 0.7 s apart, the last with the final totals; every
live_post event is retired, and both hippods took events of the burst. Measured before the
sharing: 9 notifications (each hippod coalesced on its own).

hippo.live_post_slot itself is checked on a migrated database, another hippod's live claims
played by the checkpointer's session (a live pid and backend_start, as claims record)."""
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_push_notifications import NS_POST, P, live_post, payload_of  # noqa: E402

VIEWS = 30
SPACING_MS = 100
CONFIG = {"push": {"live_post_interval_ms": 1000}}


def burst_sql(post, viewers):
    """One psql session: a view every SPACING_MS from the first, each its own transaction
    (pg_sleep_until keeps the pace whatever a view costs)."""
    lines = ["SELECT clock_timestamp() AS t0 \\gset"]
    for i, v in enumerate(viewers):
        if i:
            lines.append(f"SELECT pg_sleep_until(:'t0'::timestamptz"
                         f" + interval '{SPACING_MS * i} milliseconds');")
        lines.append(f"SELECT hippo.record_view('{post}', '{v}');")
    return "\n".join(lines) + "\n"


class SharedCoalescing(unittest.TestCase):
    def setUp(self):
        self.stack = harness.Stack("live-post-shared")
        self.addCleanup(self.stack.close)
        self.pg = self.stack.postgres()
        self.srv = self.stack.ejabberd()
        self.hippods = [self.stack.hippod(server=self.srv, pg=self.pg, config=CONFIG)]
        self.hippods.append(self.stack.hippod(server=self.srv, pg=self.pg, config=CONFIG,
                                              migrate=False))
        for h in self.hippods:
            h.wait_health(200, timeout=20)

    def user(self, login):
        self.srv.register(login, "pw")
        return self.pg.hippoctl("user", "add", "--jid", f"{login}@{harness.DOMAIN}",
                                "--name", login.capitalize())

    def test_thirty_views_in_three_seconds_give_at_most_four(self):
        a = self.user("alice")
        viewers = [self.user(f"viewer{i}") for i in range(VIEWS)]
        args = ["post", "create", "--poster", a, "--href", "http://example.com/",
                "--title", "Popular"]
        for v in viewers:
            args += ["--to", v]
        post = self.pg.hippoctl(*args)
        ac = self.stack.client(self.srv, "alice", "pw")
        self.addCleanup(ac.close)
        marks = [h.log_mark() for h in self.hippods]

        done = threading.Event()
        failure = []

        def burst():
            try:
                t = time.monotonic()
                self.pg.psql(burst_sql(post, viewers))
                failure.append(None if time.monotonic() - t < 3.5
                               else f"the burst took {time.monotonic() - t:.1f} s")
            except Exception as e:  # reported below
                failure.append(repr(e))
            finally:
                done.set()

        threading.Thread(target=burst, daemon=True).start()
        got = []  # (arrival, totalViewers, recent viewers)
        while True:
            try:
                msg = ac.wait_for(live_post(post), timeout=10 if not got or not done.is_set()
                                  else 2.5)
            except TimeoutError:
                break
            lp = payload_of(msg, NS_POST, "livePostChanged").find(P("livepost"))
            got.append((time.monotonic(), int(lp.findtext(P("totalViewers"))),
                        len(lp.find(P("recentViewers")))))
        self.assertTrue(done.wait(10))
        self.assertEqual(failure, [None])
        totals = [t for _, t, _ in got]
        print(f"\nlivePostChanged totals {totals}, gaps"
              f" {[round(b[0] - a[0], 2) for a, b in zip(got, got[1:])]}", file=sys.stderr)
        self.assertTrue(got, "no livePostChanged at all")
        self.assertLessEqual(len(got), 4, f"coalesced across both hippods: totals {totals}")
        self.assertGreaterEqual(len(got), 3, f"one per interval while views come: {totals}")
        self.assertEqual(totals[-1], VIEWS, f"the last has the final totals: {totals}")
        self.assertEqual(got[-1][2], 5, "the last 5 viewers")
        gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
        self.assertTrue(all(g > 0.7 for g in gaps), f"the shared interval: gaps {gaps}")

        deadline = time.monotonic() + 10
        left = "SELECT count(*) FROM hippo.outbox WHERE kind = 'live_post'"
        while self.pg.psql(left) != "0" and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.pg.psql(left), "0", "every live_post event retired")
        took = [len(re.findall(r"push: event \d+ \(live_post\)", h.log_text()[m:]))
                for h, m in zip(self.hippods, marks)]
        self.assertTrue(all(took), f"both hippods took live_post events: {took}")


POST = "PSLOTAAAAAAAA1"
SLOT_SQL = f"""
SELECT pid AS other, backend_start AS other_start FROM pg_stat_activity
WHERE backend_type = 'checkpointer' \\gset
SELECT hippo.outbox_emit('live_post', '{POST}', NULL, 'V1') AS e1 \\gset
SELECT hippo.outbox_emit('live_post', '{POST}', NULL, 'V2') AS e2 \\gset
UPDATE hippo.outbox SET claimed_pid = pg_backend_pid(),
    claimed_start = (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())
WHERE id = :e1;
UPDATE hippo.outbox SET claimed_pid = :other, claimed_start = :'other_start' WHERE id = :e2;
-- free: ours, with e2 taken over from the other hippod; two causes: nobody left out
SELECT 'taken', wait_ms, ids = ARRAY[:e1, :e2]::bigint[], coalesce(except_user, '-')
FROM hippo.live_post_slot('{POST}', 60000, ARRAY[:e1]::bigint[], 'V1');
SELECT 'e2 ours', claimed_pid = pg_backend_pid() FROM hippo.outbox WHERE id = :e2;
-- busy for about a minute: what is still ours is given back to hold
SELECT 'busy', wait_ms BETWEEN 59000 AND 60000, ids = ARRAY[:e1]::bigint[]
FROM hippo.live_post_slot('{POST}', 60000, ARRAY[:e1]::bigint[], 'V1');
UPDATE hippo.outbox SET claimed_pid = :other, claimed_start = :'other_start' WHERE id = :e1;
SELECT 'gone', wait_ms > 0, ids IS NULL
FROM hippo.live_post_slot('{POST}', 60000, ARRAY[:e1]::bigint[], 'V1');
-- a shorter interval: free again; one cause: left out
DELETE FROM hippo.outbox WHERE id = :e2;
SELECT 'one cause', wait_ms, ids = ARRAY[:e1]::bigint[], coalesce(except_user, '-')
FROM hippo.live_post_slot('{POST}', 0, '{{}}', 'V1');
SELECT 'no cause', wait_ms, coalesce(except_user, '-')
FROM hippo.live_post_slot('{POST}', 0, ARRAY[:e1]::bigint[], NULL);
-- nothing left to cover: the slot is not taken
DELETE FROM hippo.outbox WHERE post_id = '{POST}';
SELECT last_sent_at AS before FROM hippo.live_post_sends WHERE post_id = '{POST}' \\gset
SELECT 'nothing', wait_ms, ids IS NULL FROM hippo.live_post_slot('{POST}', 0, '{{}}', NULL);
SELECT 'untouched', last_sent_at = :'before' FROM hippo.live_post_sends WHERE post_id = '{POST}';
-- rows older than an hour go with the maintenance
UPDATE hippo.live_post_sends SET last_sent_at = now() - interval '61 minutes';
SELECT 'maintained', expired FROM hippo.push_maintenance('7 days');
SELECT 'rows', count(*) FROM hippo.live_post_sends;
"""


class SlotFunction(unittest.TestCase):
    def test_live_post_slot(self):
        stack = harness.Stack("live-post-slot")
        self.addCleanup(stack.close)
        pg = stack.postgres()
        stack.hippod(pg=pg, start=False)  # migrated only: nothing claims
        out = pg.psql(SLOT_SQL, admin=True).splitlines()  # sees the checkpointer
        self.assertEqual(out, ["taken|0|t|-", "e2 ours|t", "busy|t|t", "gone|t|t",
                               "one cause|0|t|V1", "no cause|0|-", "nothing|0|t",
                               "untouched|t", "maintained|0", "rows|0"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
