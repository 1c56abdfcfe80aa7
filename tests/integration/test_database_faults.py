#!/usr/bin/python3
"""hippod and PostgreSQL faults: the database down at start, stopped and restarted while
hippod runs (healthz 503 then 200, protocol IQs answered with wait errors meanwhile, the
service IQs unaffected), and SIGHUP reloads, good and bad. Then a pool of three connections:
one backend each, a killed backend reconnects on its own while the others serve (and stand
in for it), each room's messages keep their order, and a database held by a lock answers
new requests with a quick wait error once the oldest statement waited past max_queue_ms."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402
from test_component_link import COMPONENT, assert_served, error_of  # noqa: E402
from test_rooms_classic import (World, body_of, classic_join, error_reply,  # noqa: E402
                                message_info, message_with, room_of, say, sync)

PREFS = "<iq type='get' to='rooms.example.test'><prefs xmlns='http://dumbhippo.com/protocol/prefs'/></iq>"
PING = f"<iq type='get' to='{COMPONENT}'><ping xmlns='urn:xmpp:ping'/></iq>"


class DatabaseFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("db-faults")
        cls.pg = cls.stack.postgres()
        cls.server = cls.stack.prosody()
        cls.server.register("alice", "alicepw")
        cls.hippod = cls.stack.hippod(server=cls.server, pg=cls.pg,
                                      config={"component": {"reconnect_max_ms": "1000"}})
        harness.hippoctl("user", "add", "--jid", "alice@example.test", "--name", "Alice",
                         conninfo=cls.pg.conninfo)
        cls.hippod.wait_health(200, timeout=15)
        cls.alice = cls.stack.client(cls.server, "alice", "alicepw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def test_1_postgres_restart(self):
        h, alice = self.hippod, self.alice
        assert_served(alice.iq(PREFS))
        self.pg.stop()
        body = h.wait_health(503, timeout=10)
        self.assertIn("database down", body)
        self.assertNotIn("password", body)
        reply = alice.iq(PREFS)
        self.assertEqual(error_of(reply), ("wait", "internal-server-error"))
        self.assertEqual(alice.iq(PING).get("type"), "result", "service IQs need no database")
        self.assertEqual(metric_value(h.metrics(), "hippod_db_up"), 0)
        self.pg.start()
        h.wait_health(200, timeout=10)
        assert_served(alice.iq(PREFS))
        self.assertGreaterEqual(metric_value(h.metrics(), "hippod_reconnects_total",
                                             {"target": "database"}), 1)
        self.assertGreaterEqual(metric_value(h.metrics(), "hippod_db_query_duration_seconds_count"),
                                2)
        self.assertTrue(h.running())

    def test_2_reload(self):
        h = self.hippod
        mark = h.log_mark()
        h.sections["log"]["level"] = "info"
        h.sections.setdefault("rooms", {})["max_body_bytes"] = "100"
        h.write_config()
        h.signal(signal.SIGHUP)
        h.wait_log(r"configuration reloaded", since=mark)
        mark = h.log_mark()
        h.sections["rooms"]["max_body_bytes"] = "not-a-number"
        h.write_config()
        h.signal(signal.SIGHUP)
        m = h.wait_log(r"reload failed, keeping the running configuration: (.*)", since=mark)
        self.assertIn(os.path.basename(h.config_path), m.group(1))
        self.assertIn("max_body_bytes", m.group(1))
        self.assertEqual(metric_value(h.metrics(), "hippod_config_errors_total",
                                      {"reason": "reload"}), 1)
        self.assertEqual(self.alice.iq(PING).get("type"), "result")
        h.wait_health(200)

    def test_3_database_absent_at_start(self):
        pg = self.stack.postgres()
        pg.stop()
        h = self.stack.hippod(server=None, pg=pg, migrate=False)
        body = h.wait_health(503, timeout=10)
        self.assertIn("database down", body)
        pg.start()
        h.run("--migrate", check=True)
        # the component is not connected (no server), but the database must come up
        body = None
        for _ in range(50):
            _, body = h.http_get("/healthz")
            if "database down" not in body:
                break
            time.sleep(0.2)
        self.assertNotIn("database down", body)
        self.assertIn("xmpp link down", body)
        self.assertEqual(metric_value(h.metrics(), "hippod_db_up"), 1)
        self.assertEqual(h.stop(), 0)


POOL = 3
MAX_QUEUE_MS = 200


def home_connection(key):
    """The connection hippo_db_query_keyed() picks for KEY while all are up: FNV-1a % pool."""
    h = 2166136261
    for b in key.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h % POOL


BACKENDS = ("SELECT application_name, pid FROM pg_stat_activity "
            "WHERE application_name LIKE 'hippod/%' ORDER BY application_name")


class DatabasePool(unittest.TestCase):
    """[database] connections = 3, max_queue_ms = 200 (tests run in name order)."""

    @classmethod
    def setUpClass(cls):
        cls.posts = {}
        cls.w = World("db-pool", rooms={"messages_per_second": "100000", "message_burst": "100000"},
                      config={"database": {"connections": str(POOL),
                                           "max_queue_ms": str(MAX_QUEUE_MS)},
                              "component": {"reconnect_max_ms": "500"}})
        try:
            for login in ("alice", "bob"):
                cls.w.user(login)
            cls.alice, cls.bob = cls.w.client("alice"), cls.w.client("bob")
            cls.wait_pool_up()
        except BaseException:
            cls.w.close()
            raise

    @classmethod
    def tearDownClass(cls):
        for c in (cls.alice, cls.bob):
            c.close()
        cls.w.close()

    @classmethod
    def backends(cls):
        """{application_name: pid} of hippod's database sessions."""
        rows = cls.w.pg.psql(BACKENDS, admin=True).splitlines()
        return {name: int(pid) for name, pid in (r.split("|") for r in rows if r)}

    @classmethod
    def wait_pool_up(cls, timeout=20):
        """Waits until every connection is up (hippod's gauge and pg_stat_activity agree)."""
        deadline = time.monotonic() + timeout
        while True:
            up = metric_value(cls.w.hippod.metrics(), "hippod_db_connections_up")
            names = sorted(cls.backends())
            if up == POOL and names == [f"hippod/{i}" for i in range(POOL)]:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"pool not up after {timeout} s: gauge {up}, backends "
                                     f"{names}\n" + cls.w.hippod.log_tail())
            time.sleep(0.1)

    def metric(self, name, labels=None):
        return metric_value(self.w.hippod.metrics(), name, labels)

    def rooms(self, homes):
        """A new post room with alice and bob in it for each connection index in HOMES (the
        connection its statements run on while all are up)."""
        rooms = []
        for home in homes:
            post = self.w.post("alice", to=["bob"])
            while home_connection(post) != home:
                post = self.w.post("alice", to=["bob"])
            room = room_of(post)
            self.posts[room] = post
            for c in (self.alice, self.bob):
                classic_join(c, room, "participant")
                sync(c, room)
            rooms.append(room)
        return rooms

    def assert_chat_works(self, rooms, tag):
        for room in rooms:
            say(self.alice, room, f"{tag} {room}")
        for room in rooms:
            for c in (self.alice, self.bob):
                c.wait_for(message_with(room, f"{tag} {room}"), timeout=10)

    def test_1_one_backend_per_connection(self):
        self.assertEqual(sorted(self.backends()), ["hippod/0", "hippod/1", "hippod/2"])
        self.assertEqual(self.metric("hippod_db_up"), 1)
        self.assertEqual(self.metric("hippod_db_connections_up"), POOL)
        for reason in ("queue_time", "in_flight", "down"):
            self.assertEqual(self.metric("hippod_db_refused_total", {"reason": reason}), 0)
        assert_served(self.alice.iq(PREFS))

    def test_2_room_order_kept_over_the_pool(self):
        """Messages sent back to back to several rooms (spread over the connections) come
        back, and are stored, in the order each room got them."""
        rooms, n = self.rooms([0, 1, 2, 1]), 40
        for i in range(n):
            for room in rooms:
                say(self.alice, room, f"m{i:02d}")
        for room in rooms:
            for c in (self.alice, self.bob):
                got = [c.wait_for(lambda e, r=room: e.get("from", "").startswith(r + "/")
                                  and harness.local_name(e) == "message", timeout=10)
                       for _ in range(n)]
                self.assertEqual([body_of(e) for e in got], [f"m{i:02d}" for i in range(n)])
                self.assertEqual([message_info(e).get("serial") for e in got],
                                 [str(i) for i in range(n)])
        for room in rooms:
            post = self.posts[room]
            stored = self.w.pg.psql("SELECT body FROM hippo.room_messages "
                                    f"WHERE room_id = '{post}' ORDER BY serial", admin=True)
            self.assertEqual(stored.splitlines(), [f"m{i:02d}" for i in range(n)])

    def test_3_killed_backend_reconnects_alone(self):
        h, pg = self.w.hippod, self.w.pg
        rooms = self.rooms(range(POOL))
        before = self.metric("hippod_reconnects_total", {"target": "database"}) or 0
        old = self.backends()
        mark = h.log_mark()
        pg.psql(f"SELECT pg_terminate_backend({old['hippod/1']})", admin=True)
        h.wait_log(r"database down \(connection 1\): .*retrying with backoff", since=mark)
        self.assertEqual(h.http_get("/healthz")[0], 200, "connection 0 still serves")
        self.wait_pool_up()
        new = self.backends()
        self.assertNotEqual(new["hippod/1"], old["hippod/1"])
        self.assertEqual(new["hippod/0"], old["hippod/0"])
        self.assertGreater(self.metric("hippod_reconnects_total", {"target": "database"}),
                           before)
        h.wait_log(r"database up \(connection 1, \d+ statements prepared\)", since=mark)
        assert_served(self.alice.iq(PREFS))
        self.assert_chat_works(rooms, "after the kill")
        self.assertEqual(h.http_get("/healthz")[0], 200)

    def test_4_others_stand_in_while_connections_are_down(self):
        """With connections 1 and 2 unable to come back, every room goes through 0."""
        h, pg = self.w.hippod, self.w.pg
        rooms = self.rooms([1, 2])
        old = self.backends()
        pg.psql("ALTER ROLE hippo CONNECTION LIMIT 1", admin=True)
        try:
            mark = h.log_mark()
            pg.psql(f"SELECT pg_terminate_backend({old['hippod/1']}), "
                    f"pg_terminate_backend({old['hippod/2']})", admin=True)
            h.wait_log(r"database down \(connection 2\): .*too many connections", since=mark)
            h.wait_log(r"database down \(connection 1\): .*too many connections", since=mark)
            self.assertEqual(self.metric("hippod_db_connections_up"), 1)
            self.assertEqual(sorted(self.backends()), ["hippod/0"])
            self.assertEqual(h.http_get("/healthz")[0], 200)
            self.assert_chat_works(rooms, "stand-in")
            assert_served(self.alice.iq(PREFS))
        finally:
            pg.psql("ALTER ROLE hippo CONNECTION LIMIT -1", admin=True)
        self.wait_pool_up()
        self.assert_chat_works(rooms, "all back")

    def test_5_held_database_refuses_past_the_bound(self):
        """A statement stuck behind a lock: new requests on its connection are refused with
        resource-constraint while it waits, and everything recovers when the lock goes."""
        h, pg = self.w.hippod, self.w.pg
        room, = self.rooms([1])
        say(self.alice, room, "before")
        self.alice.wait_for(message_with(room, "before"))
        self.bob.wait_for(message_with(room, "before"))
        refused_before = self.metric("hippod_db_refused_total", {"reason": "queue_time"})
        locker = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                   pg.admin_conninfo, "-f", "-"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, text=True)
        try:
            locker.stdin.write("BEGIN;\nLOCK TABLE hippo.room_messages IN ACCESS EXCLUSIVE MODE;\n")
            locker.stdin.flush()
            self.wait_sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                          "WHERE c.relname = 'room_messages' AND l.mode = 'AccessExclusiveLock' "
                          "AND l.granted", "1")
            say(self.alice, room, "held")
            self.wait_sql("SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name "
                          "LIKE 'hippod/%' AND wait_event_type = 'Lock'", "t")
            time.sleep(MAX_QUEUE_MS * 2 / 1000)  # the stuck statement is now past the bound
            say(self.alice, room, "refused", id="r1")
            err = self.alice.wait_for(error_reply("message", "r1"), timeout=5)
            self.assertEqual(error_of(err), ("wait", "resource-constraint"))
            self.assertIsNone(locker.poll(), "the lock is still held: the answer did not wait")
            self.assertGreater(self.metric("hippod_db_refused_total", {"reason": "queue_time"}),
                               refused_before)
            self.assertEqual(h.http_get("/healthz")[0], 200, "busy is not down")
        finally:
            locker.stdin.write("COMMIT;\n")
            locker.stdin.close()
            locker.wait(timeout=30)
        self.assertEqual(locker.returncode, 0)
        for c in (self.alice, self.bob):
            c.wait_for(message_with(room, "held"), timeout=10)
        say(self.alice, room, "after")
        for c in (self.alice, self.bob):
            c.wait_for(message_with(room, "after"), timeout=10)
        stored = pg.psql("SELECT string_agg(body, ',' ORDER BY serial) FROM hippo.room_messages "
                         f"WHERE room_id = '{self.posts[room]}'", admin=True)
        self.assertEqual(stored, "before,held,after")
        self.bob.assert_silent(message_with(room, "refused"), timeout=0.3)

    def test_6_pool_changes_need_a_restart(self):
        h = self.w.hippod
        old = self.backends()
        mark = h.log_mark()
        h.sections["database"].update(connections="1", max_queue_ms="1000")
        h.write_config()
        h.signal(signal.SIGHUP)
        h.wait_log(r"reload: \[database\] pool changes take effect at the next restart",
                   since=mark)
        h.wait_log(r"configuration reloaded", since=mark)
        self.assertEqual(self.backends(), old)
        self.assertEqual(self.metric("hippod_db_connections_up"), POOL)

    def wait_sql(self, sql, want, timeout=10):
        deadline = time.monotonic() + timeout
        while (got := self.w.pg.psql(sql, admin=True)) != want:
            if time.monotonic() > deadline:
                raise AssertionError(f"{sql!r} gave {got!r}, not {want!r}, after {timeout} s")
            time.sleep(0.05)


if __name__ == "__main__":
    harness.main()
