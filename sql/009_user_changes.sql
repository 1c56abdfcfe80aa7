-- 009_user_changes.sql - tell hippod when a user's JID stops meaning what it meant.
--
-- hippod remembers which user each sender JID belongs to (src/user_cache.c) instead of asking
-- on every IQ. A changed JID, a deleted user or an emptied table makes that memory wrong, so
-- each of them notifies the channel hippo_users, and hippod forgets everything it remembered.
-- Creating a user needs no notice: hippod remembers only users it found.

CREATE FUNCTION hippo.notify_users_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hippo_users', '');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION hippo.notify_users_changed() IS
    'Trigger: NOTIFY hippo_users (empty payload) after a JID change, deletion or truncation';

CREATE TRIGGER users_changed
    AFTER UPDATE OF jid OR DELETE OR TRUNCATE ON hippo.users
    FOR EACH STATEMENT EXECUTE FUNCTION hippo.notify_users_changed();
