#!/usr/bin/python3
"""hippod under a (simulated) systemd: the notify protocol (READY, STATUS, WATCHDOG,
RELOADING, STOPPING) on a real $NOTIFY_SOCKET, and journald priority prefixes when
$JOURNAL_STREAM names stderr."""
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class NotifySocket:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        for m in self.messages:
            if predicate(m):
                self.messages.remove(m)
                return m
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                m = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            if predicate(m):
                return m
            self.messages.append(m)
        raise TimeoutError(f"no matching notify message; got {self.messages}")

    def close(self):
        self.sock.close()


class Systemd(unittest.TestCase):
    def test_notify_protocol_and_journald_prefixes(self):
        with harness.Stack("systemd") as stack:
            pg = stack.postgres()
            pro = stack.prosody()
            notify = NotifySocket(stack.path("notify.sock"))
            self.addCleanup(notify.close)
            h = stack.hippod(server=pro, pg=pg, start=False,
                             config={"component": {"reconnect_max_ms": "1000"}},
                             env={"NOTIFY_SOCKET": stack.path("notify.sock"),
                                  "WATCHDOG_USEC": "400000"})
            open(h.log_path, "ab").close()
            st = os.stat(h.log_path)
            h.env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
            h.start()

            notify.wait(lambda m: "READY=1" in m.split("\n"))
            notify.wait(lambda m: m.startswith("STATUS=xmpp: up; database: up"))
            for _ in range(3):  # every 200 ms: half the watchdog interval
                notify.wait(lambda m: m == "WATCHDOG=1", timeout=2)

            h.signal(signal.SIGHUP)
            reloading = notify.wait(lambda m: m.startswith("RELOADING=1"))
            self.assertRegex(reloading, r"\nMONOTONIC_USEC=\d+$")
            notify.wait(lambda m: m == "READY=1")

            pro.stop()
            notify.wait(lambda m: m.startswith("STATUS=xmpp: down ("))
            pro.start()
            notify.wait(lambda m: m.startswith("STATUS=xmpp: up"), timeout=15)

            h.signal(signal.SIGTERM)
            notify.wait(lambda m: m == "STOPPING=1")
            self.assertEqual(h.wait(timeout=10), 0)

            lines = [l for l in h.log_text().splitlines() if l]
            self.assertTrue(lines)
            for line in lines:
                self.assertRegex(line, r"^<[3-7]>", "every line carries a syslog priority")
            self.assertTrue(any(l.startswith("<5>xmpp link up") for l in lines), lines[:20])
            self.assertTrue(any(l.startswith("<4>xmpp link down") for l in lines))


if __name__ == "__main__":
    harness.main()
