#!/usr/bin/python3
"""The route for unmodified Mugshot clients, through real Prosody and real ejabberd: the
original clients send every protocol IQ to admin@<domain>, and contrib/prosody/
mod_hippo_admin.lua and contrib/ejabberd/mod_hippo_admin.erl (built here with erlc against
the installed ejabberd) carry them to hippod and its answers back.

Per server, set up as docs/deployment.md says: a client logging in as the original ones did
(jabber:iq:auth, password in the clear, no TLS) gets its first IQs to admin@ answered;
clientInfo, prefs and recentPosts to admin@ are answered with hippod's payload
(the same as asked at the component directly), `from` admin@<domain> (bare: the clients
match answers on it) and the request's id; hippod's errors come back the same way; a
non-protocol IQ (disco#info) to admin@ stays with the server and never reaches hippod;
with hippod stopped the client gets an error from admin@, not silence; and without the
module the server answers admin@ itself with an error (why the module is needed); the
module's component option is required (ejabberd refuses the configuration, Prosody's module
logs it and routes nothing)."""
import glob
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402

COMPONENT = harness.COMPONENT_DOMAIN
ADMIN = "admin@" + harness.DOMAIN
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
P = "http://dumbhippo.com/protocol/"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
CONTRIB = os.path.join(harness.SRCDIR, "contrib")
CLIENTS = {'client "windows"': {"minimum": "1.1.50", "current": "1.1.60",
                                "download": "http://example.test/get/windows"}}
# The three IQs every original client sends first (original-behaviour.md §3).
PROTOCOL_IQS = {
    "clientInfo": f"<clientInfo xmlns='{P}clientinfo' platform='windows'/>",
    "prefs": f"<prefs xmlns='{P}prefs'/>",
    "recentPosts": f"<recentPosts xmlns='{P}post'/>",
}


def error_of(iq):
    """(type, condition) of an error stanza."""
    err = iq.find("{jabber:client}error")
    assert err is not None, harness.tostring(iq)
    conds = [harness.local_name(c) for c in err
             if c.tag.startswith("{" + NS_STANZAS) and harness.local_name(c) != "text"]
    return err.get("type"), conds[0] if conds else None


def build_ejabberd_module():
    """contrib/ejabberd/mod_hippo_admin.erl compiled against the installed ejabberd and
    xmpp library, into a temp dir (never the source tree); returns the .beam path."""
    out = tempfile.mkdtemp(prefix="hippo-admin-ebin-", dir=harness.tmp_base())
    os.chmod(out, 0o755)
    # Debian: the xmpp library is /usr/lib/erlang/lib/p1_xmpp-VERSION, ejabberd's beams
    # (for the gen_mod behaviour's callback check) /usr/lib/ARCH/ejabberd-VERSION/ebin.
    argv = ["erlc", "-Werror", "-o", out]
    for inc in glob.glob("/usr/lib/erlang/lib/p1_xmpp-*/include"):
        argv += ["-I", inc]
    for ebin in glob.glob("/usr/lib/*/ejabberd-*/ebin"):
        argv += ["-pa", ebin]
    harness.run(argv + [os.path.join(CONTRIB, "ejabberd", "mod_hippo_admin.erl")])
    return os.path.join(out, "mod_hippo_admin.beam")


def start_server(stack, kind, module=True):
    """A private KIND server, set up as deployment.md says for the original clients
    (legacy auth on; plain passwords without TLS are the harness's default), with
    mod_hippo_admin on example.test when MODULE."""
    if kind == "prosody":
        vhost = 'modules_enabled = { "legacyauth" }\n'
        if module:
            vhost = (f'modules_enabled = {{ "legacyauth"; "hippo_admin" }}\n'
                     f'hippo_component = "{COMPONENT}"\n')
        return stack.prosody(extra_config=f'plugin_paths = {{ "{CONTRIB}/prosody" }}\n',
                             vhost_config=vhost)
    if not module:
        return stack.ejabberd(extra_modules="mod_legacy_auth: {}")
    beam = build_ejabberd_module()
    try:
        return stack.ejabberd(extra_modules="mod_legacy_auth: {}, mod_hippo_admin: "
                              f"{{component: {COMPONENT}}}",
                              contrib_modules={"mod_hippo_admin": [beam]})
    finally:
        os.unlink(beam)
        os.rmdir(os.path.dirname(beam))


class LegacyClient(harness.Client):
    """A client that logs in as the original ones did: a stream without version='1.0' (no
    stream features, no SASL), then jabber:iq:auth (XEP-0078) with the password in the
    clear over a connection without TLS."""

    def _open_stream(self):
        self._new_parser()
        self._early = []
        self._sock.sendall(
            f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            f"xmlns:stream='{harness.NS_STREAM}' to='{self.domain}'>".encode())

    def _login(self, user, password, resource, timeout):
        deadline = time.monotonic() + timeout
        self._open_stream()
        self._sock.sendall(b"<iq type='get' id='auth1'><query xmlns='jabber:iq:auth'>"
                           + f"<username>{user}</username></query></iq>".encode())
        fields = self._read_element(deadline)
        if fields.tag == f"{{{harness.NS_STREAM}}}features":
            # Prosody 0.12 sends features to a version-less stream too, legacy auth among
            # them; the old clients' libraries skip what they did not ask for.
            if fields.find("{http://jabber.org/features/iq-auth}auth") is None:
                raise PermissionError(f"no legacy auth offered: {harness.tostring(fields)}")
            fields = self._read_element(deadline)
        if fields.get("type") != "result":
            raise PermissionError(f"jabber:iq:auth get refused: {harness.tostring(fields)}")
        self._sock.sendall(
            f"<iq type='set' id='auth2'><query xmlns='jabber:iq:auth'><username>{user}"
            f"</username><password>{password}</password><resource>{resource}</resource>"
            "</query></iq>".encode())
        res = self._read_element(deadline)
        if res.get("type") != "result":
            raise PermissionError(f"jabber:iq:auth set refused: {harness.tostring(res)}")
        self.jid = f"{user}@{self.domain}/{resource}"


class AdminRoute:
    """Mixed into one TestCase per XMPP server kind."""

    SERVER = None

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(f"admin-{cls.SERVER}")
        try:
            cls.pg = cls.stack.postgres()
            cls.server = start_server(cls.stack, cls.SERVER)
            cls.hippod = cls.stack.hippod(server=cls.server, pg=cls.pg, config=CLIENTS)
            cls.server.register("alice", "alicepw")
            cls.pg.hippoctl("user", "add", "--jid", "alice@example.test", "--name", "Alice")
            cls.hippod.wait_health(200, timeout=15)
            cls.alice = cls.stack.client(cls.server, "alice", "alicepw")
        except BaseException:
            cls.stack.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def iqs_in(self):
        return metric_value(self.hippod.metrics(), "hippod_stanzas_in_total",
                            {"kind": "iq"}) or 0

    def ask(self, to, payload, type="get", iq_id=None):
        iq_id = iq_id or f"adm{time.monotonic_ns()}"
        reply = self.alice.iq(f"<iq type='{type}' id='{iq_id}' to='{to}'>{payload}</iq>")
        self.assertEqual(reply.get("id"), iq_id)
        self.assertEqual(reply.get("to"), self.alice.jid)
        return reply

    def test_protocol_iqs_answered_as_admin(self):
        for name, payload in PROTOCOL_IQS.items():
            with self.subTest(name):
                direct = self.ask(COMPONENT, payload)
                self.assertEqual(direct.get("type"), "result", harness.tostring(direct))
                # An id with characters a naive prefix/split could trip on.
                via_admin = self.ask(ADMIN, payload, iq_id=f"c:{name}:1")
                self.assertEqual(via_admin.get("type"), "result", harness.tostring(via_admin))
                self.assertEqual(via_admin.get("from"), ADMIN)
                self.assertEqual([harness.tostring(c) for c in via_admin],
                                 [harness.tostring(c) for c in direct])
                self.assertEqual(harness.local_name(via_admin[0]), name)
        # the direct route is untouched by the module
        self.assertEqual(self.ask(COMPONENT, PROTOCOL_IQS["prefs"]).get("from"), COMPONENT)

    def test_an_original_client_end_to_end(self):
        """Legacy auth without TLS, then the first IQs of an original client to admin@."""
        client = self.stack._add(LegacyClient(self.server, "alice", "alicepw", "machine-1"))
        for name, payload in PROTOCOL_IQS.items():
            reply = client.iq(f"<iq type='get' id='o-{name}' to='{ADMIN}'>{payload}</iq>")
            self.assertEqual((reply.get("type"), reply.get("from"), reply.get("id")),
                             ("result", ADMIN, f"o-{name}"), harness.tostring(reply))
            self.assertEqual(harness.local_name(reply[0]), name)
        client.close()

    def test_hippod_errors_come_back_from_admin(self):
        reply = self.ask(ADMIN, f"<clientInfo xmlns='{P}clientinfo'/>")  # no platform
        self.assertEqual(reply.get("type"), "error", harness.tostring(reply))
        self.assertEqual(reply.get("from"), ADMIN)
        self.assertEqual(error_of(reply), ("modify", "bad-request"))

    def messages_in(self):
        return metric_value(self.hippod.metrics(), "hippod_stanzas_in_total",
                            {"kind": "message"}) or 0

    def test_non_protocol_iq_is_not_forwarded(self):
        before = self.iqs_in()
        reply = self.ask(ADMIN, f"<query xmlns='{NS_DISCO_INFO}'/>")
        self.assertEqual(reply.get("from"), ADMIN)
        text = harness.tostring(reply)
        self.assertNotIn("hippod", text, "hippod answered a disco#info sent to admin@")
        # a protocol IQ afterwards is counted: the counter would have seen the disco too
        self.ask(ADMIN, PROTOCOL_IQS["prefs"])
        deadline = time.monotonic() + 5
        while self.iqs_in() < before + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.iqs_in(), before + 1, "only the protocol IQ reached hippod")

    def test_messages_to_admin_are_not_forwarded(self):
        """Only IQs are routed: the original clients never sent admin@ messages, and hippod
        has no use for them (the server stores or bounces them as for any account)."""
        before = self.messages_in()
        self.alice.send(f"<message to='{ADMIN}' type='normal' id='m1'>"
                        f"<body>hi</body><x xmlns='{P}post'/></message>")
        self.ask(COMPONENT, PROTOCOL_IQS["prefs"])  # a round trip after the message
        self.assertEqual(self.messages_in(), before)

    def test_without_the_module_the_server_answers_admin_itself(self):
        with harness.Stack(f"admin-none-{self.SERVER}") as stack:
            pg = stack.postgres()
            server = start_server(stack, self.SERVER, module=False)
            hippod = stack.hippod(server=server, pg=pg, config=CLIENTS)
            server.register("alice", "alicepw")
            pg.hippoctl("user", "add", "--jid", "alice@example.test", "--name", "Alice")
            hippod.wait_health(200, timeout=15)
            alice = stack.client(server, "alice", "alicepw")
            reply = alice.iq(f"<iq type='get' id='x1' to='{ADMIN}'>"
                             f"{PROTOCOL_IQS['clientInfo']}</iq>")
            self.assertEqual(reply.get("type"), "error", harness.tostring(reply))
            self.assertEqual(error_of(reply), ("cancel", "service-unavailable"))
            # the component itself answers: only the address is missing
            direct = alice.iq(f"<iq type='get' to='{COMPONENT}'>"
                              f"{PROTOCOL_IQS['clientInfo']}</iq>")
            self.assertEqual(direct.get("type"), "result", harness.tostring(direct))

    def test_the_component_option_is_required(self):
        with harness.Stack(f"admin-noopt-{self.SERVER}") as stack:
            if self.SERVER == "prosody":
                server = stack.prosody(
                    extra_config=f'plugin_paths = {{ "{CONTRIB}/prosody" }}\n',
                    vhost_config='modules_enabled = { "hippo_admin" }\n')
                # the host's modules may load after the ports are open: wait for the line
                deadline = time.monotonic() + 10
                while ("hippo_component is not set" not in server.log_text()
                       and time.monotonic() < deadline):
                    time.sleep(0.05)
                self.assertIn("hippo_component is not set", server.log_text())
                server.register("alice", "alicepw")
                alice = stack.client(server, "alice", "alicepw")
                reply = alice.iq(f"<iq type='get' to='{ADMIN}'>{PROTOCOL_IQS['prefs']}</iq>")
                self.assertEqual(error_of(reply), ("cancel", "service-unavailable"))
            else:
                beam = build_ejabberd_module()
                try:
                    with self.assertRaisesRegex(RuntimeError, "Missing required option: component"):
                        stack.ejabberd(extra_modules="mod_hippo_admin: {}",
                                       contrib_modules={"mod_hippo_admin": [beam]})
                finally:
                    os.unlink(beam)
                    os.rmdir(os.path.dirname(beam))

    def test_zz_hippod_stopped_gives_an_error_from_admin(self):
        self.assertEqual(self.hippod.stop(), 0, self.hippod.log_tail())
        try:
            # ejabberd notices the component's stream end asynchronously: give it a moment
            # rather than racing the last route out.
            time.sleep(0.5)
            reply = self.ask(ADMIN, PROTOCOL_IQS["clientInfo"], iq_id="down1")
            self.assertEqual(reply.get("type"), "error", harness.tostring(reply))
            self.assertEqual(reply.get("from"), ADMIN)
            etype, cond = error_of(reply)
            self.assertIn(cond, self.DOWN_CONDITIONS, harness.tostring(reply))
        finally:
            self.hippod.start()


class Prosody(AdminRoute, unittest.TestCase):
    SERVER = "prosody"
    DOWN_CONDITIONS = ("remote-server-timeout",)  # "Component unavailable"


class Ejabberd(AdminRoute, unittest.TestCase):
    SERVER = "ejabberd"
    # No route for the component domain: ejabberd tries server-to-server delivery, which
    # the harness's s2s_access: none refuses (forbidden); with s2s allowed, the DNS lookup
    # fails (remote-server-not-found).
    DOWN_CONDITIONS = ("forbidden", "remote-server-not-found")


if __name__ == "__main__":
    harness.main()
