-- 001_core.sql - the core data model and the SQL API of hippod (schema "hippo").
--
-- Applied once by `hippod --migrate` / `hippoctl migrate`, inside one transaction: no
-- transaction control here. Every name is schema-qualified so the result does not depend
-- on the caller's search_path. Reference for application authors: docs/sql-api.md.
--
-- SQLSTATEs raised by the API: 22023 (invalid_parameter_value) for malformed input,
-- P0002 (no_data_found) for unknown ids, 23505 (unique_violation) for a duplicate jid,
-- 42501 (insufficient_privilege) when a user may not see a post.

CREATE SCHEMA hippo;
COMMENT ON SCHEMA hippo IS 'hippod data model and SQL API (docs/sql-api.md)';

-- ---------------------------------------------------------------------------------------
-- GUIDs: 14 characters of [A-Za-z0-9]; generated from 80 random bits in the original
-- base-53 alphabet, exactly as src/guid.c does it.
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION hippo.is_guid(id text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(id ~ '^[A-Za-z0-9]{14}$', false);
COMMENT ON FUNCTION hippo.is_guid(text) IS
    'True when ID has the shape of a GUID: 14 characters of [A-Za-z0-9] (lenient, as the original)';

-- Deterministic half of the generator, separate so tests can compare it with the C one:
-- 10 bytes -> two 40-bit big-endian chunks -> 7 base-53 digits each, most significant first.
CREATE FUNCTION hippo.guid_from_bytes(raw bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    alphabet constant text := 'ABCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789';
    result text := '';
    chunk bigint;
    digits text;
    base integer;
BEGIN
    IF length(raw) <> 10 THEN
        RAISE EXCEPTION 'guid_from_bytes needs 10 bytes, got %', length(raw)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH base IN ARRAY ARRAY[0, 5] LOOP
        chunk := 0;
        FOR i IN 0..4 LOOP
            chunk := chunk * 256 + get_byte(raw, base + i);
        END LOOP;
        digits := '';
        FOR i IN 1..7 LOOP
            digits := substr(alphabet, (chunk % 53)::integer + 1, 1) || digits;
            chunk := chunk / 53;
        END LOOP;
        result := result || digits;
    END LOOP;
    RETURN result;
END
$$;

-- Randomness from gen_random_uuid() (core since PostgreSQL 13, backed by the server's
-- strong random source), so no extension is needed. In a version-4 UUID only bytes 6 and
-- 8 carry fixed bits; bytes 0-4 and 10-14 are 80 fully random bits.
CREATE FUNCTION hippo.new_guid() RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN (WITH u(b) AS (SELECT uuid_send(gen_random_uuid()))
        SELECT hippo.guid_from_bytes(substring(b FROM 1 FOR 5) || substring(b FROM 11 FOR 5))
        FROM u);
COMMENT ON FUNCTION hippo.new_guid() IS 'A fresh random GUID (80 random bits, base-53 alphabet)';

-- ---------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------

CREATE TABLE hippo.users (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9]{14}$'),
    jid text NOT NULL UNIQUE CHECK (jid = lower(jid) AND jid ~ '^[^@/[:space:]]+@[^@/[:space:]]+$'),
    name text NOT NULL CHECK (btrim(name) <> ''),
    photo_version integer NOT NULL DEFAULT 0 CHECK (photo_version >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    last_logout_at timestamptz
);
COMMENT ON TABLE hippo.users IS 'People with an XMPP account; found by the bare JID the server stamps on stanzas';
COMMENT ON COLUMN hippo.users.jid IS 'Lower-cased bare JID (node@domain)';
COMMENT ON COLUMN hippo.users.photo_version IS 'Bumped when the photo changes (smallPhotoUrl ?v=)';

CREATE TABLE hippo.groups (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9]{14}$'),
    name text NOT NULL CHECK (btrim(name) <> ''),
    photo_version integer NOT NULL DEFAULT 0 CHECK (photo_version >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hippo.group_members (
    group_id text NOT NULL REFERENCES hippo.groups (id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'ACTIVE'
        CHECK (status IN ('ACTIVE', 'FOLLOWER', 'INVITED', 'INVITED_TO_FOLLOW', 'REMOVED')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON hippo.group_members (user_id);
COMMENT ON TABLE hippo.group_members IS
    'Membership rows are kept with status REMOVED rather than deleted, so status changes stay visible';

-- Non-user recipients, e.g. the e-mail address of someone without an account.
CREATE TABLE hippo.resources (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9]{14}$'),
    name text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hippo.posts (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9]{14}$'),
    poster_id text NOT NULL REFERENCES hippo.users (id),
    href text NOT NULL CHECK (btrim(href) <> ''),
    title text NOT NULL CHECK (btrim(title) <> ''),
    body text NOT NULL DEFAULT '',
    to_world boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    info text
);
CREATE INDEX posts_created_at_idx ON hippo.posts (created_at);
CREATE INDEX posts_poster_idx ON hippo.posts (poster_id, created_at);
COMMENT ON COLUMN hippo.posts.info IS 'postInfo XML document, sent escaped in <postInfo>';

-- Exactly one of user_id, group_id, resource_id per row; POSITION keeps the given order.
CREATE TABLE hippo.post_recipients (
    post_id text NOT NULL REFERENCES hippo.posts (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position >= 0),
    user_id text REFERENCES hippo.users (id) ON DELETE CASCADE,
    group_id text REFERENCES hippo.groups (id) ON DELETE CASCADE,
    resource_id text REFERENCES hippo.resources (id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, position),
    CHECK (num_nonnulls(user_id, group_id, resource_id) = 1),
    UNIQUE (post_id, user_id),
    UNIQUE (post_id, group_id),
    UNIQUE (post_id, resource_id)
);
CREATE INDEX post_recipients_user_idx ON hippo.post_recipients (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX post_recipients_group_idx ON hippo.post_recipients (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX post_recipients_resource_idx ON hippo.post_recipients (resource_id)
    WHERE resource_id IS NOT NULL;

-- First view of a post by a user (totalViewers counts these rows).
CREATE TABLE hippo.post_views (
    post_id text NOT NULL REFERENCES hippo.posts (id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    first_viewed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_views_user_idx ON hippo.post_views (user_id);
CREATE INDEX post_views_recent_idx ON hippo.post_views (post_id, first_viewed_at DESC);

-- A user's own state on a post (the original PersonPostData).
CREATE TABLE hippo.person_post (
    post_id text NOT NULL REFERENCES hippo.posts (id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    ignored boolean NOT NULL DEFAULT false,
    favorite boolean NOT NULL DEFAULT false,
    clicked_at timestamptz,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX person_post_user_idx ON hippo.person_post (user_id);

CREATE TABLE hippo.prefs (
    user_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    key text NOT NULL CHECK (btrim(key) <> ''),
    value text NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE hippo.myspace_names (
    user_id text PRIMARY KEY REFERENCES hippo.users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (btrim(name) <> '')
);

-- ---------------------------------------------------------------------------------------
-- Validation helpers (also usable by later migrations)
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION hippo.require_guid(what text, id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION '% id must not be NULL', what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT hippo.is_guid(id) THEN
        RAISE EXCEPTION 'bad % id "%": a GUID is 14 characters of [A-Za-z0-9]', what, id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

CREATE FUNCTION hippo.require_user(user_id text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM hippo.require_guid('user', user_id);
    PERFORM FROM hippo.users u WHERE u.id = user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown user id "%"', user_id USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

CREATE FUNCTION hippo.require_group(group_id text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM hippo.require_guid('group', group_id);
    PERFORM FROM hippo.groups g WHERE g.id = group_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown group id "%"', group_id USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

CREATE FUNCTION hippo.require_post(post_id text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM hippo.require_guid('post', post_id);
    PERFORM FROM hippo.posts p WHERE p.id = post_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown post id "%"', post_id USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- Trims and checks a display name; WHAT names the argument in the error.
CREATE FUNCTION hippo.require_name(what text, name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION '% must not be empty', what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN btrim(name);
END
$$;

-- A JID as stored: trimmed, lower-cased, bare (node@domain). Returns NULL when S is not
-- such a JID; a resource ("/...") is stripped, as stanzas carry full JIDs.
CREATE FUNCTION hippo.normalize_jid(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT CASE WHEN j ~ '^[^@/[:space:]]+@[^@/[:space:]]+$' THEN j END
        FROM (SELECT lower(split_part(btrim(s), '/', 1)) AS j) AS t);

-- ---------------------------------------------------------------------------------------
-- SQL API (docs/sql-api.md). Names and signatures of the first eight are a contract.
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION hippo.create_user(jid text, name text) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    bare text := hippo.normalize_jid(jid);
    clean_name text;
    existing text;
    new_id text := hippo.new_guid();
BEGIN
    IF bare IS NULL OR btrim(jid) LIKE '%/%' THEN
        RAISE EXCEPTION 'bad jid "%": expected a bare JID like alice@example.org', jid
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    clean_name := hippo.require_name('user name', name);
    SELECT u.id INTO existing FROM hippo.users u WHERE u.jid = bare;
    IF FOUND THEN
        RAISE EXCEPTION 'a user with jid "%" already exists (id %)', bare, existing
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO hippo.users (id, jid, name) VALUES (new_id, bare, clean_name);
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION hippo.create_user(text, text) IS 'Creates a user; returns its GUID';

CREATE FUNCTION hippo.user_by_jid(jid text) RETURNS text
LANGUAGE sql STABLE SECURITY INVOKER
RETURN (SELECT u.id FROM hippo.users u WHERE u.jid = hippo.normalize_jid(user_by_jid.jid));
COMMENT ON FUNCTION hippo.user_by_jid(text) IS
    'The id of the user with this (bare or full) JID, or NULL';

CREATE FUNCTION hippo.create_group(name text) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    new_id text := hippo.new_guid();
BEGIN
    INSERT INTO hippo.groups (id, name) VALUES (new_id, hippo.require_name('group name', name));
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION hippo.create_group(text) IS 'Creates a group; returns its GUID';

CREATE FUNCTION hippo.add_group_member(group_id text, user_id text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_group(group_id);
    PERFORM hippo.require_user(user_id);
    -- Only a real change touches the row, so later change triggers fire only then.
    INSERT INTO hippo.group_members AS m (group_id, user_id, status)
    VALUES (group_id, user_id, 'ACTIVE')
    ON CONFLICT ON CONSTRAINT group_members_pkey DO UPDATE
        SET status = 'ACTIVE', updated_at = now()
        WHERE m.status <> 'ACTIVE';
END
$$;
COMMENT ON FUNCTION hippo.add_group_member(text, text) IS
    'Makes the user an ACTIVE member of the group (idempotent)';

CREATE FUNCTION hippo.remove_group_member(group_id text, user_id text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_group(group_id);
    PERFORM hippo.require_user(user_id);
    UPDATE hippo.group_members m SET status = 'REMOVED', updated_at = now()
    WHERE m.group_id = remove_group_member.group_id AND m.user_id = remove_group_member.user_id
      AND m.status <> 'REMOVED';
END
$$;
COMMENT ON FUNCTION hippo.remove_group_member(text, text) IS
    'Marks the membership REMOVED (idempotent; no-op for a non-member)';

CREATE FUNCTION hippo.create_resource(name text) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    clean_name text := hippo.require_name('resource name', name);
    found_id text;
BEGIN
    INSERT INTO hippo.resources AS r (id, name) VALUES (hippo.new_guid(), clean_name)
    ON CONFLICT ON CONSTRAINT resources_name_key DO NOTHING
    RETURNING r.id INTO found_id;
    IF found_id IS NULL THEN
        SELECT r.id INTO found_id FROM hippo.resources r WHERE r.name = clean_name;
    END IF;
    RETURN found_id;
END
$$;
COMMENT ON FUNCTION hippo.create_resource(text) IS
    'Creates a non-user recipient (e.g. an e-mail address), or returns the id of the existing one';

CREATE FUNCTION hippo.create_post(poster_id text, href text, title text, body text,
                                  recipient_ids text[], to_world boolean) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    new_id text := hippo.new_guid();
    rid text;
    pos integer := 0;
BEGIN
    PERFORM hippo.require_user(poster_id);
    IF href IS NULL OR btrim(href) = '' THEN
        RAISE EXCEPTION 'post href must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF title IS NULL OR btrim(title) = '' THEN
        RAISE EXCEPTION 'post title must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO hippo.posts (id, poster_id, href, title, body, to_world)
    VALUES (new_id, poster_id, btrim(href), title, coalesce(body, ''), coalesce(to_world, false));

    FOREACH rid IN ARRAY coalesce(recipient_ids, '{}') LOOP
        PERFORM hippo.require_guid('recipient', rid);
        -- A repeated recipient keeps its first position.
        IF EXISTS (SELECT FROM hippo.users u WHERE u.id = rid) THEN
            INSERT INTO hippo.post_recipients (post_id, position, user_id)
            VALUES (new_id, pos, rid) ON CONFLICT DO NOTHING;
        ELSIF EXISTS (SELECT FROM hippo.groups g WHERE g.id = rid) THEN
            INSERT INTO hippo.post_recipients (post_id, position, group_id)
            VALUES (new_id, pos, rid) ON CONFLICT DO NOTHING;
        ELSIF EXISTS (SELECT FROM hippo.resources r WHERE r.id = rid) THEN
            INSERT INTO hippo.post_recipients (post_id, position, resource_id)
            VALUES (new_id, pos, rid) ON CONFLICT DO NOTHING;
        ELSE
            RAISE EXCEPTION 'unknown recipient id "%": not a user, group or resource', rid
                USING ERRCODE = 'no_data_found';
        END IF;
        pos := pos + 1;
    END LOOP;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION hippo.create_post(text, text, text, text, text[], boolean) IS
    'Creates a post with its recipients (user, group or resource GUIDs, in order); returns its GUID';

-- The users a post is addressed to: the poster, the direct user recipients and the
-- ACTIVE/FOLLOWER members of the recipient groups. A world post is visible to more
-- users (see can_see_post) but addressed to these.
CREATE FUNCTION hippo.post_audience(post_id text) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_post(post_id);
    RETURN QUERY
        SELECT p.poster_id FROM hippo.posts p WHERE p.id = post_audience.post_id
        UNION
        SELECT r.user_id FROM hippo.post_recipients r
        WHERE r.post_id = post_audience.post_id AND r.user_id IS NOT NULL
        UNION
        SELECT m.user_id FROM hippo.post_recipients r
        JOIN hippo.group_members m ON m.group_id = r.group_id
        WHERE r.post_id = post_audience.post_id AND m.status IN ('ACTIVE', 'FOLLOWER');
END
$$;
COMMENT ON FUNCTION hippo.post_audience(text) IS
    'User ids a post is addressed to: poster, user recipients, members of recipient groups';

CREATE FUNCTION hippo.can_see_post(post_id text, user_id text) RETURNS boolean
LANGUAGE sql STABLE SECURITY INVOKER
RETURN EXISTS (SELECT FROM hippo.posts p
               WHERE p.id = can_see_post.post_id AND p.to_world)
    OR EXISTS (SELECT FROM hippo.post_audience(can_see_post.post_id) AS a(id)
               WHERE a.id = can_see_post.user_id);
COMMENT ON FUNCTION hippo.can_see_post(text, text) IS
    'True when the post is world-visible or the user is in its audience';

-- The original postClicked: the first view is recorded once, the click time is set once
-- and the post is no longer ignored by that user.
CREATE FUNCTION hippo.record_view(post_id text, user_id text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_post(post_id);
    PERFORM hippo.require_user(user_id);
    IF NOT hippo.can_see_post(post_id, user_id) THEN
        RAISE EXCEPTION 'user "%" may not see post "%"', user_id, post_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO hippo.post_views (post_id, user_id) VALUES (post_id, user_id)
    ON CONFLICT DO NOTHING;
    INSERT INTO hippo.person_post AS pp (post_id, user_id, clicked_at)
    VALUES (post_id, user_id, now())
    ON CONFLICT ON CONSTRAINT person_post_pkey DO UPDATE
        SET clicked_at = coalesce(pp.clicked_at, now()), ignored = false
        WHERE pp.clicked_at IS NULL OR pp.ignored;
END
$$;
COMMENT ON FUNCTION hippo.record_view(text, text) IS
    'Records that the user viewed (clicked) the post; the first view only once (idempotent)';

CREATE FUNCTION hippo.set_pref(user_id text, key text, value text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_user(user_id);
    IF key IS NULL OR btrim(key) = '' THEN
        RAISE EXCEPTION 'pref key must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF value IS NULL THEN
        DELETE FROM hippo.prefs p WHERE p.user_id = set_pref.user_id AND p.key = set_pref.key;
        RETURN;
    END IF;
    INSERT INTO hippo.prefs AS p (user_id, key, value) VALUES (user_id, key, value)
    ON CONFLICT ON CONSTRAINT prefs_pkey DO UPDATE SET value = excluded.value
        WHERE p.value IS DISTINCT FROM excluded.value;
END
$$;
COMMENT ON FUNCTION hippo.set_pref(text, text, text) IS
    'Sets a preference of the user (upsert); a NULL value deletes it';

CREATE FUNCTION hippo.set_myspace_name(user_id text, name text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_user(user_id);
    IF name IS NULL OR btrim(name) = '' THEN
        DELETE FROM hippo.myspace_names m WHERE m.user_id = set_myspace_name.user_id;
        RETURN;
    END IF;
    INSERT INTO hippo.myspace_names AS m (user_id, name) VALUES (user_id, btrim(name))
    ON CONFLICT ON CONSTRAINT myspace_names_pkey DO UPDATE SET name = excluded.name
        WHERE m.name IS DISTINCT FROM excluded.name;
END
$$;
COMMENT ON FUNCTION hippo.set_myspace_name(text, text) IS
    'Sets the user''s MySpace name (upsert); NULL or empty clears it';
