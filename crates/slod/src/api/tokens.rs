//! `/tokens` routes (SPEC §16), `manage` only: list the tokens (never a
//! secret), create one (its secret in the answer, this once), revoke one.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use slod_core::time::Timestamp;
use slod_store::auth::TokenRow;

use super::error::ApiResult;
use super::extract::{Json, PathId};
use crate::input::tokens::CreateTokenRequest;
use crate::service::tokens as service;
use crate::state::AppState;

/// A token as listed: no secret, no digest.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    id: String,
    name: String,
    scope: &'static str,
    created_at: Timestamp,
    last_used_at: Option<Timestamp>,
}

impl From<TokenRow> for TokenResponse {
    fn from(row: TokenRow) -> Self {
        Self {
            scope: row.scope.as_str(),
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

#[derive(Serialize)]
pub struct TokenListResponse {
    tokens: Vec<TokenResponse>,
}

/// `POST /tokens` answer: the token and, this once, its secret.
#[derive(Serialize)]
pub struct CreatedTokenResponse {
    #[serde(flatten)]
    token: TokenResponse,
    /// The secret to send as `Authorization: Bearer …`; shown only here.
    secret: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
) -> ApiResult<axum::Json<TokenListResponse>> {
    let tokens = service::list_tokens(&*state.store).await?;
    Ok(axum::Json(TokenListResponse {
        tokens: tokens.into_iter().map(TokenResponse::from).collect(),
    }))
}

pub(super) async fn create(
    State(state): State<AppState>,
    Json(CreateTokenRequest(new)): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreatedTokenResponse>)> {
    let issued = service::create_token(&*state.store, state.now(), new).await?;
    state.access.tokens_changed();
    let secret = issued.token.expose().to_owned();
    Ok((StatusCode::CREATED, axum::Json(CreatedTokenResponse { token: issued.row.into(), secret })))
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    service::revoke_token(&*state.store, state.now(), &id).await?;
    state.access.tokens_changed();
    Ok(StatusCode::NO_CONTENT)
}
