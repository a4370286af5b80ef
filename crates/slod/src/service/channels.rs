//! Notification channels (SPEC §8): where events are delivered.
//!
//! A channel is a webhook, Slack or Teams URL, optionally a signing secret
//! (webhooks only: Slack and Teams do not verify signatures), and the event
//! types it wants (all when unset). The secret is stored because signing
//! needs it, and never served: responses say only whether there is one.
//! Slack and Teams URLs are credentials themselves (whoever knows one can
//! post to the channel), so responses show them redacted
//! ([`display_url`]), and nothing logs them.

use slod_core::events::EventType;
use slod_core::model::ValidationError;
use slod_core::time::Timestamp;
use slod_store::notify::{ChannelKind, ChannelRow, DeliveryRow};
use slod_store::Store;

use super::egress::{self, EgressPolicy};
use super::{ServiceError, ServiceResult};

/// The longest URL and secret accepted.
const MAX_URL_CHARS: usize = 2048;
const MAX_SECRET_CHARS: usize = 1024;

/// A validated `POST /channels`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewChannel {
    pub name: String,
    pub kind: ChannelKind,
    pub url: String,
    pub secret: Option<String>,
    pub events: Option<Vec<EventType>>,
}

/// A validated `PATCH /channels/{id}`: `None` leaves a field as it is;
/// `Some(None)` clears the secret, or subscribes to all events.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ChannelPatch {
    pub name: Option<String>,
    pub kind: Option<ChannelKind>,
    pub url: Option<String>,
    pub secret: Option<Option<String>>,
    pub events: Option<Option<Vec<EventType>>>,
}

/// An http(s) URL with a host, as the channel will call it.
pub fn parse_channel_url(raw: &str, field: &str) -> Result<String, ValidationError> {
    if raw.is_empty() || raw.chars().count() > MAX_URL_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {MAX_URL_CHARS} characters"),
        ));
    }
    if raw.trim() != raw {
        return Err(ValidationError::new(field, "must not start or end with whitespace"));
    }
    // The message never repeats the URL: it may be a credential.
    let url = reqwest::Url::parse(raw)
        .map_err(|err| ValidationError::new(field, format!("is not a valid URL ({err})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ValidationError::new(
            field,
            format!("must be an http:// or https:// URL, not {}://", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ValidationError::new(field, "must name a host"));
    }
    Ok(url.into())
}

/// A signing secret: 1 to 1024 characters, kept exactly as given.
pub fn parse_secret(raw: &str, field: &str) -> Result<String, ValidationError> {
    if raw.is_empty() || raw.chars().count() > MAX_SECRET_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {MAX_SECRET_CHARS} characters"),
        ));
    }
    Ok(raw.to_owned())
}

/// The URL as responses show it: scheme, host and port always; the path
/// only for webhooks (Slack's and Teams' paths are the credential); never
/// the user info or the query string.
pub fn display_url(kind: ChannelKind, raw: &str) -> String {
    let Ok(url) = reqwest::Url::parse(raw) else { return "<invalid>".to_owned() };
    let host = url.host_str().unwrap_or("");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let userinfo = if url.username().is_empty() && url.password().is_none() { "" } else { "***@" };
    let path = match kind {
        ChannelKind::Webhook => url.path().to_owned(),
        ChannelKind::Slack | ChannelKind::Teams => {
            if url.path() == "/" {
                "/".to_owned()
            } else {
                "/***".to_owned()
            }
        }
    };
    let query = if url.query().is_some() { "?***" } else { "" };
    format!("{}://{userinfo}{host}{port}{path}{query}", url.scheme())
}

fn check_secret_fits_kind(kind: ChannelKind, secret: &Option<String>) -> ServiceResult<()> {
    if kind != ChannelKind::Webhook && secret.is_some() {
        return Err(ValidationError::new(
            "secret",
            format!(
                "only webhook channels sign their requests; a {} channel cannot have a secret (send \"secret\": null to remove it)",
                kind.as_str()
            ),
        )
        .into());
    }
    Ok(())
}

fn unknown_channel(id: &str) -> ServiceError {
    ServiceError::NotFound { message: format!("no channel with id `{id}`"), field: None }
}

/// Creates a channel; its URL's host must be a target `egress` allows
/// (SPEC §16), as far as it resolves now (each send checks again).
pub async fn create_channel(
    store: &dyn Store,
    now: Timestamp,
    new: NewChannel,
    egress: EgressPolicy,
) -> ServiceResult<ChannelRow> {
    check_secret_fits_kind(new.kind, &new.secret)?;
    egress::check_url(&new.url, egress, "url").await?;
    let channel = ChannelRow {
        id: slod_store::new_id(),
        name: new.name,
        kind: new.kind,
        url: new.url,
        secret: new.secret,
        events: new.events,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin().await?;
    tx.insert_channel(&channel).await?;
    tx.commit().await?;
    tracing::info!(channel = %channel.id, kind = channel.kind.as_str(), "channel created");
    Ok(channel)
}

pub async fn update_channel(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    patch: ChannelPatch,
    egress: EgressPolicy,
) -> ServiceResult<ChannelRow> {
    if let Some(url) = &patch.url {
        egress::check_url(url, egress, "url").await?;
    }
    let Some(mut channel) = store.get_channel(id).await? else {
        return Err(unknown_channel(id));
    };
    if let Some(name) = patch.name {
        channel.name = name;
    }
    if let Some(kind) = patch.kind {
        channel.kind = kind;
    }
    if let Some(url) = patch.url {
        channel.url = url;
    }
    if let Some(secret) = patch.secret {
        channel.secret = secret;
    }
    if let Some(events) = patch.events {
        channel.events = events;
    }
    check_secret_fits_kind(channel.kind, &channel.secret)?;
    channel.updated_at = now;
    let mut tx = store.begin().await?;
    match tx.update_channel(&channel).await {
        Err(slod_store::StoreError::NotFound) => return Err(unknown_channel(id)),
        other => other?,
    }
    tx.commit().await?;
    Ok(channel)
}

/// Deletes a channel with its pending and past deliveries.
pub async fn delete_channel(store: &dyn Store, id: &str) -> ServiceResult<()> {
    let mut tx = store.begin().await?;
    if !tx.delete_channel(id).await? {
        return Err(unknown_channel(id));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get_channel(store: &dyn Store, id: &str) -> ServiceResult<ChannelRow> {
    store.get_channel(id).await?.ok_or_else(|| unknown_channel(id))
}

pub async fn list_channels(store: &dyn Store) -> ServiceResult<Vec<ChannelRow>> {
    Ok(store.list_channels().await?)
}

/// The channel's latest deliveries with their attempts, newest first.
pub async fn list_deliveries(
    store: &dyn Store,
    id: &str,
    limit: u32,
) -> ServiceResult<Vec<DeliveryRow>> {
    get_channel(store, id).await?;
    Ok(store.list_deliveries(id, limit).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert_eq!(
            parse_channel_url("https://hooks.example.com/x?a=1", "url").unwrap(),
            "https://hooks.example.com/x?a=1"
        );
        assert!(parse_channel_url("http://127.0.0.1:9000/", "url").is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com",
            "https://",
            "",
            " https://a.b/",
            "file:///etc/passwd",
            "mailto:a@b.c",
        ] {
            let err = parse_channel_url(bad, "url").unwrap_err();
            assert_eq!(err.field, "url", "{bad}");
        }
        assert!(parse_channel_url(&format!("https://a.b/{}", "x".repeat(2100)), "url").is_err());
    }

    #[test]
    fn displayed_urls_hide_credentials() {
        let slack = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        assert_eq!(display_url(ChannelKind::Slack, slack), "https://hooks.slack.com/***");
        assert_eq!(
            display_url(ChannelKind::Webhook, "https://user:pw@example.com:8443/hook?token=abc"),
            "https://***@example.com:8443/hook?***"
        );
        assert_eq!(
            display_url(ChannelKind::Teams, "https://x.webhook.office.com/webhookb2/abc@def"),
            "https://x.webhook.office.com/***"
        );
    }
}
