-- OneID: identifiers (the nodes of the identity graph), which profile every record
-- and event belongs to, profiles, and the journal of merges.
-- A profile's id is its smallest identifier id plus one: stable while the profile
-- exists; when profiles merge, the larger id redirects (profiles.merged_into).

CREATE TABLE identifiers (
    id          INTEGER PRIMARY KEY,   -- node number in the identity graph
    type        TEXT NOT NULL,         -- phone, email, member_card, user_id, ...
    value       TEXT NOT NULL,         -- standardized (E.164 phones, lower-case e-mails)
    profile_id  INTEGER NOT NULL
);
CREATE INDEX identifiers_value ON identifiers(value, type);
CREATE INDEX identifiers_profile ON identifiers(profile_id);

-- kind: 0 an event (row_id = events.id), 1 an imported record (row_id = records.id)
CREATE TABLE profile_members (
    kind        INTEGER NOT NULL,
    row_id      INTEGER NOT NULL,
    profile_id  INTEGER NOT NULL,
    PRIMARY KEY (kind, row_id)
) WITHOUT ROWID;
CREATE INDEX profile_members_profile ON profile_members(profile_id, kind, row_id);

CREATE TABLE profiles (
    id           INTEGER PRIMARY KEY,
    merged_into  INTEGER,              -- NULL while it exists; else where it went
    identifiers  INTEGER NOT NULL DEFAULT 0,
    members      INTEGER NOT NULL DEFAULT 0,
    resolved_at  INTEGER NOT NULL
);

CREATE TABLE merges (
    id            INTEGER PRIMARY KEY,
    time          INTEGER NOT NULL,
    from_profile  INTEGER NOT NULL,
    into_profile  INTEGER NOT NULL,
    reason        TEXT NOT NULL
);
