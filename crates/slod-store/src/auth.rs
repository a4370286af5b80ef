//! Storage for access control (SPEC §16): API tokens and dashboard
//! sessions.
//!
//! Neither table holds a secret. A token row keeps the SHA-256 of its
//! secret (the secret itself is shown once, at creation, and never stored);
//! a session row is keyed by the SHA-256 of the random session id the
//! browser's cookie holds. So a copy of the database (a backup, a leaked
//! dump) lets nobody in.
//!
//! Revoking a token keeps its row (marked `revoked_at`, so a later use can
//! be told apart from a typo in the log) and ends its sessions at once.

use std::fmt;

use async_trait::async_trait;
use slod_core::time::Timestamp;

use crate::StoreResult;

/// What a token may do (SPEC §16): `read` every `GET`, `ingest` reports
/// and integrations, `manage` everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Ingest,
    Manage,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Self::Read, Self::Ingest, Self::Manage];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Ingest => "ingest",
            Self::Manage => "manage",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API token as stored: its secret only as a SHA-256 digest (lowercase
/// hex), which `Debug` does not print either.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("secret_hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// A dashboard session: the SHA-256 of its id (lowercase hex), the token
/// it was opened with (whose scope it has) and when it ends.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub token_id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRow")
            .field("id_hash", &"<redacted>")
            .field("token_id", &self.token_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Reads of tokens and sessions.
#[async_trait]
pub trait AuthStore {
    /// The tokens not revoked, oldest first (then by id).
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRow>>;
    /// One token, revoked or not.
    async fn get_token(&self, id: &str) -> StoreResult<Option<TokenRow>>;
    /// Whether any token is not revoked: while none is, slod is open.
    async fn any_active_token(&self) -> StoreResult<bool>;
    /// The session with this id hash and its token (revoked or not, expired
    /// or not: the caller judges).
    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<(SessionRow, TokenRow)>>;
}

/// Changes to tokens and sessions, inside a [`StoreTx`](crate::StoreTx).
#[async_trait]
pub trait AuthTx {
    /// Inserts a token; `Conflict` when the id is taken.
    async fn insert_token(&mut self, row: &TokenRow) -> StoreResult<()>;
    /// Marks the token revoked at `at` and deletes its sessions; `false`
    /// when it does not exist or was revoked already.
    async fn revoke_token(&mut self, id: &str, at: Timestamp) -> StoreResult<bool>;
    /// Records a use of the token.
    async fn touch_token(&mut self, id: &str, at: Timestamp) -> StoreResult<()>;
    /// Inserts a session; its token must exist.
    async fn insert_session(&mut self, row: &SessionRow) -> StoreResult<()>;
    /// `false` when there was no such session.
    async fn delete_session(&mut self, id_hash: &str) -> StoreResult<bool>;
    /// Deletes the sessions that ended before `now`; how many.
    async fn delete_expired_sessions(&mut self, now: Timestamp) -> StoreResult<u64>;
}
