-- 011_room_batch.sql - group commit of room messages; the rate limit leaves the database.
--
-- With PostgreSQL durable, every COMMIT waits for a WAL flush. hippod used to store each
-- room message in its own transaction (hippo.room_message), so one connection committed at
-- most one message per flush. Now hippod gathers the messages that arrive while the previous
-- batch is committing and stores them with one call of hippo.room_message_batch: one
-- transaction and one flush for all of them (src/room_batch.c). Serials are still taken from
-- hippo.rooms.next_serial here, a run per room with one UPDATE, so they stay unique and are
-- never reused, also when several hippods write to one room.
--
-- The per-user rate limit is now a token bucket in hippod's memory (src/rate_limit.c): its
-- row write per message cost more than storing the message.

DROP FUNCTION hippo.room_message(text, text, text, double precision, integer, boolean);
DROP FUNCTION hippo.room_take_token(text, double precision, integer);
DROP TABLE hippo.room_rate;

-- The 'to' rows of several rooms at once (with their room): 010's room_recipients, with its
-- delivery backstop, in one query for a batch of many rooms instead of one query per room.
-- room_recipients is now this for one room (one copy of the backstop's rule).
CREATE FUNCTION hippo.room_recipients_in(room_ids text[], except_jid text)
RETURNS TABLE (room_id text, r hippo.room_row)
LANGUAGE sql STABLE AS $$
    SELECT o.room_id,
           ROW('to', NULL, o.user_id, NULL, NULL, NULL, NULL, NULL, NULL, o.occupant_jid,
               o.dialect, NULL, NULL, NULL, NULL, NULL, NULL)::hippo.room_row
    FROM hippo.room_occupants o
    JOIN hippo.users u ON u.id = o.user_id AND u.jid = lower(split_part(o.occupant_jid, '/', 1))
    LEFT JOIN hippo.posts p ON o.kind = 'post' AND p.id = o.room_id
    WHERE o.room_id = ANY (room_ids) AND o.occupant_jid IS DISTINCT FROM except_jid
      AND CASE o.kind
          WHEN 'group' THEN EXISTS (SELECT FROM hippo.group_members m
                                    WHERE m.group_id = o.room_id AND m.user_id = o.user_id
                                      AND m.status IN ('ACTIVE', 'FOLLOWER'))
          ELSE p.to_world OR p.poster_id = o.user_id
            OR EXISTS (SELECT FROM hippo.post_recipients r
                       WHERE r.post_id = o.room_id AND r.user_id = o.user_id)
            OR EXISTS (SELECT FROM hippo.post_recipients r
                       JOIN hippo.group_members m ON m.group_id = r.group_id
                       WHERE r.post_id = o.room_id AND m.user_id = o.user_id
                         AND m.status IN ('ACTIVE', 'FOLLOWER'))
          END
    ORDER BY o.room_id, o.joined_at, o.occupant_jid
$$;

CREATE OR REPLACE FUNCTION hippo.room_recipients(room_id text, except_jid text)
RETURNS SETOF hippo.room_row
LANGUAGE sql STABLE AS $$
    SELECT (x.r).* FROM hippo.room_recipients_in(ARRAY[room_id], except_jid) x
$$;

-- Occupancy is a cache of client presence: a join or a leave whose commit is lost in a
-- PostgreSQL crash costs a stale or missing occupant row, which the sweep removes (its ping
-- bounces) or the client's next join (XEP-0410 self-ping, a reconnect) restores, and no
-- message. So hippod's joins and leaves commit without waiting for their WAL flush: their
-- statements call this in a WHERE clause, which turns synchronous_commit off for their
-- transaction only. A room message's transaction still commits synchronously (hippod sets
-- synchronous_commit on for its sessions), and its flush carries every earlier WAL record
-- with it. Returns true.
CREATE FUNCTION hippo.commit_async() RETURNS boolean
LANGUAGE sql VOLATILE
RETURN set_config('synchronous_commit', 'off', true) IS NOT NULL;

-- Messages JIDS[i] sent BODIES[i] to ROOM_IDS[i] (GROUPCHAT[i]: the standard MUC dialect,
-- whose sender must be present), in arrival order. Returns, for each message i, a status
-- row (I = i) as room_message did: ok with SERIAL, TS_MS and NICK, not-occupant, or a
-- room_check status. Then, for each room with a stored message, its 'to' rows (one per
-- present resource) once, with I = the first stored message of that room. A room's messages
-- take consecutive serials in arrival order.
CREATE FUNCTION hippo.room_message_batch(room_ids text[], jids text[], bodies text[],
                                         groupchat boolean[])
RETURNS TABLE (i integer, r hippo.room_row)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(room_ids), 0);
    st hippo.room_row[];
    s hippo.room_row;
    ok integer[] := '{}';
    rooms text[];
    firsts integer[];
    z record;
BEGIN
    IF coalesce(cardinality(jids), 0) <> n OR coalesce(cardinality(bodies), 0) <> n
       OR coalesce(cardinality(groupchat), 0) <> n THEN
        RAISE EXCEPTION 'room_message_batch: the four arrays differ in length';
    END IF;
    FOR k IN 1..n LOOP
        s := hippo.room_check(room_ids[k], jids[k]);
        IF s.status = 'ok' AND groupchat[k]
           AND NOT EXISTS (SELECT FROM hippo.room_occupants o
                           WHERE o.room_id = room_ids[k] AND o.occupant_jid = jids[k]) THEN
            s.status := 'not-occupant';
        END IF;
        IF s.status = 'ok' THEN
            ok := ok || k;
        END IF;
        st[k] := s;
    END LOOP;
    -- The rooms in a fixed order: two batches (two connections or hippods) that share rooms
    -- lock them in the same order and so never deadlock.
    INSERT INTO hippo.rooms (room_id, kind)
    SELECT DISTINCT room_ids[k], (st[k]).kind FROM unnest(ok) k ORDER BY 1
    ON CONFLICT DO NOTHING;
    PERFORM FROM hippo.rooms x WHERE x.room_id IN (SELECT room_ids[k] FROM unnest(ok) k)
    ORDER BY x.room_id FOR UPDATE;
    FOR z IN
        WITH counts AS (SELECT room_ids[k] AS room_id, count(*) AS c FROM unnest(ok) k GROUP BY 1),
             bumped AS (UPDATE hippo.rooms x SET next_serial = x.next_serial + counts.c
                        FROM counts WHERE x.room_id = counts.room_id
                        RETURNING x.room_id, x.next_serial - counts.c AS base)
        SELECT k, b.base + row_number() OVER (PARTITION BY b.room_id ORDER BY k) - 1 AS serial
        FROM unnest(ok) k JOIN bumped b ON b.room_id = room_ids[k]
    LOOP
        st[z.k].serial := z.serial;
        st[z.k].ts_ms := (extract(epoch FROM now()) * 1000)::bigint; -- sent_at's default
        st[z.k].nick := hippo.room_pick_nick(room_ids[z.k], st[z.k].user_id, st[z.k].name);
    END LOOP;
    INSERT INTO hippo.room_messages (room_id, serial, user_id, body)
    SELECT room_ids[k], (st[k]).serial, (st[k]).user_id, bodies[k] FROM unnest(ok) k;
    RETURN QUERY SELECT k::integer, st[k] FROM generate_series(1, n) k;
    SELECT array_agg(g.room_id ORDER BY g.first), array_agg(g.first ORDER BY g.first)
    INTO rooms, firsts
    FROM (SELECT room_ids[k] AS room_id, min(k)::integer AS first FROM unnest(ok) k GROUP BY 1) g;
    IF cardinality(rooms) = 1 THEN -- one room (low load): its plan with a scalar room is cheaper
        RETURN QUERY SELECT firsts[1], x FROM hippo.room_recipients(rooms[1], NULL) x;
    ELSIF cardinality(rooms) > 1 THEN
        RETURN QUERY SELECT f.first, x.r
                     FROM hippo.room_recipients_in(rooms, NULL) x
                     JOIN unnest(rooms, firsts) f(room_id, first) ON f.room_id = x.room_id
                     ORDER BY f.first;
    END IF;
END
$$;
