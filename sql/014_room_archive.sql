-- 014_room_archive.sql - XEP-0313 (Message Archive Management, urn:xmpp:mam:2) over a
-- room's stored messages (hippo.room_messages), for src/room_archive.c.
--
-- The archive id of a message is its room serial, the id of the XEP-0359 stanza-id every
-- copy carries, so a client can page from a live message. Whoever may enter the room
-- (hippo.room_check: the same rule as a join) may read its whole archive.

-- The archive shows a message from the nick its sender has in the room while present, else
-- from its name (as the join backlog, hippo.room_history).
CREATE FUNCTION hippo.room_archive_nick(room_id text, user_id text, name text) RETURNS text
LANGUAGE sql STABLE
RETURN coalesce((SELECT o.muc_nick FROM hippo.room_occupants o
                 WHERE o.room_id = room_archive_nick.room_id
                   AND o.user_id = room_archive_nick.user_id LIMIT 1), name);

-- The GUID whose JID node (hippo.guid_to_node) NODE is, or NULL: its inverse (a letter
-- followed by '_' was lower case, a letter alone upper case, a digit stays).
CREATE FUNCTION hippo.room_node_guid(node text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT g FROM (
        SELECT string_agg(CASE WHEN length(x.m[1]) = 2 THEN left(x.m[1], 1)
                               WHEN x.m[1] ~ '^[a-z]$' THEN upper(x.m[1])
                               ELSE x.m[1] END, '' ORDER BY x.k) AS g
        FROM regexp_matches(node COLLATE "C", '([a-z]_|[a-z]|[0-9])', 'g')
             WITH ORDINALITY x(m, k)) r
    WHERE r.g ~ '^[A-Za-z0-9]{14}$' AND hippo.guid_to_node(r.g) = node
$$;

-- The users a MAM "with" of ROOM_ID/WITH_NICK means: those the archive shows under that nick
-- (present with that nick, or absent with that name), and the one whose JID node (the
-- classic dialect's occupant resource) it is. Once per query, not per message.
CREATE FUNCTION hippo.room_archive_senders(room_id text, with_nick text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT s.id), '{}') FROM (
        SELECT o.user_id AS id FROM hippo.room_occupants o
        WHERE o.room_id = room_archive_senders.room_id AND o.muc_nick = with_nick
        UNION ALL
        SELECT u.id FROM hippo.users u
        WHERE u.name = with_nick
          AND NOT EXISTS (SELECT FROM hippo.room_occupants o
                          WHERE o.room_id = room_archive_senders.room_id
                            AND o.user_id = u.id)
        UNION ALL
        SELECT u.id FROM hippo.users u WHERE u.id = hippo.room_node_guid(with_nick)) s
$$;

-- A MAM query by JID to the room. The filtered set is the room's messages sent at or after
-- SENT_FROM and before SENT_BEFORE (NULL: no bound) by the senders WITH_NICK means (NULL:
-- anyone; hippo.room_archive_senders); the page is the part of it with a serial above
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
--             USER_ID, NAME, PHOTO_VERSION, and NICK as hippo.room_archive_nick).
-- The page is read along the (room_id, serial) key and stops after MAX_COUNT, but the count
-- and the index count the room's filtered messages: a query costs a scan of them (about
-- 50-100 ms for 200,000 messages in one room on a 2-core machine; docs/protocol-rooms.md).
-- STABLE: it only reads, so it takes no lock and waits for nobody.
CREATE FUNCTION hippo.room_archive(room_id text, jid text, sent_from timestamptz,
                                   sent_before timestamptz, with_nick text,
                                   after_serial bigint, before_serial bigint,
                                   from_end boolean, max_count integer)
RETURNS TABLE (n bigint, complete boolean, r hippo.room_row)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s hippo.room_row := hippo.room_check(room_id, jid);
    senders text[];
    total bigint;
    in_range bigint;
    page bigint[];
    first_index bigint;
    filtered text;
    range_ text;
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
    IF with_nick IS NOT NULL THEN
        senders := hippo.room_archive_senders(room_id, with_nick);
    END IF;
    max_count := greatest(max_count, 0);
    -- Only the filters given, so that each statement is planned for them (the sent_at index
    -- for a time window, the key for paging); EXECUTE plans with the values.
    filtered := 'FROM hippo.room_messages m WHERE m.room_id = $1'
        || CASE WHEN sent_from IS NOT NULL THEN ' AND m.sent_at >= $2' ELSE '' END
        || CASE WHEN sent_before IS NOT NULL THEN ' AND m.sent_at < $3' ELSE '' END
        || CASE WHEN senders IS NOT NULL THEN ' AND m.user_id = ANY ($4)' ELSE '' END;
    range_ := CASE WHEN after_serial IS NOT NULL THEN ' AND m.serial > $5' ELSE '' END
        || CASE WHEN before_serial IS NOT NULL THEN ' AND m.serial < $6' ELSE '' END;
    EXECUTE 'SELECT count(*), count(*) FILTER (WHERE true' || range_ || ') ' || filtered
    INTO total, in_range
    USING room_id, sent_from, sent_before, senders, after_serial, before_serial;
    RETURN QUERY SELECT total, in_range <= max_count, s;
    -- In a time window, the serial + 0 keeps the planner from walking the key from one end
    -- until the window (it takes the sent_at index and sorts what is in the window).
    EXECUTE 'SELECT array_agg(x.serial ORDER BY x.serial) FROM (SELECT m.serial ' || filtered
            || range_ || ' ORDER BY m.serial'
            || CASE WHEN sent_from IS NOT NULL OR sent_before IS NOT NULL THEN ' + 0' ELSE '' END
            || CASE WHEN from_end THEN ' DESC' ELSE '' END || ' LIMIT $7) x'
    INTO page
    USING room_id, sent_from, sent_before, senders, after_serial, before_serial, max_count;
    IF page IS NULL THEN
        RETURN;
    END IF;
    EXECUTE 'SELECT count(*) ' || filtered || ' AND m.serial < $5'
    INTO first_index
    USING room_id, sent_from, sent_before, senders, page[1];
    RETURN QUERY
    SELECT first_index + k - 1, NULL::boolean,
           ROW('archive', NULL, m.user_id, u.name, u.photo_version,
               hippo.room_archive_nick(m.room_id, m.user_id, u.name), NULL, NULL, NULL, NULL,
               NULL, m.serial, (extract(epoch FROM m.sent_at) * 1000)::bigint, m.body, NULL,
               NULL, NULL)::hippo.room_row
    FROM unnest(page) WITH ORDINALITY p(serial, k)
    JOIN hippo.room_messages m ON m.room_id = room_archive.room_id AND m.serial = p.serial
    JOIN hippo.users u ON u.id = m.user_id
    ORDER BY p.k;
END
$$;
