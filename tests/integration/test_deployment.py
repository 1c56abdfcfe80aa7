#!/usr/bin/python3
"""docs/deployment.md run as written, once on its Prosody path and once on its ejabberd path:
the commands of every fenced block marked `<!-- deployment-test: run -->`, in the order of
the page, from a fresh `meson install --destdir` of the build under test, against a private
PostgreSQL (with Debian's default pg_hba.conf: peer authentication on the Unix socket) and
a private Prosody or ejabberd. The page and this test cannot drift apart: every `sh` block must carry a marker,
and a command is either run as written or has one of the few translations below.

What differs from a real machine, and why:
- Paths: /etc/hippod and /usr/local live under the destdir; /run/postgresql is the private
  cluster's socket directory (and PGPORT its port, as 5432 may be taken); rooms.example.org
  and the ports 5347 and 8347 are the private Prosody's domain and free ports.
- `meson setup` / `meson compile`: the build under test ($HIPPOD's directory) is used;
  `meson install -C build` installs it with --destdir.
- `systemctl daemon-reload` runs `systemd-analyze verify` on the installed unit instead
  (what systemd would load), and `systemctl enable --now hippod` does what the installed
  unit says: ExecStartPre, then ExecStart, as its User= and Group=, with its
  LoadCredential= file in $CREDENTIALS_DIRECTORY (no systemd runs as PID 1 here).
- The Prosody block (`<!-- deployment-test: prosody -->`) starts the harness's Prosody
  with the block's component port and domain and the secret the page generated; on the
  ejabberd path, the ejabberd block starts the harness's ejabberd the same way.
- `systemd-sysusers` creates the system user hippod on this machine for real; the test
  removes it afterwards unless it existed before (system_user_guard, shared with
  test_debian_package.py, which serializes the two).
"""
import contextlib
import fcntl
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DOC = os.path.join(harness.SRCDIR, "docs", "deployment.md")
# run: this test runs the block; prosody, ejabberd: starts the XMPP server it describes (on
# that server's path); package: run by test_debian_package.py instead.
MARKER = re.compile(r"^<!-- deployment-test: (run|prosody|ejabberd|package) -->$")
SERVICE_USER = "hippod"


# ---------------------------------------------------------------- the page

def doc_blocks(path=DOC):
    """[(marker or None, language, body, line)] of every fenced block of PATH; the marker is
    the `<!-- deployment-test: ... -->` line right above the fence."""
    with open(path) as f:
        lines = f.read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        start = i
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        i += 1
        body = []
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        blocks.append((marker.group(1) if marker else None, m.group(1), "\n".join(body),
                       start + 1))
        i += 1
    return blocks


def block_commands(body):
    """The commands of a sh block: one per line, a here-document kept with its command."""
    out, lines, i = [], body.split("\n"), 0
    while i < len(lines):
        cmd = lines[i]
        i += 1
        if not cmd.strip():
            continue
        here = re.search(r"<<-?'?(\w+)'?", cmd)
        if here:
            while i < len(lines):
                cmd += "\n" + lines[i]
                i += 1
                if lines[i - 1] == here.group(1):
                    break
        out.append(cmd)
    return out


# ---------------------------------------------------------------- the machine

@contextlib.contextmanager
def system_user_guard(name=SERVICE_USER):
    """Serializes the tests that create the system user NAME (this one and the Debian package
    test) and deletes it afterwards unless it existed before."""
    lock_path = os.path.join(tempfile.gettempdir(), "hippo-system-user.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existed = _user_exists(name)
        try:
            yield
        finally:
            if not existed and _user_exists(name):
                harness.run(["userdel", name])
                if _group_exists(name):
                    harness.run(["groupdel", name])


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name):
    import grp
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


DEBIAN_PG_HBA = """\
# Debian 12's default pg_hba.conf (postgresql-common), without the replication lines
local   all             postgres                                peer
local   all             all                                     peer
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
"""


def make_debian_like(pg):
    """The private cluster as a fresh Debian one: no role or database hippo, and the
    default pg_hba.conf (the harness's own psql goes over TCP with a password)."""
    admin = pg.admin_conninfo.replace("dbname=hippo", "dbname=postgres")
    for sql in ("drop database hippo", "drop role hippo"):
        harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin, "-c", sql])
    with open(os.path.join(pg.data, "pg_hba.conf"), "w") as f:
        f.write(DEBIAN_PG_HBA)
    pg._pg_ctl("reload")


def parse_unit(path):
    """{key: [values]} of a unit file (all sections together; enough for hippod's unit)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k.strip(), []).append(v.strip())
    return out


# ---------------------------------------------------------------- the test

class Deployment(unittest.TestCase):
    def setUp(self):
        self.build = os.path.dirname(os.path.abspath(harness.HIPPOD))
        self.stack = harness.Stack("deployment")
        self.addCleanup(self.stack.close)
        self.dest = self.stack.path("root")
        self.service = None
        self.ports = {"5347": harness.free_port(), "8347": harness.free_port()}

    # ---- substitutions and environment

    def subst(self, text):
        text = text.replace("/etc/hippod", self.dest + "/etc/hippod")
        text = text.replace("/usr/local/", self.dest + "/usr/local/")
        text = text.replace("/run/postgresql", self.pg.dir)
        text = text.replace("rooms.example.org", harness.COMPONENT_DOMAIN)
        for port, mine in self.ports.items():
            text = re.sub(rf"\b{port}\b", str(mine), text)
        return text

    def env(self):
        local = self.dest + "/usr/local"
        return dict(os.environ, PATH=f"{local}/sbin:{local}/bin:{os.environ['PATH']}",
                    PGHOST=self.pg.dir, PGPORT=str(self.pg.port))

    def sh(self, cmd, timeout=120):
        return harness.run(["sh", "-e", "-c", self.subst(cmd)], env=self.env(), timeout=timeout)

    # ---- translations of commands that need a real systemd or the build

    def unit_path(self):
        return self.dest + "/usr/local/lib/systemd/system/hippod.service"

    def meson_setup(self):
        self.assertTrue(os.path.isfile(os.path.join(self.build, "build.ninja")),
                        f"{self.build} is not a configured meson build")

    def meson_compile(self):
        self.assertTrue(os.access(harness.HIPPOD, os.X_OK), harness.HIPPOD)

    def meson_install(self):
        harness.run(["meson", "install", "-C", self.build, "--no-rebuild", "--quiet",
                     "--destdir", self.dest], timeout=120)

    def daemon_reload(self):
        """systemd-analyze verify of the installed unit, in the destdir (with this machine's
        own units for the targets it names): fails if ExecStart= names no installed file."""
        units = os.path.join(self.dest, "usr/lib/systemd/system")
        os.makedirs(os.path.dirname(units), exist_ok=True)
        shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
        r = harness.run(["systemd-analyze", "verify", "--man=no", f"--root={self.dest}",
                         self.unit_path()], check=False)
        self.assertEqual(r.returncode, 0, f"systemd-analyze verify:\n{r.stdout}{r.stderr}")
        self.assertEqual((r.stdout + r.stderr).strip(), "", "systemd-analyze verify warns")

    def enable_now(self):
        """What systemd does for `systemctl enable --now hippod` with the installed unit."""
        unit = parse_unit(self.unit_path())
        user, group = unit["User"][0], unit["Group"][0]
        creds = self.stack.path("credentials")
        os.mkdir(creds, 0o700)
        for spec in unit.get("LoadCredential", []):
            name, source = spec.split(":", 1)
            shutil.copy(self.subst(source), os.path.join(creds, name))
            os.chmod(os.path.join(creds, name), 0o400)
            harness._chown_tree(creds, user)
        pw = pwd.getpwnam(user)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CREDENTIALS_DIRECTORY": creds,
               "PGPORT": str(self.pg.port), "HOME": pw.pw_dir, "USER": user}
        as_user = {"user": user, "group": group, "extra_groups": [], "env": env}
        for cmd in unit["ExecStartPre"]:
            argv = self.exec_argv(cmd)
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30, **as_user)
            self.assertEqual(r.returncode, 0, f"ExecStartPre={cmd}:\n{r.stdout}{r.stderr}")
        (start,) = unit["ExecStart"]
        self.log = open(self.stack.path("hippod.log"), "wb")
        self.addCleanup(self.log.close)
        self.service = subprocess.Popen(self.exec_argv(start), stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd="/", **as_user)
        harness._popen_pids.add(self.service.pid)
        self.addCleanup(self.stop_service)

    def exec_argv(self, cmd):
        argv = self.subst(cmd).split()
        self.assertTrue(os.access(argv[0], os.X_OK),
                        f"the unit runs {cmd.split()[0]}, which the install does not have")
        return argv

    def stop_service(self):
        if self.service.poll() is None:
            self.service.send_signal(signal.SIGTERM)
            try:
                self.service.wait(15)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait(5)
                self.fail("hippod did not stop on SIGTERM")
        self.assertEqual(self.service.returncode, 0, self.service_log())

    def service_log(self):
        with open(self.stack.path("hippod.log"), errors="replace") as f:
            return f.read()[-4000:]

    def healthz(self, cmd):
        deadline = time.monotonic() + 30
        while True:
            r = harness.run(["sh", "-e", "-c", self.subst(cmd)], env=self.env(), check=False)
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            self.assertIsNone(self.service.poll(), "hippod exited:\n" + self.service_log())
            time.sleep(0.2)
        self.assertEqual(r.returncode, 0, f"{cmd}: {r.stderr}\n{self.service_log()}")
        self.assertEqual(r.stdout.strip(), "ok")

    TRANSLATED = {
        "meson setup build": meson_setup,
        "meson compile -C build": meson_compile,
        "meson install -C build": meson_install,
        "systemctl daemon-reload": daemon_reload,
        "systemctl enable --now hippod": enable_now,
    }

    # ---- the XMPP server blocks

    SERVER_BLOCK = {  # how each server's block names the component port and domain
        "prosody": (r"component_ports = \{ (\d+) \}", r'^Component "([^"]+)"'),
        "ejabberd": (r"- port: (\d+)\n\s+ip: \"127\.0\.0\.1\"\n\s+module: ejabberd_service",
                     r"^\s+hosts:\n\s+([a-z.]+):$"),
    }

    def start_server(self, kind, body):
        """The harness's KIND server with the block's component port and domain, which must
        be hippod.ini's, and the secret the page generated."""
        port_re, domain_re = self.SERVER_BLOCK[kind]
        port, domain = re.search(port_re, body), re.search(domain_re, body, re.M)
        self.assertTrue(port and domain, f"the {kind} block has no component port or domain")
        with open(self.dest + "/etc/hippod/hippod.ini") as f:
            ini = f.read()
        self.assertIn(f"port = {self.ports[port.group(1)]}\n", ini,
                      f"{kind}'s component port is not hippod.ini's")
        self.assertEqual(domain.group(1), "rooms.example.org")
        with open(self.dest + "/etc/hippod/secret") as f:
            secret = f.read().strip()
        self.assertGreaterEqual(len(secret), 24)
        getattr(self.stack, kind)(secret=secret, component_port=self.ports[port.group(1)])

    # ----

    def test_prosody_path_as_written(self):
        self.follow_page("prosody")

    def test_ejabberd_path_as_written(self):
        self.follow_page("ejabberd")

    def follow_page(self, server):
        blocks = doc_blocks()
        unmarked = [line for marker, lang, _, line in blocks if lang == "sh" and not marker]
        self.assertEqual(unmarked, [], "sh blocks of deployment.md without a "
                         "<!-- deployment-test: ... --> marker (lines)")
        ran = []
        with system_user_guard():
            self.pg = self.stack.postgres()
            make_debian_like(self.pg)
            for marker, lang, body, line in blocks:
                if marker == server:
                    self.start_server(server, body)
                    ran.append("xmpp server")
                if marker != "run":
                    continue
                for cmd in block_commands(body):
                    try:
                        self.run_command(cmd)
                    except (AssertionError, harness.CommandError) as e:
                        raise AssertionError(f"{DOC}, block at line {line}: {cmd}\n{e}") from None
                    ran.append(cmd.split("\n")[0])
            self.stop_service()
        # the page's order, checked through what ran
        for before, after in (("meson install -C build", "systemd-sysusers"),
                              ("cat > /etc/hippod/hippod.ini", "--migrate"),
                              ("--migrate", "xmpp server"), ("xmpp server", "systemctl enable")):
            i = next(n for n, c in enumerate(ran) if before in c)
            j = next(n for n, c in enumerate(ran) if after in c)
            self.assertLess(i, j, f"{before!r} must come before {after!r}")

    def run_command(self, cmd):
        if cmd in self.TRANSLATED:
            self.TRANSLATED[cmd](self)
        elif cmd.startswith("curl ") and "/healthz" in cmd:
            self.healthz(cmd)
        else:
            r = self.sh(cmd)
            if "--check-config" in cmd:
                self.assertIn('expected from the systemd credential "hippod-secret"', r.stdout)


if __name__ == "__main__":
    harness.main()
