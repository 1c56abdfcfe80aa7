#!/usr/bin/python3
"""Access is checked on delivery, not only on entry (sql/010_room_access.sql,
src/push_room_departure.c), through real Prosody.

A user who loses the right to a room (removed from the group, from the post's recipients,
deleted, given another JID) is removed from it in the transaction of the change: its
resources get an unavailable self-presence (XEP-0045: status 110 with 321, or 307), the
other occupants see it leave, and nothing of the room reaches it afterwards, not even after
a refused re-join. With the triggers disabled, delivery still filters (the backstop); a
removal made while hippod is down is told when it is back."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_rooms_classic import (NS_MUC_USER, World, classic_join, error_reply,  # noqa: E402
                                message_with, muc_join, node_of, presence_from, room_of, say,
                                sync)


def status_codes(el):
    return {s.get("code") for s in el.findall(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}status")}


def item_of(el):
    return el.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}item")


def mark(client):
    return len(client.received())


def room_stanza(room):
    """Predicate: anything from ROOM or one of its occupants."""
    return lambda e: e.get("from", "").split("/")[0] == room


class Revocation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World("room-revocation")
        for login in ("alice", "bob", "carol", "dave", "erin", "frank"):
            cls.w.user(login)
        cls.ids = cls.w.ids

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def clients(self, *specs):
        """SPECS: login or (login, resource)."""
        out = [self.w.client(*((s,) if isinstance(s, str) else s)) for s in specs]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def occupant_jids(self, room_id):
        return [o[0] for o in self.w.occupants(room_id)]

    def assert_no_room_traffic(self, client, since, *rooms, wait=1.0):
        """Nothing from ROOMS but error replies reached CLIENT after its SINCE-th stanza."""
        time.sleep(wait)
        got = [e for e in client.received()[since:] if e.get("type") != "error"
               and any(room_stanza(r)(e) for r in rooms)]
        self.assertEqual([harness.tostring(e) for e in got], [], f"{client.jid} still hears")

    def test_removed_group_member_leaves_group_and_post_rooms(self):
        w, ids = self.w, self.ids
        group = w.group("Hikers", members=["alice", "bob"])
        post = w.post("alice", to=[group])
        groom, proom = room_of(group), room_of(post)
        alice, bob_c, bob_m = self.clients("alice", ("bob", "classic"), ("bob", "muc"))
        classic_join(alice, groom)
        muc_join(alice, proom, "Alice")
        classic_join(bob_c, groom)
        muc_join(bob_m, proom, "Bob")
        for c, r in ((alice, groom), (alice, proom), (bob_c, groom), (bob_m, proom)):
            sync(c, r)
        alice.wait_for(presence_from(groom, node_of(ids["bob"])))
        alice.wait_for(presence_from(proom, "Bob"))
        started = time.monotonic()
        w.pg.hippoctl("group", "member", "remove", group, ids["bob"])
        # the removed resources are told they are out
        own = bob_m.wait_for(presence_from(proom, "Bob", "unavailable"), timeout=5)
        elapsed = time.monotonic() - started
        self.assertEqual(status_codes(own), {"110", "321"}, harness.tostring(own))
        self.assertEqual(item_of(own).get("affiliation"), "none")
        self.assertEqual(item_of(own).get("role"), "none")
        bob_c.wait_for(presence_from(groom, node_of(ids["bob"]), "unavailable"), timeout=5)
        # the room sees them leave
        seen = alice.wait_for(presence_from(proom, "Bob", "unavailable"), timeout=5)
        self.assertEqual(status_codes(seen), {"321"})
        alice.wait_for(presence_from(groom, node_of(ids["bob"]), "unavailable"), timeout=5)
        self.assertEqual(self.occupant_jids(group), [alice.jid])
        self.assertEqual(self.occupant_jids(post), [alice.jid])
        # nothing of either room reaches bob any more, even after a refused re-join
        since_c, since_m = mark(bob_c), mark(bob_m)
        say(alice, groom, "group secret")
        say(alice, proom, "post secret", groupchat=True)
        alice.wait_for(message_with(groom, "group secret"))
        alice.wait_for(message_with(proom, "post secret"))
        classic_join(bob_c, groom)
        bob_c.wait_for(error_reply("presence"), timeout=5)
        muc_join(bob_m, proom, "Bob")
        bob_m.wait_for(error_reply("presence"), timeout=5)
        say(alice, groom, "after the re-join")
        alice.wait_for(message_with(groom, "after the re-join"))
        self.assert_no_room_traffic(bob_c, since_c, groom, proom)
        self.assert_no_room_traffic(bob_m, since_m, groom, proom, wait=0)
        print(f"removal told after {elapsed * 1000:.0f} ms", file=sys.stderr)

    def test_removed_post_recipient(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["carol"])
        room = room_of(post)
        alice, carol = self.clients("alice", "carol")
        classic_join(alice, room)
        muc_join(carol, room, "Carol")
        sync(alice, room)
        sync(carol, room)
        w.pg.psql(f"DELETE FROM hippo.post_recipients WHERE post_id = '{post}'"
                  f" AND user_id = '{ids['carol']}'")
        own = carol.wait_for(presence_from(room, "Carol", "unavailable"), timeout=5)
        self.assertEqual(status_codes(own), {"110", "321"})
        alice.wait_for(presence_from(room, node_of(ids["carol"]), "unavailable"), timeout=5)
        since = mark(carol)
        say(alice, room, "carol is out")
        alice.wait_for(message_with(room, "carol is out"))
        self.assert_no_room_traffic(carol, since, room)

    def test_jid_change_and_deletion_kick(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["dave", "erin"])
        room = room_of(post)
        alice, dave, erin = self.clients("alice", "dave", "erin")
        muc_join(alice, room, "Alice")
        muc_join(dave, room, "Dave")
        muc_join(erin, room, "Erin")
        for c in (alice, dave, erin):
            sync(c, room)
        w.pg.psql(f"UPDATE hippo.users SET jid = 'dave.new@{harness.DOMAIN}'"
                  f" WHERE id = '{ids['dave']}'")
        own = dave.wait_for(presence_from(room, "Dave", "unavailable"), timeout=5)
        since_dave = mark(dave)
        self.assertEqual(status_codes(own), {"110", "307"})
        self.assertEqual(status_codes(alice.wait_for(presence_from(room, "Dave", "unavailable"),
                                                     timeout=5)), {"307"})
        w.pg.psql(f"DELETE FROM hippo.users WHERE id = '{ids['erin']}'")
        own = erin.wait_for(presence_from(room, "Erin", "unavailable"), timeout=5)
        since_erin = mark(erin)
        self.assertEqual(status_codes(own), {"110", "307"})
        alice.wait_for(presence_from(room, "Erin", "unavailable"), timeout=5)
        self.assertEqual(self.occupant_jids(post), [alice.jid])
        say(alice, room, "both gone", groupchat=True)
        alice.wait_for(message_with(room, "both gone"))
        self.assert_no_room_traffic(dave, since_dave, room)
        self.assert_no_room_traffic(erin, since_erin, room, wait=0)

    def test_delivery_filters_when_the_triggers_did_not_run(self):
        """The backstop: access taken away by a way the triggers do not see."""
        w, ids = self.w, self.ids
        group = w.group("Quiet", members=["alice", "frank"])
        room = room_of(group)
        alice, frank = self.clients("alice", "frank")
        classic_join(alice, room)
        classic_join(frank, room)
        sync(alice, room)
        sync(frank, room)
        # hippod now remembers the room with frank in it (room_state.h): it must forget it
        say(alice, room, "for frank too")
        frank.wait_for(message_with(room, "for frank too"))
        w.pg.psql("BEGIN; ALTER TABLE hippo.group_members DISABLE TRIGGER room_access_membership;"
                  f" UPDATE hippo.group_members SET status = 'REMOVED' WHERE group_id = '{group}'"
                  f" AND user_id = '{ids['frank']}';"
                  " ALTER TABLE hippo.group_members ENABLE TRIGGER room_access_membership; COMMIT;",
                  admin=True)
        self.assertIn(frank.jid, self.occupant_jids(group), "the trigger ran after all")
        since = mark(frank)
        say(alice, room, "not for frank")
        alice.wait_for(message_with(room, "not for frank"))
        self.assert_no_room_traffic(frank, since, room)


class RevocationWhileDown(unittest.TestCase):
    def test_removal_while_hippod_is_down_is_told_when_it_is_back(self):
        w = World("room-revocation-down")
        self.addCleanup(w.close)
        for login in ("alice", "bob"):
            w.user(login)
        group = w.group("Later", members=["alice", "bob"])
        room = room_of(group)
        alice, bob = w.client("alice"), w.client("bob")
        self.addCleanup(lambda: (alice.close(), bob.close()))
        classic_join(alice, room)
        muc_join(bob, room, "Bob")
        sync(alice, room)
        sync(bob, room)
        self.assertEqual(w.hippod.stop(), 0)
        w.pg.hippoctl("group", "member", "remove", group, w.ids["bob"])
        self.assertEqual([o[0] for o in w.occupants(group)], [alice.jid])
        w.hippod.start()
        own = bob.wait_for(presence_from(room, "Bob", "unavailable"), timeout=20)
        self.assertEqual(status_codes(own), {"110", "321"})
        alice.wait_for(presence_from(room, node_of(w.ids["bob"]), "unavailable"), timeout=5)
        self.assertEqual(w.pg.psql("SELECT count(*) FROM hippo.room_departures"), "0")


if __name__ == "__main__":
    unittest.main()
