-- Segments, their memberships with entry and exit times, and computed traits
-- (RFM scores, tags) kept on profiles. Times are ms since the epoch.

CREATE TABLE segments (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    expr          TEXT NOT NULL,         -- the segment language (docs/segments.md)
    created_at    INTEGER NOT NULL,
    evaluated_at  INTEGER,               -- NULL until first evaluated
    members       INTEGER NOT NULL DEFAULT 0
);

-- One row per stay: a profile that leaves and comes back has two rows.
-- exited_at is NULL while the profile is in the segment.
CREATE TABLE segment_members (
    segment_id  INTEGER NOT NULL,
    profile_id  INTEGER NOT NULL,
    entered_at  INTEGER NOT NULL,
    exited_at   INTEGER,
    PRIMARY KEY (segment_id, profile_id, entered_at)
) WITHOUT ROWID;
CREATE INDEX segment_members_current ON segment_members(segment_id, profile_id)
    WHERE exited_at IS NULL;

CREATE TABLE computed_traits (
    profile_id   INTEGER NOT NULL,
    name         TEXT NOT NULL,          -- rfm_segment, rfm_r, rfm_f, rfm_m, tags
    value        TEXT,
    computed_at  INTEGER NOT NULL,
    PRIMARY KEY (profile_id, name)
) WITHOUT ROWID;
