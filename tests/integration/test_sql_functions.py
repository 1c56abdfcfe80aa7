#!/usr/bin/python3
"""sql/008_fast_functions.sql: the SQL-language functions on hippod's request paths,
redefined as PL/pgSQL, give the same answers and errors as before.

A database is migrated to 007 (the files of sql/ before 008, recorded like the runner does),
a fixture is built through the SQL API (users, groups with members of every status, posts to
the world, to users, to groups and to resources, views, ignores, favorites, room occupants),
and every converted function is run over it. Then `hippod --migrate` applies 008 and the
same calls must give the same results. The results are also checked against expectations
computed here from the fixture's rows (visibility, hotness, post payloads)."""

import collections
import decimal
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SQL_DIR = os.path.join(harness.REPO, "sql")
MIGRATIONS = sorted(f for f in os.listdir(SQL_DIR) if re.match(r"^[0-9]{3}_.*\.sql$", f))
NEW = "008_fast_functions.sql"
BEFORE_008 = [m for m in MIGRATIONS if m < NEW]
MIGRATE_TABLE = ("CREATE TABLE public.hippo_schema_migrations (name text PRIMARY KEY,"
                 " applied_at timestamptz NOT NULL DEFAULT now())")

# What 008 redefines as PL/pgSQL (regprocedure signatures).
CONVERTED = [
    "hippo.can_see_post(text,text)", "hippo.post_visible(text,text)",
    "hippo.hotness_score(text)", "hippo.hotness_level(integer)",
    "hippo.post_payload_rows(text,text[],boolean)", "hippo.normalize_architecture(text)",
    "hippo.track_digest(text[])", "hippo.normalize_jid(text)", "hippo.room_lookup(text)",
    "hippo.room_may_enter(text,text,text)", "hippo.room_user_role(text,text)",
    "hippo.outbox_claim(integer,text[])", "hippo.outbox_retire(bigint[])",
    "hippo.push_hotness_record(text[],text[])", "hippo.active_posts(text)",
    "hippo.push_active_posts_record(text[],text[])",
]
MISSING = "BCDFGHJKLMNPQR"  # well-formed, no such row
NULL = "<NULL>"
LIVE_STATUSES = ("ACTIVE", "FOLLOWER")

# Returns 'ok:VALUE' or 'error:SQLSTATE:MESSAGE' for one statement (errors are results too).
TRY_FUNCTION = """
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE q INTO r;
    RETURN 'ok:' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN 'error:' || SQLSTATE || ':' || SQLERRM;
END
$$;
"""


def lit(s):
    return "NULL" if s is None else "'" + s.replace("'", "''") + "'"


def arr(items, cast="text[]"):
    return "ARRAY[" + ", ".join(lit(x) for x in items) + f"]::{cast}"


class Fixture:
    """Builds the data through the SQL API and keeps the ids (index -> GUID)."""

    def __init__(self, pg):
        self.pg = pg
        q = pg.psql
        self.users = [q(f"SELECT hippo.create_user('sqlf{i}@example.test', 'User {i}')")
                      for i in range(12)]
        self.jids = [f"sqlf{i}@example.test" for i in range(12)]
        u = self.users
        self.groups = [q(f"SELECT hippo.create_group('Group {i}')") for i in range(4)]
        g = self.groups
        self.resource = q("SELECT hippo.create_resource('friend@mail.example')")
        # every status: g0 has one member of each; REMOVED through the API, the statuses
        # the API cannot set by hand
        statuses = {(0, 1): "ACTIVE", (0, 2): "FOLLOWER", (0, 3): "INVITED",
                    (0, 4): "INVITED_TO_FOLLOW", (0, 5): "REMOVED", (1, 2): "ACTIVE",
                    (1, 6): "ACTIVE", (1, 7): "FOLLOWER", (3, 8): "REMOVED", (3, 9): "ACTIVE",
                    (3, 0): "INVITED"}
        for (gi, ui), st in statuses.items():
            q(f"SELECT hippo.add_group_member('{g[gi]}', '{u[ui]}')")
            if st == "REMOVED":
                q(f"SELECT hippo.remove_group_member('{g[gi]}', '{u[ui]}')")
            elif st != "ACTIVE":
                q(f"UPDATE hippo.group_members SET status = '{st}'"
                  f" WHERE group_id = '{g[gi]}' AND user_id = '{u[ui]}'")
        r = self.resource
        # (poster, recipients, to_world, minutes ago): within the hour at most 45 minutes
        # ago, older ones at least 75, so that the hotness of the snapshots taken seconds
        # apart cannot differ
        specs = [(0, [u[1]], False, 120), (0, [g[0]], False, 10), (1, [g[1], u[3]], False, 130),
                 (2, [], True, 5), (3, [r], False, 15), (4, [g[2]], False, 25),
                 (5, [g[0], g[1], u[0], r], False, 20), (6, [u[6], g[3]], False, 90),
                 (9, [g[3]], True, 30), (10, [u[11], u[0], u[11]], False, 35)]
        specs += [(6, [g[1]], False, 2 * i) for i in range(22)]     # many for u2 and u7
        specs += [(11, [u[0]], False, 40 + i) for i in range(5)]    # some for u0
        specs += [(7, [g[1], g[0]], False, 80 + i) for i in range(3)]
        specs += [(3, [u[1]], False, 12)]
        self.posts = []
        for i, (poster, recips, world, ago) in enumerate(specs):
            pid = q(f"SELECT hippo.create_post('{u[poster]}', 'http://example.com/{i}?a=1&b=2',"
                    f" 'Post {i}', 'Body {i}', {arr(recips)}, {'true' if world else 'false'})")
            q(f"UPDATE hippo.posts SET created_at = now() - interval '{ago} minutes'"
              f" WHERE id = '{pid}'")
            self.posts.append(pid)
        p = self.posts
        q(f"UPDATE hippo.posts SET info = '<postInfo><x/></postInfo>' WHERE id = '{p[1]}'")
        # views (several per post, for the recent viewers), ignores, favorites
        views = [(1, 0), (1, 1), (1, 2), (6, 0), (6, 1), (6, 2), (6, 6), (6, 7), (3, 4),
                 (3, 5), (3, 8), (3, 9), (3, 10), (3, 11), (3, 0)]
        views += [(10 + i, 2) for i in range(6)] + [(16, 7), (30, 7)]
        for pi, ui in views:
            q(f"SELECT hippo.record_view('{p[pi]}', '{u[ui]}')")
        for pi, ui in [(16 + i, 2) for i in range(4)] + [(1, 1), (9, 11), (32, 0)]:
            self.assert_true(q(f"SELECT hippo.set_post_ignored('{p[pi]}', '{u[ui]}', true)"))
        self.assert_true(q(f"SELECT hippo.set_post_ignored('{p[1]}', '{u[2]}', false)"))
        q(f"UPDATE hippo.person_post SET favorite = true"
          f" WHERE (post_id, user_id) IN (('{p[1]}', '{u[0]}'), ('{p[6]}', '{u[7]}'))")
        # occupants: live numbers and active posts
        for pi, ui, res, role in [(10, 7, "a", "participant"), (10, 2, "a", "visitor"),
                                  (11, 2, "a", "visitor"), (11, 2, "b", "participant"),
                                  (12, 7, "a", "visitor"), (6, 0, "a", "participant"),
                                  (3, 4, "a", "visitor")]:
            st = q(f"SELECT status FROM hippo.room_join('{p[pi]}', '{self.jids[ui]}/{res}',"
                   f" '{role}', 'muc', false, NULL, 0, NULL) WHERE what = 'status'")
            if st != "joined":
                raise AssertionError(f"room_join {pi} {ui}: {st}")

    @staticmethod
    def assert_true(v):
        if v != "t":
            raise AssertionError(f"expected t, got {v!r}")


def run_psql(pg, script):
    """One psql session; NULL shown as <NULL>; returns stdout."""
    cmd = ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.conninfo, "-f", "-"]
    return harness.run(cmd, input=f"\\pset null {NULL}\n" + script, timeout=120).stdout


def snapshot(pg, fx):
    """{name: output} of every converted function over the fixture, in one session."""
    u, p, g = fx.users, fx.posts, fx.groups
    all_posts = arr(list(reversed(p)) + [p[3], MISSING, "bad id!", None])
    odd_posts = [None, "", "bad id!", MISSING, p[0], p[3]]
    odd_users = [None, "", "bad id!", MISSING, g[0], u[0], u[1]]
    tries = []
    for fn in ("can_see_post", "post_visible"):
        for pid in odd_posts:
            for uid in odd_users:
                tries.append(f"SELECT hippo.{fn}({lit(pid)}, {lit(uid)})")
    tries += [f"SELECT hippo.hotness({lit(x)})" for x in (None, "bad", MISSING, u[2])]
    props = [[None] * 10, [""] * 10, ["FILE", "MP3", "Song", "Band", None, None, "215", None,
                                       "4", None],
             ["file", " MP3 ", "Song", "Band", "", None, "215", None, "4", "x;y"],
             ["UNKNOWN", None, "Ünïcödé ♫", None, None, "http://example.com/s", None, "-1",
              None, None]]
    tries += [f"SELECT hippo.track_digest({arr(x)})" for x in props]
    tries += ["SELECT hippo.track_digest(NULL)", "SELECT hippo.track_digest('{a,b}')",
              "SELECT hippo.track_digest('{{a,b},{c,d},{e,f},{g,h},{i,j}}')"]
    tries += [f"SELECT hippo.room_may_enter({lit(k)}, {lit(x)}, {lit(u[2])})"
              for k in ("post", "group", "other", None) for x in (p[0], g[0], MISSING)]
    parts = {
        "can_see_post": "SELECT p.id, u.id, hippo.can_see_post(p.id, u.id)"
                        " FROM hippo.posts p CROSS JOIN hippo.users u ORDER BY 1, 2",
        "post_visible": "SELECT p.id, u.id, hippo.post_visible(p.id, u.id)"
                        " FROM hippo.posts p CROSS JOIN hippo.users u ORDER BY 1, 2",
        "tries": "SELECT q, pg_temp.try(q) FROM unnest(" + arr(tries) + ") AS q",
        "hotness": "SELECT u.id, hippo.hotness_score(u.id),"
                   " hippo.hotness_level(hippo.hotness_score(u.id)), hippo.hotness(u.id)"
                   " FROM hippo.users u ORDER BY 1",
        "hotness_level": "SELECT s, hippo.hotness_level(s) FROM generate_series(-2, 20) s"
                         " UNION ALL SELECT NULL, hippo.hotness_level(NULL)",
        "normalize_architecture": "SELECT a, hippo.normalize_architecture(a) FROM unnest("
                                  + arr([None, "", "  ", " I686 ", "i386", "i786", "x86",
                                         "IA32", "AMD64", "x86-64", "x64", "PowerPC", "ppc",
                                         "powerpc64", "PPC64", "sparc", " Arm64 "])
                                  + ") AS a",
        "normalize_jid": "SELECT s, hippo.normalize_jid(s) FROM unnest("
                         + arr([None, "", "a@b", " A@B.Example/Res/x ", "a@b@c", "nobody",
                                "a b@c", "@b", "a@"]) + ") AS s",
        "payload_live": "SELECT u.id, x.* FROM hippo.users u CROSS JOIN LATERAL"
                        f" hippo.post_payload_rows(u.id, {all_posts}, true) AS x"
                        " ORDER BY u.id, x.ord NULLS FIRST, x.kind, x.id",
        "payload_plain": "SELECT u.id, x.* FROM hippo.users u CROSS JOIN LATERAL"
                         f" hippo.post_payload_rows(u.id, {all_posts}, false) AS x"
                         " ORDER BY u.id, x.ord NULLS FIRST, x.kind, x.id",
        "payload_odd": "SELECT 1, * FROM hippo.post_payload_rows(NULL, " + all_posts + ", true)"
                       " UNION ALL SELECT 2, * FROM hippo.post_payload_rows("
                       + lit(MISSING) + ", " + all_posts + ", NULL)"
                       " UNION ALL SELECT 3, * FROM hippo.post_payload_rows("
                       + lit(u[0]) + ", NULL, true)"
                       " UNION ALL SELECT 4, * FROM hippo.post_payload_rows("
                       + lit(u[0]) + ", '{}', true) ORDER BY 1, 3 NULLS FIRST, 2, 4",
        "room_lookup": "SELECT x, l.* FROM unnest(" + arr(p[:4] + g + [MISSING, None])
                       + ") AS x CROSS JOIN LATERAL hippo.room_lookup(x) AS l",
        "room_may_enter": "SELECT r.k, r.id, u.id, hippo.room_may_enter(r.k, r.id, u.id)"
                          " FROM (SELECT 'post' AS k, id FROM hippo.posts UNION ALL"
                          " SELECT 'group', id FROM hippo.groups) r CROSS JOIN hippo.users u"
                          " ORDER BY 1, 2, 3",
        "room_user_role": "SELECT p.id, u.id, hippo.room_user_role(p.id, u.id)"
                          " FROM hippo.posts p CROSS JOIN hippo.users u ORDER BY 1, 2",
        "active_posts": "SELECT u.id, hippo.active_posts(u.id) FROM hippo.users u"
                        " UNION ALL SELECT 'x', hippo.active_posts(NULL) ORDER BY 1",
        "push_records": f"""BEGIN;
            DELETE FROM hippo.push_hotness_sent;
            DELETE FROM hippo.push_active_posts_sent;
            SELECT pg_typeof(hippo.push_hotness_record({arr([u[0], u[1], MISSING])},
                                                       ARRAY['HOT', 'COOL', 'WARM']));
            SELECT pg_typeof(hippo.push_hotness_record({arr([u[0]])}, ARRAY['COLD']));
            SELECT pg_typeof(hippo.push_hotness_record(NULL, NULL));
            SELECT user_id, value FROM hippo.push_hotness_sent ORDER BY 1;
            SELECT pg_typeof(hippo.push_active_posts_record(
                {arr([u[0], u[1], MISSING])}, {arr([p[0] + ' ' + p[1], '', p[2]])}));
            SELECT pg_typeof(hippo.push_active_posts_record({arr([u[1]])}, {arr([p[3]])}));
            SELECT user_id, post_ids FROM hippo.push_active_posts_sent ORDER BY 1;
            ROLLBACK""",
        "outbox": f"""BEGIN;
            DELETE FROM hippo.outbox;
            SELECT count(hippo.outbox_emit(x.k, NULL, {lit(u[0])}, NULL) ORDER BY x.n)
            FROM unnest(ARRAY['prefs', 'hotness', 'prefs', 'live_post']) WITH ORDINALITY AS x(k, n);
            CREATE TEMP TABLE base AS SELECT min(id) AS b FROM hippo.outbox;
            SELECT c.id - base.b, c.kind, c.user_id FROM base,
                   hippo.outbox_claim(2, ARRAY['prefs', 'hotness']) AS c ORDER BY 1;
            SELECT c.id - base.b, c.kind FROM base,
                   hippo.outbox_claim(10, ARRAY['prefs']) AS c ORDER BY 1;
            SELECT id - base.b, claimed_pid = pg_backend_pid() FROM hippo.outbox, base ORDER BY 1;
            SELECT hippo.outbox_retire(ARRAY(SELECT id FROM hippo.outbox ORDER BY id));
            SELECT hippo.outbox_retire(NULL);
            SELECT id - base.b, kind FROM hippo.outbox, base ORDER BY 1;
            ROLLBACK""",
        "languages": "SELECT f, l.lanname FROM unnest(" + arr(CONVERTED) + ") AS f"
                     " JOIN pg_proc p ON p.oid = f::regprocedure"
                     " JOIN pg_language l ON l.oid = p.prolang",
        "attributes": "SELECT f::text, p.prorettype::regtype, p.provolatile, p.proisstrict,"
                      " p.prosecdef, p.proparallel, p.proretset, p.procost, p.prorows,"
                      " p.proargnames, p.proargmodes, p.proallargtypes::regtype[],"
                      " obj_description(p.oid, 'pg_proc')"
                      " FROM unnest(" + arr(CONVERTED) + ") AS f"
                      " JOIN pg_proc p ON p.oid = f::regprocedure ORDER BY 1",
    }
    script = TRY_FUNCTION
    for name, sql in parts.items():
        script += f"\\echo ==== {name}\n{sql};\n"
    out = run_psql(pg, script)
    result = {}
    for chunk in out.split("==== ")[1:]:
        name, _, body = chunk.partition("\n")
        result[name] = body
    if set(result) != set(parts):
        raise AssertionError(f"snapshot parts missing: {set(parts) - set(result)}")
    return result


def rows(text):
    return [line.split("|") for line in text.splitlines() if line != ""]


class Data:
    """The fixture's rows, read back, and the expectations computed from them."""

    def __init__(self, pg):
        def table(sql):
            return rows(run_psql(pg, sql + ";\n"))

        self.now = decimal.Decimal(table("SELECT extract(epoch FROM now())")[0][0])
        self.posts = {r[0]: {"poster": r[1], "href": r[2], "title": r[3], "body": r[4],
                             "world": r[5] == "t", "at": decimal.Decimal(r[6]),
                             "date": r[7], "info": r[8]}
                      for r in table("SELECT id, poster_id, href, title, body, to_world,"
                                     " extract(epoch FROM created_at),"
                                     " floor(extract(epoch FROM created_at))::bigint, info"
                                     " FROM hippo.posts")}
        self.recips = collections.defaultdict(list)  # post -> [(position, kind, id)]
        for r in table("SELECT post_id, position, user_id, group_id, resource_id"
                       " FROM hippo.post_recipients"):
            kind, rid = next((k, v) for k, v in zip("ugr", r[2:]) if v != NULL)
            self.recips[r[0]].append((int(r[1]), kind, rid))
        self.members = collections.defaultdict(dict)  # group -> {user: status}
        for gid, uid, st in table("SELECT group_id, user_id, status FROM hippo.group_members"):
            self.members[gid][uid] = st
        self.views = collections.defaultdict(list)  # post -> [(at, user)]
        for pid, uid, at in table("SELECT post_id, user_id, extract(epoch FROM first_viewed_at)"
                                  " FROM hippo.post_views"):
            self.views[pid].append((decimal.Decimal(at), uid))
        self.person = {(r[0], r[1]): (r[2] == "t", r[3] == "t")
                       for r in table("SELECT post_id, user_id, favorite, ignored"
                                      " FROM hippo.person_post")}
        self.users = {r[0]: (r[1], r[2]) for r in
                      table("SELECT id, name, photo_version FROM hippo.users")}
        self.groups = {r[0]: (r[1], r[2]) for r in
                       table("SELECT id, name, photo_version FROM hippo.groups")}
        self.resources = {r[0]: r[1] for r in table("SELECT id, name FROM hippo.resources")}
        self.occupants = collections.defaultdict(lambda: collections.defaultdict(bool))
        for room, uid, role in table("SELECT room_id, user_id, role FROM hippo.room_occupants"
                                     " WHERE kind = 'post'"):
            self.occupants[room][uid] |= role == "participant"

    def addressed(self, pid, uid):
        """uid is a user recipient or a live member of a recipient group of pid."""
        for _, kind, rid in self.recips[pid]:
            if kind == "u" and rid == uid:
                return True
            if kind == "g" and self.members[rid].get(uid) in LIVE_STATUSES:
                return True
        return False

    def can_see(self, pid, uid):
        p = self.posts[pid]
        return p["world"] or p["poster"] == uid or self.addressed(pid, uid)

    def received(self, uid, limit):
        got = [pid for pid, p in self.posts.items()
               if p["poster"] != uid and self.addressed(pid, uid)]
        got.sort(key=lambda pid: (self.posts[pid]["at"], pid), reverse=True)
        return got[:limit]

    def hotness_score(self, uid):
        return sum(1 for pid in self.received(uid, 20)
                   if self.posts[pid]["at"] > self.now - 3600
                   and uid not in {v for _, v in self.views[pid]}
                   and not self.person.get((pid, uid), (False, False))[1])

    @staticmethod
    def level(score):
        for limit, name in ((1, "COLD"), (4, "COOL"), (8, "WARM"), (16, "GETTING_HOT")):
            if score < limit:
                return name
        return "HOT"

    def payload(self, viewer, requested, live):
        """The rows post_payload_rows should return (as psql prints them, viewer first)."""
        order = {}
        for i, pid in enumerate(requested, 1):
            if pid is not None and pid in self.posts and pid not in order:
                order[pid] = i
        visible = [pid for pid in order if self.can_see(pid, viewer)]
        users, groups, resources, posts = set(), set(), set(), []
        for pid in visible:
            p = self.posts[pid]
            users.add(p["poster"])
            tokens = []
            for _, kind, rid in sorted(self.recips[pid]):
                tokens.append(f"{kind}:{rid}")
                {"u": users, "g": groups, "r": resources}[kind].add(rid)
            fav, ign = self.person.get((pid, viewer), (False, False))
            tf = {True: "t", False: "f"}
            row = ["post", str(order[pid]), pid, NULL, NULL, p["poster"], p["href"], p["title"],
                   p["body"], tf[p["world"]], p["date"], p["info"], tf[fav], tf[ign],
                   " ".join(tokens)]
            if live:
                recent = [v for _, v in sorted(self.views[pid], key=lambda x: (-x[0], x[1]))][:5]
                users.update(recent)
                occ = self.occupants[pid]
                row += [" ".join(recent), str(sum(occ.values())),
                        str(sum(not x for x in occ.values())), str(len(self.views[pid]))]
            else:
                row += [NULL] * 4
            posts.append(row)
        blank = [NULL] * 14
        out = [["group", NULL, gid, self.groups[gid][0], self.groups[gid][1]] + blank
               for gid in sorted(groups)]
        out += [["resource", NULL, rid, self.resources[rid], NULL] + blank
                for rid in sorted(resources)]
        out += [["user", NULL, uid, self.users[uid][0], self.users[uid][1]] + blank
                for uid in sorted(users)]
        out += sorted(posts, key=lambda r: int(r[1]))
        return [[viewer] + r for r in out]


class SqlFunctions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("sql_functions")
        try:
            cls.pg = cls.stack.postgres()
            cls.migrate_to_007()
            cls.fx = Fixture(cls.pg)
            cls.before = snapshot(cls.pg, cls.fx)
            cls.hippod = cls.stack.hippod(pg=cls.pg, migrate=False, start=False)
            cls.first_migrate = cls.hippod.run("--migrate")
            cls.after = snapshot(cls.pg, cls.fx)
            cls.data = Data(cls.pg)
        except BaseException:
            cls.stack.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    @classmethod
    def migrate_to_007(cls):
        cls.apply_without_008(cls.pg.conninfo, BEFORE_008)

    @staticmethod
    def apply_without_008(conninfo, names):
        """The database as a hippod without 008 leaves it: each of NAMES in a transaction,
        recorded in the runner's table."""
        script = MIGRATE_TABLE + ";\n"
        for name in names:
            with open(os.path.join(SQL_DIR, name)) as f:
                script += (f"BEGIN;\n{f.read()}\n;INSERT INTO public.hippo_schema_migrations"
                           f" (name) VALUES ({lit(name)});\nCOMMIT;\n")
        harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", "-"],
                    input=script, timeout=120)

    def q(self, sql):
        return self.pg.psql(sql)

    # ---- the migration ---------------------------------------------------------------

    def test_migrate_applies_008_to_a_database_at_007(self):
        r = self.first_migrate
        self.assertEqual(r.returncode, 0, r.stderr)
        applied = r.stdout.splitlines()
        self.assertEqual(applied, [f"applied {m}" for m in MIGRATIONS if m >= NEW])
        self.assertEqual(self.q("SELECT string_agg(name, ' ' ORDER BY name)"
                                " FROM public.hippo_schema_migrations"), " ".join(MIGRATIONS))
        for part, lang in (("before", "sql"), ("after", "plpgsql")):
            langs = rows(getattr(self, part)["languages"])
            self.assertEqual(langs, [[f, lang] for f in CONVERTED], part)

    def test_migrate_applies_008_after_later_migrations(self):
        """A database migrated by a build with the migrations after 008 but not 008."""
        self.pg.psql("CREATE DATABASE later OWNER hippo", admin=True)
        conninfo = self.pg.conninfo.replace("dbname=hippo", "dbname=later")
        self.apply_without_008(conninfo, [m for m in MIGRATIONS if m != NEW])
        h = self.stack.hippod(pg=self.pg, config={"database": {"conninfo": conninfo}},
                              migrate=False, start=False)
        r = h.run("--migrate")
        self.assertEqual((r.returncode, r.stdout), (0, f"applied {NEW}\n"), r.stderr)
        langs = harness.run(["psql", "-X", "-A", "-t", "-d", conninfo, "-c",
                             "SELECT DISTINCT l.lanname FROM unnest(" + arr(CONVERTED) + ") AS f"
                             " JOIN pg_proc p ON p.oid = f::regprocedure"
                             " JOIN pg_language l ON l.oid = p.prolang"]).stdout.split()
        self.assertEqual(langs, ["plpgsql"])
        r = h.run("--migrate")
        self.assertEqual((r.returncode, r.stdout), (0, "nothing to do\n"), r.stderr)

    def test_migrate_rerun_is_noop(self):
        stamps = self.q("SELECT name, applied_at FROM public.hippo_schema_migrations ORDER BY 1")
        defs = self.q("SELECT md5(string_agg(pg_get_functiondef(p.oid), '' ORDER BY p.oid))"
                      " FROM pg_proc p WHERE p.pronamespace = 'hippo'::regnamespace"
                      " AND p.prokind = 'f'")
        r = self.hippod.run("--migrate")
        self.assertEqual((r.returncode, r.stdout), (0, "nothing to do\n"), r.stderr)
        self.assertEqual(self.q("SELECT name, applied_at FROM public.hippo_schema_migrations"
                                " ORDER BY 1"), stamps)
        self.assertEqual(self.q("SELECT md5(string_agg(pg_get_functiondef(p.oid), ''"
                                " ORDER BY p.oid)) FROM pg_proc p WHERE p.pronamespace ="
                                " 'hippo'::regnamespace AND p.prokind = 'f'"), defs)

    def test_attributes_and_comments_unchanged(self):
        self.assertEqual(self.after["attributes"], self.before["attributes"])
        self.assertEqual(len(rows(self.after["attributes"])), len(CONVERTED))
        config = rows(self.q("SELECT f, array_to_string(p.proconfig, ',') FROM unnest("
                             + arr(CONVERTED) + ") AS f JOIN pg_proc p ON p.oid = f::regprocedure"
                             " WHERE p.proconfig IS NOT NULL"))
        self.assertEqual(config, [["hippo.post_payload_rows(text,text[],boolean)",
                                   "plan_cache_mode=force_generic_plan"]])

    # ---- same results as the SQL-language definitions --------------------------------

    def test_same_results_as_before(self):
        for name in self.before:
            if name in ("attributes", "languages"):
                continue
            with self.subTest(part=name):
                self.assertNotEqual(self.before[name].strip(), "", name)
                self.assertEqual(self.after[name], self.before[name])

    # ---- against expectations computed from the fixture -------------------------------

    def test_can_see_post_is_the_audience_rule(self):
        got = rows(self.after["can_see_post"])
        self.assertEqual(len(got), len(self.data.posts) * len(self.data.users))
        for pid, uid, seen in got:
            self.assertEqual(seen == "t", self.data.can_see(pid, uid), (pid, uid))
        # the set semantics of post_audience (unchanged by 008)
        mismatch = self.q("SELECT count(*), count(*) FILTER (WHERE hippo.can_see_post(p.id, u.id)"
                          " IS DISTINCT FROM (p.to_world OR u.id IN"
                          " (SELECT hippo.post_audience(p.id)))) FROM hippo.posts p"
                          " CROSS JOIN hippo.users u")
        self.assertEqual(mismatch, f"{len(got)}|0")
        self.assertEqual({s for _, _, s in got}, {"t", "f"})

    def test_visibility_odd_arguments(self):
        tries = dict(rows(self.after["tries"]))
        fx = self.fx
        p0, world, u0, u1 = fx.posts[0], fx.posts[3], fx.users[0], fx.users[1]
        cases = {
            f"SELECT hippo.can_see_post(NULL, {lit(u0)})":
                "error:22023:post id must not be NULL",
            f"SELECT hippo.can_see_post('bad id!', {lit(u0)})":
                'error:22023:bad post id "bad id!": a GUID is 14 characters of [A-Za-z0-9]',
            f"SELECT hippo.can_see_post('{MISSING}', {lit(u0)})":
                f'error:P0002:unknown post id "{MISSING}"',
            f"SELECT hippo.can_see_post('{MISSING}', NULL)":
                f'error:P0002:unknown post id "{MISSING}"',
            f"SELECT hippo.can_see_post({lit(p0)}, NULL)": "ok:false",
            f"SELECT hippo.can_see_post({lit(p0)}, '{MISSING}')": "ok:false",
            f"SELECT hippo.can_see_post({lit(p0)}, 'bad id!')": "ok:false",
            f"SELECT hippo.can_see_post({lit(p0)}, {lit(u0)})": "ok:true",   # poster
            f"SELECT hippo.can_see_post({lit(p0)}, {lit(u1)})": "ok:true",   # recipient
            f"SELECT hippo.can_see_post({lit(world)}, NULL)": "ok:true",
            f"SELECT hippo.can_see_post({lit(world)}, 'bad id!')": "ok:true",
            f"SELECT hippo.post_visible(NULL, {lit(u0)})": "ok:false",
            f"SELECT hippo.post_visible('bad id!', {lit(u0)})": "ok:false",
            f"SELECT hippo.post_visible('{MISSING}', {lit(u0)})": "ok:false",
            f"SELECT hippo.post_visible({lit(p0)}, NULL)": "ok:false",
            f"SELECT hippo.post_visible({lit(world)}, NULL)": "ok:true",
            f"SELECT hippo.post_visible({lit(p0)}, {lit(u1)})": "ok:true",
            "SELECT hippo.hotness(NULL)": "error:22023:user id must not be NULL",
            f"SELECT hippo.hotness('{MISSING}')": f'error:P0002:unknown user id "{MISSING}"',
            "SELECT hippo.track_digest(NULL)":
                "error:22023:track props must be a text[] of 10 values (hippo.track_keys() order)",
        }
        for sql, want in cases.items():
            with self.subTest(sql=sql):
                self.assertEqual(tries[sql], want)
        visible = rows(self.after["post_visible"])
        for pid, uid, seen in visible:
            self.assertEqual(seen == "t", self.data.can_see(pid, uid), (pid, uid))

    def test_hotness(self):
        got = rows(self.after["hotness"])
        self.assertEqual(len(got), len(self.data.users))
        levels = set()
        for uid, score, level, hotness in got:
            want = self.data.hotness_score(uid)
            self.assertEqual(int(score), want, uid)
            self.assertEqual((level, hotness), (Data.level(want),) * 2, uid)
            levels.add(level)
        # the fixture reaches every level
        self.assertEqual(levels, {"COLD", "COOL", "WARM", "GETTING_HOT", "HOT"})
        thresholds = rows(self.after["hotness_level"])
        self.assertEqual(len(thresholds), 24)
        for s, level in thresholds:
            self.assertEqual(level, "COLD" if s == NULL else Data.level(int(s)), s)

    def test_post_payload_rows(self):
        fx = self.fx
        requested = list(reversed(fx.posts)) + [fx.posts[3], MISSING, "bad id!", None]
        for part, live in (("payload_live", True), ("payload_plain", False)):
            got = rows(self.after[part])
            want = [r for uid in sorted(fx.users) for r in self.data.payload(uid, requested, live)]
            with self.subTest(part=part):
                self.assertEqual(len(got), len(want))
                for g, w in zip(got, want):
                    self.assertEqual(g, w)
        kinds = {r[1] for r in rows(self.after["payload_live"])}
        self.assertEqual(kinds, {"user", "group", "resource", "post"})

    def test_normalize_architecture(self):
        want = {NULL: NULL, "": NULL, "  ": NULL, " I686 ": "x86", "i386": "x86",
                "i786": "i786", "x86": "x86", "IA32": "x86", "AMD64": "x86_64",
                "x86-64": "x86_64", "x64": "x86_64", "PowerPC": "ppc", "ppc": "ppc",
                "powerpc64": "ppc64", "PPC64": "ppc64", "sparc": "sparc", " Arm64 ": "arm64"}
        self.assertEqual(dict(rows(self.after["normalize_architecture"])), want)

    def test_room_functions(self):
        fx, data = self.fx, self.data
        lookup = rows(self.after["room_lookup"])
        self.assertEqual(lookup[0], [fx.posts[0], "post", "Post 0", NULL])
        self.assertEqual(lookup[4], [fx.groups[0], "group", "Group 0", "0"])
        self.assertEqual(lookup[-2:], [[MISSING, NULL, NULL, NULL], [NULL, NULL, NULL, NULL]])
        for kind, room, uid, may in rows(self.after["room_may_enter"]):
            want = (data.can_see(room, uid) if kind == "post"
                    else data.members[room].get(uid) in LIVE_STATUSES)
            self.assertEqual(may == "t", want, (kind, room, uid))
        roles = collections.Counter(r[2] for r in rows(self.after["room_user_role"]))
        self.assertEqual(roles, {"nonmember": len(data.posts) * len(data.users) - 6,
                                 "participant": 3, "visitor": 3})

    def test_writers(self):
        fx = self.fx
        # a void function's value: NULL as SQL, an empty void as PL/pgSQL; hippod ignores it
        sent = [line for line in self.after["push_records"].splitlines() if line != "void"]
        self.assertEqual(self.after["push_records"].count("void\n"), 5)
        self.assertEqual(sent[:2], sorted([f"{fx.users[0]}|COLD", f"{fx.users[1]}|COOL"]))
        self.assertEqual(sorted(sent[2:]), sorted(
            [f"{fx.users[0]}|{{{fx.posts[0]},{fx.posts[1]}}}", f"{fx.users[1]}|{{{fx.posts[3]}}}"]))
        self.assertEqual([line for line in self.after["outbox"].splitlines() if line], [
            "4", "0|prefs|" + fx.users[0], "1|hotness|" + fx.users[0], "2|prefs", "0|t", "1|t",
            "2|t", "3|" + NULL, "3", "0", "3|live_post"])

    # ---- indexes for can_see_post's probes ---------------------------------------------

    def test_probes_use_indexes(self):
        p, u = self.fx.posts[2], self.fx.users[6]
        probes = [
            f"SELECT p.poster_id, p.to_world FROM hippo.posts p WHERE p.id = '{p}'",
            f"SELECT FROM hippo.post_recipients r WHERE r.post_id = '{p}' AND r.user_id = '{u}'",
            f"SELECT FROM hippo.post_recipients r JOIN hippo.group_members m"
            f" ON m.group_id = r.group_id WHERE r.post_id = '{p}' AND m.user_id = '{u}'"
            f" AND m.status IN ('ACTIVE', 'FOLLOWER')",
        ]
        for sql in probes:
            with self.subTest(sql=sql):
                plan = self.q(f"SET enable_seqscan = off; EXPLAIN (COSTS OFF) {sql}")
                self.assertNotIn("Seq Scan", plan)
                self.assertIn("Index", plan)


if __name__ == "__main__":
    unittest.main(verbosity=2)
