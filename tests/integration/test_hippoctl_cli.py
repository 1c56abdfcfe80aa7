#!/usr/bin/python3
"""hippoctl speaks in JIDs (issue 12, item 3): room JIDs printed by post create, group add,
post show, group show and room show; sql/012_room_jid.sql (hippo.room_jid) agreeing with
src/guid.c; USER, POST and GROUP arguments as JIDs; pref keys and values validated; exit
statuses 64 / 69 / 1 / 78; --json; HIPPO_DATABASE, HIPPO_DOMAIN and -c FILE. Against a
throwaway PostgreSQL (no XMPP server needed).

And the demo (issue 12, item 4): scripts/run.sh shows progress while it builds;
scripts/demo.py prints the room to join and hints whose effects happen as printed (run as
printed, seen by real clients), and ends with a stopped line."""

import json
import os
import random
import re
import signal
import string
import subprocess
import sys
import threading
import time
import types
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROOMS = "rooms.example.test"
EX_USAGE, EX_UNAVAILABLE, EX_CONFIG = 64, 69, 78
MISSING = "BCDFGHJKLMNPQR"  # well-formed, no such row


def mapped(guid):
    """Reference GUID -> node (design.md): upper -> lower, lower -> letter + '_'."""
    return "".join(c.lower() if c.isupper() else c + "_" if c.islower() else c for c in guid)


def uniq(prefix):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class HippoctlCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("hippoctl_cli")
        cls.pg = cls.stack.postgres()
        r = cls.run_ctl("migrate")
        if r.returncode != 0:
            cls.stack.close()
            raise AssertionError(f"hippoctl migrate: {r.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    # ---- helpers ---------------------------------------------------------------------

    @classmethod
    def run_ctl(cls, *args, env_extra=None, db=True, domain=None):
        """Runs hippoctl [-d CONNINFO] [--domain D] ARGS with a clean environment (no
        HIPPO_* unless ENV_EXTRA sets them); returns the CompletedProcess."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HIPPO_")}
        env.update(env_extra or {})
        cmd = [harness.HIPPOCTL]
        if db:
            cmd += ["-d", cls.pg.conninfo]
        if domain:
            cmd += ["--domain", domain]
        return harness.run(cmd + [str(a) for a in args], env=env, check=False)

    def ok(self, *args, **kw):
        """hippoctl ARGS that must succeed; returns (stdout, stderr)."""
        r = self.run_ctl(*args, **kw)
        self.assertEqual(r.returncode, 0, f"hippoctl {args}: {r.stdout}{r.stderr}")
        return r.stdout, r.stderr

    def fails(self, status, *args, message=None, **kw):
        """hippoctl ARGS must exit STATUS naming MESSAGE on stderr, printing nothing."""
        r = self.run_ctl(*args, **kw)
        self.assertEqual(r.returncode, status, f"hippoctl {args}: {r.stdout}{r.stderr}")
        if message is not None:
            self.assertIn(message, r.stderr)
        self.assertEqual(r.stdout, "")
        return r

    def q(self, sql):
        return self.pg.psql(sql)

    def user(self, name="U"):
        jid = f"{uniq(name.lower())}@example.test"
        out, _ = self.ok("user", "add", "--jid", jid, "--name", name)
        return out.strip(), jid

    def post(self, poster, *to, **kw):
        args = ["post", "create", "--poster", poster, "--href", "https://example.org/",
                "--title", "T"]
        for t in to:
            args += ["--to", t]
        out, err = self.ok(*args, **kw)
        return out.strip(), err

    def write_config(self, text):
        path = self.stack.path(uniq("cfg") + ".ini")
        with open(path, "w") as f:
            f.write(text)
        return path

    # ---- room JIDs -------------------------------------------------------------------

    def test_post_create_and_group_add_print_the_room_jid(self):
        a, ajid = self.user("A")
        post, err = self.post(a, domain=ROOMS)
        self.assertRegex(post, r"^[A-Za-z0-9]{14}$")  # stdout: the id alone, for $(...)
        self.assertEqual(err, f"room: {mapped(post)}@{ROOMS}\n")
        out, err = self.ok("group", "add", "--name", "Hikers", domain=ROOMS)
        group = out.strip()
        self.assertRegex(group, r"^[A-Za-z0-9]{14}$")
        self.assertEqual(err, f"room: {mapped(group)}@{ROOMS}\n")
        # without a domain: the node, and how to get the JID
        post2, err = self.post(a)
        self.assertIn(f"room node: {mapped(post2)} ", err)
        self.assertIn("--domain, -c CONFIG or $HIPPO_DOMAIN", err)
        # --json: both on stdout
        out, err = self.ok("post", "create", "--poster", ajid, "--href", "h", "--title", "t",
                           "--json", domain=ROOMS)
        created = json.loads(out)
        self.assertEqual(err, "")
        self.assertEqual(created["room"], f"{mapped(created['id'])}@{ROOMS}")
        self.assertEqual(created["room_node"], mapped(created["id"]))
        out, _ = self.ok("group", "add", "--name", "G", "--json")
        self.assertIsNone(json.loads(out)["room"])

    def test_post_show_and_group_show_print_the_room_jid(self):
        a, _ = self.user("A")
        post, _ = self.post(a)
        out, _ = self.ok("post", "show", post, domain=ROOMS)
        lines = out.splitlines()
        self.assertIn(f"room: {mapped(post)}@{ROOMS}", lines)
        self.assertIn(f"room_node: {mapped(post)}", lines)
        g = self.ok("group", "add", "--name", "G")[0].strip()
        lines = self.ok("group", "show", g, domain=ROOMS)[0].splitlines()
        self.assertIn(f"room: {mapped(g)}@{ROOMS}", lines)
        self.assertIn(f"{g}\tG\t0\t{mapped(g)}@{ROOMS}",
                      self.ok("group", "list", domain=ROOMS)[0].splitlines())
        listed = self.ok("post", "list", "--limit", "1000", domain=ROOMS)[0].splitlines()
        self.assertTrue(any(l.startswith(post + "\t") and l.endswith(f"\t{mapped(post)}@{ROOMS}")
                            for l in listed), listed)
        # the room JID is accepted wherever a POST or GROUP is asked for
        lines = self.ok("post", "show", f"{mapped(post)}@{ROOMS}", domain=ROOMS)[0].splitlines()
        self.assertIn(f"id: {post}", lines)
        lines = self.ok("group", "show", f"{mapped(g).upper()}@{ROOMS.upper()}")[0].splitlines()
        self.assertIn(f"id: {g}", lines)  # JIDs are case-insensitive; no domain: not checked

    def test_room_jid_sql_agrees_with_guid_c(self):
        rng = random.Random(12)
        alphabet = string.ascii_letters + string.digits
        guids = ["AbC1AbC1AbC1Ab", "ABCDEFGHIJKLMN", "abcdefghijklmn", "01234567890123",
                 "Zz9Zz9Zz9Zz9Zz", "ABCDEFGHIJKLMn", "Pz4kW9mbT2xQcL"]
        guids += ["".join(rng.choice(alphabet) for _ in range(14)) for _ in range(25)]
        rows = self.q("SELECT g, hippo.room_node(g), hippo.room_jid(g, ' Rooms.Example.TEST ')"
                      " FROM unnest(ARRAY[" + ",".join(f"'{g}'" for g in guids) + "]) AS g")
        got = {g: (node, jid) for g, node, jid in (line.split("|") for line in rows.splitlines())}
        for g in guids:
            self.assertEqual(got[g], (mapped(g), f"{mapped(g)}@{ROOMS}"), g)
        self.assertEqual(got["AbC1AbC1AbC1Ab"][0], "ab_c1ab_c1ab_c1ab_")  # tests/unit/test_guid.c
        # src/guid.c decodes what SQL encoded: room show names the GUID it decoded
        for g in guids[:12]:
            with self.subTest(guid=g):
                self.fails(1, "room", "show", got[g][1], domain=ROOMS,
                           message=f'no post or group has id "{g}"')
        self.assertEqual(self.q("SELECT hippo.room_jid('AbC1AbC1AbC1Ab', NULL) IS NULL"), "t")
        for bad, message in (("'AbC1'", 'bad room id "AbC1"'), ("NULL", "room id must not be")):
            with self.assertRaises(harness.CommandError) as cm:
                self.q(f"SELECT hippo.room_jid({bad}, 'rooms.example.test')")
            self.assertIn(message, cm.exception.stderr)
        for domain in ("''", "'a@b'", "'rooms/x'", "'a b'"):
            with self.assertRaises(harness.CommandError) as cm:
                self.q(f"SELECT hippo.room_jid('AbC1AbC1AbC1Ab', {domain})")
            self.assertIn("bad room domain", cm.exception.stderr)

    # ---- JIDs as arguments -----------------------------------------------------------

    def test_user_arguments_take_jids(self):
        a, ajid = self.user("A")
        b, bjid = self.user("B")
        c, cjid = self.user("C")
        g = self.ok("group", "add", "--name", "Friends")[0].strip()
        self.ok("group", "member", "add", f"{mapped(g)}@{ROOMS}", cjid, domain=ROOMS)
        post, _ = self.post(ajid, bjid.upper(), f"{mapped(g)}@{ROOMS}", domain=ROOMS)
        self.assertEqual(self.q(f"SELECT string_agg(coalesce(user_id, group_id), ',' ORDER BY"
                                f" position) FROM hippo.post_recipients WHERE post_id = '{post}'"),
                         f"{b},{g}")
        self.assertEqual(self.q(f"SELECT poster_id FROM hippo.posts WHERE id = '{post}'"), a)
        self.ok("view", "record", f"{mapped(post)}@{ROOMS}", bjid, domain=ROOMS)
        self.assertEqual(self.q(f"SELECT user_id FROM hippo.post_views WHERE post_id = '{post}'"),
                         b)
        self.ok("post", "ignore", post, cjid)
        self.fails(1, "post", "create", "--poster", ajid, "--href", "h", "--title", "t",
                   "--to", "nobody@example.test", message='no user with jid "nobody@example.test"')
        self.fails(EX_USAGE, "post", "show", f"{mapped(post)}@elsewhere.test", domain=ROOMS,
                   message="the rooms are at rooms.example.test")
        self.fails(EX_USAGE, "post", "show", "not_a_guid@rooms.example.test",
                   message="is not a room JID")

    # ---- prefs -----------------------------------------------------------------------

    def test_pref_keys_and_values_are_validated(self):
        b, bjid = self.user("B")
        self.fails(EX_USAGE, "pref", "set", bjid, "musicSharingEnabled", "maybe",
                   message='pref musicSharingEnabled: "maybe" is not a boolean')
        self.fails(EX_USAGE, "pref", "set", bjid, "musicSharingEnable", "true",
                   message='unknown pref key "musicSharingEnable": clients know '
                           "applicationUsageEnabled, musicSharingEnabled, musicSharingPrimed")
        self.fails(EX_USAGE, "pref", "unset", bjid, "colour", message='unknown pref key "colour"')
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.prefs WHERE user_id = '{b}'"), "0")
        self.ok("pref", "set", bjid, "musicSharingEnabled", "FALSE")  # stored as clients read it
        self.ok("pref", "set", b, "applicationUsageEnabled", "true")
        self.assertEqual(self.ok("pref", "list", bjid)[0].splitlines(),
                         ["applicationUsageEnabled\ttrue", "musicSharingEnabled\tfalse"])
        # a key a web application stored through SQL can still be removed
        self.q(f"SELECT hippo.set_pref('{b}', 'x.colour', 'blue')")
        self.ok("pref", "unset", bjid, "x.colour")
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.prefs WHERE key = 'x.colour'"), "0")
        self.fails(1, "pref", "set", MISSING, "musicSharingEnabled", "true",
                   message=f'unknown user id "{MISSING}"')

    # ---- exit statuses ---------------------------------------------------------------

    def test_exit_statuses(self):
        a, ajid = self.user("A")
        # 64: the caller's mistake, whether hippoctl or the SQL API (SQLSTATE 22xxx) finds it
        self.fails(EX_USAGE, "user", "add", "--jid", "nojid", "--name", "x",
                   message='bad jid "nojid"')
        self.fails(EX_USAGE, "group", "add", "--name", " ", message="must not be empty")
        self.fails(EX_USAGE, "view", "record", "bad", ajid, message='bad post id "bad"')
        self.fails(EX_USAGE, "user", "add", "--name", "x", message="missing --jid")
        self.fails(EX_USAGE, "user", "list", db=False, env_extra={"HIPPO_DATABASE": "nokey=1"},
                   message="bad conninfo from $HIPPO_DATABASE")
        # 1: well-formed but refused by the data
        self.fails(1, "user", "add", "--jid", ajid, "--name", "again", message="already exists")
        self.fails(1, "post", "show", MISSING, message=f'unknown post id "{MISSING}"')
        # 69: the database is not there (a retry may work)
        down = f"host=127.0.0.1 port={harness.free_port()} dbname=hippo user=hippo"
        r = harness.run([harness.HIPPOCTL, "-d", down, "user", "list"], check=False)
        self.assertEqual(r.returncode, EX_UNAVAILABLE, r.stderr)
        self.assertIn("cannot connect to the database", r.stderr)
        r = harness.run([harness.HIPPOCTL, "-d", down, "migrate"], check=False)
        self.assertEqual(r.returncode, EX_UNAVAILABLE, r.stderr)
        # 78: nothing says where the database is
        self.fails(EX_CONFIG, "user", "list", db=False, message="no database")

    # ---- room show -------------------------------------------------------------------

    def test_room_show(self):
        a, ajid = self.user("Alice")
        b, bjid = self.user("Bob")
        post, _ = self.post(a, b)
        self.q(f"UPDATE hippo.posts SET title = 'A good read' WHERE id = '{post}'")
        self.q(f"INSERT INTO hippo.rooms (room_id, kind, next_serial) VALUES ('{post}', 'post', 3);"
               f"INSERT INTO hippo.room_messages (room_id, serial, user_id, body) VALUES"
               f" ('{post}', 0, '{a}', 'first'), ('{post}', 1, '{b}', 'two' || chr(10) || 'lines'),"
               f" ('{post}', 2, '{a}', 'third');"
               f"INSERT INTO hippo.room_occupants (room_id, kind, occupant_jid, user_id, role,"
               f" dialect, nick, muc_nick) VALUES ('{post}', 'post', '{bjid}/pc', '{b}',"
               f" 'participant', 'muc', 'Bob', 'Bob')")
        room = f"{mapped(post)}@{ROOMS}"
        for arg in (post, room):
            lines = self.ok("room", "show", arg, "--limit", "2", domain=ROOMS)[0].splitlines()
            self.assertEqual(lines[:7], [f"id: {post}", "kind: post", "title: A good read",
                                         f"room_node: {mapped(post)}", f"room: {room}",
                                         "users_present: 1", "messages: 3"])
            occupants = [l for l in lines if l.startswith("occupant: ")]
            self.assertEqual(len(occupants), 1)
            self.assertTrue(occupants[0].startswith(
                f"occupant: {b}\t{bjid}\tBob\tparticipant\tmuc\tBob\t{bjid}/pc\t"), occupants)
            messages = [l.split("\t") for l in lines if l.startswith("message: ")]
            self.assertEqual([(m[0], m[3], m[4]) for m in messages],
                             [("message: 1", "Bob", "two\\nlines"), ("message: 2", "Alice", "third")])
        shown = json.loads(self.ok("room", "show", room, "--json", domain=ROOMS)[0])
        self.assertEqual((shown["kind"], shown["title"], shown["room"], shown["messages"]),
                         ("post", "A good read", room, 3))
        self.assertEqual([m["body"] for m in shown["message"]], ["first", "two\nlines", "third"])
        self.assertEqual([o["occupant_jid"] for o in shown["occupant"]], [f"{bjid}/pc"])
        g = self.ok("group", "add", "--name", "Quiet")[0].strip()
        lines = self.ok("room", "show", g)[0].splitlines()
        self.assertIn("kind: group", lines)
        self.assertIn("title: Quiet", lines)
        self.assertIn("messages: 0", lines)
        self.assertIn("room: ", lines)  # no domain given: no JID
        self.fails(1, "room", "show", MISSING, message=f'no post or group has id "{MISSING}"')
        self.fails(EX_USAGE, "room", "show", "short", message='bad room id "short"')
        self.fails(EX_USAGE, "room", "show", post, "--limit", "x", message="--limit needs")

    # ---- --json ----------------------------------------------------------------------

    def test_json_output(self):
        a, ajid = self.user("A")
        b, bjid = self.user("B")
        g = self.ok("group", "add", "--name", "J")[0].strip()
        self.ok("group", "member", "add", g, b)
        post, _ = self.post(a, b, g)
        users = json.loads(self.ok("user", "list", "--json")[0])
        self.assertIn({"id": b, "jid": bjid, "name": "B"}, users)
        shown = json.loads(self.ok("post", "show", post, "--json", domain=ROOMS)[0])
        self.assertEqual((shown["id"], shown["poster_jid"], shown["to_world"], shown["room"]),
                         (post, ajid, False, f"{mapped(post)}@{ROOMS}"))
        self.assertEqual(shown["recipient"], [{"kind": "user", "id": b, "name": bjid},
                                              {"kind": "group", "id": g, "name": "J"}])
        self.assertEqual(sorted(x["id"] for x in shown["audience"]), sorted([a, b]))
        self.assertEqual(shown["viewer"], [])
        group = json.loads(self.ok("group", "show", g, "--json")[0])
        self.assertEqual(group["member"], [{"id": b, "jid": bjid, "name": "B",
                                            "status": "ACTIVE"}])
        self.assertIsNone(group["room"])
        self.assertIn({"id": g, "name": "J", "active_members": 1, "room": None},
                      json.loads(self.ok("group", "list", "--json")[0]))
        self.assertEqual(json.loads(self.ok("pref", "list", b, "--json")[0]), [])
        user = json.loads(self.ok("user", "show", bjid, "--json")[0])
        self.assertEqual(user["group"], [{"id": g, "name": "J", "status": "ACTIVE",
                                          "room": None}])
        self.assertIn(f"group: {g}\tJ\tACTIVE\t{mapped(g)}@{ROOMS}",
                      self.ok("user", "show", b, domain=ROOMS)[0].splitlines())
        for cmd in (["post", "list"], ["resource", "list"], ["outbox", "list"],
                    ["contact", "list", a]):
            self.assertIsInstance(json.loads(self.ok(*cmd, "--json")[0]), list, cmd)
        self.fails(EX_USAGE, "user", "add", "--jid", "x@y", "--name", "n", "--json",
                   message="unknown option --json")

    # ---- where the database and the domain come from ---------------------------------

    def test_environment_and_config_file(self):
        a, ajid = self.user("A")
        env = {"HIPPO_DATABASE": self.pg.conninfo, "HIPPO_DOMAIN": ROOMS}
        out, err = self.ok("post", "create", "--poster", ajid, "--href", "h", "--title", "t",
                           db=False, env_extra=env)
        self.assertEqual(err, f"room: {mapped(out.strip())}@{ROOMS}\n")
        # -c FILE: [database] conninfo and [component] domain, nothing else read (no secret)
        cfg = self.write_config(f"[component]\ndomain = other.example.test\n"
                                f"[database]\nconninfo = {self.pg.conninfo}\n")
        out, err = self.ok("-c", cfg, "group", "add", "--name", "C", db=False)
        self.assertEqual(err, f"room: {mapped(out.strip())}@other.example.test\n")
        # --domain wins over the file, the file over the environment
        out, err = self.ok("-c", cfg, "--domain", "x.example.test", "group", "add", "--name", "C",
                           db=False, env_extra=env)
        self.assertEqual(err, f"room: {mapped(out.strip())}@x.example.test\n")
        out, err = self.ok("-c", cfg, "group", "add", "--name", "C", db=False, env_extra=env)
        self.assertEqual(err, f"room: {mapped(out.strip())}@other.example.test\n")
        self.fails(EX_CONFIG, "-c", cfg + ".missing", "group", "add", "--name", "C", db=False,
                   message="cannot open")

    # ---- the man page ----------------------------------------------------------------

    def test_man_page_documents_every_command_and_status(self):
        r = harness.run(["man", "-l", os.path.join(harness.REPO, "docs", "hippoctl.1")],
                        env=dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="0"))
        page = re.sub(r".\x08", "", r.stdout)
        commands = re.findall(r"^  ([a-z]+(?: [a-z]+)*?)(?= [A-Z\[-]| *$| {2,})",
                              self.ok("--help", db=False)[0].split("Commands:")[1], re.M)
        self.assertGreater(len(commands), 20)
        for cmd in commands:
            self.assertIn(cmd, page)
        for word in ("HIPPO_DATABASE", "HIPPO_DOMAIN", "--json", "--domain"):
            self.assertIn(word, page)
        for status in ("64", "69", "78"):
            self.assertRegex(page, rf"(?m)^ +{status} ")


# ---- the demo ----------------------------------------------------------------------------

NS_POST = "http://dumbhippo.com/protocol/post"
NS_PREFS = "http://dumbhippo.com/protocol/prefs"
NS_MYSPACE = "http://dumbhippo.com/protocol/myspace"
NS_HOTNESS = "http://dumbhippo.com/protocol/hotness"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"


def headline(ns, name, pred=None, mtype="headline"):
    """Predicate: a message of type MTYPE from the rooms component carrying <NAME xmlns=NS>."""
    def match(stanza):
        el = stanza.find(f"{{{ns}}}{name}")
        return (stanza.tag == "{jabber:client}message" and stanza.get("type") == mtype
                and stanza.get("from") == harness.COMPONENT_DOMAIN and el is not None
                and (pred is None or pred(el)))
    return match


def hotness(value):
    return headline(NS_HOTNESS, "hotness", lambda el: el.get("value") == value)


class Demo(unittest.TestCase):
    """scripts/demo.py as a user runs it (run.sh execs it after the build)."""

    def setUp(self):
        self.lines = []
        self.cond = threading.Condition()
        build = os.path.dirname(os.path.abspath(harness.HIPPOCTL))
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(harness.REPO, "scripts", "demo.py"), "--build-dir",
             build], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", cwd=harness.REPO)
        threading.Thread(target=self.read, daemon=True).start()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        if self.proc.poll() is None:  # a failed test: stop the demo (it cleans up on SIGTERM)
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.proc.stdout.close()

    def read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF
            self.cond.notify_all()

    def wait_line(self, pred, timeout):
        """The first output line matching PRED, waiting up to TIMEOUT s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if line is not None and pred(line):
                        return line
                if None in self.lines or time.monotonic() > deadline:
                    self.fail("demo output has no such line:\n" + "\n".join(
                        x for x in self.lines if x is not None))
                self.cond.wait(1)

    def banner(self):
        """The banner's lines (between the two ===== lines)."""
        self.wait_line(lambda x: x.startswith("hippod config: "), 180)
        with self.cond:
            start = self.lines.index("=" * 78)
            return self.lines[start:self.lines.index("=" * 78, start + 1)]

    def run_hint(self, export, command):
        """Runs COMMAND as printed, in sh after the printed export line."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HIPPO_")}
        return harness.run(["sh", "-c", f"{export}\n{command}"], env=env).stdout

    def test_banner_room_hints_and_stop(self):
        lines = self.banner()
        join = [x for x in lines if x.startswith("join this room from any XMPP client"
                                                 " (TLS off, plain auth): ")]
        self.assertEqual(len(join), 1, lines)
        room = join[0].rsplit(" ", 1)[1]
        port = int(re.search(r"127\.0\.0\.1:(\d+), domain", "\n".join(lines)).group(1))
        pw = dict(re.findall(r"^  (\w+)@\S+ +password (\S+)", "\n".join(lines), re.M))
        export = next(x.strip() for x in lines if x.startswith("  export HIPPO_DATABASE="))
        self.assertNotIn(" -d ", "\n".join(lines))  # no conninfo repeated on every line
        first = lines.index("Push notifications: log in as bob and alice with the console"
                            " above, then, in order:")
        hints = [x.strip() for x in lines[first + 1:]
                 if x.startswith("  hippoctl ") or x.startswith("  for ")]
        server = types.SimpleNamespace(domain=harness.DOMAIN, c2s_port=port)
        bob = harness.Client(server, "bob", pw["bob"])
        alice = harness.Client(server, "alice", pw["alice"])
        self.clients += [bob, alice]

        # the hints, as printed, in order, with the effects they announce
        self.assertTrue(hints[0].startswith("for i in 1 2 3; do hippoctl post create"), hints)
        self.run_hint(export, hints[0])
        for i in (1, 2, 3):  # newPost is type normal (stored while offline)
            bob.wait_for(headline(NS_POST, "newPost", lambda el: el.find(
                f"{{{NS_POST}}}post/{{{NS_POST}}}title").text == f"Post {i}", "normal"), timeout=10)
        bob.wait_for(hotness("WARM"), timeout=10)
        self.assertTrue(hints[1].startswith(f"hippoctl view record {room} bob@"), hints)
        self.run_hint(export, hints[1])
        bob.wait_for(hotness("COOL"), timeout=10)
        alice.wait_for(headline(NS_POST, "livePostChanged"), timeout=10)
        expected = [("pref set", bob, headline(NS_PREFS, "prefs")),
                    ("myspace set", bob, headline(NS_MYSPACE, "mySpaceNameChanged")),
                    ("contact add", None, None),
                    ("myspace comment", bob, headline(NS_MYSPACE, "mySpaceContactComment"))]
        for hint, (words, client, pred) in zip(hints[2:], expected):
            self.assertTrue(hint.startswith("hippoctl " + words), hint)
            self.run_hint(export, hint)
            if client is not None:
                client.wait_for(pred, timeout=10)

        # the room of the join line is real: alice joins it, bob's active posts change
        alice.send(f"<presence to='{room}/alice'><x xmlns='http://jabber.org/protocol/muc'/>"
                   "</presence>")
        alice.wait_for(lambda el: el.get("from", "").startswith(room + "/") and any(
            s.get("code") == "110" for s in el.iter(f"{{{NS_MUC_USER}}}status")), timeout=10)
        bob.wait_for(headline(NS_POST, "activePostsChanged"), timeout=10)
        shown = self.run_hint(export, f"hippoctl room show {room}")
        self.assertIn(f"room: {room}", shown.splitlines())
        self.assertRegex(shown, r"(?m)^occupant: \S+\talice@example\.test\tAlice\t")

        # stopping: the last line says it is over
        for c in self.clients:
            c.close()
        self.clients = []
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.wait_line(lambda x: x.startswith("demo: stopped"), 5)
        with self.cond:
            tail = [x for x in self.lines if x is not None]
        self.assertTrue(tail[-1].startswith("demo: stopped hippod, Prosody and PostgreSQL"),
                        tail[-5:])


FAKE_MESON = """#!/bin/sh
# meson as run.sh calls it: setup creates the dir, compile prints ninja-like steps
case "$1" in
setup) mkdir -p "$2"; echo "The Meson build system" ;;
compile)
    n=${FAKE_STEPS:-40}; i=1
    while [ "$i" -le "$n" ]; do echo "[$i/$n] Compiling C object src/f$i.c.o"; i=$((i + 1)); done
    if [ -n "${FAKE_FAIL:-}" ]; then echo "src/f.c:1: error: boom"; exit 2; fi ;;
esac
"""


class RunSh(unittest.TestCase):
    """scripts/run.sh around the build, with meson and dpkg-query faked (no real build, no
    apt) and scripts/demo.py replaced by a stub that prints its arguments."""

    def setUp(self):
        self.stack = harness.Stack("run_sh")
        root = self.stack.path("tree")
        os.makedirs(os.path.join(root, "scripts"))
        for name in ("run.sh", "deps.sh"):
            with open(os.path.join(harness.REPO, "scripts", name)) as src, \
                    open(os.path.join(root, "scripts", name), "w") as dst:
                dst.write(src.read())
        self.write(os.path.join(root, "scripts", "demo.py"),
                   "import sys\nprint('demo stub', *sys.argv[1:])\n")
        bin_dir = self.stack.path("bin")
        os.makedirs(bin_dir)
        self.write(os.path.join(bin_dir, "meson"), FAKE_MESON, 0o755)
        self.write(os.path.join(bin_dir, "dpkg-query"),
                   "#!/bin/sh\nprintf 'install ok installed'\n", 0o755)
        self.run_sh = os.path.join(root, "scripts", "run.sh")
        self.env = dict(os.environ, PATH=bin_dir + ":" + os.environ["PATH"])

    def tearDown(self):
        self.stack.close()

    @staticmethod
    def write(path, text, mode=0o644):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def run_script(self, **env):
        return harness.run(["sh", self.run_sh], env=dict(self.env, **env), check=False)

    def test_build_progress_and_failure(self):
        r = self.run_script()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("run.sh: first run: configuring build/ (meson setup)", lines)
        self.assertIn("run.sh: first run: compiling hippod and hippoctl (about a minute; later"
                      " runs are quick)", lines)
        progress = [x for x in lines if x.startswith("run.sh:   ... ")]
        self.assertEqual(progress, [f"run.sh:   ... {p}0% [{4 * p}/40]" for p in range(1, 10)])
        self.assertNotIn("Compiling C object", r.stdout)  # ninja's lines stay in the log
        self.assertEqual(lines[-2:], ["run.sh: built; starting PostgreSQL, Prosody and hippod",
                                      "demo stub --build-dir build"])
        r = self.run_script()  # build/ exists now
        self.assertIn("run.sh: compiling what changed in build/", r.stdout.splitlines())
        r = self.run_script(FAKE_FAIL="1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("src/f.c:1: error: boom", r.stderr)  # the log, shown on failure
        self.assertIn("run.sh: FAILED (2): meson compile -C build", r.stderr)
        self.assertNotIn("demo stub", r.stdout)


if __name__ == "__main__":
    harness.main()
