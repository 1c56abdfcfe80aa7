#!/usr/bin/python3
"""Push fan-out benchmark: how long a newPost to N recipients takes from the COMMIT of
hippo.create_post to the last stanza hippod hands to the XMPP link, and to its receipt by
clients.

    bench/fanout.py                          # 10,000 recipients, 20 online clients, 5 posts
    bench/fanout.py --recipients 1000 --posts 3
    bench/fanout.py --no-offline             # Prosody without offline storage

A fresh private stack (tests/integration/harness.py: PostgreSQL, Prosody, hippod on
loopback, stopped by pid afterwards): users u0..uN whose accounts are written straight into
Prosody's storage, one group holding u1..uN, and posts by u0 to that group (a post to a
group keeps each stanza small; a post listing N users directly carries N entities in every
stanza, which the protocol requires). CLIENTS of the recipients, spread over them, are
online; the others are offline, so Prosody stores their newPost (mod_offline) unless
--no-offline.

Per post it reports, against the wall clock of this machine:
  commit → handed   COMMIT (a clock_timestamp() read right after it, in the same session)
                    to the last stanza handed to the link (hippod's debug log line
                    "push: newPost ...: N stanzas handed to the link ... (wall clock T)")
  claim → handed    the same log line's own measure (also hippod_push_fanout_seconds)
  commit → client   first / median / last receipt among the online clients
  all events done   COMMIT to the outbox being empty: the newPost, then the receivers'
                    hotness and active-set checks (hotness headlines to who changed)
  hippod CPU        user + system CPU hippod used for all of it (/proc)
A benchmark, not a test: nothing fails on a slow run. Results: docs/performance.md.

Needs /usr/bin/python3, root (PostgreSQL runs as postgres) and a build:
`meson setup build && ninja -C build hippod hippoctl` (--build DIR).
"""

import re
import statistics
import sys
import threading
import time

import common
from common import DOMAIN, PASSWORD

NS_POST = "http://dumbhippo.com/protocol/post"

POPULATE_SQL = """
DO $$
DECLARE
    g text := hippo.create_group('Everyone');
BEGIN
    PERFORM hippo.add_group_member(g, hippo.create_user(format('u%s@{domain}', i),
                                                        format('User %s', i)))
    FROM generate_series(1, {n}) AS i;
END
$$;
SELECT hippo.create_user('u0@{domain}', 'Poster');
SELECT id FROM hippo.groups;
"""


def parse_args():
    p = common.arg_parser(__doc__, "hippod and hippoctl")
    p.add_argument("--recipients", type=int, default=10000)
    p.add_argument("--clients", type=int, default=20, help="online recipients")
    p.add_argument("--posts", type=int, default=5, help="measured posts (after one warm-up)")
    p.add_argument("--no-offline", action="store_true",
                   help="disable Prosody's offline storage for offline recipients")
    p.add_argument("--keep-logs", action="store_true", help="keep the stack's directory")
    return p.parse_args()


def new_post_id(el):
    p = el.find(f"{{{NS_POST}}}newPost/{{{NS_POST}}}post")
    return p.get("id") if p is not None else None


class Receipts:
    """One waiting thread per client records when the newPost of a post arrives."""

    def __init__(self, clients, post_id, timeout):
        self.times = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.wait, args=(c, post_id, timeout))
                        for c in clients]
        for t in self.threads:
            t.start()

    def wait(self, client, post_id, timeout):
        try:
            client.wait_for(lambda e: new_post_id(e) == post_id, timeout)
        except TimeoutError:
            return
        now = time.time()
        with self.lock:
            self.times.append(now)

    def join(self):
        for t in self.threads:
            t.join()
        return sorted(self.times)


def create_post(pg, poster, group, title):
    """Creates the post; returns (post id, wall clock right after its COMMIT)."""
    out = pg.psql(f"SELECT hippo.create_post('{poster}', 'http://{DOMAIN}/bench', '{title}', '',"
                  f" ARRAY['{group}'], false);\n"
                  "SELECT extract(epoch FROM clock_timestamp());")
    post, committed = out.split()
    return post, float(committed)


def wait_outbox_empty(pg, timeout=300):
    deadline = time.monotonic() + timeout
    while pg.psql("SELECT count(*) FROM hippo.outbox") != "0":
        if time.monotonic() > deadline:
            raise TimeoutError("the outbox does not drain")
        time.sleep(0.1)
    time.sleep(0.2)


HANDED = re.compile(r"push: newPost (\S+): (\d+) stanzas handed to the link ([0-9.]+) ms after "
                    r"the claim \(wall clock ([0-9.]+)\)")


def handed(h, post, timeout=60):
    """(stanzas, claim → handed ms, wall clock) from hippod's log line about POST."""
    m = h.wait_log(HANDED.pattern.replace(r"(\S+)", re.escape(post), 1), timeout=timeout)
    return int(m.group(1)), float(m.group(2)), float(m.group(3))


def measure(a, harness):
    n = a.recipients
    # a host-level option overrides the global modules_disabled; the harness then reopens
    # the same VirtualHost section
    extra = (f'VirtualHost "{DOMAIN}"\n    modules_disabled = {{ "s2s"; "offline"; }}\n'
             if a.no_offline else "")
    with harness.Stack("bench-fanout") as stack:
        pg = common.postgres(stack, a)
        pro = stack.prosody(extra_config=extra, log_level="warn")
        common.create_accounts(pro, "prosody", n + 1)
        h = stack.hippod(server=pro, pg=pg, config={"log": {"level": "debug"}}, start=False)
        t = time.monotonic()
        poster, group = pg.psql(POPULATE_SQL.format(domain=DOMAIN, n=n), timeout=600).split()
        # drops the memberships' hotness/active-set checks; the measured posts come later
        # and keep their events: those are what is measured
        common.data_loaded(pg)
        print(f"populated {n + 1} users and a group of {n} in {time.monotonic() - t:.1f} s",
              flush=True)
        common.start_hippod(h)
        step = max(1, n // max(1, a.clients))
        clients = [stack.client(pro, f"u{i}", PASSWORD)
                   for i in range(1, n + 1, step)][:a.clients]
        rows = []
        for k in range(a.posts + 1):
            wait_outbox_empty(pg)  # the previous post's hotness/active-set checks
            cpu0 = common.cpu_seconds(h.pid)
            post, committed = create_post(pg, poster, group, f"Bench {k}")
            rec = Receipts(clients, post, timeout=120)
            stanzas, claim_ms, handed_at = handed(h, post)
            times = rec.join()
            wait_outbox_empty(pg)  # the post's hotness and active-set checks too
            drained = time.time() - committed
            cpu = common.cpu_seconds(h.pid) - cpu0
            if k == 0:
                print(f"warm-up post: {stanzas} stanzas, commit → handed "
                      f"{(handed_at - committed) * 1e3:.0f} ms "
                      f"(claim → handed {claim_ms:.0f} ms)", flush=True)
                continue
            row = {"stanzas": stanzas, "commit_handed_ms": (handed_at - committed) * 1e3,
                   "claim_handed_ms": claim_ms, "cpu_ms": cpu * 1e3,
                   "received": len(times), "drained_s": drained}
            if times:
                row.update(first_ms=(times[0] - committed) * 1e3,
                           median_ms=(statistics.median(times) - committed) * 1e3,
                           last_ms=(times[-1] - committed) * 1e3)
            rows.append(row)
            print_row(row, len(clients), header=len(rows) == 1)
        for c in clients:
            c.close()
        assert h.stop() == 0, h.log_tail()
    return rows


def print_row(r, n_clients, header=False):
    if header:
        print("\n| stanzas | commit → handed ms | claim → handed ms | commit → client ms "
              "(first / median / last) | clients | all events done s | hippod CPU ms |")
        print("|---|---|---|---|---|---|---|")
    client = (f"{r['first_ms']:.0f} / {r['median_ms']:.0f} / {r['last_ms']:.0f}"
              if r["received"] else "—")
    print(f"| {r['stanzas']} | {r['commit_handed_ms']:.0f} | {r['claim_handed_ms']:.0f} "
          f"| {client} | {r['received']}/{n_clients} | {r['drained_s']:.1f} | {r['cpu_ms']:.0f} |",
          flush=True)


def main():
    a = parse_args()
    harness = common.harness_module(a)
    rows = measure(a, harness)
    if rows:
        med = statistics.median(r["commit_handed_ms"] for r in rows)
        print(f"\nmedian commit → last stanza handed to the link: {med:.0f} ms for "
              f"{rows[0]['stanzas']} recipients ({len(rows)} posts)")
        done = [r for r in rows if r["received"]]
        if done:
            print(f"median commit → last online client got it: "
                  f"{statistics.median(r['last_ms'] for r in done):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
