#!/usr/bin/python3
"""The headline notifications from the outbox through real servers (Prosody):
livePostChanged after views (per-recipient flags, not to the viewer, coalesced per post,
the interval reloaded on SIGHUP), activePostsChanged when a post room gets chatters and
loses them, prefs, hotness, mySpaceNameChanged and mySpaceContactComment. Every payload is
validated with xmllint against schema/. The helpers are shared with test_push_lossless.py."""
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import local_name  # noqa: E402
from test_rooms_classic import classic_join, leave, room_of  # noqa: E402

NS_POST = "http://dumbhippo.com/protocol/post"
NS_PREFS = "http://dumbhippo.com/protocol/prefs"
NS_MYSPACE = "http://dumbhippo.com/protocol/myspace"
NS_HOTNESS = "http://dumbhippo.com/protocol/hotness"
SCHEMAS = {NS_POST: "post.xsd", NS_PREFS: "prefs.xsd", NS_MYSPACE: "myspace.xsd",
           NS_HOTNESS: "hotness.xsd"}
XMLLINT = shutil.which("xmllint") or "/usr/bin/xmllint"
COMPONENT = harness.COMPONENT_DOMAIN

_logins = itertools.count(1)


def P(tag):
    return f"{{{NS_POST}}}{tag}"


def payload_of(stanza, ns, name):
    """The <NAME xmlns=NS> child of a headline message, or None."""
    if local_name(stanza) != "message" or stanza.get("type") != "headline":
        return None
    return stanza.find(f"{{{ns}}}{name}")


def headline(ns, name, pred=None):
    """Predicate: a headline from the component carrying <NAME xmlns=NS> (and PRED(payload))."""
    def match(stanza):
        el = payload_of(stanza, ns, name)
        return (el is not None and stanza.get("from") == COMPONENT
                and (pred is None or pred(el)))
    return match


def live_post(post_id=None, total=None):
    """Predicate: livePostChanged (about POST_ID, with TOTAL viewers when given)."""
    def pred(el):
        lp = el.find(P("livepost"))
        return ((post_id is None or lp.get("id") == post_id)
                and (total is None or lp.findtext(P("totalViewers")) == str(total)))
    return headline(NS_POST, "livePostChanged", pred)


def active_posts(ids=None):
    """Predicate: activePostsChanged (listing exactly IDS, in order, when given)."""
    def pred(el):
        return ids is None or [p.get("id") for p in el.findall(P("post"))] == list(ids)
    return headline(NS_POST, "activePostsChanged", pred)


def hotness(value=None):
    return headline(NS_HOTNESS, "hotness",
                    lambda el: value is None or el.get("value") == value)


def schema_check(el):
    """None when EL (a payload element) is valid against its namespace's schema, else
    xmllint's complaint."""
    ns = el.tag[1:].split("}", 1)[0]
    xsd = os.path.join(harness.SRCDIR, "schema", SCHEMAS[ns])
    r = subprocess.run([XMLLINT, "--noout", "--schema", xsd, "-"], input=harness.tostring(el),
                       capture_output=True, text=True, timeout=30)
    return None if r.returncode == 0 else r.stderr + harness.tostring(el)


class PushWorld:
    """PostgreSQL, an XMPP server and hippod; users get fresh logins so that tests sharing
    a stack never see each other's notifications."""

    def __init__(self, name, server="prosody", config=None):
        self.stack = harness.Stack(name)
        try:
            self.pg = self.stack.postgres()
            self.server = getattr(self.stack, server)()
            self.hippod = self.stack.hippod(server=self.server, pg=self.pg, config=config)
            self.hippod.wait_health(200, timeout=20)
        except BaseException:
            self.stack.close()
            raise

    def ctl(self, *args):
        return self.pg.hippoctl(*args)

    def user(self, base):
        """A new user BASE<n>@example.test (password pw), known to both servers; returns
        (login, guid)."""
        login = f"{base}{next(_logins)}"
        self.server.register(login, "pw")
        return login, self.ctl("user", "add", "--jid", f"{login}@{harness.DOMAIN}", "--name",
                               base.capitalize())

    def client(self, login):
        return self.stack.client(self.server, login, "pw")

    def post(self, poster, *to, title="A good read"):
        args = ["post", "create", "--poster", poster, "--href", "http://example.com/",
                "--title", title]
        for t in to:
            args += ["--to", t]
        return self.ctl(*args)

    def outbox(self, kind=None):
        where = f" WHERE kind = '{kind}'" if kind else ""
        return int(self.pg.psql(f"SELECT count(*) FROM hippo.outbox{where}"))

    def wait_outbox_empty(self, kind=None, timeout=10):
        deadline = time.monotonic() + timeout
        while self.outbox(kind) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.outbox(kind)

    def close(self):
        """Stops everything; hippod must exit cleanly (0: no leak or sanitizer report)."""
        try:
            rc = self.hippod.stop() if self.hippod.running() else 0
            assert rc == 0, f"hippod exited {rc}:\n" + self.hippod.log_tail()
        finally:
            self.stack.close()


class Case(unittest.TestCase):
    """One PushWorld per class."""

    CONFIG = {"push": {"live_post_interval_ms": 1000}}

    @classmethod
    def setUpClass(cls):
        cls.w = PushWorld(cls.__name__, config=cls.CONFIG)

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def clients(self, *logins):
        out = [self.w.client(login) for login in logins]
        self.addCleanup(lambda: [c.close() for c in out])
        return out

    def assert_valid(self, el):
        self.assertIsNone(schema_check(el))


class LivePostChanged(Case):
    def test_views_reach_poster_and_receivers_not_the_viewer(self):
        w = self.w
        (alice, a), (bob, b), (carol, c), (dave, d) = (w.user(n) for n in
                                                       ("alice", "bob", "carol", "dave"))
        group = w.ctl("group", "add", "--name", "Friends")
        w.ctl("group", "member", "add", group, d)
        post = w.post(a, b, c, group)
        w.ctl("post", "ignore", post, c)  # carol's own flags differ from the others'
        ac, bc, cc, dc = self.clients(alice, bob, carol, dave)

        w.ctl("view", "record", post, b)
        for client, ignored in ((ac, "false"), (cc, "true"), (dc, "false")):
            msg = client.wait_for(live_post(post, total=1), timeout=10)
            el = payload_of(msg, NS_POST, "livePostChanged")
            self.assert_valid(el)
            self.assertEqual(msg.get("to"), client.bare_jid)
            self.assertEqual([harness.local_name(x) for x in el][-2:], ["post", "livepost"])
            self.assertIsNone(msg.find("{jabber:client}body"))
            lp = el.find(P("livepost"))
            self.assertEqual([v.get("id") for v in lp.find(P("recentViewers"))], [b])
            self.assertEqual(lp.findtext(P("chattingUserCount")), "0")
            self.assertEqual(lp.findtext(P("viewingUserCount")), "0")
            p = el.find(P("post"))
            self.assertEqual(p.get("id"), post)
            self.assertEqual(p.findtext(P("ignored")), ignored, client.bare_jid)
            # the recent viewer and the referenced entities are there
            users = {u.get("id") for u in el.findall(P("user"))}
            self.assertTrue({a, b, c}.issubset(users), users)
            self.assertEqual([g.get("id") for g in el.findall(P("group"))], [group])
        bc.assert_silent(live_post(post), timeout=1.5)  # the viewer knows
        self.assertEqual(w.wait_outbox_empty("live_post"), 0)

    def test_a_burst_of_views_is_coalesced_and_ends_with_the_latest_numbers(self):
        w = self.w
        alice, a = w.user("alice")
        viewers = [w.user("viewer")[1] for _ in range(5)]
        post = w.post(a, *viewers)
        (ac,) = self.clients(alice)
        w.ctl("view", "record", post, viewers[0])
        ac.wait_for(live_post(post, total=1), timeout=10)  # the first at once
        t_first = time.monotonic()
        w.pg.psql("".join(f"SELECT hippo.record_view('{post}', '{v}');\n" for v in viewers[1:]))
        last = ac.wait_for(live_post(post), timeout=10)
        gap = time.monotonic() - t_first
        self.assertGreater(gap, 0.7, "the next one waited for the interval")
        ac.assert_silent(live_post(post), timeout=2.0)  # one for the four later views
        lp = payload_of(last, NS_POST, "livePostChanged").find(P("livepost"))
        self.assertEqual(lp.findtext(P("totalViewers")), "5")
        self.assertEqual(len(lp.find(P("recentViewers"))), 5)
        self.assertEqual(w.wait_outbox_empty("live_post"), 0, "held events retired once sent")

    def test_interval_is_reloaded_on_sighup(self):
        w = self.w
        alice, a = w.user("alice")
        v1, v2 = w.user("viewer")[1], w.user("viewer")[1]
        post = w.post(a, v1, v2)
        (ac,) = self.clients(alice)
        h = w.hippod
        h.sections["push"] = {"live_post_interval_ms": 3000}
        h.write_config()
        mark = h.log_mark()
        h.signal(signal.SIGHUP)
        h.wait_log("configuration reloaded", since=mark)
        try:
            w.ctl("view", "record", post, v1)
            ac.wait_for(live_post(post, total=1), timeout=10)
            t_first = time.monotonic()
            w.ctl("view", "record", post, v2)
            ac.wait_for(live_post(post, total=2), timeout=10)
            self.assertGreater(time.monotonic() - t_first, 2.5)
        finally:
            h.sections["push"] = dict(self.CONFIG["push"])
            h.write_config()
            mark = h.log_mark()
            h.signal(signal.SIGHUP)
            h.wait_log("configuration reloaded", since=mark)


class ActivePostsChanged(Case):
    def test_room_chatters_make_a_post_active_and_leaving_ends_it(self):
        w = self.w
        (alice, a), (bob, b), (carol, c) = (w.user(n) for n in ("alice", "bob", "carol"))
        older = w.post(a, b, c, title="older")
        post = w.post(a, b, c, title="newer")
        ac, bc, cc = self.clients(alice, bob, carol)
        room = room_of(post)

        classic_join(ac, room, "participant")
        for client in (bc, cc):
            msg = client.wait_for(active_posts([post]), timeout=10)
            el = payload_of(msg, NS_POST, "activePostsChanged")
            self.assert_valid(el)
            lp = el.find(P("livepost"))
            self.assertEqual(lp.findtext(P("chattingUserCount")), "1")
            self.assertEqual(lp.findtext(P("viewingUserCount")), "0")
            self.assertEqual({u.get("id") for u in el.findall(P("user"))}, {a, b, c})
            # the chatting count changed too
            live = client.wait_for(live_post(post), timeout=10)
            self.assertEqual(payload_of(live, NS_POST, "livePostChanged")
                             .find(P("livepost")).findtext(P("chattingUserCount")), "1")
        ac.assert_silent(active_posts(), timeout=0.5)  # the poster did not receive it

        classic_join(bc, room_of(older), "visitor")  # a viewer only: after the chatted one
        msg = cc.wait_for(active_posts([post, older]), timeout=10)
        self.assert_valid(payload_of(msg, NS_POST, "activePostsChanged"))

        leave(ac, room)  # no chatter left: the viewed one only
        cc.wait_for(active_posts([older]), timeout=10)
        leave(bc, room_of(older))
        msg = cc.wait_for(active_posts([]), timeout=10)
        el = payload_of(msg, NS_POST, "activePostsChanged")
        self.assertEqual(len(el), 0, "nothing is active any more")
        self.assert_valid(el)
        self.assertEqual(w.pg.psql(f"SELECT cardinality(post_ids) FROM "
                                   f"hippo.push_active_posts_sent WHERE user_id = '{c}'"), "0")
        self.assertEqual(w.wait_outbox_empty(), 0)
        cc.assert_silent(active_posts(), timeout=1.0)  # no repeat of an unchanged set


class UserHeadlines(Case):
    def test_prefs_send_the_full_map_on_change_only(self):
        w = self.w
        bob, b = w.user("bob")
        (bc,) = self.clients(bob)
        w.ctl("pref", "set", b, "musicSharingEnabled", "false")
        msg = bc.wait_for(headline(NS_PREFS, "prefs"), timeout=10)
        el = payload_of(msg, NS_PREFS, "prefs")
        self.assert_valid(el)
        self.assertEqual({p.get("key"): p.text for p in el},
                         {"applicationUsageEnabled": "false", "musicSharingEnabled": "false",
                          "musicSharingPrimed": "false"})
        w.ctl("pref", "set", b, "musicSharingEnabled", "false")  # no change: no event
        # a key of the web application's own: hippoctl refuses keys clients do not know
        w.pg.psql(f"SELECT hippo.set_pref('{b}', 'x.colour', 'blue')")
        msg = bc.wait_for(headline(NS_PREFS, "prefs"), timeout=10)
        props = {p.get("key"): p.text for p in payload_of(msg, NS_PREFS, "prefs")}
        self.assertEqual(props["x.colour"], "blue")
        self.assertEqual(props["musicSharingEnabled"], "false")
        w.ctl("pref", "unset", b, "musicSharingEnabled")
        msg = bc.wait_for(headline(NS_PREFS, "prefs"), timeout=10)
        props = {p.get("key"): p.text for p in payload_of(msg, NS_PREFS, "prefs")}
        self.assertEqual(props["musicSharingEnabled"], "true")  # the default again
        bc.assert_silent(headline(NS_PREFS, "prefs"), timeout=1.0)

    def test_myspace_name_and_contact_comment(self):
        w = self.w
        (_, a), (bob, b) = w.user("alice"), w.user("bob")
        (bc,) = self.clients(bob)
        w.ctl("myspace", "set", b, "Bob Space")
        msg = bc.wait_for(headline(NS_MYSPACE, "mySpaceNameChanged"), timeout=10)
        el = payload_of(msg, NS_MYSPACE, "mySpaceNameChanged")
        self.assertEqual(el.get("name"), "Bob Space")
        self.assert_valid(el)

        w.ctl("contact", "add", a, b)
        self.assertEqual(w.ctl("myspace", "comment", a, "bob space"), "1")
        msg = bc.wait_for(headline(NS_MYSPACE, "mySpaceContactComment"), timeout=10)
        el = payload_of(msg, NS_MYSPACE, "mySpaceContactComment")
        self.assertEqual(len(el), 0)
        self.assertEqual(el.attrib, {})
        self.assert_valid(el)
        self.assertEqual(w.wait_outbox_empty(), 0)
        self.assertEqual(w.pg.psql("SELECT count(*) FROM hippo.pending_myspace_comment_notices"
                                   f" WHERE recipient_id = '{b}'"), "0", "deleted once sent")

        w.ctl("myspace", "set", b, "")
        msg = bc.wait_for(headline(NS_MYSPACE, "mySpaceNameChanged"), timeout=10)
        el = payload_of(msg, NS_MYSPACE, "mySpaceNameChanged")
        self.assertIsNone(el.get("name"), "cleared: no name attribute")
        self.assert_valid(el)
        bc.assert_silent(headline(NS_MYSPACE, "mySpaceContactComment"), timeout=0.5)

    def test_hotness_follows_received_and_viewed_posts(self):
        w = self.w
        (_, a), (bob, b) = w.user("alice"), w.user("bob")
        (bc,) = self.clients(bob)
        first = w.post(a, b)
        msg = bc.wait_for(hotness(), timeout=10)
        el = payload_of(msg, NS_HOTNESS, "hotness")
        self.assertEqual(el.get("value"), "COOL")  # one unviewed post
        self.assert_valid(el)
        w.ctl("view", "record", first, b)
        self.assertEqual(payload_of(bc.wait_for(hotness(), timeout=10), NS_HOTNESS,
                                    "hotness").get("value"), "COLD")
        for i in range(4):
            w.post(a, b, title=f"more {i}")
        bc.wait_for(hotness("WARM"), timeout=10)  # four unviewed posts
        self.assertEqual(w.pg.psql("SELECT value FROM hippo.push_hotness_sent"
                                   f" WHERE user_id = '{b}'"), "WARM")
        w.ctl("post", "ignore", first, b)  # already viewed: no change
        bc.assert_silent(hotness("WARM"), timeout=1.0)  # never the same value twice
        self.assertEqual(w.wait_outbox_empty(), 0)


if __name__ == "__main__":
    harness.main()
