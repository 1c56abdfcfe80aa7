#!/usr/bin/python3
"""Login awareness through XEP-0356 (privileged entity, presence permission), through real
Prosody (mod_privilege from prosody-modules) and real ejabberd (built-in mod_privilege):
at a user's login hippod pushes hotness and activePostsChanged and records last_login_at;
a second resource is no login (the pushes are sent again, as the original did on every
session start); the last resource down records last_logout_at. Without the privilege
everything else works and /healthz?detail says "privilege": "none"."""

import json
import time
import unittest

import harness
from harness import match

NS_HOTNESS = "http://dumbhippo.com/protocol/hotness"
NS_POST = "http://dumbhippo.com/protocol/post"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
JID = "alice@example.test"
GRANTED = r"XEP-0356: example\.test granted the presence permission"
NOT_GRANTED = r"XEP-0356: no presence permission from the XMPP server: login awareness off"

# added to the global modules on the user host (Prosody merges the two lists)
PROSODY_VHOST = ('    modules_enabled = { "privilege" }\n'
                 '    privileged_entities = { ["rooms.example.test"] = '
                 '{ presence = "managed_entity"; }; }')
PROSODY_COMPONENT = '    modules_enabled = { "privilege" }'
# an access rule naming the component only (docs/deployment.md has the same with an acl)
EJABBERD_MODULE = ("mod_privilege: {presence: {managed_entity: "
                   "{allow: [{server: rooms.example.test}]}}}")


def hotness(el):
    return el.find(f"{{{NS_HOTNESS}}}hotness") is not None and el.get("type") == "headline"


def active_posts(el):
    return (el.find(f"{{{NS_POST}}}activePostsChanged") is not None
            and el.get("type") == "headline")


class Base(unittest.TestCase):
    def start(self, kind, privileged):
        self.stack = harness.Stack(f"login-{kind}")
        self.addCleanup(self.stack.close)
        self.pg = self.stack.postgres()
        if kind == "prosody":
            if privileged:
                self.srv = self.stack.prosody(vhost_config=PROSODY_VHOST,
                                              component_config=PROSODY_COMPONENT)
            else:
                self.srv = self.stack.prosody()
        else:
            self.srv = self.stack.ejabberd(extra_modules=EJABBERD_MODULE if privileged else "")
        self.srv.register("alice", "alicepw")
        self.srv.register("bob", "bobpw")
        self.h = self.stack.hippod(server=self.srv, pg=self.pg)
        self.h.wait_health(200)
        self.uid = self.pg.psql(f"SELECT hippo.create_user('{JID}', 'Alice')")

    def times(self):
        """(last_login_at, last_logout_at) of alice, '' for NULL."""
        row = self.pg.psql("SELECT coalesce(last_login_at::text, ''), "
                           f"coalesce(last_logout_at::text, '') FROM hippo.users "
                           f"WHERE id = '{self.uid}'")
        return tuple(row.split("|"))

    def wait_times(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            t = self.times()
            if pred(t):
                return t
            if time.monotonic() > deadline:
                raise AssertionError(f"alice's times stayed {t}\n" + self.h.log_tail())
            time.sleep(0.05)

    def detail(self):
        status, body = self.h.http_get("/healthz?detail")
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def leave(self, client):
        # RFC 6121 4.5.1: a client SHOULD send unavailable before it closes the stream;
        # ejabberd 23.01 forwards only what the client sends (docs/push.md "Login")
        client.send("<presence type='unavailable'/>")
        client.close()


class Privileged:
    """The scenario with the presence permission granted (mixed into one class per server)."""

    kind = None

    def setUp(self):
        self.start(self.kind, privileged=True)
        self.h.wait_log(GRANTED)
        # the window for the server's resend of open sessions closes at its ping answer
        self.h.wait_log(r"login awareness: 0 users online when the stream started "
                        r"\(the server answered the ping\)")

    def test_login_pushes_and_times(self):
        self.assertEqual(self.detail()["privilege"], "presence")
        self.assertEqual(self.times(), ("", ""))
        c1 = self.stack.client(self.srv, "alice", "alicepw", resource="one")
        c1.wait_for(hotness, timeout=10)
        c1.wait_for(active_posts, timeout=10)
        login, logout = self.wait_times(lambda t: t[0] != "")
        self.assertEqual(logout, "")
        self.assertEqual(self.pg.psql(f"SELECT online FROM hippo.user_sessions "
                                      f"WHERE user_id = '{self.uid}'"), "t")

        # a second resource: no login, but its session gets both pushes too
        c2 = self.stack.client(self.srv, "alice", "alicepw", resource="two")
        c2.wait_for(hotness, timeout=10)
        c2.wait_for(active_posts, timeout=10)
        self.h.wait_log(r"new session of alice@example\.test recorded")
        self.assertEqual(self.times(), (login, ""))

        # the first resource down is no logout; the last one is
        self.leave(c1)
        time.sleep(1.0)
        self.assertEqual(self.times(), (login, ""))
        self.leave(c2)
        _, logout = self.wait_times(lambda t: t[1] != "")
        self.assertEqual(self.times()[0], login)
        self.assertGreater(logout, login)
        self.assertEqual(self.pg.psql(f"SELECT online FROM hippo.user_sessions "
                                      f"WHERE user_id = '{self.uid}'"), "f")
        self.assertEqual(self.h.log_text().count("logout of alice@example.test recorded"), 1)

        shown = json.loads(self.pg.hippoctl("user", "show", JID, "--json"))
        self.assertEqual((shown["last_login_at"] is not None, shown["last_logout_at"] is not None),
                         (True, True))
        text = self.pg.hippoctl("user", "show", JID)
        self.assertRegex(text, r"last_login_at: \S")
        self.assertRegex(text, r"last_logout_at: \S")

        # logging in again is a login again
        c3 = self.stack.client(self.srv, "alice", "alicepw", resource="one")
        c3.wait_for(hotness, timeout=10)
        c3.wait_for(active_posts, timeout=10)
        self.wait_times(lambda t: t[0] > logout)

    def test_user_without_hippo_account(self):
        # bob has an XMPP account but no hippo user: his presence changes nothing
        bob = self.stack.client(self.srv, "bob", "bobpw")
        self.h.wait_log(r"login of bob@example\.test, who is no user")
        bob.assert_silent(hotness, timeout=1.0)


class ProsodyPrivileged(Privileged, Base):
    kind = "prosody"

    def test_reconnect_rebuilds_online_set(self):
        """Prosody resends every open session's presence when the component connects
        (XEP-0356 7.1): after a hippod restart the users are known again (the last resource
        down is still a logout), a session that stayed open is no new login, and one that
        started while hippod was down is."""
        bob_id = self.pg.psql("SELECT hippo.create_user('bob@example.test', 'Bob')")
        c1 = self.stack.client(self.srv, "alice", "alicepw", resource="one")
        c1.wait_for(hotness, timeout=10)
        c2 = self.stack.client(self.srv, "alice", "alicepw", resource="two")
        c2.wait_for(hotness, timeout=10)
        login, _ = self.wait_times(lambda t: t[0] != "")
        self.h.wait_log(r"new session of alice@example\.test recorded")
        deadline = time.monotonic() + 10
        while self.pg.psql("SELECT count(*) FROM hippo.outbox") != "0":
            self.assertLess(time.monotonic(), deadline, "the outbox was not drained")
            time.sleep(0.05)
        time.sleep(0.3)
        for c in (c1, c2):  # what the second session's pushes left queued
            while True:
                try:
                    c.wait_for(lambda e: hotness(e) or active_posts(e), timeout=0)
                except TimeoutError:
                    break
        self.h.stop()
        bob = self.stack.client(self.srv, "bob", "bobpw")  # while hippod is down
        mark = self.h.log_mark()
        self.h.start()
        self.h.wait_log(GRANTED)
        self.h.wait_log(r"login awareness: 2 users online when the stream started "
                        r"\(the server answered the ping\)")
        self.h.wait_log(r"resumed session of alice@example\.test recorded")
        self.h.wait_log(r"resumed session of bob@example\.test recorded")
        # bob's session is new to the database: a login, with the pushes
        bob.wait_for(hotness, timeout=10)
        bob.wait_for(active_posts, timeout=10)
        self.assertNotEqual(self.pg.psql("SELECT coalesce(last_login_at::text, '') FROM "
                                         f"hippo.users WHERE id = '{bob_id}'"), "")
        # alice's stayed open: no login recorded, nothing pushed
        self.assertEqual(self.times(), (login, ""))
        c1.assert_silent(hotness, timeout=1.0)
        since = self.h.log_text()[mark:]
        self.assertNotIn("login of alice@example.test recorded", since)
        self.assertNotIn("new session of alice@example.test recorded", since)
        c1.close()  # Prosody forwards the unavailable it makes at the stream's end
        time.sleep(1.0)
        self.assertEqual(self.times(), (login, ""))
        c2.close()
        self.wait_times(lambda t: t[1] != "")


class EjabberdPrivileged(Privileged, Base):
    kind = "ejabberd"


class Unprivileged(Base):
    """No privilege configured: said once in the log and /healthz?detail, IQs answered as
    before, logins go unnoticed."""

    def check(self, kind):
        self.start(kind, privileged=False)
        self.h.wait_log(NOT_GRANTED, timeout=10)
        detail = self.detail()
        detail.pop("last_stanza_age_s")  # test_standby.py checks it
        self.assertEqual(detail, {"status": "ok", "reason": "", "xmpp": "up",
                                  "database": "up", "privilege": "none"})
        self.assertEqual(self.h.http_get("/healthz"), (200, "ok\n"))
        c = self.stack.client(self.srv, "alice", "alicepw")
        reply = c.iq(f"<iq type='get' to='rooms.example.test'><query xmlns='{NS_DISCO_INFO}'/>"
                     "</iq>")
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        reply = c.iq(f"<iq type='get' to='rooms.example.test'><hotness xmlns='{NS_HOTNESS}' "
                     "type='getValue'/></iq>")
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        c.assert_silent(lambda e: hotness(e) or active_posts(e), timeout=1.5)
        self.assertEqual(self.times(), ("", ""))
        # a user's directed presence to the service changes nothing either
        c.send("<presence to='rooms.example.test'/>")
        c.send("<presence to='rooms.example.test' type='unavailable'/>")
        deadline = time.monotonic() + 5
        while harness.metric_value(self.h.metrics(), "hippod_drops_total",
                                   {"reason": "presence-to-service"}) != 2:
            self.assertLess(time.monotonic(), deadline, self.h.metrics())
            time.sleep(0.05)
        self.assertEqual(self.times(), ("", ""))
        self.assertEqual(self.h.log_text().count("login awareness off"), 1)
        # a permission message can only come from a server: a user's is refused and counted
        before = harness.metric_value(self.h.metrics(), "hippod_errors_total",
                                      {"condition": "bad-request"}) or 0
        c.send("<message to='rooms.example.test' id='p1'>"
               "<privilege xmlns='urn:xmpp:privilege:2'>"
               "<perm access='presence' type='managed_entity'/></privilege></message>")
        err = c.wait_for(match("message", type="error", frm="rooms.example.test"),
                         timeout=5)
        self.assertIsNotNone(err.find("{jabber:client}error/"
                                      "{urn:ietf:params:xml:ns:xmpp-stanzas}bad-request"),
                             harness.tostring(err))
        self.h.wait_log(r"ignoring a permission message from alice@example\.test")
        self.assertEqual(harness.metric_value(self.h.metrics(), "hippod_errors_total",
                                              {"condition": "bad-request"}), before + 1)
        self.assertEqual(self.detail()["privilege"], "none")

    def test_prosody(self):
        self.check("prosody")

    def test_ejabberd(self):
        self.check("ejabberd")


if __name__ == "__main__":
    harness.main()
