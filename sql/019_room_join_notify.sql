-- 019_room_join_notify.sql - a join says it is one.
--
-- 013's notifications tell hippod to forget a room whose occupants changed. A join is now
-- notified as 'ROOM_ID join': a hippod that serves the room and sees a join it did not make
-- itself (the notification's sender is not one of its sessions) knows that the XMPP server
-- spreads the room's stanzas over several hippods, and says so (src/rooms.c,
-- docs/deployment.md "Several hippods on one domain"). Other changes keep the bare room id.

CREATE OR REPLACE FUNCTION hippo.notify_room_occupants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('hippo_rooms', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('hippo_rooms', OLD.room_id);
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('hippo_rooms', NEW.room_id || ' join');
    ELSE
        PERFORM pg_notify('hippo_rooms', NEW.room_id);
        IF OLD.room_id <> NEW.room_id THEN
            PERFORM pg_notify('hippo_rooms', OLD.room_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION hippo.notify_room_occupants() IS
    'Trigger: NOTIFY hippo_rooms with the room id, ''ID join'' for a new occupant (''*'': every room)';
