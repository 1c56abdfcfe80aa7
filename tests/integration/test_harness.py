#!/usr/bin/python3
"""Self-test of harness.py against real PostgreSQL, Prosody and ejabberd (no hippod needed:
the Hippod plumbing is exercised with a small stand-in program)."""

import os
import signal
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PING = "<iq type='get' to='example.test'><ping xmlns='urn:xmpp:ping'/></iq>"

# Stands in for hippod: reads the generated ini, serves /healthz (503 for the first 0.3 s,
# then 200) and /metrics, logs, exits 0 on SIGTERM.
FAKE_HIPPOD = textwrap.dedent("""\
    #!/usr/bin/python3
    import configparser, http.server, signal, sys, time
    args = sys.argv[1:]
    path = args[args.index("-c") + 1]
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(path)
    if "--migrate" in args:
        print("fake: migrated", cp["database"]["conninfo"], flush=True)
        sys.exit(0)
    born = time.monotonic()
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/healthz":
                ok = time.monotonic() - born > 0.3
                code, body = (200, "ok\\n") if ok else (503, "starting\\n")
            elif self.path == "/metrics":
                code, body = 200, "# TYPE fake_total counter\\nfake_total{kind=\\"x\\"} 3\\n"
            else:
                code, body = 404, "no\\n"
            self.send_response(code)
            self.end_headers()
            self.wfile.write(body.encode())
        def log_message(self, *a):
            pass
    def on_term(signum, frame):
        print("fake: stopping", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    srv = http.server.HTTPServer(("127.0.0.1", int(cp["http"]["port"])), H)
    print("fake: listening domain=%s max_body=%s" % (cp["component"]["domain"],
          cp["rooms"]["max_body_bytes"]), flush=True)
    srv.serve_forever()
""")


def ping_ok(test, client):
    r = client.iq(PING)
    test.assertEqual(harness.local_name(r), "iq")
    test.assertEqual(r.get("type"), "result", harness.tostring(r))
    test.assertEqual(r.get("from"), "example.test")


class SharedStack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("selftest")
        cls.pg = cls.stack.postgres()
        cls.pro = cls.stack.prosody(secret="s3cret")
        cls.ej = cls.stack.ejabberd(secret="s3cret")
        for srv in (cls.pro, cls.ej):
            srv.register("alice", "alicepw")
            srv.register("bob", "bobpw")

    @classmethod
    def tearDownClass(cls):
        pids = cls.stack.all_pids()
        d = cls.stack.dir
        cls.stack.close()
        left = [p for p in pids if harness.pid_alive(p)] + harness.processes_mentioning(d)
        if left:
            raise AssertionError(f"processes left behind: {left}")

    def test_postgres_psql_and_restart(self):
        pg = self.pg
        self.assertIn(f"port={pg.port} ", pg.conninfo)
        self.assertEqual(pg.psql("select current_user, current_database()"), "hippo|hippo")
        self.assertEqual(pg.psql("select rolsuper from pg_roles where rolname = current_user",
                                 admin=True), "t")
        pg.psql("create table t (x int); insert into t values (41), (1);")
        with self.assertRaises(harness.CommandError) as cm:
            pg.psql("select * from no_such_table")
        self.assertIn("no_such_table", str(cm.exception))
        old = pg.pid
        pg.restart()
        self.assertNotEqual(pg.pid, old)
        self.assertFalse(harness.pid_alive(old))
        self.assertEqual(pg.psql("select sum(x) from t"), "42")
        pg.stop()
        self.assertIsNone(pg.pid)
        with self.assertRaises(harness.CommandError):
            pg.psql("select 1")
        pg.start()
        self.assertEqual(pg.psql("select 1"), "1")

    def test_password_is_checked(self):
        bad = self.pg.conninfo.replace("password=hippo", "password=wrong")
        r = harness.run(["psql", "-X", "-d", bad, "-c", "select 1"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("password authentication failed", r.stderr)

    def test_servers_answer_ping(self):
        for srv in (self.pro, self.ej):
            with self.subTest(srv.kind):
                self.assertEqual(srv.domain, "example.test")
                self.assertEqual(srv.component_domain, "rooms.example.test")
                self.assertTrue(harness.pid_alive(srv.pid))
                c = self.stack.client(server=srv, user="alice", password="alicepw",
                                      resource="ping")
                self.assertEqual(c.jid, "alice@example.test/ping")
                ping_ok(self, c)
                c.close()

    def test_wait_for_keeps_unmatched_stanzas_queued(self):
        for srv in (self.pro, self.ej):
            with self.subTest(srv.kind):
                a = self.stack.client(server=srv, user="alice", password="alicepw")
                b = self.stack.client(server=srv, user="bob", password="bobpw")
                for i in range(3):
                    a.send(f"<message to='{b.jid}' type='chat'><body>m{i}</body></message>")
                body = "{jabber:client}body"
                second = b.wait_for(lambda e: e.findtext(body) == "m1")
                self.assertEqual(second.get("from"), a.jid)
                first = b.wait_for(harness.match(name="message", frm="alice@example.test"))
                self.assertEqual(first.findtext(body), "m0")
                third = b.wait_for(harness.match(name="message", type="chat"))
                self.assertEqual(third.findtext(body), "m2")
                with self.assertRaises(TimeoutError):
                    b.wait_for(harness.match(name="message"), timeout=0.3)
                bodies = [e.findtext(body) for e in b.received() if e.find(body) is not None]
                self.assertEqual(bodies, ["m0", "m1", "m2"])
                a.close()
                b.close()

    def test_iq_error_and_explicit_id(self):
        for srv in (self.pro, self.ej):
            with self.subTest(srv.kind):
                c = self.stack.client(server=srv, user="bob", password="bobpw")
                r = c.iq("<iq id='mine' type='get' to='example.test'>"
                         "<ping xmlns='urn:xmpp:ping'/></iq>")
                self.assertEqual((r.get("id"), r.get("type")), ("mine", "result"))
                # a namespace no server implements: must come back as an error
                r = c.iq("<iq type='get' to='example.test'><x xmlns='urn:hippo:none'/></iq>")
                self.assertEqual(r.get("type"), "error")
                self.assertIsNotNone(r.find("{jabber:client}error"))
                c.close()

    def test_malformed_xml_closes_stream(self):
        for srv in (self.pro, self.ej):
            with self.subTest(srv.kind):
                c = self.stack.client(server=srv, user="alice", password="alicepw")
                c.send("<message to='bob@example.test'><body>x</iq>")
                c.wait_closed(5)
                self.assertTrue(c.closed)
                self.assertIsNotNone(c.stream_error)
                with self.assertRaises(harness.StreamClosed):
                    c.wait_for(harness.match(name="message"), timeout=1)
                c.close()

    def test_wrong_password_is_refused(self):
        for srv in (self.pro, self.ej):
            with self.subTest(srv.kind):
                with self.assertRaises(PermissionError):
                    self.stack.client(server=srv, user="alice", password="nope")

    def test_hippod_plumbing_with_stand_in(self):
        fake = self.stack.path("fake-hippod")
        with open(fake, "w") as f:
            f.write(FAKE_HIPPOD)
        os.chmod(fake, 0o755)
        saved, harness.HIPPOD = harness.HIPPOD, fake
        try:
            h = self.stack.hippod(server=self.pro, pg=self.pg, migrate=False, start=False,
                                  config={"rooms": {"max_body_bytes": "100"},
                                          'client "linux"': {"current": "1.2"},
                                          "log": {"level": None}})
            with open(h.config_path) as f:
                ini = f.read()
            self.assertIn(f"port = {self.pro.component_port}\n", ini)
            self.assertIn("domain = rooms.example.test\n", ini)
            self.assertIn("secret = s3cret\n", ini)
            self.assertIn(f"conninfo = {self.pg.conninfo}\n", ini)
            self.assertIn(f"[http]\naddress = 127.0.0.1\nport = {h.http_port}\n", ini)
            self.assertIn('[client "linux"]\ncurrent = 1.2\n', ini)
            self.assertNotIn("level", ini)
            self.assertIn("fake: migrated host=127.0.0.1", h.migrate().stdout)
            h.start()
        finally:
            harness.HIPPOD = saved
        m = h.wait_log(r"listening domain=(\S+) max_body=(\d+)")
        self.assertEqual(m.groups(), ("rooms.example.test", "100"))
        self.assertEqual(h.wait_health(200, timeout=10), "ok\n")
        self.assertEqual(h.http_get("/nope"), (404, "no\n"))
        self.assertEqual(harness.metric_value(h.metrics(), "fake_total", {"kind": "x"}), 3.0)
        self.assertTrue(h.running())
        self.assertEqual(h.stop(), 0)
        self.assertFalse(h.running())
        self.assertIn("fake: stopping", h.log_text())
        with self.assertRaises(ConnectionError):
            h.http_get("/healthz")
        with self.assertRaises(TimeoutError):
            h.wait_log("never printed", timeout=0.2)
        saved, harness.HIPPOD = harness.HIPPOD, fake
        try:
            h.start()
            h.wait_log("listening")
            h.kill()
            self.assertEqual(h.returncode, -signal.SIGKILL)
        finally:
            harness.HIPPOD = saved


class Lifecycle(unittest.TestCase):
    def test_server_stop_start_and_no_process_left_after_exception(self):
        pids = []
        with self.assertRaises(RuntimeError):
            with harness.Stack("lifecycle") as stack:
                d = stack.dir
                self.assertEqual(os.stat(d).st_mode & 0o777, 0o755)
                pg = stack.postgres()
                pro = stack.prosody()
                ej = stack.ejabberd()
                self.assertNotEqual(pro.c2s_port, ej.c2s_port)
                for srv in (pro, ej):
                    srv.register("carol", "carolpw")
                    c = stack.client(server=srv, user="carol", password="carolpw")
                    old = srv.pid
                    old_pids = srv.pids()
                    srv.stop()
                    c.wait_closed(5)  # the server closed the stream on its way down
                    self.assertFalse(any(harness.pid_alive(p) for p in old_pids))
                    srv.start()
                    self.assertNotEqual(srv.pid, old)
                    c2 = stack.client(server=srv, user="carol", password="carolpw")
                    ping_ok(self, c2)  # the account survived the restart
                pids = stack.all_pids()
                self.assertGreater(len(harness.processes_mentioning(d)), 3)
                self.assertEqual(set(harness.processes_mentioning(d)) - set(pids), set())
                self.assertIn(pg.pid, pids)
                self.assertIn(pro.pid, pids)
                self.assertIn(ej.pid, pids)
                raise RuntimeError("leave the block the hard way")
        self.assertGreater(len(pids), 8)
        self.assertEqual([p for p in pids if harness.pid_alive(p)], [])
        self.assertEqual(harness.processes_mentioning(d), [])
        self.assertFalse(os.path.exists(d))

    def test_ejabberd_extra_modules(self):
        """A module added to ejabberd's map is loaded: mod_muc answers a join."""
        with harness.Stack("ejabberd-muc") as stack:
            ej = stack.ejabberd(extra_modules="mod_muc: {host: conference.example.test}")
            ej.register("carol", "carolpw")
            c = stack.client(server=ej, user="carol", password="carolpw")
            c.send("<presence to='room@conference.example.test/carol'>"
                   "<x xmlns='http://jabber.org/protocol/muc'/></presence>")
            own = c.wait_for(lambda e: harness.local_name(e) == "presence"
                             and e.get("from") == "room@conference.example.test/carol",
                             timeout=15)
            self.assertNotEqual(own.get("type"), "error", harness.tostring(own))

    def test_durable_postgres_is_on_disk_with_flushes_on(self):
        with harness.Stack("durable") as stack:
            pg = stack.postgres(durable=True)
            fast = stack.postgres()
            settings = "SELECT current_setting('fsync'), current_setting('full_page_writes'), " \
                       "current_setting('synchronous_commit')"
            self.assertEqual(pg.psql(settings, admin=True), "on|on|on")
            self.assertEqual(fast.psql(settings, admin=True), "off|off|off")
            fstype = harness.run(["stat", "-f", "-c", "%T", pg.data]).stdout.strip()
            self.assertNotIn(fstype, ("tmpfs", "ramfs"))
            self.assertFalse(pg.data.startswith(stack.dir))
            pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
            pg.stop(mode="immediate")
            pg.start()
            self.assertEqual(pg.psql("SELECT x FROM t"), "7")
            disk = os.path.dirname(pg.dir)
        self.assertFalse(os.path.exists(disk))


if __name__ == "__main__":
    harness.main()
