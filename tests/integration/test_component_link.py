#!/usr/bin/python3
"""The component link through real Prosody and real ejabberd: connect, the service IQs
(disco, ping, version), error replies for everything else, reconnects after a server restart,
a wrong secret, and a clean stop."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import match, metric_value  # noqa: E402

NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_INFO = "http://jabber.org/protocol/disco#info"
NS_ITEMS = "http://jabber.org/protocol/disco#items"
COMPONENT = "rooms.example.test"


def error_of(iq):
    """(type, condition) of an error stanza."""
    err = iq.find("error")
    if err is None:
        err = iq.find("{jabber:client}error")
    assert err is not None, harness.tostring(iq)
    conds = [harness.local_name(c) for c in err if c.tag.startswith("{" + NS_STANZAS)
             and harness.local_name(c) != "text"]
    return err.get("type"), conds[0] if conds else None


def assert_served(reply):
    """The request reached its protocol area: a result, or an error that is not about the
    sender (auth) or the database (wait)."""
    if reply.get("type") == "error":
        etype, condition = error_of(reply)
        assert etype not in ("wait", "auth"), harness.tostring(reply)


class ServiceIqs:
    """Mixed into one TestCase per XMPP server kind."""

    SERVER = None

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(f"link-{cls.SERVER}")
        cls.pg = cls.stack.postgres()
        cls.server = getattr(cls.stack, cls.SERVER)()
        cls.server.register("alice", "alicepw")
        cls.hippod = cls.stack.hippod(server=cls.server, pg=cls.pg)
        cls.hippod.wait_health(200, timeout=15)
        cls.alice = cls.stack.client(cls.server, "alice", "alicepw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def iq(self, payload, type="get", to=COMPONENT):
        return self.alice.iq(f"<iq type='{type}' to='{to}'>{payload}</iq>")

    def assert_error(self, reply, etype, condition):
        self.assertEqual(reply.get("type"), "error", harness.tostring(reply))
        self.assertEqual(error_of(reply), (etype, condition))

    def test_disco_info_names_identity_and_features(self):
        reply = self.iq(f"<query xmlns='{NS_INFO}'/>")
        self.assertEqual(reply.get("type"), "result", harness.tostring(reply))
        self.assertEqual(reply.get("from"), COMPONENT)
        query = reply.find(f"{{{NS_INFO}}}query")
        ident = query.find(f"{{{NS_INFO}}}identity")
        self.assertEqual((ident.get("category"), ident.get("type")), ("conference", "text"))
        features = {f.get("var") for f in query.findall(f"{{{NS_INFO}}}feature")}
        self.assertEqual(features, {NS_INFO, NS_ITEMS, "urn:xmpp:ping", "jabber:iq:version",
                                    "http://jabber.org/protocol/rsm"})

    def test_disco_items_is_empty_for_a_stranger(self):
        """alice is no hippo user: no rooms (test_room_discovery.py lists a user's rooms)."""
        reply = self.iq(f"<query xmlns='{NS_ITEMS}'/>")
        self.assertEqual(reply.get("type"), "result")
        self.assertEqual(list(reply.find(f"{{{NS_ITEMS}}}query")), [])

    def test_disco_info_unknown_node(self):
        self.assert_error(self.iq(f"<query xmlns='{NS_INFO}' node='x'/>"), "cancel",
                          "item-not-found")

    def test_ping(self):
        reply = self.iq("<ping xmlns='urn:xmpp:ping'/>")
        self.assertEqual(reply.get("type"), "result")
        self.assertEqual(reply.get("from"), COMPONENT)

    def test_version(self):
        reply = self.iq("<query xmlns='jabber:iq:version'/>")
        q = reply.find("{jabber:iq:version}query")
        self.assertEqual(q.findtext("{jabber:iq:version}name"), "hippod")
        self.assertRegex(q.findtext("{jabber:iq:version}version"), r"^\d+\.\d+")

    def test_unknown_namespace_is_service_unavailable(self):
        self.assert_error(self.iq("<query xmlns='urn:example:nothing'/>"), "cancel",
                          "service-unavailable")

    def test_set_on_a_get_only_namespace(self):
        self.assert_error(self.iq(f"<query xmlns='{NS_INFO}'/>", type="set"), "cancel",
                          "service-unavailable")

    def test_iq_with_two_payloads_is_bad_request(self):
        self.assert_error(self.iq("<ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/>"),
                          "modify", "bad-request")

    def test_iq_without_payload_is_bad_request(self):
        self.assert_error(self.iq(""), "modify", "bad-request")

    def test_iq_to_unknown_room(self):
        self.assert_error(self.iq("<ping xmlns='urn:xmpp:ping'/>", to=f"nothing@{COMPONENT}"),
                          "cancel", "item-not-found")

    def test_message_to_service_and_room_get_errors(self):
        self.alice.send(f"<message to='{COMPONENT}' id='m1'><body>hi</body></message>")
        reply = self.alice.wait_for(match(name="message", id="m1"))
        self.assert_error(reply, "cancel", "service-unavailable")
        self.alice.send(f"<message to='nothing@{COMPONENT}' id='m2'><body>hi</body></message>")
        reply = self.alice.wait_for(match(name="message", id="m2"))
        self.assert_error(reply, "cancel", "item-not-found")

    def test_result_and_error_iqs_are_never_answered(self):
        before = metric_value(self.hippod.metrics(), "hippod_drops_total",
                              {"reason": "unexpected-result"}) or 0
        self.alice.send(f"<iq type='result' id='r1' to='{COMPONENT}'/>")
        self.alice.send(f"<iq type='error' id='r2' to='{COMPONENT}'><error type='cancel'>"
                        f"<item-not-found xmlns='{NS_STANZAS}'/></error></iq>")
        self.alice.assert_silent(lambda e: e.get("id") in ("r1", "r2"), timeout=1.0)
        after = metric_value(self.hippod.metrics(), "hippod_drops_total",
                             {"reason": "unexpected-result"})
        self.assertEqual(after, before + 1)

    def test_protocol_iq_needs_a_known_user(self):
        ns = "http://dumbhippo.com/protocol/prefs"
        self.assert_error(self.iq(f"<prefs xmlns='{ns}'/>"), "auth", "registration-required")
        harness.hippoctl("user", "add", "--jid", "alice@example.test", "--name", "Alice",
                         conninfo=self.pg.conninfo)
        assert_served(self.iq(f"<prefs xmlns='{ns}'/>"))

    def test_unknown_protocol_namespace(self):
        self.assert_error(self.iq("<x xmlns='http://dumbhippo.com/protocol/nothing'/>"), "cancel",
                          "feature-not-implemented")

    def test_metrics_count_stanzas_and_errors(self):
        self.iq("<query xmlns='urn:example:counted'/>")
        text = self.hippod.metrics()
        self.assertGreaterEqual(metric_value(text, "hippod_stanzas_in_total", {"kind": "iq"}), 1)
        self.assertGreaterEqual(metric_value(text, "hippod_stanzas_out_total", {"kind": "iq"}), 1)
        self.assertGreaterEqual(
            metric_value(text, "hippod_errors_total", {"condition": "service-unavailable"}), 1)
        self.assertEqual(metric_value(text, "hippod_link_up"), 1)
        self.assertEqual(metric_value(text, "hippod_db_up"), 1)


class ProsodyServiceIqs(ServiceIqs, unittest.TestCase):
    SERVER = "prosody"


class EjabberdServiceIqs(ServiceIqs, unittest.TestCase):
    SERVER = "ejabberd"


class LinkFaults(unittest.TestCase):
    """Server down at start, restarts, wrong secret, clean stop."""

    def test_prosody_restart_reconnects_within_2s(self):
        with harness.Stack("link-restart") as stack:
            pg = stack.postgres()
            pro = stack.prosody()
            pro.register("bob", "bobpw")
            h = stack.hippod(server=pro, pg=pg,
                             config={"component": {"reconnect_max_ms": "1000"}})
            h.wait_health(200, timeout=15)
            pro.stop()
            body = h.wait_health(503, timeout=10)
            self.assertIn("xmpp link down", body)
            time.sleep(1.5)  # let the backoff grow a little
            pro.start()
            h.wait_health(200, timeout=2.0)
            bob = stack.client(pro, "bob", "bobpw")
            self.assertEqual(bob.iq(f"<iq type='get' to='{COMPONENT}'><ping "
                                    "xmlns='urn:xmpp:ping'/></iq>").get("type"), "result")
            self.assertGreaterEqual(metric_value(h.metrics(), "hippod_reconnects_total",
                                                 {"target": "xmpp"}), 1)
            self.assertEqual(h.stop(), 0)
            self.assertRegex(h.log_text(), r"xmpp link closed")

    def test_server_absent_at_start(self):
        with harness.Stack("link-absent") as stack:
            pg = stack.postgres()
            ej = stack.ejabberd()
            ej.stop()
            h = stack.hippod(server=ej, pg=pg, config={"component": {"reconnect_max_ms": "1000"}})
            h.wait_log(r"xmpp link down: ", timeout=10)
            # nothing listens: the operator is told so, not sent looking for a wrong secret
            status, body = h.http_get("/healthz")
            self.assertEqual(status, 503)
            self.assertRegex(body, r"xmpp link down: 127\.0\.0\.1:\d+: Connection refused")
            self.assertNotIn("secret", h.log_text())
            self.assertTrue(h.running())
            ej.start()
            h.wait_health(200, timeout=15)
            self.assertEqual(h.stop(), 0)

    def check_wrong_secret(self, kind):
        with harness.Stack(f"link-secret-{kind}") as stack:
            pg = stack.postgres()
            srv = getattr(stack, kind)()
            h = stack.hippod(server=srv, pg=pg, secret="not-the-secret",
                             config={"component": {"reconnect_max_ms": "300"}})
            h.wait_log(r"xmpp link down: ", timeout=10)
            deadline = time.time() + 15
            while time.time() < deadline:
                n = metric_value(h.metrics(), "hippod_reconnects_total", {"target": "xmpp"})
                if n and n >= 3:
                    break
                time.sleep(0.2)
            self.assertGreaterEqual(n, 3, "hippod retried")
            log = h.log_text()
            warnings = [l for l in log.splitlines() if " WARNING xmpp link down" in l]
            # one warning for the state change, the retries only at debug level
            self.assertEqual(len(warnings), 1, log)
            self.assertNotIn("not-the-secret", log)
            status, body = h.http_get("/healthz")
            self.assertEqual(status, 503)
            self.assertIn("xmpp link down", body)
            self.assertTrue(h.running())
            self.assertEqual(h.stop(), 0)

    def test_wrong_secret_prosody(self):
        self.check_wrong_secret("prosody")

    def test_wrong_secret_ejabberd(self):
        self.check_wrong_secret("ejabberd")


if __name__ == "__main__":
    harness.main()
