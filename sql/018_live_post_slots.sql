-- 018_live_post_slots.sql - livePostChanged coalesced across every hippod draining the
-- outbox (docs/push.md "livePostChanged coalescing"): at most one send per post per
-- [push] live_post_interval_ms, whichever hippod sends it, the last one of a burst with
-- the latest numbers.
--
-- A hippod asks hippo.live_post_slot() before each livePostChanged send. The slot of a post
-- is free when its last send started at least INTERVAL_MS ago. The hippod that takes it also
-- takes over (claims) every live_post event of the post that is committed and not being
-- claimed right now, including events another hippod holds: its send reads the numbers
-- after they were committed, so it covers them, and it retires them once the send was handed
-- to the XMPP link. The other hippod learns at its next ask that those events are not its
-- own any more and forgets them instead of sending once more. If the sender dies or fails,
-- the events it took come back like any claim (stale or released), so none is lost.

CREATE TABLE hippo.live_post_sends (
    post_id text PRIMARY KEY,
    last_sent_at timestamptz NOT NULL
);
COMMENT ON TABLE hippo.live_post_sends IS
    'When the last livePostChanged send of each post started (hippo.live_post_slot); rows '
    'older than an hour are deleted by hippo.push_maintenance';

-- The slot's look-ups of a post's live_post events, fast also with a backlog in the outbox.
CREATE INDEX outbox_live_post_idx ON hippo.outbox (post_id) WHERE kind = 'live_post';

-- POST_ID's send slot for the caller, who holds the live_post events HELD (claimed by its
-- session; empty when none) caused by the user CAUSE (NULL: several users or none).
--   slot taken: wait_ms 0; IDS the caller's live_post events of the post, HELD plus those it
--     took over, to retire after the send (release if it fails); EXCEPT_USER the user to
--     leave out: the one cause of all of them, else NULL (everyone is told).
--   slot busy: wait_ms until it is free (at least 1); IDS those of HELD still claimed by the
--     caller (a sender took the others over and covers them).
--   nothing to cover (no live_post event of the post is left): wait_ms 0, IDS NULL, the slot
--     left as it was.
-- Never waits on anything but the post's slot row: events being claimed right now are
-- skipped (their claimer holds them and asks later).
CREATE FUNCTION hippo.live_post_slot(post_id text, interval_ms integer, held bigint[],
                                     cause text)
RETURNS TABLE (wait_ms integer, ids bigint[], except_user text)
LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
    t timestamptz := clock_timestamp();
    step interval := make_interval(secs => greatest(interval_ms, 0) / 1000.0);
    last_at timestamptz;
    adopted bigint[];
    others_cause boolean;
BEGIN
    -- nothing to cover (a send that took them over retired them already): leave the slot
    IF NOT EXISTS (SELECT FROM hippo.outbox o
                   WHERE o.kind = 'live_post' AND o.post_id = live_post_slot.post_id) THEN
        wait_ms := 0;
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO hippo.live_post_sends AS s (post_id, last_sent_at)
    VALUES (live_post_slot.post_id, t)
    ON CONFLICT ON CONSTRAINT live_post_sends_pkey DO UPDATE SET last_sent_at = excluded.last_sent_at
        WHERE s.last_sent_at <= excluded.last_sent_at - step;
    IF NOT FOUND THEN
        SELECT s.last_sent_at INTO last_at FROM hippo.live_post_sends s
        WHERE s.post_id = live_post_slot.post_id;
        wait_ms := greatest(1, ceil(extract(epoch FROM last_at + step - clock_timestamp()) * 1000));
        SELECT array_agg(o.id ORDER BY o.id) INTO ids FROM hippo.outbox o
        WHERE o.id = ANY (held) AND o.claimed_pid = pg_backend_pid();
        RETURN NEXT;
        RETURN;
    END IF;
    WITH me AS (
        SELECT a.pid, a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()),
    free AS (
        SELECT o.id FROM hippo.outbox o
        WHERE o.kind = 'live_post' AND o.post_id = live_post_slot.post_id
          AND NOT (o.id = ANY (coalesce(held, '{}')))
        FOR UPDATE OF o SKIP LOCKED),
    taken AS (
        UPDATE hippo.outbox o SET claimed_pid = me.pid, claimed_start = me.backend_start
        FROM me, free WHERE o.id = free.id
        RETURNING o.id, o.actor_id)
    SELECT array_agg(taken.id), bool_or(taken.actor_id IS DISTINCT FROM cause)
    INTO adopted, others_cause FROM taken;
    wait_ms := 0;
    SELECT array_agg(o.id ORDER BY o.id) INTO ids FROM hippo.outbox o
    WHERE (o.id = ANY (held) OR o.id = ANY (adopted)) AND o.claimed_pid = pg_backend_pid();
    except_user := CASE WHEN coalesce(others_cause, false) THEN NULL ELSE cause END;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION hippo.live_post_slot(text, integer, bigint[], text) IS
    'livePostChanged coalescing across hippods: takes the post''s send slot (wait_ms 0) with '
    'every live_post event of the post, or says how long until it is free';

-- 007's maintenance, which now also forgets the send times of posts quiet for an hour (no
-- interval is longer: config.c caps live_post_interval_ms at one hour).
CREATE OR REPLACE FUNCTION hippo.push_maintenance(max_age interval)
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
    DELETE FROM hippo.live_post_sends s WHERE s.last_sent_at < now() - interval '1 hour';
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION hippo.push_maintenance(interval) IS
    'Deletes outbox events older than MAX_AGE, queues hotness events for stale values and '
    'forgets livePostChanged send times older than an hour';
