-- Imported records (one per row of a channel export), orders and order lines.
-- Every record keeps its provenance: source, file, record key, line.

CREATE TABLE records (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER NOT NULL,
    kind         TEXT NOT NULL,       -- contact, order, order_line, ticket, review
    record_key   TEXT NOT NULL,       -- unique within the source (see the import's key map)
    file         TEXT NOT NULL,
    line         INTEGER NOT NULL,
    hash         INTEGER NOT NULL,    -- content hash: the same key and hash is "unchanged"
    time         INTEGER,             -- the record's own time, ms UTC
    identifiers  TEXT,                -- JSON object: identifier type -> value, as written
    traits       TEXT,                -- JSON object
    fields       TEXT,                -- JSON object: ticket and review fields
    imported_at  INTEGER NOT NULL
);

-- An order: from an "order" record, or aggregated from its "order_line" records.
CREATE TABLE orders (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL,
    order_id      TEXT NOT NULL,
    record_id     INTEGER,            -- the order record, or the first line's
    time          INTEGER,
    amount_minor  INTEGER,            -- integer minor units (fen, cents)
    currency      TEXT,
    status        TEXT,
    channel       TEXT,
    store         TEXT,
    lines         INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX orders_key ON orders(source_id, order_id);

CREATE TABLE order_lines (
    record_id         INTEGER PRIMARY KEY, -- its record (one line a record): provenance, identifiers
    source_id         INTEGER NOT NULL,
    order_id          TEXT NOT NULL,
    time              INTEGER,
    sku               TEXT,
    name              TEXT,
    category          TEXT,
    quantity          REAL,
    unit_price_minor  INTEGER,
    amount_minor      INTEGER,
    currency          TEXT,
    status            TEXT,
    channel           TEXT,
    store             TEXT
);
CREATE INDEX order_lines_order ON order_lines(source_id, order_id);
