#!/usr/bin/python3
"""Rooms remembered in memory (src/room_state.c, sql/013_room_memory.sql), through real
Prosody and PostgreSQL.

hippod remembers each room's present resources after a message batch returned them, and
then stores a present sender's messages with a presence check only. PostgreSQL stays the
source of truth: a member removed with the SQL API has their next message and join refused
within a second, one added gets in within a second, a renamed user's next message shows the
new name, a join is in hippo.room_occupants at once, and a restart keeps occupancy and
serials."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_rooms_classic import (World, classic_join, error_reply, message_info,  # noqa: E402
                                message_with, muc_join, node_of, room_of, say, sync)


def known(w):
    return harness.metric_value(w.hippod.metrics(), "hippod_room_known_messages_total") or 0


def echo(sender, receivers, room, body, groupchat=False):
    """SENDER says BODY in ROOM; returns the echo each of RECEIVERS got."""
    say(sender, room, body, groupchat=groupchat)
    return [c.wait_for(message_with(room, body), timeout=5) for c in receivers]


def within(seconds, check):
    """CHECK() until it returns true (its last value), at most SECONDS."""
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


class RoomMemory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World("room-memory")
        for login in ("alice", "bob", "carol", "dave", "erin"):
            cls.w.user(login)

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def clients(self, *logins):
        out = [self.w.client(login) for login in logins]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def test_present_senders_are_remembered(self):
        w = self.w
        group = w.group("Remembered", members=["alice", "bob"])
        room = room_of(group)
        alice, bob = self.clients("alice", "bob")
        muc_join(alice, room, "Alice")
        classic_join(bob, room)
        sync(alice, room)
        sync(bob, room)
        before = known(w)
        echo(alice, (alice, bob), room, "first", groupchat=True)  # the room is learnt
        for n in range(5):
            echo(bob, (alice, bob), room, f"again {n}")
        self.assertGreaterEqual(known(w) - before, 5, "no message went as known")

    def test_removed_member_refused_and_added_member_let_in_within_a_second(self):
        w = self.w
        group = w.group("Changing", members=["alice", "carol"])
        room = room_of(group)
        alice, carol = self.clients("alice", "carol")
        muc_join(alice, room, "Alice")
        muc_join(carol, room, "Carol")
        sync(alice, room)
        sync(carol, room)
        echo(alice, (alice, carol), room, "learn", groupchat=True)
        echo(carol, (alice, carol), room, "known", groupchat=True)
        started = time.monotonic()
        w.pg.psql(f"SELECT hippo.remove_group_member('{group}', '{w.ids['carol']}')")
        say(carol, room, "after removal", groupchat=True)
        carol.wait_for(error_reply("message"), timeout=5)
        refused_after = time.monotonic() - started
        self.assertLess(refused_after, 1.0)
        muc_join(carol, room, "Carol")
        carol.wait_for(error_reply("presence"), timeout=5)
        echo(alice, (alice,), room, "without carol", groupchat=True)
        stored = w.pg.psql(f"SELECT count(*) FROM hippo.room_messages WHERE room_id = '{group}'"
                           " AND body = 'after removal'")
        self.assertEqual(stored, "0")
        # added again: in within a second
        started = time.monotonic()
        w.pg.psql(f"SELECT hippo.add_group_member('{group}', '{w.ids['carol']}')")
        muc_join(carol, room, "Carol")
        carol.wait_for(lambda e: harness.local_name(e) == "presence"
                       and e.get("from") == f"{room}/Carol" and e.get("type") is None,
                       timeout=5)
        echo(carol, (alice, carol), room, "back again", groupchat=True)
        self.assertLess(time.monotonic() - started, 1.0)

    def test_renamed_user_shows_the_new_name(self):
        w = self.w
        group = w.group("Names", members=["alice", "dave"])
        room = room_of(group)
        alice, dave = self.clients("alice", "dave")
        classic_join(alice, room)
        classic_join(dave, room)
        sync(alice, room)
        sync(dave, room)
        echo(dave, (alice, dave), room, "as Dave")
        echo(dave, (alice, dave), room, "still Dave")
        w.pg.psql(f"UPDATE hippo.users SET name = 'David' WHERE id = '{w.ids['dave']}'")

        def renamed():
            got = echo(dave, (alice,), room, f"name check {time.monotonic()}")[0]
            return message_info(got).get("name") == "David"
        self.assertTrue(within(1.0, renamed), "the echo kept the old name")

    def test_known_sender_no_longer_present_is_checked_in_full(self):
        """The plain statement for one known message (rooms.c room_message_known) falls back
        to the full check when the sender is not present any more: here its row went without
        a notification, so hippod still remembers it."""
        w = self.w
        group = w.group("Gone", members=["alice", "bob"])
        room = room_of(group)
        alice, bob = self.clients("alice", "bob")
        muc_join(alice, room, "Alice")
        classic_join(bob, room)
        sync(alice, room)
        sync(bob, room)
        echo(alice, (alice, bob), room, "learn", groupchat=True)
        before = known(w)
        w.pg.psql("BEGIN; ALTER TABLE hippo.room_occupants DISABLE TRIGGER room_occupants_changed;"
                  f" DELETE FROM hippo.room_occupants WHERE room_id = '{group}';"
                  " ALTER TABLE hippo.room_occupants ENABLE TRIGGER room_occupants_changed;"
                  " COMMIT;", admin=True)
        say(alice, room, "not present", groupchat=True)
        err = alice.wait_for(error_reply("message"), timeout=5)
        self.assertIsNotNone(err.find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}not-acceptable"),
                             harness.tostring(err))
        got = echo(bob, (bob,), room, "classic, not present")[0]  # its own echo
        self.assertEqual(known(w) - before, 2, "the messages did not go as known")
        stored = w.pg.psql(f"SELECT body FROM hippo.room_messages WHERE room_id = '{group}'"
                           " ORDER BY serial")
        self.assertEqual(stored.splitlines(), ["learn", "classic, not present"])
        self.assertEqual(message_info(got).get("serial"), "1")

    def test_join_is_stored_at_once(self):
        w = self.w
        post = w.post("alice", to=["erin"])
        erin, = self.clients("erin")
        muc_join(erin, room_of(post), "Erin")
        erin.wait_for(lambda e: harness.local_name(e) == "presence"
                      and e.get("from") == f"{room_of(post)}/Erin", timeout=5)
        self.assertEqual([o[0] for o in w.occupants(post)], [erin.jid])


class RoomMemoryRestart(unittest.TestCase):
    def test_restart_keeps_occupancy_and_serials(self):
        w = World("room-memory-restart")
        self.addCleanup(w.close)
        for login in ("alice", "bob"):
            w.user(login)
        group = w.group("Restart", members=["alice", "bob"])
        room = room_of(group)
        alice, bob = w.client("alice"), w.client("bob")
        self.addCleanup(lambda: (alice.close(), bob.close()))
        classic_join(alice, room)
        classic_join(bob, room)
        sync(alice, room)
        sync(bob, room)
        for n in range(3):
            echo(alice, (alice, bob), room, f"before {n}")
        self.assertEqual(w.hippod.stop(), 0)
        occupants = w.occupants(group)
        w.hippod.start()
        w.hippod.wait_health(200, timeout=20)
        self.assertEqual(w.occupants(group), occupants)
        got = echo(bob, (alice, bob), room, "after restart")
        self.assertEqual({message_info(e).get("serial") for e in got}, {"3"})
        self.assertEqual(message_info(got[0]).get("name"), "Bob")
        self.assertEqual(node_of(w.ids["bob"]), got[0].get("from").split("/")[1])


if __name__ == "__main__":
    harness.main()
