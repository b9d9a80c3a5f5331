-- Privacy, data side (issue 6): per-database secrets, the suppression list of erased
-- people, consents per purpose, and the cursor of the consent sync.
-- Times are integer ms since the epoch, UTC.

-- Random secrets made on first use, one per name (e.g. "blind-index": the key of the
-- keyed BLAKE2b blind indexes of the suppression list).
CREATE TABLE privacy_secrets (
    name        TEXT PRIMARY KEY,
    value       BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Identifiers of erased people, as keyed blind indexes only (never the value): data
-- carrying one of them is dropped at collection and import and not linked by resolve.
CREATE TABLE suppression (
    hash        BLOB PRIMARY KEY,      -- BLAKE2b-256 keyed: type, NUL, standardized value
    type        TEXT NOT NULL,         -- the identifier type (phone, email, ...)
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Consent per purpose (analytics, marketing, personalization, third_party), for a
-- profile or for an identifier (a userId or anonymousId seen in a message). Rows are
-- appended: the latest per purpose is in force; the rest is its history.
CREATE TABLE consents (
    id               INTEGER PRIMARY KEY,
    profile_id       INTEGER,          -- set from the CLI or API; NULL for an identifier
    identifier_type  TEXT,             -- user_id, anonymous_id, email, phone ...
    identifier_value TEXT,             -- standardized
    purpose          TEXT NOT NULL,
    status           TEXT NOT NULL,    -- granted or denied
    time             INTEGER NOT NULL,
    source           TEXT NOT NULL,    -- cli, api, or the source of the message
    policy_version   TEXT,
    evidence         TEXT              -- JSON object: what the consent was read from
);
CREATE INDEX consents_profile ON consents(profile_id) WHERE profile_id IS NOT NULL;
CREATE INDEX consents_identifier ON consents(identifier_value, identifier_type)
    WHERE identifier_value IS NOT NULL;

-- Small named counters of the privacy jobs (e.g. "consent-sync": the last event id read).
CREATE TABLE privacy_state (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
