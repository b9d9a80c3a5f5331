-- API keys for the read API (GET /api/v1/...): each has a role, and may expire or be
-- revoked. Like source write keys, only a hash of the key is kept (BLAKE2b-256 with
-- the context "custos api key v1"), with its first characters as a hint. The tables
-- are apart so that a write key never reads and an API key never writes.
-- Times are ms since the epoch; expires_at and revoked_at are NULL when not set.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT,
    role        TEXT NOT NULL,         -- admin, analyst, marketing, service, risk
    key_hash    BLOB NOT NULL UNIQUE,
    key_hint    TEXT,
    created_at  INTEGER,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
