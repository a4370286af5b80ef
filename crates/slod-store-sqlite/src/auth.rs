//! [`AuthStore`] and [`AuthTx`] for SQLite (migrations/0008_tokens.sql).

use async_trait::async_trait;
use slod_core::time::Timestamp;
use slod_store::auth::{SessionRow, TokenRow};
use slod_store::codec::{qualified, SessionFields, TokenFields, SESSION_COLUMNS, TOKEN_COLUMNS};
use slod_store::{AuthStore, AuthTx, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::rows::other;
use crate::tx::SqliteTx;
use crate::{write_error, SqliteStore};

/// A token from columns `at..at + 7` of `row`.
fn token_from_row(row: &SqliteRow, at: usize) -> StoreResult<TokenRow> {
    TokenFields {
        id: row.try_get(at).map_err(other)?,
        name: row.try_get(at + 1).map_err(other)?,
        scope: row.try_get(at + 2).map_err(other)?,
        secret_hash: row.try_get(at + 3).map_err(other)?,
        created_at: row.try_get(at + 4).map_err(other)?,
        last_used_at: row.try_get(at + 5).map_err(other)?,
        revoked_at: row.try_get(at + 6).map_err(other)?,
    }
    .decode()
}

#[async_trait]
impl AuthStore for SqliteStore {
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await.map_err(other)?;
        rows.iter().map(|row| token_from_row(row, 0)).collect()
    }

    async fn get_token(&self, id: &str) -> StoreResult<Option<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await.map_err(other)?;
        row.map(|row| token_from_row(&row, 0)).transpose()
    }

    async fn any_active_token(&self) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM api_tokens WHERE revoked_at IS NULL)")
            .fetch_one(&self.reader)
            .await
            .map_err(other)?;
        let exists: i64 = row.try_get(0).map_err(other)?;
        Ok(exists != 0)
    }

    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<(SessionRow, TokenRow)>> {
        let sql = format!(
            "SELECT {}, {} FROM sessions s JOIN api_tokens t ON t.id = s.token_id WHERE s.id_hash = ?",
            qualified("s", SESSION_COLUMNS),
            qualified("t", TOKEN_COLUMNS)
        );
        let Some(row) =
            sqlx::query(&sql).bind(id_hash).fetch_optional(&self.reader).await.map_err(other)?
        else {
            return Ok(None);
        };
        let session = SessionFields {
            id_hash: row.try_get(0).map_err(other)?,
            token_id: row.try_get(1).map_err(other)?,
            created_at: row.try_get(2).map_err(other)?,
            expires_at: row.try_get(3).map_err(other)?,
        }
        .decode();
        Ok(Some((session, token_from_row(&row, 4)?)))
    }
}

#[async_trait]
impl AuthTx for SqliteTx {
    async fn insert_token(&mut self, t: &TokenRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&t.id)
        .bind(&t.name)
        .bind(t.scope.as_str())
        .bind(&t.secret_hash)
        .bind(t.created_at.millis())
        .bind(t.last_used_at.map(Timestamp::millis))
        .bind(t.revoked_at.map(Timestamp::millis))
        .execute(&mut *self.tx)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn revoke_token(&mut self, id: &str, at: Timestamp) -> StoreResult<bool> {
        let revoked =
            sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(at.millis())
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map_err(other)?;
        sqlx::query("DELETE FROM sessions WHERE token_id = ?")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(revoked.rows_affected() > 0)
    }

    async fn touch_token(&mut self, id: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?")
            .bind(at.millis())
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(())
    }

    async fn insert_session(&mut self, s: &SessionRow) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?)"))
            .bind(&s.id_hash)
            .bind(&s.token_id)
            .bind(s.created_at.millis())
            .bind(s.expires_at.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn delete_session(&mut self, id_hash: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn delete_expired_sessions(&mut self, now: Timestamp) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await
            .map_err(other)?;
        Ok(deleted.rows_affected())
    }
}
