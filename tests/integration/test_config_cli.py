#!/usr/bin/python3
"""hippod's command line around the configuration: `--check-config` exits 0 for a good file
and 78 (EX_CONFIG) with "FILE:LINE: [section] key: reason" for a bad one, usage errors exit
64 (EX_USAGE), and the component secret never shows up in any output. No servers needed:
--check-config does not connect."""

import os
import re
import subprocess
import tempfile
import unittest

HIPPOD = os.environ.get("HIPPOD", "")
SRCDIR = os.environ.get("SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX_USAGE = 64
EX_CONFIG = 78
SECRET = "Cli-s3cret-Hunter2-plugh"

COMPONENT = (
    "[component]\n"                    # 1
    "host = 127.0.0.1\n"               # 2
    "domain = rooms.example.test\n"    # 3
    f"secret = {SECRET}\n"             # 4
)
DATABASE = (
    "[database]\n"
    "conninfo = host=/nonexistent dbname=hippo connect_timeout=1\n"
)


class ConfigCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not HIPPOD or not os.access(HIPPOD, os.X_OK):
            raise RuntimeError(f"$HIPPOD must name the built hippod binary (got {HIPPOD!r})")

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="hippo-config-cli-")
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def hippod(self, *args, env_extra=None):
        env = {k: v for k, v in os.environ.items()
               if k not in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "JOURNAL_STREAM")}
        env.update(env_extra or {})
        proc = subprocess.run([HIPPOD, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30, env=env)
        out = proc.stdout + proc.stderr
        self.assertNotIn(SECRET, out, "the secret leaked into hippod's output")
        self.assertNotIn("Hunter2", out, "part of the secret leaked into hippod's output")
        return proc

    def check(self, text, **kw):
        return self.hippod("-c", self.write("hippod.ini", text), "--check-config", **kw)

    def assert_config_error(self, text, line, where, reason):
        """Exit 78 and a stderr line "[hippod: ]FILE:LINE: WHERE...REASON"."""
        path = os.path.join(self.tmp.name, "hippod.ini")
        proc = self.check(text)
        self.assertEqual(proc.returncode, EX_CONFIG, proc.stderr)
        location = f"{path}:{line}: " if line else f"{path}: "
        pattern = (r"^(hippod: )?" + re.escape(location + where) + r".*" + re.escape(reason))
        self.assertRegex(proc.stderr, re.compile(pattern, re.M))
        return proc

    # ---- good files ----

    def test_good_config_exits_0(self):
        proc = self.check(COMPONENT + DATABASE)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_full_config_with_clients_exits_0(self):
        text = (COMPONENT + "port = 5348\n" + DATABASE
                + "[http]\naddress = ::1\nport = 0\n[log]\nlevel = debug\n"
                + "[rooms]\nmax_body_bytes = 4096\nmessages_per_second = 0.5\n"
                + "message_burst = 2\nmax_history = 50\nmax_occupants = 10\n"
                + '[client "windows"]\nminimum = 1.1.60\ncurrent = 1.1.72\n'
                + "download = https://example.org/setup.exe\n")
        proc = self.check(text)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_database_pool_keys(self):
        for n, ms in (("1", "10"), ("16", "60000")):
            proc = self.check(COMPONENT + DATABASE + f"connections = {n}\nmax_queue_ms = {ms}\n")
            self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_secret_from_credentials_directory(self):
        creds = os.path.join(self.tmp.name, "creds")
        os.mkdir(creds, 0o700)
        self.write("creds/hippod-secret", SECRET + "\n")
        text = COMPONENT.replace(f"secret = {SECRET}\n", "") + DATABASE
        proc = self.check(text, env_extra={"CREDENTIALS_DIRECTORY": creds})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("not checked", proc.stdout)
        # inside the service ($CREDENTIALS_DIRECTORY set) a missing credential is an error
        os.unlink(os.path.join(creds, "hippod-secret"))
        proc = self.check(text, env_extra={"CREDENTIALS_DIRECTORY": creds})
        self.assertEqual(proc.returncode, EX_CONFIG, proc.stderr)
        self.assertIn('[component] secret: required key missing', proc.stderr)
        self.assertIn('"hippod-secret" with LoadCredential=', proc.stderr)

    def test_check_config_from_a_shell_leaves_the_secret_to_the_credential(self):
        # `hippod -c FILE --check-config && systemctl reload hippod` from a shell: the secret
        # is a systemd credential that only the service gets, so it is named, not demanded
        text = COMPONENT.replace(f"secret = {SECRET}\n", "") + DATABASE
        proc = self.check(text)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("configuration ok", proc.stdout)
        self.assertRegex(proc.stdout, r'expected from the systemd credential "hippod-secret" '
                         r'\(LoadCredential=hippod-secret:')
        # the rest of the file is still checked
        self.assert_config_error(text.replace("domain = rooms.example.test\n", ""), 1,
                                 "[component] domain: ", "required key missing")

    def test_start_without_any_secret_is_a_config_error(self):
        text = COMPONENT.replace(f"secret = {SECRET}\n", "") + DATABASE
        proc = self.hippod("-c", self.write("hippod.ini", text))
        self.assertEqual(proc.returncode, EX_CONFIG, proc.stderr)
        self.assertIn("[component] secret: required key missing", proc.stderr)

    # ---- --migrate needs only [database] ----

    def migrate(self, text):
        return self.hippod("-c", self.write("hippod.ini", text), "--migrate")

    def assert_reached_the_database(self, proc):
        """Exit 1 "cannot connect" (DATABASE points nowhere): the file itself was accepted."""
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("hippod: cannot connect to the database", proc.stderr)

    def test_migrate_with_only_a_database_section(self):
        self.assert_reached_the_database(self.migrate(DATABASE))

    def test_migrate_without_the_component_secret(self):
        text = COMPONENT.replace(f"secret = {SECRET}\n", "") + DATABASE
        self.assert_reached_the_database(self.migrate(text))
        # an unreadable secret_file does not matter either
        self.assert_reached_the_database(self.migrate(
            text.replace("[database]", "secret_file = /nonexistent/secret\n[database]")))

    def test_migrate_still_validates_the_file(self):
        proc = self.migrate(COMPONENT)
        self.assertEqual(proc.returncode, EX_CONFIG, proc.stderr)
        self.assertIn("[database] conninfo: required key missing", proc.stderr)
        proc = self.migrate(DATABASE + "[component]\nport = 0\n")
        self.assertEqual(proc.returncode, EX_CONFIG, proc.stderr)
        self.assertIn(":4: [component] port: ", proc.stderr)

    def test_shipped_example_is_valid(self):
        example = os.path.join(SRCDIR, "contrib", "hippod.ini.example")
        creds = os.path.join(self.tmp.name, "creds")
        os.mkdir(creds, 0o700)
        self.write("creds/hippod-secret", SECRET + "\n")
        proc = self.hippod("-c", example, "--check-config",
                           env_extra={"CREDENTIALS_DIRECTORY": creds})
        self.assertEqual(proc.returncode, 0, proc.stderr)

    # ---- bad files: exit 78, file and line named ----

    def test_bad_port(self):
        self.assert_config_error(COMPONENT + "port = 70000\n" + DATABASE, 5,
                                 "[component] port: ", "out of range")

    def test_bad_database_pool_keys(self):
        self.assert_config_error(COMPONENT + DATABASE + "connections = 17\n", 7,
                                 "[database] connections: ", "out of range (1..16)")
        self.assert_config_error(COMPONENT + DATABASE + "connections = 0\n", 7,
                                 "[database] connections: ", "out of range (1..16)")
        self.assert_config_error(COMPONENT + DATABASE + "max_queue_ms = 9\n", 7,
                                 "[database] max_queue_ms: ", "out of range (10..60000)")
        self.assert_config_error(COMPONENT + DATABASE + "max_queue_ms = 1s\n", 7,
                                 "[database] max_queue_ms: ", "is not an integer")

    def test_port_not_a_number(self):
        self.assert_config_error(COMPONENT + DATABASE + "[http]\nport = 80a\n", 8,
                                 "[http] port: ", "is not an integer")

    def test_unknown_key(self):
        self.assert_config_error(COMPONENT + "hots = 1\n" + DATABASE, 5,
                                 "[component] hots: ", "unknown key")

    def test_unknown_section(self):
        self.assert_config_error(COMPONENT + DATABASE + "[bogus]\n", 7, "[bogus]: ",
                                 "unknown section")

    def test_missing_domain(self):
        text = COMPONENT.replace("domain = rooms.example.test\n", "") + DATABASE
        self.assert_config_error(text, 1, "[component] domain: ", "required key missing")

    def test_missing_database_section(self):
        self.assert_config_error(COMPONENT, 0, "[database] conninfo: ", "required key missing")

    def test_both_secret_and_secret_file(self):
        secret_file = self.write("secret", SECRET + "\n")
        self.assert_config_error(COMPONENT + f"secret_file = {secret_file}\n" + DATABASE, 5,
                                 "[component] secret_file: ", "both set")

    def test_secret_never_echoed(self):
        # the secret where a message might quote it: a syntax error, a continuation line,
        # an invalid conninfo, a duplicate
        cases = [
            (COMPONENT + SECRET + "\n" + DATABASE, 5, "[component]: ", "expected"),
            (COMPONENT + "  " + SECRET + "\n" + DATABASE, 5, "[component]: ", "whitespace"),
            (COMPONENT + f"[database]\nconninfo = host=x {SECRET}\n", 6,
             "[database] conninfo: ", "invalid libpq conninfo"),
            (COMPONENT + f"secret = {SECRET}\n" + DATABASE, 5, "[component] secret: ",
             "duplicate key"),
        ]
        for text, line, where, reason in cases:
            with self.subTest(reason=reason):
                self.assert_config_error(text, line, where, reason)

    def test_missing_file(self):
        path = os.path.join(self.tmp.name, "absent.ini")
        proc = self.hippod("-c", path, "--check-config")
        self.assertEqual(proc.returncode, EX_CONFIG, proc.stderr)
        self.assertRegex(proc.stderr, re.compile(
            r"^(hippod: )?" + re.escape(f"{path}: cannot open: No such file or directory"),
            re.M))

    # ---- usage errors: exit 64 ----

    def test_missing_config_option_is_usage_error(self):
        proc = self.hippod("--check-config")
        self.assertEqual(proc.returncode, EX_USAGE, proc.stderr)
        self.assertRegex(proc.stderr, re.compile(r"usage", re.I))

    def test_unknown_option_is_usage_error(self):
        path = self.write("hippod.ini", COMPONENT + DATABASE)
        proc = self.hippod("-c", path, "--no-such-option")
        self.assertEqual(proc.returncode, EX_USAGE, proc.stderr)
        self.assertRegex(proc.stderr, re.compile(r"usage", re.I))


if __name__ == "__main__":
    unittest.main(verbosity=2)
