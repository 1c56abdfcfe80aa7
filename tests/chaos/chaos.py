#!/usr/bin/python3
"""Chaos and soak campaigns against hippod on a private stack (tests/integration/harness.py:
PostgreSQL, Prosody and hippod on free loopback ports, stopped by pid at the end).

    chaos.py sigkill  [--cycles 20]   # SIGKILL hippod under room load, restart it
    chaos.py pgcrash  [--cycles 10]   # pg_ctl stop -m immediate + start under room load
    chaos.py prosody  [--cycles 10]   # restart Prosody under room load; clients reconnect
    chaos.py sigterm  [--cycles 10]   # SIGTERM during bursts, restart
    chaos.py soak     [--duration 3600] [--csv FILE] [--asan]

The load: four clients, two of the classic dialect (alice, carol) and two of the standard
MUC dialect (bob, dave), each in every room (--rooms, default 3: post rooms and one group
room), send messages with unique bodies (`LOGIN-N`) continuously (--rate per client) or,
for sigterm, in bursts (--burst messages per client at --burst-rate). Every stanza they
receive is recorded: a live room message with `messageInfo` is *acknowledged* (room,
serial, body).

After the cycles, the load stops and, when everything is quiet, the checks run:

- lost: an acknowledged message is not in hippo.room_messages with that serial and body;
- reused: one serial of a room was seen (live or in a backlog) with different bodies;
- dup: a (room, serial) stored twice, or one sent body stored under two serials;
- gaps: the stored serials of a room are not 0..n-1, or hippo.rooms.next_serial is not n;
- backlog: a late joiner's backlog (a MUC join with <history maxstanzas='1000000'/> and a
  classic join, by users that were never in the room) is not the stored messages in serial
  order, or misses an acknowledged one;
- order: a client received a room's live messages out of serial order;
- redelivered: a client received the same live message twice;
- stalled, unhealthy, rejoin: after a fault, no message acknowledged within
  --recover-timeout, /healthz not 200, or a client not back in its rooms;
- campaign checks: unserved (prosody: a ping to the component domain is not answered after
  the restart), rc (sigterm: hippod did not exit 0), unechoed (sigterm: a message committed
  during a cycle was not echoed to every occupant), shutting-down (sigterm: hippod logged
  "shutting down"), final-rc (hippod did not exit 0 on the final SIGTERM), sanitizer (an
  ASan/UBSan/LSan report in hippod's log);
- soak: iq-error, iq-lost (an IQ answered with a non-wait error, or not in 30 s),
  fd-growth (--max-fd-growth), rss-growth (only with --max-rss-slope), died.

Each run prints progress to stderr and one line `RESULT <campaign> ...` to stdout, and exits
1 on any violation (listing the first examples of each), 2 on a setup error.
--inject KIND damages the stored rows just before the checks (a self-test of the checks; the
run must then fail): body (change an acknowledged body), delete (delete an acknowledged
row), dupbody (store an acknowledged body again under a new serial), skip (advance
next_serial without a row). --inject-kill: in cycle 1 hippod is SIGKILLed and left down
(sigterm: SIGKILL instead of the SIGTERM, then restarted as usual). --inject-log TEXT: TEXT
is added to hippod's log before the log checks (sigterm: to cycle 1's; else before the
sanitizer check).

Environment: HIPPOD, HIPPOCTL, SRCDIR as for the integration tests; HIPPOD_ASAN (default:
build-asan/hippod beside $HIPPOD's build directory) for --asan. Run as root.
"""

import argparse
import collections
import csv
import json
import os
import random
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402
from test_rooms_classic import (body_of, classic_join, is_delayed, message_info,  # noqa: E402
                                muc_join, room_of, say)

COMPONENT = harness.COMPONENT_DOMAIN
DOMAIN = harness.DOMAIN
NS_STANZAS = harness.NS_STANZAS
PASSWORD = "pw"

# (login, dialect, name)
AGENTS = (("alice", "classic", "Alice"), ("bob", "muc", "Bob"),
          ("carol", "classic", "Carol"), ("dave", "muc", "Dave"))
LATE = (("latem", "Late Muc"), ("latec", "Late Classic"))
IQ_USER = ("iqer", "Iq Asker")
PROBE = "probe"  # an XMPP account only: pings the component domain

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")
ASAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def error_condition(el):
    """'kind:condition' of an error stanza (plus '(restarting)' for hippod's drain errors)."""
    err = el.find("{jabber:client}error")
    if err is None:
        err = el.find("error")
    conds = [] if err is None else [harness.local_name(c) for c in err
                                    if c.tag.startswith("{" + NS_STANZAS)
                                    and harness.local_name(c) != "text"]
    text = "" if err is None else (err.findtext(f"{{{NS_STANZAS}}}text") or "")
    key = f"{harness.local_name(el)}:{conds[0] if conds else '?'}"
    if "restarting" in text:
        key += "(restarting)"
    return key, (err.get("type") if err is not None else None)


def drain(client):
    """Takes every stanza CLIENT received since the last drain and forgets them (the
    harness client keeps everything otherwise), keeping only IQ answers in its wait queue
    (an iq() may be waiting for one)."""
    with client._cond:  # noqa: SLF001 - the harness client has no public drain
        els = client._all
        client._all = []
        client._pending = [e for e in client._pending if harness.local_name(e) == "iq"
                           and e.get("type") in ("result", "error")]
    return els


class Violations:
    def __init__(self):
        self.counts = collections.Counter()
        self.examples = collections.defaultdict(list)

    def add(self, kind, detail, n=1):
        self.counts[kind] += n
        if len(self.examples[kind]) < 10:
            self.examples[kind].append(detail)

    def total(self):
        return sum(self.counts.values())

    def report(self):
        out = []
        for kind, n in sorted(self.counts.items()):
            out.append(f"VIOLATION {kind}: {n}")
            out += [f"  {d}" for d in self.examples[kind]]
        return "\n".join(out)


class Ledger:
    """What the clients saw."""

    def __init__(self, room_ids):
        self.room_ids = room_ids  # room JID -> room id
        self.lock = threading.Lock()
        self.bodies = collections.defaultdict(set)  # (rid, serial) -> bodies, live or backlog
        self.acked = {}                             # (rid, serial) -> body (live)
        self.live = collections.defaultdict(dict)   # (who, rid) -> {serial: body}
        self.last = {}                              # (who, rid) -> last live serial
        self.errors = collections.Counter()
        self.stanzas = 0
        self.backlog_msgs = 0
        self.violations = Violations()

    def feed(self, who, els):
        with self.lock:
            for e in els:
                self.stanzas += 1
                name = harness.local_name(e)
                if e.get("type") == "error":
                    self.errors[error_condition(e)[0]] += 1
                    continue
                if name != "message":
                    continue
                frm = e.get("from", "")
                rid = self.room_ids.get(frm.split("/", 1)[0])
                mi = message_info(e)
                if rid is None or "/" not in frm or mi is None:
                    continue
                serial, body = int(mi.get("serial")), body_of(e)
                self.bodies[(rid, serial)].add(body)
                if is_delayed(e):
                    self.backlog_msgs += 1
                    continue
                self.acked.setdefault((rid, serial), body)
                if who is None:
                    continue
                mine = self.live[(who, rid)]
                if serial in mine:
                    self.violations.add("redelivered", f"{who} got {rid} serial {serial} "
                                        f"twice ({mine[serial]!r}, {body!r})")
                last = self.last.get((who, rid))
                if last is not None and serial < last:
                    self.violations.add("order", f"{who} got {rid} serial {serial} after "
                                        f"{last}")
                self.last[(who, rid)] = serial
                mine[serial] = body

    def n_acked(self):
        with self.lock:
            return len(self.acked)


class Agent:
    """One client (one resource) in every room, reconnected when its stream breaks."""

    def __init__(self, rig, login, dialect, name):
        self.rig, self.login, self.dialect, self.name = rig, login, dialect, name
        self.muc = dialect == "muc"
        self.lock = threading.Lock()       # guards self.client
        self.send_lock = threading.Lock()  # one sender at a time (load or burst)
        self.client = None
        self.n = 0
        self.sent = 0
        self.send_failures = 0
        self.connects = 0
        self.joins = 0

    def connect(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                c = self.rig.stack.client(self.rig.server, self.login, PASSWORD,
                                          resource="chaos", timeout=15)
                break
            except (OSError, TimeoutError, harness.StreamClosed, RuntimeError) as e:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.login}: cannot connect: {e}") from None
                time.sleep(0.5)
        with self.lock:
            self.client = c
        self.connects += 1
        return c

    def current(self):
        with self.lock:
            return self.client

    def join(self, room, history="<history maxstanzas='0'/>"):
        c = self.current()
        if self.muc:
            muc_join(c, room, self.name, history)
        else:
            classic_join(c, room)
        self.joins += 1

    def send_next(self):
        """Sends the next message; False when there is no usable stream."""
        with self.send_lock:
            c = self.current()
            if c is None or c.closed:
                return False
            room = self.rig.room_jids[self.n % len(self.rig.room_jids)]
            body = f"{self.login}-{self.n}"
            self.n += 1
            try:
                say(c, room, body, groupchat=self.muc)
                self.sent += 1
                return True
            except OSError:
                self.send_failures += 1
                return False


def ping_room(client, room, timeout):
    """The room ping goes the way of the room's statements: its answer comes after hippod
    handled what CLIENT sent to ROOM before. Returns the reply."""
    return client.iq(f"<iq type='get' to='{room}'><ping xmlns='urn:xmpp:ping'/></iq>", timeout)


def ping_component(client, timeout=10):
    return client.iq(f"<iq type='get' to='{COMPONENT}'><ping xmlns='urn:xmpp:ping'/></iq>",
                     timeout)


def proc_sample(pid):
    """(VmRSS KiB, open fds) of PID, or None."""
    try:
        rss = None
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None


def slope_per_hour(points):
    """Least-squares slope of [(seconds, value)] in value per hour (None below 2 points)."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx * 3600


class Rig:
    """The stack (PostgreSQL with synchronous_commit=off server-wide, Prosody, hippod), the
    users, the rooms, the agents and the ledger; the cycles and the checks."""

    def __init__(self, name, opts):
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.t0 = time.monotonic()
        self.load1_start = os.getloadavg()[0]
        self.violations = Violations()
        self.cycles = collections.Counter()
        self.unechoed_ranges = []  # (cycle, {rid: (lo_exclusive, hi_inclusive)})
        self.restarts = 0
        self.ping_answers = []
        self.mid_burst = 0
        self.term_acked_at_signal = []
        self.term_committed = []
        self.sigterm_rcs = []
        self.stack = harness.Stack(name)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ setup
    def _setup(self):
        o = self.opts
        self.pg = self.stack.postgres()
        sc = self.pg.psql("SHOW synchronous_commit", admin=True)
        if sc != "off":
            raise RuntimeError(f"PostgreSQL synchronous_commit is {sc}, the campaigns want off")
        self.server = self.stack.prosody()
        rooms = {"messages_per_second": 100000, "message_burst": 100000,
                 "max_history": o.max_history}
        config = {"component": {"reconnect_min_ms": 50, "reconnect_max_ms": 1000},
                  "log": {"level": o.log_level}, "rooms": rooms,
                  "database": {"connections": o.db_connections} if o.db_connections else {},
                  'client "linux"': {"minimum": "1.1.10", "current": "1.1.20",
                                     "download": "https://example.test/get/linux"}}
        env = dict(ASAN_ENV) if o.asan else None
        self.hippod = self.stack.hippod(server=self.server, pg=self.pg, config=config, env=env)
        self.hippod.wait_health(200, timeout=60)
        logins = [a[0] for a in AGENTS] + [x[0] for x in LATE] + [IQ_USER[0], PROBE]
        for login in logins:
            self.server.register(login, PASSWORD)
        users = [(a[0], a[2]) for a in AGENTS] + list(LATE) + [IQ_USER]
        values = ", ".join(f"('{login}', '{name}')" for login, name in users)
        n_posts = max(1, o.rooms - 1) if o.rooms > 1 else 1
        n_groups = o.rooms - n_posts
        sql = f"""
CREATE TEMP TABLE u AS SELECT login, hippo.create_user(login || '@{DOMAIN}', name) AS id
  FROM (VALUES {values}) v(login, name);
CREATE TEMP TABLE r AS
  SELECT k, hippo.create_post((SELECT id FROM u WHERE login = 'alice'),
                              'http://example.test/chaos/' || k, 'Chaos post ' || k, 'load',
                              ARRAY(SELECT id FROM u WHERE login <> 'alice'), false) AS id
  FROM generate_series(1, {n_posts}) k
  UNION ALL
  SELECT 1000 + k, hippo.create_group('Chaos group ' || k) FROM generate_series(1, {n_groups}) k;
SELECT hippo.add_group_member(r.id, u.id) FROM r, u WHERE r.k >= 1000;
SELECT 'user', login, id FROM u UNION ALL SELECT 'room', k::text, id FROM r ORDER BY 1, 2;
"""
        self.ids = {}
        self.room_ids_list = []
        for line in self.pg.psql(sql).splitlines():
            parts = line.split("|")
            if len(parts) != 3:
                continue
            if parts[0] == "user":
                self.ids[parts[1]] = parts[2]
            elif parts[0] == "room":
                self.room_ids_list.append(parts[2])
        self.room_jids = [room_of(rid) for rid in self.room_ids_list]
        self.room_of_jid = dict(zip(self.room_jids, self.room_ids_list))
        self.ledger = Ledger(self.room_of_jid)
        self.agents = [Agent(self, *a) for a in AGENTS]
        self.harvest_lock = threading.Lock()
        self.observers = []  # extra clients whose stanzas go to the ledger (soak's IQ user)
        for a in self.agents:
            a.connect()
            for room in self.room_jids:
                a.join(room)
        for a in self.agents:
            for room in self.room_jids:
                ping_room(a.current(), room, 60)
        missing = self.ensure_joined()
        if missing:
            raise RuntimeError(f"agents not in their rooms after joining: {missing}")
        self.stop_event = threading.Event()
        self.load_on = threading.Event()
        self.threads = [threading.Thread(target=self._harvester, daemon=True)]
        for a in self.agents:
            self.threads.append(threading.Thread(target=self._sender, args=(a,), daemon=True))
        for t in self.threads:
            t.start()
        log(f"stack up in {self.elapsed():.1f} s: {len(self.room_jids)} rooms, "
            f"{len(self.agents)} clients, hippod {harness.HIPPOD}")

    def elapsed(self):
        return time.monotonic() - self.t0

    # ------------------------------------------------------------ load
    def _sender(self, agent):
        period = 1.0 / self.opts.rate if self.opts.rate > 0 else 1.0
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            if not self.load_on.is_set():
                self.load_on.wait(0.1)
                next_at = time.monotonic()
                continue
            if not agent.send_next():
                time.sleep(0.05)
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                next_at = time.monotonic()  # behind: do not catch up in a burst

    def _harvester(self):
        while not self.stop_event.is_set():
            self.harvest()
            time.sleep(0.1)

    def harvest(self):
        with self.harvest_lock:
            for a in self.agents:
                c = a.current()
                if c is not None:
                    self.ledger.feed(a.login, drain(c))
            for c in list(self.observers):
                self.ledger.feed(None, drain(c))

    def settle(self, quiet=1.5, timeout=90):
        """Waits until no client received anything for QUIET s."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            self.harvest()
            n = self.ledger.stanzas
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return True
            time.sleep(0.1)
        return False

    def wait_acks(self, more, timeout):
        """Waits until MORE new messages are acknowledged; returns the seconds it took or
        None at the timeout."""
        start = time.monotonic()
        goal = self.ledger.n_acked() + more
        while time.monotonic() - start < timeout:
            self.harvest()
            if self.ledger.n_acked() >= goal:
                return time.monotonic() - start
            time.sleep(0.05)
        return None

    # ------------------------------------------------------------ database views
    def occupancy(self):
        ids = ",".join(f"'{r}'" for r in self.room_ids_list)
        out = self.pg.psql("SELECT room_id, occupant_jid FROM hippo.room_occupants "
                           f"WHERE room_id IN ({ids})")
        return {tuple(line.split("|", 1)) for line in out.splitlines() if line}

    def ensure_joined(self, tries=3):
        """Re-joins every agent that is not an occupant of a room (per the database);
        returns what is still missing after TRIES rounds."""
        missing = []
        for attempt in range(tries):
            occ = self.occupancy()
            missing = [(a, room) for a in self.agents for room, rid in self.room_of_jid.items()
                       if a.current() is not None and (rid, a.current().jid) not in occ]
            if not missing:
                return []
            if attempt:
                log(f"re-joining {len(missing)} (attempt {attempt + 1})")
            for a, room in missing:
                try:
                    a.join(room)
                except OSError:
                    pass
            for a, room in missing:
                try:
                    ping_room(a.current(), room, 60)
                except (TimeoutError, harness.StreamClosed, OSError):
                    pass
        return [(a.login, room) for a, room in missing]

    def stored_rows(self):
        ids = ",".join(f"'{r}'" for r in self.room_ids_list)
        out = self.pg.psql("SELECT room_id, serial, encode(convert_to(body, 'UTF8'), 'hex') "
                           f"FROM hippo.room_messages WHERE room_id IN ({ids}) "
                           "ORDER BY room_id, serial", timeout=300)
        rows = []
        for line in out.splitlines():
            rid, serial, hexbody = line.split("|")
            rows.append((rid, int(serial), bytes.fromhex(hexbody).decode()))
        return rows

    def next_serials(self):
        ids = ",".join(f"'{r}'" for r in self.room_ids_list)
        out = self.pg.psql(f"SELECT room_id, next_serial FROM hippo.rooms WHERE room_id IN ({ids})")
        return {line.split("|")[0]: int(line.split("|")[1]) for line in out.splitlines() if line}

    def max_serials(self):
        ids = ",".join(f"'{r}'" for r in self.room_ids_list)
        out = self.pg.psql("SELECT r.room_id, coalesce(max(m.serial), -1) FROM hippo.rooms r "
                           "LEFT JOIN hippo.room_messages m USING (room_id) "
                           f"WHERE r.room_id IN ({ids}) GROUP BY r.room_id")
        got = {line.split("|")[0]: int(line.split("|")[1]) for line in out.splitlines() if line}
        return {rid: got.get(rid, -1) for rid in self.room_ids_list}

    # ------------------------------------------------------------ recovery
    def recovered(self, what):
        """After a fault: every agent connected and in every room, and messages are
        acknowledged again (else a 'stalled' violation; returns False)."""
        for a in self.agents:
            c = a.current()
            if c is None or c.closed:
                self.reconnect(a)
        left = self.ensure_joined()
        if left:
            self.violations.add("rejoin", f"{what}: not in the room after re-joining: {left}")
        took = self.wait_acks(5, self.opts.recover_timeout)
        if took is None:
            self.violations.add("stalled", f"{what}: no message acknowledged within "
                                f"{self.opts.recover_timeout} s\n" + self.hippod.log_tail(20))
            return False
        return True

    def reconnect(self, agent):
        with self.harvest_lock:
            old = agent.current()
            with agent.lock:
                agent.client = None
            if old is not None:
                self.ledger.feed(agent.login, drain(old))
                old.close(timeout=1)
        agent.connect()
        for room in self.room_jids:
            agent.join(room)
        for room in self.room_jids:
            try:
                ping_room(agent.current(), room, 60)  # the joins are done
            except (TimeoutError, harness.StreamClosed, OSError):
                pass

    def fresh_probe(self, timeout):
        """Connects the probe account and pings the component domain until it answers a
        result; returns (seconds, None) or (None, last answer)."""
        start = time.monotonic()
        last = "no answer"
        probe = None
        try:
            while time.monotonic() - start < timeout:
                try:
                    if probe is None or probe.closed:
                        probe = self.stack.client(self.server, PROBE, PASSWORD, resource="p",
                                                  timeout=15)
                    reply = ping_component(probe, timeout=5)
                    if reply.get("type") == "result":
                        return time.monotonic() - start, None
                    last = harness.tostring(reply)
                except (OSError, TimeoutError, harness.StreamClosed, RuntimeError) as e:
                    last = f"{type(e).__name__}: {e}"
                time.sleep(0.2)
            return None, last
        finally:
            if probe is not None:
                probe.close(timeout=1)

    # ------------------------------------------------------------ cycles
    def load_phase(self):
        """Continuous load for a random time."""
        self.load_on.set()
        time.sleep(self.rng.uniform(self.opts.min_load, self.opts.max_load))

    def healthy(self, what):
        """hippod's /healthz says 200 within --recover-timeout (else a violation)."""
        try:
            self.hippod.wait_health(200, timeout=self.opts.recover_timeout)
            return True
        except TimeoutError as e:
            self.violations.add("unhealthy", f"{what}: {e}")
            return False

    def injected_kill(self, i):
        """--inject-kill: SIGKILL hippod in cycle 1 and leave it down (a self-test)."""
        if self.opts.inject_kill and i == 1:
            log("INJECTED kill: hippod is SIGKILLed and left down")
            self.hippod.kill()
            return True
        return False

    def cycle_sigkill(self, i):
        self.load_phase()
        before = self.ledger.n_acked()
        self.hippod.kill()
        time.sleep(self.rng.uniform(0, 0.3))
        if not self.injected_kill(i):
            self.hippod.start()
        self.restarts += 1
        ok = self.healthy(f"sigkill cycle {i}") and self.recovered(f"sigkill cycle {i}")
        self.cycles["sigkill"] += 1
        return ok, before

    def cycle_pgcrash(self, i):
        self.load_phase()
        before = self.ledger.n_acked()
        self.pg.stop("immediate")
        self.injected_kill(i)
        time.sleep(self.rng.uniform(0, 0.5))
        self.pg.start()
        ok = self.healthy(f"pgcrash cycle {i}") and self.recovered(f"pgcrash cycle {i}")
        self.cycles["pgcrash"] += 1
        return ok, before

    def cycle_prosody(self, i):
        self.load_phase()
        before = self.ledger.n_acked()
        self.server.stop()
        self.injected_kill(i)
        time.sleep(self.rng.uniform(0, 0.5))
        self.server.start()
        took, last = self.fresh_probe(self.opts.recover_timeout)
        if took is None:
            self.violations.add("unserved", f"prosody cycle {i}: no ping answer from "
                                f"{COMPONENT} within {self.opts.recover_timeout} s (last: "
                                f"{last[:300]})\n" + self.hippod.log_tail(20))
            self.cycles["prosody"] += 1
            return False, before
        self.ping_answers.append(took)
        ok = self.recovered(f"prosody cycle {i}")
        self.cycles["prosody"] += 1
        return ok, before

    def cycle_sigterm(self, i):
        """A burst per agent without pause; SIGTERM after a random number of echoes;
        hippod must exit 0, and every message committed meanwhile must have been echoed to
        every agent (checked at the end, when everything has been delivered)."""
        self.load_on.clear()
        self.settle(quiet=0.5, timeout=30)
        log_mark = self.hippod.log_mark()
        watermark = self.max_serials()
        before = self.ledger.n_acked()
        burst = self.opts.burst

        period = 1.0 / self.opts.burst_rate if self.opts.burst_rate > 0 else 0

        def run_burst(a):
            start = time.monotonic()
            for k in range(burst):
                a.send_next()
                if period:
                    delay = start + (k + 1) * period - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)

        total = burst * len(self.agents)
        target = self.rng.randint(10, max(10, int(total * self.opts.term_at)))
        threads = [threading.Thread(target=run_burst, args=(a,)) for a in self.agents]
        for t in threads:
            t.start()
        if self.wait_acks(target, 60) is None:
            self.violations.add("stalled", f"sigterm cycle {i}: {target} echoes of the burst "
                                "not seen within 60 s")
        acked_at_signal = self.ledger.n_acked() - before
        if self.opts.inject_kill and i == 1:
            log("INJECTED kill: SIGKILL instead of SIGTERM")
            self.hippod.signal(signal.SIGKILL)  # self-test: the rc check must fail
        else:
            self.hippod.signal(signal.SIGTERM)
        for t in threads:
            t.join()
        self.term_acked_at_signal.append(acked_at_signal)
        try:
            rc = self.hippod.wait(timeout=30)
        except TimeoutError as e:
            rc = "timeout"
            self.violations.add("rc", f"sigterm cycle {i}: {e}")
            self.hippod.kill()
        self.sigterm_rcs.append(rc)
        text = self.hippod.log_text()[log_mark:]
        if self.opts.inject_log and i == 1:
            text += self.opts.inject_log + "\n"
            log(f"INJECTED log line {self.opts.inject_log!r}")
        lines = [ln for ln in text.splitlines() if "shutting down" in ln]
        if lines:
            self.violations.add("shutting-down", f"sigterm cycle {i}: {len(lines)} log lines, "
                                f"e.g. {lines[:3]}", len(lines))
        if rc != 0 and rc != "timeout":
            self.violations.add("rc", f"sigterm cycle {i}: hippod exited {rc}\n"
                                + self.hippod.log_tail(20))
        high = self.max_serials()
        committed = sum(high[r] - watermark[r] for r in self.room_ids_list)
        if committed < total:
            self.mid_burst += 1  # the stop cut the intake: the rest was refused or bounced
        self.term_committed.append(committed)
        self.unechoed_ranges.append((i, {rid: (watermark[rid], high[rid])
                                         for rid in self.room_ids_list}))
        self.hippod.start()
        self.restarts += 1
        if not self.healthy(f"sigterm cycle {i}"):
            return False, before
        left = self.ensure_joined()
        if left:
            self.violations.add("rejoin", f"sigterm cycle {i}: not in the room: {left}")
        self.cycles["sigterm"] += 1
        return True, before

    def run_cycles(self, kind, n):
        fn = getattr(self, f"cycle_{kind}")
        for i in range(1, n + 1):
            t = time.monotonic()
            ok, before = fn(i)
            log(f"{kind} cycle {i}/{n}: {self.ledger.n_acked() - before:+d} acknowledged "
                f"since the fault, {self.ledger.n_acked()} in all, {time.monotonic() - t:.1f} s")
            if not ok:
                log(f"{kind}: stopping the cycles, the service did not recover")
                return False
        return True

    # ------------------------------------------------------------ the checks
    def inject(self, kind):
        """Damages the stored rows (a self-test: the checks must then fail)."""
        acked = sorted(self.ledger.acked.items())
        (rid, serial), body = acked[len(acked) // 2]
        a = f"'{rid}'"
        if kind == "body":
            sql = (f"UPDATE hippo.room_messages SET body = 'CORRUPTED' WHERE room_id = {a} "
                   f"AND serial = {serial}")
        elif kind == "delete":
            sql = f"DELETE FROM hippo.room_messages WHERE room_id = {a} AND serial = {serial}"
        elif kind == "dupbody":
            text = f"'{body}'"
            sql = (f"WITH s AS (UPDATE hippo.rooms SET next_serial = next_serial + 1 "
                   f"WHERE room_id = {a} RETURNING next_serial - 1 AS serial) "
                   "INSERT INTO hippo.room_messages (room_id, serial, user_id, body) "
                   f"SELECT {a}, s.serial, '{self.ids['alice']}', {text} FROM s")
        elif kind == "skip":
            sql = f"UPDATE hippo.rooms SET next_serial = next_serial + 1 WHERE room_id = {a}"
        else:
            raise ValueError(kind)
        self.pg.psql(sql, admin=True)
        log(f"INJECTED {kind} at {rid} serial {serial} ({body!r})")

    def backlogs(self):
        """{(dialect, rid): [(serial, body)]} of late joiners (never in the rooms before)."""
        out = {}
        clients = {}
        try:
            for login, _ in LATE:
                clients[login] = self.stack.client(self.server, login, PASSWORD,
                                                   resource="late", timeout=30)
            for room, rid in self.room_of_jid.items():
                for login, dialect in (("latem", "muc"), ("latec", "classic")):
                    c = clients[login]
                    mark = len(c.received())
                    if dialect == "muc":
                        muc_join(c, room, "Late", "<history maxstanzas='1000000'/>")
                        c.wait_for(lambda e, room=room: harness.local_name(e) == "message"
                                   and e.get("from") == room
                                   and e.find("{jabber:client}subject") is not None,
                                   timeout=self.opts.backlog_timeout)
                    else:
                        classic_join(c, room)
                        reply = ping_room(c, room, self.opts.backlog_timeout)
                        if reply.get("type") != "result":
                            raise RuntimeError(f"room ping failed: {harness.tostring(reply)}")
                    seq = []
                    for e in c.received()[mark:]:
                        mi = message_info(e)
                        if (harness.local_name(e) == "message" and mi is not None
                                and e.get("from", "").startswith(room + "/") and is_delayed(e)):
                            seq.append((int(mi.get("serial")), body_of(e)))
                            self.ledger.bodies[(rid, seq[-1][0])].add(seq[-1][1])
                    out[(dialect, rid)] = seq
        finally:
            for c in clients.values():
                c.close(timeout=2)
        return out

    def check(self, backlogs):
        v = self.violations
        for kind, n in self.ledger.violations.counts.items():
            for d in self.ledger.violations.examples[kind]:
                v.add(kind, d, 0)
            v.counts[kind] += n
        rows = self.stored_rows()
        stored = collections.defaultdict(dict)
        seen_keys = set()
        body_at = {}
        for rid, serial, body in rows:
            if (rid, serial) in seen_keys:
                v.add("dup", f"{rid} serial {serial} stored twice")
            seen_keys.add((rid, serial))
            if (rid, body) in body_at:
                v.add("dup", f"{rid}: body {body!r} stored as serial {body_at[(rid, body)]} "
                      f"and {serial}")
            body_at[(rid, body)] = serial
            stored[rid][serial] = body
        lost = 0
        for (rid, serial), body in sorted(self.ledger.acked.items()):
            got = stored[rid].get(serial)
            if got != body:
                lost += 1
                v.add("lost", f"{rid} serial {serial} acknowledged as {body!r}, stored: {got!r}")
        reused = 0
        for (rid, serial), bodies in sorted(self.ledger.bodies.items()):
            if len(bodies) > 1:
                reused += 1
                v.add("reused", f"{rid} serial {serial} seen with {sorted(bodies)!r}")
        nexts = self.next_serials()
        gaps = 0
        for rid in self.room_ids_list:
            serials = set(stored[rid])
            n = max(serials) + 1 if serials else 0
            missing = sorted(set(range(n)) - serials)
            if missing:
                gaps += len(missing)
                v.add("gaps", f"{rid}: serials {missing[:20]} missing of 0..{n - 1}",
                      len(missing))
            if nexts.get(rid, 0) != n:
                gaps += 1
                v.add("gaps", f"{rid}: next_serial {nexts.get(rid)} but serials end at {n - 1}")
        for (dialect, rid), seq in sorted(backlogs.items()):
            expect = sorted(stored[rid].items())
            if self.opts.max_history >= 0:
                expect = expect[-self.opts.max_history:] if self.opts.max_history else []
            bad = [(a, b) for a, b in zip(seq, seq[1:]) if b[0] <= a[0]]
            if bad:
                v.add("backlog", f"{dialect} late joiner of {rid}: out of order at {bad[:3]}")
            if seq != expect:
                got, want = set(seq), set(expect)
                v.add("backlog", f"{dialect} late joiner of {rid}: {len(seq)} messages, "
                      f"{len(expect)} stored in its window; missing {sorted(want - got)[:5]}, "
                      f"extra {sorted(got - want)[:5]}")
            if self.opts.max_history < 0:
                low = 0  # the whole history
            else:
                low = expect[0][0] if expect else float("inf")
            have = set(seq)
            miss = [(s, b) for (r, s), b in self.ledger.acked.items()
                    if r == rid and s >= low and (s, b) not in have]
            if miss:
                v.add("backlog", f"{dialect} late joiner of {rid}: {len(miss)} acknowledged "
                      f"messages missing, e.g. {sorted(miss)[:5]}")
        unechoed = 0
        for cycle, ranges in self.unechoed_ranges:
            for rid, (lo, hi) in ranges.items():
                for serial in range(lo + 1, hi + 1):
                    body = stored[rid].get(serial)
                    for a in self.agents:
                        if self.ledger.live[(a.login, rid)].get(serial) != body:
                            unechoed += 1
                            v.add("unechoed", f"sigterm cycle {cycle}: {rid} serial {serial} "
                                  f"({body!r}) committed, not echoed to {a.login}")
        return rows, lost, reused, gaps, unechoed

    @staticmethod
    def log_summary(text):
        """{level: lines} and the most frequent warning/error messages (digits and ids
        blurred) of hippod's log."""
        levels = collections.Counter()
        msgs = collections.Counter()
        for line in text.splitlines():
            m = re.match(r"\S+ (ERROR|ERR|WARNING|NOTICE|INFO|DEBUG|CRIT\w*) (.*)", line)
            if not m:
                continue
            levels[m.group(1)] += 1
            if m.group(1) in ("ERROR", "ERR", "WARNING") or m.group(1).startswith("CRIT"):
                msg = re.sub(r"[A-Za-z0-9]{14}|\S+@\S+|\d+", "#", m.group(2))
                msgs[f"{m.group(1)} {msg[:160]}"] += 1
        return dict(levels), msgs.most_common(8)

    def check_log(self, text):
        for mark in SANITIZER_MARKS:
            if mark in text:
                i = text.index(mark)
                self.violations.add("sanitizer", text[max(0, i - 200):i + 800])

    def finish(self, campaign):
        """Stops the load, waits for quiet, runs the late joiners and every check, stops
        hippod (it must exit 0) and returns the result dict."""
        self.load_on.clear()
        if not self.settle(quiet=2.0, timeout=120):
            log("warning: the clients never went quiet; checking anyway")
        if not self.hippod.running():
            self.hippod.start()  # left down by a failed cycle
        self.hippod.wait_health(200, timeout=60)
        if self.opts.inject:
            self.inject(self.opts.inject)
        backlogs = self.backlogs()
        self.stop_event.set()
        for t in self.threads:
            t.join(5)
        self.harvest()
        rows, lost, reused, gaps, unechoed = self.check(backlogs)
        rc = self.hippod.stop(timeout=30)
        if rc != 0:
            self.violations.add("final-rc", f"hippod exited {rc} on SIGTERM\n"
                                + self.hippod.log_tail(30))
        if self.opts.inject_log and not self.cycles["sigterm"]:
            with open(self.hippod.log_path, "a") as f:
                f.write(self.opts.inject_log + "\n")
            log(f"INJECTED log line {self.opts.inject_log!r}")
        self.check_log(self.hippod.log_text())
        levels, top = self.log_summary(self.hippod.log_text())
        v = self.violations
        res = {
            "campaign": campaign,
            "cycles": dict(self.cycles),
            "acked": len(self.ledger.acked),
            "stored": len(rows),
            "sent": sum(a.sent for a in self.agents),
            "lost": lost, "reused": reused, "dup": v.counts["dup"], "gaps": gaps,
            "backlog": v.counts["backlog"], "order": v.counts["order"],
            "redelivered": v.counts["redelivered"], "unechoed": unechoed,
            "violations": v.total(),
            "violation_counts": dict(v.counts),
            "backlog_lengths": {f"{d}:{r}": len(s) for (d, r), s in backlogs.items()},
            "errors_received": dict(self.ledger.errors.most_common()),
            "reconnects": sum(a.connects - 1 for a in self.agents),
            "joins": sum(a.joins for a in self.agents),
            "hippod_restarts": self.restarts,
            "duration_s": round(self.elapsed(), 1),
            "load1": [round(self.load1_start, 2), round(os.getloadavg()[0], 2)],
            "seed": self.opts.seed,
            "hippod": harness.HIPPOD,
            "log_levels": levels,
            "log_top_warnings": top,
        }
        if self.cycles["sigterm"]:
            res["sigterm_rcs"] = self.sigterm_rcs
            res["stops_mid_burst"] = self.mid_burst
            res["burst_total"] = self.opts.burst * len(self.agents)
            res["echoed_at_signal"] = self.term_acked_at_signal
            res["committed_per_cycle"] = self.term_committed
        if self.ping_answers:
            res["component_ping_s_max"] = round(max(self.ping_answers), 2)
        return res

    def close(self):
        if hasattr(self, "stop_event"):
            self.stop_event.set()
        self.stack.close()


def summary_line(res):
    cycles = ",".join(f"{k}={v}" for k, v in res["cycles"].items()) or "0"
    extra = ""
    if "sigterm_rcs" in res:
        extra += (f" unechoed={res['unechoed']} rc_nonzero="
                  f"{sum(1 for r in res['sigterm_rcs'] if r != 0)}"
                  f" cut_bursts={res['stops_mid_burst']}/{len(res['sigterm_rcs'])}")
    if "component_ping_s_max" in res:
        extra += f" ping_max={res['component_ping_s_max']}s"
    if "unserved" in res["violation_counts"]:
        extra += f" unserved={res['violation_counts']['unserved']}"
    return (f"RESULT {res['campaign']}: cycles {cycles} acked={res['acked']} "
            f"stored={res['stored']} lost={res['lost']} reused={res['reused']} "
            f"dup={res['dup']} gaps={res['gaps']} backlog={res['backlog']} "
            f"order={res['order']} redelivered={res['redelivered']}{extra} "
            f"violations={res['violations']} duration={res['duration_s']}s "
            f"load1={res['load1'][0]}->{res['load1'][1]}")


# ---------------------------------------------------------------- campaigns

def run_chaos(campaign, opts, plan=None):
    """Runs PLAN ([(kind, cycles)], default [(campaign, opts.cycles)]) on one stack;
    returns (result dict, Violations)."""
    plan = plan or [(campaign, opts.cycles)]
    rig = Rig(f"chaos-{campaign}", opts)
    try:
        for kind, n in plan:
            if kind != "sigterm":
                rig.load_on.set()
            if not rig.run_cycles(kind, n):
                break
        res = rig.finish(campaign)
        return res, rig.violations
    finally:
        rig.close()


class IqLoad:
    """The soak's IQ user: a mix of component and protocol IQs at RATE per second."""

    def __init__(self, rig, rate):
        self.rig, self.rate = rig, rate
        post = rig.room_ids_list[0]
        room = rig.room_jids[0]
        self.kinds = [
            ("ping", f"<iq type='get' to='{COMPONENT}'><ping xmlns='urn:xmpp:ping'/></iq>"),
            ("disco", f"<iq type='get' to='{COMPONENT}'><query "
                      "xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
            ("clientinfo", f"<iq type='get' to='{COMPONENT}'><clientInfo "
                           "xmlns='http://dumbhippo.com/protocol/clientinfo' platform='linux' "
                           "distribution='debian' version='' architecture='x86_64'/></iq>"),
            ("prefs", f"<iq type='get' to='{COMPONENT}'><prefs "
                      "xmlns='http://dumbhippo.com/protocol/prefs'/></iq>"),
            ("hotness", f"<iq type='get' to='{COMPONENT}'><hotness "
                        "xmlns='http://dumbhippo.com/protocol/hotness' type='getValue'/></iq>"),
            ("recent", f"<iq type='get' to='{COMPONENT}'><recentPosts "
                       "xmlns='http://dumbhippo.com/protocol/post'/></iq>"),
            ("myspace", f"<iq type='get' to='{COMPONENT}'><mySpaceInfo "
                        "xmlns='http://dumbhippo.com/protocol/myspace' type='getName'/></iq>"),
            ("clicked", f"<iq type='set' to='{COMPONENT}'><method "
                        "xmlns='http://dumbhippo.com/protocol/servermethod' name='postClicked'>"
                        f"<arg>{post}</arg></method></iq>"),
            ("room-ping", f"<iq type='get' to='{room}'><ping xmlns='urn:xmpp:ping'/></iq>"),
            ("details", f"<iq type='get' to='{room}'><details "
                        "xmlns='http://dumbhippo.com/protocol/rooms'/></iq>"),
        ]
        self.ok = collections.Counter()
        self.waits = collections.Counter()
        self.errors = collections.Counter()
        self.lost = 0
        self.stop = threading.Event()
        self.client = rig.stack.client(rig.server, IQ_USER[0], PASSWORD, resource="iq",
                                       timeout=30)
        rig.observers.append(self.client)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        period = 1.0 / self.rate
        next_at = time.monotonic()
        i = 0
        while not self.stop.is_set():
            if not self.rig.load_on.is_set():
                self.rig.load_on.wait(0.2)
                next_at = time.monotonic()
                continue
            # the details IQ sends the backlog (max_history messages): one in 50
            if i % 50 == 49:
                name, xml = self.kinds[-1]
            else:
                name, xml = self.kinds[i % (len(self.kinds) - 1)]
            i += 1
            try:
                r = self.client.iq(xml, timeout=30)
                if r.get("type") == "result":
                    self.ok[name] += 1
                else:
                    key, etype = error_condition(r)
                    if etype == "wait":
                        self.waits[f"{name}/{key}"] += 1
                    else:
                        self.errors[f"{name}/{key}"] += 1
                        self.rig.violations.add("iq-error", f"{name}: {harness.tostring(r)[:300]}")
            except TimeoutError:
                self.lost += 1
                self.rig.violations.add("iq-lost", f"{name}: no answer in 30 s")
            except (harness.StreamClosed, OSError) as e:
                self.rig.violations.add("iq-stream", f"{name}: {e}")
                return
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                next_at = time.monotonic()


def run_soak(opts):
    rig = Rig("chaos-soak", opts)
    try:
        iq = IqLoad(rig, opts.iq_rate)
        iq.thread.start()
        rig.load_on.set()
        pid = rig.hippod.pid
        samples = []
        csv_path = opts.csv or os.path.join(os.getcwd(),
                                            f"soak-{time.strftime('%Y%m%d-%H%M%S')}.csv")
        start = time.monotonic()
        next_sample = start
        next_churn = start + opts.churn if opts.churn > 0 else float("inf")
        churned = 0
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t_s", "rss_kib", "fds", "acked", "iq_ok", "iq_wait", "load1"])
            while True:
                now = time.monotonic()
                if now >= next_sample:
                    s = proc_sample(pid)
                    if s is None:
                        rig.violations.add("died", "hippod is gone\n" + rig.hippod.log_tail(30))
                        break
                    row = [round(now - start, 1), s[0], s[1], rig.ledger.n_acked(),
                           sum(iq.ok.values()), sum(iq.waits.values()),
                           round(os.getloadavg()[0], 2)]
                    samples.append(row)
                    w.writerow(row)
                    f.flush()
                    if len(samples) % 30 == 1:
                        log(f"soak t={row[0]:.0f}s rss={row[1]} KiB fds={row[2]} "
                            f"acked={row[3]} iqs={row[4]}")
                    next_sample += opts.interval
                if now - start >= opts.duration:
                    break
                if now >= next_churn:
                    a = rig.agents[churned % len(rig.agents)]
                    rig.reconnect(a)  # leave by disconnect, join again (with its backlog)
                    churned += 1
                    next_churn += opts.churn
                time.sleep(min(0.5, max(0.0, min(next_sample, next_churn) - time.monotonic())))
        rig.load_on.clear()
        iq.stop.set()
        iq.thread.join(40)
        rss = [(r[0], r[1]) for r in samples]
        fds = [(r[0], r[2]) for r in samples]
        half = [p for p in rss if p[0] >= rss[-1][0] / 2] if rss else []
        res = rig.finish("soak")
        res.update({
            "soak_s": round(samples[-1][0], 1) if samples else 0,
            "samples": len(samples), "csv": csv_path,
            "rss_kib": {"start": rss[0][1], "end": rss[-1][1], "max": max(p[1] for p in rss),
                        "slope_per_h": round(slope_per_hour(rss) or 0, 1),
                        "slope_2nd_half_per_h": round(slope_per_hour(half) or 0, 1)} if rss else {},
            "fds": {"start": fds[0][1], "end": fds[-1][1], "max": max(p[1] for p in fds),
                    "slope_per_h": round(slope_per_hour(fds) or 0, 2)} if fds else {},
            "iq_ok": dict(iq.ok), "iq_wait": dict(iq.waits), "iq_errors": dict(iq.errors),
            "iq_lost": iq.lost, "churn_reconnects": churned,
        })
        if fds and fds[-1][1] - fds[0][1] > opts.max_fd_growth:
            rig.violations.add("fd-growth", f"open fds {fds[0][1]} -> {fds[-1][1]}")
        if (rss and opts.max_rss_slope is not None
                and res["rss_kib"]["slope_2nd_half_per_h"] > opts.max_rss_slope):
            rig.violations.add("rss-growth", f"{res['rss_kib']}")
        res["violations"] = rig.violations.total()
        res["violation_counts"] = dict(rig.violations.counts)
        return res, rig.violations
    finally:
        rig.close()


def soak_line(res):
    r, f = res.get("rss_kib", {}), res.get("fds", {})
    return (f"RESULT soak: {res['soak_s']}s samples={res['samples']} "
            f"rss_kib start={r.get('start')} end={r.get('end')} max={r.get('max')} "
            f"slope={r.get('slope_per_h')}/h (2nd half {r.get('slope_2nd_half_per_h')}/h) "
            f"fds start={f.get('start')} end={f.get('end')} max={f.get('max')} "
            f"slope={f.get('slope_per_h')}/h acked={res['acked']} lost={res['lost']} "
            f"reused={res['reused']} dup={res['dup']} gaps={res['gaps']} "
            f"iq_ok={sum(res['iq_ok'].values())} iq_wait={sum(res['iq_wait'].values())} "
            f"iq_lost={res['iq_lost']} violations={res['violations']} "
            f"duration={res['duration_s']}s load1={res['load1'][0]}->{res['load1'][1]}")


# ---------------------------------------------------------------- command line

DEFAULT_CYCLES = {"sigkill": 20, "pgcrash": 10, "prosody": 10, "sigterm": 10}


def options(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See tests/chaos/README.md.")
    p.add_argument("campaign", choices=list(DEFAULT_CYCLES) + ["soak"])
    p.add_argument("--cycles", type=int, help="fault cycles (default: sigkill 20, others 10)")
    p.add_argument("--rooms", type=int, default=3, help="rooms: posts and one group (3)")
    p.add_argument("--rate", type=float, default=None,
                   help="messages per second per client (4 clients; default 40, soak 5)")
    p.add_argument("--min-load", type=float, default=0.3, help="load before a fault, min s")
    p.add_argument("--max-load", type=float, default=3.0, help="load before a fault, max s")
    p.add_argument("--burst", type=int, default=1000,
                   help="sigterm: messages per client per burst (1000)")
    p.add_argument("--burst-rate", type=float, default=500,
                   help="sigterm: messages per second per client in a burst (500; 0: no "
                   "pause: the whole burst may reach hippod before the signal)")
    p.add_argument("--term-at", type=float, default=0.3,
                   help="sigterm: SIGTERM once a random number of the burst's messages, "
                   "between 10 and this fraction, were echoed (0.3)")
    p.add_argument("--recover-timeout", type=float, default=60)
    p.add_argument("--backlog-timeout", type=float, default=300)
    p.add_argument("--max-history", type=int, default=None,
                   help="hippod [rooms] max_history (default -1, soak 100)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--asan", action="store_true", help="use the ASan+UBSan build")
    p.add_argument("--log-level", default="info", help="hippod [log] level (info)")
    p.add_argument("--db-connections", type=int, default=0,
                   help="hippod [database] connections (default: hippod's, 1)")
    p.add_argument("--inject", choices=["body", "delete", "dupbody", "skip"],
                   help="self-test: damage the stored rows before the checks")
    p.add_argument("--inject-kill", action="store_true",
                   help="self-test: SIGKILL hippod in cycle 1 and leave it down (sigterm: "
                   "SIGKILL instead of SIGTERM)")
    p.add_argument("--inject-log", metavar="TEXT",
                   help="self-test: add TEXT to hippod's log before the log checks")
    p.add_argument("--json", help="also write the result as JSON to this file")
    p.add_argument("--duration", type=float, default=3600, help="soak: seconds (3600)")
    p.add_argument("--interval", type=float, default=10, help="soak: sampling period (10 s)")
    p.add_argument("--csv", help="soak: samples file (default ./soak-DATE.csv)")
    p.add_argument("--iq-rate", type=float, default=20, help="soak: IQs per second (20)")
    p.add_argument("--churn", type=float, default=60,
                   help="soak: every N s one client disconnects and re-joins (60; 0: never)")
    p.add_argument("--max-fd-growth", type=int, default=8,
                   help="soak: more open fds at the end than at the start is a violation (8)")
    p.add_argument("--max-rss-slope", type=float, default=None,
                   help="soak: RSS slope (KiB/h, 2nd half) above this is a violation (off)")
    o = p.parse_args(argv)
    if o.cycles is None:
        o.cycles = DEFAULT_CYCLES.get(o.campaign, 0)
    if o.rate is None:
        o.rate = 5.0 if o.campaign == "soak" else 40.0
    if o.max_history is None:
        o.max_history = 100 if o.campaign == "soak" else -1
    if o.seed is None:
        o.seed = random.SystemRandom().randrange(1 << 31)
    return o


def use_binary(asan):
    if asan:
        path = os.environ.get("HIPPOD_ASAN") or os.path.join(
            os.path.dirname(os.path.dirname(harness.HIPPOD)), "build-asan", "hippod")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: build the ASan hippod or set HIPPOD_ASAN")
        harness.HIPPOD = path


def main(argv=None):
    o = options(argv)
    try:
        use_binary(o.asan)
        log(f"{o.campaign}: seed {o.seed}, hippod {harness.HIPPOD}, load {os.getloadavg()}")
        if o.campaign == "soak":
            res, v = run_soak(o)
            line = soak_line(res)
        else:
            res, v = run_chaos(o.campaign, o)
            line = summary_line(res)
    except harness.Terminated as e:
        print(f"chaos: interrupted ({e})", file=sys.stderr)
        return e.code
    except Exception as e:  # noqa: BLE001 - a setup failure is not a campaign result
        import traceback
        traceback.print_exc()
        print(f"RESULT {o.campaign}: ERROR {type(e).__name__}: {str(e)[:500]}", flush=True)
        return 2
    log("details: " + json.dumps({k: res[k] for k in ("errors_received", "backlog_lengths",
                                                      "reconnects", "joins", "sent",
                                                      "log_levels", "log_top_warnings")}))
    if v.total():
        print(v.report(), file=sys.stderr)
    if o.json:
        with open(o.json, "w") as f:
            json.dump(res, f, indent=1, default=str)
    print(line, flush=True)
    return 1 if v.total() else 0


if __name__ == "__main__":
    sys.exit(main())
