#!/usr/bin/python3
"""The headline notifications do not get lost: events wait in the outbox while the XMPP
link is down and go out in order once it is back; livePostChanged events held for
coalescing survive a SIGKILL of hippod; events older than 7 days are expired unsent at
start while younger ones are sent, and a hotness gone stale with time is pushed; the key
notifications through ejabberd."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_push_notifications import (NS_HOTNESS, NS_MYSPACE, NS_POST, NS_PREFS,  # noqa: E402
                                     PushWorld, headline, hotness, live_post, payload_of,
                                     schema_check)


def new_post(post_id):
    def pred(el):
        p = el.find(f"{{{NS_POST}}}newPost/{{{NS_POST}}}post")
        return harness.local_name(el) == "message" and p is not None and p.get("id") == post_id
    return pred


class Lossless(unittest.TestCase):
    def world(self, **kw):
        w = PushWorld(self.id().rsplit(".", 1)[-1], **kw)
        self.addCleanup(w.close)
        return w

    def client(self, w, login):
        c = w.client(login)
        self.addCleanup(c.close)
        return c

    def test_headlines_wait_while_the_link_is_down_and_keep_their_order(self):
        w = self.world(config={"component": {"reconnect_max_ms": 500}})
        (_, a), (bob, b) = w.user("alice"), w.user("bob")
        bc = self.client(w, bob)  # online first: a headline to an offline user is dropped
        post = w.post(a, b)
        bc.wait_for(hotness("COOL"), timeout=10)
        self.assertEqual(w.wait_outbox_empty(), 0)
        bc.close()

        w.server.stop()
        w.hippod.wait_health(503)
        w.ctl("pref", "set", b, "musicSharingEnabled", "false")
        w.ctl("myspace", "set", b, "bobspace")
        w.ctl("view", "record", post, b)  # hotness back to COLD (and livePostChanged)
        time.sleep(0.5)
        waiting = w.pg.psql("SELECT kind FROM hippo.outbox ORDER BY id").split()
        self.assertEqual(waiting, ["prefs", "myspace_name", "live_post", "hotness"])

        w.hippod.signal(signal.SIGSTOP)  # bob must be online before the link is back
        try:
            w.server.start()
            bc = self.client(w, bob)
        finally:
            w.hippod.signal(signal.SIGCONT)
        w.hippod.wait_health(200, timeout=15)
        got = []
        for _ in range(3):
            msg = bc.wait_for(lambda e: e.get("type") == "headline", timeout=10)
            el = next(iter(msg))
            self.assertIsNone(schema_check(el))
            got.append(harness.local_name(el))
        self.assertEqual(got, ["prefs", "mySpaceNameChanged", "hotness"], "in event order")
        self.assertEqual(payload_of(msg, NS_HOTNESS, "hotness").get("value"), "COLD")
        self.assertEqual(w.wait_outbox_empty(), 0)

    def test_held_live_post_events_survive_sigkill(self):
        w = self.world(config={"push": {"live_post_interval_ms": 5000},
                               "component": {"reconnect_max_ms": 500}})
        alice, a = w.user("alice")
        viewers = [w.user("viewer")[1] for _ in range(3)]
        post = w.post(a, *viewers)
        ac = self.client(w, alice)
        w.ctl("view", "record", post, viewers[0])
        ac.wait_for(live_post(post, total=1), timeout=10)
        w.ctl("view", "record", post, viewers[1])
        w.ctl("view", "record", post, viewers[2])
        deadline = time.monotonic() + 5
        held = ("SELECT count(*) FROM hippo.outbox"
                " WHERE kind = 'live_post' AND claimed_pid IS NOT NULL")
        while w.pg.psql(held) != "2" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(w.pg.psql(held), "2", "held by hippod, not retired")
        w.hippod.kill()
        w.hippod.start()
        msg = ac.wait_for(live_post(post), timeout=15)
        lp = payload_of(msg, NS_POST, "livePostChanged").find(f"{{{NS_POST}}}livepost")
        self.assertEqual(lp.findtext(f"{{{NS_POST}}}totalViewers"), "3", "the latest numbers")
        self.assertEqual(w.wait_outbox_empty("live_post"), 0)
        ac.assert_silent(live_post(post), timeout=1.0)

    def test_old_events_expire_at_start_and_stale_hotness_cools(self):
        w = self.world()
        (_, a), (bob, b), (carol, c) = w.user("alice"), w.user("bob"), w.user("carol")
        cc = self.client(w, carol)
        for_carol = w.post(a, c)
        cc.wait_for(hotness("COOL"), timeout=10)
        self.assertEqual(w.wait_outbox_empty(), 0)
        self.assertEqual(w.hippod.stop(), 0)

        expired = w.post(a, b, title="expired")
        kept = w.post(a, b, title="kept")
        w.pg.psql(f"UPDATE hippo.outbox SET created_at = now() - interval '8 days'"
                  f" WHERE post_id = '{expired}';"
                  f"UPDATE hippo.outbox SET created_at = now() - interval '6 days'"
                  f" WHERE post_id = '{kept}';"
                  f"UPDATE hippo.posts SET created_at = now() - interval '2 hours'"
                  f" WHERE id = '{for_carol}'")  # carol's post no longer counts
        bc = self.client(w, bob)
        mark = w.hippod.log_mark()
        w.hippod.start()
        w.hippod.wait_log(r"deleted 3 outbox events older than 7 days unsent", since=mark)
        bc.wait_for(new_post(kept), timeout=10)
        msg = cc.wait_for(hotness(), timeout=10)
        self.assertEqual(payload_of(msg, NS_HOTNESS, "hotness").get("value"), "COLD")
        self.assertEqual(w.wait_outbox_empty(), 0)
        bc.assert_silent(new_post(expired), timeout=1.0)


class Ejabberd(unittest.TestCase):
    """The headlines through ejabberd (one stack for the class)."""

    @classmethod
    def setUpClass(cls):
        cls.w = PushWorld("push-ejabberd", server="ejabberd")

    @classmethod
    def tearDownClass(cls):
        cls.w.close()

    def test_live_post_prefs_and_myspace(self):
        w = self.w
        (alice, a), (bob, b) = w.user("alice"), w.user("bob")
        post = w.post(a, b)
        ac, bc = w.client(alice), w.client(bob)
        self.addCleanup(ac.close)
        self.addCleanup(bc.close)
        w.ctl("view", "record", post, b)
        msg = ac.wait_for(live_post(post, total=1), timeout=10)
        self.assertIsNone(schema_check(payload_of(msg, NS_POST, "livePostChanged")))
        w.ctl("pref", "set", b, "applicationUsageEnabled", "true")
        msg = bc.wait_for(headline(NS_PREFS, "prefs"), timeout=10)
        self.assertIn(("applicationUsageEnabled", "true"),
                      [(p.get("key"), p.text) for p in payload_of(msg, NS_PREFS, "prefs")])
        w.ctl("myspace", "set", b, "bobspace")
        msg = bc.wait_for(headline(NS_MYSPACE, "mySpaceNameChanged"), timeout=10)
        self.assertEqual(payload_of(msg, NS_MYSPACE, "mySpaceNameChanged").get("name"),
                         "bobspace")
        bc.assert_silent(live_post(post), timeout=1.0)
        self.assertEqual(w.wait_outbox_empty(), 0)


if __name__ == "__main__":
    harness.main()
