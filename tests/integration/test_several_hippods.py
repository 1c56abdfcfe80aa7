#!/usr/bin/python3
"""Two active hippods behind ejabberd 23.01 with domain_balancing bare_destination
(docs/deployment.md, "Several hippods on one domain"), and without it.

20 group rooms with four members, two in each dialect. ejabberd sends each room always to
the same hippod, so every member sees every message once and in serial order, and both
hippods serve rooms. One hippod is then SIGKILLed during a burst and started again 1 s
later, as systemd would: no message anybody saw echoed is missing from the database, no
serial is taken twice, and every room answers again within 3 s of the restart. Without
domain_balancing (ejabberd's random spread), a hippod that serves a room sees joins the other
one made and reports it (hippod_room_foreign_joins_total and a warning)."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_rooms_classic import (body_of, classic_join, message_info, muc_join,  # noqa: E402
                                room_of, say, sync)

ROOMS = 20
MEMBERS = (("alice", "classic"), ("bob", "muc"), ("carol", "classic"), ("dave", "muc"))
BALANCING = f"""domain_balancing:
  {harness.COMPONENT_DOMAIN}:
    type: bare_destination
    component_number: 2
"""

# each member says something in every room at once: far over the default rate limit
CONFIG = {"rooms": {"messages_per_second": 100000, "message_burst": 100000}}

POPULATE = """
CREATE TEMP TABLE u AS SELECT n, hippo.create_user(n || '@{domain}', initcap(n)) AS id
FROM unnest(ARRAY['alice', 'bob', 'carol', 'dave']) n;
CREATE TEMP TABLE g AS SELECT r, hippo.create_group('Room ' || r) AS id
FROM generate_series(0, {rooms} - 1) r;
SELECT count(hippo.add_group_member(g.id, u.id)) FROM g, u;
SELECT id FROM g ORDER BY r;
"""


def room_messages(client, room):
    """(serial, body) of the room messages CLIENT received from ROOM, in arrival order."""
    out = []
    for e in client.received():
        if (harness.local_name(e) == "message" and e.get("type") != "error"
                and e.get("from", "").split("/")[0] == room and body_of(e) is not None
                and message_info(e) is not None):
            out.append((int(message_info(e).get("serial")), body_of(e)))
    return out


def answers(client, room, timeout):
    """True when ROOM answers CLIENT's ping within TIMEOUT seconds."""
    try:
        reply = client.iq(f"<iq type='get' to='{room}'><ping xmlns='urn:xmpp:ping'/></iq>",
                          timeout=timeout)
        return reply.get("type") == "result"
    except TimeoutError:
        return False


class TwoHippods(unittest.TestCase):
    balancing = BALANCING
    joined = MEMBERS  # the members that join at the start

    def setUp(self):
        self.stack = harness.Stack("two-hippods")
        self.addCleanup(self.stack.close)
        self.pg = self.stack.postgres()
        self.srv = self.stack.ejabberd(extra_config=self.balancing)
        for login, _ in MEMBERS:
            self.srv.register(login, "pw")
        self.hippods = [self.stack.hippod(server=self.srv, pg=self.pg, config=CONFIG)]
        out = self.pg.psql(POPULATE.format(domain=harness.DOMAIN, rooms=ROOMS))
        self.rooms = [room_of(g) for g in out.splitlines()[1:]]
        self.assertEqual(len(self.rooms), ROOMS)
        self.hippods.append(self.stack.hippod(server=self.srv, pg=self.pg, config=CONFIG,
                                              migrate=False))
        for h in self.hippods:
            h.wait_health(200, timeout=20)
        self.clients = [self.stack.client(self.srv, login, "pw") for login, _ in MEMBERS]
        for c, member in zip(self.clients, MEMBERS):
            if member in self.joined:
                self.join(c, member)

    def join(self, c, member):
        login, dialect = member
        for room in self.rooms:
            if dialect == "classic":
                classic_join(c, room)
            else:
                muc_join(c, room, login.capitalize())
        for room in self.rooms:
            sync(c, room)

    def say_all(self, tag):
        """Every member present says TAG in every room (its dialect's message)."""
        for c, (login, dialect) in zip(self.clients, MEMBERS):
            if (login, dialect) not in self.joined:
                continue
            for room in self.rooms:
                say(c, room, f"{tag} {login}", groupchat=dialect == "muc")

    def wait_bodies(self, want, timeout=20, clients=None):
        deadline = time.monotonic() + timeout
        while True:
            got = {(c, room): {b for _, b in room_messages(c, room)}
                   for c in clients or self.clients for room in self.rooms}
            missing = [(c.jid, room) for (c, room), bodies in got.items() if not want <= bodies]
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.1)

    def stored(self):
        """{room JID: [(serial, body)]} from the database."""
        out = self.pg.psql("SELECT hippo.room_jid(room_id, '" + harness.COMPONENT_DOMAIN
                           + "'), serial, body FROM hippo.room_messages ORDER BY 1, 2")
        rows = {}
        for line in out.splitlines():
            jid, serial, body = line.split("|", 2)
            rows.setdefault(jid, []).append((int(serial), body))
        return rows


class BareDestination(TwoHippods):
    def test_each_room_on_one_hippod_and_a_kill_loses_nothing(self):
        for n in range(3):
            self.say_all(f"round {n}")
        want = {f"round {n} {login}" for n in range(3) for login, _ in MEMBERS}
        self.assertEqual(self.wait_bodies(want), [])
        for c in self.clients:
            for room in self.rooms:
                got = room_messages(c, room)
                serials = [s for s, _ in got]
                self.assertEqual(serials, sorted(set(serials)),
                                 f"{c.jid} saw {room} out of serial order or twice")
                self.assertEqual(sorted(b for _, b in got), sorted(want))
        served = [harness.metric_value(h.metrics(), "hippod_room_batch_messages_total")
                  for h in self.hippods]
        self.assertTrue(all(served), f"a hippod stored no message: {served}")

        # a burst while one hippod is killed and, 1 s later, started again
        stop = threading.Event()

        def burst(c, login, dialect):
            n = 0
            while not stop.is_set():
                for room in self.rooms:
                    say(c, room, f"burst {n} {login}", groupchat=dialect == "muc")
                n += 1
                time.sleep(0.05)
        threads = [threading.Thread(target=burst, args=(c, login, dialect))
                   for c, (login, dialect) in zip(self.clients, MEMBERS)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        victim = self.hippods[0]
        victim.kill()
        time.sleep(1)
        victim.start()
        restarted = time.monotonic()
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        victim.wait_health(200, timeout=20)
        late = [room for room in self.rooms
                if not answers(self.clients[0], room, max(0.1, restarted + 3 - time.monotonic()))]
        self.assertEqual(late, [], "rooms not answering 3 s after the restart")

        self.say_all("after")
        self.assertEqual(self.wait_bodies({f"after {login}" for login, _ in MEMBERS}), [])
        time.sleep(0.5)
        stored = self.stored()
        for room in self.rooms:
            serials = [s for s, _ in stored[room]]
            self.assertEqual(serials, list(range(len(serials))), f"{room}: gap or duplicate")
            bodies = {b for _, b in stored[room]}
            for c in self.clients:
                got = room_messages(c, room)
                seen = [s for s, _ in got]
                self.assertEqual(seen, sorted(set(seen)), f"{c.jid}: {room} out of order")
                self.assertEqual({b for _, b in got} - bodies, set(),
                                 f"{c.jid} saw messages of {room} that are not stored")
                self.assertEqual(set(got) - set(stored[room]), set(), "serial mismatch")
        self.assertEqual([harness.metric_value(h.metrics(), "hippod_room_foreign_joins_total")
                          for h in self.hippods if h is not victim], [0])


class RandomBalancing(TwoHippods):
    """ejabberd's default with two connections: each stanza to either hippod. A hippod that
    serves a room sees joins to it that the other one made, and says so (src/rooms.c)."""
    balancing = ""
    joined = MEMBERS[:2]

    def test_joins_through_the_other_hippod_are_reported(self):
        self.say_all("learn")  # both hippods serve (and remember) the rooms
        self.assertEqual(self.wait_bodies({f"learn {login}" for login, _ in MEMBERS[:2]},
                                          clients=self.clients[:2]), [])
        for c, member in zip(self.clients[2:], MEMBERS[2:]):
            self.join(c, member)
        deadline = time.monotonic() + 10
        while True:
            counts = [harness.metric_value(h.metrics(), "hippod_room_foreign_joins_total")
                      for h in self.hippods]
            if sum(counts) > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertGreater(sum(counts), 0, "no hippod noticed the other one's joins")
        logged = [h for h in self.hippods
                  if "joined through another hippod while this one serves" in h.log_text()]
        self.assertTrue(logged, "the spread was not logged")


if __name__ == "__main__":
    harness.main()
