-- Incremental resolution (src/identity/incremental.c): how far resolution has read.
-- One row. last_record / last_event: the highest records.id and events.id already
-- resolved (every row at or below them is in the identity graph, or had no usable
-- identifier). generation: bumped by every full resolution (custos resolve), which
-- renumbers and rewrites the graph, so that an incremental resolver holding the graph
-- in memory in another process knows to load it again.

CREATE TABLE identity_cursor (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    generation   INTEGER NOT NULL,
    last_record  INTEGER NOT NULL,
    last_event   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- A store resolved before this table existed: the rows up to the last one with a
-- profile were read by that resolution (a later row without any identifier, read
-- again, changes nothing).
INSERT INTO identity_cursor(id, generation, last_record, last_event, updated_at) VALUES (1, 0,
    (SELECT coalesce(max(row_id), 0) FROM profile_members WHERE kind = 1),
    (SELECT coalesce(max(row_id), 0) FROM profile_members WHERE kind = 0),
    0);
