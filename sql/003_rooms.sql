-- 003_rooms.sql - the chat rooms of posts and groups: messages with per-room serials,
-- occupancy (hippo.room_occupants from 002), nicks, per-user rate limits, and the functions
-- hippod calls for each room stanza (src/rooms.c). Each function is one statement for
-- hippod, hence one transaction: the check, the change and what must be sent come back
-- together, so nothing is broadcast that is not committed.
--
-- Room rows lock a room: join, leave and message take the room's hippo.rooms row FOR UPDATE
-- (or UPDATE it) first, so concurrent hippod processes serialise per room and a joiner's
-- backlog and the live messages it gets neither overlap nor leave a gap.

-- The readable nick of the occupant's user in the room (the standard MUC dialect's
-- resource; the same on each row of one user in one room).
ALTER TABLE hippo.room_occupants ADD COLUMN muc_nick text;
UPDATE hippo.room_occupants SET muc_nick = nick WHERE muc_nick IS NULL;
ALTER TABLE hippo.room_occupants ALTER COLUMN muc_nick SET NOT NULL;
COMMENT ON COLUMN hippo.room_occupants.muc_nick IS
    'The user''s readable nick in the room (standard MUC occupant resource), unique per user';

-- One row per room that ever had a message or an occupant: its kind and the next serial.
-- The row is never deleted while messages exist, so serials are never reused.
CREATE TABLE hippo.rooms (
    room_id text PRIMARY KEY CHECK (room_id ~ '^[A-Za-z0-9]{14}$'),
    kind text NOT NULL CHECK (kind IN ('post', 'group')),
    next_serial bigint NOT NULL DEFAULT 0 CHECK (next_serial >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hippo.rooms IS 'Chat rooms (post or group GUID) and their next message serial';

CREATE TABLE hippo.room_messages (
    room_id text NOT NULL REFERENCES hippo.rooms (room_id) ON DELETE CASCADE,
    serial bigint NOT NULL CHECK (serial >= 0),
    user_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    body text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, serial)
);
CREATE INDEX room_messages_time_idx ON hippo.room_messages (room_id, sent_at);
COMMENT ON TABLE hippo.room_messages IS
    'Chat messages: serial is 0, 1, 2 ... per room in the order hippod broadcast them';

-- Token bucket per user for room messages (rate and burst come from hippod's config).
CREATE TABLE hippo.room_rate (
    user_id text PRIMARY KEY REFERENCES hippo.users (id) ON DELETE CASCADE,
    tokens double precision NOT NULL,
    updated_at timestamptz NOT NULL
);

-- What every room function returns: rows tagged by WHAT.
--   status  - first row: STATUS says how it went, plus the user and the room
--   member  - a user present in the room (aggregate ROLE, NICK)
--   to      - an occupant resource to send to (JID, DIALECT, USER_ID)
--   history - a message of the backlog (SERIAL, TS_MS, BODY, sender in USER_ID ... NICK)
CREATE TYPE hippo.room_row AS (
    what text,
    status text,
    user_id text,
    name text,
    photo_version integer,
    nick text,
    role text,          -- aggregate role: participant | visitor | nonmember
    old_role text,      -- status: the aggregate role before
    res_old_role text,  -- status: the resource's role before (NULL: it was not present)
    jid text,
    dialect text,
    serial bigint,
    ts_ms bigint,
    body text,
    kind text,
    title text,
    room_photo_version integer
);

-- GUID -> JID node (as src/guid.c): lower-case letters get a '_', then everything is
-- lower-cased.
CREATE FUNCTION hippo.guid_to_node(id text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN lower(regexp_replace(id, '([a-z])', '\1_', 'g'));

-- The room with this GUID: a post first, then a group (the original's lookup order).
CREATE FUNCTION hippo.room_lookup(room_id text,
                                  OUT kind text, OUT title text, OUT photo_version integer)
LANGUAGE sql STABLE AS $$
    SELECT 'post', p.title, NULL::integer FROM hippo.posts p WHERE p.id = room_lookup.room_id
    UNION ALL
    SELECT 'group', g.name, g.photo_version FROM hippo.groups g WHERE g.id = room_lookup.room_id
    LIMIT 1
$$;

-- Who may enter: for a post whoever may see it (poster, recipients, everyone for a world
-- post); for a group its ACTIVE and FOLLOWER members.
CREATE FUNCTION hippo.room_may_enter(kind text, room_id text, user_id text) RETURNS boolean
LANGUAGE sql STABLE
RETURN CASE kind
    WHEN 'post' THEN hippo.can_see_post(room_id, user_id)
    WHEN 'group' THEN EXISTS (SELECT FROM hippo.group_members m
                              WHERE m.group_id = room_may_enter.room_id
                                AND m.user_id = room_may_enter.user_id
                                AND m.status IN ('ACTIVE', 'FOLLOWER'))
    ELSE false END;

-- The sender (by JID) and the room, and whether the sender may enter. Status: ok,
-- unknown-user, unknown-room or forbidden.
CREATE FUNCTION hippo.room_check(room_id text, jid text) RETURNS hippo.room_row
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r hippo.room_row;
    u hippo.users;
    l record;
BEGIN
    r.what := 'status';
    SELECT * INTO u FROM hippo.users x WHERE x.jid = hippo.normalize_jid(room_check.jid);
    IF NOT FOUND THEN
        r.status := 'unknown-user';
        RETURN r;
    END IF;
    r.user_id := u.id;
    r.name := u.name;
    r.photo_version := u.photo_version;
    SELECT * INTO l FROM hippo.room_lookup(room_id);
    IF l.kind IS NULL THEN  -- a non-set function returns one row of nulls when nothing matched
        r.status := 'unknown-room';
        RETURN r;
    END IF;
    r.kind := l.kind;
    r.title := l.title;
    r.room_photo_version := l.photo_version;
    r.status := CASE WHEN hippo.room_may_enter(l.kind, room_id, u.id) THEN 'ok'
                     ELSE 'forbidden' END;
    RETURN r;
END
$$;

-- Creates the room row if needed and locks it until the end of the transaction.
CREATE FUNCTION hippo.room_lock(room_id text, kind text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hippo.rooms (room_id, kind) VALUES (room_id, kind) ON CONFLICT DO NOTHING;
    PERFORM FROM hippo.rooms r WHERE r.room_id = room_lock.room_id FOR UPDATE;
END
$$;

-- A user's aggregate role in a room: participant if any resource is, else visitor if
-- present, else nonmember.
CREATE FUNCTION hippo.room_user_role(room_id text, user_id text) RETURNS text
LANGUAGE sql STABLE
RETURN (SELECT CASE WHEN bool_or(o.role = 'participant') THEN 'participant'
                    WHEN count(*) > 0 THEN 'visitor' ELSE 'nonmember' END
        FROM hippo.room_occupants o
        WHERE o.room_id = room_user_role.room_id AND o.user_id = room_user_role.user_id);

-- The user's readable nick in the room: the one it has while present, else its name
-- (without control and invisible formatting characters, spaces collapsed, at most 64
-- characters) made unique among the other present users with " (2)", " (3)" ...
CREATE FUNCTION hippo.room_pick_nick(room_id text, user_id text, name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    existing text;
    base text;
    candidate text;
    n integer := 1;
BEGIN
    SELECT o.muc_nick INTO existing FROM hippo.room_occupants o
    WHERE o.room_id = room_pick_nick.room_id AND o.user_id = room_pick_nick.user_id LIMIT 1;
    IF FOUND THEN
        RETURN existing;
    END IF;
    -- no control or invisible formatting characters in a JID resource, spaces collapsed
    base := regexp_replace(name, '[[:cntrl:]\u00AD\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF]',
                           '', 'g');
    base := left(btrim(regexp_replace(base, '[[:space:]]+', ' ', 'g')), 64);
    IF base = '' THEN
        base := 'user';
    END IF;
    candidate := base;
    WHILE EXISTS (SELECT FROM hippo.room_occupants o
                  WHERE o.room_id = room_pick_nick.room_id AND o.muc_nick = candidate
                    AND o.user_id <> room_pick_nick.user_id) LOOP
        n := n + 1;
        candidate := base || ' (' || n || ')';
    END LOOP;
    RETURN candidate;
END
$$;

-- One 'member' row per user present in the room (but EXCEPT_USER), with its aggregate role.
CREATE FUNCTION hippo.room_members(room_id text, except_user text) RETURNS SETOF hippo.room_row
LANGUAGE sql STABLE AS $$
    SELECT 'member', NULL, o.user_id, u.name, u.photo_version, min(o.muc_nick),
           CASE WHEN bool_or(o.role = 'participant') THEN 'participant' ELSE 'visitor' END,
           NULL, NULL, NULL, NULL, NULL::bigint, NULL::bigint, NULL, NULL, NULL, NULL::integer
    FROM hippo.room_occupants o JOIN hippo.users u ON u.id = o.user_id
    WHERE o.room_id = room_members.room_id AND o.user_id IS DISTINCT FROM except_user
    GROUP BY o.user_id, u.name, u.photo_version
    ORDER BY min(o.joined_at), o.user_id
$$;

-- One 'to' row per resource present in the room (but EXCEPT_JID).
CREATE FUNCTION hippo.room_recipients(room_id text, except_jid text) RETURNS SETOF hippo.room_row
LANGUAGE sql STABLE AS $$
    SELECT 'to', NULL, o.user_id, NULL, NULL::integer, NULL, NULL, NULL, NULL, o.occupant_jid,
           o.dialect, NULL::bigint, NULL::bigint, NULL, NULL, NULL, NULL::integer
    FROM hippo.room_occupants o
    WHERE o.room_id = room_recipients.room_id AND o.occupant_jid IS DISTINCT FROM except_jid
    ORDER BY o.joined_at, o.occupant_jid
$$;

-- The backlog: the last MAX_COUNT messages (NULL or negative: all) sent at or after SINCE
-- (NULL: any time), oldest first. The sender's nick is its current one when present.
CREATE FUNCTION hippo.room_history(room_id text, max_count integer, since timestamptz)
RETURNS SETOF hippo.room_row
LANGUAGE sql STABLE AS $$
    SELECT 'history', NULL, m.user_id, u.name, u.photo_version,
           coalesce((SELECT o.muc_nick FROM hippo.room_occupants o
                     WHERE o.room_id = m.room_id AND o.user_id = m.user_id LIMIT 1), u.name),
           NULL, NULL, NULL, NULL, NULL, m.serial,
           (extract(epoch FROM m.sent_at) * 1000)::bigint, m.body, NULL, NULL, NULL::integer
    FROM (SELECT * FROM hippo.room_messages x
          WHERE x.room_id = room_history.room_id AND (since IS NULL OR x.sent_at >= since)
          ORDER BY x.serial DESC
          LIMIT CASE WHEN max_count IS NULL OR max_count < 0 THEN NULL ELSE max_count END) m
    JOIN hippo.users u ON u.id = m.user_id
    ORDER BY m.serial
$$;

-- Join (or update) the resource JID in the room with ROLE_ (participant|visitor; NULL keeps
-- the resource's role, participant for a new one) in DIALECT_ (classic|muc). Status: joined (a new resource, or a rejoin: send it the room
-- state), updated (already present), full, or a room_check status. The status row carries
-- the aggregate role before (old_role) and after (role) and the resource's role before
-- (res_old_role). Then: 'to' rows (the other resources) when the aggregate role changed;
-- for joined, 'member' rows (the other users) and 'history' rows (HISTORY_MAX messages,
-- -1 = all, since HISTORY_SINCE). REJOIN: a repeated join with the same role resends the
-- state (the client cleared its room, e.g. after reconnecting).
CREATE FUNCTION hippo.room_join(room_id text, jid text, role_ text, dialect_ text,
                                rejoin boolean, max_users integer, history_max integer,
                                history_since timestamptz)
RETURNS SETOF hippo.room_row
LANGUAGE plpgsql AS $$
DECLARE
    r hippo.room_row := hippo.room_check(room_id, jid);
    old_res record;
    res_nick text;
BEGIN
    IF r.status <> 'ok' THEN
        RETURN NEXT r;
        RETURN;
    END IF;
    PERFORM hippo.room_lock(room_id, r.kind);
    SELECT o.role, o.dialect INTO old_res FROM hippo.room_occupants o
    WHERE o.room_id = room_join.room_id AND o.occupant_jid = jid;
    r.res_old_role := old_res.role;
    role_ := coalesce(role_, old_res.role, 'participant');  -- NULL: a presence update
    r.old_role := hippo.room_user_role(room_id, r.user_id);
    IF r.old_role = 'nonmember' AND max_users IS NOT NULL
       AND (SELECT count(DISTINCT o.user_id) FROM hippo.room_occupants o
            WHERE o.room_id = room_join.room_id) >= max_users THEN
        r.status := 'full';
        RETURN NEXT r;
        RETURN;
    END IF;
    r.nick := hippo.room_pick_nick(room_id, r.user_id, r.name);
    res_nick := CASE dialect_ WHEN 'classic' THEN hippo.guid_to_node(r.user_id) ELSE r.nick END;
    INSERT INTO hippo.room_occupants AS o
        (room_id, kind, occupant_jid, user_id, role, dialect, nick, muc_nick)
    VALUES (room_id, r.kind, jid, r.user_id, role_, dialect_, res_nick, r.nick)
    ON CONFLICT ON CONSTRAINT room_occupants_pkey DO UPDATE
        SET role = excluded.role, dialect = excluded.dialect, nick = excluded.nick
        WHERE (o.role, o.dialect, o.nick) IS DISTINCT FROM
              (excluded.role, excluded.dialect, excluded.nick);
    r.role := hippo.room_user_role(room_id, r.user_id);
    IF r.kind = 'post' AND role_ = 'participant' THEN  -- the original un-ignores the post
        UPDATE hippo.person_post pp SET ignored = false
        WHERE pp.post_id = room_id AND pp.user_id = r.user_id AND pp.ignored;
    END IF;
    r.status := CASE WHEN old_res.role IS NULL OR old_res.dialect <> dialect_
                       OR (rejoin AND old_res.role = role_) THEN 'joined' ELSE 'updated' END;
    RETURN NEXT r;
    IF r.role <> r.old_role THEN
        RETURN QUERY SELECT * FROM hippo.room_recipients(room_id, jid);
    END IF;
    IF r.status = 'joined' THEN
        RETURN QUERY SELECT * FROM hippo.room_members(room_id, r.user_id);
        RETURN QUERY SELECT * FROM hippo.room_history(room_id, history_max, history_since);
    END IF;
END
$$;

-- The resource JID_ leaves the room (or disappeared: a delivery error, a disconnect).
-- Status: left or absent. The status row: the user, its nick, the aggregate role before
-- and after, the leaving resource's dialect; then the 'to' rows of the remaining resources
-- when the aggregate role changed.
CREATE FUNCTION hippo.room_leave(room_id text, jid text) RETURNS SETOF hippo.room_row
LANGUAGE plpgsql AS $$
DECLARE
    r hippo.room_row;
    gone record;
BEGIN
    r.what := 'status';
    PERFORM FROM hippo.rooms x WHERE x.room_id = room_leave.room_id FOR UPDATE;
    SELECT * INTO gone FROM hippo.room_occupants o
    WHERE o.room_id = room_leave.room_id AND o.occupant_jid = jid;
    IF NOT FOUND THEN
        r.status := 'absent';
        RETURN NEXT r;
        RETURN;
    END IF;
    r.old_role := hippo.room_user_role(room_id, gone.user_id);
    DELETE FROM hippo.room_occupants o
    WHERE o.room_id = room_leave.room_id AND o.occupant_jid = jid;
    SELECT 'left', gone.user_id, u.name, u.photo_version, gone.muc_nick, gone.role,
           room_leave.jid, gone.dialect, gone.kind
    INTO r.status, r.user_id, r.name, r.photo_version, r.nick, r.res_old_role, r.jid,
         r.dialect, r.kind
    FROM hippo.users u WHERE u.id = gone.user_id;
    r.role := hippo.room_user_role(room_id, gone.user_id);
    RETURN NEXT r;
    IF r.role <> r.old_role THEN
        RETURN QUERY SELECT * FROM hippo.room_recipients(room_id, NULL);
    END IF;
END
$$;

-- Token bucket of USER_ID: refills RATE per second up to BURST; true (and one token taken)
-- when a message may go.
CREATE FUNCTION hippo.room_take_token(user_id text, rate double precision, burst integer)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    b hippo.room_rate;
    now_ timestamptz := clock_timestamp();
    avail double precision;
BEGIN
    INSERT INTO hippo.room_rate (user_id, tokens, updated_at) VALUES (user_id, burst, now_)
    ON CONFLICT DO NOTHING;
    SELECT * INTO b FROM hippo.room_rate x WHERE x.user_id = room_take_token.user_id FOR UPDATE;
    avail := least(burst::double precision,
                   b.tokens + rate * greatest(extract(epoch FROM now_ - b.updated_at), 0));
    UPDATE hippo.room_rate x
    SET tokens = CASE WHEN avail >= 1 THEN avail - 1 ELSE avail END, updated_at = now_
    WHERE x.user_id = room_take_token.user_id;
    RETURN avail >= 1;
END
$$;

-- A message from JID_ to the room. Status: ok, rate (over the per-user limit),
-- not-occupant (GROUPCHAT: a standard MUC message from a non-occupant), or a room_check
-- status. For ok the message is stored with the room's next serial and the status row
-- carries serial, ts_ms and the sender's nick; then one 'to' row per present resource.
CREATE FUNCTION hippo.room_message(room_id text, jid text, body text, rate double precision,
                                   burst integer, groupchat boolean)
RETURNS SETOF hippo.room_row
LANGUAGE plpgsql AS $$
DECLARE
    r hippo.room_row := hippo.room_check(room_id, jid);
    sent timestamptz;
BEGIN
    IF r.status <> 'ok' THEN
        RETURN NEXT r;
        RETURN;
    END IF;
    IF groupchat AND NOT EXISTS (SELECT FROM hippo.room_occupants o
                                 WHERE o.room_id = room_message.room_id
                                   AND o.occupant_jid = jid) THEN
        r.status := 'not-occupant';
        RETURN NEXT r;
        RETURN;
    END IF;
    IF NOT hippo.room_take_token(r.user_id, rate, burst) THEN
        r.status := 'rate';
        RETURN NEXT r;
        RETURN;
    END IF;
    INSERT INTO hippo.rooms (room_id, kind) VALUES (room_id, r.kind) ON CONFLICT DO NOTHING;
    UPDATE hippo.rooms x SET next_serial = x.next_serial + 1
    WHERE x.room_id = room_message.room_id RETURNING x.next_serial - 1 INTO r.serial;
    INSERT INTO hippo.room_messages (room_id, serial, user_id, body)
    VALUES (room_id, r.serial, r.user_id, body) RETURNING sent_at INTO sent;
    r.ts_ms := (extract(epoch FROM sent) * 1000)::bigint;
    r.nick := hippo.room_pick_nick(room_id, r.user_id, r.name);
    RETURN NEXT r;
    RETURN QUERY SELECT * FROM hippo.room_recipients(room_id, NULL);
END
$$;

-- The details IQ: the status row (kind, title, the group's photo version), then a 'member'
-- row per present user and the backlog (HISTORY_MAX messages, -1 = all).
CREATE FUNCTION hippo.room_details(room_id text, jid text, history_max integer)
RETURNS SETOF hippo.room_row
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r hippo.room_row := hippo.room_check(room_id, jid);
BEGIN
    RETURN NEXT r;
    IF r.status = 'ok' THEN
        RETURN QUERY SELECT * FROM hippo.room_members(room_id, NULL);
        RETURN QUERY SELECT * FROM hippo.room_history(room_id, history_max, NULL);
    END IF;
END
$$;

-- Room facts for disco and ping: the status row, with the role of the resource JID_ in
-- res_old_role (NULL when it is not in the room) and the number of present users in serial.
CREATE FUNCTION hippo.room_info(room_id text, jid text) RETURNS SETOF hippo.room_row
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r hippo.room_row := hippo.room_check(room_id, jid);
BEGIN
    IF r.status = 'ok' THEN
        SELECT o.role INTO r.res_old_role FROM hippo.room_occupants o
        WHERE o.room_id = room_info.room_id AND o.occupant_jid = jid;
        SELECT count(DISTINCT o.user_id) INTO r.serial FROM hippo.room_occupants o
        WHERE o.room_id = room_info.room_id;
    END IF;
    RETURN NEXT r;
END
$$;
