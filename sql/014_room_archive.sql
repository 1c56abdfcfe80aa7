-- 014_room_archive.sql - XEP-0313 (Message Archive Management, urn:xmpp:mam:2) over a
-- room's stored messages (hippo.room_messages), for src/room_archive.c.
--
-- The archive id of a message is its room serial, the id of the XEP-0359 stanza-id every
-- copy carries, so a client can page from a live message. Whoever may enter the room
-- (hippo.room_check: the same rule as a join) may read its whole archive.

-- The room's messages that match the filters, oldest first, each with the nick the archive
-- shows it under: the sender's nick in the room while it is present, else its name (as the
-- join backlog, hippo.room_history). SENT_FROM (inclusive) and SENT_BEFORE (exclusive) bound
-- sent_at (NULL: no bound); WITH_NICK (NULL: anyone) is that nick or, for the classic
-- dialect's occupant JIDs, the sender's JID node (hippo.guid_to_node).
CREATE FUNCTION hippo.room_archive_messages(room_id text, sent_from timestamptz,
                                            sent_before timestamptz, with_nick text)
RETURNS TABLE (serial bigint, user_id text, name text, photo_version integer, nick text,
               sent_at timestamptz, body text)
LANGUAGE sql STABLE AS $$
    SELECT f.* FROM (
        SELECT m.serial, m.user_id, u.name, u.photo_version,
               coalesce((SELECT o.muc_nick FROM hippo.room_occupants o
                         WHERE o.room_id = m.room_id AND o.user_id = m.user_id LIMIT 1),
                        u.name) AS nick,
               m.sent_at, m.body
        FROM hippo.room_messages m JOIN hippo.users u ON u.id = m.user_id
        WHERE m.room_id = room_archive_messages.room_id
          AND (sent_from IS NULL OR m.sent_at >= sent_from)
          AND (sent_before IS NULL OR m.sent_at < sent_before)) f
    WHERE with_nick IS NULL OR f.nick = with_nick OR hippo.guid_to_node(f.user_id) = with_nick
    ORDER BY f.serial
$$;

-- A MAM query by JID to the room: the filtered set is room_archive_messages(room_id,
-- sent_from, sent_before, with_nick); the page is the part of it with a serial above
-- AFTER_SERIAL and below BEFORE_SERIAL (NULL: no bound), its first MAX_COUNT messages, or
-- its last ones when FROM_END (an RSM <before/>: the last page).
--
-- Rows (N, COMPLETE, R):
--   status  - first: R is room_check's status row (ok, unknown-user, unknown-room,
--             forbidden) or unknown-id (AFTER_SERIAL or BEFORE_SERIAL is no message of the
--             room: XEP-0313 wants item-not-found); for ok, N is the number of messages in
--             the filtered set (RSM <count/>) and COMPLETE whether the page holds all of the
--             range (nothing more in the direction of paging);
--   archive - then one per message of the page, oldest first: N its index in the filtered
--             set (RSM <first index/>), R the message (SERIAL, TS_MS, BODY, the sender in
--             USER_ID, NAME, PHOTO_VERSION, NICK).
-- STABLE: it only reads, so it takes no lock and waits for nobody.
CREATE FUNCTION hippo.room_archive(room_id text, jid text, sent_from timestamptz,
                                   sent_before timestamptz, with_nick text,
                                   after_serial bigint, before_serial bigint,
                                   from_end boolean, max_count integer)
RETURNS TABLE (n bigint, complete boolean, r hippo.room_row)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s hippo.room_row := hippo.room_check(room_id, jid);
    total bigint;
    in_range bigint;
BEGIN
    IF s.status = 'ok' AND (
        (after_serial IS NOT NULL
         AND NOT EXISTS (SELECT FROM hippo.room_messages m
                         WHERE m.room_id = room_archive.room_id AND m.serial = after_serial))
        OR (before_serial IS NOT NULL
            AND NOT EXISTS (SELECT FROM hippo.room_messages m
                            WHERE m.room_id = room_archive.room_id
                              AND m.serial = before_serial))) THEN
        s.status := 'unknown-id';
    END IF;
    IF s.status <> 'ok' THEN
        RETURN QUERY SELECT NULL::bigint, NULL::boolean, s;
        RETURN;
    END IF;
    SELECT count(*),
           count(*) FILTER (WHERE (after_serial IS NULL OR f.serial > after_serial)
                              AND (before_serial IS NULL OR f.serial < before_serial))
    INTO total, in_range
    FROM hippo.room_archive_messages(room_id, sent_from, sent_before, with_nick) f;
    RETURN QUERY SELECT total, in_range <= greatest(max_count, 0), s;
    RETURN QUERY
    SELECT q.idx, NULL::boolean,
           ROW('archive', NULL, q.user_id, q.name, q.photo_version, q.nick, NULL, NULL, NULL,
               NULL, NULL, q.serial, (extract(epoch FROM q.sent_at) * 1000)::bigint, q.body,
               NULL, NULL, NULL)::hippo.room_row
    FROM (SELECT p.* FROM (SELECT f.*, row_number() OVER (ORDER BY f.serial) - 1 AS idx
                           FROM hippo.room_archive_messages(room_id, sent_from, sent_before,
                                                            with_nick) f) p
          WHERE (after_serial IS NULL OR p.serial > after_serial)
            AND (before_serial IS NULL OR p.serial < before_serial)
          ORDER BY CASE WHEN from_end THEN -p.serial ELSE p.serial END
          LIMIT greatest(max_count, 0)) q
    ORDER BY q.serial;
END
$$;
