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

/// The `{id}` path segment as a system id; a malformed one is a 400 naming
/// `id`, since no such system can exist.
pub(super) fn system_id(PathId(raw): PathId) -> Result<SystemId, ValidationError> {
    SystemId::parse(&raw, "id")
}

pub(super) async fn list(State(state): State<AppState>) -> ApiResult<axum::Json<Value>> {
    let systems = service::list_systems(&*state.store).await?;
    Ok(axum::Json(serde_json::json!({ "systems": systems })))
}

pub(super) async fn get(
    State(state): State<AppState>,
    id: PathId,
) -> ApiResult<axum::Json<SystemView>> {
    let id = system_id(id)?;
    Ok(axum::Json(service::get_system(&*state.store, &id).await?))
}

/// 201 when the system was created, 200 when renamed.
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

pub(super) async fn delete(State(state): State<AppState>, id: PathId) -> ApiResult<StatusCode> {
    let id = system_id(id)?;
    service::delete_system(&*state.store, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /systems/{id}/checks/{checkId}` (SPEC §12).
pub(super) async fn forget_check(
    State(state): State<AppState>,
    PathIds(id, check): PathIds,
) -> ApiResult<StatusCode> {
    let id = system_id(PathId(id))?;
    let check = CheckId::parse(&check, "checkId")?;
    service::forget_check(&*state.store, state.now(), &id, &check).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn get_dependencies(
    State(state): State<AppState>,
    id: PathId,
) -> ApiResult<axum::Json<DependenciesView>> {
    let id = system_id(id)?;
    Ok(axum::Json(service::get_dependencies(&*state.store, &id).await?))
}

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
