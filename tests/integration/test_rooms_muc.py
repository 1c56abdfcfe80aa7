#!/usr/bin/python3
"""Chat rooms in the standard MUC dialect (XEP-0045 subset) through real Prosody: raw
stanzas (self-presence 110/210, subject, groupchat echo, XEP-0203 history and the history
request, readable unique nicks, refused nick changes, private messages and subjects,
self-ping, disco), classic and standard occupants in one room, and a real standard client
library (slixmpp's XEP-0045 plugin)."""
import asyncio
import datetime
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_component_link import error_of  # noqa: E402
from test_rooms_classic import (NS_DELAY, NS_MUC_USER, NS_ROOMS, World, body_of,  # noqa: E402
                                classic_join, error_reply, message_info, message_with, muc_join,
                                node_of, presence_from, room_of, say, sync, user_info)

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def muc_x(el):
    return el.find(f"{{{NS_MUC_USER}}}x")


def item_of(el):
    return el.find(f"{{{NS_MUC_USER}}}x/{{{NS_MUC_USER}}}item")


NS_SID = "urn:xmpp:sid:0"


def codes(el):
    x = muc_x(el)
    return set() if x is None else {s.get("code") for s in x.findall(f"{{{NS_MUC_USER}}}status")}


def subject_from(room):
    return lambda e: (harness.local_name(e) == "message" and e.get("from") == room
                      and e.find("{jabber:client}subject") is not None)


class StandardRooms(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = World("rooms-muc")
        for login in ("alice", "bob", "carol", "dave"):
            cls.w.user(login)
        cls.w.user("sam1", name="Sam")
        cls.w.user("sam2", name="Sam")
        cls.w.user("zed", name="Zed\u202e\u200b  \u0007the  Third")
        cls.ids = cls.w.ids

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def clients(self, *logins):
        out = [self.w.client(login) for login in logins]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def join(self, client, room, nick, history=""):
        """Joins and returns (stanzas up to and including the subject, self-presence)."""
        start = len(client.received())
        muc_join(client, room, nick, history)
        subject = client.wait_for(subject_from(room))
        got = client.received()
        stanzas = got[start:got.index(subject) + 1]
        selves = [e for e in stanzas if harness.local_name(e) == "presence"
                  and e.get("from", "").startswith(room + "/") and "110" in codes(e)]
        self.assertEqual(len(selves), 1, [harness.tostring(e) for e in stanzas])
        return stanzas, selves[0]

    def test_three_standard_occupants(self):
        w = self.w
        post = w.post("alice", to=["bob", "carol"], title="Standard talk")
        room = room_of(post)
        alice, bob, carol = self.clients("alice", "bob", "carol")
        _, me = self.join(alice, room, "whatever")
        self.assertEqual(me.get("from"), f"{room}/Alice")
        self.assertEqual(codes(me), {"110", "210"})  # the nick is the user's name
        self.assertEqual((item_of(me).get("affiliation"), item_of(me).get("role")),
                         ("member", "participant"))
        self.assertEqual(user_info(me).get("name"), "Alice")
        alice.send(f"<message to='{room}' type='groupchat' id='g1'><body>one</body></message>")
        echo = alice.wait_for(message_with(room, "one"))
        self.assertEqual((echo.get("type"), echo.get("id"), echo.get("from")),
                         ("groupchat", "g1", f"{room}/Alice"))
        self.assertEqual(message_info(echo).get("serial"), "0")

        stanzas, me = self.join(bob, room, "Bob")
        self.assertEqual(codes(me), {"110"})
        kinds = [(harness.local_name(e), e.get("from")) for e in stanzas
                 if e.get("from", "").startswith(room)]
        self.assertEqual(kinds, [("presence", f"{room}/Alice"), ("presence", f"{room}/Bob"),
                                 ("message", f"{room}/Alice"), ("message", room)])
        history = stanzas[-2]
        self.assertEqual(body_of(history), "one")
        delay = history.find(f"{{{NS_DELAY}}}delay")
        self.assertEqual(delay.get("from"), room)
        self.assertRegex(delay.get("stamp"), STAMP)
        self.assertEqual(stanzas[-1].findtext("{jabber:client}subject"), "Standard talk")
        joined = alice.wait_for(presence_from(room, "Bob"))
        self.assertEqual(codes(joined), set())
        self.assertEqual(item_of(joined).get("role"), "participant")

        stanzas, _ = self.join(carol, room, "Carol", "<history maxstanzas='0'/>")
        self.assertFalse([e for e in stanzas if body_of(e) and e.get("from").startswith(room)],
                         "maxstanzas=0: no history")
        carol.send(f"<message to='{room}' type='groupchat'><body>two</body></message>")
        for c in (alice, bob, carol):
            el = c.wait_for(message_with(room, "two"))
            self.assertEqual((el.get("from"), message_info(el).get("serial")),
                             (f"{room}/Carol", "1"))
        bob.send(f"<presence type='unavailable' to='{room}/Bob'/>")
        mine = bob.wait_for(presence_from(room, "Bob", "unavailable"))
        self.assertEqual(codes(mine), {"110"})
        for c in (alice, carol):
            gone = c.wait_for(presence_from(room, "Bob", "unavailable"))
            self.assertEqual(item_of(gone).get("role"), "none")
        self.assertEqual(len(w.occupants(post)), 2)

    def test_stanza_id_and_origin_id(self):
        """XEP-0359: every copy of a message carries the room's stanza-id (by the room, the
        same for every occupant, live and in the backlog), and the sender's origin-id comes
        back in the echo (profanity showed each own message twice without it)."""
        w = self.w
        room = room_of(w.post("alice", to=["bob", "carol"], title="Ids"))
        alice, bob, carol = self.clients("alice", "bob", "carol")
        self.join(alice, room, "Alice")
        self.join(bob, room, "Bob")
        bob.send(f"<message to='{room}' type='groupchat' id='m1'><body>with ids</body>"
                 f"<origin-id xmlns='{NS_SID}' id='origin-77'/></message>")
        copies = [c.wait_for(message_with(room, "with ids")) for c in (alice, bob)]
        sids = [e.find(f"{{{NS_SID}}}stanza-id") for e in copies]
        self.assertEqual({(s.get("by"), s.get("id")) for s in sids}, {(room, "0")})
        mine = copies[1].find(f"{{{NS_SID}}}origin-id")
        self.assertEqual(mine.get("id") if mine is not None else None, "origin-77")
        stanzas, _ = self.join(carol, room, "Carol")
        history = [e for e in stanzas if body_of(e) == "with ids"]
        self.assertEqual(len(history), 1)
        sid = history[0].find(f"{{{NS_SID}}}stanza-id")
        self.assertEqual((sid.get("by"), sid.get("id")), (room, "0"))

    def test_classic_and_standard_in_one_room(self):
        w, ids = self.w, self.ids
        post = w.post("dave", to=["alice"])
        room = room_of(post)
        dave, alice = self.clients("dave", "alice")
        classic_join(dave, room, "visitor")
        sync(dave, room)
        stanzas, _ = self.join(alice, room, "Alice")
        dave_pres = [e for e in stanzas if e.get("from") == f"{room}/Dave"]
        self.assertEqual(len(dave_pres), 1)
        self.assertEqual(item_of(dave_pres[0]).get("role"), "visitor")
        el = dave.wait_for(presence_from(room, node_of(ids["alice"])))
        self.assertEqual((user_info(el).get("role"), user_info(el).get("oldRole")),
                         ("participant", "nonmember"))
        say(dave, room, "classic hi")
        alice.send(f"<message to='{room}' type='groupchat'><body>muc hi</body></message>")
        got = {}
        for c in (dave, alice):
            for body in ("classic hi", "muc hi"):
                got[(c, body)] = c.wait_for(message_with(room, body))
        self.assertIsNone(got[(dave, "muc hi")].get("type"))
        self.assertEqual(got[(dave, "muc hi")].get("from"), f"{room}/{node_of(ids['alice'])}")
        self.assertEqual(got[(alice, "classic hi")].get("type"), "groupchat")
        self.assertEqual(got[(alice, "classic hi")].get("from"), f"{room}/Dave")
        for body in ("classic hi", "muc hi"):
            self.assertEqual(message_info(got[(dave, body)]).get("serial"),
                             message_info(got[(alice, body)]).get("serial"))
        alice.send(f"<presence type='unavailable' to='{room}/Alice'/>")
        dave.wait_for(presence_from(room, node_of(ids["alice"]), "unavailable"))

    def test_nicks_are_names_made_unique(self):
        w = self.w
        post = w.post("sam1", to=["sam2"])
        room = room_of(post)
        s1, s2 = self.clients("sam1", "sam2")
        _, me1 = self.join(s1, room, "Sam")
        self.assertEqual((me1.get("from"), codes(me1)), (f"{room}/Sam", {"110"}))
        stanzas, me2 = self.join(s2, room, "Sam")
        self.assertEqual((me2.get("from"), codes(me2)), (f"{room}/Sam (2)", {"110", "210"}))
        self.assertIn(f"{room}/Sam", [e.get("from") for e in stanzas])
        s1.wait_for(presence_from(room, "Sam (2)"))
        # no control or invisible characters in a JID resource
        post = w.post("zed", to=["sam1"])
        zed, = self.clients("zed")
        _, me = self.join(zed, room_of(post), "z")
        self.assertEqual(me.get("from"), f"{room_of(post)}/Zed the Third")
        self.assertEqual(user_info(me).get("name"), "Zed\u202e\u200b  \ufffdthe  Third")
        self.assertNotIn("xmpp link down", w.hippod.log_text(), "a name broke the stream")

    def test_history_requests(self):
        w = self.w
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, bob = self.clients("alice", "bob")
        for i in range(5):
            say(alice, room, f"m{i}")
            alice.wait_for(message_with(room, f"m{i}"))
        w.pg.psql("UPDATE hippo.room_messages SET sent_at = now() - interval '1 hour' "
                  f"WHERE room_id = '{post}' AND serial < 3")

        def backlog(history):
            stanzas, _ = self.join(bob, room, "Bob", history)
            bob.send(f"<presence type='unavailable' to='{room}/Bob'/>")
            bob.wait_for(presence_from(room, "Bob", "unavailable"))
            return [body_of(e) for e in stanzas if body_of(e) and e.get("from").startswith(room)]

        self.assertEqual(backlog(""), ["m0", "m1", "m2", "m3", "m4"])
        self.assertEqual(backlog("<history maxstanzas='2'/>"), ["m3", "m4"])
        self.assertEqual(backlog("<history seconds='600'/>"), ["m3", "m4"])
        since = (datetime.datetime.now(datetime.timezone.utc)
                 - datetime.timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(backlog(f"<history since='{since}' maxstanzas='4'/>"),
                         ["m1", "m2", "m3", "m4"])
        self.assertEqual(backlog("<history maxchars='0'/>"), [])

    def test_nick_change_private_messages_and_subject_are_refused(self):
        w = self.w
        post = w.post("alice", to=["bob"])
        room = room_of(post)
        alice, bob = self.clients("alice", "bob")
        bob.send(f"<message to='{room}' type='groupchat' id='n1'><body>hi</body></message>")
        self.assertEqual(error_of(bob.wait_for(error_reply("message", "n1"))),
                         ("modify", "not-acceptable"))  # not an occupant yet
        self.join(alice, room, "Alice")
        self.join(bob, room, "Bob")
        alice.send(f"<presence to='{room}/Queen'/>")
        err = alice.wait_for(error_reply("presence"))
        self.assertEqual(error_of(err), ("cancel", "not-acceptable"))
        self.assertEqual(err.get("from"), f"{room}/Queen")
        alice.send(f"<message to='{room}/Bob' type='chat' id='p1'><body>psst</body></message>")
        self.assertEqual(error_of(alice.wait_for(error_reply("message", "p1"))),
                         ("cancel", "not-allowed"))
        bob.assert_silent(lambda e: body_of(e) == "psst", timeout=0.3)
        alice.send(f"<message to='{room}' type='groupchat' id='s1'><subject>new</subject>"
                   "</message>")
        self.assertEqual(error_of(alice.wait_for(error_reply("message", "s1"))),
                         ("auth", "forbidden"))
        # still in the room under the same nick
        alice.send(f"<message to='{room}' type='groupchat'><body>still here</body></message>")
        self.assertEqual(bob.wait_for(message_with(room, "still here")).get("from"),
                         f"{room}/Alice")

    def test_self_ping_and_disco(self):
        w = self.w
        post = w.post("alice", to=["bob"], title="Disco post")
        room = room_of(post)
        alice, = self.clients("alice")
        ping = f"<iq type='get' to='{room}/Alice'><ping xmlns='urn:xmpp:ping'/></iq>"
        self.assertEqual(error_of(alice.iq(ping)), ("modify", "not-acceptable"))
        self.join(alice, room, "Alice")
        self.assertEqual(alice.iq(ping).get("type"), "result")
        info = alice.iq(f"<iq type='get' to='{room}'>"
                        "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        q = info.find("{http://jabber.org/protocol/disco#info}query")
        ident = q.find("{http://jabber.org/protocol/disco#info}identity")
        self.assertEqual((ident.get("category"), ident.get("type"), ident.get("name")),
                         ("conference", "text", "Disco post"))
        feats = {f.get("var") for f in q.findall("{http://jabber.org/protocol/disco#info}feature")}
        self.assertTrue({"http://jabber.org/protocol/muc", NS_ROOMS} <= feats, feats)
        items = alice.iq(f"<iq type='get' to='{room}'>"
                         "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
        self.assertEqual(items.get("type"), "result")

    def test_slixmpp_client(self):
        """A real XEP-0045 client library joins, reads the occupants, history and subject,
        talks with a classic occupant, and leaves."""
        import slixmpp  # noqa: PLC0415 - only this test needs it

        w, ids = self.w, self.ids
        post = w.post("carol", to=["dave"], title="Library talk")
        room = room_of(post)
        carol, = self.clients("carol")
        classic_join(carol, room)
        say(carol, room, "before the library")
        carol.wait_for(message_with(room, "before the library"))

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # slixmpp makes futures on the current loop
        xmpp = slixmpp.ClientXMPP(f"dave@{harness.DOMAIN}/slix", "pw")
        xmpp.loop = loop
        for plugin in ("xep_0030", "xep_0045", "xep_0199"):
            xmpp.register_plugin(plugin)
        muc = xmpp.plugin["xep_0045"]

        async def blocking(fn, *args):
            return await loop.run_in_executor(None, fn, *args)

        async def scenario():
            started = loop.create_future()
            xmpp.add_event_handler("session_start", lambda _: started.set_result(True))
            xmpp.connect(("127.0.0.1", w.server.c2s_port), use_ssl=False, force_starttls=False,
                         disable_starttls=True)
            await asyncio.wait_for(started, 10)
            xmpp.send_presence()
            pres, subject, occupants, history = await muc.join_muc_wait(
                room, "dave-the-library", maxstanzas=10, timeout=10)
            self.assertEqual(pres["from"].resource, "Dave")
            self.assertEqual(muc.our_nicks[room], "Dave")
            self.assertEqual(subject["subject"], "Library talk")
            # the others, then itself (slixmpp counts its own self-presence as an occupant)
            self.assertEqual([p["from"].resource for p in occupants], ["Carol", "Dave"])
            self.assertEqual([m["body"] for m in history], ["before the library"])

            got = loop.create_future()
            xmpp.add_event_handler(f"muc::{room}::message",
                                   lambda m: got.done() or m["body"] != "to the library"
                                   or got.set_result(m))
            xmpp.send_message(mto=room, mbody="from the library", mtype="groupchat")
            el = await blocking(carol.wait_for, message_with(room, "from the library"))
            self.assertEqual(el.get("from"), f"{room}/{node_of(ids['dave'])}")
            say(carol, room, "to the library")
            msg = await asyncio.wait_for(got, 10)
            self.assertEqual(msg["from"].resource, "Carol")
            self.assertEqual(msg["type"], "groupchat")
            muc.leave_muc(room, "Dave")
            await blocking(carol.wait_for, presence_from(room, node_of(ids["dave"]),
                                                         "unavailable"))
            xmpp.disconnect()
            await asyncio.wait_for(xmpp.disconnected, 10)

        try:
            loop.run_until_complete(asyncio.wait_for(scenario(), 60))
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()
            asyncio.set_event_loop(None)
        self.assertEqual([o[0] for o in w.occupants(post)], [carol.jid])


if __name__ == "__main__":
    harness.main()
