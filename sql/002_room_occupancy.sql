-- Room occupancy: who is in which room, kept in the database so that a restarted hippod (or
-- another hippod process) still knows, and so that SQL can compute a post's live numbers.
-- The rooms feature (003+) adds the messages and what reacts to them.

CREATE TABLE hippo.room_occupants (
    room_id text NOT NULL CHECK (room_id ~ '^[A-Za-z0-9]{14}$'),
    kind text NOT NULL CHECK (kind IN ('post', 'group')),
    occupant_jid text NOT NULL,          -- the client's full JID
    user_id text NOT NULL REFERENCES hippo.users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('participant', 'visitor')),
    dialect text NOT NULL CHECK (dialect IN ('classic', 'muc')),
    nick text NOT NULL,                  -- the occupant resource (classic: the mapped user GUID)
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, occupant_jid)
);
CREATE INDEX room_occupants_jid_idx ON hippo.room_occupants (occupant_jid);
CREATE INDEX room_occupants_user_idx ON hippo.room_occupants (room_id, user_id);
COMMENT ON TABLE hippo.room_occupants IS
    'One row per present client resource per room; a user''s role is participant if any of its resources is';

-- The live numbers of post rooms, per user (not per resource): chatting = users with a
-- participant resource, viewing = users present only as visitors. Posts without occupants
-- have no row (read them as 0).
CREATE VIEW hippo.post_live_counts AS
    WITH per_user AS (
        SELECT room_id, user_id, bool_or(role = 'participant') AS participant
        FROM hippo.room_occupants
        WHERE kind = 'post'
        GROUP BY room_id, user_id)
    SELECT room_id AS post_id,
           count(*) FILTER (WHERE participant)::integer AS chatting_users,
           count(*) FILTER (WHERE NOT participant)::integer AS viewing_users
    FROM per_user
    GROUP BY room_id;
COMMENT ON VIEW hippo.post_live_counts IS
    'chattingUserCount / viewingUserCount of each post room with occupants';
