#!/usr/bin/python3
"""Smoke test of the hippod-alone benchmark (bench/alone.py, bench/load_alone), so that it
cannot rot: a few seconds with tiny numbers, checking what it reports (every injected
message committed and echoed to every occupant, no error), that the driver refuses a wrong
component secret, and that it reports hippod going away and exits non-zero. Figures are
not checked: a benchmark, not a timed test (docs/performance.md)."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.dirname(os.path.abspath(harness.HIPPOD))
DRIVER = os.path.join(BUILD, "bench", "load_alone")
sys.path.insert(0, os.path.join(REPO, "bench"))
from alone import hippod_config  # noqa: E402
from run import populate_hippo  # noqa: E402

ROOMS, OCCUPANTS = 2, 3


class BenchAlone(unittest.TestCase):
    def test_every_message_committed_and_echoed_to_every_occupant(self):
        out = os.path.join(harness.tmp_base(), f"alone-{os.getpid()}.json")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        r = subprocess.run(
            ["/usr/bin/python3", os.path.join(REPO, "bench", "alone.py"), "--build", BUILD,
             "--unsafe-fast-db", "--rooms", str(ROOMS), "--occupants", str(OCCUPANTS),
             "--rate", "100", "--in-flight", "8", "--warmup", "0.5", "--duration", "1.5",
             "--out", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out) as f:
            runs = json.load(f)["runs"]
        self.assertEqual([(x["mode"]) for x in runs], ["open", "closed"])
        for x in runs:
            with self.subTest(mode=x["mode"]):
                self.assertEqual(x["exit_code"], 0, x)
                self.assertTrue(x["link_up"] and not x["link_lost"])
                self.assertEqual(x["joined"], ROOMS * OCCUPANTS)
                self.assertGreater(x["db_committed_total"], 0)
                self.assertGreater(x["db_committed_window"], 0)
                self.assertEqual(x["db_committed_total"], x["sent_total"])
                self.assertEqual(x["echoed_total"], x["sent_total"])
                self.assertEqual(x["echoes_total"], x["sent_total"] * OCCUPANTS)
                self.assertEqual((x["msg_errors"], x["lost"], x["dups"], x["unknown_ids"]),
                                 (0, 0, 0, 0))
                self.assertGreater(x["latency_ms"]["n"], 0)
                self.assertEqual(sorted(x["watch"]), ["hippod", "postgres"])

    def _stack_and_driver(self, stack, secret, *args):
        """A hippod with component secret 'right' and the driver listening with SECRET."""
        pg = stack.postgres()
        port = stack.free_port()
        h = stack.hippod(server=None, pg=pg, config=hippod_config(port), secret="right",
                         start=False)
        rooms_file, _ = populate_hippo(stack, pg, ROOMS, OCCUPANTS)
        h.start()
        drv = subprocess.Popen(
            [DRIVER, "--port", str(port), "--secret", secret, "--rooms", str(ROOMS),
             "--occupants", str(OCCUPANTS), "--rooms-file", rooms_file, "--timeout", "20",
             "--quiet", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: drv.poll() is None and drv.kill())
        return h, drv

    @staticmethod
    def _result(out):
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        return json.loads(lines[-1][len("RESULT "):])

    def test_wrong_secret_is_refused(self):
        with harness.Stack("alone-secret") as stack:
            h, drv = self._stack_and_driver(stack, "wrong", "--rate", "10")
            out, _ = drv.communicate(timeout=30)
            self.assertEqual(drv.returncode, 2, out)
            res = self._result(out)
            self.assertFalse(res["link_up"])
            self.assertIn("does not match the secret", res["first_error"])
            h.wait_log("rejected the component secret", timeout=10, since=0)

    def test_hippod_going_away_is_reported(self):
        with harness.Stack("alone-gone") as stack:
            h, drv = self._stack_and_driver(stack, "right", "--rate", "50", "--warmup", "1",
                                            "--duration", "30")
            time.sleep(3)  # the link, the joins (~0.1 s), 1 s of warm-up, then sending
            h.kill()
            out, _ = drv.communicate(timeout=20)  # at once, not after the 30 s window
            self.assertEqual(drv.returncode, 2, out)
            res = self._result(out)
            self.assertTrue(res["link_up"] and res["link_lost"], res)
            # a SIGKILL closes the socket with FIN, or RST when hippod left input unread
            self.assertRegex(res["first_error"], r"^link: .*(closed the connection|reset by peer)")
            self.assertGreater(res["sent_total"], 0)


if __name__ == "__main__":
    harness.main()
