//! SLOs as files over HTTP (SPEC §14).
//!
//! - `POST /apply?dryRun=true&prune=true`: the body is a YAML stream
//!   (several documents separated by `---`), or with a JSON content type
//!   one JSON document or a list of them, or `{"files": [{"name",
//!   "content"}]}`: whole files with their names, which is what `slod
//!   apply --server` sends so that errors name the file they are in.
//!   Answers `{created, updated, unchanged, deleted, dryRun, plan, ignored}`;
//!   a document that is wrong anywhere is a 400 whose message says where
//!   (`slo.yaml: document 2 (line 14): spec.service: …`) and nothing is
//!   applied.
//! - `GET /export?format=openslo|checkstack` (default `openslo`): every
//!   named objective and its systems, as YAML `POST /apply` reads back.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use slod_core::model::ValidationError;

use super::error::{ApiError, ApiResult};
use super::extract::{QueryParams, MAX_BODY_BYTES};
use crate::manifest::export::ExportFormat;
use crate::manifest::plan::ApplyReport;
use crate::manifest::{self, source, Located};
use crate::service::apply::{self as service, ApplyOptions};
use crate::state::AppState;

/// What errors call a body that is not a bundle of named files.
const BODY_NAME: &str = "request";

#[utoipa::path(post, path = "/apply", tag = "files", params(("dryRun" = Option<bool>, Query, description = "Plan only, change nothing (default false)"), ("prune" = Option<bool>, Query, description = "Delete named objectives the documents do not list (default false)")), request_body(description = "A YAML stream of OpenSLO or checkstack documents; with a JSON content type one document, a list of them, or `{\"files\": [{name, content}]}`", content((String = "application/yaml"), (super::openapi::ApplyJsonBody = "application/json"), (String = "text/plain"))), responses((status = 200, description = "What was (or, with `dryRun`, would be) done", body = ApplyReport)))]
pub async fn apply(
    State(state): State<AppState>,
    query: QueryParams,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<axum::Json<ApplyReport>> {
    query.only(&["dryRun", "prune"])?;
    let options = ApplyOptions { dry_run: flag(&query, "dryRun")?, prune: flag(&query, "prune")? };
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(MAX_BODY_BYTES)
        } else {
            ApiError::invalid_request(format!("could not read the request body: {rejection}"))
        }
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid_request("the body is not UTF-8 text"))?;
    let documents = documents(&headers, text).map_err(|e| ApiError::from(service::invalid(&e)))?;
    let report = service::apply(&*state.store, state.now(), &documents, options).await?;
    Ok(axum::Json(report))
}

/// `?name=true|false`, false when absent.
fn flag(query: &QueryParams, name: &str) -> ApiResult<bool> {
    match query.single(name)? {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::validation(ValidationError::new(
            name,
            format!("`{other}` is not true or false"),
        ))),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn documents(headers: &HeaderMap, text: &str) -> Result<Vec<Located>, manifest::ManifestError> {
    if !is_json(headers) {
        return manifest::read_files([(BODY_NAME, text)]);
    }
    let raw = source::parse(BODY_NAME, text, source::Format::Json)?;
    match raw.as_slice() {
        [single] if is_bundle(&single.value) => {
            let files = bundle_files(&single.value)?;
            manifest::read_files(files.iter().map(|(name, content)| (name.as_str(), *content)))
        }
        _ => raw.iter().map(manifest::document::read).collect(),
    }
}

/// `{"files": [...]}` without an `apiVersion`: named files, not a document.
fn is_bundle(value: &Value) -> bool {
    value.get("files").is_some() && value.get("apiVersion").is_none()
}

fn bundle_files(value: &Value) -> Result<Vec<(String, &str)>, manifest::ManifestError> {
    let bad = |field: String, message: &str| manifest::ManifestError {
        at: None,
        field: Some(field.clone()),
        message: message.to_owned(),
    };
    let Some(items) = value.get("files").and_then(Value::as_array) else {
        return Err(bad("files".into(), "must be a list of {name, content}"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let name = item.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
            let content = item.get("content").and_then(Value::as_str);
            match (name, content) {
                (Some(name), Some(content)) => Ok((name.to_owned(), content)),
                (None, _) => Err(bad(format!("files[{i}].name"), "must be a file name")),
                (_, None) => Err(bad(format!("files[{i}].content"), "must be the file's text")),
            }
        })
        .collect()
}

#[utoipa::path(get, path = "/export", tag = "files", params(("format" = Option<String>, Query, description = "`openslo` (default) or `checkstack`")), responses((status = 200, description = "Every named objective and its systems, as a YAML stream `POST /apply` reads back (empty when there is none)", content_type = "application/yaml", body = serde_json::Value)))]
pub async fn export(State(state): State<AppState>, query: QueryParams) -> ApiResult<Response> {
    query.only(&["format"])?;
    let format = match query.single("format")? {
        None => ExportFormat::OpenSlo,
        Some(raw) => ExportFormat::parse(raw).ok_or_else(|| {
            ApiError::validation(ValidationError::new(
                "format",
                format!("`{raw}` is not one of openslo, checkstack"),
            ))
        })?,
    };
    let yaml = service::export(&*state.store, format).await?;
    Ok(([(CONTENT_TYPE, "application/yaml; charset=utf-8")], yaml).into_response())
}
