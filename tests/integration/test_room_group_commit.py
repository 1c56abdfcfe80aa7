#!/usr/bin/python3
"""Group commit of room messages (src/room_op.c, sql/011_room_batch.sql) through real
Prosody and PostgreSQL.

- Messages that arrive while a batch is being committed go together in the next
  transaction: with the first batch held by a lock, a burst of senders in several rooms is
  stored in far fewer transactions than messages, every echo is a stored row with its serial,
  and each room's serials are 0..n-1 without gap or duplicate, echoed in serial order.
- A batch whose statement fails answers each of its messages with an error; nothing of it
  is stored and the room's next message takes the next serial.
- SIGKILL during a burst: every message any client saw echoed is in hippo.room_messages."""
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402
from test_component_link import error_of  # noqa: E402
from test_pg_crash_durability import echoes  # noqa: E402
from test_rooms_classic import (World, classic_join, error_reply, message_info,  # noqa: E402
                                message_with, muc_join, presence_from, room_of, say, sync)

SENDERS = ("alice", "bob", "carol")
FAST = {"messages_per_second": 100000, "message_burst": 100000}


def stored(pg, post):
    """{(serial, body)} of POST's room in the database."""
    rows = pg.psql(f"SELECT serial, body FROM hippo.room_messages WHERE room_id = '{post}'")
    return {(int(line.split("|", 1)[0]), line.split("|", 1)[1])
            for line in rows.splitlines() if line}


def live_serials(client, room):
    """The serials of ROOM's live messages CLIENT received, in arrival order."""
    return [int(message_info(e).get("serial")) for e in client.received()
            if harness.local_name(e) == "message" and e.get("type") != "error"
            and e.get("from", "").startswith(room + "/") and message_info(e) is not None]


class Locked:
    """Holds an ACCESS EXCLUSIVE lock on hippo.room_messages from another session while the
    block runs: the batch in flight waits on it, so everything after it queues up."""

    def __init__(self, pg):
        self.pg = pg

    def __enter__(self):
        self.p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                   self.pg.admin_conninfo, "-f", "-"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, text=True)
        self.p.stdin.write("BEGIN;\nLOCK TABLE hippo.room_messages IN ACCESS EXCLUSIVE MODE;\n"
                           "SELECT 1;\n")
        self.p.stdin.flush()
        wait_sql(self.pg, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                          " WHERE c.relname = 'room_messages' AND l.mode = 'AccessExclusiveLock'"
                          " AND l.granted", "1")
        return self

    def __exit__(self, *exc):
        self.p.stdin.write("COMMIT;\n")
        self.p.stdin.close()
        self.p.wait(timeout=30)
        return False


def wait_sql(pg, sql, want, timeout=10):
    deadline = time.monotonic() + timeout
    while pg.psql(sql, admin=True) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"{sql!r} never gave {want!r}")
        time.sleep(0.02)


def wait_stuck(pg):
    """Until one of hippod's statements waits for a lock."""
    wait_sql(pg, "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name LIKE "
                 "'hippod/%' AND wait_event_type = 'Lock'", "t")


class GroupCommit(unittest.TestCase):
    def setUp(self):
        # max_queue_ms: queued messages must outlive the time the lock is held
        self.w = World("group-commit", rooms=FAST, config={"database": {"max_queue_ms": 20000}})
        self.addCleanup(self.w.close)
        for login in SENDERS:
            self.w.user(login)
        self.posts = [self.w.post("alice", to=["bob", "carol"], title=f"room {i}")
                      for i in range(3)]
        self.rooms = [room_of(p) for p in self.posts]
        self.clients = [self.w.client(login) for login in SENDERS]
        for c in self.clients:
            for room in self.rooms:
                classic_join(c, room)
                sync(c, room)

    def metric(self, name):
        return metric_value(self.w.hippod.metrics(), name) or 0

    def test_messages_queued_behind_a_batch_commit_together(self):
        w = self.w
        per_sender = 20
        batches_before = self.metric("hippod_room_batches_total")
        with Locked(w.pg):
            say(self.clients[0], self.rooms[0], "first")
            wait_stuck(w.pg)
            for n in range(per_sender):
                for k, c in enumerate(self.clients):
                    say(c, self.rooms[(n + k) % 3], f"{SENDERS[k]}-{n}")
            for c in self.clients:  # everything sent has reached hippod and waits
                c.iq(f"<iq type='get' to='{harness.COMPONENT_DOMAIN}'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>")
        total = 1 + per_sender * len(SENDERS)
        for c in self.clients:
            for n in range(per_sender):
                for k in range(len(SENDERS)):
                    c.wait_for(message_with(self.rooms[(n + k) % 3], f"{SENDERS[k]}-{n}"),
                               timeout=20)
        batches = self.metric("hippod_room_batches_total") - batches_before
        self.assertLessEqual(batches, 5, f"{total} messages in {batches} transactions")
        self.assertEqual(self.metric("hippod_room_batch_messages_total"), total)
        for post, room in zip(self.posts, self.rooms):
            rows = stored(w.pg, post)
            self.assertEqual(sorted(s for s, _ in rows), list(range(len(rows))), "gap or dup")
            for c in self.clients:
                self.assertEqual(echoes(c, room), rows, f"{c.jid} in {room}")
                self.assertEqual(live_serials(c, room), list(range(len(rows))), "order")
            next_serial = w.pg.psql(f"SELECT next_serial FROM hippo.rooms "
                                    f"WHERE room_id = '{post}'")
            self.assertEqual(int(next_serial), len(rows))
        self.assertEqual(sum(len(stored(w.pg, p)) for p in self.posts), total)

    def test_failed_batch_answers_its_messages_and_the_next_goes(self):
        w = self.w
        post, room = self.posts[0], self.rooms[0]
        w.pg.psql("""
CREATE FUNCTION public.refuse_body() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.body = 'poison' THEN RAISE EXCEPTION 'test: poison'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_body BEFORE INSERT ON hippo.room_messages
    FOR EACH ROW EXECUTE FUNCTION public.refuse_body();""", admin=True)
        alice, bob, carol = self.clients
        with Locked(w.pg):
            say(alice, room, "first")
            wait_stuck(w.pg)
            say(bob, room, "poison", id="p1")
            say(carol, room, "innocent", id="i1")
            for c in (bob, carol):
                c.iq(f"<iq type='get' to='{harness.COMPONENT_DOMAIN}'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>")
        for c, id in ((bob, "p1"), (carol, "i1")):
            err = c.wait_for(error_reply("message", id), timeout=10)
            self.assertEqual(error_of(err), ("wait", "internal-server-error"))
        say(alice, room, "after")
        for c in self.clients:
            c.wait_for(message_with(room, "after"), timeout=10)
        self.assertEqual(stored(w.pg, post), {(0, "first"), (1, "after")})
        for c in self.clients:
            self.assertEqual(echoes(c, room), {(0, "first"), (1, "after")})
        self.assertRegex(w.hippod.log_text(), r"a batch of 2 messages failed: .*poison")


class PresenceCommitsAsync(unittest.TestCase):
    def test_join_and_leave_statements_commit_async(self):
        """Occupancy is a cache of presence: hippod's join and leave statements turn
        synchronous_commit off for their own transaction (sql/011 hippo.commit_async)."""
        w = World("presence-async")
        self.addCleanup(w.close)
        w.user("alice")
        room = room_of(w.group("G", members=["alice"]))
        alice = w.client("alice")
        self.addCleanup(alice.close)

        # every statement into the server log, hippod's sessions included (reloaded at once)
        w.pg.psql("ALTER SYSTEM SET log_statement = 'all'; SELECT pg_reload_conf()", admin=True)
        self.addCleanup(w.pg.psql, "ALTER SYSTEM RESET log_statement; SELECT pg_reload_conf()",
                        admin=True)
        time.sleep(0.5)

        def logged(fn):
            with open(w.pg.log_path) as f:
                return [line for line in f if f"hippo.{fn}(" in line]

        muc_join(alice, room, "Alice")
        alice.wait_for(presence_from(room, "Alice"), timeout=10)
        alice.send(f"<presence type='unavailable' to='{room}/Alice'/>")
        alice.wait_for(presence_from(room, "Alice", "unavailable"), timeout=10)
        for fn in ("room_join", "room_leave"):
            self.assertTrue(logged(fn), f"{fn} not logged")
            for line in logged(fn):
                self.assertIn("WHERE hippo.commit_async()", line)


class KillDuringBurst(unittest.TestCase):
    def test_every_echo_is_stored(self):
        w = World("group-commit-kill", rooms=FAST)
        self.addCleanup(w.stack.close)
        for login in SENDERS:
            w.user(login)
        post = w.post("alice", to=["bob", "carol"])
        room = room_of(post)
        clients = [w.client(login) for login in SENDERS]
        for c in clients:
            classic_join(c, room)
            sync(c, room)

        per_sender = 2000  # enough that the kill comes during the burst, however fast hippod is

        def burst(k, client):
            for n in range(per_sender):
                say(client, room, f"{SENDERS[k]}-{n}")

        threads = [threading.Thread(target=burst, args=(k, c)) for k, c in enumerate(clients)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(echoes(clients[0], room)) < 50 and time.monotonic() < deadline:
            time.sleep(0.002)
        w.hippod.signal(signal.SIGKILL)
        for t in threads:
            t.join()
        w.hippod.wait(timeout=10)
        time.sleep(0.5)  # what Prosody still had to deliver
        rows = stored(w.pg, post)
        seen = set().union(*(echoes(c, room) for c in clients))
        self.assertGreater(len(seen), 0)
        self.assertLess(len(rows), per_sender * len(SENDERS),
                        "the kill came after the burst: no test")
        self.assertEqual(sorted(seen - rows), [], "echoed but not stored")
        self.assertEqual(sorted(s for s, _ in rows), list(range(len(rows))), "gap or dup")


if __name__ == "__main__":
    harness.main()
