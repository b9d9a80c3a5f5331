-- Events replayed from the quarantine (flags bit 2) are found by messageId, so that a
-- running server can tell a client's retry of a replayed message from a new one.
-- Partial: ordinary events are not indexed, and ingestion pays nothing for it.
CREATE INDEX events_replayed ON events(source_id, message_id) WHERE flags & 2;
