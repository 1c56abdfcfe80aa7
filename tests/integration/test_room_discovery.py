#!/usr/bin/python3
"""Room discovery for standard XMPP clients, through real Prosody and real ejabberd:
disco#items at the component domain lists exactly the rooms the asking user may enter (its
groups, then the newest posts addressed to it, with their names; every listed room can be
joined; rooms it may not enter and world posts not addressed to it are absent), XEP-0059 RSM
pages give every room once (forwards with after, backwards with before, index, count only),
a stranger gets an empty list, malformed RSM gets bad-request (counted) and an unknown RSM
id item-not-found; a room's own disco#items lists no occupants; the XEP-0410 self-ping is
answered for an occupant's own nick and refused with not-acceptable for everyone not in the
room (never joined, another resource, not allowed, not a user, after leaving)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402
from test_component_link import error_of  # noqa: E402
from test_rooms_classic import (COMPONENT, DOMAIN, NS_MUC_USER, World, classic_join,  # noqa: E402
                                muc_join, node_of, presence_from, room_of, sync)

NS_ITEMS = "http://jabber.org/protocol/disco#items"
NS_INFO = "http://jabber.org/protocol/disco#info"
NS_RSM = "http://jabber.org/protocol/rsm"
SELF_PING_OPT = "http://jabber.org/protocol/muc#self-ping-optimization"


def self_presence(room):
    """A standard occupant's own presence (status 110) from ROOM."""
    def match(el):
        x = el.find(f"{{{NS_MUC_USER}}}x")
        return (harness.local_name(el) == "presence" and el.get("from", "").startswith(room + "/")
                and x is not None
                and "110" in {s.get("code") for s in x.findall(f"{{{NS_MUC_USER}}}status")})
    return match


class Page:
    """A disco#items answer: its items as (jid, name) and its RSM <set/> (None without)."""

    def __init__(self, reply):
        assert reply.get("type") == "result", harness.tostring(reply)
        q = reply.find(f"{{{NS_ITEMS}}}query")
        assert q is not None, harness.tostring(reply)
        self.items = [(i.get("jid"), i.get("name")) for i in q.findall(f"{{{NS_ITEMS}}}item")]
        self.jids = [j for j, _ in self.items]
        s = q.find(f"{{{NS_RSM}}}set")
        self.set = s
        self.count = None if s is None else int(s.findtext(f"{{{NS_RSM}}}count"))
        first = None if s is None else s.find(f"{{{NS_RSM}}}first")
        self.first = None if first is None else first.text
        self.index = None if first is None else int(first.get("index"))
        self.last = None if s is None else s.findtext(f"{{{NS_RSM}}}last")
        self.children = len(q)


class DiscoveryCases:
    SERVER = None

    @classmethod
    def setUpClass(cls):
        cls.w = w = World(f"discovery-{cls.SERVER}", server=cls.SERVER)
        for login in ("alice", "bob", "carol", "pam", "rob", "sue", "zoe"):
            w.user(login)
        w.user("eve", hippo=False)  # an account of the server, no hippo user
        ids = cls.ids = w.ids
        # alice's rooms: two groups (ACTIVE, FOLLOWER) and five posts addressed to her
        climbers = w.group("Climbers", ["alice", "bob"])
        birders = w.group("Birders", ["bob"])
        divers = w.group("Divers", ["bob"])  # alice not a member
        invited = w.group("Invited", ["bob"])
        removed = w.group("Removed", ["alice", "bob"])
        w.pg.hippoctl("group", "member", "remove", removed, ids["alice"])
        w.pg.psql(f"INSERT INTO hippo.group_members (group_id, user_id, status) VALUES "
                  f"('{birders}', '{ids['alice']}', 'FOLLOWER'), "
                  f"('{invited}', '{ids['alice']}', 'INVITED')")
        p1 = w.post("alice", to=["bob"], title="Posted by alice")
        p2 = w.post("bob", to=["alice"], title="Sent to alice")
        p3 = w.post("bob", to=[climbers], title="To the climbers")
        p4 = w.post("bob", to=[birders], title="To the birders")
        p5 = w.post("bob", to=["alice", "carol"], title="Caf\u00e9 & <friends>")
        # not hers
        p6 = w.post("bob", to=["carol"], title="Carol only")
        world = w.post("bob", world=True, title="To the world")
        p8 = w.post("bob", to=[divers], title="To the divers")
        p9 = w.post("bob", to=[removed], title="To the removed")
        cls.alice_rooms = [(room_of(birders), "Birders"), (room_of(climbers), "Climbers"),
                           (room_of(p5), "Caf\u00e9 & <friends>"),
                           (room_of(p4), "To the birders"), (room_of(p3), "To the climbers"),
                           (room_of(p2), "Sent to alice"), (room_of(p1), "Posted by alice")]
        cls.alice_ids = [birders, climbers, p5, p4, p3, p2, p1]
        cls.not_alice = {"forbidden": [divers, invited, removed, p6, p8, p9],
                         "world": [world]}
        cls.carol_rooms = [(room_of(p6), "Carol only"), (room_of(p5), "Caf\u00e9 & <friends>")]

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def clients(self, *logins, resource="test"):
        out = [self.w.client(login, resource) for login in logins]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def items(self, client, rsm=None, to=COMPONENT):
        return client.iq(f"<iq type='get' to='{to}'><query xmlns='{NS_ITEMS}'>"
                         + (f"<set xmlns='{NS_RSM}'>{rsm}</set>" if rsm is not None else "")
                         + "</query></iq>")

    def page(self, client, rsm=None):
        return Page(self.items(client, rsm))

    def room_status(self, room_id, login):
        return self.w.pg.psql(f"SELECT (hippo.room_check('{room_id}', "
                              f"'{login}@{DOMAIN}')).status")

    # ---------------------------------------------------------------- disco#items

    def test_lists_exactly_the_rooms_the_user_may_enter(self):
        alice, carol = self.clients("alice", "carol")
        page = self.page(alice)
        self.assertEqual(page.items, self.alice_rooms)
        self.assertIsNone(page.set, "the whole list fits: no RSM set without RSM")
        self.assertEqual(self.page(carol).items, self.carol_rooms)
        # every listed room may be entered, and is entered by a standard join
        for room_id in self.alice_ids:
            self.assertEqual(self.room_status(room_id, "alice"), "ok", room_id)
        for jid, name in page.items:
            muc_join(alice, jid, "me")
            me = alice.wait_for(self_presence(jid))
            self.assertEqual(me.get("from"), f"{jid}/Alice")
            alice.send(f"<presence type='unavailable' to='{jid}/Alice'/>")
            alice.wait_for(presence_from(jid, "Alice", "unavailable"))
        # the rooms she may not enter are absent, and so are world posts not sent to her
        for room_id in self.not_alice["forbidden"]:
            self.assertEqual(self.room_status(room_id, "alice"), "forbidden", room_id)
            self.assertNotIn(room_of(room_id), page.jids)
        for room_id in self.not_alice["world"]:
            self.assertEqual(self.room_status(room_id, "alice"), "ok", room_id)
            self.assertNotIn(room_of(room_id), page.jids)

    def test_rsm_pages_give_every_room_once(self):
        alice, = self.clients("alice")
        want = [j for j, _ in self.alice_rooms]
        # forwards
        got, after, seen_pages = [], None, 0
        while True:
            rsm = "<max>3</max>" + (f"<after>{after}</after>" if after else "")
            p = self.page(alice, rsm)
            self.assertEqual(p.count, len(want))
            seen_pages += 1
            if not p.jids:
                self.assertIsNone(p.first)
                break
            self.assertLessEqual(len(p.jids), 3)
            self.assertEqual((p.first, p.last, p.index), (p.jids[0], p.jids[-1], len(got)))
            got += p.jids
            after = p.last
        self.assertEqual(got, want)
        self.assertEqual(seen_pages, 4)  # 3 + 3 + 1, then the empty page after the last
        # backwards from the last page
        p = self.page(alice, "<max>3</max><before/>")
        self.assertEqual((p.jids, p.index), (want[4:], 4))
        p = self.page(alice, f"<max>3</max><before>{p.first}</before>")
        self.assertEqual((p.jids, p.index), (want[1:4], 1))
        p = self.page(alice, f"<max>3</max><before>{p.first}</before>")
        self.assertEqual((p.jids, p.index), (want[:1], 0))
        # an index, and the count alone
        p = self.page(alice, "<max>3</max><index>5</index>")
        self.assertEqual((p.jids, p.index, p.count), (want[5:], 5, 7))
        p = self.page(alice, "<max>0</max>")
        self.assertEqual((p.jids, p.count, p.first, p.last), ([], 7, None, None))
        # an id that is not in her list
        other = room_of(self.not_alice["forbidden"][0])
        reply = self.items(alice, f"<after>{other}</after>")
        self.assertEqual(error_of(reply), ("cancel", "item-not-found"))

    def test_stranger_gets_an_empty_list(self):
        eve, = self.clients("eve")
        p = self.page(eve)
        self.assertEqual((p.children, p.set), (0, None))
        p = self.page(eve, "<max>3</max>")
        self.assertEqual((p.jids, p.count), ([], 0))
        # her answer to an id of alice's list is that of any id not in the list
        reply = self.items(eve, f"<after>{self.alice_rooms[0][0]}</after>")
        self.assertEqual(error_of(reply), ("cancel", "item-not-found"))

    def test_malformed_rsm_is_a_bad_request(self):
        alice, = self.clients("alice")

        def bad_requests():
            return metric_value(self.w.hippod.metrics(), "hippod_errors_total",
                                {"condition": "bad-request"}) or 0

        before = bad_requests()
        for rsm in ("<max>-1</max>", "<max>lots</max>", "<after/>",
                    "<after>a</after><before>b</before>", "<index>1</index><after>a</after>",
                    "<max>1</max><max>2</max>", "<count>3</count>"):
            self.assertEqual(error_of(self.items(alice, rsm)), ("modify", "bad-request"), rsm)
        self.assertEqual(bad_requests(), before + 7)

    def test_caps(self):
        """The 200 newest posts are listed, and a page holds at most 100 items, also without
        RSM (then with a <set/> that says the list is cut)."""
        w, ids = self.w, self.ids
        team = w.group("Team", ["zoe"])
        # 205 posts to zoe, one a second apart (2001-01-01 + i s): post i is the i-th oldest
        made = w.pg.psql(f"""
            SELECT string_agg(hippo.create_post('{ids['bob']}', 'http://x/', 'Old ' || i, '',
                                                ARRAY['{ids['zoe']}'], false), ',' ORDER BY i)
            FROM generate_series(0, 204) i""").split(",")
        w.pg.psql("UPDATE hippo.posts p SET created_at = timestamptz '2001-01-01 00:00:00+00'"
                  " + (x.i - 1) * interval '1 second' FROM unnest(ARRAY['"
                  + "','".join(made) + "']) WITH ORDINALITY x(id, i) WHERE p.id = x.id")
        want = [room_of(team)] + [room_of(p) for p in reversed(made[5:])]
        zoe, = self.clients("zoe")
        p = self.page(zoe)
        self.assertEqual((p.jids, p.count, p.first, p.index), (want[:100], 201, want[0], 0))
        p = self.page(zoe, "<max>1000</max>")
        self.assertEqual((p.jids, p.count), (want[:100], 201))
        p = self.page(zoe, f"<max>1000</max><after>{p.last}</after>")
        self.assertEqual((p.jids, p.index), (want[100:200], 100))
        p = self.page(zoe, f"<after>{p.last}</after>")
        self.assertEqual((p.jids, p.index), (want[200:], 200))
        for old in made[:5]:  # older than the 200 newest: not listed, still enterable
            self.assertEqual(self.room_status(old, "zoe"), "ok")

    # ---------------------------------------------------------------- a room's disco, self-ping

    def test_room_disco_lists_no_occupants(self):
        post = self.w.post("rob", to=["pam"], title="Disco here")
        room = room_of(post)
        rob, pam, sue = self.clients("rob", "pam", "sue")
        muc_join(rob, room, "Rob")
        rob.wait_for(self_presence(room))
        for c in (rob, pam):  # an occupant, and a member who is not in the room
            p = Page(self.items(c, to=room))
            self.assertEqual(p.children, 0)
        self.assertEqual(error_of(self.items(sue, to=room)), ("auth", "forbidden"))
        info = pam.iq(f"<iq type='get' to='{room}'><query xmlns='{NS_INFO}'/></iq>")
        feats = {f.get("var") for f in info.findall(f"{{{NS_INFO}}}query/{{{NS_INFO}}}feature")}
        self.assertIn(SELF_PING_OPT, feats)

    def ping(self, client, to):
        return client.iq(f"<iq type='get' to='{to}'><ping xmlns='urn:xmpp:ping'/></iq>")

    def assert_result(self, reply):
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))

    def test_self_ping(self):
        w, ids = self.w, self.ids
        room = room_of(w.post("pam", to=["rob"], title="Ping me"))
        pam1, = self.clients("pam", resource="one")
        pam2, = self.clients("pam", resource="two")
        rob, sue, eve = self.clients("rob", "sue", "eve")
        not_joined = ("modify", "not-acceptable")
        self.assertEqual(error_of(self.ping(pam1, f"{room}/Pam")), not_joined)
        muc_join(pam1, room, "whatever")
        self.assertEqual(pam1.wait_for(self_presence(room)).get("from"), f"{room}/Pam")
        self.assert_result(self.ping(pam1, f"{room}/Pam"))
        # not in the room: another resource of hers, a member, a user not allowed in, a stranger
        self.assertEqual(error_of(self.ping(pam2, f"{room}/Pam")), not_joined)
        self.assertEqual(error_of(self.ping(rob, f"{room}/Rob")), not_joined)
        self.assertEqual(error_of(self.ping(sue, f"{room}/Sue")), not_joined)
        self.assertEqual(error_of(self.ping(eve, f"{room}/Eve")), not_joined)
        # a room that does not exist (a GUID that is no post or group): not joined either
        self.assertEqual(error_of(self.ping(pam1, f"{room_of('BCDFGHJKLMNPQR')}/Pam")),
                         not_joined)
        # an occupant pinging a nick not its own: errors XEP-0410 reads as "still joined"
        self.assertEqual(error_of(self.ping(pam1, f"{room}/Nobody")), ("cancel", "item-not-found"))
        muc_join(rob, room, "Rob")
        rob.wait_for(self_presence(room))
        self.assertEqual(error_of(self.ping(pam1, f"{room}/Rob")),
                         ("cancel", "service-unavailable"))
        self.assert_result(self.ping(rob, f"{room}/Rob"))
        # a ping to the room itself: for anyone allowed in
        self.assert_result(self.ping(pam2, room))
        self.assertEqual(error_of(self.ping(sue, room)), ("auth", "forbidden"))
        # after leaving
        pam1.send(f"<presence type='unavailable' to='{room}/Pam'/>")
        pam1.wait_for(presence_from(room, "Pam", "unavailable"))
        self.assertEqual(error_of(self.ping(pam1, f"{room}/Pam")), not_joined)
        self.assert_result(self.ping(rob, f"{room}/Rob"))
        # a classic occupant's own JID is ROOM/USERNODE
        classic_join(pam2, room)
        sync(pam2, room)
        self.assert_result(self.ping(pam2, f"{room}/{node_of(ids['pam'])}"))
        self.assertEqual(error_of(self.ping(pam1, f"{room}/{node_of(ids['pam'])}")), not_joined)


class ProsodyDiscovery(DiscoveryCases, unittest.TestCase):
    SERVER = "prosody"


class EjabberdDiscovery(DiscoveryCases, unittest.TestCase):
    SERVER = "ejabberd"


if __name__ == "__main__":
    harness.main()
