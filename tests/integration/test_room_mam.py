#!/usr/bin/python3
"""XEP-0313 Message Archive Management (urn:xmpp:mam:2) at the rooms, through real Prosody
and real ejabberd: 250 messages sent by a standard occupant, paged through with slixmpp's
XEP-0313 plugin (every message once, in order, archive ids = the live stanza-ids), the time
filters at the stamps' millisecond precision, RSM after/before/last page with count, first
index and complete, the with filter, the query form, forbidden for a stranger,
item-not-found for an unknown room and an unknown id, bad-request (counted) for malformed
queries; and the room's disco#info (mam:2, sid:0, the muc#roominfo form)."""
import asyncio
import datetime
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402
from test_component_link import error_of  # noqa: E402
from test_rooms_classic import (NS_ROOMS, World, body_of, message_info, muc_join,  # noqa: E402
                                room_of)

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FWD = "urn:xmpp:forward:0"
NS_SID = "urn:xmpp:sid:0"
NS_DATA = "jabber:x:data"
NS_DISCO = "http://jabber.org/protocol/disco#info"
N = 250
BASE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def stamp_of(serial):
    """The stamp the archive shows for SERIAL once the test has dated it (see setUpClass):
    sent at BASE + SERIAL minutes + 600 µs, which shows as .001 (rounded to the ms)."""
    t = BASE + datetime.timedelta(minutes=serial, milliseconds=1)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def form(**fields):
    out = (f"<x xmlns='{NS_DATA}' type='submit'><field var='FORM_TYPE' type='hidden'>"
           f"<value>{NS_MAM}</value></field>")
    for var, value in fields.items():
        out += f"<field var='{var}'><value>{harness.xml_escape(value)}</value></field>"
    return out + "</x>"


def rsm(**items):
    return (f"<set xmlns='{NS_RSM}'>"
            + "".join(f"<{k}>{v}</{k}>" if v is not None else f"<{k}/>" for k, v in items.items())
            + "</set>")


class Archive:
    """The tests, run through one server kind (the subclasses)."""
    SERVER = None

    @classmethod
    def setUpClass(cls):
        cls.w = World(f"room-mam-{cls.SERVER}", server=cls.SERVER,
                      rooms={"messages_per_second": 100000, "message_burst": 100000,
                             "max_history": 3})
        for login in ("alice", "bob", "eve"):
            cls.w.user(login)
        cls.ids = cls.w.ids
        cls.post = cls.w.post("alice", to=["bob"], title="Archived talk")
        cls.room = room_of(cls.post)
        cls.alice = cls.w.client("alice")
        muc_join(cls.alice, cls.room, "Alice")
        cls.alice.wait_for(lambda e: e.findtext("{jabber:client}subject") == "Archived talk")
        # 250 messages through the server; every echo carries its stanza-id
        for i in range(N):
            cls.alice.send(f"<message to='{cls.room}' type='groupchat'><body>m{i}</body>"
                           "</message>")
        cls.live = {}  # body -> stanza-id of the live echo
        for i in range(N):
            echo = cls.alice.wait_for(lambda e, b=f"m{i}": body_of(e) == b, timeout=20)
            sid = echo.find(f"{{{NS_SID}}}stanza-id")
            assert sid.get("by") == cls.room, harness.tostring(echo)
            cls.live[f"m{i}"] = sid.get("id")
        # a message every minute, 600 µs after the minute: its stamp shows .001
        cls.w.pg.psql("UPDATE hippo.room_messages SET sent_at = timestamptz '2024-01-01 00:00:00+00'"
                      " + serial * interval '1 minute' + interval '600 microseconds'"
                      f" WHERE room_id = '{cls.post}'")

    @classmethod
    def tearDownClass(cls):
        cls.alice.close()
        cls.w.close()

    def client(self, login):
        c = self.w.client(login)
        self.addCleanup(c.close)
        return c

    def query(self, client, inner="", qid="q", to=None, typ="set"):
        """A raw MAM query: (the iq answer, the result messages for QID before it)."""
        start = len(client.received())
        reply = client.iq(f"<iq type='{typ}' to='{to or self.room}'>"
                          f"<query xmlns='{NS_MAM}' queryid='{qid}'>{inner}</query></iq>",
                          timeout=10)
        got = client.received()[start:]
        results = [e for e in got[:got.index(reply)]
                   if e.find(f"{{{NS_MAM}}}result") is not None
                   and e.find(f"{{{NS_MAM}}}result").get("queryid") == qid]
        return reply, results

    def bodies(self, results):
        return [body_of(r.find(f"{{{NS_MAM}}}result/{{{NS_FWD}}}forwarded/{{jabber:client}}"
                               "message")) for r in results]

    def fin(self, reply):
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        fin = reply.find(f"{{{NS_MAM}}}fin")
        s = fin.find(f"{{{NS_RSM}}}set")
        first = s.find(f"{{{NS_RSM}}}first")
        return {"complete": fin.get("complete") == "true",
                "first": None if first is None else first.text,
                "index": None if first is None else int(first.get("index")),
                "last": s.findtext(f"{{{NS_RSM}}}last"),
                "count": int(s.findtext(f"{{{NS_RSM}}}count"))}

    # ------------------------------------------------------------------------ tests

    def test_live_and_backlog_carry_the_stanza_id(self):
        self.assertEqual([self.live[f"m{i}"] for i in range(N)], [str(i) for i in range(N)])
        bob = self.client("bob")
        muc_join(bob, self.room, "Bob")
        bob.wait_for(lambda e: e.findtext("{jabber:client}subject") == "Archived talk")
        backlog = [e for e in bob.received() if body_of(e)]
        self.assertEqual([body_of(e) for e in backlog], [f"m{i}" for i in range(N - 3, N)])
        for e in backlog:
            sid = e.find(f"{{{NS_SID}}}stanza-id")
            self.assertEqual((sid.get("by"), sid.get("id")), (self.room, self.live[body_of(e)]))
        bob.send(f"<presence type='unavailable' to='{self.room}/Bob'/>")
        bob.wait_for(lambda e: e.get("type") == "unavailable"
                     and e.get("from") == f"{self.room}/Bob")

    def test_result_shape(self):
        bob = self.client("bob")  # allowed in, not present
        reply, results = self.query(bob, rsm(max=2), qid="shape")
        self.assertEqual(len(results), 2)
        r = results[0]
        self.assertEqual((r.get("from"), r.get("to")), (self.room, bob.jid))
        res = r.find(f"{{{NS_MAM}}}result")
        self.assertEqual((res.get("queryid"), res.get("id")), ("shape", "0"))
        fwd = res.find(f"{{{NS_FWD}}}forwarded")
        self.assertEqual(fwd.find("{urn:xmpp:delay}delay").get("stamp"), stamp_of(0))
        msg = fwd.find("{jabber:client}message")
        self.assertEqual((msg.get("type"), msg.get("from"), body_of(msg)),
                         ("groupchat", f"{self.room}/Alice", "m0"))
        sid = msg.find(f"{{{NS_SID}}}stanza-id")
        self.assertEqual((sid.get("by"), sid.get("id")), (self.room, "0"))
        self.assertEqual(message_info(msg).get("serial"), "0")
        self.assertEqual(self.fin(reply), {"complete": False, "first": "0", "index": 0,
                                           "last": "1", "count": N})

    def test_slixmpp_pages_through_everything(self):
        """slixmpp's XEP-0313 plugin, a real MAM client, reads the query form, pages forward
        (RSM after) through the whole archive, and filters by time. (Its backward iteration
        stops after the first page whenever the server sends count and first index: it
        tests first index + items == count in both directions; test_rsm_paging pages
        backward with raw stanzas.)"""
        import slixmpp  # noqa: PLC0415 - only this test needs it

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # slixmpp makes futures on the current loop
        xmpp = slixmpp.ClientXMPP(f"bob@{harness.DOMAIN}/slix", "pw")
        xmpp.loop = loop
        for plugin in ("xep_0030", "xep_0059", "xep_0297", "xep_0313"):
            xmpp.register_plugin(plugin)
        mam = xmpp.plugin["xep_0313"]
        got = {}

        def unpack(msg):
            res = msg["mam_result"]
            inner = res["forwarded"]["stanza"]
            return (res["id"], inner["body"], inner["from"].resource,
                    res["forwarded"]["delay"]["stamp"])

        async def scenario():
            started = loop.create_future()
            xmpp.add_event_handler("session_start", lambda _: started.set_result(True))
            xmpp.connect(("127.0.0.1", self.w.server.c2s_port), use_ssl=False,
                         force_starttls=False, disable_starttls=True)
            await asyncio.wait_for(started, 10)
            got["fields"] = await mam.get_fields(self.room, timeout=10)
            got["forward"] = [unpack(m) async for m in mam.iterate(self.room, rsm={"max": 37})]
            start = BASE + datetime.timedelta(minutes=100)
            end = BASE + datetime.timedelta(minutes=149, seconds=30)
            got["window"] = [unpack(m) async for m in mam.iterate(
                self.room, start=start, end=end, rsm={"max": 100})]
            xmpp.disconnect()
            await asyncio.wait_for(xmpp.disconnected, 10)

        try:
            loop.run_until_complete(asyncio.wait_for(scenario(), 90))
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()
            asyncio.set_event_loop(None)
        self.assertEqual(set(got["fields"].get_fields()),
                         {"FORM_TYPE", "with", "start", "end"})
        expected = [(self.live[f"m{i}"], f"m{i}", "Alice") for i in range(N)]
        self.assertEqual([g[:3] for g in got["forward"]], expected)
        self.assertEqual([g[1] for g in got["window"]], [f"m{i}" for i in range(100, 150)])
        self.assertEqual(got["window"][0][3], BASE + datetime.timedelta(minutes=100,
                                                                        milliseconds=1))

    def test_rsm_paging(self):
        bob = self.client("bob")
        # backward from the last page, as a client catching up from the newest
        seen, before, pages = [], None, 0
        while True:
            reply, results = self.query(bob, rsm(max=33, before=before), qid=f"back{pages}")
            pages += 1
            ids = [r.find(f"{{{NS_MAM}}}result").get("id") for r in results]
            seen = list(zip(ids, self.bodies(results))) + seen
            f = self.fin(reply)
            self.assertEqual((f["first"], f["last"], f["count"]), (ids[0], ids[-1], N))
            if f["complete"]:
                break
            before = f["first"]
        self.assertEqual(seen, [(self.live[f"m{i}"], f"m{i}") for i in range(N)])
        self.assertEqual(pages, 8)
        reply, results = self.query(bob, rsm(max=10, before=None), qid="last")
        self.assertEqual(self.bodies(results), [f"m{i}" for i in range(240, 250)])
        self.assertEqual(self.fin(reply), {"complete": False, "first": "240", "index": 240,
                                           "last": "249", "count": N})
        reply, results = self.query(bob, rsm(max=10, before=240), qid="prev")
        self.assertEqual(self.bodies(results), [f"m{i}" for i in range(230, 240)])
        self.assertEqual(self.fin(reply)["index"], 230)
        reply, results = self.query(bob, rsm(max=10, before=5), qid="head")
        self.assertEqual(self.bodies(results), [f"m{i}" for i in range(5)])
        self.assertTrue(self.fin(reply)["complete"])
        reply, results = self.query(bob, rsm(max=100, after=244), qid="tail")
        self.assertEqual(self.bodies(results), [f"m{i}" for i in range(245, 250)])
        self.assertEqual(self.fin(reply), {"complete": True, "first": "245", "index": 245,
                                           "last": "249", "count": N})
        reply, results = self.query(bob, rsm(after=10, before=14), qid="between")
        self.assertEqual(self.bodies(results), ["m11", "m12", "m13"])
        # no max, or a larger one: 100 a page
        reply, results = self.query(bob, rsm(max=100000), qid="cap")
        self.assertEqual(len(results), 100)
        reply, results = self.query(bob, "", qid="nomax")
        self.assertEqual(len(results), 100)
        self.assertFalse(self.fin(reply)["complete"])
        # max 0: the count alone
        reply, results = self.query(bob, rsm(max=0), qid="count")
        self.assertEqual((results, self.fin(reply)),
                         ([], {"complete": False, "first": None, "index": None, "last": None,
                               "count": N}))
        reply, results = self.query(bob, rsm(after=249), qid="end")
        self.assertEqual((results, self.fin(reply)["complete"]), ([], True))

    def test_time_and_with_filters(self):
        bob = self.client("bob")
        # the bounds are inclusive at the stamps' precision: m100 is at ...:40:00.0006,
        # shown .001; a bound of .0015 rounds to a stamp of .002 and leaves it out
        reply, results = self.query(bob, form(start=stamp_of(100), end=stamp_of(102)),
                                    qid="t1")
        self.assertEqual(self.bodies(results), ["m100", "m101", "m102"])
        self.assertEqual(self.fin(reply), {"complete": True, "first": "100", "index": 0,
                                           "last": "102", "count": 3})
        late = stamp_of(100).replace(".001Z", ".0015Z")
        reply, results = self.query(bob, form(start=late) + rsm(max=2), qid="t2")
        self.assertEqual(self.bodies(results), ["m101", "m102"])
        self.assertEqual(self.fin(reply)["count"], N - 101)
        offset = (BASE + datetime.timedelta(minutes=3)).astimezone(
            datetime.timezone(datetime.timedelta(hours=-5))).isoformat()
        reply, results = self.query(bob, form(end=offset), qid="t3")
        self.assertEqual(self.bodies(results), ["m0", "m1", "m2"])  # m3 is 600 µs later
        reply, results = self.query(bob, form(start=stamp_of(10), end=stamp_of(20))
                                    + rsm(max=3, before=None), qid="t4")
        self.assertEqual(self.bodies(results), ["m18", "m19", "m20"])
        self.assertEqual(self.fin(reply)["index"], 8)
        reply, results = self.query(bob, form(start="2030-01-01T00:00:00Z"), qid="t5")
        self.assertEqual((results, self.fin(reply)["count"]), ([], 0))
        # with: the sender's occupant JID (standard nick or classic node)
        reply, _ = self.query(bob, form(**{"with": f"{self.room}/Alice"}) + rsm(max=0), qid="w1")
        self.assertEqual(self.fin(reply)["count"], N)
        reply, _ = self.query(bob, form(**{"with": f"{self.room}/Bob"}) + rsm(max=0), qid="w2")
        self.assertEqual(self.fin(reply)["count"], 0)
        node = "".join(c.lower() if c.isupper() else c + "_" if c.islower() else c
                       for c in self.ids["alice"])
        reply, _ = self.query(bob, form(**{"with": f"{self.room}/{node}"}) + rsm(max=0),
                              qid="w3")
        self.assertEqual(self.fin(reply)["count"], N)
        # the node -> GUID inverse the classic with uses
        self.assertEqual(self.w.pg.psql(
            "SELECT count(*) FILTER (WHERE hippo.room_node_guid(hippo.guid_to_node(id)) = id), "
            "count(*), hippo.room_node_guid('a_b_c_d_e_f_g_h_i_j_k_l_m_n_'), "
            "hippo.room_node_guid('a_b_c') IS NULL, "
            "hippo.room_node_guid('Ab_c') IS NULL FROM hippo.users"),
            "3|3|abcdefghijklmn|t|t")

    def test_form_discovery(self):
        bob = self.client("bob")
        reply = bob.iq(f"<iq type='get' to='{self.room}'><query xmlns='{NS_MAM}'/></iq>")
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        x = reply.find(f"{{{NS_MAM}}}query/{{{NS_DATA}}}x")
        fields = {f.get("var"): f.findtext(f"{{{NS_DATA}}}value")
                  for f in x.findall(f"{{{NS_DATA}}}field")}
        self.assertEqual(fields, {"FORM_TYPE": NS_MAM, "with": None, "start": None, "end": None})

    def test_refusals(self):
        eve, bob = self.client("eve"), self.client("bob")
        before = self.w.hippod.metrics()
        reply, results = self.query(eve, rsm(max=5), qid="eve")
        self.assertEqual((error_of(reply), results), (("auth", "forbidden"), []))
        self.assertEqual(error_of(eve.iq(f"<iq type='get' to='{self.room}'>"
                                         f"<query xmlns='{NS_MAM}'/></iq>")),
                         ("auth", "forbidden"))
        nobody = room_of("Zz9Zz9Zz9Zz9Zz")
        reply, _ = self.query(bob, "", to=nobody)
        self.assertEqual(error_of(reply), ("cancel", "item-not-found"))
        self.assertEqual(reply.get("from"), nobody)
        reply, _ = self.query(bob, rsm(after=100000))
        self.assertEqual(error_of(reply), ("cancel", "item-not-found"))
        malformed = [
            form(start="yesterday"),
            form(end="2024-02-30T00:00:00Z"),
            form(start="2024-01-01 00:00:00Z"),
            rsm(after="ten"),
            rsm(after=""),
            rsm(before="-1"),
            rsm(max="-1"),
            rsm(max="1e3"),
            rsm(max=1, after=1).replace("</set>", "<max>2</max></set>"),
            form(color="blue"),
            form(**{"with": "alice@example.test"}),
            form(**{"with": self.room}),
            form(start=stamp_of(1)).replace(f"<value>{NS_MAM}</value>",
                                            "<value>urn:xmpp:mam:1</value>"),
            form(start=stamp_of(1)).replace(f"<value>{stamp_of(1)}</value>",
                                            f"<value>{stamp_of(1)}</value><value>x</value>"),
            form().replace("type='submit'", "type='form'"),
            "<flip-page/>",
            form() + form(),
        ]
        for inner in malformed:
            reply, results = self.query(bob, inner, qid="bad")
            self.assertEqual((error_of(reply), results), (("modify", "bad-request"), []),
                             inner)
        reply, _ = self.query(bob, f"<set xmlns='{NS_RSM}'><index>3</index></set>")
        self.assertEqual(error_of(reply), ("cancel", "feature-not-implemented"))
        reply = bob.iq(f"<iq type='set' to='{self.room}/Alice'><query xmlns='{NS_MAM}'/></iq>")
        self.assertEqual(error_of(reply), ("cancel", "service-unavailable"))
        after = self.w.hippod.metrics()
        labels = {"condition": "bad-request"}
        self.assertEqual(metric_value(after, "hippod_errors_total", labels)
                         - (metric_value(before, "hippod_errors_total", labels) or 0),
                         len(malformed))

    def test_disco_info(self):
        bob = self.client("bob")
        reply = bob.iq(f"<iq type='get' to='{self.room}'><query xmlns='{NS_DISCO}'/></iq>")
        q = reply.find(f"{{{NS_DISCO}}}query")
        ident = q.find(f"{{{NS_DISCO}}}identity")
        self.assertEqual((ident.get("category"), ident.get("type"), ident.get("name")),
                         ("conference", "text", "Archived talk"))
        feats = {f.get("var") for f in q.findall(f"{{{NS_DISCO}}}feature")}
        self.assertTrue({"http://jabber.org/protocol/muc", NS_MAM, NS_SID, NS_ROOMS,
                         "urn:xmpp:ping"} <= feats, feats)
        x = q.find(f"{{{NS_DATA}}}x")
        fields = {f.get("var"): f.findtext(f"{{{NS_DATA}}}value")
                  for f in x.findall(f"{{{NS_DATA}}}field")}
        self.assertEqual(fields, {"FORM_TYPE": "http://jabber.org/protocol/muc#roominfo",
                                  "muc#roominfo_subject": "Archived talk",
                                  "muc#roominfo_occupants": "1",
                                  "x-dumbhippo-room-kind": "post"})
        eve = self.client("eve")
        self.assertEqual(error_of(eve.iq(f"<iq type='get' to='{self.room}'>"
                                         f"<query xmlns='{NS_DISCO}'/></iq>")),
                         ("auth", "forbidden"))


class ArchiveProsody(Archive, unittest.TestCase):
    SERVER = "prosody"


class ArchiveEjabberd(Archive, unittest.TestCase):
    SERVER = "ejabberd"


if __name__ == "__main__":
    harness.main()
