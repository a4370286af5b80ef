//! `GET /readyz` (SPEC §18): whether this process can serve now, for load
//! balancers and orchestrators. `200 {"status": "ready"}` when the database
//! answers a trivial query within [`READY_WITHIN`], else `503` in the API's
//! error shape. `GET /healthz` stays the liveness check: a database outage
//! should take the process out of rotation, not get it restarted.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use crate::state::AppState;

/// How long the database has to answer.
pub const READY_WITHIN: Duration = Duration::from_secs(2);

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Ready: the database answers", body = Object, example = json!({"status": "ready"})), (status = 503, description = "Not ready: the database does not answer", body = super::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let reason = match tokio::time::timeout(READY_WITHIN, state.store.ping()).await {
        Ok(Ok(())) => return Ok(Json(json!({"status": "ready"}))),
        Ok(Err(err)) => format!("{err:#}"),
        Err(_) => format!("no answer within {} s", READY_WITHIN.as_secs()),
    };
    // The detail (which may name files or servers) is for the log only.
    tracing::warn!(
        backend = state.store.backend(),
        reason,
        "not ready: the database does not answer"
    );
    Err(ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "not_ready",
        message: "the database does not answer; see the server log".to_owned(),
        field: None,
    })
}
