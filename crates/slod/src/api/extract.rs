//! Extractors whose rejections come back in our error format.
//!
//! axum's own `Json`, `Path` and `Query` reject with plain-text bodies; these
//! wrappers answer with [`ApiError`] instead:
//!
//! - [`Json<T>`]: requires `Content-Type: application/json` (415), at most
//!   [`MAX_BODY_BYTES`] (413), valid JSON (400 `invalid_request`), then
//!   parses `T` with [`FromJson`] (from [`crate::input`]), naming the bad field (400
//!   `validation_failed`).
//! - [`PathId`]: the `{id}` path segment, percent-decoded; [`PathIds`]: two.
//! - [`QueryParams`]: the query string as ordered pairs, so repeated keys
//!   (`?systemId=a&systemId=b`) survive, with the checks every route uses
//!   (unknown keys, single values, `?limit=`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use slod_core::model::ValidationError;

use super::error::ApiError;
use crate::input::FromJson;

/// The largest request body slod reads (SPEC §9: 413 above it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body parsed into the validated request type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: FromJson,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(MAX_BODY_BYTES)
            } else {
                ApiError::invalid_request(format!("could not read the request body: {rejection}"))
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|err| {
            ApiError::invalid_request(format!("the body is not valid JSON: {err}"))
        })?;
        T::from_json(&value).map(Json).map_err(ApiError::validation)
    }
}

fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "expected Content-Type: application/json, got {}",
            if content_type.is_empty() { "none" } else { content_type }
        )))
    }
}

/// The single `{id}` segment of the path.
#[derive(Debug)]
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state).await.map(|Path(id)| PathId(id)).map_err(
            |rejection| ApiError::invalid_request(format!("bad path: {}", rejection.body_text())),
        )
    }
}

/// The two segments of a path like `/systems/{id}/checks/{checkId}`, in
/// order, percent-decoded.
#[derive(Debug)]
pub struct PathIds(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((first, second))| PathIds(first, second))
            .map_err(|rejection| {
                ApiError::invalid_request(format!("bad path: {}", rejection.body_text()))
            })
    }
}

/// The query string as decoded `(key, value)` pairs, in order.
#[derive(Debug, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl QueryParams {
    /// Refuses parameters the route does not know, by name.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(key, _)| !allowed.contains(&key.as_str())) {
            Some((key, _)) => Err(ApiError::validation(ValidationError::new(
                key.clone(),
                format!("is not a known query parameter here (known: {})", allowed.join(", ")),
            ))),
            None => Ok(()),
        }
    }

    /// The value of a parameter given at most once.
    pub fn single<'a>(&'a self, key: &'a str) -> Result<Option<&'a str>, ApiError> {
        let mut values = self.all(key);
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::validation(ValidationError::new(
                key,
                "must be given at most once",
            )));
        }
        Ok(first)
    }

    /// `?limit=`: `default` when absent, else a whole number from 1 to
    /// `max`. One parser for every paged list route; each passes its own
    /// bounds.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.single("limit")? {
            None => Ok(default),
            Some(raw) => {
                raw.parse::<u32>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                    ApiError::validation(ValidationError::new(
                        "limit",
                        format!("must be a whole number from 1 to {max}"),
                    ))
                })
            }
        }
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_request("bad query string"))?;
        let Some(raw) = raw else { return Ok(Self::default()) };
        serde_urlencoded::from_str::<Vec<(String, String)>>(&raw)
            .map(QueryParams)
            .map_err(|err| ApiError::invalid_request(format!("bad query string: {err}")))
    }
}
