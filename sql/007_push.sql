-- 007_push.sql - what the push notifications need beyond the outbox of 006: the last
-- hotness and active-post set sent to each user (so that only changes are pushed), the
-- queries hippod runs per event (a constant number whatever the audience), and the event
-- sources 006 lacks. The event flow is documented in docs/push.md.
--
-- Every function here that reads for hippod never raises for an unknown post or user: it
-- returns no rows, so that hippod retires an event about something deleted since.

-- ---------------------------------------------------------------------------------------
-- What was sent last
-- ---------------------------------------------------------------------------------------

CREATE TABLE hippo.push_hotness_sent (
    user_id text PRIMARY KEY REFERENCES hippo.users (id) ON DELETE CASCADE,
    value text NOT NULL CHECK (value IN ('COLD', 'COOL', 'WARM', 'GETTING_HOT', 'HOT')),
    sent_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hippo.push_hotness_sent IS
    'The hotness value last pushed to each user (no row: COLD, what a client assumes)';

CREATE TABLE hippo.push_active_posts_sent (
    user_id text PRIMARY KEY REFERENCES hippo.users (id) ON DELETE CASCADE,
    post_ids text[] NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hippo.push_active_posts_sent IS
    'The active post set last pushed to each user (activePostsChanged; no row: empty)';

-- ---------------------------------------------------------------------------------------
-- Audiences
-- ---------------------------------------------------------------------------------------

-- The users who received the post: its user recipients and the ACTIVE/FOLLOWER members of
-- its recipient groups, not the poster (as hippo.received_posts). Empty for an unknown post.
CREATE FUNCTION hippo.push_receivers(post_id text) RETURNS TABLE (user_id text)
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    SELECT r.user_id FROM hippo.post_recipients r JOIN hippo.posts p ON p.id = r.post_id
    WHERE r.post_id = push_receivers.post_id AND r.user_id IS NOT NULL
      AND r.user_id <> p.poster_id
    UNION
    SELECT m.user_id FROM hippo.post_recipients r JOIN hippo.posts p ON p.id = r.post_id
    JOIN hippo.group_members m ON m.group_id = r.group_id
    WHERE r.post_id = push_receivers.post_id AND m.status IN ('ACTIVE', 'FOLLOWER')
      AND m.user_id <> p.poster_id;
END;
COMMENT ON FUNCTION hippo.push_receivers(text) IS
    'Users who received the post (user recipients, members of recipient groups; not the poster)';

-- livePostChanged: the poster and the receivers but EXCEPT_USER, each with its own
-- favorite/ignored flags on the post (the <post> of the payload is per viewer).
CREATE FUNCTION hippo.push_live_post_audience(post_id text, except_user text)
RETURNS TABLE (poster_id text, jid text, favorite boolean, ignored boolean)
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    WITH p AS (
        SELECT x.id, x.poster_id FROM hippo.posts x WHERE x.id = push_live_post_audience.post_id),
    audience AS (
        SELECT p.poster_id AS user_id FROM p
        UNION
        SELECT r.user_id FROM hippo.push_receivers(push_live_post_audience.post_id) AS r)
    SELECT p.poster_id, u.jid, coalesce(pp.favorite, false), coalesce(pp.ignored, false)
    FROM p CROSS JOIN audience a
    JOIN hippo.users u ON u.id = a.user_id
    LEFT JOIN hippo.person_post pp ON pp.post_id = p.id AND pp.user_id = a.user_id
    WHERE a.user_id IS DISTINCT FROM push_live_post_audience.except_user;
END;
COMMENT ON FUNCTION hippo.push_live_post_audience(text, text) IS
    'Who gets livePostChanged for the post: poster and receivers but EXCEPT_USER, with their flags';

-- ---------------------------------------------------------------------------------------
-- Hotness
-- ---------------------------------------------------------------------------------------

-- The users among the post's receivers (POST_ID) and/or the user USER_ID (either may be
-- NULL) whose hotness differs from the value last pushed to them, with the new value.
CREATE FUNCTION hippo.push_hotness_changes(post_id text, user_id text)
RETURNS TABLE (user_id text, jid text, value text)
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    WITH candidates AS (
        SELECT r.user_id FROM hippo.push_receivers(push_hotness_changes.post_id) AS r
        UNION
        SELECT u.id FROM hippo.users u WHERE u.id = push_hotness_changes.user_id),
    evaluated AS (
        SELECT c.user_id, hippo.hotness_level(hippo.hotness_score(c.user_id)) AS value
        FROM candidates c)
    SELECT c.user_id, u.jid, c.value
    FROM evaluated c JOIN hippo.users u ON u.id = c.user_id
    LEFT JOIN hippo.push_hotness_sent s ON s.user_id = c.user_id
    WHERE c.value <> coalesce(s.value, 'COLD')
    ORDER BY u.jid;
END;
COMMENT ON FUNCTION hippo.push_hotness_changes(text, text) IS
    'Receivers of POST_ID and/or USER_ID whose hotness differs from the value last pushed';

-- Records what was pushed: USER_IDS[i] was sent VALUES_[i]. Deleted users are skipped.
CREATE FUNCTION hippo.push_hotness_record(user_ids text[], values_ text[]) RETURNS void
LANGUAGE sql SECURITY INVOKER
BEGIN ATOMIC
    INSERT INTO hippo.push_hotness_sent AS s (user_id, value)
    SELECT u.id, x.value
    FROM unnest(push_hotness_record.user_ids, push_hotness_record.values_) AS x(user_id, value)
    JOIN hippo.users u ON u.id = x.user_id
    ON CONFLICT ON CONSTRAINT push_hotness_sent_pkey DO UPDATE
        SET value = excluded.value, sent_at = now();
END;

-- ---------------------------------------------------------------------------------------
-- Active posts (original-behaviour.md 4.4)
-- ---------------------------------------------------------------------------------------

-- Among the user's 20 most recent received posts: up to 3 with chatting users, most
-- recent first, then filled up to 3 with posts that only have viewing users.
CREATE FUNCTION hippo.active_posts(user_id text) RETURNS text[]
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    WITH recent AS (
        SELECT r.post_id, row_number() OVER (ORDER BY r.created_at DESC, r.post_id DESC) AS n
        FROM hippo.received_posts(active_posts.user_id, 20) AS r),
    live AS (
        SELECT rc.post_id, rc.n, coalesce(c.chatting_users, 0) AS chatting,
               coalesce(c.viewing_users, 0) AS viewing
        FROM recent rc
        LEFT JOIN LATERAL (SELECT lc.chatting_users, lc.viewing_users
                           FROM hippo.post_live_counts lc WHERE lc.post_id = rc.post_id
                           LIMIT 1) AS c ON true),
    picked AS (
        SELECT l.post_id, l.n, CASE WHEN l.chatting > 0 THEN 0 ELSE 1 END AS class
        FROM live l WHERE l.chatting > 0 OR l.viewing > 0
        ORDER BY 3, 2
        LIMIT 3)
    SELECT coalesce(array_agg(pk.post_id ORDER BY pk.class, pk.n), '{}') FROM picked pk;
END;
COMMENT ON FUNCTION hippo.active_posts(text) IS
    'The user''s active posts: up to 3 of the 20 most recent received posts, those with '
    'chatting users first, then those with viewing users (each most recent first)';

-- The users whose active set changed, with the new set (in order) and their flags on each
-- post ('tf' = favorite, not ignored). Candidates: the receivers of POST_ID that can have
-- changed (the post has occupants, so it may have entered a set, or the set last sent is
-- not empty, so a post may have left it) and the user USER_ID. Sets compare as sets.
CREATE FUNCTION hippo.push_active_posts_changes(post_id text, user_id text)
RETURNS TABLE (user_id text, jid text, post_ids text[], flags text[])
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    WITH occupied AS (
        SELECT EXISTS (SELECT FROM hippo.room_occupants o
                       WHERE o.room_id = push_active_posts_changes.post_id AND o.kind = 'post')
            AS yes),
    candidates AS (
        SELECT r.user_id FROM hippo.push_receivers(push_active_posts_changes.post_id) AS r
        LEFT JOIN hippo.push_active_posts_sent s ON s.user_id = r.user_id
        WHERE (SELECT yes FROM occupied) OR cardinality(s.post_ids) > 0
        UNION
        SELECT u.id FROM hippo.users u WHERE u.id = push_active_posts_changes.user_id),
    evaluated AS (
        SELECT c.user_id, hippo.active_posts(c.user_id) AS post_ids FROM candidates c)
    SELECT c.user_id, u.jid, c.post_ids,
           ARRAY(SELECT CASE WHEN coalesce(pp.favorite, false) THEN 't' ELSE 'f' END
                        || CASE WHEN coalesce(pp.ignored, false) THEN 't' ELSE 'f' END
                 FROM unnest(c.post_ids) WITH ORDINALITY AS q(id, ord)
                 LEFT JOIN hippo.person_post pp ON pp.post_id = q.id AND pp.user_id = c.user_id
                 ORDER BY q.ord)
    FROM evaluated c JOIN hippo.users u ON u.id = c.user_id
    LEFT JOIN hippo.push_active_posts_sent s ON s.user_id = c.user_id
    WHERE NOT (c.post_ids @> coalesce(s.post_ids, '{}') AND c.post_ids <@ coalesce(s.post_ids, '{}'))
    ORDER BY u.jid;
END;
COMMENT ON FUNCTION hippo.push_active_posts_changes(text, text) IS
    'Receivers of POST_ID (that may have changed) and USER_ID whose active post set differs '
    'from the one last pushed, with the new set and their favorite/ignored flags';

-- Records what was pushed: USER_IDS[i] was sent the set SETS[i] (ids separated by spaces).
CREATE FUNCTION hippo.push_active_posts_record(user_ids text[], sets text[]) RETURNS void
LANGUAGE sql SECURITY INVOKER
BEGIN ATOMIC
    INSERT INTO hippo.push_active_posts_sent AS s (user_id, post_ids)
    SELECT u.id, coalesce(string_to_array(nullif(x.ids, ''), ' '), '{}')
    FROM unnest(push_active_posts_record.user_ids, push_active_posts_record.sets) AS x(user_id, ids)
    JOIN hippo.users u ON u.id = x.user_id
    ON CONFLICT ON CONSTRAINT push_active_posts_sent_pkey DO UPDATE
        SET post_ids = excluded.post_ids, sent_at = now();
END;

-- The rows of hippo.post_payload_rows() for POST_IDS, each post seen by its poster (who
-- can always see it) and the entities deduplicated: one snapshot for the posts of every
-- user's activePostsChanged, whoever can see which. hippod fills in each user's flags.
CREATE FUNCTION hippo.push_payload_rows(post_ids text[])
RETURNS TABLE (kind text, ord bigint, id text, name text, photo_version integer,
               poster_id text, href text, title text, body text, to_world boolean,
               post_date bigint, info text, favorite boolean, ignored boolean,
               recipients text, viewers text, chatting_users integer, viewing_users integer,
               total_viewers bigint)
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    WITH q AS (
        SELECT x.id, min(x.ord) AS ord
        FROM unnest(push_payload_rows.post_ids) WITH ORDINALITY AS x(id, ord)
        GROUP BY x.id),
    r AS (
        SELECT q.ord AS qord, x.*
        FROM q JOIN hippo.posts p ON p.id = q.id
        CROSS JOIN LATERAL hippo.post_payload_rows(p.poster_id, ARRAY[p.id], true) AS x),
    entities AS (
        SELECT DISTINCT ON (r.kind, r.id) r.* FROM r WHERE r.kind <> 'post'
        ORDER BY r.kind, r.id)
    SELECT e.kind, NULL::bigint, e.id, e.name, e.photo_version, e.poster_id, e.href, e.title,
           e.body, e.to_world, e.post_date, e.info, e.favorite, e.ignored, e.recipients,
           e.viewers, e.chatting_users, e.viewing_users, e.total_viewers
    FROM entities e
    UNION ALL
    SELECT r.kind, r.qord, r.id, r.name, r.photo_version, r.poster_id, r.href, r.title,
           r.body, r.to_world, r.post_date, r.info, r.favorite, r.ignored, r.recipients,
           r.viewers, r.chatting_users, r.viewing_users, r.total_viewers
    FROM r WHERE r.kind = 'post'
    ORDER BY 2 NULLS FIRST, 1, 3;
END;
COMMENT ON FUNCTION hippo.push_payload_rows(text[]) IS
    'post_payload_rows() of several posts, each from its poster''s viewpoint, entities once';

-- ---------------------------------------------------------------------------------------
-- Maintenance (hippod runs it at start and once a minute; one hippod at a time)
-- ---------------------------------------------------------------------------------------

-- Expires outbox events older than MAX_AGE, and queues a hotness event for each user whose
-- pushed hotness went stale with time (a post counts for one hour) and has none pending.
CREATE FUNCTION hippo.push_maintenance(max_age interval)
RETURNS TABLE (expired integer, cooled integer)
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    u text;
BEGIN
    expired := 0;
    cooled := 0;
    -- key: "hippo" + 1 (migrate.c holds "hippo"); another hippod is doing it right now
    IF NOT pg_try_advisory_xact_lock(448345321584) THEN
        RETURN NEXT;
        RETURN;
    END IF;
    expired := hippo.outbox_expire(max_age);
    FOR u IN
        SELECT s.user_id FROM hippo.push_hotness_sent s
        WHERE s.value <> 'COLD'
          AND NOT EXISTS (SELECT FROM hippo.outbox o
                          WHERE o.kind = 'hotness' AND o.user_id = s.user_id)
          AND hippo.hotness_level(hippo.hotness_score(s.user_id)) <> s.value
    LOOP
        PERFORM hippo.outbox_emit('hotness', NULL, u, NULL);
        cooled := cooled + 1;
    END LOOP;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION hippo.push_maintenance(interval) IS
    'Deletes outbox events older than MAX_AGE and queues hotness events for stale values';

-- ---------------------------------------------------------------------------------------
-- Event sources
-- ---------------------------------------------------------------------------------------

-- A new post changes the hotness of its receivers and may push an older post out of their
-- active set (the 20-post window). Deferred like outbox_new_post, whose name sorts first,
-- so that newPost goes out before these.
CREATE FUNCTION hippo.push_on_post() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hippo.outbox_emit('hotness', NEW.id, NULL, NEW.poster_id);
    PERFORM hippo.outbox_emit('active_posts', NEW.id, NULL, NEW.poster_id);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER push_post_receivers AFTER INSERT ON hippo.posts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hippo.push_on_post();

-- A membership change changes what the user received.
CREATE FUNCTION hippo.push_on_membership() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status THEN
        RETURN NULL;
    END IF;
    PERFORM hippo.outbox_emit('hotness', NULL, NEW.user_id, NULL);
    PERFORM hippo.outbox_emit('active_posts', NULL, NEW.user_id, NULL);
    RETURN NULL;
END
$$;
CREATE TRIGGER push_membership AFTER INSERT OR UPDATE OF status ON hippo.group_members
    FOR EACH ROW EXECUTE FUNCTION hippo.push_on_membership();

CREATE FUNCTION hippo.push_room_status(present boolean, participant boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN participant THEN 'participant' WHEN present THEN 'visitor' ELSE 'nonmember' END;

-- Replaces 006's outbox_occupancy: a live_post event only when the user's aggregate role
-- in a post room changed (another resource of a present user changes no number), and an
-- active_posts event when the chatting or viewing count changed and is now 0 or 1 (it may
-- have crossed zero: the only change that can alter an active set). Joins and leaves lock
-- the room row (003), so the other resources read here are committed.
CREATE FUNCTION hippo.push_on_occupancy() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    old_role text;
    new_role text;
    others_present boolean;
    others_participant boolean;
    before_s text;
    after_s text;
    chatting integer;
    viewing integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        r := NEW;
        new_role := NEW.role;
    ELSIF TG_OP = 'DELETE' THEN
        r := OLD;
        old_role := OLD.role;
    ELSE
        r := NEW;
        old_role := OLD.role;
        new_role := NEW.role;
    END IF;
    IF r.kind <> 'post' THEN
        RETURN NULL;
    END IF;
    SELECT count(*) > 0, coalesce(bool_or(o.role = 'participant'), false)
    INTO others_present, others_participant
    FROM hippo.room_occupants o
    WHERE o.room_id = r.room_id AND o.user_id = r.user_id AND o.occupant_jid <> r.occupant_jid;
    before_s := hippo.push_room_status(others_present OR old_role IS NOT NULL,
                                       others_participant OR old_role = 'participant');
    after_s := hippo.push_room_status(others_present OR new_role IS NOT NULL,
                                      others_participant OR new_role = 'participant');
    IF before_s = after_s THEN
        RETURN NULL;
    END IF;
    PERFORM hippo.outbox_emit('live_post', r.room_id, NULL, NULL);
    SELECT count(*) FILTER (WHERE x.participant), count(*) FILTER (WHERE NOT x.participant)
    INTO chatting, viewing
    FROM (SELECT bool_or(o.role = 'participant') AS participant FROM hippo.room_occupants o
          WHERE o.room_id = r.room_id GROUP BY o.user_id) AS x;
    IF ((before_s = 'participant') <> (after_s = 'participant') AND chatting <= 1)
       OR ((before_s = 'visitor') <> (after_s = 'visitor') AND viewing <= 1) THEN
        PERFORM hippo.outbox_emit('active_posts', r.room_id, NULL, NULL);
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER outbox_occupancy ON hippo.room_occupants;
DROP FUNCTION hippo.outbox_on_occupancy();
CREATE TRIGGER push_occupancy AFTER INSERT OR DELETE OR UPDATE OF role ON hippo.room_occupants
    FOR EACH ROW EXECUTE FUNCTION hippo.push_on_occupancy();

-- notifyContactComment queues a notice row; hippod sends it and deletes the row.
CREATE FUNCTION hippo.push_on_contact_comment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hippo.outbox_emit('myspace_comment', NULL, NEW.recipient_id, NEW.sender_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER push_contact_comment AFTER INSERT ON hippo.pending_myspace_comment_notices
    FOR EACH ROW EXECUTE FUNCTION hippo.push_on_contact_comment();

-- Notices queued before this migration get their event too.
SELECT hippo.outbox_emit('myspace_comment', NULL, n.recipient_id, n.sender_id)
FROM hippo.pending_myspace_comment_notices n ORDER BY n.id;
