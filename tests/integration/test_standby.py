#!/usr/bin/python3
"""An active and a standby hippod behind one Prosody (docs/deployment.md, "Several hippods").

Prosody allows one connection per component domain and refuses a second with a stream
<conflict/>. The hippod refused so is the standby: it says so once in its log, in /healthz
(200, "standby: ...") and its metrics, retries at [component] standby_retry_ms (1 s) instead
of the backoff, and serves within 2 s of the active one's death. /healthz?detail and
hippod_link_last_stanza_age_seconds tell how long ago the link last received a stanza."""
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STANDBY_LINE = (r"xmpp link: standby: another connection holds rooms\.example\.test "
                r"\(conflict\); trying again every 1000 ms")


def metric(h, name):
    return harness.metric_value(h.metrics(), name)


def ping_service(client, timeout=5):
    return client.iq(f"<iq type='get' to='{harness.COMPONENT_DOMAIN}'>"
                     "<ping xmlns='urn:xmpp:ping'/></iq>", timeout=timeout)


class Standby(unittest.TestCase):
    def test_standby_takes_over_when_the_active_dies(self):
        stack = harness.Stack("standby")
        self.addCleanup(stack.close)
        pg = stack.postgres()
        srv = stack.prosody()
        srv.register("alice", "pw")
        active = stack.hippod(server=srv, pg=pg)
        self.assertEqual(active.wait_health(200, timeout=20), "ok\n")
        spare = stack.hippod(server=srv, pg=pg, migrate=False)
        spare.wait_log(STANDBY_LINE, timeout=20)
        time.sleep(2.5)  # a few more refused attempts: logged once, not once per attempt
        notices = re.findall(r"^\S+ NOTICE xmpp link: standby: another", spare.log_text(), re.M)
        self.assertEqual(len(notices), 1, "the standby is not logged once (debug lines aside)")
        status, body = spare.http_get("/healthz")
        self.assertEqual(status, 200)
        self.assertTrue(body.startswith("standby: another connection holds"), body)
        status, body = spare.http_get("/healthz?detail")
        detail = json.loads(body)
        self.assertEqual((status, detail["status"], detail["xmpp"]), (200, "standby", "standby"))
        self.assertIsNone(detail["last_stanza_age_s"])
        self.assertEqual(metric(spare, "hippod_link_standby"), 1)
        self.assertEqual(metric(spare, "hippod_link_last_stanza_age_seconds"), -1)
        self.assertEqual(metric(active, "hippod_link_standby"), 0)

        alice = stack.client(srv, "alice", "pw")
        self.assertEqual(ping_service(alice).get("type"), "result")
        age = json.loads(active.http_get("/healthz?detail")[1])["last_stanza_age_s"]
        self.assertIsNotNone(age)
        self.assertGreaterEqual(age, 0)
        self.assertGreaterEqual(metric(active, "hippod_link_last_stanza_age_seconds"), 0)

        active.kill()
        killed = time.monotonic()
        while True:  # Prosody answers service-unavailable while no component is connected
            try:  # ... or nothing, for a ping it routed to the dead stream before noticing
                reply = ping_service(alice, timeout=0.5)
            except TimeoutError:
                reply = None
            if reply is not None and reply.get("type") == "result":
                break
            self.assertLess(time.monotonic() - killed, 10,
                            harness.tostring(reply) if reply is not None else "no answer")
            time.sleep(0.05)
        took = time.monotonic() - killed
        self.assertLess(took, 2.0, "the standby took over too late")
        self.assertEqual(spare.wait_health(200), "ok\n")
        spare.wait_log(r"xmpp link up: .* \(standby no more: taking over\)")
        self.assertEqual(metric(spare, "hippod_link_standby"), 0)
        print(f"standby served {took * 1000:.0f} ms after the active hippod was killed",
              file=sys.stderr)


if __name__ == "__main__":
    harness.main()
