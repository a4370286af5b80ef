//! `/objectives` routes (SPEC §2, §4, §9).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use slod_core::model::{DowntimeEvent, Objective, ReportSource, SystemId, ValidationError};
use slod_core::time::Timestamp;

use super::error::{ApiError, ApiResult};
use super::extract::{Json, PathId, QueryParams};
use super::systems::system_id;
use crate::input::objectives::{CreateObjectiveRequest, UpdateObjectiveRequest};
use crate::service::objectives as service;
use crate::service::status::{group_by_system, ObjectiveWithStatus};
use crate::state::AppState;

/// A downtime event as served (the seed's shape).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DowntimeEventResponse {
    id: String,
    objective_id: String,
    system_id: SystemId,
    start_time: Timestamp,
    end_time: Option<Timestamp>,
    /// `null` while the event is open.
    duration_seconds: Option<f64>,
    attribution_type: &'static str,
    upstream_system_id: Option<SystemId>,
    upstream_system_name: Option<String>,
    source: ReportSource,
}

impl From<DowntimeEvent> for DowntimeEventResponse {
    fn from(event: DowntimeEvent) -> Self {
        let (upstream_system_id, upstream_system_name) = match &event.attribution {
            slod_core::model::Attribution::SelfCaused => (None, None),
            slod_core::model::Attribution::Upstream { system_id, system_name } => {
                (Some(system_id.clone()), Some(system_name.clone()))
            }
        };
        Self {
            duration_seconds: event.duration_ms().map(|ms| ms as f64 / 1000.0),
            attribution_type: event.attribution.type_str(),
            id: event.id,
            objective_id: event.objective_id.to_string(),
            system_id: event.system_id,
            start_time: event.start_time,
            end_time: event.end_time,
            upstream_system_id,
            upstream_system_name,
            source: event.source,
        }
    }
}

#[derive(Serialize)]
pub struct ObjectiveListResponse {
    objectives: Vec<ObjectiveWithStatus>,
}

#[derive(Serialize)]
pub struct ObjectivesBySystemResponse {
    systems: BTreeMap<SystemId, Vec<ObjectiveWithStatus>>,
}

#[derive(Serialize)]
pub struct DowntimeEventsResponse {
    events: Vec<DowntimeEventResponse>,
}

/// `GET /objectives` answers `{objectives}`; with `?systemId=` (repeatable)
/// it answers `{systems: {id: [...]}}` with every requested id present.
pub(super) async fn list(
    State(state): State<AppState>,
    query: QueryParams,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    query.only(&["systemId"])?;
    let mut requested: Vec<SystemId> = Vec::new();
    for raw in query.all("systemId") {
        let id = SystemId::parse(raw, "systemId")?;
        if !requested.contains(&id) {
            requested.push(id);
        }
    }
    let now = state.now();
    if requested.is_empty() {
        let objectives = service::list_objectives(&*state.store, None, now).await?;
        return Ok(axum::Json(ObjectiveListResponse { objectives }).into_response());
    }
    let items = service::list_objectives(&*state.store, Some(&requested), now).await?;
    let systems = group_by_system(&requested, items);
    Ok(axum::Json(ObjectivesBySystemResponse { systems }).into_response())
}

pub(super) async fn list_for_system(
    State(state): State<AppState>,
    id: PathId,
) -> ApiResult<axum::Json<Vec<ObjectiveWithStatus>>> {
    let id = system_id(id)?;
    Ok(axum::Json(service::list_system_objectives(&*state.store, &id, state.now()).await?))
}

pub(super) async fn create(
    State(state): State<AppState>,
    Json(CreateObjectiveRequest(new)): Json<CreateObjectiveRequest>,
) -> ApiResult<(StatusCode, axum::Json<Objective>)> {
    let objective = service::create_objective(&*state.store, state.now(), new).await?;
    Ok((StatusCode::CREATED, axum::Json(objective)))
}

/// `GET /objectives/{id}?at=T`: status as of T (default now; not later
/// than now).
pub(super) async fn get(
    State(state): State<AppState>,
    PathId(id): PathId,
    query: QueryParams,
) -> ApiResult<axum::Json<ObjectiveWithStatus>> {
    query.only(&["at"])?;
    let now = state.now();
    let at = match query.single("at")? {
        None => None,
        Some(raw) => {
            let at = Timestamp::parse(raw)
                .map_err(|err| ApiError::validation(ValidationError::new("at", err.to_string())))?;
            if at > now {
                return Err(ApiError::validation(ValidationError::new(
                    "at",
                    format!("must not be in the future (now is {now})"),
                )));
            }
            Some(at)
        }
    };
    Ok(axum::Json(service::get_objective(&*state.store, &id, at, now).await?))
}

pub(super) async fn update(
    State(state): State<AppState>,
    PathId(id): PathId,
    Json(UpdateObjectiveRequest(patch)): Json<UpdateObjectiveRequest>,
) -> ApiResult<axum::Json<Objective>> {
    Ok(axum::Json(service::update_objective(&*state.store, state.now(), &id, patch).await?))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    service::delete_objective(&*state.store, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Default and largest page of `GET /objectives/{id}/downtime-events`.
const DEFAULT_EVENT_LIMIT: u32 = 50;
const MAX_EVENT_LIMIT: u32 = 1000;

pub(super) async fn events(
    State(state): State<AppState>,
    PathId(id): PathId,
    query: QueryParams,
) -> ApiResult<axum::Json<DowntimeEventsResponse>> {
    query.only(&["limit"])?;
    let limit = query.limit(DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT)?;
    let events = service::list_events(&*state.store, &id, limit).await?;
    Ok(axum::Json(DowntimeEventsResponse {
        events: events.into_iter().map(DowntimeEventResponse::from).collect(),
    }))
}
