//! Request input shared by the HTTP API and the dashboard: typed, validated
//! request values parsed from JSON.
//!
//! Both front ends import this module and neither imports the other: the
//! API parses JSON bodies with it (through `api::extract::Json`), the
//! dashboard's editor turns its forms into the same JSON and parses them
//! with the same types, so a value one refuses the other refuses too, with
//! the same message.
//!
//! - [`FromJson`]: a request type parsed from a JSON value.
//! - [`fields`]: reading a JSON object field by field, naming bad fields.
//! - [`objectives`]: the `/objectives` create and update bodies.
//! - [`maintenance`]: the maintenance window create and update bodies.
//! - [`integrations`]: the payloads of Alertmanager, Uptime Kuma and Gatus
//!   (SPEC §13).
//! - [`tokens`]: the `/tokens` create body.

pub mod fields;
pub mod integrations;
pub mod maintenance;
pub mod objectives;
pub mod tokens;

use serde_json::Value;
use slod_core::model::ValidationError;

/// A request type parsed from a JSON value.
pub trait FromJson: Sized {
    fn from_json(value: &Value) -> Result<Self, ValidationError>;
}
