//! Maintenance window routes (SPEC §12): `/systems/{id}/maintenance-windows`
//! to declare and list a system's windows, `/maintenance-windows/{wid}` to
//! read, change and remove one. A window is served as `{id, systemId, title,
//! start, end, recurrence, cancelled, status}`, `status` derived at the
//! clock's now.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use slod_core::maintenance::{MaintenanceStatus, Recurrence};
use slod_core::model::SystemId;
use slod_core::time::Timestamp;

use super::error::ApiResult;
use super::extract::{Json, PathId};
use super::systems::system_id;
use crate::input::maintenance::{CreateMaintenanceRequest, UpdateMaintenanceRequest};
use crate::service::maintenance::{self as service, WindowWithStatus};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindowResponse {
    id: String,
    system_id: SystemId,
    title: String,
    start: Timestamp,
    end: Timestamp,
    /// The canonical RRULE; `null` for a one-off window.
    recurrence: Option<Recurrence>,
    cancelled: bool,
    status: MaintenanceStatus,
}

impl From<WindowWithStatus> for MaintenanceWindowResponse {
    fn from(w: WindowWithStatus) -> Self {
        let window = w.row.window;
        Self {
            id: w.row.id,
            system_id: w.row.system_id,
            title: w.row.title,
            start: window.start(),
            end: window.end(),
            cancelled: window.is_cancelled(),
            recurrence: window.recurrence().cloned(),
            status: w.status,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindowListResponse {
    maintenance_windows: Vec<MaintenanceWindowResponse>,
}

#[utoipa::path(post, path = "/systems/{id}/maintenance-windows", tag = "maintenance", params(("id" = String, Path, description = "The system id")), request_body = super::openapi::CreateMaintenanceBody, responses((status = 201, description = "Created", body = MaintenanceWindowResponse)))]
pub(super) async fn create(
    State(state): State<AppState>,
    id: PathId,
    Json(request): Json<CreateMaintenanceRequest>,
) -> ApiResult<(StatusCode, axum::Json<MaintenanceWindowResponse>)> {
    let system = system_id(id)?;
    let window = service::create(&*state.store, state.now(), &system, request).await?;
    Ok((StatusCode::CREATED, axum::Json(window.into())))
}

#[utoipa::path(get, path = "/systems/{id}/maintenance-windows", tag = "maintenance", params(("id" = String, Path, description = "The system id")), responses((status = 200, description = "The system's windows", body = MaintenanceWindowListResponse)))]
pub(super) async fn list(
    State(state): State<AppState>,
    id: PathId,
) -> ApiResult<axum::Json<MaintenanceWindowListResponse>> {
    let system = system_id(id)?;
    let windows = service::list(&*state.store, state.now(), &system).await?;
    Ok(axum::Json(MaintenanceWindowListResponse {
        maintenance_windows: windows.into_iter().map(MaintenanceWindowResponse::from).collect(),
    }))
}

#[utoipa::path(get, path = "/maintenance-windows/{id}", tag = "maintenance", params(("id" = String, Path, description = "The window id")), responses((status = 200, description = "The window", body = MaintenanceWindowResponse)))]
pub(super) async fn get(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<axum::Json<MaintenanceWindowResponse>> {
    Ok(axum::Json(service::get(&*state.store, state.now(), &id).await?.into()))
}

#[utoipa::path(patch, path = "/maintenance-windows/{id}", tag = "maintenance", params(("id" = String, Path, description = "The window id")), request_body = super::openapi::UpdateMaintenanceBody, responses((status = 200, description = "Updated", body = MaintenanceWindowResponse)))]
pub(super) async fn update(
    State(state): State<AppState>,
    PathId(id): PathId,
    Json(patch): Json<UpdateMaintenanceRequest>,
) -> ApiResult<axum::Json<MaintenanceWindowResponse>> {
    Ok(axum::Json(service::update(&*state.store, state.now(), &id, patch).await?.into()))
}

#[utoipa::path(delete, path = "/maintenance-windows/{id}", tag = "maintenance", params(("id" = String, Path, description = "The window id")), responses((status = 204, description = "Deleted")))]
pub(super) async fn delete(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    service::delete(&*state.store, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
