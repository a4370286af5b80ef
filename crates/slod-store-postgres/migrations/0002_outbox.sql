-- The transactional outbox (SPEC §8): every notification event, written in
-- the transaction of the change that caused it. `seq` orders them for
-- tailing; `id` is the stable id receivers deduplicate on.
--
-- Unlike SQLite (one writer, so insertion order is commit order), several
-- replicas commit in any order here: a tailer that has read up to `seq` n
-- must never later find a row numbered below n. So rows go in without a
-- `seq` (`pos` only records insertion order), and readers number the
-- committed, unnumbered rows under an advisory lock before reading: a row
-- is numbered only once it is visible, and numbers grow in numbering order.
CREATE TABLE outbox_events (
    pos         BIGSERIAL PRIMARY KEY,
    seq         BIGINT UNIQUE,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    event_type  TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX outbox_events_unnumbered ON outbox_events (pos) WHERE seq IS NULL;
