#!/usr/bin/python3
"""Room durability and limits through real Prosody: 1,000 messages from several senders
in flight at once reach every occupant (both dialects) in serial order with no gap or
duplicate; the backlog, serials and occupancy survive a restart of hippod; occupants whose
stanzas bounce, or who left while hippod was down, are removed; floods are rate-limited
while others keep chatting; full rooms and the history limit; limits reload on SIGHUP."""
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402
from test_component_link import error_of  # noqa: E402
from test_rooms_classic import (World, body_of, classic_join, error_reply,  # noqa: E402
                                is_delayed, message_info, message_with, muc_join, node_of,
                                presence_from, room_of, say, sync)

N_MESSAGES = 1000


def room_messages(client, room):
    """The room messages CLIENT received so far (not errors), in arrival order."""
    return [e for e in client.received() if harness.local_name(e) == "message"
            and e.get("type") != "error" and e.get("from", "").startswith(room + "/")
            and message_info(e) is not None]


def wait_count(client, room, n, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        got = room_messages(client, room)
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


class Durability(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World("rooms-durable", config={"component": {"reconnect_max_ms": 1000}})
        for login in ("alice", "bob", "carol", "dave", "eve"):
            cls.w.user(login)
        cls.ids = cls.w.ids
        cls.defaults = {"messages_per_second": 100000, "message_burst": 100000}
        cls.set_limits()

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    @classmethod
    def set_limits(cls, **limits):
        """Writes [rooms] (the defaults plus LIMITS) and reloads hippod with SIGHUP."""
        h = cls.w.hippod
        h.sections["rooms"] = dict(cls.defaults, **limits)
        h.write_config()
        mark = h.log_mark()
        h.signal(signal.SIGHUP)
        h.wait_log("configuration reloaded", since=mark)

    def setUp(self):
        self.set_limits()

    def clients(self, *logins):
        out = [self.w.client(login) for login in logins]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def test_thousand_messages_arrive_in_serial_order_everywhere(self):
        w = self.w
        post = w.post("alice", to=["bob", "carol", "dave"])
        room = room_of(post)
        alice, bob, carol, dave = self.clients("alice", "bob", "carol", "dave")
        classic_join(alice, room)
        classic_join(bob, room, "visitor")
        muc_join(carol, room, "Carol", "<history maxstanzas='0'/>")
        muc_join(dave, room, "Dave", "<history maxstanzas='0'/>")
        for c in (alice, bob, carol, dave):
            sync(c, room)
        senders = [(alice, False), (carol, True), (dave, True)]

        def send_all(k, client, groupchat):
            for i in range(k, N_MESSAGES, len(senders)):
                say(client, room, f"msg {i}", groupchat=groupchat)

        threads = [threading.Thread(target=send_all, args=(k, c, g))
                   for k, (c, g) in enumerate(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expected = {f"msg {i}" for i in range(N_MESSAGES)}
        for c in (alice, bob, carol, dave):
            got = wait_count(c, room, N_MESSAGES)
            serials = [int(message_info(e).get("serial")) for e in got]
            self.assertEqual(serials, list(range(N_MESSAGES)), f"{c.jid}: order, gaps or dupes")
            self.assertEqual({body_of(e) for e in got}, expected)
        self.assertEqual(w.pg.psql("SELECT count(*), min(serial), max(serial), "
                                   "count(DISTINCT serial) FROM hippo.room_messages "
                                   f"WHERE room_id = '{post}'"),
                         f"{N_MESSAGES}|0|{N_MESSAGES - 1}|{N_MESSAGES}")
        self.assertEqual(w.pg.psql(f"SELECT next_serial FROM hippo.rooms WHERE room_id = "
                                   f"'{post}'"), str(N_MESSAGES))

    def test_backlog_serials_and_occupancy_survive_a_restart(self):
        w, h = self.w, self.w.hippod
        post = w.post("alice", to=["bob", "carol"])
        room = room_of(post)
        alice, bob, carol = self.clients("alice", "bob", "carol")
        classic_join(alice, room)
        muc_join(bob, room, "Bob")
        for c in (alice, bob):
            sync(c, room)
        for i in range(5):
            say(alice, room, f"before {i}")
            bob.wait_for(message_with(room, f"before {i}"))
        self.assertEqual(h.stop(), 0)
        h.start()
        h.wait_health(200, timeout=20)
        say(alice, room, "after")  # nobody re-joined: occupancy came from the database
        for c in (alice, bob):
            self.assertEqual(message_info(c.wait_for(message_with(room, "after"))).get("serial"),
                             "5")
        classic_join(carol, room)
        backlog = [carol.wait_for(message_with(room, b), timeout=10)
                   for b in [f"before {i}" for i in range(5)] + ["after"]]
        self.assertEqual([int(message_info(e).get("serial")) for e in backlog], list(range(6)))
        self.assertTrue(all(is_delayed(e) for e in backlog))
        got = carol.received()
        self.assertEqual([got.index(e) for e in backlog], sorted(got.index(e) for e in backlog))

    def test_bounced_occupant_is_removed(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, = self.clients("alice")
        classic_join(alice, room)
        sync(alice, room)
        # a standard occupant whose session is gone without the server telling us
        w.pg.psql("INSERT INTO hippo.room_occupants (room_id, kind, occupant_jid, user_id, role, "
                  f"dialect, nick, muc_nick) VALUES ('{post}', 'post', 'bob@example.test/ghost', "
                  f"'{ids['bob']}', 'participant', 'muc', 'Bob', 'Bob')")
        say(alice, room, "anyone there?")
        alice.wait_for(message_with(room, "anyone there?"))
        alice.wait_for(presence_from(room, node_of(ids["bob"]), "unavailable"))
        self.assertEqual([o[0] for o in w.occupants(post)], [alice.jid])
        self.assertRegex(w.hippod.log_text(), r"bob@example.test/ghost bounced "
                                              r"\(service-unavailable\)")

    def test_occupant_gone_while_hippod_was_down_is_removed(self):
        w, h, ids = self.w, self.w.hippod, self.ids
        post = w.post("alice", to=["eve"])
        room = room_of(post)
        alice, = self.clients("alice")
        eve = w.client("eve")
        classic_join(alice, room)
        sync(alice, room)
        classic_join(eve, room)
        alice.wait_for(presence_from(room, node_of(ids["eve"])))
        self.assertEqual(h.stop(), 0)
        eve.close()  # its unavailable bounces: nobody serves the rooms now
        h.start()
        h.wait_health(200, timeout=20)
        # the sweep pings every stored occupant; eve's ping bounces
        alice.wait_for(presence_from(room, node_of(ids["eve"]), "unavailable"), timeout=10)
        self.assertEqual([o[0] for o in w.occupants(post)], [alice.jid])
        say(alice, room, "still here")
        alice.wait_for(message_with(room, "still here"))

    def test_flood_is_rate_limited_while_others_keep_chatting(self):
        w, h = self.w, self.w.hippod
        self.set_limits(messages_per_second=5, message_burst=10)
        post = w.post("alice", to=["bob", "carol"])
        room = room_of(post)
        alice, bob, carol = self.clients("alice", "bob", "carol")
        for c in (alice, bob, carol):
            classic_join(c, room)
            sync(c, room)
        before = metric_value(h.metrics(), "hippod_drops_total",
                              {"reason": "room-limit-rate"}) or 0
        flood = 60
        for i in range(flood):
            say(alice, room, f"flood {i}", id=f"f{i}")
        for i in range(5):
            say(bob, room, f"calm {i}")
            time.sleep(0.25)
        for i in range(5):
            carol.wait_for(message_with(room, f"calm {i}"))
        deadline = time.monotonic() + 10
        while True:
            refused = [e for e in alice.received() if e.get("type") == "error"
                       and e.get("id", "").startswith("f")]
            delivered = [e for e in room_messages(carol, room)
                         if body_of(e).startswith("flood")]
            if len(refused) + len(delivered) >= flood or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(refused) + len(delivered), flood)
        self.assertGreaterEqual(len(refused), flood // 2)
        self.assertGreaterEqual(len(delivered), 10)  # the burst
        self.assertEqual({error_of(e) for e in refused}, {("wait", "policy-violation")})
        self.assertEqual(metric_value(h.metrics(), "hippod_drops_total",
                                      {"reason": "room-limit-rate"}), before + len(refused))
        time.sleep(0.5)  # the bucket refills: alice may talk again
        say(alice, room, "calm again")
        carol.wait_for(message_with(room, "calm again"))

    def test_database_down_answers_wait_errors(self):
        w, h = self.w, self.w.hippod
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, bob = self.clients("alice", "bob")
        classic_join(alice, room)
        sync(alice, room)
        w.pg.stop()
        try:
            h.wait_health(503, timeout=10)
            classic_join(bob, room)
            self.assertEqual(error_of(bob.wait_for(error_reply("presence"))),
                             ("wait", "internal-server-error"))
            say(alice, room, "into the void", id="v1")
            self.assertEqual(error_of(alice.wait_for(error_reply("message", "v1"))),
                             ("wait", "internal-server-error"))
        finally:
            w.pg.start()
        h.wait_health(200, timeout=15)
        say(alice, room, "back")
        self.assertEqual(message_info(alice.wait_for(message_with(room, "back"))).get("serial"),
                         "0")
        bob.assert_silent(message_with(room, "into the void"), timeout=0.3)

    def test_full_room_and_history_limit(self):
        w = self.w
        self.set_limits(max_occupants=2, max_history=2)
        post = w.post("alice", to=["bob", "carol"])
        room = room_of(post)
        alice, bob, carol = self.clients("alice", "bob", "carol")
        bob2 = w.client("bob", "second")
        self.addCleanup(bob2.close)
        classic_join(alice, room)
        for i in range(4):
            say(alice, room, f"h{i}")
            alice.wait_for(message_with(room, f"h{i}"))
        classic_join(bob, room)
        bodies = [body_of(e) for e in wait_count(bob, room, 2, timeout=5)]
        sync(bob, room)
        self.assertEqual([body_of(e) for e in room_messages(bob, room)], ["h2", "h3"])
        self.assertEqual(bodies, ["h2", "h3"])
        classic_join(carol, room)
        self.assertEqual(error_of(carol.wait_for(error_reply("presence"))),
                         ("wait", "resource-constraint"))
        classic_join(bob2, room)  # the same user again: not a new occupant
        sync(bob2, room)
        self.assertEqual(len(w.occupants(post)), 3)
        self.assertGreaterEqual(metric_value(w.hippod.metrics(), "hippod_drops_total",
                                             {"reason": "room-limit-occupants"}), 1)


if __name__ == "__main__":
    harness.main()
