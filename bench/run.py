#!/usr/bin/python3
"""Chat-room benchmark: the same rooms and load against the XMPP server's own MUC and hippod.

    bench/run.py                      # 100 rooms x 10 at 200 and 400 msg/s, 1000 x 10
                                      # occupancy, both targets, 2 repeats: 12-15 minutes
    bench/run.py --quick              # a small run that finishes in about a minute
    bench/run.py --targets muc --rooms 100 --occupants 10 --rate 300,600
    bench/run.py --servers prosody,ejabberd --rooms 20 --rate 100,200,400 --occupancy none

Each run gets a fresh private stack (tests/integration/harness.py: PostgreSQL, the XMPP
server — Prosody, or ejabberd with --servers — and hippod on loopback, stopped by pid
afterwards) and runs bench/load_rooms against it. PostgreSQL is durable (on disk, fsync
and synchronous_commit on) unless --unsafe-fast-db:
  muc     the server's own MUC at conference.example.test (Prosody's "muc" component,
          ejabberd's mod_muc), rooms room0..room{R-1}
  muc-mam Prosody's MUC with mod_muc_mam archiving every message in PostgreSQL (durable
          unless --unsafe-fast-db): the durable peer; "N archived" counts the rows inserted
  hippod  hippod's rooms at rooms.example.test: one group of N members and one post to it per
          room, the room JID node being the mapped post GUID; standard MUC dialect
          (--dialect classic for the Mugshot one)
load_rooms watches the server processes and reports their CPU time and RSS over the
measured window; this script prints one table row per run, the ratio of CPU per delivered
stanza, and with --out writes every RESULT as JSON. Then the occupancy runs: OCCUPANCY
(default 1000 rooms x 10) joined and held without traffic, RSS read afterwards.

Needs /usr/bin/python3, root (PostgreSQL runs as postgres), and built binaries:
`meson setup build && ninja -C build hippod hippoctl bench/load_rooms` (--build DIR).
Figures and method: docs/performance.md.
"""

import os
import subprocess
import statistics
import sys
import time

import common
from common import DOMAIN, PASSWORD, fmt

MUC_DOMAIN = "conference.example.test"

# ejabberd's mod_muc with the same shape: rooms created on first join, no history, no
# limits that would refuse the load.
EJABBERD_MUC = f"""mod_muc: {{host: {MUC_DOMAIN}, access_create: all, history_size: 0,
    max_users: 1000000, max_user_conferences: 1000000, min_message_interval: 0,
    max_users_presence: 1000000, default_room_options: {{persistent: false}}}}"""

MUC_COMPONENT = f"""
Component "{MUC_DOMAIN}" "muc"
    restrict_room_creation = false
    muc_room_locking = false
    muc_room_default_history_length = 0
    max_history_messages = 0
    muc_room_cache_size = 1000000
    muc_tombstones = false
"""

# The durable peer: the same MUC archiving every message (XEP-0313) in the same PostgreSQL
# (durable unless --unsafe-fast-db), through Prosody's mod_storage_sql on LuaDBI (Debian's
# lua-dbi-postgresql). Prosody's own database, "prosody", is created for it.
MAM_MODULES = """    modules_enabled = {{ "muc_mam" }}
    muc_log_all_rooms = true
    muc_log_by_default = true
    muc_log_expires_after = "never"
    storage = {{ muc_log = "sql" }}
    sql = {{ driver = "PostgreSQL", database = "prosody", username = "postgres",
            password = "postgres", host = "127.0.0.1", port = {port} }}
"""


def parse_args():
    p = common.arg_parser(__doc__, "hippod, hippoctl, bench/load_rooms")
    p.add_argument("--targets", default="muc,hippod",
                   help="comma list of muc, muc-mam (Prosody only: archived in PostgreSQL), "
                   "hippod")
    p.add_argument("--servers", default="prosody", help="comma list of prosody, ejabberd")
    p.add_argument("--rooms", type=int, default=100)
    p.add_argument("--occupants", type=int, default=10)
    p.add_argument("--rate", default="200,400",
                   help="messages/s over all rooms; a comma list runs each rate (%(default)s)")
    p.add_argument("--senders", type=int, default=0, help="senders per room (0: all)")
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--dialect", default="muc", choices=("muc", "classic"),
                   help="dialect used against hippod (Prosody's MUC speaks muc only)")
    p.add_argument("--occupancy",
                   help="ROOMSxOCCUPANTS joined and held without traffic (1000x10, with "
                   "--quick 100x10); 'none' to skip")
    p.add_argument("--login-rate", type=float, default=1000)
    p.add_argument("--join-rate", type=float, default=1000)
    p.add_argument("--skip-load", action="store_true", help="only the occupancy runs")
    p.add_argument("--max-load", type=float, default=1.5,
                   help="before each run wait until the 1-minute load average is below this "
                   "(other work on the box skews the figures); 0: do not wait (%(default)s)")
    p.add_argument("--load-wait", type=float, default=300,
                   help="longest wait for --max-load, seconds (%(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="10 rooms x 10, 200 msg/s, 5 s, 1 repeat, occupancy 100x10")
    p.add_argument("--out", help="write all results as JSON to this file")
    p.add_argument("--keep-logs", action="store_true",
                   help="keep each stack's directory (logs) instead of removing it")
    a = p.parse_args()
    if a.quick:
        a.rooms, a.occupants, a.rate, a.warmup, a.duration, a.repeat = 10, 10, "200", 2, 5, 1
    if a.occupancy is None:
        a.occupancy = "100x10" if a.quick else "1000x10"
    a.rates = [float(r) for r in str(a.rate).split(",") if r]
    a.server_kinds = [s for s in a.servers.split(",") if s]
    if any(s not in ("prosody", "ejabberd") for s in a.server_kinds):
        p.error(f"--servers: prosody or ejabberd, not {a.servers}")
    a.targets = [t for t in a.targets.split(",") if t]
    for t in a.targets:
        if t not in ("muc", "muc-mam", "hippod"):
            p.error(f"unknown target {t}")
    if "muc-mam" in a.targets and a.server_kinds != ["prosody"]:
        p.error("--targets muc-mam: with --servers prosody only")
    return a


def guid_to_node(guid):
    """src/guid.h: upper-case letter -> lower case, lower-case -> letter + '_', digit kept."""
    return "".join(c.lower() if c.isupper() else c + "_" if c.islower() else c for c in guid)


POPULATE_SQL = """
CREATE TEMP TABLE bu (i int PRIMARY KEY, id text);
CREATE TEMP TABLE bp (r int PRIMARY KEY, id text);
DO $$
DECLARE
    g text;
BEGIN
    INSERT INTO bu SELECT i, hippo.create_user(format('u%s@{domain}', i), format('User %s', i))
    FROM generate_series(0, {users} - 1) AS i;
    FOR r IN 0 .. {rooms} - 1 LOOP
        g := hippo.create_group(format('Bench room %s', r));
        PERFORM hippo.add_group_member(g, bu.id) FROM bu WHERE bu.i / {occupants} = r;
        INSERT INTO bp SELECT r, hippo.create_post(
            (SELECT id FROM bu WHERE bu.i = r * {occupants}), format('http://{domain}/bench/%s', r),
            format('Bench room %s', r), '', ARRAY[g], false);
    END LOOP;
END
$$;
SELECT 'room', r, id FROM bp ORDER BY r;
SELECT 'user', i, id FROM bu ORDER BY i;
"""


def populate_hippo(stack, pg, rooms, occupants):
    """Users u0.., one group per room with its N users, one post per room to that group.
    Returns (rooms file, nicks file): mapped post GUIDs and mapped user GUIDs, one a line."""
    out = pg.psql(POPULATE_SQL.format(domain=DOMAIN, users=rooms * occupants, rooms=rooms,
                                      occupants=occupants), timeout=600)
    room_nodes, user_nodes = {}, {}
    for line in out.splitlines():
        kind, idx, guid = line.split("|")
        (room_nodes if kind == "room" else user_nodes)[int(idx)] = guid_to_node(guid)
    common.data_loaded(pg)  # no push of the set-up's posts during the runs
    rooms_file, nicks_file = stack.path("rooms.txt"), stack.path("nicks.txt")
    with open(rooms_file, "w") as f:
        f.writelines(f"{room_nodes[r]}\n" for r in range(rooms))
    with open(nicks_file, "w") as f:
        f.writelines(f"{user_nodes[i]}\n" for i in range(rooms * occupants))
    return rooms_file, nicks_file


def hippod_config():
    """No rate limit, no history, no room size limit, quiet log: only routing is measured."""
    return {"rooms": {"messages_per_second": 1000000, "message_burst": 1000000,
                      "max_history": 0, "max_occupants": 1000000},
            "log": {"level": "warning"}}


def run_driver(a, pro, args, watches, timeout):
    return common.run_driver(os.path.join(a.build, "bench", "load_rooms"),
                             ["--port", pro.c2s_port, "--domain", DOMAIN, "--password", PASSWORD,
                              "--quiet"] + args, watches, timeout)


def shape_args(a, rooms, occupants, rate, warmup, duration):
    args = ["--rooms", rooms, "--occupants", occupants, "--rate", rate, "--warmup", warmup,
            "--duration", duration, "--login-rate", a.login_rate, "--join-rate", a.join_rate,
            "--drain", 10 + duration]
    if a.senders:
        args += ["--senders", a.senders]
    return args


def wait_quiet(a):
    """Waits (up to --load-wait s) for the load average to fall below --max-load."""
    if a.max_load <= 0:
        return
    deadline = time.monotonic() + a.load_wait
    if os.getloadavg()[0] >= a.max_load:
        print(f"  waiting for the load average to drop below {a.max_load:g} "
              f"(now {os.getloadavg()[0]:.2f})", flush=True)
    while os.getloadavg()[0] >= a.max_load and time.monotonic() < deadline:
        time.sleep(5)


def start_server(stack, kind, n, mam_pg=None):
    """The XMPP server KIND with its MUC (archiving in MAM_PG when given) and N accounts;
    returns (server, its watch)."""
    if kind == "ejabberd":
        srv = stack.ejabberd(log_level="warning", extra_modules=EJABBERD_MUC)
        watch = ("ejabberd", srv.pid, True)  # the BEAM and its port programs
    elif mam_pg:
        mam_pg.psql("CREATE DATABASE prosody", admin=True)
        srv = stack.prosody(extra_config=MUC_COMPONENT + MAM_MODULES.format(port=mam_pg.port),
                            log_level="warn")
        watch = ("prosody", srv.pid, False)
    else:
        srv = stack.prosody(extra_config=MUC_COMPONENT, log_level="warn")
        watch = ("prosody", srv.pid, False)
    common.create_accounts(srv, kind, n)
    return srv, watch


def one_run(a, harness, kind, target, rooms, occupants, rate, warmup, duration):
    """A fresh stack, one load_rooms run; returns its RESULT dict (plus server and target)."""
    wait_quiet(a)
    n = rooms * occupants
    timeout = 600 + n / a.login_rate + n / a.join_rate + warmup + duration
    with harness.Stack(f"bench-{kind}-{target}") as stack:
        mam_pg = common.postgres(stack, a) if target == "muc-mam" else None
        pro, watch = start_server(stack, kind, n, mam_pg)
        args = shape_args(a, rooms, occupants, rate, warmup, duration)
        watches = [watch]
        if target == "muc":
            args += ["--muc-domain", MUC_DOMAIN]
        elif target == "muc-mam":
            args += ["--muc-domain", MUC_DOMAIN]
            watches.append(("postgres", mam_pg.pid, True))
        else:
            pg = common.postgres(stack, a)
            h = stack.hippod(server=pro, pg=pg, config=hippod_config(), start=False)
            t = time.monotonic()
            rooms_file, nicks_file = populate_hippo(stack, pg, rooms, occupants)
            print(f"  populated {n} users, {rooms} groups and posts in "
                  f"{time.monotonic() - t:.1f} s", flush=True)
            common.start_hippod(h)
            args += ["--muc-domain", harness.COMPONENT_DOMAIN, "--rooms-file", rooms_file,
                     "--dialect", a.dialect]
            if a.dialect == "classic":
                args += ["--nicks-file", nicks_file]
            watches += [("hippod", h.pid, False), ("postgres", pg.pid, True)]
        load_before = os.getloadavg()[0]
        res = run_driver(a, pro, args, watches, timeout)
        res["loadavg_1min"] = [load_before, os.getloadavg()[0]]
        if mam_pg:
            res["archived"] = archived(mam_pg)
        if target == "hippod":
            res["hippod_rooms"] = room_counters(harness, h)
    res["target"] = target
    res["server"] = kind
    return res


def archived(pg):
    """Rows Prosody's mod_muc_mam inserted into its archive table. Counted from the table's
    statistics, not its rows: Prosody deletes a room's archive when the room is destroyed,
    which a non-persistent room is when the driver's clients leave."""
    time.sleep(1.5)  # the statistics reach the cumulative view within a second
    out = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-d",
                          pg.admin_conninfo.replace("dbname=hippo", "dbname=prosody"), "-c",
                          "SELECT n_tup_ins FROM pg_stat_user_tables "
                          "WHERE relname = 'prosodyarchive'"],
                         capture_output=True, text=True, timeout=60)
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def room_counters(harness, h):
    """hippod's room-path counters over the whole run (joins, warm-up and window): batches,
    messages, and the messages of senders it remembered present (room_state.h)."""
    text = h.metrics()
    names = ("room_batches", "room_batch_messages", "room_known_messages")
    return {n: harness.metric_value(text, f"hippod_{n}_total") for n in names}


def us(res, label):
    w = res["watch"].get(label)
    return w["us_per_delivery"] if w else None


def xmpp_us(res):
    """CPU per delivery of the XMPP server of RES."""
    return us(res, res["server"])


def server_us(res):
    return sum(w["us_per_delivery"] for w in res["watch"].values())


def others(res):
    """CPU that processes other than the servers and the driver used in the window, in %
    of a core: other work on the box, the noise in the figures."""
    return f"{common.core_pct(res, res['others_cpu_window_s']):.0f}%"


def status(res):
    if res["joined"] < res["conns"]:
        return f"joins failed ({res['join_failed']}): {res['errors']['first'][:80]}"
    if res["lost"] or res["exit_code"]:
        return f"undelivered {res['lost']}, errors {res['errors']}"
    due = res["expected"] / res["window_s"] if res["window_s"] else 0
    archive = f", {res['archived']} archived" if "archived" in res else ""
    rc = res.get("hippod_rooms")
    if rc and rc["room_batches"]:
        archive += (f", {rc['room_batch_messages'] / rc['room_batches']:.1f} msgs/batch, "
                    f"{100 * (rc['room_known_messages'] or 0) / max(rc['room_batch_messages'], 1):.0f}"
                    "% known")
    if due and res["delivered_per_s"] < 0.95 * due:
        return f"ok, but saturated: {due:.0f}/s due in the window{archive}"
    return "ok" + archive


def load_table(results):
    print("\n| server | target | msg/s | run | delivered/s | undelivered | p50 ms | p99 ms | max ms "
          "| XMPP server µs/dlv | hippod µs/dlv | postgres µs/dlv | all µs/dlv | driver CPU "
          "| others CPU | status |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    runs = {}
    for r in results:
        key = (r["server"], r["target"], r["rate"])
        runs[key] = runs.get(key, 0) + 1
        lat = r["latency_ms"]
        drv = common.core_pct(r, r["driver"]["cpu_window_s"])
        print(f"| {r['server']} | {r['target']} | {r['rate']:g} | {runs[key]} "
              f"| {r['delivered_per_s']:.0f} | {r['lost']} "
              f"| {lat['p50']:.2f} | {lat['p99']:.2f} | {lat['max']:.1f} "
              f"| {fmt(xmpp_us(r), '.1f')} | {fmt(us(r, 'hippod'), '.1f')} "
              f"| {fmt(us(r, 'postgres'), '.1f')} "
              f"| {server_us(r):.1f} | {drv:.0f}% | {others(r)} | {status(r)} |")


def ratios(results, kind, rate):
    ok = [r for r in results if status(r).startswith("ok") and r["server"] == kind]
    muc = [xmpp_us(r) for r in ok if r["target"] == "muc"]
    hip = [r for r in ok if r["target"].startswith("hippod")]
    name = kind.capitalize()
    if not muc:
        print(f"\nat {rate:g} msg/s: no successful {name}-MUC run")
        return
    base = statistics.median(muc)
    if not hip:
        print(f"\nat {rate:g} msg/s: {name} MUC {base:.1f} µs CPU per delivered stanza "
              f"(median of {len(muc)}); hippod: pending (no successful hippod run)")
        return
    own = statistics.median(us(r, "hippod") for r in hip)
    with_pg = statistics.median(us(r, "hippod") + us(r, "postgres") for r in hip)
    routing = statistics.median(xmpp_us(r) for r in hip)
    total = statistics.median(server_us(r) for r in hip)
    print(f"\nat {rate:g} msg/s, CPU per delivered stanza, medians ({len(muc)} {name}-MUC "
          f"runs, {len(hip)} hippod runs):")
    print(f"  {name} MUC ({name} alone):".ljust(41) + f"{base:7.1f} µs")
    print(f"  hippod alone:                          {own:7.1f} µs  ratio {own / base:.2f}")
    print(f"  hippod + PostgreSQL:                   {with_pg:7.1f} µs  ratio {with_pg / base:.2f}")
    print(f"  {name} routing for hippod:".ljust(41) + f"{routing:7.1f} µs")
    print(f"  all servers ({name} + hippod + PG):".ljust(41)
          + f"{total:7.1f} µs  ratio {total / base:.2f}")


def occupancy_table(results):
    print("\n| server | target | rooms x occupants | joined | login s | join s | server RSS MiB "
          "| hippod RSS MiB before → joined | hippod peak MiB | status |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        w = r["watch"]
        hip = w.get("hippod")
        hip_rss = (f"{hip['rss_start_kib'] / 1024:.1f} → {hip['rss_kib'] / 1024:.1f}"
                   if hip else "—")
        print(f"| {r['server']} | {r['target']} | {r['rooms']} x {r['occupants']} | {r['joined']} "
              f"| {r['login_s']:.1f} | {r['join_s']:.1f} "
              f"| {w[r['server']]['rss_kib'] / 1024:.1f} | {hip_rss} "
              f"| {fmt(hip and hip['hwm_kib'] / 1024, '.1f')} | {status(r)} |")


def main():
    a = parse_args()
    harness = common.harness_module(a)
    load, occ = [], []
    if not a.skip_load:
        for rep in range(a.repeat):
            for rate in a.rates:
                for kind in a.server_kinds:
                    for target in a.targets:
                        print(f"== load: {kind} {target}, {a.rooms} x {a.occupants} at "
                              f"{rate:g} msg/s, run {rep + 1}/{a.repeat}", flush=True)
                        load.append(one_run(a, harness, kind, target, a.rooms, a.occupants,
                                            rate, a.warmup, a.duration))
        load_table(load)
        for kind in a.server_kinds:
            for rate in a.rates:
                ratios([r for r in load if r["rate"] == rate], kind, rate)
    if a.occupancy != "none":
        rooms, occupants = (int(x) for x in a.occupancy.lower().split("x"))
        for rep in range(a.repeat):
            for kind in a.server_kinds:
                for target in a.targets:
                    print(f"== occupancy: {kind} {target}, {rooms} x {occupants}, "
                          f"run {rep + 1}/{a.repeat}", flush=True)
                    occ.append(one_run(a, harness, kind, target, rooms, occupants, 0, 3, 5))
        occupancy_table(occ)
    if a.out:
        common.write_results(a.out, {"args": vars(a), "load": load, "occupancy": occ})
    failed = [r for r in load + occ if not status(r).startswith("ok")]
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
