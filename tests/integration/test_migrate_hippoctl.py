#!/usr/bin/python3
"""The migration runner (hippoctl migrate, hippod --migrate), the SQL API of schema hippo
(sql/001_core.sql) and every hippoctl command, against a throwaway PostgreSQL."""

import os
import random
import re
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Every migration of sql/, in order: later features add their own.
MIGRATIONS = sorted(f for f in os.listdir(os.path.join(harness.REPO, "sql"))
                    if f.endswith(".sql"))
APPLIED_ALL = "".join(f"applied {m}\n" for m in MIGRATIONS)

ALPHABET = "ABCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789"
GUID_RE = re.compile(r"^[A-Za-z0-9]{14}$")
GEN_RE = re.compile("^[" + ALPHABET + "]{14}$")
EX_USAGE = 64
EX_CONFIG = 78

# Every command `hippoctl --help` must list (the brief's set plus the extras).
COMMANDS = [
    "migrate", "user add", "user list", "user show", "group add", "group list", "group show",
    "group member add", "group member remove", "resource add", "resource list", "post create",
    "post list", "post show", "view record", "pref set", "pref unset", "pref list",
    "myspace set", "room show",
]


def guid_from_bytes(raw):
    """Reference encoder: two 40-bit big-endian chunks, 7 base-53 digits each."""
    out = ""
    for off in (0, 5):
        chunk = int.from_bytes(raw[off:off + 5], "big")
        digits = ""
        for _ in range(7):
            digits = ALPHABET[chunk % 53] + digits
            chunk //= 53
        out += digits
    return out


def uniq(prefix):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def sql_lit(s):
    return "'" + s.replace("'", "''") + "'"


class MigrateAndCtl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("migrate_hippoctl")
        cls.pg = cls.stack.postgres()
        # The first migration of a fresh database, checked in test_migrate_applies.
        cls.first_migrate = cls.ctl_run("migrate")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    # ---- helpers ---------------------------------------------------------------------

    @classmethod
    def ctl_run(cls, *args, conninfo=None, env=None, use_db=True):
        """Runs hippoctl (with -d CONNINFO unless USE_DB is false); returns CompletedProcess."""
        cmd = [harness.HIPPOCTL]
        if use_db:
            cmd += ["-d", conninfo or cls.pg.conninfo]
        return harness.run(cmd + [str(a) for a in args], env=env, check=False)

    def ctl(self, *args):
        """hippoctl ARGS that must succeed; returns stdout stripped. Only the room note of
        post create and group add (test_hippoctl_cli.py) may appear on stderr."""
        r = self.ctl_run(*args)
        self.assertEqual(r.returncode, 0, f"hippoctl {args}: {r.stderr}")
        self.assertEqual(re.sub(r"(?m)^room node: .*\n", "", r.stderr), "",
                         f"hippoctl {args} wrote to stderr")
        return r.stdout.strip()

    def ctl_fails(self, status, *args, message=None):
        """hippoctl ARGS must exit with STATUS and (if given) print MESSAGE on stderr."""
        r = self.ctl_run(*args)
        self.assertEqual(r.returncode, status, f"hippoctl {args}: {r.stdout} {r.stderr}")
        if message is not None:
            self.assertIn(message, r.stderr)
        return r

    def q(self, sql):
        return self.pg.psql(sql)

    def sql_fails(self, sql, message):
        with self.assertRaises(harness.CommandError) as cm:
            self.pg.psql(sql)
        self.assertIn(message, cm.exception.stderr)

    def new_database(self):
        name = uniq("db_")
        self.pg.psql(f"CREATE DATABASE {name} OWNER hippo", admin=True)
        return name, self.pg.conninfo.replace("dbname=hippo", f"dbname={name}")

    def psql_db(self, conninfo, sql):
        return harness.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                            conninfo, "-c", sql]).stdout.strip()

    def make_user(self, name="U"):
        return self.q(f"SELECT hippo.create_user({sql_lit(uniq('u') + '@example.test')},"
                      f" {sql_lit(name)})")

    # ---- migrations ------------------------------------------------------------------

    def test_migrate_applies(self):
        r = self.first_migrate
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, APPLIED_ALL)
        self.assertEqual(self.q("SELECT name FROM public.hippo_schema_migrations ORDER BY name"),
                         "\n".join(MIGRATIONS))
        tables = set(self.q("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables"
                            " WHERE schemaname = 'hippo'").split(","))
        self.assertLessEqual({"group_members", "groups", "myspace_names", "person_post",
                              "post_recipients", "post_views", "posts", "prefs", "resources",
                              "users"}, tables)

    def test_migrate_rerun_is_noop(self):
        before = self.q("SELECT name, applied_at FROM public.hippo_schema_migrations")
        objects = self.q("SELECT count(*) FROM pg_class c JOIN pg_namespace n"
                         " ON n.oid = c.relnamespace WHERE n.nspname = 'hippo'")
        self.assertEqual(self.ctl("migrate"), "nothing to do")
        self.assertEqual(self.ctl("migrate"), "nothing to do")
        self.assertEqual(self.q("SELECT name, applied_at FROM public.hippo_schema_migrations"),
                         before)
        self.assertEqual(self.q("SELECT count(*) FROM pg_class c JOIN pg_namespace n"
                                " ON n.oid = c.relnamespace WHERE n.nspname = 'hippo'"), objects)

    def test_migrate_concurrent_runners_apply_once(self):
        _, conninfo = self.new_database()
        cmd = [harness.HIPPOCTL, "-d", conninfo, "migrate"]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, err)
        results = sorted(out for out, _ in outs)
        self.assertEqual(results, [APPLIED_ALL] + ["nothing to do\n"] * 3)
        self.assertEqual(self.psql_db(conninfo, "SELECT count(*) FROM hippo_schema_migrations"),
                         str(len(MIGRATIONS)))

    def test_migrate_failure_rolls_back_and_names_the_migration(self):
        _, conninfo = self.new_database()
        self.psql_db(conninfo, "CREATE SCHEMA hippo; CREATE TABLE hippo.users (x int)")
        r = self.ctl_run("migrate", conninfo=conninfo)
        self.assertEqual(r.returncode, 1)
        self.assertIn("001_core.sql", r.stderr)
        self.assertIn('schema "hippo" already exists', r.stderr)
        self.assertEqual(self.psql_db(conninfo, "SELECT count(*) FROM hippo_schema_migrations"),
                         "0")
        # nothing of the failed migration is left behind: a retry after the fix succeeds
        self.assertEqual(self.psql_db(conninfo, "SELECT count(*) FROM pg_proc p JOIN"
                                      " pg_namespace n ON n.oid = p.pronamespace"
                                      " WHERE n.nspname = 'hippo'"), "0")
        self.psql_db(conninfo, "DROP SCHEMA hippo CASCADE")
        r = self.ctl_run("migrate", conninfo=conninfo)
        self.assertEqual((r.returncode, r.stdout), (0, APPLIED_ALL), r.stderr)

    def test_hippod_migrate(self):
        _, conninfo = self.new_database()
        h = self.stack.hippod(pg=self.pg, config={"database": {"conninfo": conninfo}},
                              migrate=False, start=False)
        r = h.run("--migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, APPLIED_ALL)
        self.assertEqual(self.psql_db(conninfo, "SELECT name FROM hippo_schema_migrations"
                                      " ORDER BY name"), "\n".join(MIGRATIONS))
        r = h.run("--migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nothing to do", r.stdout)
        self.assertEqual(self.psql_db(conninfo, "SELECT count(*) FROM hippo_schema_migrations"),
                         str(len(MIGRATIONS)))

    # ---- GUIDs -----------------------------------------------------------------------

    def test_new_guid_shape_and_alphabet(self):
        guids = self.q("SELECT hippo.new_guid() FROM generate_series(1, 500)").split("\n")
        self.assertEqual(len(guids), 500)
        self.assertEqual(len(set(guids)), 500)
        for g in guids:
            self.assertRegex(g, GUID_RE)
            self.assertRegex(g, GEN_RE)
            # each 7-digit chunk encodes < 2^40, so its first digit is at most 49
            self.assertLessEqual(ALPHABET.index(g[0]), 49)
            self.assertLessEqual(ALPHABET.index(g[7]), 49)
        # 80 random bits spread over the whole alphabet
        self.assertGreater(len(set("".join(guids))), 45)

    def test_guid_encoding_matches_the_reference(self):
        vectors = [bytes(10), b"\xff" * 10, bytes(range(1, 11))]
        rng = random.Random(1234)
        vectors += [bytes(rng.randrange(256) for _ in range(10)) for _ in range(40)]
        sql = " UNION ALL ".join(f"SELECT {i}, hippo.guid_from_bytes('\\x{v.hex()}'::bytea)"
                                 for i, v in enumerate(vectors))
        rows = dict(line.split("|") for line in self.q(sql + " ORDER BY 1").split("\n"))
        for i, v in enumerate(vectors):
            self.assertEqual(rows[str(i)], guid_from_bytes(v), v.hex())
        self.assertEqual(rows["0"], "AAAAAAAAAAAAAA")
        self.assertEqual(rows["1"], "6nLmTy26nLmTy2")
        self.sql_fails("SELECT hippo.guid_from_bytes('\\x00'::bytea)", "needs 10 bytes")

    # ---- SQL API ---------------------------------------------------------------------

    def test_sql_create_user_and_lookup(self):
        local = uniq("Alice")
        uid = self.q(f"SELECT hippo.create_user('{local}@Example.TEST', '  Alice  ')")
        self.assertRegex(uid, GEN_RE)
        self.assertEqual(self.q(f"SELECT jid, name, photo_version FROM hippo.users"
                                f" WHERE id = '{uid}'"),
                         f"{local.lower()}@example.test|Alice|0")
        self.assertEqual(self.q(f"SELECT hippo.user_by_jid('{local.upper()}@example.test/res')"),
                         uid)
        self.assertEqual(self.q("SELECT hippo.user_by_jid('nobody@example.test') IS NULL"), "t")

    def test_sql_groups(self):
        a, b = self.make_user("A"), self.make_user("B")
        g = self.q("SELECT hippo.create_group('Friends')")
        self.assertEqual(self.q(f"SELECT name FROM hippo.groups WHERE id = '{g}'"), "Friends")
        self.q(f"SELECT hippo.add_group_member('{g}', '{a}')")
        stamp = self.q(f"SELECT updated_at FROM hippo.group_members WHERE group_id = '{g}'")
        self.q(f"SELECT hippo.add_group_member('{g}', '{a}')")  # idempotent: row untouched
        self.assertEqual(self.q(f"SELECT user_id, status, updated_at FROM hippo.group_members"
                                f" WHERE group_id = '{g}'"), f"{a}|ACTIVE|{stamp}")
        self.q(f"SELECT hippo.add_group_member('{g}', '{b}')")
        self.q(f"SELECT hippo.remove_group_member('{g}', '{a}')")
        self.q(f"SELECT hippo.remove_group_member('{g}', '{a}')")
        self.assertEqual(self.q(f"SELECT string_agg(user_id || ':' || status, ',' ORDER BY"
                                f" status) FROM hippo.group_members WHERE group_id = '{g}'"),
                         f"{b}:ACTIVE,{a}:REMOVED")
        self.q(f"SELECT hippo.add_group_member('{g}', '{a}')")  # re-adding reactivates
        self.assertEqual(self.q(f"SELECT status FROM hippo.group_members WHERE group_id = '{g}'"
                                f" AND user_id = '{a}'"), "ACTIVE")

    def test_sql_resources(self):
        name = uniq("someone") + "@mail.example"
        r1 = self.q(f"SELECT hippo.create_resource('{name}')")
        r2 = self.q(f"SELECT hippo.create_resource('{name}')")
        self.assertRegex(r1, GEN_RE)
        self.assertEqual(r1, r2)
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.resources WHERE name = '{name}'"),
                         "1")

    def test_sql_create_post_and_audience(self):
        poster, bob, carol, dave = (self.make_user(n) for n in ("P", "B", "C", "D"))
        g = self.q("SELECT hippo.create_group('G')")
        self.q(f"SELECT hippo.add_group_member('{g}', '{carol}')")
        res = self.q(f"SELECT hippo.create_resource('{uniq('r')}@mail.example')")
        post = self.q(f"SELECT hippo.create_post('{poster}', 'http://example.com/a', 'Title',"
                      f" 'Body', ARRAY['{bob}', '{g}', '{res}', '{bob}'], false)")
        self.assertRegex(post, GEN_RE)
        self.assertEqual(self.q(f"SELECT poster_id, href, title, body, to_world, info IS NULL,"
                                f" created_at <= now() FROM hippo.posts WHERE id = '{post}'"),
                         f"{poster}|http://example.com/a|Title|Body|f|t|t")
        self.assertEqual(self.q(f"SELECT position, coalesce(user_id, '-'), coalesce(group_id,"
                                f" '-'), coalesce(resource_id, '-') FROM hippo.post_recipients"
                                f" WHERE post_id = '{post}' ORDER BY position").split("\n"),
                         [f"0|{bob}|-|-", f"1|-|{g}|-", f"2|-|-|{res}"])
        self.assertEqual(set(self.q(f"SELECT hippo.post_audience('{post}')").split("\n")),
                         {poster, bob, carol})
        self.assertEqual(self.q(f"SELECT hippo.can_see_post('{post}', '{dave}'),"
                                f" hippo.can_see_post('{post}', '{carol}')"), "f|t")
        world = self.q(f"SELECT hippo.create_post('{poster}', 'http://w', 'W', NULL, NULL,"
                       f" true)")
        self.assertEqual(self.q(f"SELECT to_world, body FROM hippo.posts WHERE id = '{world}'"),
                         "t|")
        self.assertEqual(self.q(f"SELECT hippo.can_see_post('{world}', '{dave}')"), "t")
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.post_recipients"
                                f" WHERE post_id = '{world}'"), "0")

    def test_sql_record_view(self):
        poster, bob = self.make_user(), self.make_user()
        post = self.q(f"SELECT hippo.create_post('{poster}', 'http://x', 'T', '',"
                      f" ARRAY['{bob}'], false)")
        self.q(f"SELECT hippo.record_view('{post}', '{bob}')")
        first = self.q(f"SELECT first_viewed_at FROM hippo.post_views WHERE post_id = '{post}'")
        clicked = self.q(f"SELECT clicked_at FROM hippo.person_post WHERE post_id = '{post}'")
        self.q(f"UPDATE hippo.person_post SET ignored = true WHERE post_id = '{post}'")
        self.q(f"SELECT hippo.record_view('{post}', '{bob}')")
        self.assertEqual(self.q(f"SELECT user_id, first_viewed_at FROM hippo.post_views"
                                f" WHERE post_id = '{post}'"), f"{bob}|{first}")
        # the click time stays the first one; a view un-ignores the post (postClicked)
        self.assertEqual(self.q(f"SELECT user_id, clicked_at, ignored FROM hippo.person_post"
                                f" WHERE post_id = '{post}'"), f"{bob}|{clicked}|f")

    def test_sql_prefs_and_myspace(self):
        u = self.make_user()
        self.q(f"SELECT hippo.set_pref('{u}', 'musicSharingEnabled', 'true')")
        self.q(f"SELECT hippo.set_pref('{u}', 'musicSharingEnabled', 'false')")
        self.q(f"SELECT hippo.set_pref('{u}', 'musicSharingPrimed', 'true')")
        self.assertEqual(self.q(f"SELECT key, value FROM hippo.prefs WHERE user_id = '{u}'"
                                f" ORDER BY key").split("\n"),
                         ["musicSharingEnabled|false", "musicSharingPrimed|true"])
        self.q(f"SELECT hippo.set_pref('{u}', 'musicSharingPrimed', NULL)")
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.prefs WHERE user_id = '{u}'"), "1")
        self.q(f"SELECT hippo.set_myspace_name('{u}', 'first')")
        self.q(f"SELECT hippo.set_myspace_name('{u}', 'second')")
        self.assertEqual(self.q(f"SELECT name FROM hippo.myspace_names WHERE user_id = '{u}'"),
                         "second")
        self.q(f"SELECT hippo.set_myspace_name('{u}', '')")
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.myspace_names WHERE user_id = '{u}'"),
                         "0")
        self.q(f"SELECT hippo.set_myspace_name('{u}', 'again')")
        self.q(f"SELECT hippo.set_myspace_name('{u}', NULL)")
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.myspace_names WHERE user_id = '{u}'"),
                         "0")

    def test_sql_errors(self):
        u = self.make_user()
        g = self.q("SELECT hippo.create_group('E')")
        other = self.make_user()
        post = self.q(f"SELECT hippo.create_post('{u}', 'http://x', 'T', '', ARRAY[]::text[],"
                      f" false)")
        missing = "BCDFGHJKLMNPQR"
        cases = [
            ("SELECT hippo.create_user('nojid', 'x')", 'bad jid "nojid"'),
            ("SELECT hippo.create_user('a@b/res', 'x')", 'bad jid "a@b/res"'),
            ("SELECT hippo.create_user('x@example.test', '')", "user name must not be empty"),
            ("SELECT hippo.create_group('   ')", "group name must not be empty"),
            ("SELECT hippo.create_resource(NULL)", "resource name must not be empty"),
            (f"SELECT hippo.add_group_member('{g}', '{missing}')",
             f'unknown user id "{missing}"'),
            (f"SELECT hippo.add_group_member('{missing}', '{u}')",
             f'unknown group id "{missing}"'),
            (f"SELECT hippo.add_group_member('{g}', 'short')", 'bad user id "short"'),
            (f"SELECT hippo.create_post('{missing}', 'http://x', 'T', '', NULL, false)",
             f'unknown user id "{missing}"'),
            (f"SELECT hippo.create_post('{u}', '', 'T', '', NULL, false)",
             "post href must not be empty"),
            (f"SELECT hippo.create_post('{u}', 'http://x', NULL, '', NULL, false)",
             "post title must not be empty"),
            (f"SELECT hippo.create_post('{u}', 'http://x', 'T', '', ARRAY['{missing}'], false)",
             f'unknown recipient id "{missing}"'),
            (f"SELECT hippo.create_post('{u}', 'http://x', 'T', '', ARRAY['bad-id!'], false)",
             'bad recipient id "bad-id!"'),
            (f"SELECT hippo.record_view('{missing}', '{u}')", f'unknown post id "{missing}"'),
            (f"SELECT hippo.record_view('{post}', '{other}')",
             f'user "{other}" may not see post "{post}"'),
            (f"SELECT hippo.set_pref('{u}', '', 'v')", "pref key must not be empty"),
            (f"SELECT hippo.set_pref('{missing}', 'k', 'v')", f'unknown user id "{missing}"'),
            ("SELECT hippo.set_myspace_name(NULL, 'x')", "user id must not be NULL"),
        ]
        for sql, message in cases:
            with self.subTest(sql=sql):
                self.sql_fails(sql, message)
        jid = self.q(f"SELECT jid FROM hippo.users WHERE id = '{u}'")
        self.sql_fails(f"SELECT hippo.create_user('{jid.upper()}', 'dup')",
                       f'a user with jid "{jid}" already exists')
        # a failed create_post leaves nothing behind
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.posts WHERE poster_id = '{u}'"), "1")

    # ---- hippoctl --------------------------------------------------------------------

    def test_ctl_users(self):
        local = uniq("Zed")
        uid = self.ctl("user", "add", "--jid", f"{local}@example.test", "--name", "Zed Z")
        self.assertRegex(uid, GEN_RE)
        self.assertEqual(self.q(f"SELECT jid, name FROM hippo.users WHERE id = '{uid}'"),
                         f"{local.lower()}@example.test|Zed Z")
        self.assertIn(f"{uid}\t{local.lower()}@example.test\tZed Z",
                      self.ctl("user", "list").split("\n"))
        for who in (uid, f"{local.upper()}@example.test"):
            show = self.ctl("user", "show", who).split("\n")
            self.assertIn(f"id: {uid}", show)
            self.assertIn(f"jid: {local.lower()}@example.test", show)
            self.assertIn("name: Zed Z", show)
        self.ctl_fails(1, "user", "add", "--jid", f"{local}@example.test", "--name", "again",
                       message="already exists")
        self.ctl_fails(1, "user", "show", "BCDFGHJKLMNPQR",
                       message='unknown user id "BCDFGHJKLMNPQR"')
        self.ctl_fails(1, "user", "show", "nobody@nowhere.test",
                       message='no user with jid "nobody@nowhere.test"')

    def test_ctl_groups_and_resources(self):
        a = self.ctl("user", "add", "--jid", uniq("a") + "@example.test", "--name", "A")
        bjid = uniq("b") + "@example.test"
        b = self.ctl("user", "add", "--jid", bjid, "--name", "B")
        g = self.ctl("group", "add", "--name", "Hikers")
        self.assertRegex(g, GEN_RE)
        self.assertEqual(self.ctl("group", "member", "add", g, a), "")
        self.ctl("group", "member", "add", g, a)
        self.ctl("group", "member", "add", g, bjid)  # a JID works as USER too
        self.assertEqual(self.q(f"SELECT string_agg(user_id || ':' || status, ',' ORDER BY"
                                f" user_id) FROM hippo.group_members WHERE group_id = '{g}'"),
                         ",".join(sorted([f"{a}:ACTIVE", f"{b}:ACTIVE"])))
        self.assertIn(f"{g}\tHikers\t2", self.ctl("group", "list").split("\n"))
        self.ctl("group", "member", "remove", g, b)
        self.assertEqual(self.q(f"SELECT status FROM hippo.group_members WHERE group_id = '{g}'"
                                f" AND user_id = '{b}'"), "REMOVED")
        show = self.ctl("group", "show", g).split("\n")
        self.assertIn("name: Hikers", show)
        self.assertIn(f"member: {b}\t{bjid}\tB\tREMOVED", show)
        self.assertIn(f"{g}\tHikers\t1", self.ctl("group", "list").split("\n"))
        self.ctl_fails(1, "group", "member", "add", "BCDFGHJKLMNPQR", a,
                       message='unknown group id "BCDFGHJKLMNPQR"')
        name = uniq("x") + "@mail.example"
        r = self.ctl("resource", "add", "--name", name)
        self.assertRegex(r, GEN_RE)
        self.assertEqual(self.ctl("resource", "add", "--name", name), r)
        self.assertIn(f"{r}\t{name}", self.ctl("resource", "list").split("\n"))
        self.assertEqual(self.q(f"SELECT id FROM hippo.resources WHERE name = '{name}'"), r)

    def test_ctl_posts_views_prefs_myspace(self):
        pjid = uniq("poster") + "@example.test"
        poster = self.ctl("user", "add", "--jid", pjid, "--name", "Poster")
        bob = self.ctl("user", "add", "--jid", uniq("bob") + "@example.test", "--name", "Bob")
        carol = self.ctl("user", "add", "--jid", uniq("c") + "@example.test", "--name", "C")
        g = self.ctl("group", "add", "--name", "Readers")
        self.ctl("group", "member", "add", g, carol)
        r = self.ctl("resource", "add", "--name", uniq("r") + "@mail.example")
        post = self.ctl("post", "create", "--poster", pjid, "--href", "http://example.com/p",
                        "--title", "A \"quoted\" title, {braces}", "--body", "hello",
                        "--to", bob, "--to", g, "--to", r, "--world")
        self.assertRegex(post, GEN_RE)
        self.assertEqual(self.q(f"SELECT poster_id, href, title, body, to_world FROM hippo.posts"
                                f" WHERE id = '{post}'"),
                         f"{poster}|http://example.com/p|A \"quoted\" title, {{braces}}|hello|t")
        self.assertEqual(self.q(f"SELECT string_agg(coalesce(user_id, group_id, resource_id),"
                                f" ',' ORDER BY position) FROM hippo.post_recipients"
                                f" WHERE post_id = '{post}'"), f"{bob},{g},{r}")
        plain = self.ctl("post", "create", "--poster", poster, "--href", "http://e/2",
                         "--title", "Two")
        self.assertEqual(self.q(f"SELECT to_world, body FROM hippo.posts WHERE id = '{plain}'"),
                         "f|")
        listed = self.ctl("post", "list", "--limit", "1000").split("\n")
        self.assertTrue(any(line.startswith(post + "\t") and line.endswith("\t" + pjid +
                            "\tA \"quoted\" title, {braces}") for line in listed), listed)
        self.assertEqual(len(self.ctl("post", "list", "--limit", "1").split("\n")), 1)

        self.assertEqual(self.ctl("view", "record", post, bob), "")
        self.ctl("view", "record", post, bob)
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.post_views WHERE post_id = '{post}'"
                                f" AND user_id = '{bob}'"), "1")
        show = self.ctl("post", "show", post).split("\n")
        self.assertIn(f"poster_jid: {pjid}", show)
        self.assertIn("total_viewers: 1", show)
        self.assertIn(f"recipient: group\t{g}\tReaders", show)
        self.assertEqual(sorted(line for line in show if line.startswith("audience: ")),
                         sorted(f"audience: {u}" for u in (poster, bob, carol)))
        self.assertTrue(any(line.startswith(f"viewer: {bob}\t") for line in show))

        self.ctl("pref", "set", bob, "musicSharingEnabled", "true")
        self.ctl("pref", "set", bob, "musicSharingEnabled", "false")
        self.ctl("pref", "set", bob, "musicSharingPrimed", "true")
        self.assertEqual(self.ctl("pref", "list", bob).split("\n"),
                         ["musicSharingEnabled\tfalse", "musicSharingPrimed\ttrue"])
        self.ctl("pref", "unset", bob, "musicSharingPrimed")
        self.assertEqual(self.q(f"SELECT key || '=' || value FROM hippo.prefs"
                                f" WHERE user_id = '{bob}'"), "musicSharingEnabled=false")

        self.ctl("myspace", "set", bob, "bobspace")
        self.assertEqual(self.q(f"SELECT name FROM hippo.myspace_names WHERE user_id = '{bob}'"),
                         "bobspace")
        self.assertIn("myspace_name: bobspace", self.ctl("user", "show", bob).split("\n"))
        self.ctl("myspace", "set", bob, "")
        self.assertEqual(self.q(f"SELECT count(*) FROM hippo.myspace_names"
                                f" WHERE user_id = '{bob}'"), "0")

    def test_ctl_errors(self):
        u = self.ctl("user", "add", "--jid", uniq("e") + "@example.test", "--name", "E")
        missing = "BCDFGHJKLMNPQR"
        self.ctl_fails(1, "post", "create", "--poster", missing, "--href", "h", "--title", "t",
                       message=f'unknown user id "{missing}"')
        self.ctl_fails(1, "post", "create", "--poster", u, "--href", "h", "--title", "t",
                       "--to", missing, message=f'unknown recipient id "{missing}"')
        # malformed values are usage errors (64) whether hippoctl or the SQL API finds them
        self.ctl_fails(EX_USAGE, "post", "create", "--poster", "xyz", "--href", "h", "--title",
                       "t", message='bad user id "xyz"')
        self.ctl_fails(EX_USAGE, "view", "record", "bad", u, message='bad post id "bad"')
        self.ctl_fails(1, "pref", "set", missing, "musicSharingEnabled", "true",
                       message="unknown user id")
        self.ctl_fails(1, "post", "show", missing, message=f'unknown post id "{missing}"')
        self.ctl_fails(EX_USAGE, "user", "add", "--jid", "not-a-jid", "--name", "x",
                       message='bad jid "not-a-jid"')
        self.ctl_fails(EX_USAGE, "group", "add", "--name", "",
                       message="group name must not be empty")
        # usage errors: exit 64, the command's usage on stderr, no database needed
        usage_cases = [
            (["user", "add", "--name", "x"], "missing --jid"),
            (["user", "add", "--jid", "a@b"], "missing --name"),
            (["user", "add", "--jid"], "missing value for --jid"),
            (["user", "add", "--bogus", "--jid", "a@b", "--name", "n"], "unknown option"),
            (["post", "create", "--href", "h", "--title", "t"], "missing --poster"),
            (["group", "member", "add", "onlyone"], "missing argument"),
            (["pref", "set", "u", "k", "v", "extra"], "too many arguments"),
            (["post", "list", "--limit", "ten"], "--limit needs a number"),
            (["user"], "incomplete or unknown command"),
            (["frobnicate"], 'unknown command "frobnicate"'),
        ]
        for args, message in usage_cases:
            with self.subTest(args=args):
                r = self.ctl_run(*args, use_db=False)
                self.assertEqual(r.returncode, EX_USAGE, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertIn("usage:", r.stderr)
                self.assertEqual(r.stdout, "")
        r = self.ctl_run(use_db=False)
        self.assertEqual(r.returncode, EX_USAGE)
        self.assertIn("missing command", r.stderr)

    def test_ctl_help_for_every_command(self):
        r = self.ctl_run("--help", use_db=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = [c for c in COMMANDS if re.search(r"^  " + re.escape(c) + r"\b", r.stdout, re.M)]
        self.assertEqual(listed, COMMANDS, r.stdout)
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                r = self.ctl_run(*cmd.split(), "--help", use_db=False)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.startswith(f"usage: hippoctl [-d CONNINFO | -c CONFIG]"
                                                    f" {cmd}"), r.stdout)
                self.assertEqual(r.stderr, "")
        r = self.ctl_run("group", "member", "--help", use_db=False)
        self.assertEqual(r.returncode, 0)
        self.assertIn("group member add GROUP USER", r.stdout)
        self.assertIn("group member remove GROUP USER", r.stdout)
        self.assertNotIn("group list", r.stdout)
        r = self.ctl_run("--version", use_db=False)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^hippoctl \d+\.\d+\.\d+\n$")

    def test_ctl_connection_sources(self):
        env = dict(os.environ)
        env.pop("HIPPO_DATABASE", None)
        r = self.ctl_run("user", "list", use_db=False, env=env)
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn("no database", r.stderr)

        u = self.ctl("user", "add", "--jid", uniq("cfg") + "@example.test", "--name", "Cfg")
        env["HIPPO_DATABASE"] = self.pg.conninfo
        r = self.ctl_run("user", "show", u, use_db=False, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"id: {u}", r.stdout)

        # -c reads [database] conninfo of a full hippod config (and wins over the env)
        env["HIPPO_DATABASE"] = "host=127.0.0.1 port=1 dbname=nope"
        h = self.stack.hippod(pg=self.pg, migrate=False, start=False)
        r = harness.run([harness.HIPPOCTL, "-c", h.config_path, "user", "show", u], env=env,
                        check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"id: {u}", r.stdout)
        cfg = self.stack.path(uniq("nodb") + ".ini")
        with open(cfg, "w") as f:
            f.write("[component]\ndomain = rooms.example.test\n")
        r = harness.run([harness.HIPPOCTL, "-c", cfg, "user", "list"], check=False)
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn("no [database] conninfo", r.stderr)
        r = harness.run([harness.HIPPOCTL, "-c", cfg + ".missing", "user", "list"], check=False)
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn("cannot open", r.stderr)

        # an unreachable database is EX_UNAVAILABLE (69) with libpq's reason
        r = self.ctl_run("user", "list", conninfo=f"host=127.0.0.1 port={harness.free_port()}"
                         " dbname=hippo user=hippo connect_timeout=5")
        self.assertEqual(r.returncode, 69)
        self.assertIn("cannot connect", r.stderr)


if __name__ == "__main__":
    harness.main()
