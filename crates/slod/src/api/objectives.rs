//! `/objectives` routes (SPEC §2, §4, §9).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use slod_core::model::{DowntimeEvent, Objective, ReportSource, SystemId, ValidationError};
use slod_core::time::Timestamp;

use super::error::{ApiError, ApiResult};
use super::extract::{Json, PathId, QueryParams};
use super::systems::system_id;
use crate::halves::{self, in_halves};
use crate::input::objectives::{CreateObjectiveRequest, UpdateObjectiveRequest};
use crate::service::objectives as service;
use crate::service::status::{group_by_system, ObjectiveWithStatus};
use crate::state::AppState;

/// A downtime event as served (the seed's shape).
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct ObjectiveListResponse {
    objectives: Vec<ObjectiveWithStatus>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ObjectivesBySystemResponse {
    systems: BTreeMap<SystemId, Vec<ObjectiveWithStatus>>,
}

/// `GET /objectives`'s answer: one shape or the other.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ObjectivesAnswer {
    /// Written by `json_with_list` byte for byte, in halves; the variant is
    /// the answer's schema in the OpenAPI document.
    #[allow(dead_code)]
    All(ObjectiveListResponse),
    BySystem(ObjectivesBySystemResponse),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DowntimeEventsResponse {
    events: Vec<DowntimeEventResponse>,
}

/// `GET /objectives` answers `{objectives}`; with `?systemId=` (repeatable)
/// it answers `{systems: {id: [...]}}` with every requested id present.
#[utoipa::path(get, path = "/objectives", tag = "objectives", params(("systemId" = Option<Vec<String>>, Query, explode = true, description = "Only these systems' objectives, grouped by system (repeatable)")), responses((status = 200, description = "`{objectives}`, or `{systems: {id: [...]}}` with `systemId`", body = ObjectivesAnswer)))]
pub(super) async fn list(State(state): State<AppState>, query: QueryParams) -> ApiResult<Response> {
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
        // `{"objectives": […]}`, as `ObjectiveListResponse` serializes.
        let body = json_with_list("objectives", &objectives)
            .map_err(|err| ApiError::internal(&anyhow::Error::new(err)))?;
        return Ok(([(CONTENT_TYPE, "application/json")], body).into_response());
    }
    let items = service::list_objectives(&*state.store, Some(&requested), now).await?;
    let systems = group_by_system(&requested, items);
    Ok(axum::Json(ObjectivesAnswer::BySystem(ObjectivesBySystemResponse { systems }))
        .into_response())
}

/// `{"<key>": [items…]}` in compact JSON, byte for byte what serde_json
/// writes for a struct of that one field, with a long list encoded in two
/// halves at once ([`crate::halves`]): encoding 1,000 objectives with
/// their status is one core's 4 ms.
fn json_with_list<T: Serialize + Sync>(
    key: &str,
    items: &[T],
) -> Result<Vec<u8>, serde_json::Error> {
    let parts: Vec<Vec<u8>> = in_halves(items, halves::SPLIT_FROM, serde_json::to_vec)
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut body = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + key.len() + 8);
    body.push(b'{');
    serde_json::to_writer(&mut body, key)?;
    body.extend_from_slice(b":[");
    // Each part is a whole array, `[…]`: its elements go in, between commas.
    let elements = parts
        .iter()
        .map(|part| part.get(1..part.len().saturating_sub(1)).unwrap_or_default())
        .filter(|elements| !elements.is_empty());
    for (n, elements) in elements.enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(elements);
    }
    body.extend_from_slice(b"]}");
    Ok(body)
}

#[utoipa::path(get, path = "/systems/{id}/objectives", tag = "objectives", params(("id" = String, Path, description = "The system id")), responses((status = 200, description = "The system's objectives with their status", body = Vec<ObjectiveWithStatus>)))]
pub(super) async fn list_for_system(
    State(state): State<AppState>,
    id: PathId,
) -> ApiResult<axum::Json<Vec<ObjectiveWithStatus>>> {
    let id = system_id(id)?;
    Ok(axum::Json(service::list_system_objectives(&*state.store, &id, state.now()).await?))
}

#[utoipa::path(post, path = "/objectives", tag = "objectives", request_body = super::openapi::CreateObjectiveBody, responses((status = 201, description = "Created", body = Objective)))]
pub(super) async fn create(
    State(state): State<AppState>,
    Json(CreateObjectiveRequest(new)): Json<CreateObjectiveRequest>,
) -> ApiResult<(StatusCode, axum::Json<Objective>)> {
    let objective = service::create_objective(&*state.store, state.now(), new).await?;
    Ok((StatusCode::CREATED, axum::Json(objective)))
}

/// `GET /objectives/{id}?at=T`: status as of T (default now; not later
/// than now).
#[utoipa::path(get, path = "/objectives/{id}", tag = "objectives", params(("id" = String, Path, description = "The objective id"), ("at" = Option<String>, Query, format = DateTime, description = "The status as of this instant (not after now); default now")), responses((status = 200, description = "The objective with its status and streak", body = ObjectiveWithStatus)))]
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

#[utoipa::path(patch, path = "/objectives/{id}", tag = "objectives", params(("id" = String, Path, description = "The objective id")), request_body = super::openapi::UpdateObjectiveBody, responses((status = 200, description = "Updated", body = Objective)))]
pub(super) async fn update(
    State(state): State<AppState>,
    PathId(id): PathId,
    Json(UpdateObjectiveRequest(patch)): Json<UpdateObjectiveRequest>,
) -> ApiResult<axum::Json<Objective>> {
    Ok(axum::Json(service::update_objective(&*state.store, state.now(), &id, patch).await?))
}

#[utoipa::path(delete, path = "/objectives/{id}", tag = "objectives", params(("id" = String, Path, description = "The objective id")), responses((status = 204, description = "Deleted, with its events, snapshots and streak")))]
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

#[utoipa::path(get, path = "/objectives/{id}/downtime-events", tag = "objectives", params(("id" = String, Path, description = "The objective id"), ("limit" = Option<u32>, Query, description = "How many, newest first: 1 to 1000 (default 50)")), responses((status = 200, description = "Its downtime events, newest first", body = DowntimeEventsResponse)))]
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

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::json_with_list;
    use crate::halves::SPLIT_FROM;

    #[derive(Serialize)]
    struct Item {
        name: String,
        value: f64,
        tags: Vec<&'static str>,
    }

    #[derive(Serialize)]
    struct Answer<'a> {
        objectives: &'a [Item],
    }

    /// Split or not, the body is what serde_json writes for the whole
    /// answer, escapes and empty lists included.
    #[test]
    fn a_list_encoded_in_halves_is_the_whole_answer() {
        for n in [0, 1, 2, SPLIT_FROM - 1, SPLIT_FROM, 1_001] {
            let items: Vec<Item> = (0..n)
                .map(|i| Item {
                    name: format!("obj-{i} \"quoted\" \u{e9}"),
                    value: i as f64 / 3.0,
                    tags: if i % 2 == 0 { vec![] } else { vec!["a", "b"] },
                })
                .collect();
            let whole = serde_json::to_vec(&Answer { objectives: &items }).expect("encode");
            let halves = json_with_list("objectives", &items).expect("encode");
            assert_eq!(String::from_utf8(halves), String::from_utf8(whole), "{n} items");
        }
    }
}
