//! The API's OpenAPI 3.1 document (SPEC §15), generated from the code by
//! `utoipa`: each handler carries its `#[utoipa::path]` (method, path,
//! parameters, body, responses), each response type derives `ToSchema`,
//! and [`ApiDoc`] lists them. [`crate::app`] nests it under `/api/v1` next
//! to its own routes (`/metrics`, the probes) and serves the whole at
//! `GET /api/v1/openapi.json`.
//!
//! Request bodies are read by hand-written parsers (`crate::input`, the
//! `FromJson` impls), not by serde, so their schemas are the types below,
//! written to match those parsers field for field. Every error answer is
//! the SPEC §9 shape, [`ErrorBody`](super::error::ErrorBody); [`ErrorShapes`]
//! adds it to every operation: 400, 404 where a path names something, 409
//! where a write may conflict, 413 and 415 where there is a body, and a
//! `default` for what any route may answer (405, 500, 503).

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::error::ErrorBody;
use super::{
    achievements, channels, corrections, files, health, integrations, jobs, maintenance,
    objectives, reports, stream, systems, tokens,
};

/// The routes under `/api/v1`, with their schemas.
#[derive(OpenApi)]
#[openapi(
    paths(
        systems::list,
        systems::get,
        systems::put,
        systems::delete,
        systems::get_dependencies,
        systems::put_dependencies,
        systems::forget_check,
        objectives::list_for_system,
        health::post,
        objectives::list,
        objectives::create,
        objectives::get,
        objectives::update,
        objectives::delete,
        objectives::events,
        jobs::snapshots,
        jobs::streaks,
        jobs::digests,
        jobs::run_daily,
        jobs::run_weekly_digest,
        jobs::run_monthly_report,
        jobs::runs,
        achievements::definitions,
        achievements::for_system,
        achievements::milestones,
        channels::list,
        channels::create,
        channels::get,
        channels::update,
        channels::delete,
        channels::test,
        channels::deliveries,
        stream::stream,
        maintenance::list,
        maintenance::create,
        maintenance::get,
        maintenance::update,
        maintenance::delete,
        tokens::list,
        tokens::create,
        tokens::revoke,
        integrations::alertmanager,
        integrations::uptime_kuma,
        integrations::gatus,
        corrections::create,
        corrections::list,
        corrections::revoke,
        reports::sla,
        files::apply,
        files::export,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "systems", description = "Monitored systems and their dependencies (SPEC §2)"),
        (name = "health", description = "Health reports (SPEC §3)"),
        (name = "objectives", description = "Objectives and their status (SPEC §2, §4)"),
        (name = "jobs", description = "The daily job, the weekly digest, streaks and snapshots (SPEC §5, §6)"),
        (name = "achievements", description = "Achievements and milestones (SPEC §7)"),
        (name = "notifications", description = "Notification channels and the live event stream (SPEC §8)"),
        (name = "maintenance", description = "Maintenance windows (SPEC §12)"),
        (name = "integrations", description = "Ingest from Alertmanager, Uptime Kuma and Gatus (SPEC §13)"),
        (name = "access", description = "API tokens (SPEC §16)"),
        (name = "files", description = "SLOs as files: apply and export (SPEC §14)"),
        (name = "corrections", description = "Corrections of the recorded timeline (SPEC §17)"),
        (name = "reports", description = "SLA statements (SPEC §17)"),
    )
)]
pub struct ApiDoc;

/// Adds the SPEC §9 error answers to every operation of the whole document
/// (see the module doc), and names each operation after its method and
/// path. [`crate::app`] applies it once the API is nested.
pub struct ErrorShapes;

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
        )
        .build()
}

impl Modify for ErrorShapes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names_something = path.contains('{');
            for (method, operation, writes) in operations(item) {
                // Handlers share names across modules (`list`, `get`): name
                // operations by method and path instead, e.g.
                // `get_systems_id_dependencies`.
                let words: Vec<&str> = path
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                operation.operation_id = Some(format!("{method}_{}", words.join("_")));
                let has_body = operation.request_body.is_some();
                let mut add = |code: &str, description: &str| {
                    operation
                        .responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| error_response(description).into());
                };
                add(
                    "400",
                    "Bad input: the query, a path segment or a body field, named in `field`",
                );
                if names_something {
                    add("404", "No such resource");
                }
                if writes {
                    add("409", "Conflicts with the current state");
                }
                if has_body {
                    add("413", "The body is larger than 1 MiB");
                    add("415", "The body is not JSON");
                }
                add("default", "Any other error (405, 500, 503), in the same shape");
            }
        }
    }
}

/// The operations of a path item, each with its method and whether it
/// writes.
fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation, bool)> {
    [
        ("get", item.get.as_mut(), false),
        ("put", item.put.as_mut(), true),
        ("post", item.post.as_mut(), true),
        ("patch", item.patch.as_mut(), true),
        ("delete", item.delete.as_mut(), true),
    ]
    .into_iter()
    .filter_map(|(method, operation, writes)| operation.map(|op| (method, op, writes)))
    .collect()
}

// ---- Request bodies, as the parsers read them ----

/// `PUT /systems/{id}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PutSystemBody {
    /// Trimmed; 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
}

/// `PUT /systems/{id}/dependencies`: the system's upstreams, replacing the
/// current ones (each must exist; no cycle).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PutDependenciesBody {
    upstream_ids: Vec<String>,
}

/// The health a report states.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ReportedStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

/// Where a report comes from.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ReportSourceBody {
    Healthcheck,
    Incident,
}

/// One health report (SPEC §3).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct HealthReportBody {
    system_id: String,
    status: ReportedStatus,
    /// When the status was observed; default now; at most 5 minutes ahead.
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<String>,
    /// Default `healthcheck`.
    source: Option<ReportSourceBody>,
    /// Create the system if it does not exist, instead of refusing the
    /// report.
    create_system: Option<bool>,
    /// The name of a system created by `createSystem` (default: its id).
    #[schema(min_length = 1, max_length = 200)]
    system_name: Option<String>,
}

/// Several reports, applied in one transaction in `at` order, or refused
/// whole.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HealthBatchBody {
    #[schema(min_items = 1)]
    reports: Vec<HealthReportBody>,
}

/// `POST /health`: one report, or `{reports: [...]}`.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum HealthBody {
    #[schema(title = "one report")]
    One(HealthReportBody),
    #[schema(title = "a batch")]
    Batch(HealthBatchBody),
}

/// How upstream downtime is charged.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum DependencyExclusionBody {
    #[schema(rename = "strict")]
    Strict,
    #[schema(rename = "self-only")]
    SelfOnly,
}

/// `burnRateThresholds`: fields left out keep their current (or default)
/// value.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct BurnRateThresholdsBody {
    warning_percent: Option<f64>,
    critical_percent: Option<f64>,
    fast_burn_multiplier: Option<f64>,
}

/// `POST /objectives`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CreateObjectiveBody {
    system_id: String,
    /// Percent, 0 to 100.
    target: f64,
    /// A rolling window, 1 to 3650 days. Give this or `calendar`, not both.
    #[schema(minimum = 1, maximum = 3650)]
    window_days: Option<u32>,
    /// A calendar window (SPEC §17): the week (from Monday), month, quarter
    /// or year containing T in an IANA time zone. Give this or `windowDays`.
    calendar: Option<slod_core::window::Calendar>,
    #[schema(min_length = 1, max_length = 200)]
    health_check_configuration_id: Option<String>,
    /// Default `strict`.
    dependency_exclusion: Option<DependencyExclusionBody>,
    excluded_dependency_ids: Option<Vec<String>>,
    exclude_maintenance_windows: Option<bool>,
    burn_rate_thresholds: Option<BurnRateThresholdsBody>,
    /// Backdates the objective (not in the future); default now.
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<String>,
}

/// `PATCH /objectives/{id}`: the fields to change (`id` and `systemId`
/// cannot be).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UpdateObjectiveBody {
    target: Option<f64>,
    /// Makes the window rolling (replacing a calendar one).
    #[schema(minimum = 1, maximum = 3650)]
    window_days: Option<u32>,
    /// Makes the window a calendar one (replacing `windowDays`); not
    /// together with `windowDays`.
    calendar: Option<slod_core::window::Calendar>,
    /// `null` clears it.
    #[schema(min_length = 1, max_length = 200)]
    health_check_configuration_id: Option<String>,
    dependency_exclusion: Option<DependencyExclusionBody>,
    excluded_dependency_ids: Option<Vec<String>>,
    exclude_maintenance_windows: Option<bool>,
    burn_rate_thresholds: Option<BurnRateThresholdsBody>,
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<String>,
}

/// Where a channel sends.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ChannelKindBody {
    Webhook,
    Slack,
    Teams,
}

/// `POST /channels`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateChannelBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    kind: ChannelKindBody,
    /// `http(s)://…`; Slack and Teams URLs must be theirs.
    url: String,
    /// The webhook signing key (HMAC-SHA256); `null` for none.
    secret: Option<String>,
    /// The event types it receives; `null` or absent for all of them.
    #[schema(value_type = Option<Vec<slod_core::events::EventType>>, min_items = 1)]
    events: Option<Vec<String>>,
}

/// `PATCH /channels/{id}`: the fields to change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpdateChannelBody {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    kind: Option<ChannelKindBody>,
    url: Option<String>,
    secret: Option<String>,
    #[schema(value_type = Option<Vec<slod_core::events::EventType>>, min_items = 1)]
    events: Option<Vec<String>>,
}

/// `POST /systems/{id}/maintenance-windows`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateMaintenanceBody {
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[schema(value_type = String, format = DateTime)]
    start: String,
    /// After `start`, at most 31 days later.
    #[schema(value_type = String, format = DateTime)]
    end: String,
    /// An RRULE (`FREQ=DAILY` or `FREQ=WEEKLY`, with `INTERVAL`, `BYDAY`,
    /// `COUNT`, `UNTIL`); `null` for a one-off window.
    recurrence: Option<String>,
}

/// `PATCH /maintenance-windows/{id}`: the fields to change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpdateMaintenanceBody {
    #[schema(min_length = 1, max_length = 200)]
    title: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    start: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    end: Option<String>,
    /// `null` makes the window one-off.
    recurrence: Option<String>,
    cancelled: Option<bool>,
}

/// `POST /tokens`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateTokenBody {
    #[schema(min_length = 1)]
    name: String,
    /// `read`, `ingest` or `manage`.
    scope: String,
}

/// What a correction says its interval was.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum CorrectionKindBody {
    FalsePositive,
    Maintenance,
    Upstream,
}

/// `POST /systems/{id}/corrections`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CreateCorrectionBody {
    #[schema(value_type = String, format = DateTime)]
    start: String,
    /// After `start`; not in the future.
    #[schema(value_type = String, format = DateTime)]
    end: String,
    kind: CorrectionKindBody,
    /// Required when `kind` is `upstream`: the upstream system to charge.
    upstream_system_id: Option<String>,
    /// 1 to 500 characters after trimming.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// One named file of an `{"files": [...]}` bundle.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ApplyFileBody {
    #[schema(min_length = 1)]
    name: String,
    /// The file's text (YAML).
    content: String,
}

/// `POST /apply` with a JSON content type: whole files with their names,
/// one OpenSLO or checkstack document, or a list of them.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ApplyJsonBody {
    #[schema(title = "named files")]
    Files { files: Vec<ApplyFileBody> },
    #[schema(title = "one document")]
    Document(serde_json::Value),
    #[schema(title = "a list of documents")]
    Documents(Vec<serde_json::Value>),
}
