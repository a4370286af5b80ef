//! `/integrations/…`: receivers for the monitors people already run
//! (SPEC §13).
//!
//! - `POST /integrations/alertmanager?label=system&degraded=warning,info&create=true`
//! - `POST /integrations/uptime-kuma?systemId=&create=true`
//! - `POST /integrations/gatus?create=true`
//!
//! Each reads its tool's payload ([`crate::input::integrations`]) and hands
//! the items to [`service::ingest`], which applies them in one transaction
//! and answers `{applied, ignored, stale}`. These routes take bodies up to
//! [`MAX_INGEST_BODY_BYTES`] (10,000 alerts of Alertmanager are about 6 MB)
//! where the rest of the API stops at 1 MiB. The body is read whatever its
//! `Content-Type` says (Gatus sends none unless told), except that Uptime
//! Kuma's form modes are recognised by theirs.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::handler::Handler;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::MethodRouter;
use slod_core::model::{SystemId, ValidationError};

use super::error::{ApiError, ApiResult};
use super::extract::QueryParams;
use crate::input::integrations::alertmanager::{self, AlertmanagerOptions};
use crate::input::integrations::uptime_kuma::{self, UptimeKumaOptions};
use crate::input::integrations::{gatus, IngestBatch};
use crate::service::ingest::{self as service, IngestOutcome};
use crate::state::AppState;

/// The largest body an integration route reads (SPEC §13: 413 above it).
pub const MAX_INGEST_BODY_BYTES: usize = 16 * 1024 * 1024;

/// An integration route: `POST` with its own body limit, for
/// [`super::router`]'s table.
pub(super) fn post<H: Handler<T, AppState>, T: 'static>(handler: H) -> MethodRouter<AppState> {
    // Set closer to the handler than the application's 1 MiB limit, so it
    // is the one the body extractors see.
    axum::routing::post(handler).layer(DefaultBodyLimit::max(MAX_INGEST_BODY_BYTES))
}

pub(super) async fn alertmanager(
    State(state): State<AppState>,
    query: QueryParams,
    request: Request,
) -> ApiResult<axum::Json<IngestOutcome>> {
    query.only(&["label", "degraded", "create"])?;
    let mut options = AlertmanagerOptions::default();
    if let Some(label) = query.single("label")? {
        if label.trim().is_empty() {
            return Err(ValidationError::new("label", "must name a label").into());
        }
        label.trim().clone_into(&mut options.label);
    }
    if let Some(degraded) = query.single("degraded")? {
        options.degraded = AlertmanagerOptions::parse_degraded(degraded);
    }
    let create = create_flag(&query)?;
    let body = read_body(request).await?;
    let batch = alertmanager::parse(&body, &options)?;
    ingest(&state, batch, create).await
}

pub(super) async fn uptime_kuma(
    State(state): State<AppState>,
    query: QueryParams,
    request: Request,
) -> ApiResult<axum::Json<IngestOutcome>> {
    query.only(&["systemId", "create"])?;
    let options = UptimeKumaOptions {
        system_id: query
            .single("systemId")?
            .map(|raw| SystemId::parse(raw, "systemId"))
            .transpose()?,
    };
    let create = create_flag(&query)?;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let batch = match content_type.as_str() {
        "multipart/form-data" => {
            let data = multipart_data(request).await?;
            uptime_kuma::parse(data.as_bytes(), "data", &options)?
        }
        "application/x-www-form-urlencoded" => {
            let body = read_body(request).await?;
            let data = uptime_kuma::form_data_field(&body)?;
            uptime_kuma::parse(data.as_bytes(), "data", &options)?
        }
        _ => uptime_kuma::parse(&read_body(request).await?, "body", &options)?,
    };
    ingest(&state, batch, create).await
}

pub(super) async fn gatus(
    State(state): State<AppState>,
    query: QueryParams,
    request: Request,
) -> ApiResult<axum::Json<IngestOutcome>> {
    query.only(&["create"])?;
    let create = create_flag(&query)?;
    let body = read_body(request).await?;
    let batch = gatus::parse(&body, state.now())?;
    ingest(&state, batch, create).await
}

async fn ingest(
    state: &AppState,
    batch: IngestBatch,
    create: bool,
) -> ApiResult<axum::Json<IngestOutcome>> {
    let outcome = service::ingest(&*state.store, state.now(), batch, create).await?;
    Ok(axum::Json(outcome))
}

/// `?create=`: `true` (the default) or `false`.
fn create_flag(query: &QueryParams) -> Result<bool, ApiError> {
    match query.single("create")? {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => {
            Err(ValidationError::new("create", format!("`{other}` is not one of true, false"))
                .into())
        }
    }
}

async fn read_body(request: Request) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, &()).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(MAX_INGEST_BODY_BYTES)
        } else {
            ApiError::invalid_request(format!("could not read the request body: {rejection}"))
        }
    })
}

/// The text of the `data` part of a `multipart/form-data` body (Uptime
/// Kuma's "form-data" mode); other parts are skipped.
async fn multipart_data(request: Request) -> Result<String, ApiError> {
    let too_large_or = |status: StatusCode, message: String| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(MAX_INGEST_BODY_BYTES)
        } else {
            ApiError::validation(ValidationError::new("body", message))
        }
    };
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|rejection| {
        too_large_or(
            rejection.status(),
            format!("is not multipart/form-data: {}", rejection.body_text()),
        )
    })?;
    loop {
        let field = multipart.next_field().await.map_err(|err| {
            too_large_or(
                err.status(),
                format!("is not valid multipart/form-data: {}", err.body_text()),
            )
        })?;
        let Some(field) = field else {
            return Err(
                ValidationError::new("data", "is required (the notification as JSON)").into()
            );
        };
        if field.name() == Some("data") {
            return field.text().await.map_err(|err| {
                too_large_or(
                    err.status(),
                    format!("could not read the `data` part: {}", err.body_text()),
                )
            });
        }
    }
}
