-- The push outbox: every data change that must reach users appends an event row in the
-- same transaction and NOTIFYs hippod (payload: the event id). hippod claims events in
-- order, sends their stanzas, and deletes an event only after its stanzas were handed to
-- the XMPP link (at-least-once). A claim belongs to one database session (backend pid +
-- start time): when that hippod dies or loses its connection, its claims become stale at
-- once and any hippod may take them, so several hippods never hold the same event.

CREATE TABLE hippo.outbox (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('new_post', 'live_post', 'prefs', 'myspace_name',
                                       'myspace_comment', 'hotness', 'active_posts')),
    post_id text,
    user_id text,      -- the user the event is about or for
    actor_id text,     -- the user who caused it (e.g. the viewer), excluded from fan-out
    created_at timestamptz NOT NULL DEFAULT now(),
    claimed_pid integer,
    claimed_start timestamptz
);
COMMENT ON TABLE hippo.outbox IS
    'Events waiting to be pushed by hippod; rows are deleted once their stanzas were sent';

CREATE FUNCTION hippo.outbox_emit(kind text, post_id text, user_id text, actor_id text)
RETURNS bigint
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO hippo.outbox (kind, post_id, user_id, actor_id)
    VALUES (kind, post_id, user_id, actor_id) RETURNING id INTO new_id;
    PERFORM pg_notify('hippo_outbox', new_id::text);
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION hippo.outbox_emit(text, text, text, text) IS
    'Appends an event for hippod and wakes it (NOTIFY hippo_outbox, payload = event id)';

-- Claims up to LIMIT_ unclaimed (or stale) events of KINDS for the calling session, in id
-- order. Kinds a hippod does not know stay in the table for one that does.
CREATE FUNCTION hippo.outbox_claim(limit_ integer, kinds text[])
RETURNS TABLE (id bigint, kind text, post_id text, user_id text, actor_id text)
LANGUAGE sql SECURITY INVOKER AS $$
    WITH me AS (
        SELECT a.pid, a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()),
    free AS (
        SELECT o.id FROM hippo.outbox o
        WHERE o.kind = ANY (kinds)
          AND (o.claimed_pid IS NULL
           OR NOT EXISTS (SELECT FROM pg_stat_activity a
                          WHERE a.pid = o.claimed_pid AND a.backend_start = o.claimed_start))
        ORDER BY o.id
        LIMIT limit_
        FOR UPDATE OF o SKIP LOCKED)
    UPDATE hippo.outbox o SET claimed_pid = me.pid, claimed_start = me.backend_start
    FROM me, free WHERE o.id = free.id
    RETURNING o.id, o.kind, o.post_id, o.user_id, o.actor_id;
$$;

-- Deletes sent events (only the caller's claims).
CREATE FUNCTION hippo.outbox_retire(ids bigint[]) RETURNS integer
LANGUAGE sql SECURITY INVOKER AS $$
    WITH gone AS (
        DELETE FROM hippo.outbox o
        WHERE o.id = ANY (ids) AND o.claimed_pid = pg_backend_pid()
        RETURNING 1)
    SELECT count(*)::integer FROM gone;
$$;

-- Gives events back (they could not be sent now) so they are claimed again later.
CREATE FUNCTION hippo.outbox_release(ids bigint[]) RETURNS void
LANGUAGE sql SECURITY INVOKER AS $$
    UPDATE hippo.outbox o SET claimed_pid = NULL, claimed_start = NULL
    WHERE o.id = ANY (ids) AND o.claimed_pid = pg_backend_pid();
$$;

-- Expires events older than AGE (documented in docs/push.md); returns how many.
CREATE FUNCTION hippo.outbox_expire(age interval) RETURNS integer
LANGUAGE sql SECURITY INVOKER AS $$
    WITH gone AS (DELETE FROM hippo.outbox o WHERE o.created_at < now() - age RETURNING 1)
    SELECT count(*)::integer FROM gone;
$$;

-- ---------------------------------------------------------------------------------------
-- Event sources (triggers on the tables the SQL API writes)
-- ---------------------------------------------------------------------------------------

-- Deferred to commit time: create_post inserts the recipients after the post row.
CREATE FUNCTION hippo.outbox_on_post() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hippo.outbox_emit('new_post', NEW.id, NULL, NEW.poster_id);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER outbox_new_post AFTER INSERT ON hippo.posts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hippo.outbox_on_post();

CREATE FUNCTION hippo.outbox_on_view() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hippo.outbox_emit('live_post', NEW.post_id, NULL, NEW.user_id);
    PERFORM hippo.outbox_emit('hotness', NULL, NEW.user_id, NULL);
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_view AFTER INSERT ON hippo.post_views
    FOR EACH ROW EXECUTE FUNCTION hippo.outbox_on_view();

CREATE FUNCTION hippo.outbox_on_occupancy() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record := coalesce(NEW, OLD);
BEGIN
    IF r.kind = 'post' THEN
        PERFORM hippo.outbox_emit('live_post', r.room_id, NULL, NULL);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_occupancy AFTER INSERT OR DELETE OR UPDATE OF role ON hippo.room_occupants
    FOR EACH ROW EXECUTE FUNCTION hippo.outbox_on_occupancy();

CREATE FUNCTION hippo.outbox_on_user_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hippo.outbox_emit(TG_ARGV[0], NULL, coalesce(NEW.user_id, OLD.user_id), NULL);
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_prefs AFTER INSERT OR UPDATE OR DELETE ON hippo.prefs
    FOR EACH ROW EXECUTE FUNCTION hippo.outbox_on_user_row('prefs');
CREATE TRIGGER outbox_myspace_name AFTER INSERT OR UPDATE OR DELETE ON hippo.myspace_names
    FOR EACH ROW EXECUTE FUNCTION hippo.outbox_on_user_row('myspace_name');
CREATE TRIGGER outbox_ignored AFTER UPDATE OF ignored ON hippo.person_post
    FOR EACH ROW WHEN (OLD.ignored IS DISTINCT FROM NEW.ignored)
    EXECUTE FUNCTION hippo.outbox_on_user_row('hotness');
