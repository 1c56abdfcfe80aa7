-- 012_room_jid.sql - the JID of a post's or group's chat room, for operators (hippoctl) and
-- web applications, so that nobody re-implements the GUID -> JID-node mapping by hand.
--
-- GUIDs are case-sensitive, JID nodes are not (they are case-folded), so the node is the
-- original Mugshot mapping, the same as src/guid.c (hippo_guid_to_node): an upper-case
-- letter becomes lower case, a lower-case letter becomes the letter followed by '_', a digit
-- stays ('AbC1' -> 'ab_c1'). A room is NODE@<component domain>.

-- COLLATE "C": letter ranges and lower() must mean ASCII, whatever the database's locale.
CREATE FUNCTION hippo.room_node(id text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    PERFORM hippo.require_guid('room', id);
    RETURN lower(regexp_replace(id COLLATE "C", '([a-z])', '\1_', 'g'));
END
$$;
COMMENT ON FUNCTION hippo.room_node(text) IS
    'The JID node of the room of post or group ID (the src/guid.c mapping: A -> a, a -> a_, 1 -> 1)';

-- The domain is the [component] domain hippod serves (a room JID is never at the users'
-- domain); a NULL domain gives NULL (the caller does not know it), a malformed one is an
-- error. Whether a post or group has this id is not checked: the mapping is pure.
CREATE FUNCTION hippo.room_jid(id text, domain text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    d constant text := lower(btrim(domain));
BEGIN
    IF domain IS NULL THEN
        PERFORM hippo.require_guid('room', id);
        RETURN NULL;
    END IF;
    IF d = '' OR d ~ '[@/[:space:]]' THEN
        RAISE EXCEPTION 'bad room domain "%": expected the component domain, e.g. rooms.example.org',
            domain USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN hippo.room_node(id) || '@' || d;
END
$$;
COMMENT ON FUNCTION hippo.room_jid(text, text) IS
    'The JID of the chat room of post or group ID at the component DOMAIN (docs/sql-api.md)';
