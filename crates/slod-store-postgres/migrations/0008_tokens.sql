-- Access control (SPEC §16), the PostgreSQL twin of the SQLite backend's
-- 0008_tokens.sql: API tokens and dashboard sessions. No secret is stored:
-- a token keeps the SHA-256 (hex) of its secret, a session the SHA-256
-- (hex) of its random id. Times are BIGINT milliseconds since the Unix
-- epoch, UTC. A revoked token keeps its row (`revoked_at` set).

CREATE TABLE api_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'ingest', 'manage')),
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
-- "Does any token exist?", asked (with a short cache) on every request.
CREATE INDEX api_tokens_active ON api_tokens (created_at) WHERE revoked_at IS NULL;

CREATE TABLE sessions (
    id_hash    TEXT COLLATE "C" PRIMARY KEY,
    token_id   TEXT COLLATE "C" NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_token ON sessions (token_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
