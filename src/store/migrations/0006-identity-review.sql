-- OneID, probabilistic part: the review queue of candidate pairs the matcher scored
-- between its two thresholds, the link constraints people decided (a rejected pair or
-- an undone merge: must not link; an accepted pair: must link), and the journal of
-- undone merges.

-- A pair of profiles (as numbered when it was scored). fields: JSON object, per
-- compared field its agreement level ("equal", "similar", "different", "missing").
CREATE TABLE review_pairs (
    id          INTEGER PRIMARY KEY,
    profile_a   INTEGER NOT NULL,
    profile_b   INTEGER NOT NULL,       -- profile_a < profile_b
    score       REAL NOT NULL,          -- match weight, sum of log2(m/u)
    probability REAL NOT NULL,          -- posterior match probability
    fields      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',  -- pending, accepted, rejected
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER,
    decided_by  TEXT,
    UNIQUE (profile_a, profile_b)
);
CREATE INDEX review_pairs_status ON review_pairs(status, id);

-- Between two identifiers (graph nodes: identifiers.id). kind 'cannot': resolution
-- never puts them in one profile; 'must': it links them when the rules allow.
CREATE TABLE link_constraints (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    identifier_a INTEGER NOT NULL,
    identifier_b INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (kind, identifier_a, identifier_b)
);

CREATE TABLE unmerges (
    id          INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    merge_id    INTEGER NOT NULL,       -- merges.id undone
    profile     INTEGER NOT NULL,       -- the profile split off (merges.from_profile)
    from_profile INTEGER NOT NULL,      -- the profile it was split from
    restored    INTEGER NOT NULL        -- 1: the split profile answers under its old id again
);
ALTER TABLE merges ADD COLUMN undone_at INTEGER;
