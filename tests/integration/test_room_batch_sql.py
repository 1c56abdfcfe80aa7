#!/usr/bin/python3
"""hippo.room_message_batch (sql/011_room_batch.sql) on a real PostgreSQL: one status row per
message in order, a run of consecutive serials per room in arrival order, each room's
recipients once (with the delivery backstop of 010, for one room and for several), nothing
stored for refused messages, and arrays of different lengths refused; hippo.commit_async;
known senders and the notifications of sql/013_room_memory.sql."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

D = "example.test"


def lit(items):
    return "'{" + ",".join('"' + x + '"' for x in items) + "}'"


class RoomBatch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack("room-batch-sql")
        cls.pg = cls.stack.postgres()
        cls.stack.hippod(pg=cls.pg, start=False)  # the migrations
        q = cls.pg.psql
        cls.u = {n: q(f"SELECT hippo.create_user('{n}@{D}', '{n.capitalize()}')")
                 for n in ("alice", "bob", "carol", "dave")}
        cls.g = q("SELECT hippo.create_group('G')")
        cls.h = q("SELECT hippo.create_group('H')")
        for n in ("alice", "bob", "carol"):
            q(f"SELECT hippo.add_group_member('{cls.g}', '{cls.u[n]}')")
        q(f"SELECT hippo.add_group_member('{cls.h}', '{cls.u['alice']}')")
        q(f"SELECT hippo.add_group_member('{cls.h}', '{cls.u['dave']}')")
        for room, n, dialect in ((cls.g, "alice", "classic"), (cls.g, "bob", "muc"),
                                 (cls.g, "carol", "classic"), (cls.h, "dave", "muc")):
            q(f"SELECT count(*) FROM hippo.room_join('{room}', '{n}@{D}/r', 'participant', "
              f"'{dialect}', true, 1000, 0, NULL)")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def batch(self, msgs, full=False):
        """Runs one batch of (room, login or JID, body, groupchat[, known]); returns its rows
        as (i, what, status, user_id, jid, serial), with FULL also (name, nick, kind)."""
        rooms = [m[0] for m in msgs]
        jids = [m[1] if "@" in m[1] else f"{m[1]}@{D}/r" for m in msgs]
        known = ['t' if len(m) > 4 and m[4] else 'f' for m in msgs]
        out = self.pg.psql(
            "SELECT b.i, (b.r).what, (b.r).status, (b.r).user_id, (b.r).jid, (b.r).serial, "
            "(b.r).name, (b.r).nick, (b.r).kind "
            f"FROM hippo.room_message_batch({lit(rooms)}, {lit(jids)}, "
            f"{lit([m[2] for m in msgs])}, {lit(['t' if m[3] else 'f' for m in msgs])}, "
            f"{lit(known)}) b")
        rows = []
        for line in out.splitlines():
            i, what, status, user, jid, serial, name, nick, kind = line.split("|")
            row = (int(i), what, status, user, jid, int(serial) if serial else None)
            rows.append(row + (name, nick, kind) if full else row)
        return rows

    def stored(self, room):
        out = self.pg.psql(f"SELECT serial, body FROM hippo.room_messages WHERE room_id = "
                           f"'{room}' ORDER BY serial")
        return [(int(s), b) for s, b in (line.split("|", 1) for line in out.splitlines())]

    def test_statuses_serials_and_recipients(self):
        g, h, u = self.g, self.h, self.u
        g0, h0 = len(self.stored(g)), len(self.stored(h))
        rows = self.batch([(h, "alice", "h1", False), (g, "alice", "g1", False),
                           (g, "bob", "g2", True), (g, "dave", "no", False),
                           (g, "nobody@nowhere", "no", False), ("ZZZZZZZZZZZZZZ", "alice", "no",
                                                                 False),
                           (h, "alice", "h2", True), (h, "dave", "h3", True)])
        status = [(r[0], r[2], r[5]) for r in rows if r[1] == "status"]
        self.assertEqual(status, [(1, "ok", h0), (2, "ok", g0), (3, "ok", g0 + 1),
                                  (4, "forbidden", None), (5, "unknown-user", None),
                                  (6, "unknown-room", None),
                                  (7, "not-occupant", None),  # alice is not in H
                                  (8, "ok", h0 + 1)])
        to = [(r[0], r[4]) for r in rows if r[1] == "to"]
        # each room's recipients once, marked with its first stored message, in that order
        self.assertEqual(to, [(1, f"dave@{D}/r"), (2, f"alice@{D}/r"), (2, f"bob@{D}/r"),
                              (2, f"carol@{D}/r")])
        self.assertEqual(self.stored(g)[g0:], [(g0, "g1"), (g0 + 1, "g2")])
        self.assertEqual(self.stored(h)[h0:], [(h0, "h1"), (h0 + 1, "h3")])
        self.assertEqual(self.pg.psql(f"SELECT next_serial FROM hippo.rooms WHERE room_id = "
                                      f"'{g}'"), str(g0 + 2))
        self.assertEqual(rows[0][3], u["alice"])

    def test_known_senders_are_only_checked_for_presence(self):
        """sql/013: a known sender still present gets a 'known' row and its room no rows; one
        that is not present any more (or never was) is checked in full, and its room's
        resources come back after a 'room' row, with their users."""
        g, h, u = self.g, self.h, self.u
        g0, h0 = len(self.stored(g)), len(self.stored(h))
        rows = self.batch([(g, "bob", "k1", True, True), (g, "alice", "k2", False, True)],
                          full=True)
        self.assertEqual([r[:6] for r in rows],
                         [(1, "known", "ok", u["bob"], "", g0),
                          (2, "known", "ok", u["alice"], "", g0 + 1)])
        self.assertEqual(rows[0][8], "group")
        self.assertEqual(self.stored(g)[g0:], [(g0, "k1"), (g0 + 1, "k2")])
        # dave claims known in G (he is not there) and alice in H (she is not there either)
        rows = self.batch([(g, "dave", "no", False, True), (h, "alice", "h1", False, True),
                           (h, "dave", "h2", True, True)], full=True)
        self.assertEqual([r[:3] for r in rows[:3]],
                         [(1, "status", "forbidden"), (2, "status", "ok"), (3, "known", "ok")])
        self.assertEqual(rows[1][7], "Alice")  # a checked sender gets its nick
        self.assertEqual([(r[0], r[1], r[4], r[6], r[7], r[8]) for r in rows[3:]],
                         [(2, "room", "", "", "", "group"),
                          (2, "to", f"dave@{D}/r", "Dave", "Dave", "group")])
        self.assertEqual(self.stored(h)[h0:], [(h0, "h1"), (h0 + 1, "h2")])

    def test_occupant_changes_are_notified(self):
        """sql/013: every change of a room's occupants NOTIFYs hippo_rooms with the room, a
        changed name of a present user too; what hippod does not show is not notified."""
        g, u = self.g, self.u
        out = self.pg.psql(f"""
LISTEN hippo_rooms;
SELECT count(*) FROM hippo.room_leave('{g}', 'carol@{D}/r');
SELECT count(*) FROM hippo.room_join('{g}', 'carol@{D}/r', 'participant', 'classic', true,
                                     1000, 0, NULL);
UPDATE hippo.users SET name = 'Carol Two' WHERE id = '{u["carol"]}';
UPDATE hippo.users SET name = 'Carol' WHERE id = '{u["carol"]}';
UPDATE hippo.users SET last_login_at = now() WHERE id = '{u["carol"]}';""")
        notes = [line for line in out.splitlines() if "notification" in line]
        self.assertEqual(len(notes), 4, out)
        payloads = [line.split(' with payload "')[1].split('"')[0] for line in notes]
        self.assertEqual(payloads, [g, f"{g} join", g, g])  # sql/019: a join says so

    def test_backstop_for_one_room_and_for_several(self):
        """A member removed without the triggers (another way): no 'to' row, whether the
        batch has one room or several."""
        g, h = self.g, self.h
        carol = self.u["carol"]
        self.pg.psql("BEGIN; ALTER TABLE hippo.group_members DISABLE TRIGGER "
                     f"room_access_membership; UPDATE hippo.group_members SET status = 'REMOVED'"
                     f" WHERE group_id = '{g}' AND user_id = '{carol}'; ALTER TABLE "
                     "hippo.group_members ENABLE TRIGGER room_access_membership; COMMIT;",
                     admin=True)
        try:
            for msgs in ([(g, "alice", "one room", False)],
                         [(g, "alice", "two rooms", False), (h, "dave", "x", False)]):
                to = [r[4] for r in self.batch(msgs) if r[1] == "to"]
                self.assertIn(f"bob@{D}/r", to)
                self.assertNotIn(f"carol@{D}/r", to, msgs)
        finally:
            self.pg.psql(f"UPDATE hippo.group_members SET status = 'ACTIVE' WHERE group_id = "
                         f"'{g}' AND user_id = '{carol}'", admin=True)

    def test_arrays_of_different_lengths_are_refused(self):
        with self.assertRaises(harness.CommandError) as cm:
            self.pg.psql(f"SELECT * FROM hippo.room_message_batch({lit([self.g])}, "
                         f"{lit(['a@b/c', 'd@e/f'])}, {lit(['x'])}, {lit(['f'])}, "
                         f"{lit(['f'])})")
        self.assertIn("differ in length", str(cm.exception))

    def test_commit_async_is_for_its_transaction_only(self):
        out = self.pg.psql(f"""
SET synchronous_commit = on;
BEGIN;
SELECT count(*) FROM hippo.room_leave('{self.h}', 'nobody@{D}/x') r WHERE hippo.commit_async();
SHOW synchronous_commit;
COMMIT;
SHOW synchronous_commit;""")
        self.assertEqual(out.split(), ["1", "off", "on"])

    def test_empty_batch(self):
        self.assertEqual(self.pg.psql("SELECT count(*) FROM hippo.room_message_batch("
                                      "'{}', '{}', '{}', '{}', '{}')"), "0")


if __name__ == "__main__":
    harness.main()
