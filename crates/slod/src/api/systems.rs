//! `/systems` routes: systems and their dependencies.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use slod_core::model::{parse_system_name, CheckId, SystemId, ValidationError};

use super::error::ApiResult;
use super::extract::{Json, PathId, PathIds};
use crate::input::fields::ObjectReader;
use crate::input::FromJson;
use crate::service::systems::{self as service, DependenciesView, SystemView};
use crate::state::AppState;

/// `PUT /systems/{id}` body.
pub struct PutSystemRequest {
    pub name: String,
}

impl FromJson for PutSystemRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        let raw = body.required("name", ObjectReader::string)?;
        let name = parse_system_name(raw, "name")?;
        body.finish()?;
        Ok(Self { name })
    }
}

/// `PUT /systems/{id}/dependencies` body.
pub struct PutDependenciesRequest {
    pub upstream_ids: Vec<SystemId>,
}

impl FromJson for PutDependenciesRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        let upstream_ids = body.required("upstreamIds", ObjectReader::system_ids)?;
        body.finish()?;
        Ok(Self { upstream_ids })
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SystemListResponse {
    systems: Vec<SystemView>,
}

/// The `{id}` path segment as a system id; a malformed one is a 400 naming
/// `id`, since no such system can exist.
pub(super) fn system_id(PathId(raw): PathId) -> Result<SystemId, ValidationError> {
    SystemId::parse(&raw, "id")
}

#[utoipa::path(get, path = "/systems", tag = "systems", responses((status = 200, description = "Every system, with its live status", body = SystemListResponse)))]
pub(super) async fn list(
    State(state): State<AppState>,
) -> ApiResult<axum::Json<SystemListResponse>> {
    let systems = service::list_systems(&*state.store).await?;
    Ok(axum::Json(SystemListResponse { systems }))
}

#[utoipa::path(get, path = "/systems/{id}", tag = "systems", params(("id" = String, Path, description = "The system id")), responses((status = 200, description = "The system, with its live status", body = SystemView)))]
pub(super) async fn get(
    State(state): State<AppState>,
    id: PathId,
) -> ApiResult<axum::Json<SystemView>> {
    let id = system_id(id)?;
    Ok(axum::Json(service::get_system(&*state.store, &id).await?))
}

/// 201 when the system was created, 200 when renamed.
#[utoipa::path(put, path = "/systems/{id}", tag = "systems", params(("id" = String, Path, description = "The system id: letters, digits, `.`, `:`, `_`, `-`; up to 200")), request_body = super::openapi::PutSystemBody, responses((status = 200, description = "Renamed", body = SystemView), (status = 201, description = "Created", body = SystemView)))]
pub(super) async fn put(
    State(state): State<AppState>,
    id: PathId,
    Json(request): Json<PutSystemRequest>,
) -> ApiResult<(StatusCode, axum::Json<SystemView>)> {
    let id = system_id(id)?;
    let (view, created) =
        service::put_system(&*state.store, state.now(), &id, &request.name).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(view)))
}

#[utoipa::path(delete, path = "/systems/{id}", tag = "systems", params(("id" = String, Path, description = "The system id")), responses((status = 204, description = "Deleted, with its objectives, events and edges")))]
pub(super) async fn delete(State(state): State<AppState>, id: PathId) -> ApiResult<StatusCode> {
    let id = system_id(id)?;
    service::delete_system(&*state.store, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /systems/{id}/checks/{checkId}` (SPEC §12).
#[utoipa::path(delete, path = "/systems/{id}/checks/{check_id}", tag = "systems", params(("id" = String, Path, description = "The system id"), ("check_id" = String, Path, description = "The check id")), responses((status = 204, description = "Forgotten")))]
pub(super) async fn forget_check(
    State(state): State<AppState>,
    PathIds(id, check): PathIds,
) -> ApiResult<StatusCode> {
    let id = system_id(PathId(id))?;
    let check = CheckId::parse(&check, "checkId")?;
    service::forget_check(&*state.store, state.now(), &id, &check).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/systems/{id}/dependencies", tag = "systems", params(("id" = String, Path, description = "The system id")), responses((status = 200, description = "Its upstreams and downstreams", body = DependenciesView)))]
pub(super) async fn get_dependencies(
    State(state): State<AppState>,
    id: PathId,
) -> ApiResult<axum::Json<DependenciesView>> {
    let id = system_id(id)?;
    Ok(axum::Json(service::get_dependencies(&*state.store, &id).await?))
}

#[utoipa::path(put, path = "/systems/{id}/dependencies", tag = "systems", params(("id" = String, Path, description = "The system id")), request_body = super::openapi::PutDependenciesBody, responses((status = 200, description = "The new upstreams and the downstreams", body = DependenciesView)))]
pub(super) async fn put_dependencies(
    State(state): State<AppState>,
    id: PathId,
    Json(request): Json<PutDependenciesRequest>,
) -> ApiResult<axum::Json<DependenciesView>> {
    let id = system_id(id)?;
    let view =
        service::set_dependencies(&*state.store, state.now(), &id, &request.upstream_ids).await?;
    Ok(axum::Json(view))
}
