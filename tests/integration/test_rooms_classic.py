#!/usr/bin/python3
"""Chat rooms in the classic (seed) dialect through real Prosody: joining post and group
rooms, presence broadcasts with role aggregation over resources, leaving and disconnecting,
messages with serials, the backlog, the details IQ, and every refusal (stranger, unknown
room, unknown user, body too large). The helpers here are shared by the other
test_rooms_*.py files."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402
from test_component_link import error_of  # noqa: E402

COMPONENT = harness.COMPONENT_DOMAIN
DOMAIN = harness.DOMAIN
NS_ROOMS = "http://dumbhippo.com/protocol/rooms"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_POST = "http://dumbhippo.com/protocol/post"
NS_DELAY = "urn:xmpp:delay"
NS_LEGACY_DELAY = "jabber:x:delay"


# ---------------------------------------------------------------- shared helpers

def node_of(guid):
    """The original GUID -> JID node mapping."""
    return "".join(c.lower() if c.isupper() else c + "_" if c.islower() else c for c in guid)


def room_of(guid):
    return f"{node_of(guid)}@{COMPONENT}"


class World:
    """PostgreSQL, an XMPP server (prosody or ejabberd) and hippod, with users known to both."""

    def __init__(self, name, server="prosody", rooms=None, config=None):
        self.stack = harness.Stack(name)
        try:
            self.pg = self.stack.postgres()
            self.server = getattr(self.stack, server)()
            self.hippod = self.stack.hippod(server=self.server, pg=self.pg,
                                            config=dict(config or {}, rooms=rooms or {}))
            self.hippod.wait_health(200, timeout=20)
        except BaseException:
            self.stack.close()
            raise
        self.ids = {}

    def user(self, login, name=None, hippo=True):
        """Registers LOGIN@example.test (password pw) and, if HIPPO, a hippo user; returns
        its GUID (or None)."""
        self.server.register(login, "pw")
        if hippo:
            self.ids[login] = self.pg.hippoctl("user", "add", "--jid", f"{login}@{DOMAIN}",
                                               "--name", name or login.capitalize())
        return self.ids.get(login)

    def client(self, login, resource="test"):
        return self.stack.client(self.server, login, "pw", resource=resource)

    def post(self, poster, to=(), world=False, title="A good read"):
        args = ["post", "create", "--poster", self.ids[poster], "--href", "http://example.com/",
                "--title", title]
        for t in to:
            args += ["--to", self.ids.get(t, t)]
        if world:
            args.append("--world")
        return self.pg.hippoctl(*args)

    def group(self, name, members=()):
        gid = self.pg.hippoctl("group", "add", "--name", name)
        for m in members:
            self.pg.hippoctl("group", "member", "add", gid, self.ids[m])
        return gid

    def occupants(self, room_id):
        """(occupant_jid, role, dialect) rows of the room, from the database."""
        out = self.pg.psql("SELECT occupant_jid, role, dialect FROM hippo.room_occupants "
                           f"WHERE room_id = '{room_id}' ORDER BY occupant_jid")
        return [tuple(line.split("|")) for line in out.splitlines() if line]

    def close(self):
        """Stops everything; hippod must exit cleanly (0: no leak or sanitizer report)."""
        try:
            rc = self.hippod.stop() if self.hippod.running() else 0
            assert rc == 0, f"hippod exited {rc}:\n" + self.hippod.log_tail()
        finally:
            self.stack.close()


def classic_join(client, room, role=None, typ=None):
    info = f"<userInfo xmlns='{NS_ROOMS}' role='{role}'/>" if role else ""
    t = f" type='{typ}'" if typ else ""
    client.send(f"<presence to='{room}'{t}><x xmlns='{NS_MUC}'>{info}</x></presence>")


def muc_join(client, room, nick, history=""):
    client.send(f"<presence to='{room}/{harness.xml_escape(nick)}'><x xmlns='{NS_MUC}'>"
                f"{history}</x></presence>")


def sync(client, room):
    """Waits until hippod has handled what CLIENT sent to ROOM so far: a ping to the room
    goes the same way, so its answer comes after (joins of different clients may otherwise
    overtake each other on their way through the server)."""
    reply = client.iq(f"<iq type='get' to='{room}'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert reply.get("type") == "result", harness.tostring(reply)


def leave(client, room):
    client.send(f"<presence type='unavailable' to='{room}'/>")


def say(client, room, body, id=None, groupchat=False):
    i = f" id='{id}'" if id else ""
    t = " type='groupchat'" if groupchat else ""
    client.send(f"<message to='{room}'{i}{t}><body>{harness.xml_escape(body, False)}</body>"
                "</message>")


def user_info(el):
    return el.find(f"{{{NS_MUC_USER}}}x/{{{NS_ROOMS}}}userInfo")


def message_info(el):
    return el.find(f"{{{NS_ROOMS}}}messageInfo")


def body_of(el):
    return el.findtext("{jabber:client}body")


def from_occupant(room, resource):
    return f"{room}/{resource}"


def presence_from(room, resource, type=None):
    """Predicate: a presence from ROOM/RESOURCE (TYPE None: available)."""
    jid = from_occupant(room, resource)
    return lambda e: (harness.local_name(e) == "presence" and e.get("from") == jid
                      and e.get("type") == type)


def message_with(room, body):
    """Predicate: a room message (no error) from ROOM/... with BODY."""
    return lambda e: (harness.local_name(e) == "message" and e.get("type") != "error"
                      and e.get("from", "").startswith(room + "/") and body_of(e) == body)


def is_delayed(el):
    return (el.find(f"{{{NS_LEGACY_DELAY}}}x") is not None
            or el.find(f"{{{NS_DELAY}}}delay") is not None)


def error_reply(name, id=None):
    """Predicate: an error NAME stanza (with ID when given)."""
    return lambda e: (harness.local_name(e) == name and e.get("type") == "error"
                      and (id is None or e.get("id") == id))


# ---------------------------------------------------------------- tests

class ClassicRooms(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World("rooms-classic", rooms={"max_body_bytes": 1000})
        for login in ("alice", "bob", "carol", "dave", "eve"):
            cls.w.user(login)
        cls.w.user("mallory", hippo=False)
        cls.ids = cls.w.ids

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def clients(self, *logins):
        out = [self.w.client(login) for login in logins]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def assert_user_info(self, el, login, role, old_role=None):
        info = user_info(el)
        self.assertIsNotNone(info, harness.tostring(el))
        guid = self.ids[login]
        self.assertEqual(info.get("name"), login.capitalize())
        self.assertEqual(info.get("version"), "0")
        self.assertEqual(info.get("smallPhotoUrl"), f"/files/headshots/60/{guid}?v=0")
        self.assertEqual(info.get("role"), role)
        self.assertEqual(info.get("oldRole"), old_role)
        self.assertEqual(el.find(f"{{{NS_ROOMS}}}roomInfo").get("kind"), "post")

    def assert_message(self, el, login, body, serial):
        self.assertIsNone(el.get("type"), "classic room messages have no type")
        self.assertEqual(el.get("from"), from_occupant(el.get("from").split("/")[0],
                                                       node_of(self.ids[login])))
        self.assertEqual(body_of(el), body)
        info = message_info(el)
        self.assertEqual(info.get("serial"), str(serial))
        self.assertEqual(info.get("name"), login.capitalize())
        self.assertEqual(info.get("version"), "0")
        self.assertEqual(info.get("smallPhotoUrl"), f"/files/headshots/60/{self.ids[login]}?v=0")
        self.assertLess(abs(int(info.get("timestamp")) - time.time() * 1000), 60000)

    def test_three_users_chat_in_a_post_room(self):
        w, ids = self.w, self.ids
        g = w.group("Readers", ["carol"])
        post = w.post("alice", to=["bob", g])
        room = room_of(post)
        alice, bob, carol = self.clients("alice", "bob", "carol")
        classic_join(alice, room, "participant")
        sync(alice, room)
        classic_join(bob, room, "visitor")
        el = alice.wait_for(presence_from(room, node_of(ids["bob"])))
        self.assert_user_info(el, "bob", "visitor", "nonmember")
        self.assert_user_info(bob.wait_for(presence_from(room, node_of(ids["alice"]))), "alice",
                              "participant")
        say(alice, room, "hello <everyone> & all", id="a1")
        for c in (alice, bob):
            el = c.wait_for(message_with(room, "hello <everyone> & all"))
            self.assert_message(el, "alice", "hello <everyone> & all", 0)
            self.assertEqual(el.get("id"), "a1")
            self.assertFalse(is_delayed(el))
        classic_join(carol, room)  # no userInfo: participant
        self.assert_user_info(alice.wait_for(presence_from(room, node_of(ids["carol"]))),
                              "carol", "participant", "nonmember")
        self.assert_user_info(bob.wait_for(presence_from(room, node_of(ids["carol"]))),
                              "carol", "participant", "nonmember")
        backlog = carol.wait_for(message_with(room, "hello <everyone> & all"))
        self.assert_message(backlog, "alice", "hello <everyone> & all", 0)
        delay = backlog.find(f"{{{NS_LEGACY_DELAY}}}x")
        self.assertEqual(delay.get("from"), from_occupant(room, node_of(ids["alice"])))
        # the members came first, then the backlog; never the joiner's own presence
        got = carol.received()
        order = [got.index(carol.wait_for(presence_from(room, node_of(ids[u]))))
                 for u in ("alice", "bob")]
        self.assertLess(max(order), got.index(backlog))
        carol.assert_silent(presence_from(room, node_of(ids["carol"])), timeout=0.3)
        say(bob, room, "from bob")
        say(carol, room, "from carol")
        for c in (alice, bob, carol):
            b = c.wait_for(message_with(room, "from bob"))
            k = c.wait_for(message_with(room, "from carol"))
            self.assertEqual({message_info(b).get("serial"), message_info(k).get("serial")},
                             {"1", "2"})
        self.assertEqual(len(w.occupants(post)), 3)

    def test_role_aggregation_over_two_resources(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["dave"])
        room = room_of(post)
        alice, = self.clients("alice")
        d1, d2 = w.client("dave", "r1"), w.client("dave", "r2")
        self.addCleanup(d1.close)
        self.addCleanup(d2.close)
        dave = node_of(ids["dave"])
        ignored = lambda: w.pg.psql("SELECT ignored FROM hippo.person_post "  # noqa: E731
                                    f"WHERE post_id = '{post}' AND user_id = '{ids['dave']}'")
        w.pg.psql("INSERT INTO hippo.person_post (post_id, user_id, ignored) "
                  f"VALUES ('{post}', '{ids['dave']}', true)")
        classic_join(alice, room, "participant")
        say(alice, room, "before")
        alice.wait_for(message_with(room, "before"))
        classic_join(d1, room, "visitor")
        self.assert_user_info(alice.wait_for(presence_from(room, dave)), "dave", "visitor",
                              "nonmember")
        d1.wait_for(message_with(room, "before"))
        counts = lambda: w.pg.psql("SELECT chatting_users, viewing_users FROM "  # noqa: E731
                                   f"hippo.post_live_counts WHERE post_id = '{post}'")
        d1.send(f"<presence to='{room}'/>")  # a presence update keeps the role
        sync(d1, room)
        alice.assert_silent(presence_from(room, dave), timeout=0.3)
        self.assertEqual((counts(), ignored()), ("1|1", "t"))
        classic_join(d2, room, "participant")
        self.assert_user_info(alice.wait_for(presence_from(room, dave)), "dave", "participant",
                              "visitor")
        self.assert_user_info(d1.wait_for(presence_from(room, dave)), "dave", "participant",
                              "visitor")  # the user's other resource hears it too
        self.assertEqual((counts(), ignored()), ("2|0", "f"))  # chatting un-ignores the post
        leave(d2, room)
        self.assert_user_info(alice.wait_for(presence_from(room, dave)), "dave", "visitor",
                              "participant")
        classic_join(d1, room, "participant")  # a role change: no backlog again
        self.assert_user_info(alice.wait_for(presence_from(room, dave)), "dave", "participant",
                              "visitor")
        d1.assert_silent(message_with(room, "before"), timeout=0.5)
        leave(d1, room)
        alice.wait_for(presence_from(room, dave, "unavailable"))
        alice.assert_silent(presence_from(room, dave), timeout=0.3)
        self.assertEqual(counts(), "1|0")

    def test_repeated_join_resends_the_room(self):
        """A client that reconnected (or cleared its room) joins again with the same role:
        it gets the members and the backlog again; the others hear nothing."""
        w, ids = self.w, self.ids
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, bob = self.clients("alice", "bob")
        classic_join(alice, room)
        say(alice, room, "remember me")
        alice.wait_for(message_with(room, "remember me"))
        for _ in range(2):
            classic_join(bob, room, "visitor")
            bob.wait_for(presence_from(room, node_of(ids["alice"])))
            self.assertTrue(is_delayed(bob.wait_for(message_with(room, "remember me"))))
        alice.wait_for(presence_from(room, node_of(ids["bob"])))
        alice.assert_silent(presence_from(room, node_of(ids["bob"])), timeout=0.5)

    def test_leave_semantics(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, bob = self.clients("alice", "bob")
        classic_join(alice, room)
        sync(alice, room)
        leave(bob, room)  # not present: nothing happens
        classic_join(bob, room, "participant")
        alice.wait_for(presence_from(room, node_of(ids["bob"])))
        leave(bob, room)
        el = alice.wait_for(presence_from(room, node_of(ids["bob"]), "unavailable"))
        self.assertEqual(el.find(f"{{{NS_ROOMS}}}roomInfo").get("kind"), "post")
        self.assertIsNone(user_info(el))
        say(alice, room, "after bob left")
        alice.wait_for(message_with(room, "after bob left"))
        bob.assert_silent(message_with(room, "after bob left"), timeout=0.5)
        self.assertEqual([o[0] for o in w.occupants(post)], [alice.jid])

    def test_disconnect_without_leave(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, = self.clients("alice")
        bob = w.client("bob")
        classic_join(alice, room)
        sync(alice, room)
        classic_join(bob, room)
        alice.wait_for(presence_from(room, node_of(ids["bob"])))
        bob.close()  # the server sends the room an unavailable for its directed presence
        alice.wait_for(presence_from(room, node_of(ids["bob"]), "unavailable"))
        self.assertEqual([o[0] for o in w.occupants(post)], [alice.jid])

    def test_stranger_is_refused_and_learns_nothing(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, eve = self.clients("alice", "eve")
        classic_join(alice, room)
        say(alice, room, "secret")
        alice.wait_for(message_with(room, "secret"))
        classic_join(eve, room)
        err = eve.wait_for(error_reply("presence"))
        self.assertEqual(error_of(err), ("auth", "forbidden"))
        self.assertEqual(err.get("from"), room)
        self.assertIsNotNone(err.find(f"{{{NS_MUC}}}x"))
        say(eve, room, "hi", id="e1")
        err = eve.wait_for(error_reply("message", "e1"))
        self.assertEqual(error_of(err), ("auth", "forbidden"))
        self.assertIsNone(err.find("{jabber:client}body"))
        reply = eve.iq(f"<iq type='get' to='{room}'><details xmlns='{NS_ROOMS}'/></iq>")
        self.assertEqual(error_of(reply), ("auth", "forbidden"))
        everything = "".join(harness.tostring(e) for e in eve.received())
        self.assertNotIn("secret", everything)
        self.assertNotIn("A good read", everything)
        alice.assert_silent(lambda e: node_of(ids["eve"]) in e.get("from", ""), timeout=0.5)
        self.assertEqual(len(w.occupants(post)), 1)

    def test_unknown_room_and_unknown_user(self):
        w = self.w
        alice, mallory = self.clients("alice", "mallory")
        ghost = room_of(w.pg.psql("SELECT hippo.new_guid()"))
        for room in (ghost, f"nothing@{COMPONENT}"):
            classic_join(alice, room)
            self.assertEqual(error_of(alice.wait_for(error_reply("presence"))),
                             ("cancel", "item-not-found"))
            say(alice, room, "anyone?", id="u1")
            self.assertEqual(error_of(alice.wait_for(error_reply("message", "u1"))),
                             ("cancel", "item-not-found"))
            reply = alice.iq(f"<iq type='get' to='{room}'><details xmlns='{NS_ROOMS}'/></iq>")
            self.assertEqual(error_of(reply), ("cancel", "item-not-found"))
        post = w.post("alice", world=True)
        classic_join(mallory, room_of(post))
        self.assertEqual(error_of(mallory.wait_for(error_reply("presence"))),
                         ("auth", "registration-required"))

    def test_world_post_admits_any_user(self):
        w, ids = self.w, self.ids
        post = w.post("alice", world=True)
        room = room_of(post)
        alice, eve = self.clients("alice", "eve")
        classic_join(alice, room)
        sync(alice, room)
        classic_join(eve, room, "visitor")
        self.assert_user_info(alice.wait_for(presence_from(room, node_of(ids["eve"]))), "eve",
                              "visitor", "nonmember")

    def test_group_room_members_only_and_details(self):
        w, ids = self.w, self.ids
        g = w.group("Hikers", ["alice", "bob"])
        w.pg.psql(f"INSERT INTO hippo.group_members (group_id, user_id, status) VALUES "
                  f"('{g}', '{ids['carol']}', 'FOLLOWER'), ('{g}', '{ids['dave']}', 'INVITED')")
        room = room_of(g)
        alice, carol, dave = self.clients("alice", "carol", "dave")
        classic_join(alice, room)
        sync(alice, room)
        classic_join(carol, room, "visitor")
        el = alice.wait_for(presence_from(room, node_of(ids["carol"])))
        self.assertEqual(el.find(f"{{{NS_ROOMS}}}roomInfo").get("kind"), "group")
        classic_join(dave, room)
        self.assertEqual(error_of(dave.wait_for(error_reply("presence"))), ("auth", "forbidden"))
        say(carol, room, "a follower speaks")
        alice.wait_for(message_with(room, "a follower speaks"))
        bob, = self.clients("bob")  # not in the room: details still describe it
        reply = bob.iq(f"<iq type='get' to='{room}'><details xmlns='{NS_ROOMS}'/></iq>")
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        self.assertEqual(reply.get("from"), room)
        info = reply.find(f"{{{NS_ROOMS}}}roomInfo")
        self.assertEqual((info.get("kind"), info.get("title")), ("group", "Hikers"))
        group = info.find(f"{{{NS_ROOMS}}}objects/{{{NS_ROOMS}}}group")
        self.assertEqual(group.attrib, {"id": g, "name": "Hikers", "homeUrl": f"/group?who={g}",
                                        "smallPhotoUrl": f"/files/groupshots/60/{g}?v=0"})
        got = bob.received()
        pres = [bob.wait_for(presence_from(room, node_of(ids[u]))) for u in ("alice", "carol")]
        self.assertEqual(user_info(pres[1]).get("role"), "visitor")
        backlog = bob.wait_for(message_with(room, "a follower speaks"))
        self.assertTrue(is_delayed(backlog))
        self.assertLess(max(got.index(p) for p in pres), got.index(backlog))
        self.assertLess(got.index(backlog), got.index(reply), "the result ends the details")

    def test_post_room_details(self):
        w, ids = self.w, self.ids
        post = w.post("alice", to=["bob"], title="Details here")
        room = room_of(post)
        alice, bob = self.clients("alice", "bob")
        classic_join(alice, room)
        say(alice, room, "first")
        alice.wait_for(message_with(room, "first"))
        reply = bob.iq(f"<iq type='get' to='{room}'><details xmlns='{NS_ROOMS}'/></iq>")
        got = bob.received()
        pres = bob.wait_for(presence_from(room, node_of(ids["alice"])))
        backlog = bob.wait_for(message_with(room, "first"))
        self.assertLess(got.index(pres), got.index(backlog))
        self.assertLess(got.index(backlog), got.index(reply))
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        info = reply.find(f"{{{NS_ROOMS}}}roomInfo")
        self.assertEqual((info.get("kind"), info.get("title")), ("post", "Details here"))
        objects = info.find(f"{{{NS_POST}}}objects")
        self.assertIsNotNone(objects, harness.tostring(reply))
        self.assertEqual(objects.find(f"{{{NS_POST}}}post").get("id"), post)
        live = objects.find(f"{{{NS_POST}}}livepost")
        self.assertEqual(live.findtext(f"{{{NS_POST}}}chattingUserCount"), "1")

    def test_body_too_large_is_refused_and_the_room_goes_on(self):
        w = self.w
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, bob = self.clients("alice", "bob")
        classic_join(alice, room)
        classic_join(bob, room)
        sync(bob, room)
        before = metric_value(w.hippod.metrics(), "hippod_drops_total",
                              {"reason": "room-limit-body"}) or 0
        say(alice, room, "x" * 1001, id="big")
        self.assertEqual(error_of(alice.wait_for(error_reply("message", "big"))),
                         ("modify", "not-acceptable"))
        say(alice, room, "é" * 500, id="fits")  # 1000 bytes of UTF-8
        bob.wait_for(message_with(room, "é" * 500))
        bob.assert_silent(message_with(room, "x" * 1001), timeout=0.3)
        text = w.hippod.metrics()
        self.assertEqual(metric_value(text, "hippod_drops_total", {"reason": "room-limit-body"}),
                         before + 1)
        self.assertGreaterEqual(metric_value(text, "hippod_errors_total",
                                             {"condition": "not-acceptable"}), 1)
        self.assertRegex(w.hippod.log_text(), r"refused: body limit")

    def test_other_iqs_and_messages(self):
        w = self.w
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, = self.clients("alice")
        reply = alice.iq(f"<iq type='set' to='{room}'><details xmlns='{NS_ROOMS}'/></iq>")
        self.assertEqual(error_of(reply), ("cancel", "feature-not-implemented"))
        reply = alice.iq(f"<iq type='get' to='{room}'><query xmlns='jabber:iq:version'/></iq>")
        self.assertEqual(error_of(reply), ("cancel", "service-unavailable"))
        reply = alice.iq(f"<iq type='get' to='{room}'><ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual(reply.get("type"), "result")
        alice.send(f"<message to='{room}' type='chat' id='c1'><body>x</body></message>")
        self.assertEqual(error_of(alice.wait_for(error_reply("message", "c1"))),
                         ("modify", "bad-request"))


if __name__ == "__main__":
    harness.main()
