-- Sources, collected events and the quarantine.
-- Times are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    key_hash    BLOB NOT NULL UNIQUE,   -- BLAKE2b-256 of the write key; the key is not kept
    key_hint    TEXT NOT NULL,          -- first characters of the key, to tell keys apart
    plan        TEXT,                   -- tracking plan (JSON), NULL for none
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Events are appended in commit order; rowid order is arrival order. There is
-- deliberately no index on message_id: deduplication uses an in-memory set rebuilt
-- from this table at start-up (see docs/internals/ingest.md).
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL,
    type          TEXT NOT NULL,     -- identify, track, page, screen, group, alias
    event         TEXT,              -- track: event name; page/screen: name
    user_id       TEXT,
    anonymous_id  TEXT,
    message_id    TEXT NOT NULL,
    timestamp     INTEGER NOT NULL,  -- corrected for client clock skew
    received_at   INTEGER NOT NULL,
    sent_at       INTEGER,
    flags         INTEGER NOT NULL DEFAULT 0,  -- 1: unplanned event accepted under "flag"
    raw           TEXT NOT NULL      -- the message as received (JSON); the server's
                                     -- messageId, receivedAt, timestamp are columns
);

-- Messages that failed validation, kept raw with every reason until replayed.
CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL,
    message_id    TEXT,              -- NULL when the body could not be parsed
    type          TEXT,
    event         TEXT,
    received_at   INTEGER NOT NULL,
    timestamp     INTEGER,           -- corrected, when the message's times could be read
    reasons       TEXT NOT NULL,     -- JSON array of {"field","code","message"}
    raw           BLOB NOT NULL      -- as received (may be invalid JSON or UTF-8)
);
CREATE INDEX quarantine_source ON quarantine(source_id, id);
