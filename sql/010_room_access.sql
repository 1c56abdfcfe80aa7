-- 010_room_access.sql - access to a room is checked on delivery, not only on entry.
--
-- When a user loses the right to be in a room (removed from the group, from the post's
-- recipients, the post made private, the post or group deleted, the user deleted or given
-- another JID), triggers move the user's occupancy rows out of hippo.room_occupants in the
-- same transaction: from its COMMIT on, nothing of the room is sent to those resources. Each
-- moved row becomes a hippo.room_departures row with a 'room_departure' outbox event, so
-- hippod tells the resource it is out (XEP-0045 status 321 or 307) and the room that the
-- user left, at least once, and also when it was down at the time (src/push_room_departure.c).
-- As a backstop, hippo.room_recipients delivers only to resources whose user may still be
-- in the room with that JID.

ALTER TABLE hippo.outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE hippo.outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('new_post', 'live_post', 'prefs', 'myspace_name', 'myspace_comment',
                    'hotness', 'active_posts', 'room_departure'));

-- What hippod needs to tell a removed resource and its room, kept until the event is sent
-- (the user row may be gone by then).
CREATE TABLE hippo.room_departures (
    event_id bigint PRIMARY KEY REFERENCES hippo.outbox (id) ON DELETE CASCADE,
    room_id text NOT NULL,
    kind text NOT NULL,
    occupant_jid text NOT NULL,
    user_id text NOT NULL,
    name text NOT NULL,
    photo_version integer NOT NULL,
    role text NOT NULL,
    dialect text NOT NULL,
    muc_nick text NOT NULL,
    cause text NOT NULL CHECK (cause IN ('revoked', 'kicked'))
);
COMMENT ON TABLE hippo.room_departures IS
    'Occupants removed because they lost access (revoked) or their account changed (kicked)';

-- Whether USER_ID may be in the room: room_may_enter, except that a deleted post gives
-- false instead of raising.
CREATE FUNCTION hippo.room_may_stay(kind text, room_id text, user_id text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF kind = 'post' THEN
        RETURN hippo.post_visible(room_id, user_id);
    END IF;
    RETURN hippo.room_may_enter(kind, room_id, user_id);
END
$$;

-- Moves one occupancy row to hippo.room_departures with its outbox event.
CREATE FUNCTION hippo.room_depart(o hippo.room_occupants, cause text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ev bigint;
BEGIN
    DELETE FROM hippo.room_occupants x
    WHERE x.room_id = o.room_id AND x.occupant_jid = o.occupant_jid;
    ev := hippo.outbox_emit('room_departure', o.room_id, o.user_id, NULL);
    INSERT INTO hippo.room_departures (event_id, room_id, kind, occupant_jid, user_id, name,
                                       photo_version, role, dialect, muc_nick, cause)
    SELECT ev, o.room_id, o.kind, o.occupant_jid, o.user_id, u.name, u.photo_version, o.role,
           o.dialect, o.muc_nick, cause
    FROM hippo.users u WHERE u.id = o.user_id;
END
$$;

-- Removes from ROOM_IDS the resources of USER_ID (NULL: of every user) that may no longer
-- be there (KEEP_JID NULL), or whose bare JID is not KEEP_JID (an account whose JID
-- changed). Returns how many. The rooms are locked first, in order: a join in flight either
-- committed before (and is seen here) or re-checks access after this commits (room_join).
CREATE FUNCTION hippo.room_recheck(room_ids text[], user_id text, cause text,
                                   keep_jid text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    o hippo.room_occupants;
    n integer := 0;
BEGIN
    PERFORM FROM hippo.rooms r WHERE r.room_id = ANY (room_ids) ORDER BY r.room_id FOR UPDATE;
    FOR o IN SELECT * FROM hippo.room_occupants x
             WHERE x.room_id = ANY (room_ids)
               AND (room_recheck.user_id IS NULL OR x.user_id = room_recheck.user_id)
             ORDER BY x.room_id, x.occupant_jid LOOP
        IF (keep_jid IS NULL AND NOT hippo.room_may_stay(o.kind, o.room_id, o.user_id))
           OR (keep_jid IS NOT NULL
               AND hippo.normalize_jid(o.occupant_jid) IS DISTINCT FROM keep_jid) THEN
            PERFORM hippo.room_depart(o, cause);
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION hippo.room_recheck(text[], text, text, text) IS
    'Moves occupants who lost access to room_departures (hippod tells them and the room)';

-- The rooms a user is present in, as an array (for the user triggers).
CREATE FUNCTION hippo.rooms_of_user(user_id text) RETURNS text[]
LANGUAGE sql STABLE
RETURN ARRAY(SELECT DISTINCT o.room_id FROM hippo.room_occupants o
             WHERE o.user_id = rooms_of_user.user_id);

-- ---------------------------------------------------------------------------------------
-- The triggers: every change that can take access away
-- ---------------------------------------------------------------------------------------

-- Membership lost (status no longer ACTIVE/FOLLOWER, or the row deleted, e.g. with its
-- group): the group's room and the rooms of the posts addressed to the group.
CREATE FUNCTION hippo.room_access_on_membership() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.status IN ('ACTIVE', 'FOLLOWER')
                             OR OLD.status NOT IN ('ACTIVE', 'FOLLOWER')) THEN
        RETURN NULL;
    END IF;
    PERFORM hippo.room_recheck(
        ARRAY(SELECT OLD.group_id
              UNION SELECT r.post_id FROM hippo.post_recipients r WHERE r.group_id = OLD.group_id),
        OLD.user_id, 'revoked');
    RETURN NULL;
END
$$;
CREATE TRIGGER room_access_membership AFTER UPDATE OF status OR DELETE ON hippo.group_members
    FOR EACH ROW EXECUTE FUNCTION hippo.room_access_on_membership();

-- A recipient taken off a post: that user, or everyone in the room for a group recipient.
CREATE FUNCTION hippo.room_access_on_recipient() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.user_id IS NULL AND OLD.group_id IS NULL THEN
        RETURN NULL;  -- a resource (e-mail) recipient has no room presence
    END IF;
    PERFORM hippo.room_recheck(ARRAY[OLD.post_id], OLD.user_id, 'revoked');
    RETURN NULL;
END
$$;
CREATE TRIGGER room_access_recipient AFTER DELETE ON hippo.post_recipients
    FOR EACH ROW EXECUTE FUNCTION hippo.room_access_on_recipient();

-- A post made private, given another poster, or deleted: everyone in its room.
CREATE FUNCTION hippo.room_access_on_post() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hippo.room_recheck(ARRAY[OLD.id], NULL, 'revoked');
    RETURN NULL;
END
$$;
CREATE TRIGGER room_access_post AFTER UPDATE OF to_world, poster_id OR DELETE ON hippo.posts
    FOR EACH ROW EXECUTE FUNCTION hippo.room_access_on_post();

-- A group deleted: its room (the members' rows go by cascade, each handled above).
CREATE TRIGGER room_access_group AFTER DELETE ON hippo.groups
    FOR EACH ROW EXECUTE FUNCTION hippo.room_access_on_post();

-- A user given another JID: the resources of the old JID are no longer that user.
CREATE FUNCTION hippo.room_access_on_jid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hippo.room_recheck(hippo.rooms_of_user(NEW.id), NEW.id, 'kicked', NEW.jid);
    RETURN NULL;
END
$$;
CREATE TRIGGER room_access_jid AFTER UPDATE OF jid ON hippo.users
    FOR EACH ROW WHEN (OLD.jid IS DISTINCT FROM NEW.jid)
    EXECUTE FUNCTION hippo.room_access_on_jid();

-- A user deleted: before the row goes (its occupancy would go by cascade, untold).
CREATE FUNCTION hippo.room_access_on_user_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hippo.room_recheck(hippo.rooms_of_user(OLD.id), OLD.id, 'kicked', '');
    RETURN OLD;
END
$$;
CREATE TRIGGER room_access_user_delete BEFORE DELETE ON hippo.users
    FOR EACH ROW EXECUTE FUNCTION hippo.room_access_on_user_delete();

-- ---------------------------------------------------------------------------------------
-- What hippod reads for a departure event, and the delivery backstop
-- ---------------------------------------------------------------------------------------

-- The departure of event EVENT_ID as room rows: the status row (STATUS = cause; the user,
-- its nick, ROLE = its aggregate role now, OLD_ROLE = with the departed resource,
-- RES_OLD_ROLE, JID and DIALECT of the departed resource, KIND), then a 'to' row per
-- present resource when the aggregate role changed. No row when the event has no departure.
CREATE FUNCTION hippo.room_departure(event_id bigint) RETURNS SETOF hippo.room_row
LANGUAGE plpgsql STABLE AS $$
DECLARE
    g hippo.room_departures;
    r hippo.room_row;
BEGIN
    SELECT * INTO g FROM hippo.room_departures x WHERE x.event_id = room_departure.event_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    r.what := 'status';
    r.status := g.cause;
    r.user_id := g.user_id;
    r.name := g.name;
    r.photo_version := g.photo_version;
    r.nick := g.muc_nick;
    r.role := hippo.room_user_role(g.room_id, g.user_id);
    r.old_role := CASE WHEN r.role = 'participant' OR g.role = 'participant' THEN 'participant'
                       ELSE 'visitor' END;
    r.res_old_role := g.role;
    r.jid := g.occupant_jid;
    r.dialect := g.dialect;
    r.kind := g.kind;
    RETURN NEXT r;
    IF r.role <> r.old_role THEN
        RETURN QUERY SELECT * FROM hippo.room_recipients(g.room_id, NULL);
    END IF;
END
$$;

-- 003's room_recipients, delivering only to resources whose user may still be in the room
-- with that JID: the triggers above remove the others in the same transaction as the
-- change; this covers whatever changed access by another way. The rule of room_may_stay is
-- written out inline: as function calls it made this statement 9 times slower.
CREATE OR REPLACE FUNCTION hippo.room_recipients(room_id text, except_jid text)
RETURNS SETOF hippo.room_row
LANGUAGE sql STABLE AS $$
    SELECT 'to', NULL, o.user_id, NULL, NULL::integer, NULL, NULL, NULL, NULL, o.occupant_jid,
           o.dialect, NULL::bigint, NULL::bigint, NULL, NULL, NULL, NULL::integer
    FROM hippo.room_occupants o
    JOIN hippo.users u ON u.id = o.user_id AND u.jid = lower(split_part(o.occupant_jid, '/', 1))
    LEFT JOIN hippo.posts p ON o.kind = 'post' AND p.id = o.room_id
    WHERE o.room_id = room_recipients.room_id AND o.occupant_jid IS DISTINCT FROM except_jid
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
    ORDER BY o.joined_at, o.occupant_jid
$$;

-- 003's room_join, checking access once more after locking the room.
CREATE OR REPLACE FUNCTION hippo.room_join(room_id text, jid text, role_ text, dialect_ text,
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
    -- Again now that the room is locked: a revocation committed since room_check (it locks
    -- the room too, room_recheck) is seen here, so its user cannot slip in behind it.
    IF NOT hippo.room_may_stay(r.kind, room_id, r.user_id) THEN
        r.status := 'forbidden';
        RETURN NEXT r;
        RETURN;
    END IF;
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
