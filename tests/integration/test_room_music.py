#!/usr/bin/python3
"""Music presence in rooms (original-behaviour.md 2.2, 2.7; sql/016_room_music.sql) through
real Prosody and real ejabberd: every userInfo carries musicPlaying, arrangementName and
artist (also with no music known: false and empty strings); a musicChanged IQ sends every
occupant of the rooms its user is present in a fresh available presence with the new values
(no unavailable in between), in its dialect; a user in no room makes nothing happen."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402
from test_rooms_classic import (COMPONENT, NS_ROOMS, World, classic_join,  # noqa: E402
                                muc_join, node_of, presence_from, room_of, sync, user_info)

NS_MUSIC = "http://dumbhippo.com/protocol/music"


def music_iq(client, **props):
    """musicChanged with PROPS (none: playback stopped); asserts the empty result."""
    inner = "".join(f"<prop key='{k}'>{harness.xml_escape(v, False)}</prop>"
                    for k, v in props.items())
    reply = client.iq(f"<iq type='set' to='{COMPONENT}'><music xmlns='{NS_MUSIC}' "
                      f"type='musicChanged'>{inner}</music></iq>")
    assert reply.get("type") == "result", harness.tostring(reply)


def music_of(el):
    """(musicPlaying, arrangementName, artist) of a room presence's userInfo."""
    info = user_info(el)
    assert info is not None, harness.tostring(el)
    return info.get("musicPlaying"), info.get("arrangementName"), info.get("artist")


NO_MUSIC = ("false", "", "")


class RoomMusic:
    """Mixed into one TestCase per XMPP server kind."""

    SERVER = None

    @classmethod
    def setUpClass(cls):
        cls.w = World(f"room-music-{cls.SERVER}", server=cls.SERVER)
        for login in ("alice", "bob", "carol", "dave", "eve"):
            cls.w.user(login)
        cls.ids = cls.w.ids

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def setUp(self):
        # each test starts with nobody playing anything
        self.w.pg.psql("DELETE FROM hippo.current_tracks; DELETE FROM hippo.track_history; "
                       "DELETE FROM hippo.prefs")

    def clients(self, *logins):
        out = [self.w.client(login) for login in logins]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def node(self, login):
        return node_of(self.ids[login])

    def test_every_user_info_carries_music(self):
        w = self.w
        post = w.post("alice", to=["bob", "carol", "dave"])
        room = room_of(post)
        alice, bob, carol, dave = self.clients("alice", "bob", "carol", "dave")
        music_iq(bob, name="Blue <Moon>", artist="Rock & Co")
        classic_join(alice, room)
        sync(alice, room)
        classic_join(bob, room, "visitor")
        # the joiner's music to the others, with its arrival (oldRole)
        el = alice.wait_for(presence_from(room, self.node("bob")))
        self.assertEqual(music_of(el), ("true", "Blue <Moon>", "Rock & Co"))
        self.assertEqual(user_info(el).get("oldRole"), "nonmember")
        # the members' music to the joiner: none known is false and empty, never absent
        self.assertEqual(music_of(bob.wait_for(presence_from(room, self.node("alice")))),
                         NO_MUSIC)
        # standard MUC: its own presence and the members' carry it too
        muc_join(carol, room, "Carol")
        self.assertEqual(music_of(carol.wait_for(presence_from(room, "Bob"))),
                         ("true", "Blue <Moon>", "Rock & Co"))
        self.assertEqual(music_of(carol.wait_for(presence_from(room, "Alice"))), NO_MUSIC)
        self.assertEqual(music_of(carol.wait_for(presence_from(room, "Carol"))), NO_MUSIC)
        el = alice.wait_for(presence_from(room, self.node("carol")))
        self.assertEqual(music_of(el), NO_MUSIC)
        # the details IQ's member presences (dave is not in the room)
        reply = dave.iq(f"<iq type='get' to='{room}'><details xmlns='{NS_ROOMS}'/></iq>")
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        self.assertEqual(music_of(dave.wait_for(presence_from(room, self.node("bob")))),
                         ("true", "Blue <Moon>", "Rock & Co"))
        self.assertEqual(music_of(dave.wait_for(presence_from(room, self.node("alice")))),
                         NO_MUSIC)
        # a participant -> visitor change is an available presence with userInfo: music too
        classic_join(bob, room, "participant")
        el = alice.wait_for(presence_from(room, self.node("bob")))
        self.assertEqual((user_info(el).get("role"), music_of(el)),
                         ("participant", ("true", "Blue <Moon>", "Rock & Co")))

    def test_music_changed_refreshes_every_room_of_the_user(self):
        w = self.w
        post = w.post("alice", to=["bob", "carol"])
        g = w.group("Listeners", ["bob", "dave"])
        room, groom = room_of(post), room_of(g)
        alice, bob, carol, dave = self.clients("alice", "bob", "carol", "dave")
        classic_join(alice, room)
        sync(alice, room)
        muc_join(carol, room, "Carol")
        carol.wait_for(lambda e: e.findtext("{jabber:client}subject") is not None)
        classic_join(bob, room, "participant")
        classic_join(bob, groom, "visitor")
        sync(bob, groom)
        classic_join(dave, groom)
        bob_node = self.node("bob")
        for c, r, who in ((alice, room, bob_node), (carol, room, "Bob"), (dave, groom, bob_node)):
            self.assertEqual(music_of(c.wait_for(presence_from(r, who))), NO_MUSIC)
        bob.wait_for(presence_from(groom, self.node("dave")))
        sync(dave, groom)

        music_iq(bob, name="Song \"1\"", artist="Band", album="LP",
                 url="http://example.test/1.mp3")
        playing = ("true", 'Song "1"', "Band")
        el = alice.wait_for(presence_from(room, bob_node))
        self.assertEqual(music_of(el), playing)
        # a fresh presence, not a role change: no oldRole; the role is the user's
        self.assertEqual((user_info(el).get("role"), user_info(el).get("oldRole")),
                         ("participant", None))
        self.assertEqual(el.find(f"{{{NS_ROOMS}}}roomInfo").get("kind"), "post")
        el = carol.wait_for(presence_from(room, "Bob"))
        self.assertEqual(music_of(el), playing)
        item = el.find("{http://jabber.org/protocol/muc#user}x/"
                       "{http://jabber.org/protocol/muc#user}item")
        self.assertEqual(item.get("role"), "participant")
        el = dave.wait_for(presence_from(groom, bob_node))
        self.assertEqual((music_of(el), user_info(el).get("role")), (playing, "visitor"))
        self.assertEqual(el.find(f"{{{NS_ROOMS}}}roomInfo").get("kind"), "group")
        # the user's own resource is present in both rooms: it hears it too (era B)
        self.assertEqual(music_of(bob.wait_for(presence_from(room, bob_node))), playing)
        self.assertEqual(music_of(bob.wait_for(presence_from(groom, bob_node))), playing)

        # stopped: not playing, the last song kept
        music_iq(bob)
        stopped = ("false", 'Song "1"', "Band")
        self.assertEqual(music_of(alice.wait_for(presence_from(room, bob_node))), stopped)
        self.assertEqual(music_of(carol.wait_for(presence_from(room, "Bob"))), stopped)
        self.assertEqual(music_of(dave.wait_for(presence_from(groom, bob_node))), stopped)
        # neither name nor artist (the original's rule): still stopped, the last song kept;
        # what the rooms show did not change, so nothing is sent
        music_iq(bob, album="Another LP")
        music_iq(bob)
        alice.assert_silent(presence_from(room, bob_node), timeout=1.0)
        carol.assert_silent(presence_from(room, "Bob"), timeout=0.2)
        # a new song again
        music_iq(bob, name="Two", artist="Band")
        self.assertEqual(music_of(alice.wait_for(presence_from(room, bob_node))),
                         ("true", "Two", "Band"))
        self.assertEqual(music_of(dave.wait_for(presence_from(groom, bob_node))),
                         ("true", "Two", "Band"))
        # never an unavailable in between, and nobody left the rooms
        for c, r, who in ((alice, room, bob_node), (carol, room, "Bob"),
                          (dave, groom, bob_node)):
            gone = [e for e in c.received() if presence_from(r, who, "unavailable")(e)]
            self.assertEqual(gone, [], c.jid)
        self.assertEqual(len(w.occupants(post)), 3)
        self.assertEqual(len(w.occupants(g)), 2)

    def test_sharing_turned_off_shows_no_music(self):
        w = self.w
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, bob = self.clients("alice", "bob")
        music_iq(bob, name="Secret", artist="Someone")
        w.pg.hippoctl("pref", "set", self.ids["bob"], "musicSharingEnabled", "false")
        classic_join(alice, room)
        sync(alice, room)
        classic_join(bob, room)
        self.assertEqual(music_of(alice.wait_for(presence_from(room, self.node("bob")))),
                         NO_MUSIC)
        music_iq(bob, name="Another secret", artist="Someone")  # the rooms still show nothing
        alice.assert_silent(presence_from(room, self.node("bob")), timeout=1.0)

    def test_user_in_no_room(self):
        w = self.w
        post = w.post("alice", to=["eve"])
        room = room_of(post)
        alice, eve = self.clients("alice", "eve")
        classic_join(alice, room)
        sync(alice, room)
        classic_join(eve, room)
        alice.wait_for(presence_from(room, self.node("eve")))
        eve.wait_for(presence_from(room, self.node("alice")))  # the member list
        eve.send(f"<presence type='unavailable' to='{room}'/>")
        alice.wait_for(presence_from(room, self.node("eve"), "unavailable"))
        music_iq(eve, name="Alone", artist="Me")  # answered, nothing else
        music_iq(eve)
        alice.assert_silent(lambda e: self.node("eve") in e.get("from", ""), timeout=1.0)
        eve.assert_silent(lambda e: harness.local_name(e) == "presence"
                          and e.get("from", "").startswith(room), timeout=0.2)
        metrics = w.hippod.metrics()
        for reason in ("room-music-unsent", "room-music-bad-result"):
            self.assertIsNone(metric_value(metrics, "hippod_drops_total", {"reason": reason}))
        log = w.hippod.log_text()
        self.assertIn(f"music presence of {self.ids['eve']}: 0 sent in 0 rooms", log)
        self.assertNotRegex(log, r"WARNING.*(musicChanged|music presence)")
        self.assertEqual(w.pg.psql("SELECT t.name, c.playing FROM hippo.current_tracks c "
                                   "JOIN hippo.tracks t ON t.id = c.track_id "
                                   f"WHERE c.user_id = '{self.ids['eve']}'"), "Alone|f")


class ProsodyRoomMusic(RoomMusic, unittest.TestCase):
    SERVER = "prosody"


class EjabberdRoomMusic(RoomMusic, unittest.TestCase):
    SERVER = "ejabberd"


if __name__ == "__main__":
    harness.main()
