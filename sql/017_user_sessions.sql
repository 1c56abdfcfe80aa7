-- 017_user_sessions.sql - login awareness (original-behaviour.md 6; docs/push.md "Login").
-- With the XEP-0356 presence privilege the XMPP server forwards every user's presence to
-- hippod, which counts each user's online resources in memory and calls:
--   hippo.session_login(jid)   when the first resource comes up: users.last_login_at, and
--                              hotness + activePostsChanged pushed to the user;
--   hippo.session_resend(jid)  when one more resource comes up: the two pushes again (the
--                              original resent them on every session start);
--   hippo.session_logout(jid)  when the last resource goes down: users.last_logout_at;
--   hippo.session_resume(jid)  for the sessions the server resends when hippod (re)connects:
--                              a login only if the user is not recorded online already.
-- The pushes go through the outbox like every other push, so they leave after this
-- transaction and after the session that logged in is available.

-- A new session's client knows neither its hotness nor its active posts. The push path
-- sends only changes against what was sent last (007), so a login records "the client
-- has nothing": hotness 'UNKNOWN' (a value clients know) and active posts NULL, which
-- every real value differs from.
ALTER TABLE hippo.push_hotness_sent DROP CONSTRAINT push_hotness_sent_value_check;
ALTER TABLE hippo.push_hotness_sent ADD CONSTRAINT push_hotness_sent_value_check
    CHECK (value IN ('UNKNOWN', 'COLD', 'COOL', 'WARM', 'GETTING_HOT', 'HOT'));
COMMENT ON TABLE hippo.push_hotness_sent IS
    'The hotness value last pushed to each user (no row: COLD, what a client assumes; '
    'UNKNOWN: a session started since, push whatever it is)';
ALTER TABLE hippo.push_active_posts_sent ALTER COLUMN post_ids DROP NOT NULL;
COMMENT ON TABLE hippo.push_active_posts_sent IS
    'The active post set last pushed to each user (activePostsChanged; no row: empty; '
    'post_ids NULL: a session started since, push whatever it is)';

-- 007's function, where a row with post_ids NULL (a new session) always counts as changed.
CREATE OR REPLACE FUNCTION hippo.push_active_posts_changes(post_id text, user_id text)
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
           OR (s.user_id IS NOT NULL AND s.post_ids IS NULL)
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
    WHERE (s.user_id IS NOT NULL AND s.post_ids IS NULL)
       OR NOT (c.post_ids @> coalesce(s.post_ids, '{}') AND c.post_ids <@ coalesce(s.post_ids, '{}'))
    ORDER BY u.jid;
END;
COMMENT ON FUNCTION hippo.push_active_posts_changes(text, text) IS
    'Receivers of POST_ID (that may have changed) and USER_ID whose active post set differs '
    'from the one last pushed (or who started a session since), with the new set and their '
    'favorite/ignored flags';

-- Forgets what USER_ID's client was sent and queues hotness and activePostsChanged for it.
CREATE FUNCTION hippo.session_push_all(user_id text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    INSERT INTO hippo.push_hotness_sent AS s (user_id, value)
    VALUES (session_push_all.user_id, 'UNKNOWN')
    ON CONFLICT ON CONSTRAINT push_hotness_sent_pkey DO UPDATE SET value = 'UNKNOWN', sent_at = now();
    INSERT INTO hippo.push_active_posts_sent AS s (user_id, post_ids)
    VALUES (session_push_all.user_id, NULL)
    ON CONFLICT ON CONSTRAINT push_active_posts_sent_pkey DO UPDATE SET post_ids = NULL, sent_at = now();
    PERFORM hippo.outbox_emit('hotness', NULL, session_push_all.user_id, NULL);
    PERFORM hippo.outbox_emit('active_posts', NULL, session_push_all.user_id, NULL);
END
$$;
COMMENT ON FUNCTION hippo.session_push_all(text) IS
    'A session of USER_ID started: push its hotness and active posts whatever was sent before';

CREATE FUNCTION hippo.session_login(jid text) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    uid text := hippo.user_by_jid(jid);
BEGIN
    IF uid IS NOT NULL THEN
        UPDATE hippo.users SET last_login_at = now() WHERE id = uid;
        PERFORM hippo.session_push_all(uid);
    END IF;
    RETURN uid;
END
$$;
COMMENT ON FUNCTION hippo.session_login(text) IS
    'The first resource of bare JID JID came online: last_login_at, hotness and active posts '
    'pushed; returns the user id, NULL when JID is no user';

CREATE FUNCTION hippo.session_resend(jid text) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    uid text := hippo.user_by_jid(jid);
BEGIN
    IF uid IS NOT NULL THEN
        PERFORM hippo.session_push_all(uid);
    END IF;
    RETURN uid;
END
$$;
COMMENT ON FUNCTION hippo.session_resend(text) IS
    'One more resource of bare JID JID came online: hotness and active posts pushed again';

CREATE FUNCTION hippo.session_logout(jid text) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    uid text := hippo.user_by_jid(jid);
BEGIN
    IF uid IS NOT NULL THEN
        UPDATE hippo.users SET last_logout_at = now() WHERE id = uid;
    END IF;
    RETURN uid;
END
$$;
COMMENT ON FUNCTION hippo.session_logout(text) IS
    'The last resource of bare JID JID went offline: last_logout_at; returns the user id';

CREATE FUNCTION hippo.session_resume(jid text) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    uid text := hippo.user_by_jid(jid);
BEGIN
    IF uid IS NOT NULL AND NOT EXISTS (
            SELECT FROM hippo.users u
            WHERE u.id = uid AND u.last_login_at IS NOT NULL
              AND (u.last_logout_at IS NULL OR u.last_logout_at < u.last_login_at)) THEN
        PERFORM hippo.session_login(jid); -- it started while hippod was not listening
    END IF;
    RETURN uid;
END
$$;
COMMENT ON FUNCTION hippo.session_resume(text) IS
    'The server resent an open session of bare JID JID (hippod reconnected): a login only '
    'when the user is not recorded online already';

-- For operators and the web side: who was last seen when (hippod's view; see docs/sql-api.md
-- for what "online" can and cannot mean).
CREATE VIEW hippo.user_sessions AS
    SELECT u.id AS user_id, u.jid, u.last_login_at, u.last_logout_at,
           u.last_login_at IS NOT NULL
               AND (u.last_logout_at IS NULL OR u.last_logout_at < u.last_login_at) AS online
    FROM hippo.users u;
COMMENT ON VIEW hippo.user_sessions IS
    'Last login and logout per user as hippod saw them (XEP-0356 presence privilege); online: '
    'the last event seen was a login';
