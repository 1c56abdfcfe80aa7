-- 016_room_music.sql - music presence in rooms, as the original (era B) server did: every
-- room userInfo carries musicPlaying, arrangementName and artist, and a musicChanged IQ sends
-- the rooms the user is present in a fresh available presence with the new values
-- (original-behaviour.md 2.2 and 2.7; src/room_music.c).
--
-- hippo.room_row stays as it is (the room message path builds it too): the statements of
-- hippod that send userInfo add three columns to their room function's rows, from
-- hippo.room_music_fresh.

-- What the rooms show of each user's music. PLAYING: the user plays a track that has a name
-- or an artist (the original: a musicChanged with neither makes musicPlaying false and keeps
-- the last song). ARRANGEMENT_NAME and ARTIST: of that track; when the current track has
-- neither (stopped with nothing known, or a track of an album or url only), of the last
-- track played that has one; '' when none is known. A user who turned the pref
-- musicSharingEnabled off shows nothing: false, '', '' (the original's clients never sent
-- music then, and its web pages hid the music of such users).
-- PL/pgSQL, not SQL: a SQL function that is not inlined (its argument is a subquery in the
-- callers) is planned again at every call, which cost 3 ms of a join's 4.
CREATE FUNCTION hippo.room_music(user_ids text[])
RETURNS TABLE (user_id text, playing boolean, arrangement_name text, artist text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT u.id,
           sh.enabled AND coalesce(c.playing, false) AND cur.id IS NOT NULL,
           CASE WHEN sh.enabled
                THEN coalesce(CASE WHEN cur.id IS NOT NULL THEN cur.name ELSE prev.name END, '')
                ELSE '' END,
           CASE WHEN sh.enabled
                THEN coalesce(CASE WHEN cur.id IS NOT NULL THEN cur.artist ELSE prev.artist END, '')
                ELSE '' END
    FROM unnest(user_ids) u(id)
    LEFT JOIN hippo.prefs p ON p.user_id = u.id AND p.key = 'musicSharingEnabled'
    CROSS JOIN LATERAL (
        SELECT coalesce(hippo.pref_boolean(p.value),
                        (SELECT d.value::boolean FROM hippo.pref_defaults() d
                         WHERE d.key = 'musicSharingEnabled')) AS enabled) sh
    LEFT JOIN hippo.current_tracks c ON c.user_id = u.id
    LEFT JOIN hippo.tracks cur
        ON cur.id = c.track_id AND (cur.name IS NOT NULL OR cur.artist IS NOT NULL)
    LEFT JOIN LATERAL (
        SELECT t.name, t.artist
        FROM hippo.track_history h JOIN hippo.tracks t ON t.id = h.track_id
        WHERE cur.id IS NULL AND sh.enabled AND h.user_id = u.id
          AND (t.name IS NOT NULL OR t.artist IS NOT NULL)
        ORDER BY h.last_played_at DESC
        LIMIT 1) prev ON true;
END
$$;
COMMENT ON FUNCTION hippo.room_music(text[]) IS
    'The music room presence shows of each user: playing, arrangement name, artist ('''' when unknown or not shared)';

-- A musicChanged and a join of the same user's resource must not both miss each other (the
-- join reading the old track, the change not seeing the new occupant): the change holds
-- this lock exclusively from before it stores the track until it commits, a join holds it
-- shared from before it reads the joiner's music. Two int4 keys: apart from the bigint
-- advisory keys of 007 and migrate.c.
CREATE FUNCTION hippo.room_music_lock_key() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN hashtext('hippo.room_music');

-- hippo.room_music read afresh: VOLATILE, so its query takes a new snapshot. hippod's
-- statements that send userInfo (src/rooms.c, push_room_departure.c) join their room
-- function's rows to this, called with the users of the status and member rows once the room
-- function has run (and locked the room): a musicChanged that committed meanwhile is seen.
-- LOCK_USER (the joiner of a join, else NULL): read under the shared lock above.
CREATE FUNCTION hippo.room_music_fresh(user_ids text[], lock_user text)
RETURNS TABLE (user_id text, playing boolean, arrangement_name text, artist text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF lock_user IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock_shared(hippo.room_music_lock_key(), hashtext(lock_user));
    END IF;
    RETURN QUERY SELECT * FROM hippo.room_music(user_ids);
END
$$;
COMMENT ON FUNCTION hippo.room_music_fresh(text[], text) IS
    'hippo.room_music in a fresh snapshot, for the users of a room function''s rows (LOCK_USER: a joiner)';

-- musicChanged (hippo.music_changed, which it calls) and what the rooms must be told. The
-- first row (ROOM_ID NULL): 'status' with STATUS 'changed' or 'unchanged' (what the rooms
-- show of the user's music is the same as before: nothing to send), the user's id, name and
-- photo version, and the music columns. When changed, per room the user is present in (by
-- room id): a 'member' row (the user's aggregate ROLE, its NICK, the room's KIND), then a
-- 'to' row per resource present (hippo.room_recipients_in: the delivery backstop), the
-- user's own included. The user's rooms are locked first, in room order (as joins and
-- message batches lock them): a join of another user either commits before, and its
-- resource gets the presence, or reads the new music.
CREATE FUNCTION hippo.room_music_changed(user_id text, props text[])
RETURNS TABLE (room_id text, r hippo.room_row, music_playing boolean, arrangement_name text,
               artist text)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    s hippo.room_row;
    before record;
    after record;
BEGIN
    PERFORM hippo.require_user(user_id);
    PERFORM FROM hippo.rooms x WHERE x.room_id = ANY (hippo.rooms_of_user(user_id))
    ORDER BY x.room_id FOR UPDATE;
    PERFORM pg_advisory_xact_lock(hippo.room_music_lock_key(), hashtext(user_id));
    SELECT * INTO before FROM hippo.room_music(ARRAY[user_id]);
    PERFORM hippo.music_changed(user_id, props);
    SELECT * INTO after FROM hippo.room_music(ARRAY[user_id]);
    s.what := 'status';
    s.status := CASE WHEN (before.playing, before.arrangement_name, before.artist)
                          IS NOT DISTINCT FROM (after.playing, after.arrangement_name, after.artist)
                     THEN 'unchanged' ELSE 'changed' END;
    SELECT u.id, u.name, u.photo_version INTO s.user_id, s.name, s.photo_version
    FROM hippo.users u WHERE u.id = room_music_changed.user_id;
    room_id := NULL;
    r := s;
    music_playing := after.playing;
    arrangement_name := after.arrangement_name;
    artist := after.artist;
    RETURN NEXT;
    IF s.status = 'unchanged' THEN
        RETURN;
    END IF;
    RETURN QUERY
        WITH mine AS (
            SELECT o.room_id, min(o.kind) AS kind, min(o.muc_nick) AS nick,
                   CASE WHEN bool_or(o.role = 'participant') THEN 'participant'
                        ELSE 'visitor' END AS role
            FROM hippo.room_occupants o WHERE o.user_id = room_music_changed.user_id
            GROUP BY o.room_id)
        SELECT x.room_id, x.row_, NULL::boolean, NULL::text, NULL::text
        FROM (SELECT m.room_id, 0 AS sub, 0::bigint AS n,
                     ROW('member', NULL, s.user_id, NULL, NULL, m.nick, m.role, NULL, NULL,
                         NULL, NULL, NULL, NULL, NULL, m.kind, NULL, NULL)::hippo.room_row AS row_
              FROM mine m
              UNION ALL
              SELECT t.room_id, 1, t.n, t.r
              FROM hippo.room_recipients_in(ARRAY(SELECT m.room_id FROM mine m), NULL)
                   WITH ORDINALITY t(room_id, r, n)) x
        ORDER BY x.room_id, x.sub, x.n;
END
$$;
COMMENT ON FUNCTION hippo.room_music_changed(text, text[]) IS
    'musicChanged (hippo.music_changed) and the rooms and resources to send the user''s new music presence';
