//! Correction routes (SPEC §17): `/systems/{id}/corrections` to make one
//! and to read a system's audit trail, `DELETE /corrections/{cid}` to
//! revoke one. A correction is served as `{id, systemId, start, end, kind,
//! upstreamSystemId, reason, author, createdAt, revokedAt, revokedBy}`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use slod_core::model::SystemId;
use slod_core::time::Timestamp;
use slod_store::corrections::CorrectionRow;

use super::error::ApiResult;
use super::extract::{Json, PathId};
use super::systems::system_id;
use crate::input::corrections::CreateCorrectionRequest;
use crate::service::corrections::{self as service, Actor};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CorrectionResponse {
    id: String,
    system_id: SystemId,
    start: Timestamp,
    end: Timestamp,
    #[schema(value_type = super::openapi::CorrectionKindBody)]
    kind: &'static str,
    upstream_system_id: Option<SystemId>,
    reason: String,
    author: String,
    created_at: Timestamp,
    revoked_at: Option<Timestamp>,
    revoked_by: Option<String>,
}

impl From<CorrectionRow> for CorrectionResponse {
    fn from(row: CorrectionRow) -> Self {
        let c = row.correction;
        Self {
            id: row.id,
            system_id: row.system_id,
            start: Timestamp::from_millis(c.start),
            end: Timestamp::from_millis(c.end),
            kind: c.kind.as_str(),
            upstream_system_id: c.kind.upstream().cloned(),
            reason: row.reason,
            author: row.author,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            revoked_by: row.revoked_by,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CorrectionListResponse {
    corrections: Vec<CorrectionResponse>,
}

#[utoipa::path(post, path = "/systems/{id}/corrections", tag = "corrections", params(("id" = String, Path, description = "The system id")), request_body = super::openapi::CreateCorrectionBody, responses((status = 201, description = "Created", body = CorrectionResponse)))]
pub(super) async fn create(
    State(state): State<AppState>,
    actor: Actor,
    id: PathId,
    Json(request): Json<CreateCorrectionRequest>,
) -> ApiResult<(StatusCode, axum::Json<CorrectionResponse>)> {
    let system = system_id(id)?;
    let row = service::create(&*state.store, state.now(), &actor, &system, request).await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

#[utoipa::path(get, path = "/systems/{id}/corrections", tag = "corrections", params(("id" = String, Path, description = "The system id")), responses((status = 200, description = "The system's corrections, revoked ones included (the audit trail)", body = CorrectionListResponse)))]
pub(super) async fn list(
    State(state): State<AppState>,
    id: PathId,
) -> ApiResult<axum::Json<CorrectionListResponse>> {
    let system = system_id(id)?;
    let rows = service::list(&*state.store, &system).await?;
    Ok(axum::Json(CorrectionListResponse {
        corrections: rows.into_iter().map(CorrectionResponse::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/corrections/{id}", tag = "corrections", params(("id" = String, Path, description = "The correction id")), responses((status = 204, description = "Revoked")))]
pub(super) async fn revoke(
    State(state): State<AppState>,
    actor: Actor,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    service::revoke(&*state.store, state.now(), &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
