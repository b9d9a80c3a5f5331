-- 0012: encryption at rest (issue 6; privacy/seal.h, docs/internals/encryption.md).
-- An identifier of an encrypted class is stored (identifiers.value) as its keyed blind
-- index, "bi:" and 64 hex digits; its clear value is kept here only as a token
-- (enc:v1:KEYID:..., the standardized value as a JSON string, field: the type).
CREATE TABLE identifier_tokens (
    id     INTEGER PRIMARY KEY,
    value  TEXT NOT NULL UNIQUE,   -- identifiers.value: the blind index
    type   TEXT NOT NULL,
    token  TEXT NOT NULL
);
