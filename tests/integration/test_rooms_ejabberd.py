#!/usr/bin/python3
"""The key room scenarios through real ejabberd: classic and standard occupants chatting in
one post room, role aggregation, the details IQ of a group room, a stranger refused,
disconnect without leave, and a bounced occupant removed."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_component_link import error_of  # noqa: E402
from test_rooms_classic import (NS_ROOMS, World, body_of, classic_join,  # noqa: E402
                                error_reply, leave, message_info, message_with, muc_join,
                                node_of, presence_from, room_of, say, sync, user_info)


class EjabberdRooms(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World("rooms-ejabberd", server="ejabberd")
        for login in ("alice", "bob", "carol", "eve"):
            cls.w.user(login)
        cls.ids = cls.w.ids

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def clients(self, *logins):
        out = [self.w.client(login) for login in logins]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def test_mixed_dialects_chat(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["bob", "carol"], title="Through ejabberd")
        room = room_of(post)
        alice, bob, carol = self.clients("alice", "bob", "carol")
        classic_join(alice, room, "participant")
        sync(alice, room)
        muc_join(bob, room, "Bob")
        bob.wait_for(lambda e: e.findtext("{jabber:client}subject") == "Through ejabberd")
        el = alice.wait_for(presence_from(room, node_of(ids["bob"])))
        self.assertEqual((user_info(el).get("role"), user_info(el).get("oldRole")),
                         ("participant", "nonmember"))
        classic_join(carol, room, "visitor")
        bob.wait_for(presence_from(room, "Carol"))
        say(alice, room, "classic")
        bob.send(f"<message to='{room}' type='groupchat' id='b1'><body>standard</body></message>")
        for c in (alice, bob, carol):
            a = c.wait_for(message_with(room, "classic"))
            b = c.wait_for(message_with(room, "standard"))
            self.assertEqual({message_info(a).get("serial"), message_info(b).get("serial")},
                             {"0", "1"})
        echo = [e for e in bob.received() if body_of(e) == "standard"][0]
        self.assertEqual((echo.get("type"), echo.get("id"), echo.get("from")),
                         ("groupchat", "b1", f"{room}/Bob"))
        self.assertEqual(len(w.occupants(post)), 3)

    def test_role_aggregation_and_leave(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["carol"])
        room = room_of(post)
        alice, = self.clients("alice")
        c1, c2 = w.client("carol", "one"), w.client("carol", "two")
        self.addCleanup(c1.close)
        self.addCleanup(c2.close)
        carol = node_of(ids["carol"])
        classic_join(alice, room)
        sync(alice, room)
        classic_join(c1, room, "visitor")
        self.assertEqual(user_info(alice.wait_for(presence_from(room, carol))).get("role"),
                         "visitor")
        classic_join(c2, room, "participant")
        el = alice.wait_for(presence_from(room, carol))
        self.assertEqual((user_info(el).get("role"), user_info(el).get("oldRole")),
                         ("participant", "visitor"))
        leave(c2, room)
        el = alice.wait_for(presence_from(room, carol))
        self.assertEqual((user_info(el).get("role"), user_info(el).get("oldRole")),
                         ("visitor", "participant"))
        c1.close()  # disconnect without leave
        alice.wait_for(presence_from(room, carol, "unavailable"))
        self.assertEqual([o[0] for o in w.occupants(post)], [alice.jid])

    def test_group_details_and_stranger(self):
        w = self.w
        g = w.group("Climbers", ["alice", "bob"])
        room = room_of(g)
        alice, bob, eve = self.clients("alice", "bob", "eve")
        classic_join(alice, room)
        say(alice, room, "on the rock")
        alice.wait_for(message_with(room, "on the rock"))
        reply = bob.iq(f"<iq type='get' to='{room}'><details xmlns='{NS_ROOMS}'/></iq>")
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        info = reply.find(f"{{{NS_ROOMS}}}roomInfo")
        self.assertEqual((info.get("kind"), info.get("title")), ("group", "Climbers"))
        got = bob.received()
        backlog = bob.wait_for(message_with(room, "on the rock"))
        self.assertLess(got.index(backlog), got.index(reply))
        classic_join(eve, room)
        self.assertEqual(error_of(eve.wait_for(error_reply("presence"))), ("auth", "forbidden"))
        say(eve, room, "let me in", id="e1")
        self.assertEqual(error_of(eve.wait_for(error_reply("message", "e1"))),
                         ("auth", "forbidden"))
        self.assertFalse([e for e in eve.received() if body_of(e) == "on the rock"])

    def test_bounced_standard_occupant_is_removed(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, = self.clients("alice")
        classic_join(alice, room)
        sync(alice, room)
        w.pg.psql("INSERT INTO hippo.room_occupants (room_id, kind, occupant_jid, user_id, role, "
                  f"dialect, nick, muc_nick) VALUES ('{post}', 'post', 'bob@example.test/ghost', "
                  f"'{ids['bob']}', 'participant', 'muc', 'Bob', 'Bob')")
        say(alice, room, "hello ghost")
        alice.wait_for(presence_from(room, node_of(ids["bob"]), "unavailable"), timeout=10)
        self.assertEqual([o[0] for o in w.occupants(post)], [alice.jid])


if __name__ == "__main__":
    harness.main()
