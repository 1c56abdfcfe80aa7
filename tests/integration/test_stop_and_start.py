#!/usr/bin/python3
"""A graceful stop drains and a start waits for the database, through real Prosody.

- SIGTERM in the middle of a burst of room messages: every message PostgreSQL committed
  was echoed to every occupant before the stream closed, no statement failed with
  "shutting down", and requests that arrived during the drain got a wait error.
- Started while PostgreSQL is down, hippod does not attach to the XMPP server until the
  database is up (so it never answers internal-server-error for its own start-up), says
  why in /healthz, and attaches once the database comes up."""
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_pg_crash_durability import echoes  # noqa: E402
from test_rooms_classic import World, classic_join, room_of, say, sync  # noqa: E402

BURST = 400  # messages per sender, sent without pause


class GracefulStop(unittest.TestCase):
    def setUp(self):
        self.w = World("stop-drain", rooms={"messages_per_second": 100000,
                                            "message_burst": 100000})
        self.addCleanup(self.w.close)

    def test_sigterm_during_a_burst_echoes_every_committed_message(self):
        w, h = self.w, self.w.hippod
        for login in ("alice", "bob", "carol"):
            w.user(login)
        post = w.post("alice", to=["bob", "carol"])
        room = room_of(post)
        clients = [w.client(login) for login in ("alice", "bob", "carol")]
        self.addCleanup(lambda: [c.close() for c in clients])
        for c in clients:
            classic_join(c, room)
            sync(c, room)

        def burst(k, client):
            for n in range(BURST):
                say(client, room, f"{k}-{n}", id=f"m{k}-{n}")

        threads = [threading.Thread(target=burst, args=(k, c)) for k, c in enumerate(clients[:2])]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(echoes(clients[2], room)) < 20 and time.monotonic() < deadline:
            time.sleep(0.002)
        echoed_at_signal = len(echoes(clients[2], room))
        h.signal(signal.SIGTERM)
        for t in threads:
            t.join()
        self.assertEqual(h.wait(timeout=20), 0, h.log_tail())
        time.sleep(0.5)  # what Prosody still had to deliver
        rows = w.pg.psql(f"SELECT serial, body FROM hippo.room_messages WHERE room_id = '{post}'")
        committed = {(int(line.split("|", 1)[0]), line.split("|", 1)[1])
                     for line in rows.splitlines() if line}
        self.assertLess(echoed_at_signal, 2 * BURST, "the stop came after the burst: no test")
        for c in clients:
            missing = sorted(committed - echoes(c, room))
            self.assertEqual(missing, [], f"{c.jid}: committed but never echoed "
                                          f"({len(missing)} of {len(committed)})")
        log = h.log_text()
        self.assertNotIn("shutting down", log)
        self.assertRegex(log, r"SIGTERM: stopping \(\d+ statements in flight\)")
        self.assertIn("work in flight done; closing the stream", log)
        refused = [e for c in clients[:2] for e in c.received()
                   if e.get("type") == "error" and "restarting" in harness.tostring(e)]
        print(f"{len(committed)} committed, all echoed; {len(refused)} refused while draining",
              file=sys.stderr)

    def test_stop_timeout_bounds_the_drain(self):
        """A statement that never ends (a lock held elsewhere) does not hold the stop past
        [component] stop_timeout_ms."""
        w, h = self.w, self.w.hippod
        w.user("alice")
        post = w.post("alice")
        room = room_of(post)
        alice = w.client("alice")
        self.addCleanup(alice.close)
        classic_join(alice, room)
        sync(alice, room)
        h.stop()
        h.sections["component"]["stop_timeout_ms"] = 700
        h.write_config()
        h.start()
        h.wait_health(200, timeout=20)
        locker = harness.subprocess.Popen(
            ["psql", "-X", "-q", "-d", w.pg.conninfo, "-c",
             f"BEGIN; SELECT * FROM hippo.rooms WHERE room_id = '{post}' FOR UPDATE;"
             " SELECT pg_sleep(30);"],
            stdout=harness.subprocess.DEVNULL, stderr=harness.subprocess.DEVNULL)
        self.addCleanup(lambda: (locker.kill(), locker.wait()))
        time.sleep(0.5)
        say(alice, room, "stuck behind the lock")
        time.sleep(0.3)
        started = time.monotonic()
        h.signal(signal.SIGTERM)
        self.assertEqual(h.wait(timeout=10), 0, h.log_tail())
        self.assertLess(time.monotonic() - started, 5, "the drain was not bounded")
        self.assertRegex(h.log_text(), r"1 statements still unanswered after 700 ms")


class StartOrder(unittest.TestCase):
    def setUp(self):
        self.w = World("start-order")
        self.addCleanup(self.w.close)

    def test_link_waits_for_the_database(self):
        w, h = self.w, self.w.hippod
        w.user("alice")
        self.assertEqual(h.stop(), 0)
        w.pg.stop()
        h.start()
        h.wait_log(r"database down")
        time.sleep(1.0)  # time enough to attach, had it not waited
        self.assertNotRegex(h.log_text()[h._run_offset:], r"xmpp link up")
        status, body = h.http_get("/healthz")
        self.assertEqual(status, 503)
        self.assertIn("waiting for the database", body)
        alice = w.client("alice")
        self.addCleanup(alice.close)
        reply = alice.iq(f"<iq type='get' to='{harness.COMPONENT_DOMAIN}'>"
                         "<ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual(reply.get("type"), "error")
        self.assertNotIn("internal-server-error", harness.tostring(reply),
                         "hippod answered for its own start-up")
        w.pg.start()
        h.wait_health(200, timeout=20)
        log = h.log_text()[h._run_offset:]
        self.assertLess(log.index("database up"), log.index("xmpp link up"), log)
        reply = alice.iq(f"<iq type='get' to='{harness.COMPONENT_DOMAIN}'>"
                         "<ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))


if __name__ == "__main__":
    unittest.main()
