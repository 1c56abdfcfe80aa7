-- 005_user_iqs.sql - the data behind the user-side protocol IQs: clientInfo, music,
-- myspace and prefs (docs/protocol-user-iqs.md; functions in docs/sql-api.md).
--
-- hippod validates every request before it calls these functions; they check again
-- (CHECK constraints, casts) so that a web application calling them directly cannot store
-- what the protocol could not send. Errors: 22023 (invalid_parameter_value) for malformed
-- input, P0002 (no_data_found) for unknown ids, as in 001_core.sql.

-- ---------------------------------------------------------------------------------------
-- clientInfo: the last client each user connected with (the original Account fields).
-- ---------------------------------------------------------------------------------------

CREATE TABLE hippo.client_info (
    user_id text PRIMARY KEY REFERENCES hippo.users (id) ON DELETE CASCADE,
    platform text NOT NULL CHECK (platform ~ '^[a-z0-9_-]{1,32}$'),
    distribution text CHECK (distribution <> ''),
    os_version text CHECK (os_version <> ''),
    architecture text CHECK (architecture <> ''),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hippo.client_info IS
    'The platform, distribution, OS version and architecture of each user''s last clientInfo request';

-- i386..i686 -> x86, amd64 -> x86_64, powerpc -> ppc, powerpc64 -> ppc64; anything else
-- lower-cased as given. NULL for a blank value.
CREATE FUNCTION hippo.normalize_architecture(arch text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT CASE
                   WHEN a = '' THEN NULL
                   WHEN a ~ '^(i[3-6]86|x86|ia32)$' THEN 'x86'
                   WHEN a IN ('x86_64', 'x86-64', 'amd64', 'x64') THEN 'x86_64'
                   WHEN a IN ('powerpc', 'ppc') THEN 'ppc'
                   WHEN a IN ('powerpc64', 'ppc64') THEN 'ppc64'
                   ELSE a
               END
        FROM (SELECT lower(btrim(arch)) AS a) AS t);
COMMENT ON FUNCTION hippo.normalize_architecture(text) IS
    'Canonical architecture name: i386..i686 -> x86, amd64 -> x86_64, powerpc -> ppc, powerpc64 -> ppc64';

CREATE FUNCTION hippo.record_client_info(user_id text, platform text, distribution text,
                                         os_version text, architecture text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    dist text := nullif(lower(btrim(distribution)), '');
    ver text := nullif(btrim(os_version), '');
    parts text[];
BEGIN
    PERFORM hippo.require_user(user_id);
    IF platform IS NULL OR platform !~ '^[a-z0-9_-]{1,32}$' THEN
        RAISE EXCEPTION 'bad platform "%": expected 1 to 32 of a-z, 0-9, _ and -', platform
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The original split a versioned name ("fedora5" -> Fedora 5); keep it lower case.
    parts := regexp_match(dist, '^([a-z][a-z_]*?)-?([0-9][0-9.]*)$');
    IF ver IS NULL AND parts IS NOT NULL THEN
        dist := parts[1];
        ver := parts[2];
    END IF;
    INSERT INTO hippo.client_info AS c (user_id, platform, distribution, os_version, architecture)
    VALUES (user_id, platform, dist, ver, hippo.normalize_architecture(architecture))
    ON CONFLICT ON CONSTRAINT client_info_pkey DO UPDATE
        SET platform = excluded.platform, distribution = excluded.distribution,
            os_version = excluded.os_version, architecture = excluded.architecture,
            updated_at = now();
END
$$;
COMMENT ON FUNCTION hippo.record_client_info(text, text, text, text, text) IS
    'Records the client a user connected with (distribution and architecture normalised)';

-- ---------------------------------------------------------------------------------------
-- music: tracks identified by a digest of their properties, per-user play history and the
-- current track.
-- ---------------------------------------------------------------------------------------

CREATE TABLE hippo.tracks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest text NOT NULL UNIQUE CHECK (digest ~ '^[0-9a-f]{64}$'),
    type text CHECK (type IN ('UNKNOWN', 'FILE', 'CD', 'NETWORK_STREAM', 'PODCAST')),
    format text CHECK (format IN ('UNKNOWN', 'MP3', 'WMA', 'AAC', 'VORBIS')),
    name text,
    artist text,
    album text,
    url text CHECK (url ~* '^https?://[^[:space:]/?#]+[^[:space:]]*$'),
    duration integer CHECK (duration >= -1),
    file_size bigint CHECK (file_size >= -1),
    track_number integer CHECK (track_number >= 1 OR track_number = -1),
    disc_identifier text,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hippo.tracks IS
    'Distinct tracks; DIGEST is the SHA-256 of their properties (hippo.track_digest)';

CREATE TABLE hippo.track_history (
    user_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    track_id bigint NOT NULL REFERENCES hippo.tracks (id) ON DELETE CASCADE,
    last_played_at timestamptz NOT NULL DEFAULT now(),
    times_played integer NOT NULL DEFAULT 1 CHECK (times_played >= 1),
    PRIMARY KEY (user_id, track_id)
);
CREATE INDEX track_history_recent_idx ON hippo.track_history (user_id, last_played_at DESC);
COMMENT ON TABLE hippo.track_history IS
    'The tracks each user played (or primed): the last time and how many times';

CREATE TABLE hippo.current_tracks (
    user_id text PRIMARY KEY REFERENCES hippo.users (id) ON DELETE CASCADE,
    track_id bigint REFERENCES hippo.tracks (id) ON DELETE SET NULL,
    playing boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hippo.current_tracks IS
    'Each user''s current (playing) or last (stopped) track, from musicChanged';

-- The order of the properties in the text[] arguments below, as the seed lists the keys.
CREATE FUNCTION hippo.track_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['type', 'format', 'name', 'artist', 'album', 'url', 'duration', 'fileSize',
             'trackNumber', 'discIdentifier'];
COMMENT ON FUNCTION hippo.track_keys() IS
    'The music prop keys in the order of the props arrays of music_changed and prime_tracks';

-- The properties as a JSON object without absent keys; blank values count as absent.
CREATE FUNCTION hippo.track_props_json(props text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    result jsonb := '{}';
    v text;
BEGIN
    IF props IS NULL OR array_ndims(props) IS DISTINCT FROM 1 OR cardinality(props) <> 10 THEN
        RAISE EXCEPTION 'track props must be a text[] of 10 values (hippo.track_keys() order)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1..10 LOOP
        v := nullif(btrim(props[i]), '');
        IF v IS NOT NULL THEN
            result := result || jsonb_build_object((hippo.track_keys())[i], v);
        END IF;
    END LOOP;
    RETURN result;
END
$$;

-- jsonb's text form is canonical (keys sorted), so equal properties give equal digests.
CREATE FUNCTION hippo.track_digest(props text[]) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN encode(sha256(convert_to(hippo.track_props_json(props)::text, 'UTF8')), 'hex');
COMMENT ON FUNCTION hippo.track_digest(text[]) IS
    'SHA-256 (hex) of the canonical JSON of a track''s non-blank properties';

-- The id of the track with these properties, created when new; NULL when all are blank.
CREATE FUNCTION hippo.track_id_for(props text[]) RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    p jsonb := hippo.track_props_json(props);
    d text;
    found_id bigint;
BEGIN
    IF p = '{}' THEN
        RETURN NULL;
    END IF;
    d := hippo.track_digest(props);
    INSERT INTO hippo.tracks AS t (digest, type, format, name, artist, album, url, duration,
                                   file_size, track_number, disc_identifier)
    VALUES (d, p ->> 'type', p ->> 'format', p ->> 'name', p ->> 'artist', p ->> 'album',
            p ->> 'url', (p ->> 'duration')::integer, (p ->> 'fileSize')::bigint,
            (p ->> 'trackNumber')::integer, p ->> 'discIdentifier')
    ON CONFLICT ON CONSTRAINT tracks_digest_key DO NOTHING
    RETURNING t.id INTO found_id;
    IF found_id IS NULL THEN
        SELECT t.id INTO found_id FROM hippo.tracks t WHERE t.digest = d;
    END IF;
    RETURN found_id;
END
$$;
COMMENT ON FUNCTION hippo.track_id_for(text[]) IS
    'Finds or creates the track with these properties (hippo.track_keys() order); NULL if all blank';

-- musicChanged. PROPS NULL (or all blank) = playback stopped: the last track is kept, not
-- playing. A new play is added to the history only when the track changes or restarts
-- after a stop, so a client repeating its current track does not inflate times_played.
CREATE FUNCTION hippo.music_changed(user_id text, props text[]) RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    tid bigint;
    prev_track bigint;
    prev_playing boolean;
BEGIN
    PERFORM hippo.require_user(user_id);
    IF props IS NOT NULL THEN
        tid := hippo.track_id_for(props);
    END IF;
    IF tid IS NULL THEN
        INSERT INTO hippo.current_tracks AS c (user_id, track_id, playing)
        VALUES (user_id, NULL, false)
        ON CONFLICT ON CONSTRAINT current_tracks_pkey DO UPDATE
            SET playing = false, updated_at = now() WHERE c.playing;
        RETURN NULL;
    END IF;
    SELECT c.track_id, c.playing INTO prev_track, prev_playing
    FROM hippo.current_tracks c WHERE c.user_id = music_changed.user_id FOR UPDATE;
    IF prev_track IS DISTINCT FROM tid OR NOT coalesce(prev_playing, false) THEN
        INSERT INTO hippo.track_history AS h (user_id, track_id) VALUES (user_id, tid)
        ON CONFLICT ON CONSTRAINT track_history_pkey DO UPDATE
            SET last_played_at = now(), times_played = h.times_played + 1;
    END IF;
    INSERT INTO hippo.current_tracks AS c (user_id, track_id, playing)
    VALUES (user_id, tid, true)
    ON CONFLICT ON CONSTRAINT current_tracks_pkey DO UPDATE
        SET track_id = excluded.track_id, playing = true, updated_at = now();
    RETURN tid;
END
$$;
COMMENT ON FUNCTION hippo.music_changed(text, text[]) IS
    'The user''s current track changed (props in hippo.track_keys() order) or stopped (NULL); returns the track id';

-- 'true'/'false' for the spellings a boolean pref may have been stored with, else NULL.
CREATE FUNCTION hippo.pref_boolean(value text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
           WHEN lower(btrim(value)) IN ('true', 't', 'yes', 'on', '1') THEN true
           WHEN lower(btrim(value)) IN ('false', 'f', 'no', 'off', '0') THEN false
       END;

-- primingTracks: TRACKS is an n x 10 text[][] (hippo.track_keys() order), most highly
-- ranked first. Ignored (returns NULL) once the user is primed; otherwise adds the tracks
-- as past plays, the top-ranked one the most recent, sets musicSharingPrimed and returns
-- how many tracks were recorded.
CREATE FUNCTION hippo.prime_tracks(user_id text, tracks text[]) RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    row_props text[];
    tid bigint;
    rank integer := 0;
    recorded integer := 0;
BEGIN
    PERFORM hippo.require_user(user_id);
    PERFORM FROM hippo.users u WHERE u.id = prime_tracks.user_id FOR UPDATE; -- one at a time
    IF EXISTS (SELECT FROM hippo.prefs p
               WHERE p.user_id = prime_tracks.user_id AND p.key = 'musicSharingPrimed'
                 AND hippo.pref_boolean(p.value)) THEN
        RETURN NULL;
    END IF;
    IF cardinality(tracks) > 0 THEN
        IF array_ndims(tracks) <> 2 OR array_length(tracks, 2) <> 10 THEN
            RAISE EXCEPTION 'tracks must be a text[][] of rows of 10 values'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOREACH row_props SLICE 1 IN ARRAY tracks LOOP
            tid := hippo.track_id_for(row_props);
            IF tid IS NOT NULL THEN
                INSERT INTO hippo.track_history AS h (user_id, track_id, last_played_at)
                VALUES (user_id, tid, now() - make_interval(secs => rank))
                ON CONFLICT ON CONSTRAINT track_history_pkey DO UPDATE
                    SET last_played_at = greatest(h.last_played_at, excluded.last_played_at),
                        times_played = h.times_played + 1;
                recorded := recorded + 1;
            END IF;
            rank := rank + 1;
        END LOOP;
    END IF;
    PERFORM hippo.set_pref(user_id, 'musicSharingPrimed', 'true');
    RETURN recorded;
END
$$;
COMMENT ON FUNCTION hippo.prime_tracks(text, text[]) IS
    'Primes the user''s music history once (n x 10 props, best first); NULL when already primed';

-- ---------------------------------------------------------------------------------------
-- prefs: the full map a user sees, defaults included.
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION hippo.pref_defaults() RETURNS TABLE (key text, value text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT d.key, d.value
    FROM (VALUES ('applicationUsageEnabled', 'false'), ('musicSharingEnabled', 'true'),
                 ('musicSharingPrimed', 'false')) AS d (key, value);
END;
COMMENT ON FUNCTION hippo.pref_defaults() IS
    'The boolean prefs every user has, with their defaults';

-- The boolean keys always appear, as lower-case true/false (a stored value that is not a
-- boolean spelling falls back to the default); other stored keys pass through verbatim.
CREATE FUNCTION hippo.user_prefs(user_id text) RETURNS TABLE (key text, value text)
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_user(user_id);
    RETURN QUERY
        SELECT coalesce(d.key, p.key),
               CASE WHEN d.key IS NULL THEN p.value
                    ELSE coalesce(hippo.pref_boolean(p.value)::text, d.value) END
        FROM hippo.pref_defaults() AS d
        FULL JOIN (SELECT s.key, s.value FROM hippo.prefs s
                   WHERE s.user_id = user_prefs.user_id) AS p ON p.key = d.key
        ORDER BY coalesce(d.key, p.key) COLLATE "C";
END
$$;
COMMENT ON FUNCTION hippo.user_prefs(text) IS
    'The user''s full pref map (defaults overridden by stored values), ordered by key (bytewise)';

-- ---------------------------------------------------------------------------------------
-- Contacts: a user's address book of other users (one direction: owner -> contact).
-- ---------------------------------------------------------------------------------------

CREATE TABLE hippo.contacts (
    owner_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    contact_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, contact_id),
    CHECK (owner_id <> contact_id)
);
CREATE INDEX contacts_contact_idx ON hippo.contacts (contact_id);
COMMENT ON TABLE hippo.contacts IS 'OWNER has CONTACT in their contacts (not symmetric)';

CREATE FUNCTION hippo.add_contact(user_id text, contact_id text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_user(user_id);
    PERFORM hippo.require_user(contact_id);
    IF user_id = contact_id THEN
        RAISE EXCEPTION 'a user cannot be their own contact' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO hippo.contacts (owner_id, contact_id) VALUES (user_id, contact_id)
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION hippo.add_contact(text, text) IS
    'Adds CONTACT_ID to the contacts of USER_ID (idempotent)';

CREATE FUNCTION hippo.remove_contact(user_id text, contact_id text) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_user(user_id);
    PERFORM hippo.require_user(contact_id);
    DELETE FROM hippo.contacts c
    WHERE c.owner_id = remove_contact.user_id AND c.contact_id = remove_contact.contact_id;
END
$$;
COMMENT ON FUNCTION hippo.remove_contact(text, text) IS
    'Removes CONTACT_ID from the contacts of USER_ID (idempotent)';

-- ---------------------------------------------------------------------------------------
-- MySpace: friend ids, blog comments, contact-comment notices.
-- ---------------------------------------------------------------------------------------

-- Apart from hippo.myspace_names so that a change of one does not look like a change of
-- the other (mySpaceNameChanged is about the name only).
CREATE TABLE hippo.myspace_friend_ids (
    user_id text PRIMARY KEY REFERENCES hippo.users (id) ON DELETE CASCADE,
    friend_id bigint NOT NULL CHECK (friend_id >= 0)
);
COMMENT ON TABLE hippo.myspace_friend_ids IS 'The numeric MySpace friend id of a user (getContacts)';

CREATE FUNCTION hippo.set_myspace_friend_id(user_id text, friend_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_user(user_id);
    IF friend_id IS NULL THEN
        DELETE FROM hippo.myspace_friend_ids f WHERE f.user_id = set_myspace_friend_id.user_id;
        RETURN;
    END IF;
    IF friend_id < 0 THEN
        RAISE EXCEPTION 'bad MySpace friend id %: must not be negative', friend_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO hippo.myspace_friend_ids AS f (user_id, friend_id) VALUES (user_id, friend_id)
    ON CONFLICT ON CONSTRAINT myspace_friend_ids_pkey DO UPDATE SET friend_id = excluded.friend_id
        WHERE f.friend_id <> excluded.friend_id;
END
$$;
COMMENT ON FUNCTION hippo.set_myspace_friend_id(text, bigint) IS
    'Sets the user''s MySpace friend id (upsert); NULL clears it';

CREATE TABLE hippo.myspace_blog_comments (
    owner_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    comment_id bigint NOT NULL,
    poster_id bigint NOT NULL,
    discovered_at timestamptz NOT NULL DEFAULT now(),
    seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (owner_id, comment_id)
);
CREATE INDEX myspace_blog_comments_recent_idx ON hippo.myspace_blog_comments (owner_id, seq DESC);
COMMENT ON TABLE hippo.myspace_blog_comments IS
    'Comments on a user''s MySpace blog reported by their client (addBlogComment); SEQ orders them';

CREATE FUNCTION hippo.add_blog_comment(user_id text, comment_id bigint, poster_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    PERFORM hippo.require_user(user_id);
    IF comment_id IS NULL OR poster_id IS NULL THEN
        RAISE EXCEPTION 'comment id and poster id must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO hippo.myspace_blog_comments (owner_id, comment_id, poster_id)
    VALUES (user_id, comment_id, poster_id)
    ON CONFLICT ON CONSTRAINT myspace_blog_comments_pkey DO NOTHING;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION hippo.add_blog_comment(text, bigint, bigint) IS
    'Stores a blog comment unless (user, comment id) exists; true when it was new';

CREATE FUNCTION hippo.blog_comments(user_id text, max_count integer)
RETURNS TABLE (comment_id bigint, poster_id bigint)
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    SELECT c.comment_id, c.poster_id FROM hippo.myspace_blog_comments c
    WHERE c.owner_id = blog_comments.user_id
    ORDER BY c.seq DESC
    LIMIT greatest(blog_comments.max_count, 0);
END;
COMMENT ON FUNCTION hippo.blog_comments(text, integer) IS
    'The user''s newest MAX_COUNT blog comments, newest first';

-- The contacts getContacts lists: those with both a MySpace name and a friend id.
CREATE FUNCTION hippo.myspace_contacts(user_id text, max_count integer)
RETURNS TABLE (name text, friend_id bigint)
LANGUAGE sql STABLE SECURITY INVOKER
BEGIN ATOMIC
    SELECT m.name, f.friend_id FROM hippo.contacts c
    JOIN hippo.myspace_names m ON m.user_id = c.contact_id
    JOIN hippo.myspace_friend_ids f ON f.user_id = c.contact_id
    WHERE c.owner_id = myspace_contacts.user_id
    ORDER BY lower(m.name), m.name COLLATE "C", f.friend_id
    LIMIT greatest(myspace_contacts.max_count, 0);
END;
COMMENT ON FUNCTION hippo.myspace_contacts(text, integer) IS
    'MySpace name and friend id of the user''s contacts that have both, by name';

-- Undelivered mySpaceContactComment notices. The notification has no payload, so one
-- pending row per (recipient, sender) says all there is to say; the push feature sends
-- each row as a headline and deletes it.
CREATE TABLE hippo.pending_myspace_comment_notices (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    sender_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    myspace_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pending_myspace_notice_once UNIQUE (recipient_id, sender_id)
);
COMMENT ON TABLE hippo.pending_myspace_comment_notices IS
    'mySpaceContactComment headlines to send: one per (recipient, sender) until delivered';

-- notifyContactComment: queues a notice for every contact of USER_ID whose MySpace name
-- equals NAME (trimmed, case-insensitive, as MySpace names are). Returns how many contacts
-- matched (a notice already pending for one of them is not duplicated).
CREATE FUNCTION hippo.notify_contact_comment(user_id text, name text) RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    matched integer;
BEGIN
    PERFORM hippo.require_user(user_id);
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'MySpace name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH targets AS (
        SELECT c.contact_id FROM hippo.contacts c
        JOIN hippo.myspace_names m ON m.user_id = c.contact_id
        WHERE c.owner_id = notify_contact_comment.user_id
          AND lower(m.name) = lower(btrim(notify_contact_comment.name))),
    queued AS (
        INSERT INTO hippo.pending_myspace_comment_notices (recipient_id, sender_id, myspace_name)
        SELECT t.contact_id, notify_contact_comment.user_id, btrim(notify_contact_comment.name)
        FROM targets t
        ON CONFLICT ON CONSTRAINT pending_myspace_notice_once DO NOTHING
        RETURNING 1)
    SELECT count(*) INTO matched FROM targets;
    RETURN matched;
END
$$;
COMMENT ON FUNCTION hippo.notify_contact_comment(text, text) IS
    'Queues a mySpaceContactComment for each contact of the user with MySpace name NAME; returns the count';
