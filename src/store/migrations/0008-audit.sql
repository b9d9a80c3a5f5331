-- The hash-chained audit log (privacy/audit.h) and the differential-privacy budget of
-- each API key (privacy/dp.h).
-- Each audit entry's hash is BLAKE2b-256 over its canonical form (seq, time, actor,
-- action, subject, detail) and the hash of the entry before it (prev_hash; 32 zero
-- bytes for the first). Entries are only ever appended: nothing updates or deletes
-- them, so the triggers refuse both (a hand edit must drop them first, and verify
-- still finds it). Times are ms since the epoch. No personal data: subjects are ids.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT,
    detail      TEXT,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL
);
CREATE INDEX audit_log_time ON audit_log(time);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Epsilon spent by each API key on differentially private aggregates; budget NULL:
-- the dp-budget setting.
CREATE TABLE dp_budget (
    key_id      INTEGER PRIMARY KEY REFERENCES api_keys(id),
    spent       REAL NOT NULL DEFAULT 0,
    budget      REAL,
    updated_at  INTEGER
);
