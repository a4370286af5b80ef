//! The `POST /tokens` body (SPEC §16): `{name, scope}`.

use serde_json::Value;
use slod_core::model::ValidationError;

use super::fields::ObjectReader;
use super::FromJson;
use crate::service::tokens::{parse_scope, parse_token_name, NewToken};

/// `POST /tokens` body.
pub struct CreateTokenRequest(pub NewToken);

impl FromJson for CreateTokenRequest {
    fn from_json(value: &Value) -> Result<Self, ValidationError> {
        let mut body = ObjectReader::new(value, "")?;
        let name = parse_token_name(body.required("name", ObjectReader::string)?, "name")?;
        let scope = parse_scope(body.required("scope", ObjectReader::string)?, "scope")?;
        body.finish()?;
        Ok(Self(NewToken { name, scope }))
    }
}
