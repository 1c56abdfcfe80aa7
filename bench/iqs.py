#!/usr/bin/python3
"""Protocol-IQ benchmark: database-backed dumbhippo IQs through the XMPP server and hippod.

    bench/iqs.py                         # Prosody, 2 repeats (see --help for the scale)
    bench/iqs.py --quick                 # one short repeat, about a minute
    bench/iqs.py --servers prosody,ejabberd --repeat 2 --out /tmp/iqs.json

Each repeat gets a fresh private stack (tests/integration/harness.py: PostgreSQL, the XMPP
server and hippod on loopback, stopped by pid afterwards), filled with SQL through the SQL
API: USERS users u0.., groups of 20 overlapping members (each user in two), POSTS_PER_GROUP
posts per group spread over the last hours, every user has viewed every other post it
received, some prefs and MySpace names. Then bench/load_iqs runs against it:

  1. closed loop, INFLIGHT requests in flight per connection: the maximum rate;
  2. open loop at half the rate that run 1 reached: latency below saturation;
  3. open loop at HALF_AIM IQs/s (5000, half the aim of 10,000/s), unless close to run 2;
  4. with --per-kind, each request kind alone in a closed loop (its CPU cost per IQ).

load_iqs watches the XMPP server, hippod and the PostgreSQL cluster (postmaster and its
backends) and reports their CPU over the measured window, and the busy CPU of every other
process on the box (/proc/stat: other work disturbs the figures); this script prints one
table row per run and with --out writes every RESULT as JSON.

Needs /usr/bin/python3, root (PostgreSQL runs as postgres), and built binaries:
`meson setup build && ninja -C build hippod hippoctl bench/load_iqs` (--build DIR).
"""

import os
import sys
import time

import common
from common import DOMAIN, PASSWORD, fmt

HALF_AIM = 5000.0
KINDS = ("prefs", "hotness", "recent", "recent_id", "clientinfo", "clicked", "myspace", "music")

POPULATE_SQL = """
CREATE TEMP TABLE bu (i int PRIMARY KEY, id text);
CREATE TEMP TABLE bg (g int PRIMARY KEY, id text);
DO $$
DECLARE
    pid text;  -- a new post's id
    k int := 0;
BEGIN
    INSERT INTO bu SELECT i, hippo.create_user(format('u%s@{domain}', i), format('User %s', i))
    FROM generate_series(0, {users} - 1) AS i;
    INSERT INTO bg SELECT g, hippo.create_group(format('Bench group %s', g))
    FROM generate_series(0, {groups} - 1) AS g;
    -- group g: users 10g .. 10g+19 (mod users), so every user is in two groups
    PERFORM hippo.add_group_member(bg.id, bu.id)
    FROM bg JOIN bu ON bu.i IN (SELECT (bg.g * 10 + j) % {users} FROM generate_series(0, 19) j);
    FOR pn IN 0 .. {per_group} - 1 LOOP
        FOR gn IN 0 .. {groups} - 1 LOOP
            pid := hippo.create_post((SELECT id FROM bu WHERE bu.i = (gn * 10 + pn) % {users}),
                format('http://{domain}/bench/%s/%s?a=1&b=2', gn, pn),
                format('Bench post %s of group %s', pn, gn), 'Have a look',
                ARRAY[(SELECT id FROM bg WHERE bg.g = gn)], false);
            -- newest last; one every 20 s, so the latest hour holds the newest 180
            UPDATE hippo.posts SET created_at = now() - interval '20 seconds' *
                ({per_group} * {groups} - k) WHERE id = pid;
            k := k + 1;
        END LOOP;
    END LOOP;
    -- every user has viewed every other post it received (these are the click targets)
    PERFORM hippo.record_view(r.post_id, bu.id)
    FROM bu, LATERAL (SELECT post_id, row_number() OVER () AS n
                      FROM hippo.received_posts(bu.id, 1000)) r
    WHERE r.n % 2 = 0;
    PERFORM hippo.set_pref(id, 'musicSharingEnabled', 'false') FROM bu WHERE i % 3 = 0;
    PERFORM hippo.set_pref(id, 'applicationUsageEnabled', 'true') FROM bu WHERE i % 5 = 0;
    PERFORM hippo.set_myspace_name(id, format('space%s', i)) FROM bu WHERE i % 2 = 0;
END
$$;
SELECT i, coalesce(string_agg(v.post_id, ' '), '')
FROM bu LEFT JOIN hippo.post_views v ON v.user_id = bu.id
GROUP BY i ORDER BY i;
"""

CLIENT_SECTION = {'client "linux"': {"minimum": "1.1.10", "current": "1.1.20",
                                     "download": "https://example.test/get/linux"}}


def parse_args():
    p = common.arg_parser(__doc__, "hippod, hippoctl, bench/load_iqs")
    p.add_argument("--servers", default="prosody", help="comma list of prosody, ejabberd")
    p.add_argument("--users", type=int, default=200, help="users, one connection each")
    p.add_argument("--posts-per-group", type=int, default=20)
    p.add_argument("--inflight", type=int, default=2,
                   help="closed loop: requests in flight per connection (%(default)s; keep the "
                   "total under what hippod's [database] max_queue_ms lets wait)")
    p.add_argument("--db-connections", type=int, default=0, metavar="N",
                   help="hippod's [database] connections (default: hippod's own default)")
    p.add_argument("--rates", help="comma list of open-loop rates instead of runs 1 to 3 "
                   "('none': no run but the --per-kind ones)")
    p.add_argument("--mix", help="load_iqs --mix (default: its own mix)")
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--per-kind", action="store_true",
                   help="also one closed-loop run per request kind alone (CPU cost per kind)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                   help="before each run wait up to S seconds for the other processes on the "
                   "box to go idle (busy < 15%% of a core over 3 s)")
    p.add_argument("--quick", action="store_true",
                   help="100 users, 3 s warm-up, 8 s window, 1 repeat")
    p.add_argument("--out", help="write all results as JSON to this file")
    p.add_argument("--keep-logs", action="store_true",
                   help="keep each stack's directory (logs) instead of removing it")
    a = p.parse_args()
    if a.quick:
        a.users, a.warmup, a.duration, a.repeat = 100, 3, 8, 1
    a.servers = [s for s in a.servers.split(",") if s]
    for s in a.servers:
        if s not in ("prosody", "ejabberd"):
            p.error(f"unknown server {s}")
    a.rate_list = None
    if a.rates:
        a.rate_list = [] if a.rates == "none" else [float(r) for r in a.rates.split(",")]
    return a


def populate(stack, pg, a):
    """Users, groups, posts, views, prefs (POPULATE_SQL); returns the posts file for
    load_iqs: line k = the posts user k has viewed (visible to it)."""
    groups = max(1, a.users // 10)
    out = pg.psql(POPULATE_SQL.format(domain=DOMAIN, users=a.users, groups=groups,
                                      per_group=a.posts_per_group), timeout=600)
    path = stack.path("posts.txt")
    with open(path, "w") as f:
        for line in out.splitlines():
            posts = line.split("|", 1)[1]
            if not posts:
                raise RuntimeError(f"user {line.split('|')[0]} has no viewed post")
            f.write(posts + "\n")
    counts = pg.psql("SELECT (SELECT count(*) FROM hippo.users), (SELECT count(*) FROM "
                     "hippo.posts), (SELECT count(*) FROM hippo.post_views)")
    common.data_loaded(pg)  # the set-up's push events are not part of the load
    return path, counts.replace("|", " users, ", 1).replace("|", " posts, ") + " views"


def wait_quiet(limit):
    """Waits until the machine was nearly idle for 3 s (our stack idles between runs), at
    most LIMIT seconds; the runs report the other load they saw either way."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        b0 = common.busy_seconds()
        time.sleep(3)
        if common.busy_seconds() - b0 < 0.45:
            return
    print(f"  (the machine did not go quiet within {limit:g} s)", flush=True)


def run_driver(a, server, posts_file, args, watches):
    args = ["--port", server.c2s_port, "--domain", DOMAIN, "--password", PASSWORD, "--users",
            a.users, "--posts-file", posts_file, "--warmup", a.warmup, "--duration",
            a.duration, "--quiet"] + (["--mix", a.mix] if a.mix else []) + args  # ARGS' --mix wins
    return common.run_driver(os.path.join(a.build, "bench", "load_iqs"), args, watches,
                             600 + a.warmup + a.duration)


def start_stack(harness, stack, kind, a):
    """PostgreSQL, the XMPP server, accounts, data and a running hippod."""
    pg = common.postgres(stack, a)
    if kind == "prosody":
        server = stack.prosody(log_level="warn")
        server_watch = ("prosody", server.pid, False)
    else:
        server = stack.ejabberd(log_level="warning")
        server_watch = ("ejabberd", server.pid, True)
    t = time.monotonic()
    common.create_accounts(server, kind, a.users)
    config = dict(CLIENT_SECTION, log={"level": "warning"})
    if a.db_connections:
        config["database"] = {"connections": a.db_connections}
    h = stack.hippod(server=server, pg=pg, start=False, config=config)
    posts_file, counts = populate(stack, pg, a)
    print(f"  {kind}: {counts}, set up in {time.monotonic() - t:.1f} s", flush=True)
    common.start_hippod(h)
    watches = [server_watch, ("hippod", h.pid, False), ("postgres", pg.pid, True)]
    return server, posts_file, watches


def one_repeat(a, harness, kind, rep):
    """One fresh stack: the closed-loop run, then the open-loop runs; returns their RESULTs."""
    results = []
    with harness.Stack(f"bench-iqs-{kind}") as stack:
        server, posts_file, watches = start_stack(harness, stack, kind, a)

        def run(label, args):
            if a.wait_quiet:
                wait_quiet(a.wait_quiet)
            print(f"== {kind}, repeat {rep}: {label}", flush=True)
            res = run_driver(a, server, posts_file, args, watches)
            res.update(server=kind, repeat=rep, label=label)
            results.append(res)
            return res

        rates = a.rate_list
        if rates is None:
            top = run("max (closed loop)", ["--rate", 0, "--inflight", a.inflight])
            half = round(top["answered_per_s"] / 2, -1)
            rates = [half] + ([HALF_AIM] if abs(half - HALF_AIM) > 0.1 * HALF_AIM else [])
        for rate in rates:
            run(f"open loop {rate:g}/s", ["--rate", rate, "--max-outstanding", 100000])
        for k in KINDS if a.per_kind else []:
            mix = ",".join(f"{x}={int(x == k)}" for x in KINDS)
            run(f"{k} alone (closed loop)", ["--rate", 0, "--inflight", a.inflight, "--mix", mix])
    return results


def cpu_us(res, label):
    w = res["watch"].get(label)
    return w["us_per_iq"] if w else None


def cpu_pct(res, label):
    w = res["watch"].get(label)
    return common.core_pct(res, w["cpu_window_s"]) if w else None


def status(res):
    if res["logged_in"] < res["conns"]:
        return f"logins failed ({res['login_failed']}): {res['first_error'][:80]}"
    if res["exit_code"]:
        return (f"errors {res['errors']}, unexpected {res['unexpected']}, unanswered "
                f"{res['unanswered']} {res['conditions']} {res['first_error'][:80]}")
    return "ok"


def table(results):
    """One row per run; CPU in % of one core over the measured window. "other" is the busy
    CPU of every process not watched (other work on the box), from /proc/stat."""
    print("\n| server | run | rep | IQs/s answered | p50 ms | p99 ms | max ms "
          "| CPU % server / hippod / pg / driver / other | µs/IQ server / hippod / pg | status |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r["latency_ms"]
        srv = r["server"]
        drv = common.core_pct(r, r["driver"]["cpu_window_s"])
        other = common.core_pct(r, r["machine"]["other_window_s"])
        print(f"| {srv} | {r['label']} | {r['repeat']} | {r['answered_per_s']:.0f} "
              f"| {lat['p50']:.2f} | {lat['p99']:.2f} | {lat['max']:.1f} "
              f"| {fmt(cpu_pct(r, srv), '.0f')} / {fmt(cpu_pct(r, 'hippod'), '.0f')} / "
              f"{fmt(cpu_pct(r, 'postgres'), '.0f')} / {drv:.0f} / {other:.0f} "
              f"| {fmt(cpu_us(r, srv), '.0f')} / {fmt(cpu_us(r, 'hippod'), '.0f')} / "
              f"{fmt(cpu_us(r, 'postgres'), '.0f')} | {status(r)} |")


def kinds_table(results):
    """Per request kind, p50/p99 of the first closed-loop and open-loop runs."""
    print("\n| server | run | kind | sent | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    seen = set()
    for r in results:
        key = (r["server"], r["mode"])
        if key in seen:
            continue
        seen.add(key)
        for k, v in r["kinds"].items():
            print(f"| {r['server']} | {r['label']} | {k} | {v['sent']} "
                  f"| {v['latency_ms']['p50']:.2f} | {v['latency_ms']['p99']:.2f} |")


def main():
    a = parse_args()
    harness = common.harness_module(a)
    results = []
    for rep in range(1, a.repeat + 1):
        for kind in a.servers:
            results += one_repeat(a, harness, kind, rep)
    table(results)
    kinds_table(results)
    if a.out:
        common.write_results(a.out, {"args": vars(a), "results": results})
    return 2 if any(status(r) != "ok" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
