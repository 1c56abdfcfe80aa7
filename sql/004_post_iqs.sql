-- 004_post_iqs.sql - SQL behind the post-related protocol IQs (recentPosts, postClicked,
-- hotness, postControl) and the post payloads (entities, <post>, <livepost>) that the rooms
-- details IQ and the push notifications share. See docs/protocol-posts.md.
--
-- The functions here never raise for an unknown or invisible post when the protocol has an
-- answer for it (item-not-found): they return false or leave the post out, so that hippod
-- can tell "not found" from a database failure without parsing error messages.

-- ---------------------------------------------------------------------------------------
-- Received posts: posts addressed to the user by someone else
-- ---------------------------------------------------------------------------------------

-- The original getReceivedPosts: posts whose expanded recipients include the user. Here a
-- post is received when the user is a direct user recipient or a current ACTIVE/FOLLOWER
-- member of a recipient group, and did not post it. A world post that is not addressed to
-- the user is visible (can_see_post) but not received.
CREATE FUNCTION hippo.received_posts(user_id text, max_posts integer)
RETURNS TABLE (post_id text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    WITH addressed AS (
        SELECT r.post_id FROM hippo.post_recipients r
        WHERE r.user_id = received_posts.user_id
        UNION
        SELECT r.post_id FROM hippo.group_members m
        JOIN hippo.post_recipients r ON r.group_id = m.group_id
        WHERE m.user_id = received_posts.user_id AND m.status IN ('ACTIVE', 'FOLLOWER'))
    SELECT p.id, p.created_at
    FROM addressed a JOIN hippo.posts p ON p.id = a.post_id
    WHERE p.poster_id <> received_posts.user_id
    ORDER BY p.created_at DESC, p.id DESC
    LIMIT greatest(received_posts.max_posts, 0);
END;
COMMENT ON FUNCTION hippo.received_posts(text, integer) IS
    'The user''s MAX_POSTS most recent received posts (addressed to the user directly or through '
    'a group, not posted by the user); order by created_at DESC, post_id DESC';

-- True when the post exists and the user may see it; never raises (can_see_post raises for
-- an unknown post).
CREATE FUNCTION hippo.post_visible(post_id text, user_id text) RETURNS boolean
LANGUAGE sql STABLE SECURITY INVOKER
RETURN EXISTS (SELECT FROM hippo.posts p
               WHERE p.id = post_visible.post_id
                 AND hippo.can_see_post(p.id, post_visible.user_id));
COMMENT ON FUNCTION hippo.post_visible(text, text) IS
    'True when the post exists and the user may see it (false for unknown or malformed ids)';

-- ---------------------------------------------------------------------------------------
-- postClicked and postControl
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION hippo.post_click(post_id text, user_id text) RETURNS boolean
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    IF NOT hippo.post_visible(post_click.post_id, post_click.user_id) THEN
        RETURN false;
    END IF;
    PERFORM hippo.record_view(post_click.post_id, post_click.user_id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION hippo.post_click(text, text) IS
    'postClicked: record_view when the user may see the post; false (nothing done) when the '
    'post does not exist or is not visible to the user';

CREATE FUNCTION hippo.set_post_ignored(post_id text, user_id text, ignored boolean)
RETURNS boolean
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    IF set_post_ignored.ignored IS NULL THEN
        RAISE EXCEPTION 'ignored must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT hippo.post_visible(set_post_ignored.post_id, set_post_ignored.user_id) THEN
        RETURN false;
    END IF;
    -- Only a real change touches the row, so later change triggers fire only then.
    INSERT INTO hippo.person_post AS pp (post_id, user_id, ignored)
    VALUES (set_post_ignored.post_id, set_post_ignored.user_id, set_post_ignored.ignored)
    ON CONFLICT ON CONSTRAINT person_post_pkey DO UPDATE SET ignored = excluded.ignored
        WHERE pp.ignored IS DISTINCT FROM excluded.ignored;
    RETURN true;
END
$$;
COMMENT ON FUNCTION hippo.set_post_ignored(text, text, boolean) IS
    'postControl ignore/unignore: sets the user''s ignored flag on the post; false (nothing done) '
    'when the post does not exist or is not visible to the user';

-- ---------------------------------------------------------------------------------------
-- Hotness (original-behaviour.md section 5, without the cap that made it COLD/COOL only)
-- ---------------------------------------------------------------------------------------

-- Score: among the user's 20 most recent received posts, those created less than one hour
-- ago that the user has neither viewed (post_views) nor ignored (person_post.ignored).
CREATE FUNCTION hippo.hotness_score(user_id text) RETURNS integer
LANGUAGE sql STABLE SECURITY INVOKER
RETURN (SELECT count(*)::integer
        FROM hippo.received_posts(hotness_score.user_id, 20) AS r
        WHERE r.created_at > now() - interval '1 hour'
          AND NOT EXISTS (SELECT FROM hippo.post_views v
                          WHERE v.post_id = r.post_id AND v.user_id = hotness_score.user_id)
          AND NOT EXISTS (SELECT FROM hippo.person_post pp
                          WHERE pp.post_id = r.post_id AND pp.user_id = hotness_score.user_id
                            AND pp.ignored));
COMMENT ON FUNCTION hippo.hotness_score(text) IS
    'Unviewed, unignored posts less than 1 hour old among the user''s 20 most recent '
    'received posts';

CREATE FUNCTION hippo.hotness_level(score integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN score IS NULL OR score < 1 THEN 'COLD'
            WHEN score < 4 THEN 'COOL'
            WHEN score < 8 THEN 'WARM'
            WHEN score < 16 THEN 'GETTING_HOT'
            ELSE 'HOT' END;
COMMENT ON FUNCTION hippo.hotness_level(integer) IS
    'The original thresholds: < 1 COLD, < 4 COOL, < 8 WARM, < 16 GETTING_HOT, else HOT';

CREATE FUNCTION hippo.hotness(user_id text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_user(hotness.user_id);
    RETURN hippo.hotness_level(hippo.hotness_score(hotness.user_id));
END
$$;
COMMENT ON FUNCTION hippo.hotness(text) IS
    'The user''s hotness: COLD, COOL, WARM, GETTING_HOT or HOT (docs/protocol-posts.md)';

-- ---------------------------------------------------------------------------------------
-- Post payloads: everything one payload needs, in one statement (one snapshot)
-- ---------------------------------------------------------------------------------------

-- Rows of two shapes, entities first (kind user/resource/group: id, name, photo_version),
-- then one row per visible post in request order (kind post: ord = first position in
-- POST_IDS, the post's columns, the viewer's favorite/ignored, recipients as space-separated
-- "u:ID", "g:ID", "r:ID" tokens in recipient order, and when WITH_LIVE the live numbers and
-- the 5 most recent viewers, space-separated, most recent first). GUIDs are [A-Za-z0-9]
-- only, so the token lists need no quoting. Unknown, invisible and repeated ids are left out.
CREATE FUNCTION hippo.post_payload_rows(viewer_id text, post_ids text[], with_live boolean)
RETURNS TABLE (kind text, ord bigint, id text, name text, photo_version integer,
               poster_id text, href text, title text, body text, to_world boolean,
               post_date bigint, info text, favorite boolean, ignored boolean,
               recipients text, viewers text, chatting_users integer, viewing_users integer,
               total_viewers bigint)
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
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
END;
COMMENT ON FUNCTION hippo.post_payload_rows(text, text[], boolean) IS
    'Entities then posts (and their live numbers) of a post payload as seen by VIEWER_ID; '
    'see sql/004_post_iqs.sql and docs/protocol-posts.md';
