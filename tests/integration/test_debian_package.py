#!/usr/bin/python3
"""The Debian package as docs/deployment.md builds and installs it (the commands of its block
marked `<!-- deployment-test: package -->`, run in a copy of the source tree in a temp dir:
nothing is written into the tree): `dpkg-buildpackage -b -us -uc`, lintian clean (errors
and warnings; the overrides in debian/ are explained there), installed on this machine: the
files are
where deployment.md's layout table says, the system user hippod exists, the unit passes
`systemd-analyze verify`, and /usr/sbin/hippod runs --check-config and --migrate (as the user
hippod, peer authentication over the socket) against a private PostgreSQL with Debian's
default pg_hba.conf. Then `dpkg --purge hippod`: the machine is left as it was (the system
user too, unless it existed before).

Needs root, dpkg-dev, debhelper and lintian (scripts/deps.sh installs them). The package is
built with DEB_BUILD_OPTIONS=nocheck: the unit tests run in the suite already."""
import glob
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_deployment import (block_commands, doc_blocks, make_debian_like,  # noqa: E402
                             system_user_guard)

PACKAGE = "hippod"
INSTALLED = [  # deployment.md, "Install layout", the Debian package's column
    "/usr/sbin/hippod", "/usr/bin/hippoctl", "/lib/systemd/system/hippod.service",
    "/usr/lib/sysusers.d/hippod.conf", "/usr/share/man/man8/hippod.8.gz",
    "/usr/share/man/man5/hippod.ini.5.gz", "/usr/share/man/man1/hippoctl.1.gz",
    "/usr/share/doc/hippod/examples/hippod.ini.example", "/etc/hippod",
]


def package_installed():
    r = harness.run(["dpkg-query", "-W", "-f", "${Status}", PACKAGE], check=False)
    return r.returncode == 0 and "installed" in r.stdout.split()[-1:]


def copy_source_tree(src, dest):
    """The files git knows of (tracked, or new and not ignored), as they are in SRC; without
    git, everything but build directories."""
    r = harness.run(["git", "-C", src, "ls-files", "-z", "--cached", "--others",
                     "--exclude-standard"], check=False)
    if r.returncode != 0:
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("build*", ".git"))
        return
    for rel in sorted(set(filter(None, r.stdout.split("\0")))):
        if os.path.isfile(os.path.join(src, rel)):  # a deleted, not yet committed file
            os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(os.path.join(src, rel), os.path.join(dest, rel))


class DebianPackage(unittest.TestCase):
    def test_build_lint_install_migrate_purge(self):
        self.assertFalse(package_installed(),
                         f"package {PACKAGE} is already installed here: this test would "
                         f"replace and purge it (dpkg --purge {PACKAGE} first)")
        (block,) = [body for marker, _, body, _ in doc_blocks() if marker == "package"]
        build, install = block_commands(block)
        self.assertTrue(build.startswith("dpkg-buildpackage "), build)
        with harness.Stack("debian-package") as stack, system_user_guard():
            self.build(stack, build)
            self.lint(stack)
            try:
                self.sh(stack, install, {"DEBIAN_FRONTEND": "noninteractive"})
                self.check_installed()
                self.check_against_postgres(stack)
            finally:
                if package_installed() or os.path.exists("/usr/sbin/hippod"):
                    harness.run(["dpkg", "--purge", PACKAGE], timeout=120)
            self.check_purged()

    def sh(self, stack, cmd, env=None, timeout=300):
        """CMD as deployment.md has it, in the copy of the source tree."""
        r = harness.run(["sh", "-e", "-c", cmd], cwd=stack.path("src", "hippod"),
                        env=dict(os.environ, **(env or {})), timeout=timeout, check=False)
        self.assertEqual(r.returncode, 0, f"{cmd}:\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}")

    def build(self, stack, cmd):
        """CMD (dpkg-buildpackage) without the unit tests: the suite runs them already."""
        copy_source_tree(harness.SRCDIR, stack.path("src", "hippod"))
        self.sh(stack, cmd, {"DEB_BUILD_OPTIONS": "nocheck parallel=2"}, timeout=900)
        debs = [os.path.basename(p) for p in glob.glob(stack.path("src", "*.deb"))]
        self.assertEqual(sorted(d.split("_")[0] for d in debs), ["hippod", "hippod-dbgsym"])

    def lint(self, stack):
        (changes,) = glob.glob(stack.path("src", "*.changes"))
        r = harness.run(["lintian", "--fail-on", "error,warning", "--info", changes],
                        timeout=300, check=False)
        report = [line for line in r.stdout.splitlines() if line[:2] in ("E:", "W:")]
        self.assertEqual((r.returncode, report), (0, []), r.stdout + r.stderr)

    def check_installed(self):
        for path in INSTALLED:
            self.assertTrue(os.path.exists(path), f"{path} not installed")
        self.assertEqual(harness.run(["id", "-un", "hippod"]).stdout.strip(), "hippod")
        with open("/lib/systemd/system/hippod.service") as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/sbin/hippod -c /etc/hippod/hippod.ini\n", unit)
        r = harness.run(["systemd-analyze", "verify", "/lib/systemd/system/hippod.service"],
                        check=False)
        self.assertEqual((r.returncode, (r.stdout + r.stderr).strip()), (0, ""),
                         "systemd-analyze verify of the installed unit")
        r = harness.run(["/usr/sbin/hippod", "--version"])
        self.assertRegex(r.stdout, r"^hippod \d+\.\d+\.\d+")

    def check_against_postgres(self, stack):
        """deployment.md's steps 2 and 3 with the installed binary; the config in the stack's
        dir (keeps /etc/hippod empty, so that the purge removes it)."""
        pg = stack.postgres()
        make_debian_like(pg)
        env = dict(os.environ, PGHOST=pg.dir, PGPORT=str(pg.port))
        for cmd in (["createuser", "hippod"], ["createdb", "--owner", "hippod", "hippo"]):
            harness.run(["runuser", "-u", "postgres", "--"] + cmd, env=env)
        ini = stack.path("hippod.ini")
        with open(ini, "w") as f:
            f.write("[component]\nhost = 127.0.0.1\nport = 5347\ndomain = rooms.example.org\n"
                    f"[database]\nconninfo = host={pg.dir} port={pg.port} dbname=hippo "
                    "user=hippod\n")
        r = harness.run(["/usr/sbin/hippod", "-c", ini, "--check-config"])
        self.assertIn('expected from the systemd credential "hippod-secret"', r.stdout)
        migrate = ["runuser", "-u", "hippod", "--", "/usr/sbin/hippod", "-c", ini, "--migrate"]
        self.assertRegex(harness.run(migrate).stdout, r"^applied 001_")
        self.assertEqual(harness.run(migrate).stdout, "nothing to do\n")
        owner = pg.psql("select nspowner::regrole from pg_namespace where nspname = 'hippo'",
                        admin=True)
        self.assertEqual(owner, "hippod", "the schema belongs to the role of the service user")

    def check_purged(self):
        self.assertFalse(package_installed())
        for path in INSTALLED:
            self.assertFalse(os.path.exists(path), f"{path} left after dpkg --purge")


if __name__ == "__main__":
    harness.main()
