#!/usr/bin/python3
"""PostgreSQL's own cost of storing room messages: hippo.room_message_batch alone.

    bench/room_sql.py                          # 20 rooms x 10, batches of 1, 8, 32, 128
    bench/room_sql.py --rooms 100 --batch 1,64 --messages 20000

A private PostgreSQL (durable unless --unsafe-fast-db) with R rooms of N present occupants
(standard MUC dialect, joined with hippo.room_join as hippod does), then the prepared
statement hippod sends, `SELECT b.i, (b.r).* FROM hippo.room_message_batch(...)`, run back
to back over one connection (psql, PREPARE/EXECUTE) with batches of B messages from random
occupants to their rooms, first with every sender checked in full (a room hippod does not
remember), then with every sender "known" (hippod's steady state, sql/013; a batch of one
known message is hippod's plain statement room_message_known, read from src/rooms.c). It reports per
mode and batch size, and for the floor (a bare one-row INSERT per COMMIT, what any durable
store of a lone message costs at least): messages stored per second, the
backend's CPU time per message and per delivery (a 'to' row: N per message), and the
server's total. No XMPP server and no hippod: what the database costs per message, and how
group commit divides it. Needs /usr/bin/python3, root, and a build with hippod and hippoctl
(--build). Figures and method: docs/performance.md.
"""

import os
import random
import re
import subprocess
import sys
import time

import common
from run import POPULATE_SQL, DOMAIN

STATEMENT = ("PREPARE store(text[], text[], text[], boolean[], boolean[]) AS "
             "SELECT b.i, (b.r).* FROM hippo.room_message_batch($1, $2, $3, $4, $5) b;\n")


def parse_args():
    p = common.arg_parser(__doc__, "hippod, hippoctl")
    p.add_argument("--rooms", type=int, default=20)
    p.add_argument("--occupants", type=int, default=10)
    p.add_argument("--batch", default="1,8,32,128", help="comma list of batch sizes")
    p.add_argument("--messages", type=int, default=8000, help="messages per batch size")
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument("--out", help="write the results as JSON to this file")
    a = p.parse_args()
    a.batches = [int(x) for x in a.batch.split(",")]
    return a


def populate(pg, rooms, occupants):
    """The bench rooms with every member present; returns [(room GUID, [member JIDs])]."""
    out = pg.psql(POPULATE_SQL.format(domain=DOMAIN, users=rooms * occupants, rooms=rooms,
                                      occupants=occupants), timeout=600)
    guids = {}
    for line in out.splitlines():
        kind, idx, guid = line.split("|")
        if kind == "room":
            guids[int(idx)] = guid
    layout = []
    joins = []
    for r in range(rooms):
        jids = [f"u{r * occupants + k}@{DOMAIN}/bench" for k in range(occupants)]
        layout.append((guids[r], jids))
        joins += [f"SELECT count(*) FROM hippo.room_join('{guids[r]}', '{j}', 'participant', "
                  "'muc', true, 1000000, 0, NULL);" for j in jids]
    pg.psql("\n".join(joins), timeout=600)
    common.data_loaded(pg)
    return layout


def literal(items):
    return "'{" + ",".join('"' + x + '"' for x in items) + "}'"


def known_statement():
    """hippod's plain statement for one known message, read from src/rooms.c (its C string
    literals after the name), so that this measures exactly what hippod runs."""
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src",
                            "rooms.c")).read()
    start = src.index('"room_message_known",') + len('"room_message_known",')
    body = src[start:src.index("4);", start)]
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body))


def script(layout, batch, messages, rng, known):
    """A psql script of MESSAGES messages in batches of BATCH; KNOWN: every sender is sent
    as remembered present by hippod (its steady state), else every one is checked in full
    and its room's recipients are returned (a room hippod does not remember)."""
    one = known and batch == 1  # what hippod then sends: room_message_known
    lines = [f"PREPARE one(text, text, text, boolean) AS {known_statement()};\n" if one
             else STATEMENT]
    for start in range(0, messages, batch):
        n = min(batch, messages - start)
        picks = [rng.choice(layout) for _ in range(n)]
        rooms = [room for room, _ in picks]
        jids = [rng.choice(members) for _, members in picks]
        bodies = [f"bench {start + k}" for k in range(n)]
        if one:
            lines.append(f"EXECUTE one('{rooms[0]}', '{jids[0]}', '{bodies[0]}', true);\n")
            continue
        lines.append(f"EXECUTE store({literal(rooms)}, {literal(jids)}, {literal(bodies)}, "
                     f"{literal(['t'] * n)}, {literal(['t' if known else 'f'] * n)});\n")
    return "".join(lines)


def backend_cpu(pg):
    """CPU seconds of the whole cluster: the postmaster's own and its reaped children's
    (a psql session's backend has exited when we read), plus its live children's."""
    with open(f"/proc/{pg.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    own = sum(int(x) for x in fields[11:15]) / common.os.sysconf("SC_CLK_TCK")
    for p in pg.pids()[1:]:
        try:
            own += common.cpu_seconds(p)
        except (FileNotFoundError, ProcessLookupError):  # exited since listed: counted by the postmaster
            pass
    return own


def measure(pg, layout, batch, messages, occupants, rng, known):
    text = script(layout, batch, messages, rng, known)
    before_rows = int(pg.psql("SELECT count(*) FROM hippo.room_messages"))
    cpu0, t0 = backend_cpu(pg), time.monotonic()
    r = subprocess.run(["psql", "-X", "-q", "-o", "/dev/null", "-v", "ON_ERROR_STOP=1",
                        "-d", pg.conninfo, "-f", "-"], input=text, text=True,
                       capture_output=True, timeout=3600)
    wall = time.monotonic() - t0
    time.sleep(0.3)  # the postmaster reaps the session's backend
    cpu = backend_cpu(pg) - cpu0
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    stored = int(pg.psql("SELECT count(*) FROM hippo.room_messages")) - before_rows
    if stored != messages:
        raise RuntimeError(f"{stored} of {messages} messages stored")
    return {"senders": "known" if known else "checked", "batch": batch, "messages": messages, "wall_s": wall, "pg_cpu_s": cpu,
            "msg_per_s": messages / wall, "pg_us_per_msg": 1e6 * cpu / messages,
            "pg_us_per_delivery": 1e6 * cpu / (messages * occupants)}


def floor(pg, messages, occupants):
    """The floor under a batch of 1: a bare one-row INSERT committed on its own, MESSAGES
    times (one durable COMMIT each, nothing of hippod's)."""
    pg.psql("CREATE TABLE IF NOT EXISTS public.bench_floor (id bigserial PRIMARY KEY, body text)",
            admin=True)
    pg.psql("GRANT ALL ON public.bench_floor, public.bench_floor_id_seq TO hippo", admin=True)
    text = "".join(f"INSERT INTO public.bench_floor (body) VALUES ('bench {k}');\n"
                   for k in range(messages))
    cpu0, t0 = backend_cpu(pg), time.monotonic()
    subprocess.run(["psql", "-X", "-q", "-o", "/dev/null", "-v", "ON_ERROR_STOP=1",
                    "-d", pg.conninfo, "-f", "-"], input=text, text=True, check=True,
                   capture_output=True, timeout=3600)
    wall = time.monotonic() - t0
    time.sleep(0.3)
    cpu = backend_cpu(pg) - cpu0
    return {"senders": "floor: one-row INSERT", "batch": 1, "messages": messages,
            "wall_s": wall, "pg_cpu_s": cpu, "msg_per_s": messages / wall,
            "pg_us_per_msg": 1e6 * cpu / messages,
            "pg_us_per_delivery": 1e6 * cpu / (messages * occupants)}


def main():
    a = parse_args()
    harness = common.harness_module(a)
    rng = random.Random(1)
    rows = []
    with harness.Stack("bench-room-sql") as stack:
        pg = common.postgres(stack, a)
        stack.hippod(pg=pg, start=False)  # runs the migrations
        layout = populate(pg, a.rooms, a.occupants)
        for known in (False, True):
            measure(pg, layout, 8, 400, a.occupants, rng, known)  # warm-up: caches, plans
            for batch in a.batches:
                rows.append(measure(pg, layout, batch, a.messages, a.occupants, rng, known))
        rows.append(floor(pg, a.messages, a.occupants))
    print(f"\n{a.rooms} rooms x {a.occupants} present occupants, {a.messages} messages each")
    print("| senders | batch | messages/s | PostgreSQL CPU µs/message | µs/delivery | wall s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['senders']} | {r['batch']} | {r['msg_per_s']:,.0f} | {r['pg_us_per_msg']:.0f} | "
              f"{r['pg_us_per_delivery']:.1f} | {r['wall_s']:.1f} |")
    if a.out:
        common.write_results(a.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
