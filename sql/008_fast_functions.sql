-- 008_fast_functions.sql - the SQL-language functions on hippod's request paths, redefined
-- as PL/pgSQL: same names, signatures, results, attributes, comments and errors.
--
-- PostgreSQL 15 parses and plans an SQL-language function again on every call unless it
-- can inline the function into the calling query; PL/pgSQL keeps its plans for the
-- session, and hippod runs all its statements in long-lived sessions. Functions that
-- PostgreSQL inlines (received_posts, push_receivers, the other single-SELECT set-returning
-- functions, pref_boolean, is_guid ...) stay SQL: their bodies become part of the caller's
-- cached plan. So do outbox_release (called only when a push failed) and track_keys
-- (constant-folded once per session), where the gain is too small to matter.
-- docs/performance.md ("Protocol IQs") describes the measurements behind this.
--
-- can_see_post no longer builds the post's whole audience (post_audience): it probes
-- existing indexes for the one user (posts_pkey, post_recipients_post_id_user_id_key,
-- post_recipients_post_id_group_id_key, group_members_pkey), so 008 adds none.
--
-- Two differences nobody relies on: a void function now returns an empty void value
-- instead of NULL (push_hotness_record, push_active_posts_record; hippod ignores the
-- value), and room_lookup in a select list gives a record of nulls instead of a null
-- record when nothing matched (room_check reads it in FROM, where both are a row of nulls).
--
-- "#variable_conflict use_column": as in an SQL function, a column wins over a parameter of
-- the same name (the bodies qualify both anyway).

-- ---------------------------------------------------------------------------------------
-- Visibility (001_core.sql, 004_post_iqs.sql)
-- ---------------------------------------------------------------------------------------

-- The rule of post_audience, for one user: the post is to_world, or the user is its
-- poster, a user recipient or an ACTIVE/FOLLOWER member of a recipient group. An unknown
-- post raises as before (require_post: 22023 for a bad id, P0002 for an unknown one).
CREATE OR REPLACE FUNCTION hippo.can_see_post(post_id text, user_id text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
    poster text;
    world boolean;
BEGIN
    SELECT p.poster_id, p.to_world INTO poster, world
    FROM hippo.posts p WHERE p.id = can_see_post.post_id;
    IF NOT FOUND THEN
        PERFORM hippo.require_post(can_see_post.post_id);
    END IF;
    IF world OR poster = can_see_post.user_id THEN
        RETURN true;
    END IF;
    RETURN EXISTS (SELECT FROM hippo.post_recipients r
                   WHERE r.post_id = can_see_post.post_id AND r.user_id = can_see_post.user_id)
        OR EXISTS (SELECT FROM hippo.post_recipients r
                   JOIN hippo.group_members m ON m.group_id = r.group_id
                   WHERE r.post_id = can_see_post.post_id AND m.user_id = can_see_post.user_id
                     AND m.status IN ('ACTIVE', 'FOLLOWER'));
END
$$;

CREATE OR REPLACE FUNCTION hippo.post_visible(post_id text, user_id text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT FROM hippo.posts p WHERE p.id = post_visible.post_id) THEN
        RETURN false;
    END IF;
    RETURN hippo.can_see_post(post_visible.post_id, post_visible.user_id);
END
$$;

-- ---------------------------------------------------------------------------------------
-- Hotness (004_post_iqs.sql)
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hippo.hotness_score(user_id text) RETURNS integer
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
    RETURN (SELECT count(*)::integer
            FROM hippo.received_posts(hotness_score.user_id, 20) AS r
            WHERE r.created_at > now() - interval '1 hour'
              AND NOT EXISTS (SELECT FROM hippo.post_views v
                              WHERE v.post_id = r.post_id AND v.user_id = hotness_score.user_id)
              AND NOT EXISTS (SELECT FROM hippo.person_post pp
                              WHERE pp.post_id = r.post_id AND pp.user_id = hotness_score.user_id
                                AND pp.ignored));
END
$$;

CREATE OR REPLACE FUNCTION hippo.hotness_level(score integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN CASE WHEN score IS NULL OR score < 1 THEN 'COLD'
                WHEN score < 4 THEN 'COOL'
                WHEN score < 8 THEN 'WARM'
                WHEN score < 16 THEN 'GETTING_HOT'
                ELSE 'HOT' END;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Post payloads (004_post_iqs.sql)
-- ---------------------------------------------------------------------------------------

-- The array parameter would make the plan cache keep choosing custom plans, each planned
-- again: hence force_generic_plan.
CREATE OR REPLACE FUNCTION hippo.post_payload_rows(viewer_id text, post_ids text[],
                                                   with_live boolean)
RETURNS TABLE (kind text, ord bigint, id text, name text, photo_version integer,
               poster_id text, href text, title text, body text, to_world boolean,
               post_date bigint, info text, favorite boolean, ignored boolean,
               recipients text, viewers text, chatting_users integer, viewing_users integer,
               total_viewers bigint)
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH requested AS (
        SELECT q.post_id, min(q.ord) AS ord
        FROM unnest(post_payload_rows.post_ids) WITH ORDINALITY AS q(post_id, ord)
        GROUP BY q.post_id),
    visible AS (
        SELECT rq.ord, p.*
        FROM requested rq JOIN hippo.posts p ON p.id = rq.post_id
        WHERE hippo.can_see_post(p.id, post_payload_rows.viewer_id)),
    recips AS (
        SELECT r.* FROM visible v JOIN hippo.post_recipients r ON r.post_id = v.id),
    recent AS (
        SELECT v.id AS post_id, rv.user_id, rv.n
        FROM visible v
        CROSS JOIN LATERAL (
            SELECT pv.user_id,
                   row_number() OVER (ORDER BY pv.first_viewed_at DESC, pv.user_id) AS n
            FROM hippo.post_views pv
            WHERE pv.post_id = v.id
            ORDER BY pv.first_viewed_at DESC, pv.user_id
            LIMIT 5) AS rv
        WHERE post_payload_rows.with_live),
    user_ids AS (
        SELECT v.poster_id AS user_id FROM visible v
        UNION SELECT r.user_id FROM recips r WHERE r.user_id IS NOT NULL
        UNION SELECT rc.user_id FROM recent rc)
    SELECT 'user', NULL::bigint, u.id, u.name, u.photo_version, NULL, NULL, NULL, NULL,
           NULL::boolean, NULL::bigint, NULL, NULL::boolean, NULL::boolean, NULL, NULL,
           NULL::integer, NULL::integer, NULL::bigint
    FROM user_ids ui JOIN hippo.users u ON u.id = ui.user_id
    UNION ALL
    SELECT DISTINCT 'resource', NULL::bigint, s.id, s.name, NULL::integer, NULL, NULL, NULL,
           NULL, NULL::boolean, NULL::bigint, NULL, NULL::boolean, NULL::boolean, NULL, NULL,
           NULL::integer, NULL::integer, NULL::bigint
    FROM recips r JOIN hippo.resources s ON s.id = r.resource_id
    UNION ALL
    SELECT DISTINCT 'group', NULL::bigint, g.id, g.name, g.photo_version, NULL, NULL, NULL,
           NULL, NULL::boolean, NULL::bigint, NULL, NULL::boolean, NULL::boolean, NULL, NULL,
           NULL::integer, NULL::integer, NULL::bigint
    FROM recips r JOIN hippo.groups g ON g.id = r.group_id
    UNION ALL
    SELECT 'post', v.ord, v.id, NULL, NULL::integer, v.poster_id, v.href, v.title, v.body,
           v.to_world, floor(extract(epoch FROM v.created_at))::bigint, v.info,
           coalesce(pp.favorite, false), coalesce(pp.ignored, false),
           coalesce((SELECT string_agg(CASE WHEN r.user_id IS NOT NULL THEN 'u:' || r.user_id
                                            WHEN r.group_id IS NOT NULL THEN 'g:' || r.group_id
                                            ELSE 'r:' || r.resource_id END,
                                       ' ' ORDER BY r.position)
                     FROM recips r WHERE r.post_id = v.id), ''),
           CASE WHEN post_payload_rows.with_live THEN
               coalesce((SELECT string_agg(rc.user_id, ' ' ORDER BY rc.n)
                         FROM recent rc WHERE rc.post_id = v.id), '') END,
           CASE WHEN post_payload_rows.with_live THEN coalesce(lc.chatting_users, 0) END,
           CASE WHEN post_payload_rows.with_live THEN coalesce(lc.viewing_users, 0) END,
           CASE WHEN post_payload_rows.with_live THEN
               (SELECT count(*) FROM hippo.post_views pv WHERE pv.post_id = v.id) END
    FROM visible v
    LEFT JOIN hippo.person_post pp
        ON pp.post_id = v.id AND pp.user_id = post_payload_rows.viewer_id
    LEFT JOIN LATERAL (SELECT c.chatting_users, c.viewing_users
                       FROM hippo.post_live_counts c WHERE c.post_id = v.id
                       LIMIT 1) AS lc ON true -- LIMIT: keeps it a per-post index lookup
    ORDER BY 2 NULLS FIRST, 1, 3;
END
$$;

-- ---------------------------------------------------------------------------------------
-- clientInfo and music (005_user_iqs.sql)
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hippo.normalize_architecture(arch text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    a text := lower(btrim(arch));
BEGIN
    RETURN CASE
               WHEN a = '' THEN NULL
               WHEN a ~ '^(i[3-6]86|x86|ia32)$' THEN 'x86'
               WHEN a IN ('x86_64', 'x86-64', 'amd64', 'x64') THEN 'x86_64'
               WHEN a IN ('powerpc', 'ppc') THEN 'ppc'
               WHEN a IN ('powerpc64', 'ppc64') THEN 'ppc64'
               ELSE a
           END;
END
$$;

-- Not inlinable as SQL: convert_to() is only STABLE.
CREATE OR REPLACE FUNCTION hippo.track_digest(props text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN encode(sha256(convert_to(hippo.track_props_json(props)::text, 'UTF8')), 'hex');
END
$$;

-- ---------------------------------------------------------------------------------------
-- Rooms (003_rooms.sql): room_check runs these for every room stanza
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hippo.normalize_jid(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    j text := lower(split_part(btrim(s), '/', 1));
BEGIN
    RETURN CASE WHEN j ~ '^[^@/[:space:]]+@[^@/[:space:]]+$' THEN j END;
END
$$;

CREATE OR REPLACE FUNCTION hippo.room_lookup(room_id text, OUT kind text, OUT title text,
                                             OUT photo_version integer)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    SELECT 'post', p.title, NULL::integer INTO kind, title, photo_version
    FROM hippo.posts p WHERE p.id = room_lookup.room_id;
    IF NOT FOUND THEN
        SELECT 'group', g.name, g.photo_version INTO kind, title, photo_version
        FROM hippo.groups g WHERE g.id = room_lookup.room_id;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION hippo.room_may_enter(kind text, room_id text, user_id text)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN CASE room_may_enter.kind
        WHEN 'post' THEN hippo.can_see_post(room_may_enter.room_id, room_may_enter.user_id)
        WHEN 'group' THEN EXISTS (SELECT FROM hippo.group_members m
                                  WHERE m.group_id = room_may_enter.room_id
                                    AND m.user_id = room_may_enter.user_id
                                    AND m.status IN ('ACTIVE', 'FOLLOWER'))
        ELSE false END;
END
$$;

CREATE OR REPLACE FUNCTION hippo.room_user_role(room_id text, user_id text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN (SELECT CASE WHEN bool_or(o.role = 'participant') THEN 'participant'
                        WHEN count(*) > 0 THEN 'visitor' ELSE 'nonmember' END
            FROM hippo.room_occupants o
            WHERE o.room_id = room_user_role.room_id AND o.user_id = room_user_role.user_id);
END
$$;

-- ---------------------------------------------------------------------------------------
-- Push (006_outbox.sql, 007_push.sql): per batch of events and per event
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hippo.outbox_claim(limit_ integer, kinds text[])
RETURNS TABLE (id bigint, kind text, post_id text, user_id text, actor_id text)
LANGUAGE plpgsql SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH me AS (
        SELECT a.pid, a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()),
    free AS (
        SELECT o.id FROM hippo.outbox o
        WHERE o.kind = ANY (outbox_claim.kinds)
          AND (o.claimed_pid IS NULL
           OR NOT EXISTS (SELECT FROM pg_stat_activity a
                          WHERE a.pid = o.claimed_pid AND a.backend_start = o.claimed_start))
        ORDER BY o.id
        LIMIT outbox_claim.limit_
        FOR UPDATE OF o SKIP LOCKED)
    UPDATE hippo.outbox o SET claimed_pid = me.pid, claimed_start = me.backend_start
    FROM me, free WHERE o.id = free.id
    RETURNING o.id, o.kind, o.post_id, o.user_id, o.actor_id;
END
$$;

CREATE OR REPLACE FUNCTION hippo.outbox_retire(ids bigint[]) RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    gone integer;
BEGIN
    DELETE FROM hippo.outbox o
    WHERE o.id = ANY (outbox_retire.ids) AND o.claimed_pid = pg_backend_pid();
    GET DIAGNOSTICS gone = ROW_COUNT;
    RETURN gone;
END
$$;

CREATE OR REPLACE FUNCTION hippo.push_hotness_record(user_ids text[], values_ text[])
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    INSERT INTO hippo.push_hotness_sent AS s (user_id, value)
    SELECT u.id, x.value
    FROM unnest(push_hotness_record.user_ids, push_hotness_record.values_) AS x(user_id, value)
    JOIN hippo.users u ON u.id = x.user_id
    ON CONFLICT ON CONSTRAINT push_hotness_sent_pkey DO UPDATE
        SET value = excluded.value, sent_at = now();
END
$$;

CREATE OR REPLACE FUNCTION hippo.active_posts(user_id text) RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
    RETURN (
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
        SELECT coalesce(array_agg(pk.post_id ORDER BY pk.class, pk.n), '{}') FROM picked pk);
END
$$;

CREATE OR REPLACE FUNCTION hippo.push_active_posts_record(user_ids text[], sets text[])
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    INSERT INTO hippo.push_active_posts_sent AS s (user_id, post_ids)
    SELECT u.id, coalesce(string_to_array(nullif(x.ids, ''), ' '), '{}')
    FROM unnest(push_active_posts_record.user_ids, push_active_posts_record.sets)
        AS x(user_id, ids)
    JOIN hippo.users u ON u.id = x.user_id
    ON CONFLICT ON CONSTRAINT push_active_posts_sent_pkey DO UPDATE
        SET post_ids = excluded.post_ids, sent_at = now();
END
$$;
