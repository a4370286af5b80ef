-- Access control (SPEC §16): API tokens and dashboard sessions. No secret
-- is stored: a token keeps the SHA-256 (hex) of its secret, a session the
-- SHA-256 (hex) of its random id. Times are milliseconds since the Unix
-- epoch, UTC. A revoked token keeps its row (`revoked_at` set).

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'ingest', 'manage')),
    secret_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
-- "Does any token exist?", asked (with a short cache) on every request.
CREATE INDEX api_tokens_active ON api_tokens (created_at) WHERE revoked_at IS NULL;

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    token_id   TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_token ON sessions (token_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
