#!/usr/bin/python3
"""hippod alone: its chat rooms and PostgreSQL measured without an XMPP server in front.

    bench/alone.py                                  # 20 rooms x 10, durable PostgreSQL
    bench/alone.py --rooms 100 --rate 2000,5000 --in-flight 64,256
    bench/alone.py --unsafe-fast-db                 # PostgreSQL on tmpfs, fsync off

Each run gets a fresh private stack (tests/integration/harness.py: PostgreSQL, durable unless
--unsafe-fast-db, and hippod on loopback, stopped by pid afterwards) and no XMPP server:
bench/load_alone listens for hippod's component link itself, checks its handshake, joins
R x N simulated users (uK@example.test/r, the hippo users u0.. of one group and one post per
room, as bench/run.py sets them up) and injects room messages, open loop at each --rate and
closed loop with each --in-flight bound. Per run it prints one table row:
  committed/s   rows added to hippo.room_messages during the driver's measured window
                (count(*) read at the window's start and end), divided by the time between
                the two reads; "echoed/s" is the driver's view (first echo of a message)
  deliveries/s  echoes of the injected messages received in the window (sender included)
  latency       injection to each echo (p50/p99/max), of the window's messages
  msg/batch     hippod's mean group-commit batch in the window (its /metrics counters)
  µs/msg, µs/dlv  CPU time of hippod, PostgreSQL (all its processes) and the driver in the
                window, per committed message and per delivery
With --out, every RESULT as JSON. Needs /usr/bin/python3, root (PostgreSQL runs as postgres)
and a build with hippod, hippoctl and bench/load_alone (--build). Figures and method:
docs/performance.md, "hippod alone (no XMPP server)".
"""

import json
import os
import subprocess
import sys
import threading
import time

import common
from common import fmt
from run import hippod_config as rooms_config, populate_hippo

SECRET = "alone-s3cret"


def parse_args():
    p = common.arg_parser(__doc__, "hippod, hippoctl, bench/load_alone")
    p.add_argument("--rooms", type=int, default=20)
    p.add_argument("--occupants", type=int, default=10)
    p.add_argument("--rate", default="1000,3000",
                   help="open loop: messages/s over all rooms, a comma list; 'none' to skip "
                   "(%(default)s)")
    p.add_argument("--in-flight", default="256",
                   help="closed loop: messages in flight at once, a comma list; 'none' to skip "
                   "(%(default)s)")
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--dialect", default="muc", choices=("muc", "classic"))
    p.add_argument("--hippod-set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="an ini setting of hippod for an experiment, e.g. database.connections=2 "
                   "(repeatable; printed with the results)")
    p.add_argument("--out", help="write all results as JSON to this file")
    p.add_argument("--keep-logs", action="store_true",
                   help="keep each stack's directory (logs) instead of removing it")
    a = p.parse_args()
    a.runs = [("open", float(x)) for x in a.rate.split(",") if x and a.rate != "none"]
    a.runs += [("closed", int(x)) for x in a.in_flight.split(",") if x and a.in_flight != "none"]
    if not a.runs:
        p.error("nothing to run: give --rate or --in-flight")
    a.settings = {}
    for item in a.hippod_set:
        key, eq, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not eq or not dot or not section or not name:
            p.error(f"--hippod-set {item}: expected SECTION.KEY=VALUE")
        a.settings.setdefault(section, {})[name] = value
    return a


def hippod_config(port, settings=None):
    """run.py's rooms settings (no rate limit, no history, quiet log), and the component link
    to the driver, which starts after hippod: hippod retries within half a second. SETTINGS
    ({section: {key: value}}) come last."""
    cfg = rooms_config()
    cfg["component"] = {"port": port, "reconnect_min_ms": 50, "reconnect_max_ms": 500}
    for section, keys in (settings or {}).items():
        cfg.setdefault(section, {}).update(keys)
    return cfg


def room_messages(pg, when=False):
    """Rows in hippo.room_messages; with WHEN, (rows, the statement's start in s): the time
    of the count's snapshot, not of psql starting up."""
    out = pg.psql("SELECT count(*), extract(epoch FROM statement_timestamp()) "
                  "FROM hippo.room_messages")
    n, t = out.split("|")
    return (int(n), float(t)) if when else int(n)


class DriverRun:
    """bench/load_alone as a child process whose --marks lines are acted on as they come
    (ON_MARK probes the database and hippod at the window's start and end)."""

    def __init__(self, a, args, timeout, on_mark):
        self.cmd = [os.path.join(a.build, "bench", "load_alone"), "--marks", "--quiet"]
        self.cmd += [str(x) for x in args]
        self.timeout = timeout
        self.proc = None
        self.lines = []
        self.on_mark = on_mark  # called with the mark's name at each window mark

    def start(self):
        print("  $ load_alone " + " ".join(self.cmd[1:]), flush=True)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
        self.watchdog = threading.Timer(self.timeout, self.proc.kill)
        self.watchdog.daemon = True  # an exception here must not wait for it
        self.watchdog.start()
        self._read_until("MARK listening")

    def _read_until(self, wanted):
        """Reads lines up to WANTED (None: to the end), calling on_mark at window marks."""
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("MARK "):
                if line.startswith("MARK window-"):
                    self.on_mark(line[5:])
                if line == wanted:
                    return
                continue
            self.lines.append(line)
        if wanted is not None:
            self.finish()
            raise RuntimeError(f"load_alone ended before '{wanted}':\n" + "\n".join(self.lines))

    def kill(self):
        """Stops the driver by pid if it still runs (after an error in this script)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self):
        """Reads the rest, waits for the exit; returns the RESULT dict with "exit_code"."""
        self._read_until(None)
        code = self.proc.wait()
        self.watchdog.cancel()
        res = None
        for line in self.lines:
            if line.startswith("RESULT "):
                res = json.loads(line[len("RESULT "):])
            else:
                print("    " + line)
        if res is None:
            raise RuntimeError(f"load_alone exited {code} without a RESULT line")
        res["exit_code"] = code
        return res


class WindowProbe:
    """What the database and hippod say at the window's start and end: the room_messages
    count (with the time of its snapshot) and hippod's group-commit counters."""

    def __init__(self, pg, h, metric_value):
        self.pg, self.h, self.metric_value, self.at = pg, h, metric_value, {}
        self.unanswered = False  # /metrics did not answer at a mark

    def __call__(self, mark):
        try:
            metrics = self.h.metrics()
        except ConnectionError as e:  # a busy hippod may not answer within 5 s: say so
            print(f"    hippod's /metrics at {mark}: {e}", flush=True)
            self.unanswered = True
            metrics = ""
        self.at[mark] = (room_messages(self.pg, when=True),
                         [self.metric_value(metrics, f"hippod_room_batch{x}_total")
                          for x in ("es", "_messages")])

    def results(self):
        """committed in the window, committed/s, mean messages per batch (None if unknown)."""
        if "window-start" not in self.at or "window-end" not in self.at:
            return None, None, None
        ((n0, t0), b0), ((n1, t1), b1) = self.at["window-start"], self.at["window-end"]
        batches = None not in b0 + b1 and b1[0] > b0[0]
        return (n1 - n0, (n1 - n0) / max(t1 - t0, 1e-9),
                (b1[1] - b0[1]) / (b1[0] - b0[0]) if batches else None)


def driver_args(a, mode, value, port, rooms_file, h, pg):
    args = ["--port", port, "--secret", SECRET, "--rooms", a.rooms, "--occupants", a.occupants,
            "--rooms-file", rooms_file, "--dialect", a.dialect, "--warmup", a.warmup,
            "--duration", a.duration, "--drain", 10 + a.duration,
            "--watch", f"hippod={h.pid}", "--watch-tree", f"postgres={pg.pid}"]
    args += ["--rate", value] if mode == "open" else ["--in-flight", value]
    return args


def one_run(a, harness, mode, value):
    """A fresh stack, one load_alone run; returns its RESULT dict with the database's view."""
    n = a.rooms * a.occupants
    with harness.Stack("bench-alone") as stack:
        pg = common.postgres(stack, a)
        port = stack.free_port()
        h = stack.hippod(server=None, pg=pg, config=hippod_config(port, a.settings), secret=SECRET,
                         start=False)
        t = time.monotonic()
        rooms_file, _ = populate_hippo(stack, pg, a.rooms, a.occupants)
        print(f"  populated {n} users, {a.rooms} groups and posts in "
              f"{time.monotonic() - t:.1f} s", flush=True)
        before = room_messages(pg)
        h.start()
        probe = WindowProbe(pg, h, harness.metric_value)
        drv = DriverRun(a, driver_args(a, mode, value, port, rooms_file, h, pg),
                        timeout=300 + 2 * (a.warmup + a.duration), on_mark=probe)
        try:
            drv.start()
            res = drv.finish()
        finally:
            drv.kill()
        res["db_committed_total"] = room_messages(pg) - before
        (res["db_committed_window"], res["db_committed_per_s"],
         res["messages_per_batch"]) = probe.results()
        res["metrics_unanswered"] = probe.unanswered
        res["hippod_alive"] = h.running()
        if not h.running():
            print("    hippod exited:\n" + h.log_tail(20))
    res["shape"] = f"{a.rooms}x{a.occupants}"
    res["offered"] = value
    res["db"] = "unsafe-fast" if a.unsafe_fast_db else "durable"
    return res


def failures(r):
    """What makes run R wrong (not merely overloaded)."""
    if not r["link_up"] or r["link_lost"]:
        return [f"link: {r['first_error'][:80]}"]
    out = []
    if r["joined"] < r["rooms"] * r["occupants"]:
        out.append(f"joins failed {r['join_failed']}")
    if r["lost"] or r["dups"]:
        out.append(f"lost {r['lost']}, dups {r['dups']}")
    if r["db_committed_total"] != r["echoed_total"]:
        out.append(f"db committed {r['db_committed_total']} but {r['echoed_total']} echoed")
    if not r["hippod_alive"]:
        out.append("hippod exited")
    return out


def status(r):
    """"ok", or what went wrong, then the signs of overload: refusals, a rate not kept."""
    problems = failures(r)
    if r["msg_errors"]:
        problems.append(f"refused {r['msg_errors']}: {r['first_error'][:60]}")
    if r["mode"] == "open" and r["committed_per_s"] < 0.95 * r["rate"]:
        problems.append(f"saturated: {r['rate']:.0f}/s offered")
    return "; ".join(problems) or "ok"


def watch(r, label, key):
    w = r["watch"].get(label)
    return w[key] if w else None


def table(results):
    print("\n| rooms×occ | db | load | committed/s (db) | echoed/s | deliveries/s | p50 ms "
          "| p99 ms | max ms | msg/batch | hippod µs/msg | hippod µs/dlv | pg µs/msg "
          "| pg µs/dlv | driver µs/dlv | CPU % hippod / pg / driver / others | status |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r["latency_ms"]
        load = (f"open {r['rate']:g}/s" if r["mode"] == "open"
                else f"closed, {r['in_flight']} in flight")
        pct = [common.core_pct(r, s) if s is not None else None for s in (
            watch(r, "hippod", "cpu_window_s"), watch(r, "postgres", "cpu_window_s"),
            r["driver"]["cpu_window_s"], r["others_cpu_window_s"])]
        print(f"| {r['shape']} | {r['db']} | {load} | {fmt(r['db_committed_per_s'], '.0f')} "
              f"| {r['committed_per_s']:.0f} | {r['deliveries_per_s']:.0f} "
              f"| {lat['p50']:.2f} | {lat['p99']:.2f} | {lat['max']:.1f} "
              f"| {fmt(r['messages_per_batch'], '.1f')} "
              f"| {fmt(watch(r, 'hippod', 'us_per_message'), '.1f')} "
              f"| {fmt(watch(r, 'hippod', 'us_per_delivery'), '.2f')} "
              f"| {fmt(watch(r, 'postgres', 'us_per_message'), '.1f')} "
              f"| {fmt(watch(r, 'postgres', 'us_per_delivery'), '.2f')} "
              f"| {r['driver']['us_per_delivery']:.2f} "
              f"| {' / '.join(fmt(p, '.0f') for p in pct)} | {status(r)} |")


def main():
    a = parse_args()
    harness = common.harness_module(a)
    if a.hippod_set:
        print("hippod settings (an experiment): " + ", ".join(a.hippod_set), flush=True)
    results = []
    for rep in range(a.repeat):
        for mode, value in a.runs:
            what = f"{value:g} msg/s" if mode == "open" else f"{value} in flight"
            print(f"== alone: {a.rooms} x {a.occupants}, {mode} loop {what}, "
                  f"run {rep + 1}/{a.repeat}", flush=True)
            results.append(one_run(a, harness, mode, value))
    table(results)
    if a.out:
        common.write_results(a.out, {"args": vars(a), "runs": results})
    return 2 if any(failures(r) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
