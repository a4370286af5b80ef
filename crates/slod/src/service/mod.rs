//! The operations slod offers, one function each.
//!
//! A service function is where storage meets the pure engine: it opens one
//! [`StoreTx`](slod_store::StoreTx), loads what the operation needs, calls
//! `slod_core` with an explicit `now`, writes the result and commits. Either
//! the whole change lands or nothing does (dropping an uncommitted
//! transaction rolls it back). The HTTP handlers and the demo seeder call
//! these same functions, so there is one code path per operation.
//!
//! Errors are [`ServiceError`]s, in the caller's terms; the API maps them to
//! status codes.

pub mod achievements;
pub mod alerts;
pub mod apply;
pub mod audit;
pub mod channels;
pub mod corrections;
pub mod effects;
pub mod egress;
pub mod health;
pub mod ingest;
pub mod jobs;
pub mod maintenance;
pub mod objectives;
pub mod reports;
pub mod status;
pub mod systems;
pub mod tokens;

use slod_core::model::{SystemId, ValidationError};
use slod_store::StoreError;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad input, naming the field.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Something named in the request does not exist. `field` names the body
    /// or query field that referred to it, when the reference was not the
    /// path.
    #[error("{message}")]
    NotFound { message: String, field: Option<String> },
    /// The request contradicts stored state (an out-of-order report, a
    /// dependency cycle).
    #[error("{message}")]
    Conflict { message: String, field: Option<String> },
    /// Anything else: a bug or an unavailable database. Never caused by
    /// input alone.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ServiceError {
    pub fn unknown_system(id: &SystemId, field: Option<String>) -> Self {
        Self::NotFound { message: format!("no system with id `{id}`"), field }
    }

    pub fn unknown_objective(id: &str) -> Self {
        Self::NotFound { message: format!("no objective with id `{id}`"), field: None }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => {
                Self::NotFound { message: "the resource does not exist".into(), field: None }
            }
            StoreError::Conflict(message) => Self::Conflict { message, field: None },
            StoreError::Other(err) => Self::Internal(err),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Generates ids for the events and objectives an operation creates.
fn id_generator() -> impl FnMut() -> String {
    || slod_store::new_id()
}
