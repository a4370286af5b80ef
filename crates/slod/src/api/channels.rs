//! `/channels` routes: notification channels, their test send and their
//! delivery log (SPEC §8).
//!
//! A channel is `{name, kind: "webhook"|"slack"|"teams", url, secret?,
//! events?}`. Responses never contain the secret (`hasSecret` says whether
//! there is one) and show the URL redacted
//! ([`display_url`](crate::service::channels::display_url)).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use slod_core::events::EventType;
use slod_core::model::{parse_system_name, ValidationError};
use slod_core::time::Timestamp;
use slod_store::notify::{AttemptRow, ChannelKind, ChannelRow, DeliveryRow};

use super::error::ApiResult;
use super::extract::{Json, PathId, QueryParams};
use crate::input::fields::{kind, ObjectReader};
use crate::input::FromJson;
use crate::service::channels::{
    self as service, display_url, parse_channel_url, parse_secret, ChannelPatch, NewChannel,
};
use crate::state::AppState;

/// `POST /channels` body.
pub struct CreateChannelRequest(pub NewChannel);

/// `PATCH /channels/{id}` body.
pub struct UpdateChannelRequest(pub ChannelPatch);

fn channel_kind(raw: &str) -> Result<ChannelKind, ValidationError> {
    ChannelKind::parse(raw).ok_or_else(|| {
        ValidationError::new("kind", format!("`{raw}` is not one of webhook, slack, teams"))
    })
}

/// `events`: a non-empty array of SPEC §8 event types (duplicates dropped).
fn event_types(items: &[Value]) -> Result<Vec<EventType>, ValidationError> {
    if items.is_empty() {
        return Err(ValidationError::new(
            "events",
            "must list at least one event type; leave it out (or null) for all events",
        ));
    }
    let mut types = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = format!("events[{index}]");
        let Value::String(raw) = item else {
            return Err(ValidationError::new(
                field,
                format!("must be a string, not {}", kind(item)),
            ));
        };
        let parsed = EventType::parse(raw).ok_or_else(|| {
            ValidationError::new(
                field,
                format!("`{raw}` is not an event type (known: {})", known_types()),
            )
        })?;
        if !types.contains(&parsed) {
            types.push(parsed);
        }
    }
    Ok(types)
}

fn known_types() -> String {
    EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
}

/// Reads `secret`: a string, or `null` for none.
fn secret(body: &mut ObjectReader<'_>) -> Result<Option<Option<String>>, ValidationError> {
    match body.nullable("secret") {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(Value::String(raw))) => Ok(Some(Some(parse_secret(raw, "secret")?))),
        Some(Some(other)) => Err(ValidationError::new(
            "secret",
            format!("must be a string or null, not {}", kind(other)),
        )),
    }
}

/// Reads `events`: an array of types, or `null` for all.
fn events(body: &mut ObjectReader<'_>) -> Result<Option<Option<Vec<EventType>>>, ValidationError> {
    match body.nullable("events") {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(Value::Array(items))) => Ok(Some(Some(event_types(items)?))),
        Some(Some(other)) => Err(ValidationError::new(
            "events",
            format!("must be an array of event types or null, not {}", kind(other)),
        )),
    }
}

impl FromJson for CreateChannelRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        let name = parse_system_name(body.required("name", ObjectReader::string)?, "name")?;
        let kind = channel_kind(body.required("kind", ObjectReader::string)?)?;
        let url = parse_channel_url(body.required("url", ObjectReader::string)?, "url")?;
        let secret = secret(&mut body)?.flatten();
        let events = events(&mut body)?.flatten();
        body.finish()?;
        Ok(Self(NewChannel { name, kind, url, secret, events }))
    }
}

impl FromJson for UpdateChannelRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        if body.contains("id") {
            return Err(ValidationError::new("id", "cannot be changed"));
        }
        let name = body.string("name")?.map(|raw| parse_system_name(raw, "name")).transpose()?;
        let kind = body.string("kind")?.map(channel_kind).transpose()?;
        let url = body.string("url")?.map(|raw| parse_channel_url(raw, "url")).transpose()?;
        let secret = secret(&mut body)?;
        let events = events(&mut body)?;
        body.finish()?;
        Ok(Self(ChannelPatch { name, kind, url, secret, events }))
    }
}

/// A channel as served: no secret, a redacted URL.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelResponse {
    id: String,
    name: String,
    kind: &'static str,
    url: String,
    has_secret: bool,
    /// The types it receives (every type when `allEvents`).
    events: Vec<EventType>,
    /// Subscribed to every event type, including ones added later.
    all_events: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<ChannelRow> for ChannelResponse {
    fn from(channel: ChannelRow) -> Self {
        Self {
            url: display_url(channel.kind, &channel.url),
            has_secret: channel.secret.is_some(),
            all_events: channel.events.is_none(),
            events: channel.events.unwrap_or_else(|| EventType::ALL.to_vec()),
            kind: channel.kind.as_str(),
            id: channel.id,
            name: channel.name,
            created_at: channel.created_at,
            updated_at: channel.updated_at,
        }
    }
}

#[derive(Serialize)]
pub struct ChannelListResponse {
    channels: Vec<ChannelResponse>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptResponse {
    attempt: u32,
    started_at: Timestamp,
    finished_at: Timestamp,
    duration_ms: i64,
    status_code: Option<u16>,
    error: Option<String>,
    delivered: bool,
}

impl From<AttemptRow> for AttemptResponse {
    fn from(a: AttemptRow) -> Self {
        Self {
            duration_ms: a.finished_at.millis() - a.started_at.millis(),
            attempt: a.attempt,
            started_at: a.started_at,
            finished_at: a.finished_at,
            status_code: a.status_code,
            error: a.error,
            delivered: a.delivered,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryResponse {
    id: i64,
    event_id: String,
    event_type: EventType,
    occurred_at: Timestamp,
    /// `pending`, `delivered` or `failed` (abandoned after the retry period).
    state: &'static str,
    next_attempt_at: Option<Timestamp>,
    delivered_at: Option<Timestamp>,
    attempt_count: usize,
    last_status_code: Option<u16>,
    last_error: Option<String>,
    /// Oldest first.
    attempts: Vec<AttemptResponse>,
}

impl From<DeliveryRow> for DeliveryResponse {
    fn from(d: DeliveryRow) -> Self {
        let last = d.attempts.last();
        Self {
            last_status_code: last.and_then(|a| a.status_code),
            last_error: last.and_then(|a| a.error.clone()),
            attempt_count: d.attempts.len(),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            occurred_at: d.occurred_at,
            state: d.state.as_str(),
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            attempts: d.attempts.into_iter().map(AttemptResponse::from).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct DeliveryListResponse {
    deliveries: Vec<DeliveryResponse>,
}

/// `POST /channels/{id}/test` answer: what the receiver did with a test
/// event (200 whatever it did; the outcome is in the body).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResponse {
    event_id: String,
    delivered: bool,
    status_code: Option<u16>,
    error: Option<String>,
    duration_ms: u128,
}

pub(super) async fn list(
    State(state): State<AppState>,
) -> ApiResult<axum::Json<ChannelListResponse>> {
    let channels = service::list_channels(&*state.store).await?;
    Ok(axum::Json(ChannelListResponse {
        channels: channels.into_iter().map(ChannelResponse::from).collect(),
    }))
}

pub(super) async fn create(
    State(state): State<AppState>,
    Json(CreateChannelRequest(new)): Json<CreateChannelRequest>,
) -> ApiResult<(StatusCode, axum::Json<ChannelResponse>)> {
    let channel =
        service::create_channel(&*state.store, state.now(), new, state.access.egress()).await?;
    Ok((StatusCode::CREATED, axum::Json(channel.into())))
}

pub(super) async fn get(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<axum::Json<ChannelResponse>> {
    Ok(axum::Json(service::get_channel(&*state.store, &id).await?.into()))
}

pub(super) async fn update(
    State(state): State<AppState>,
    PathId(id): PathId,
    Json(UpdateChannelRequest(patch)): Json<UpdateChannelRequest>,
) -> ApiResult<axum::Json<ChannelResponse>> {
    Ok(axum::Json(
        service::update_channel(&*state.store, state.now(), &id, patch, state.access.egress())
            .await?
            .into(),
    ))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    service::delete_channel(&*state.store, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn test(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<axum::Json<TestResponse>> {
    // The send is notify's; the service layer only looks the channel up.
    let channel = service::get_channel(&*state.store, &id).await?;
    let sent = state.notifier.send_test(&channel, state.now()).await;
    Ok(axum::Json(TestResponse {
        event_id: sent.event_id,
        delivered: sent.result.delivered,
        status_code: sent.result.status_code,
        error: sent.result.error,
        duration_ms: sent.result.duration.as_millis(),
    }))
}

/// Default and largest page of `GET /channels/{id}/deliveries`.
const DEFAULT_DELIVERY_LIMIT: u32 = 50;
const MAX_DELIVERY_LIMIT: u32 = 1000;

pub(super) async fn deliveries(
    State(state): State<AppState>,
    PathId(id): PathId,
    query: QueryParams,
) -> ApiResult<axum::Json<DeliveryListResponse>> {
    query.only(&["limit"])?;
    let limit = query.limit(DEFAULT_DELIVERY_LIMIT, MAX_DELIVERY_LIMIT)?;
    let deliveries = service::list_deliveries(&*state.store, &id, limit).await?;
    Ok(axum::Json(DeliveryListResponse {
        deliveries: deliveries.into_iter().map(DeliveryResponse::from).collect(),
    }))
}
