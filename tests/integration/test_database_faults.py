#!/usr/bin/python3
"""hippod and PostgreSQL faults: the database down at start, stopped and restarted while
hippod runs (healthz 503 then 200, protocol IQs answered with wait errors meanwhile, the
service IQs unaffected), and SIGHUP reloads, good and bad."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value  # noqa: E402
from test_component_link import COMPONENT, assert_served, error_of  # noqa: E402

PREFS = "<iq type='get' to='rooms.example.test'><prefs xmlns='http://dumbhippo.com/protocol/prefs'/></iq>"
PING = f"<iq type='get' to='{COMPONENT}'><ping xmlns='urn:xmpp:ping'/></iq>"


class DatabaseFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("db-faults")
        cls.pg = cls.stack.postgres()
        cls.server = cls.stack.prosody()
        cls.server.register("alice", "alicepw")
        cls.hippod = cls.stack.hippod(server=cls.server, pg=cls.pg,
                                      config={"component": {"reconnect_max_ms": "1000"}})
        harness.hippoctl("user", "add", "--jid", "alice@example.test", "--name", "Alice",
                         conninfo=cls.pg.conninfo)
        cls.hippod.wait_health(200, timeout=15)
        cls.alice = cls.stack.client(cls.server, "alice", "alicepw")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def test_1_postgres_restart(self):
        h, alice = self.hippod, self.alice
        assert_served(alice.iq(PREFS))
        self.pg.stop()
        body = h.wait_health(503, timeout=10)
        self.assertIn("database down", body)
        self.assertNotIn("password", body)
        reply = alice.iq(PREFS)
        self.assertEqual(error_of(reply), ("wait", "internal-server-error"))
        self.assertEqual(alice.iq(PING).get("type"), "result", "service IQs need no database")
        self.assertEqual(metric_value(h.metrics(), "hippod_db_up"), 0)
        self.pg.start()
        h.wait_health(200, timeout=10)
        assert_served(alice.iq(PREFS))
        self.assertGreaterEqual(metric_value(h.metrics(), "hippod_reconnects_total",
                                             {"target": "database"}), 1)
        self.assertGreaterEqual(metric_value(h.metrics(), "hippod_db_query_duration_seconds_count"),
                                2)
        self.assertTrue(h.running())

    def test_2_reload(self):
        h = self.hippod
        mark = h.log_mark()
        h.sections["log"]["level"] = "info"
        h.sections.setdefault("rooms", {})["max_body_bytes"] = "100"
        h.write_config()
        h.signal(signal.SIGHUP)
        h.wait_log(r"configuration reloaded", since=mark)
        mark = h.log_mark()
        h.sections["rooms"]["max_body_bytes"] = "not-a-number"
        h.write_config()
        h.signal(signal.SIGHUP)
        m = h.wait_log(r"reload failed, keeping the running configuration: (.*)", since=mark)
        self.assertIn(os.path.basename(h.config_path), m.group(1))
        self.assertIn("max_body_bytes", m.group(1))
        self.assertEqual(metric_value(h.metrics(), "hippod_config_errors_total",
                                      {"reason": "reload"}), 1)
        self.assertEqual(self.alice.iq(PING).get("type"), "result")
        h.wait_health(200)

    def test_3_database_absent_at_start(self):
        pg = self.stack.postgres()
        pg.stop()
        h = self.stack.hippod(server=None, pg=pg, migrate=False)
        body = h.wait_health(503, timeout=10)
        self.assertIn("database down", body)
        pg.start()
        h.run("--migrate", check=True)
        # the component is not connected (no server), but the database must come up
        body = None
        for _ in range(50):
            _, body = h.http_get("/healthz")
            if "database down" not in body:
                break
            time.sleep(0.2)
        self.assertNotIn("database down", body)
        self.assertIn("xmpp link down", body)
        self.assertEqual(metric_value(h.metrics(), "hippod_db_up"), 1)
        self.assertEqual(h.stop(), 0)


if __name__ == "__main__":
    harness.main()
