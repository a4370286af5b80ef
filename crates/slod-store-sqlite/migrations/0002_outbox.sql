-- The transactional outbox (SPEC §8): every notification event, written in
-- the transaction of the change that caused it. `seq` orders them for
-- tailing; `id` is the stable id receivers deduplicate on.
CREATE TABLE outbox_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    event_type  TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    data        TEXT NOT NULL
);
