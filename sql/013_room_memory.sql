-- 013_room_memory.sql - hippod keeps each room's present resources in memory.
--
-- Checking every room message's sender (user by JID, room, may-enter rule), picking its
-- nick and reading the room's recipients again (with 010's access backstop) cost PostgreSQL
-- far more than storing the message. hippod now remembers, per room, the present resources
-- with their users (src/room_state.c), learnt from a batch's answer. A message from a
-- resource that is present in hippod's memory is sent "known": the batch only checks, by
-- primary key, that the resource is still present (being present means having been let
-- in, and 010's triggers remove whoever loses access), takes the serial and stores it; its
-- recipients come from memory. PostgreSQL stays the source of truth: every change of a
-- room's occupants NOTIFYs hippo_rooms with the room's id, a changed name or photo of a
-- present user too, a change that can take away access notifies '*' (every room), and
-- hippod then forgets those rooms (it learns them again from their next batch). hippod also forgets a room when it sends one of the room's own join, leave or
-- sweep statements, and everything when a database connection comes back.

-- The 'to' rows now carry the occupant's user, as a status row does (name, photo version,
-- nick), so that hippod can remember them.
CREATE OR REPLACE FUNCTION hippo.room_recipients_in(room_ids text[], except_jid text)
RETURNS TABLE (room_id text, r hippo.room_row)
LANGUAGE sql STABLE AS $$
    SELECT o.room_id,
           ROW('to', NULL, o.user_id, u.name, u.photo_version, o.muc_nick, o.role, NULL, NULL,
               o.occupant_jid, o.dialect, NULL, NULL, NULL, o.kind, NULL, NULL)::hippo.room_row
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

CREATE FUNCTION hippo.notify_room_occupants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('hippo_rooms', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('hippo_rooms', OLD.room_id);
    ELSE
        PERFORM pg_notify('hippo_rooms', NEW.room_id);
        IF TG_OP = 'UPDATE' AND OLD.room_id <> NEW.room_id THEN
            PERFORM pg_notify('hippo_rooms', OLD.room_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION hippo.notify_room_occupants() IS
    'Trigger: NOTIFY hippo_rooms with the room id (''*'': every room) when its occupants change';

-- Notifications with the same payload in one transaction are sent once.
CREATE TRIGGER room_occupants_changed
    AFTER INSERT OR UPDATE OR DELETE ON hippo.room_occupants
    FOR EACH ROW EXECUTE FUNCTION hippo.notify_room_occupants();
CREATE TRIGGER room_occupants_truncated
    AFTER TRUNCATE ON hippo.room_occupants
    FOR EACH STATEMENT EXECUTE FUNCTION hippo.notify_room_occupants();

CREATE FUNCTION hippo.notify_occupant_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hippo_rooms', o.room_id)
    FROM (SELECT DISTINCT x.room_id FROM hippo.room_occupants x WHERE x.user_id = NEW.id) o;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION hippo.notify_occupant_user() IS
    'Trigger: NOTIFY hippo_rooms for every room a user is present in when the name or photo hippod shows changes';

CREATE TRIGGER users_shown_changed
    AFTER UPDATE OF name, photo_version ON hippo.users
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.photo_version IS DISTINCT FROM NEW.photo_version)
    EXECUTE FUNCTION hippo.notify_occupant_user();

-- Access changes: 010's triggers remove whoever loses access, which notifies the room as
-- above. The same changes also notify every room ('*'), so that hippod forgets even when
-- those triggers did not run (disabled by an operator, say) and 010's delivery backstop in
-- room_recipients_in, which hippod's memory would skip, holds. Such changes are rare
-- administrative acts; hippod learns the rooms again from their next messages.
CREATE FUNCTION hippo.notify_all_rooms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hippo_rooms', '*');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION hippo.notify_all_rooms() IS
    'Trigger: NOTIFY hippo_rooms ''*'' after a change that can take away access to rooms';

CREATE TRIGGER rooms_access_membership
    AFTER UPDATE OF status, group_id, user_id OR DELETE OR TRUNCATE ON hippo.group_members
    FOR EACH STATEMENT EXECUTE FUNCTION hippo.notify_all_rooms();
CREATE TRIGGER rooms_access_recipient
    AFTER UPDATE OR DELETE OR TRUNCATE ON hippo.post_recipients
    FOR EACH STATEMENT EXECUTE FUNCTION hippo.notify_all_rooms();
CREATE TRIGGER rooms_access_post
    AFTER UPDATE OF to_world, poster_id OR DELETE OR TRUNCATE ON hippo.posts
    FOR EACH STATEMENT EXECUTE FUNCTION hippo.notify_all_rooms();
CREATE TRIGGER rooms_access_group
    AFTER DELETE OR TRUNCATE ON hippo.groups
    FOR EACH STATEMENT EXECUTE FUNCTION hippo.notify_all_rooms();
CREATE TRIGGER rooms_access_user
    AFTER UPDATE OF jid OR DELETE OR TRUNCATE ON hippo.users
    FOR EACH STATEMENT EXECUTE FUNCTION hippo.notify_all_rooms();

DROP FUNCTION hippo.room_message_batch(text[], text[], text[], boolean[]);

-- Messages JIDS[i] sent BODIES[i] to ROOM_IDS[i] (GROUPCHAT[i]: the standard MUC dialect,
-- whose sender must be present), in arrival order. KNOWN[i]: hippod remembers the sender as
-- present in the room and needs neither its check nor the room's recipients.
--
-- Returns, for each message i, a status row (I = i): a known sender still present gets
-- what 'known' with status ok, SERIAL, TS_MS and KIND; any other sender is checked as before
-- and gets what 'status': ok with SERIAL, TS_MS, its user and NICK, not-occupant, or a
-- room_check status. Then, for each room with a stored message from a sender that was not
-- known (or no longer present), one 'room' row with its KIND followed by its 'to' rows (every
-- present resource, with its user), all with I = the first stored message of that room. A
-- room's messages take consecutive serials in arrival order.
CREATE FUNCTION hippo.room_message_batch(room_ids text[], jids text[], bodies text[],
                                         groupchat boolean[], known boolean[])
RETURNS TABLE (i integer, r hippo.room_row)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(room_ids), 0);
    st hippo.room_row[];
    s hippo.room_row;
    ok integer[] := '{}';
    unknown_rooms text[] := '{}';
    rooms text[];
    firsts integer[];
    z record;
BEGIN
    IF coalesce(cardinality(jids), 0) <> n OR coalesce(cardinality(bodies), 0) <> n
       OR coalesce(cardinality(groupchat), 0) <> n OR coalesce(cardinality(known), 0) <> n THEN
        RAISE EXCEPTION 'room_message_batch: the five arrays differ in length';
    END IF;
    FOR k IN 1..n LOOP
        s := NULL;
        IF known[k] THEN
            SELECT 'known', 'ok', o.user_id, o.kind INTO s.what, s.status, s.user_id, s.kind
            FROM hippo.room_occupants o
            WHERE o.room_id = room_ids[k] AND o.occupant_jid = jids[k];
        END IF;
        IF s.status IS NULL THEN
            s := hippo.room_check(room_ids[k], jids[k]);
            IF s.status = 'ok' AND groupchat[k]
               AND NOT EXISTS (SELECT FROM hippo.room_occupants o
                               WHERE o.room_id = room_ids[k] AND o.occupant_jid = jids[k]) THEN
                s.status := 'not-occupant';
            END IF;
            IF s.status = 'ok' THEN
                unknown_rooms := unknown_rooms || room_ids[k];
            END IF;
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
        IF st[z.k].what = 'status' THEN
            st[z.k].nick := hippo.room_pick_nick(room_ids[z.k], st[z.k].user_id, st[z.k].name);
        END IF;
    END LOOP;
    INSERT INTO hippo.room_messages (room_id, serial, user_id, body)
    SELECT room_ids[k], (st[k]).serial, (st[k]).user_id, bodies[k] FROM unnest(ok) k;
    RETURN QUERY SELECT k::integer, st[k] FROM generate_series(1, n) k;
    SELECT array_agg(g.room_id ORDER BY g.first), array_agg(g.first ORDER BY g.first)
    INTO rooms, firsts
    FROM (SELECT room_ids[k] AS room_id, min(k)::integer AS first FROM unnest(ok) k
          WHERE room_ids[k] = ANY (unknown_rooms) GROUP BY 1) g;
    IF cardinality(rooms) = 1 THEN -- one room (low load): its plan with a scalar room is cheaper
        RETURN QUERY SELECT firsts[1], ROW('room', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                           NULL, NULL, NULL, NULL, NULL, NULL,
                                           (st[firsts[1]]).kind, NULL, NULL)::hippo.room_row;
        RETURN QUERY SELECT firsts[1], x FROM hippo.room_recipients(rooms[1], NULL) x;
    ELSIF cardinality(rooms) > 1 THEN
        RETURN QUERY
            SELECT f.first, x.r
            FROM (SELECT f0.room_id, 0 AS o,
                         ROW('room', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                             NULL, NULL, NULL, (st[f0.first]).kind, NULL, NULL)::hippo.room_row AS r
                  FROM unnest(rooms, firsts) f0(room_id, first)
                  UNION ALL
                  SELECT y.room_id, 1, y.r FROM hippo.room_recipients_in(rooms, NULL) y) x
            JOIN unnest(rooms, firsts) f(room_id, first) ON f.room_id = x.room_id
            ORDER BY f.first, x.o;
    END IF;
END
$$;
