-- 015_room_discovery.sql - what standard XMPP clients discover: the rooms a user may enter
-- (disco#items at the component domain, paged with XEP-0059 RSM) and the XEP-0410 self-ping
-- at an occupant JID. Both are read-only; hippod runs each as one statement
-- (src/handle_disco_items.c, src/room_iq.c; docs/protocol-rooms.md, "Discovery").

-- The rooms the user with this JID may enter, as hippod lists them, in their listing order:
--   1. the rooms of the user's groups (membership ACTIVE or FOLLOWER), by name, then id;
--   2. the rooms of the MAX_POSTS most recent posts addressed to the user: posted by the
--      user, sent to the user, or sent to one of those groups; newest first.
-- World posts not addressed to the user are not listed (every user may enter them; listing
-- them would list the whole site), nor is a group whose GUID is also a post's (that GUID is
-- the post's room, as in hippo.room_lookup). Everything listed passes hippo.room_may_enter.
-- ORD numbers them in that order from 1. No user has JID_: nothing.
CREATE FUNCTION hippo.rooms_of_user(jid_ text, max_posts integer)
RETURNS TABLE (room_id text, title text, ord bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    uid text;
BEGIN
    SELECT x.id INTO uid FROM hippo.users x WHERE x.jid = hippo.normalize_jid(jid_);
    IF uid IS NULL THEN
        RETURN;
    END IF;
    max_posts := greatest(coalesce(max_posts, 0), 0);
    -- The poster's newest come in order from posts_poster_idx (WITH TIES keeps every post
    -- of the same instant, so the final order below decides between them); the recipients'
    -- posts are joined and the newest kept. So the cost follows the number of posts
    -- addressed to the user (docs/protocol-rooms.md gives measurements), never the whole
    -- posts table.
    RETURN QUERY
    WITH mine AS (
        SELECT m.group_id FROM hippo.group_members m
        WHERE m.user_id = uid AND m.status IN ('ACTIVE', 'FOLLOWER')
    ), groups_ AS (
        SELECT g.id, g.name FROM hippo.groups g JOIN mine ON mine.group_id = g.id
        WHERE NOT EXISTS (SELECT FROM hippo.posts p WHERE p.id = g.id)
    ), candidates AS (
        (SELECT p.id, p.title, p.created_at FROM hippo.posts p
         WHERE p.poster_id = uid
         ORDER BY p.created_at DESC FETCH FIRST max_posts ROWS WITH TIES)
        UNION
        (SELECT p.id, p.title, p.created_at FROM hippo.posts p
         WHERE p.id IN (SELECT r.post_id FROM hippo.post_recipients r WHERE r.user_id = uid
                        UNION
                        SELECT r.post_id FROM hippo.post_recipients r JOIN mine
                            ON r.group_id = mine.group_id)
         ORDER BY p.created_at DESC, p.id DESC LIMIT max_posts)
    ), posts_ AS (
        SELECT c.id, c.title, c.created_at FROM candidates c
        ORDER BY c.created_at DESC, c.id DESC LIMIT max_posts
    )
    SELECT l.id, l.title,
           row_number() OVER (ORDER BY l.rank, l.at DESC,
                              CASE WHEN l.rank = 0 THEN l.title END COLLATE "C", l.id)
    FROM (SELECT 0 AS rank, g.id, g.name AS title, NULL::timestamptz AS at FROM groups_ g
          UNION ALL
          SELECT 1, p.id, p.title, p.created_at FROM posts_ p) l
    ORDER BY 3;
END
$$;
COMMENT ON FUNCTION hippo.rooms_of_user(text, integer) IS
    'The rooms the user with JID_ may enter that disco#items lists: their groups, then the '
    'MAX_POSTS newest posts addressed to them (docs/protocol-rooms.md)';

-- One page of hippo.rooms_of_user(JID_, MAX_POSTS) as room JIDs at DOMAIN, for disco#items
-- with XEP-0059 result set management. The RSM ids are the room JIDs. The page holds at most
-- PAGE_MAX rooms:
--   AFTER_ given:  those after the room AFTER_;
--   BEFORE_ given: those just before the room BEFORE_ ('' = the last page);
--   INDEX_ given:  those from position INDEX_ (0-based) on;
--   otherwise:     the first ones.
-- Rows: first ('status', STATUS, NULL, COUNT) with STATUS ok, or item-not-found when AFTER_
-- or BEFORE_ is not in the list (XEP-0059 2.5); then ('item', ROOM_JID, TITLE, POSITION) per
-- room of the page, POSITION 0-based in the whole list. A JID that is no user's gets the
-- answer of a user without rooms (count 0), so the listing tells a stranger nothing.
CREATE FUNCTION hippo.rooms_for_user(jid_ text, domain text, max_posts integer,
                                     page_max integer, after_ text, before_ text,
                                     index_ integer)
RETURNS TABLE (what text, room_jid text, title text, n integer)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    jids text[];
    titles text[];
    total integer;
    pos integer;
    lo integer := 0;  -- the page is positions lo .. hi - 1 (0-based)
    hi integer;
BEGIN
    SELECT coalesce(array_agg(hippo.room_jid(r.room_id, domain) ORDER BY r.ord), '{}'),
           coalesce(array_agg(r.title ORDER BY r.ord), '{}')
    INTO jids, titles
    FROM hippo.rooms_of_user(jid_, max_posts) r;
    total := cardinality(jids);
    page_max := greatest(coalesce(page_max, 0), 0);
    IF after_ IS NOT NULL THEN
        pos := array_position(jids, lower(after_));
        lo := pos;  -- 1-based position of AFTER_ = 0-based position of the next one
    ELSIF before_ = '' THEN
        lo := greatest(total - page_max, 0);
        pos := 0;
    ELSIF before_ IS NOT NULL THEN
        pos := array_position(jids, lower(before_));
        lo := greatest(pos - 1 - page_max, 0);
    ELSE
        lo := greatest(coalesce(index_, 0), 0);
        pos := 0;
    END IF;
    IF pos IS NULL THEN
        RETURN QUERY SELECT 'status', 'item-not-found', NULL::text, total;
        RETURN;
    END IF;
    hi := least(lo + page_max, total);
    IF before_ <> '' THEN
        hi := least(hi, pos - 1);
    END IF;
    RETURN QUERY SELECT 'status', 'ok', NULL::text, total;
    RETURN QUERY SELECT 'item', jids[i + 1], titles[i + 1], i
                 FROM generate_series(lo, hi - 1) AS i;
END
$$;
COMMENT ON FUNCTION hippo.rooms_for_user(text, text, integer, integer, text, text, integer) IS
    'One RSM page of the rooms JID_ may enter, as room JIDs at DOMAIN (disco#items)';

-- XEP-0410 self-ping: a ping from the resource JID_ to ROOM_ID/NICK_. Status:
--   ok              JID_ is an occupant of the room and NICK_ is its own occupant nick;
--   not-occupant    JID_ is not in the room, for whatever reason (not a user, no such room,
--                   not allowed in, never joined or left): XEP-0410 wants not-acceptable
--                   for all of them, and a client that gets it re-joins;
--   other-occupant  JID_ is in the room, NICK_ is another occupant's (hippod relays no IQs
--                   to occupants);
--   no-occupant     JID_ is in the room, nobody has NICK_.
-- The nick compared is the resource's own in its dialect (classic: the user's JID node;
-- standard: its readable nick), the one its self-presence came from.
CREATE FUNCTION hippo.room_ping(room_id text, jid_ text, nick_ text) RETURNS SETOF hippo.room_row
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r hippo.room_row := hippo.room_check(room_id, jid_);
    own text;
BEGIN
    IF r.status = 'ok' THEN
        SELECT o.nick, o.role INTO own, r.res_old_role FROM hippo.room_occupants o
        WHERE o.room_id = room_ping.room_id AND o.occupant_jid = jid_;
        r.nick := own;
        r.status := CASE
            WHEN own IS NULL THEN 'not-occupant'
            WHEN own = nick_ THEN 'ok'
            WHEN EXISTS (SELECT FROM hippo.room_occupants o
                         WHERE o.room_id = room_ping.room_id
                           AND (o.nick = nick_ OR o.muc_nick = nick_)) THEN 'other-occupant'
            ELSE 'no-occupant' END;
    ELSE
        r := NULL;  -- nothing of the user or the room goes back
        r.what := 'status';
        r.status := 'not-occupant';
    END IF;
    RETURN NEXT r;
END
$$;
COMMENT ON FUNCTION hippo.room_ping(text, text, text) IS
    'XEP-0410 self-ping from resource JID_ to ROOM_ID/NICK_: ok, not-occupant, other-occupant or no-occupant';
