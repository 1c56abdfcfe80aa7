#!/usr/bin/python3
"""Acknowledged room messages survive PostgreSQL crashes whatever the server's
synchronous_commit says: the harness's PostgreSQL runs with synchronous_commit=off (a common
tuning), hippod sets it on for its own sessions. Three `pg_ctl stop -m immediate` under room
load: every message a client saw echoed is in the database with the serial and body it was
echoed with, and no serial was echoed twice with different bodies (a lost commit's serial
handed out again)."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_rooms_classic import (World, body_of, classic_join, message_info,  # noqa: E402
                                room_of, say, sync)

CYCLES = 3
LOAD_SECONDS = 1.5  # of load before each crash
SEND_INTERVAL = 0.004


def echoes(client, room):
    """{(serial, body)} of the room messages CLIENT received so far."""
    out = set()
    for e in client.received():
        if (harness.local_name(e) == "message" and e.get("type") != "error"
                and e.get("from", "").startswith(room + "/") and message_info(e) is not None):
            out.add((int(message_info(e).get("serial")), body_of(e)))
    return out


class PostgresCrash(unittest.TestCase):
    def setUp(self):
        self.w = World("pg-crash", rooms={"messages_per_second": 100000,
                                          "message_burst": 100000},
                       config={"component": {"reconnect_min_ms": 50,
                                             "reconnect_max_ms": 1000}})
        self.addCleanup(self.w.close)
        setting = self.w.pg.psql("SHOW synchronous_commit", admin=True)
        self.assertEqual(setting, "off", "the test needs the server default off")

    def test_immediate_stops_lose_no_acknowledged_message(self):
        w = self.w
        for login in ("alice", "bob", "carol"):
            w.user(login)
        post = w.post("alice", to=["bob", "carol"])
        room = room_of(post)
        clients = [w.client(login) for login in ("alice", "bob", "carol")]
        self.addCleanup(lambda: [c.close() for c in clients])
        for c in clients:
            classic_join(c, room)
            sync(c, room)
        stop = threading.Event()

        def load(k, client):
            n = 0
            while not stop.is_set():
                say(client, room, f"{k}-{n}")
                n += 1
                time.sleep(SEND_INTERVAL)

        threads = [threading.Thread(target=load, args=(k, c), daemon=True)
                   for k, c in enumerate(clients[:2])]
        for t in threads:
            t.start()
        acked_before_crash = []
        try:
            for _ in range(CYCLES):
                time.sleep(LOAD_SECONDS)
                acked_before_crash.append(len(echoes(clients[2], room)))
                w.pg.stop("immediate")
                time.sleep(0.3)
                w.pg.start()
                w.hippod.wait_health(200, timeout=20)
        finally:
            stop.set()
            for t in threads:
                t.join()
        time.sleep(1.0)  # the last answers
        seen = set()
        for c in clients:
            seen |= echoes(c, room)
        self.assertGreater(acked_before_crash[0], 50, "no load reached the room")
        self.assertTrue(all(b > a for a, b in zip(acked_before_crash, acked_before_crash[1:])),
                        f"messages were not acknowledged in every cycle: {acked_before_crash}")
        bodies_by_serial = {}
        for serial, body in seen:
            bodies_by_serial.setdefault(serial, set()).add(body)
        reused = {s: b for s, b in bodies_by_serial.items() if len(b) > 1}
        self.assertEqual(reused, {}, "serials echoed with different bodies")
        rows = w.pg.psql(f"SELECT serial, body FROM hippo.room_messages WHERE room_id = '{post}'")
        stored = {(int(line.split("|", 1)[0]), line.split("|", 1)[1])
                  for line in rows.splitlines() if line}
        lost = sorted(seen - stored)
        self.assertEqual(lost, [], f"{len(lost)} of {len(seen)} acknowledged messages lost")
        print(f"{len(seen)} acknowledged messages over {CYCLES} crashes: 0 lost, 0 reused",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
