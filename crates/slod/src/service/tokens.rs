//! API tokens and dashboard sessions (SPEC §16): creating, listing and
//! revoking tokens, recognising a presented token, and opening, finding and
//! ending dashboard sessions.
//!
//! A token reads `slod_<id>_<secret>`: the id (8 random bytes, hex) names
//! the row, the secret is 32 random bytes from the operating system
//! (`getrandom`), hex. The store keeps only the SHA-256 of the whole token,
//! compared in constant time (`subtle`), so neither the database nor the
//! timing of a comparison gives a token away. The secret is returned once,
//! by [`create_token`], wrapped in [`Secret`], whose `Debug` never prints
//! it; nothing here logs it.
//!
//! A dashboard session id is 32 random bytes too; the browser's cookie
//! holds it, the store its SHA-256. A session has its token's scope, ends
//! after [`SESSION_LIFETIME`] or on logout, and dies with its token. Its
//! anti-forgery token ([`csrf_token`]) is derived from the session id, so
//! it needs no storage and a page from another site cannot know it.

use std::fmt;

use sha2::{Digest, Sha256};
use slod_core::model::{parse_system_name, ValidationError};
use slod_core::time::Timestamp;
use slod_store::auth::{Scope, SessionRow, TokenRow};
use slod_store::Store;
use subtle::ConstantTimeEq;

use super::{ServiceError, ServiceResult};

/// How long a dashboard session lasts (an absolute limit: log in again
/// after it).
pub const SESSION_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;

/// How stale `lastUsedAt` may get: a token's use is written at most once
/// per this many milliseconds, so a busy ingest token costs one write a
/// minute, not one per report.
pub const LAST_USED_RESOLUTION_MS: i64 = 60 * 1000;

const TOKEN_PREFIX: &str = "slod_";

/// A secret shown once: a new token, or a session id for the cookie.
/// `Debug` and `Display` are redacted; [`Secret::expose`] is the one way
/// out, so every place that sends it is easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A validated `POST /tokens` (or `slod token create`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub scope: Scope,
}

/// A token's scope from its name; the error lists the scopes.
pub fn parse_scope(raw: &str, field: &str) -> Result<Scope, ValidationError> {
    Scope::parse(raw).ok_or_else(|| {
        ValidationError::new(field, format!("`{raw}` is not one of read, ingest, manage"))
    })
}

/// A token's name: as a system's name, 1 to 200 characters once trimmed.
pub fn parse_token_name(raw: &str, field: &str) -> Result<String, ValidationError> {
    parse_system_name(raw, field)
}

/// A token just created, with its secret (never shown again).
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub row: TokenRow,
    pub token: Secret,
}

/// `n` random bytes from the operating system, as lowercase hex.
fn random_hex(n: usize) -> ServiceResult<String> {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes)
        .map_err(|err| ServiceError::Internal(anyhow::anyhow!("no randomness: {err}")))?;
    Ok(hex::encode(bytes))
}

/// The SHA-256 of `value`, lowercase hex: what the store keeps.
pub fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Whether two digests are equal, in time independent of where they differ.
fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The token id inside a presented token, when it has the token's shape.
fn token_id(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 16) && hex(secret, 64)).then_some(id)
}

pub async fn create_token(
    store: &dyn Store,
    now: Timestamp,
    new: NewToken,
) -> ServiceResult<IssuedToken> {
    let id = random_hex(8)?;
    let token = Secret(format!("{TOKEN_PREFIX}{id}_{}", random_hex(32)?));
    let row = TokenRow {
        id,
        name: new.name,
        scope: new.scope,
        secret_hash: digest(token.expose()),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = store.begin().await?;
    tx.insert_token(&row).await?;
    tx.commit().await?;
    tracing::info!(token = %row.id, scope = %row.scope, "token created");
    Ok(IssuedToken { row, token })
}

/// The tokens not revoked, oldest first.
pub async fn list_tokens(store: &dyn Store) -> ServiceResult<Vec<TokenRow>> {
    Ok(store.list_tokens().await?)
}

/// Revokes a token at once, with its dashboard sessions.
pub async fn revoke_token(store: &dyn Store, now: Timestamp, id: &str) -> ServiceResult<()> {
    let mut tx = store.begin().await?;
    if !tx.revoke_token(id, now).await? {
        return Err(ServiceError::NotFound {
            message: format!("no token with id `{id}` (or it was revoked already)"),
            field: None,
        });
    }
    tx.commit().await?;
    tracing::info!(token = %id, "token revoked");
    Ok(())
}

/// Whether any token is not revoked.
pub async fn any_token(store: &dyn Store) -> ServiceResult<bool> {
    Ok(store.any_active_token().await?)
}

/// The token `presented` is, when it is one and not revoked; `None` for
/// anything else (malformed, unknown, wrong secret, revoked), which the
/// caller answers alike.
pub async fn authenticate(store: &dyn Store, presented: &str) -> ServiceResult<Option<TokenRow>> {
    let Some(id) = token_id(presented) else { return Ok(None) };
    let Some(row) = store.get_token(id).await? else { return Ok(None) };
    let matches = digests_match(&digest(presented), &row.secret_hash);
    Ok((matches && row.revoked_at.is_none()).then_some(row))
}

/// Records that `token` was used at `now`, unless that was already
/// recorded less than [`LAST_USED_RESOLUTION_MS`] ago.
pub async fn record_use(store: &dyn Store, token: &TokenRow, now: Timestamp) -> ServiceResult<()> {
    if token.last_used_at.is_some_and(|at| now.millis() - at.millis() < LAST_USED_RESOLUTION_MS) {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    tx.touch_token(&token.id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Opens a dashboard session for `token`; the returned id goes into the
/// cookie and nowhere else. Sessions that ended are swept on the way.
pub async fn open_session(
    store: &dyn Store,
    token: &TokenRow,
    now: Timestamp,
) -> ServiceResult<Secret> {
    let id = Secret(random_hex(32)?);
    let row = SessionRow {
        id_hash: digest(id.expose()),
        token_id: token.id.clone(),
        created_at: now,
        expires_at: now.plus_millis(SESSION_LIFETIME_MS),
    };
    let mut tx = store.begin().await?;
    tx.delete_expired_sessions(now).await?;
    tx.insert_session(&row).await?;
    tx.touch_token(&token.id, now).await?;
    tx.commit().await?;
    tracing::info!(token = %token.id, scope = %token.scope, "dashboard session opened");
    Ok(id)
}

/// The token of the live session `session_id` names: `None` when there is
/// no such session, it ended, or its token was revoked.
pub async fn find_session(
    store: &dyn Store,
    session_id: &str,
    now: Timestamp,
) -> ServiceResult<Option<TokenRow>> {
    if session_id.len() != 64 || !session_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some((session, token)) = store.get_session(&digest(session_id)).await? else {
        return Ok(None);
    };
    let live = session.expires_at > now && token.revoked_at.is_none();
    Ok(live.then_some(token))
}

/// Ends a session on the server (logout); ending one that is gone is fine.
pub async fn end_session(store: &dyn Store, session_id: &str) -> ServiceResult<()> {
    let mut tx = store.begin().await?;
    tx.delete_session(&digest(session_id)).await?;
    tx.commit().await?;
    Ok(())
}

/// The anti-forgery token of a session: every dashboard form carries it in
/// a hidden field, and a POST without the right one is refused.
pub fn csrf_token(session_id: &str) -> String {
    digest(&format!("slod-csrf:{session_id}"))
}

/// Whether `presented` is the anti-forgery token of `session_id`.
pub fn csrf_matches(session_id: &str, presented: &str) -> bool {
    digests_match(&csrf_token(session_id), presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_name_an_id() {
        let good = format!("slod_{}_{}", "a1".repeat(8), "0f".repeat(32));
        assert_eq!(token_id(&good), Some("a1a1a1a1a1a1a1a1"));
        for bad in [
            "",
            "slod_",
            "Bearer x",
            &format!("slod_{}_{}", "a1".repeat(8), "0f".repeat(31)),
            &format!("slod_{}_{}", "zz".repeat(8), "0f".repeat(32)),
            &format!("xxxx_{}_{}", "a1".repeat(8), "0f".repeat(32)),
        ] {
            assert_eq!(token_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn random_hex_is_random_and_the_right_length() {
        let a = random_hex(32).unwrap();
        let b = random_hex(32).unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let token = csrf_token("abc");
        assert!(csrf_matches("abc", &token));
        assert!(!csrf_matches("abd", &token));
        assert!(!csrf_matches("abc", ""));
        assert_ne!(token, digest("abc"), "not the stored session hash");
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret("slod_top_secret".into());
        assert!(!format!("{secret:?}").contains("top_secret"));
    }
}
