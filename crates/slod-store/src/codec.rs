//! The row codec both SQL backends share: the column lists their queries
//! splice in, and the conversion of one row's raw column values into the
//! domain types.
//!
//! A backend keeps its own SQL (the dialects really differ) and its own
//! `try_get` calls: it reads each column as a plain Rust value (`i64`,
//! `String`, `Option<…>`, `f64`, `bool`, JSON as text), fills in one of the
//! `…Fields` structs below in the column order of the matching `…_COLUMNS`
//! list, and calls `decode`. Every check lives here, once:
//!
//! - integers are narrowed with `try_from`, never `as`: a stored value out
//!   of range is corruption and comes back as [`StoreError::Other`] naming
//!   the column, not as a silently truncated number;
//! - enum text is parsed with the domain type's `parse`; unknown text is an
//!   error naming the column and the value;
//! - JSON text is parsed with `serde_json`, an error naming the column.
//!
//! Where the backends store one thing differently (a list as a PostgreSQL
//! array or as SQLite comma-separated text; a flag as `BOOLEAN` or as an
//! integer), the backend converts to the plain form the struct asks for
//! (`Vec<String>`, `bool`), with [`split_list`] for the comma-separated
//! form.

use anyhow::anyhow;
use slod_core::achievements::AchievementType;
use slod_core::burn_alerts::BurnRateAlerts;
use slod_core::corrections::{Correction, CorrectionKind};
use slod_core::digest::WeeklyDigest;
use slod_core::engine::{CheckState, SystemState};
use slod_core::events::{EventType, NotificationEvent};
use slod_core::model::{
    Attribution, BurnRateThresholds, CheckId, DependencyExclusion, DowntimeEvent, HealthStatus,
    Objective, ObjectiveId, ObjectiveName, ReportSource, System, SystemId, Target, WindowDays,
};
use slod_core::streak::{Snapshot, SnapshotValues, Streak};
use slod_core::time::Timestamp;
use slod_core::window::{Calendar, Window};

use crate::corrections::CorrectionRow;
use crate::jobs::{
    AchievementRow, DigestRow, JobKind, JobRunRow, JobRunStatus, MilestoneRow, StreakRow,
};
use crate::maintenance::MaintenanceWindowRow;
use crate::notify::{
    AttemptRow, ChannelKind, ChannelRow, ClaimedDelivery, DeliveryRow, DeliveryState,
};
use crate::{StoreError, StoreResult, SystemRow};

/// `systems`, decoded by [`SystemFields`].
pub const SYSTEM_COLUMNS: &str = "id, name, created_at, healthcheck_status, incident_status, \
                                  down_since, down_source, last_report_at, unnamed_report_at, \
                                  last_transition_at";
/// `health_reports` (the log), decoded by [`TransitionFields`].
pub const TRANSITION_COLUMNS: &str = "system_id, source, check_id, status, at";
/// `system_outages`, read as `(system_id, start_time, end_time)`.
pub const OUTAGE_COLUMNS: &str = "system_id, start_time, end_time";
/// `system_checks`, decoded by [`CheckFields`].
pub const CHECK_COLUMNS: &str = "system_id, check_id, status, at, down_since";
/// `slo_objectives`, decoded by [`ObjectiveFields`].
pub const OBJECTIVE_COLUMNS: &str = "id, system_id, health_check_configuration_id, target, \
                                     window_days, dependency_exclusion, excluded_dependency_ids, \
                                     exclude_maintenance_windows, warning_percent, \
                                     critical_percent, fast_burn_multiplier, created_at, \
                                     updated_at, burn_rate_alerts, name, calendar_unit, \
                                     calendar_time_zone";
/// Columns in [`OBJECTIVE_COLUMNS`].
pub const OBJECTIVE_WIDTH: usize = 17;
/// `slo_downtime_events`, decoded by [`DowntimeFields`].
pub const EVENT_COLUMNS: &str = "id, objective_id, system_id, start_time, end_time, \
                                 attribution_type, upstream_system_id, upstream_system_name, \
                                 source";
/// Columns in [`EVENT_COLUMNS`].
pub const EVENT_WIDTH: usize = 9;
/// `outbox_events`, decoded by [`OutboxFields`].
pub const OUTBOX_COLUMNS: &str = "seq, id, event_type, occurred_at, data";
/// `slo_streaks s JOIN slo_objectives o`, decoded by [`StreakFields`].
pub const STREAK_COLUMNS: &str = "s.objective_id, o.system_id, s.current_streak, s.best_streak, \
                                  s.streak_start, s.best_streak_end, s.last_run_date";
/// `job_runs`, decoded by [`RunFields`].
pub const RUN_COLUMNS: &str = "kind, period, period_start, status, lease_owner, \
                               lease_expires_at, started_at, completed_at, result";
/// `slo_daily_snapshots`, decoded by [`SnapshotFields`].
pub const SNAPSHOT_COLUMNS: &str = "objective_id, date, availability_percent, \
                                    budget_consumed_minutes, budget_remaining_percent, \
                                    burn_rate, streak_days";
/// `slo_daily_snapshots` as read: [`SNAPSHOT_COLUMNS`] then whether the
/// snapshot was recomputed and its original values (SPEC §17), decoded by
/// [`SnapshotFields`] with [`OriginalFields`].
pub const SNAPSHOT_READ_COLUMNS: &str = "objective_id, date, availability_percent, \
                                         budget_consumed_minutes, budget_remaining_percent, \
                                         burn_rate, streak_days, recomputed, \
                                         original_availability_percent, \
                                         original_budget_consumed_minutes, \
                                         original_budget_remaining_percent, \
                                         original_burn_rate, original_streak_days";
/// `corrections c LEFT JOIN systems u` (the upstream's name last), decoded
/// by [`CorrectionFields`].
pub const CORRECTION_COLUMNS: &str = "c.id, c.system_id, c.start_ms, c.end_ms, c.kind, \
                                      c.upstream_system_id, c.reason, c.author, c.created_at, \
                                      c.revoked_at, c.revoked_by, u.name";
/// `slo_digests` (reads), decoded by [`DigestFields`].
pub const DIGEST_COLUMNS: &str = "id, manual, created_at, payload";
/// `slo_achievements`, decoded by [`AchievementFields`].
pub const ACHIEVEMENT_COLUMNS: &str = "system_id, achievement, unlocked_at";
/// `notify_channels`, decoded by [`ChannelFields`].
pub const CHANNEL_COLUMNS: &str = "id, name, kind, url, secret, events, created_at, updated_at";
/// `maintenance_windows`, decoded by [`MaintenanceFields`].
pub const MAINTENANCE_COLUMNS: &str =
    "id, system_id, title, start_ms, end_ms, recurrence, cancelled, created_at, updated_at";
/// `notify_attempts` (reads), decoded by [`AttemptFields`].
pub const ATTEMPT_COLUMNS: &str =
    "delivery_id, attempt, started_at, finished_at, status_code, error, delivered";

/// `api_tokens`, decoded by [`TokenFields`].
pub const TOKEN_COLUMNS: &str =
    "id, name, scope, secret_hash, created_at, last_used_at, revoked_at";
/// `sessions`, decoded by [`SessionFields`].
pub const SESSION_COLUMNS: &str = "id_hash, token_id, created_at, expires_at";

/// `columns` with every name qualified by the table alias `alias`
/// (`"o"`: `"o.id, o.system_id, …"`).
pub fn qualified(alias: &str, columns: &str) -> String {
    columns.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

/// A stored value that is not valid for its column.
pub fn corrupt(column: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow!("stored {column} `{value}` is not valid"))
}

/// A stored integer narrowed to `T`; out of range is corruption of `column`.
pub fn narrow<T: TryFrom<i64>>(column: &str, raw: i64) -> StoreResult<T> {
    T::try_from(raw).map_err(|_| corrupt(column, raw))
}

/// A `u32` count or number stored as an integer.
pub fn to_u32(column: &str, raw: i64) -> StoreResult<u32> {
    narrow(column, raw)
}

/// Milliseconds since the epoch.
pub fn millis(raw: i64) -> Timestamp {
    Timestamp::from_millis(raw)
}

/// Optional milliseconds since the epoch.
pub fn opt_millis(raw: Option<i64>) -> Option<Timestamp> {
    raw.map(Timestamp::from_millis)
}

/// Parses enum text with `parse`; unknown text is corruption of `column`.
pub fn parse_enum<T>(
    column: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> StoreResult<T> {
    parse(raw).ok_or_else(|| corrupt(column, raw))
}

/// Parses JSON text stored in `column`.
pub fn parse_json<T: for<'de> serde::Deserialize<'de>>(column: &str, raw: &str) -> StoreResult<T> {
    serde_json::from_str(raw)
        .map_err(|err| StoreError::Other(anyhow!("stored {column} is not valid JSON: {err}")))
}

/// The items of a list stored as comma-separated text (empty items, as in
/// `""`, are skipped).
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A list as comma-separated text, [`split_list`]'s inverse.
pub fn join_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

/// The `(upstream_system_id, upstream_system_name)` columns of an
/// attribution (its `attribution_type` is [`Attribution::type_str`]).
pub fn upstream_columns(attribution: &Attribution) -> (Option<&str>, Option<&str>) {
    match attribution {
        Attribution::SelfCaused => (None, None),
        Attribution::Upstream { system_id, system_name } => {
            (Some(system_id.as_str()), Some(system_name.as_str()))
        }
    }
}

fn status(column: &str, raw: &str) -> StoreResult<HealthStatus> {
    parse_enum(column, raw, HealthStatus::parse)
}

fn event_type(column: &str, raw: &str) -> StoreResult<EventType> {
    parse_enum(column, raw, EventType::parse)
}

fn achievement(raw: &str) -> StoreResult<AchievementType> {
    parse_enum("achievement", raw, AchievementType::parse)
}

/// A row of [`SYSTEM_COLUMNS`].
#[derive(Debug, Clone)]
pub struct SystemFields {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub healthcheck_status: String,
    pub incident_status: String,
    pub down_since: Option<i64>,
    pub down_source: Option<String>,
    pub last_report_at: Option<i64>,
    pub unnamed_report_at: Option<i64>,
    pub last_transition_at: Option<i64>,
}

impl SystemFields {
    /// The engine's view of the system, with its creation time.
    pub fn decode(self) -> StoreResult<(SystemState, Timestamp)> {
        let state = SystemState {
            id: SystemId::from_trusted(self.id),
            name: self.name,
            healthcheck: status("healthcheck_status", &self.healthcheck_status)?,
            incident: status("incident_status", &self.incident_status)?,
            down_since: opt_millis(self.down_since),
            down_source: self
                .down_source
                .map(|s| parse_enum("down_source", &s, ReportSource::parse))
                .transpose()?,
            last_report_at: opt_millis(self.last_report_at),
            unnamed_report_at: opt_millis(self.unnamed_report_at),
            last_transition_at: opt_millis(self.last_transition_at),
            // Loaded apart, from `system_checks` ([`CheckFields`]).
            checks: Default::default(),
        };
        Ok((state, millis(self.created_at)))
    }

    /// The system with its live health.
    pub fn decode_row(self) -> StoreResult<SystemRow> {
        let (state, created_at) = self.decode()?;
        Ok(SystemRow {
            effective_status: state.effective(),
            down_since: state.down_since,
            last_report_at: state.last_report_at,
            system: System { id: state.id, name: state.name, created_at },
        })
    }
}

/// A row of [`CHECK_COLUMNS`].
#[derive(Debug, Clone)]
pub struct CheckFields {
    pub system_id: String,
    pub check_id: String,
    pub status: String,
    pub at: i64,
    pub down_since: Option<i64>,
}

impl CheckFields {
    pub fn decode(self) -> StoreResult<(SystemId, CheckId, CheckState)> {
        Ok((
            SystemId::from_trusted(self.system_id),
            CheckId::from_trusted(self.check_id),
            CheckState {
                status: status("system_checks.status", &self.status)?,
                at: millis(self.at),
                down_since: opt_millis(self.down_since),
            },
        ))
    }
}

/// A row of [`TRANSITION_COLUMNS`].
#[derive(Debug, Clone)]
pub struct TransitionFields {
    pub system_id: String,
    pub source: String,
    pub check_id: String,
    pub status: String,
    pub at: i64,
}

impl TransitionFields {
    pub fn decode(self) -> StoreResult<slod_core::engine::HealthTransition> {
        Ok(slod_core::engine::HealthTransition {
            system_id: SystemId::from_trusted(self.system_id),
            source: parse_enum("health_reports.source", &self.source, ReportSource::parse)?,
            check_id: CheckId::from_trusted(self.check_id),
            status: status("health_reports.status", &self.status)?,
            at: millis(self.at),
        })
    }
}

/// The checks a store loads with the systems of a report batch: those not
/// healthy (so a system's probe status is the worst of what is loaded) and
/// those the reports name, healthy or not (for their ordering marks). The
/// names as a list for `check_id IN (…)`; `""` stands for reports naming
/// none.
pub fn checks_named_by(reports: &[slod_core::engine::HealthReport]) -> Vec<String> {
    let names: std::collections::BTreeSet<String> = reports
        .iter()
        .filter(|r| r.source == ReportSource::Healthcheck)
        .map(|r| r.check_id.as_ref().map_or_else(String::new, |c| c.as_str().to_owned()))
        .collect();
    names.into_iter().collect()
}

/// Adds decoded check rows to the loaded system states they belong to.
pub fn attach_checks(
    states: &mut std::collections::BTreeMap<SystemId, SystemState>,
    checks: Vec<(SystemId, CheckId, CheckState)>,
) {
    for (system, check, state) in checks {
        if let Some(system) = states.get_mut(&system) {
            system.checks.insert(check, state);
        }
    }
}

/// A system from `id, name, created_at`.
pub fn system(id: String, name: String, created_at: i64) -> System {
    System { id: SystemId::from_trusted(id), name, created_at: millis(created_at) }
}

/// A row of [`OBJECTIVE_COLUMNS`].
#[derive(Debug, Clone)]
pub struct ObjectiveFields {
    pub id: String,
    pub system_id: String,
    pub health_check_configuration_id: Option<String>,
    pub target: f64,
    pub window_days: i64,
    pub dependency_exclusion: String,
    pub excluded_dependency_ids: Vec<String>,
    pub exclude_maintenance_windows: bool,
    pub warning_percent: f64,
    pub critical_percent: f64,
    pub fast_burn_multiplier: f64,
    pub created_at: i64,
    pub updated_at: i64,
    /// JSON text: the tier list (SPEC §12).
    pub burn_rate_alerts: String,
    pub name: Option<String>,
    /// Both set for a calendar objective (whose `window_days` is 0), both
    /// NULL for a rolling one (SPEC §17).
    pub calendar_unit: Option<String>,
    pub calendar_time_zone: Option<String>,
}

/// `burn_rate_alerts` as stored: the JSON array the API serves.
pub fn encode_burn_rate_alerts(alerts: &BurnRateAlerts) -> StoreResult<String> {
    serde_json::to_string(alerts)
        .map_err(|err| StoreError::Other(anyhow!("encoding burn_rate_alerts: {err}")))
}

/// The window as stored: `(window_days, calendar_unit, calendar_time_zone)`,
/// `window_days` being 0 for a calendar objective.
pub fn window_columns(window: &Window) -> (i64, Option<&'static str>, Option<&'static str>) {
    match window {
        Window::Rolling(days) => (i64::from(days.get()), None, None),
        Window::Calendar(c) => (0, Some(c.unit.as_str()), Some(c.time_zone.name())),
    }
}

impl ObjectiveFields {
    fn window(&self) -> StoreResult<Window> {
        match (&self.calendar_unit, &self.calendar_time_zone) {
            (None, None) => WindowDays::parse(self.window_days)
                .map(Window::Rolling)
                .map_err(|_| corrupt("window_days", self.window_days)),
            (Some(unit), Some(zone)) if self.window_days == 0 => Calendar::parse(unit, zone)
                .map(Window::Calendar)
                .map_err(|_| corrupt("calendar_unit/calendar_time_zone", format!("{unit}/{zone}"))),
            _ => Err(corrupt(
                "calendar_unit/calendar_time_zone",
                format!(
                    "{:?}/{:?} with window_days {}",
                    self.calendar_unit, self.calendar_time_zone, self.window_days
                ),
            )),
        }
    }

    pub fn decode(self) -> StoreResult<Objective> {
        let window = self.window()?;
        let name = match self.name {
            None => None,
            Some(raw) => {
                Some(ObjectiveName::parse(&raw, "name").map_err(|_| corrupt("name", &raw))?)
            }
        };
        Ok(Objective {
            id: ObjectiveId::from_trusted(self.id),
            name,
            system_id: SystemId::from_trusted(self.system_id),
            health_check_configuration_id: self.health_check_configuration_id,
            target: Target::parse(self.target).map_err(|_| corrupt("target", self.target))?,
            window,
            dependency_exclusion: parse_enum(
                "dependency_exclusion",
                &self.dependency_exclusion,
                DependencyExclusion::parse,
            )?,
            excluded_dependency_ids: self
                .excluded_dependency_ids
                .into_iter()
                .map(SystemId::from_trusted)
                .collect(),
            exclude_maintenance_windows: self.exclude_maintenance_windows,
            burn_rate_thresholds: BurnRateThresholds {
                warning_percent: self.warning_percent,
                critical_percent: self.critical_percent,
                fast_burn_multiplier: self.fast_burn_multiplier,
            },
            burn_rate_alerts: parse_json("burn_rate_alerts", &self.burn_rate_alerts)?,
            created_at: millis(self.created_at),
            updated_at: millis(self.updated_at),
        })
    }
}

/// A row of [`EVENT_COLUMNS`].
#[derive(Debug, Clone)]
pub struct DowntimeFields {
    pub id: String,
    pub objective_id: String,
    pub system_id: String,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub attribution_type: String,
    pub upstream_system_id: Option<String>,
    pub upstream_system_name: Option<String>,
    pub source: String,
}

impl DowntimeFields {
    pub fn decode(self) -> StoreResult<DowntimeEvent> {
        let attribution = match (self.attribution_type.as_str(), self.upstream_system_id) {
            ("self", _) => Attribution::SelfCaused,
            ("upstream", Some(id)) => Attribution::Upstream {
                system_name: self.upstream_system_name.unwrap_or_else(|| id.clone()),
                system_id: SystemId::from_trusted(id),
            },
            (other, _) => return Err(corrupt("attribution_type", other)),
        };
        Ok(DowntimeEvent {
            id: self.id,
            objective_id: ObjectiveId::from_trusted(self.objective_id),
            system_id: SystemId::from_trusted(self.system_id),
            start_time: millis(self.start_time),
            end_time: opt_millis(self.end_time),
            attribution,
            source: parse_enum("source", &self.source, ReportSource::parse)?,
        })
    }
}

/// An outbox event: `id, event_type, occurred_at, data` of
/// [`OUTBOX_COLUMNS`].
#[derive(Debug, Clone)]
pub struct NotificationFields {
    pub id: String,
    pub event_type: String,
    pub occurred_at: i64,
    /// JSON text.
    pub data: String,
}

impl NotificationFields {
    pub fn decode(self) -> StoreResult<NotificationEvent> {
        Ok(NotificationEvent {
            id: self.id,
            event_type: event_type("event_type", &self.event_type)?,
            occurred_at: millis(self.occurred_at),
            data: parse_json("data", &self.data)?,
        })
    }
}

/// A row of [`OUTBOX_COLUMNS`].
#[derive(Debug, Clone)]
pub struct OutboxFields {
    pub seq: i64,
    pub event: NotificationFields,
}

impl OutboxFields {
    /// The event with its sequence number.
    pub fn decode(self) -> StoreResult<(i64, NotificationEvent)> {
        Ok((self.seq, self.event.decode()?))
    }
}

/// A row of [`STREAK_COLUMNS`].
#[derive(Debug, Clone)]
pub struct StreakFields {
    pub objective_id: String,
    pub system_id: String,
    pub current_streak: i64,
    pub best_streak: i64,
    pub streak_start: Option<i64>,
    pub best_streak_end: Option<i64>,
    pub last_run_date: Option<i64>,
}

impl StreakFields {
    pub fn decode(self) -> StoreResult<StreakRow> {
        Ok(StreakRow {
            objective_id: self.objective_id,
            system_id: SystemId::from_trusted(self.system_id),
            streak: Streak {
                current_streak: to_u32("current_streak", self.current_streak)?,
                best_streak: to_u32("best_streak", self.best_streak)?,
                streak_start: opt_millis(self.streak_start),
                best_streak_end: opt_millis(self.best_streak_end),
                last_run: opt_millis(self.last_run_date),
            },
        })
    }
}

/// A row of [`RUN_COLUMNS`].
#[derive(Debug, Clone)]
pub struct RunFields {
    pub kind: String,
    pub period: String,
    pub period_start: i64,
    pub status: String,
    pub lease_owner: String,
    pub lease_expires_at: i64,
    pub started_at: i64,
    pub completed_at: Option<i64>,
    pub result: Option<String>,
}

impl RunFields {
    pub fn decode(self) -> StoreResult<JobRunRow> {
        Ok(JobRunRow {
            kind: parse_enum("kind", &self.kind, JobKind::parse)?,
            period: self.period,
            period_start: millis(self.period_start),
            status: parse_enum("status", &self.status, JobRunStatus::parse)?,
            lease_owner: self.lease_owner,
            lease_expires_at: millis(self.lease_expires_at),
            started_at: millis(self.started_at),
            completed_at: opt_millis(self.completed_at),
            result: self.result,
        })
    }
}

/// A row of [`SNAPSHOT_COLUMNS`].
#[derive(Debug, Clone)]
pub struct SnapshotFields {
    pub objective_id: String,
    pub date: i64,
    pub availability_percent: f64,
    pub budget_consumed_minutes: f64,
    pub budget_remaining_percent: f64,
    pub burn_rate: Option<f64>,
    pub streak_days: i64,
    /// Present when the row was recomputed (`recomputed` set).
    pub original: Option<OriginalFields>,
}

/// The `original_*` columns of a recomputed snapshot.
#[derive(Debug, Clone)]
pub struct OriginalFields {
    pub availability_percent: f64,
    pub budget_consumed_minutes: f64,
    pub budget_remaining_percent: f64,
    pub burn_rate: Option<f64>,
    pub streak_days: i64,
}

impl SnapshotFields {
    pub fn decode(self) -> StoreResult<Snapshot> {
        let original = self
            .original
            .map(|o| -> StoreResult<SnapshotValues> {
                Ok(SnapshotValues {
                    availability_percent: o.availability_percent,
                    budget_consumed_minutes: o.budget_consumed_minutes,
                    budget_remaining_percent: o.budget_remaining_percent,
                    burn_rate: o.burn_rate,
                    streak_days: to_u32("original_streak_days", o.streak_days)?,
                })
            })
            .transpose()?;
        Ok(Snapshot {
            objective_id: ObjectiveId::from_trusted(self.objective_id),
            date: millis(self.date),
            availability_percent: self.availability_percent,
            budget_consumed_minutes: self.budget_consumed_minutes,
            budget_remaining_percent: self.budget_remaining_percent,
            burn_rate: self.burn_rate,
            streak_days: to_u32("streak_days", self.streak_days)?,
            original,
        })
    }
}

/// A row of [`CORRECTION_COLUMNS`].
#[derive(Debug, Clone)]
pub struct CorrectionFields {
    pub id: String,
    pub system_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub kind: String,
    pub upstream_system_id: Option<String>,
    pub reason: String,
    pub author: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub upstream_name: Option<String>,
}

impl CorrectionFields {
    pub fn decode(self) -> StoreResult<CorrectionRow> {
        let upstream = self.upstream_system_id.map(SystemId::from_trusted);
        let kind = CorrectionKind::parse(&self.kind, upstream)
            .map_err(|_| corrupt("corrections.kind", &self.kind))?;
        if self.start_ms >= self.end_ms {
            return Err(corrupt("corrections.end_ms", self.end_ms));
        }
        Ok(CorrectionRow {
            id: self.id,
            system_id: SystemId::from_trusted(self.system_id),
            correction: Correction { start: self.start_ms, end: self.end_ms, kind },
            reason: self.reason,
            author: self.author,
            created_at: millis(self.created_at),
            revoked_at: opt_millis(self.revoked_at),
            revoked_by: self.revoked_by,
            upstream_name: self.upstream_name,
        })
    }
}

/// A row of [`DIGEST_COLUMNS`].
#[derive(Debug, Clone)]
pub struct DigestFields {
    pub id: String,
    pub manual: bool,
    pub created_at: i64,
    /// JSON text.
    pub payload: String,
}

impl DigestFields {
    pub fn decode(self) -> StoreResult<DigestRow> {
        let digest: WeeklyDigest = parse_json("digest payload", &self.payload)?;
        Ok(DigestRow {
            id: self.id,
            manual: self.manual,
            created_at: millis(self.created_at),
            digest,
        })
    }
}

/// A row of [`ACHIEVEMENT_COLUMNS`].
#[derive(Debug, Clone)]
pub struct AchievementFields {
    pub system_id: String,
    pub achievement: String,
    pub unlocked_at: i64,
}

impl AchievementFields {
    pub fn decode(self) -> StoreResult<AchievementRow> {
        Ok(AchievementRow {
            system_id: SystemId::from_trusted(self.system_id),
            achievement: achievement(&self.achievement)?,
            unlocked_at: millis(self.unlocked_at),
        })
    }

    /// The achievement with its system's name.
    pub fn decode_milestone(self, system_name: String) -> StoreResult<MilestoneRow> {
        let row = self.decode()?;
        Ok(MilestoneRow {
            system_id: row.system_id,
            system_name,
            achievement: row.achievement,
            unlocked_at: row.unlocked_at,
        })
    }
}

/// A row of [`CHANNEL_COLUMNS`].
#[derive(Debug, Clone)]
pub struct ChannelFields {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub secret: Option<String>,
    /// The subscribed event types; `None` for all.
    pub events: Option<Vec<String>>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ChannelFields {
    pub fn decode(self) -> StoreResult<ChannelRow> {
        Ok(ChannelRow {
            id: self.id,
            name: self.name,
            kind: parse_enum("channel kind", &self.kind, ChannelKind::parse)?,
            url: self.url,
            secret: self.secret,
            events: self
                .events
                .map(|raw| raw.iter().map(|t| event_type("channel events", t)).collect())
                .transpose()?,
            created_at: millis(self.created_at),
            updated_at: millis(self.updated_at),
        })
    }
}

/// A delivery as listed: `d.id, d.channel_id, d.event_id, o.event_type,
/// o.occurred_at, d.state, d.next_attempt_at, d.finished_at`.
#[derive(Debug, Clone)]
pub struct DeliveryFields {
    pub id: i64,
    pub channel_id: String,
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: i64,
    pub state: String,
    pub next_attempt_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl DeliveryFields {
    /// The delivery, without its attempts.
    pub fn decode(self) -> StoreResult<DeliveryRow> {
        let state = parse_enum("delivery state", &self.state, DeliveryState::parse)?;
        let finished_at = opt_millis(self.finished_at);
        Ok(DeliveryRow {
            id: self.id,
            channel_id: self.channel_id,
            event_id: self.event_id,
            event_type: event_type("event_type", &self.event_type)?,
            occurred_at: millis(self.occurred_at),
            state,
            next_attempt_at: if state == DeliveryState::Pending {
                opt_millis(self.next_attempt_at)
            } else {
                None
            },
            delivered_at: if state == DeliveryState::Delivered { finished_at } else { None },
            attempts: Vec::new(),
        })
    }
}

/// A row of [`ATTEMPT_COLUMNS`].
#[derive(Debug, Clone)]
pub struct AttemptFields {
    pub delivery_id: i64,
    pub attempt: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub delivered: bool,
}

impl AttemptFields {
    /// The attempt with its delivery's id.
    pub fn decode(self) -> StoreResult<(i64, AttemptRow)> {
        Ok((
            self.delivery_id,
            AttemptRow {
                attempt: to_u32("attempt", self.attempt)?,
                started_at: millis(self.started_at),
                finished_at: millis(self.finished_at),
                status_code: self
                    .status_code
                    .map(|code| narrow::<u16>("status_code", code))
                    .transpose()?,
                error: self.error,
                delivered: self.delivered,
            },
        ))
    }
}

/// A claimed delivery: `d.id, d.attempts, d.first_attempt_at`, the event
/// (`o.id, o.event_type, o.occurred_at, o.data`) and the channel
/// ([`CHANNEL_COLUMNS`]).
#[derive(Debug, Clone)]
pub struct ClaimedFields {
    pub delivery_id: i64,
    /// Attempts made so far.
    pub attempts: i64,
    pub first_attempt_at: Option<i64>,
    pub event: NotificationFields,
    pub channel: ChannelFields,
}

impl ClaimedFields {
    /// The claimed delivery, its next attempt numbered one past `attempts`.
    pub fn decode(self, lease_token: String) -> StoreResult<ClaimedDelivery> {
        let made = to_u32("attempts", self.attempts)?;
        Ok(ClaimedDelivery {
            delivery_id: self.delivery_id,
            lease_token,
            attempt: made.checked_add(1).ok_or_else(|| corrupt("attempts", made))?,
            first_attempt_at: opt_millis(self.first_attempt_at),
            event: self.event.decode()?,
            channel: self.channel.decode()?,
        })
    }
}

/// A row of [`MAINTENANCE_COLUMNS`].
#[derive(Debug, Clone)]
pub struct MaintenanceFields {
    pub id: String,
    pub system_id: String,
    pub title: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub recurrence: Option<String>,
    pub cancelled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl MaintenanceFields {
    /// Re-validates the plan: a stored window the engine would refuse is
    /// corruption, not something to compute statuses from.
    pub fn decode(self) -> StoreResult<MaintenanceWindowRow> {
        let window = slod_core::maintenance::MaintenanceWindow::parse(
            millis(self.start_ms),
            millis(self.end_ms),
            self.recurrence.as_deref(),
            self.cancelled,
        )
        .map_err(|err| {
            StoreError::Other(anyhow!("stored maintenance window {} is not valid: {err}", self.id))
        })?;
        Ok(MaintenanceWindowRow {
            id: self.id,
            system_id: SystemId::from_trusted(self.system_id),
            title: self.title,
            window,
            created_at: millis(self.created_at),
            updated_at: millis(self.updated_at),
        })
    }
}

/// A row of [`TOKEN_COLUMNS`].
#[derive(Clone)]
pub struct TokenFields {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenFields {
    pub fn decode(self) -> StoreResult<crate::auth::TokenRow> {
        Ok(crate::auth::TokenRow {
            scope: parse_enum("api_tokens.scope", &self.scope, crate::auth::Scope::parse)?,
            id: self.id,
            name: self.name,
            secret_hash: self.secret_hash,
            created_at: millis(self.created_at),
            last_used_at: opt_millis(self.last_used_at),
            revoked_at: opt_millis(self.revoked_at),
        })
    }
}

/// A row of [`SESSION_COLUMNS`].
#[derive(Clone)]
pub struct SessionFields {
    pub id_hash: String,
    pub token_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl SessionFields {
    pub fn decode(self) -> crate::auth::SessionRow {
        crate::auth::SessionRow {
            id_hash: self.id_hash,
            token_id: self.token_id,
            created_at: millis(self.created_at),
            expires_at: millis(self.expires_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use slod_core::model::MAX_WINDOW_DAYS;

    use super::*;

    fn message(err: StoreError) -> String {
        err.to_string()
    }

    fn objective() -> ObjectiveFields {
        ObjectiveFields {
            id: "o".into(),
            system_id: "api".into(),
            health_check_configuration_id: None,
            target: 99.9,
            window_days: 30,
            dependency_exclusion: DependencyExclusion::Strict.as_str().into(),
            excluded_dependency_ids: vec!["db".into()],
            exclude_maintenance_windows: true,
            warning_percent: 50.0,
            critical_percent: 80.0,
            fast_burn_multiplier: 14.4,
            created_at: 1,
            updated_at: 2,
            burn_rate_alerts: encode_burn_rate_alerts(&BurnRateAlerts::default()).unwrap(),
            name: Some("api-availability".into()),
            calendar_unit: None,
            calendar_time_zone: None,
        }
    }

    fn system_fields() -> SystemFields {
        SystemFields {
            id: "api".into(),
            name: "API".into(),
            created_at: 5,
            healthcheck_status: HealthStatus::Healthy.as_str().into(),
            incident_status: HealthStatus::Healthy.as_str().into(),
            down_since: None,
            down_source: None,
            last_report_at: Some(7),
            unnamed_report_at: Some(7),
            last_transition_at: None,
        }
    }

    fn claimed(attempts: i64) -> ClaimedFields {
        ClaimedFields {
            delivery_id: 1,
            attempts,
            first_attempt_at: None,
            event: NotificationFields {
                id: "e".into(),
                event_type: EventType::StatusChanged.as_str().into(),
                occurred_at: 3,
                data: "{}".into(),
            },
            channel: ChannelFields {
                id: "c".into(),
                name: "c".into(),
                kind: ChannelKind::Webhook.as_str().into(),
                url: "http://x/".into(),
                secret: None,
                events: None,
                created_at: 0,
                updated_at: 0,
            },
        }
    }

    #[test]
    fn column_widths_match_the_lists() {
        assert_eq!(OBJECTIVE_COLUMNS.split(", ").count(), OBJECTIVE_WIDTH);
        assert_eq!(EVENT_COLUMNS.split(", ").count(), EVENT_WIDTH);
        assert_eq!(qualified("o", "a, b"), "o.a, o.b");
    }

    #[test]
    fn objective_round_trips_valid_values() {
        let o = objective().decode().expect("valid");
        assert_eq!(o.window.rolling_days().unwrap(), 30);
        assert_eq!(o.excluded_dependency_ids[0].as_str(), "db");
        assert!(o.exclude_maintenance_windows);
        assert_eq!(o.updated_at, Timestamp::from_millis(2));
        assert_eq!(o.burn_rate_alerts, BurnRateAlerts::default());
        assert_eq!(o.name.as_ref().map(ObjectiveName::as_str), Some("api-availability"));
        assert_eq!(
            ObjectiveFields { name: None, ..objective() }.decode().expect("valid").name,
            None
        );
        let err = ObjectiveFields { name: Some("Bad Name".into()), ..objective() }.decode();
        assert!(message(err.unwrap_err()).contains("name"));
    }

    #[test]
    fn stored_tiers_are_validated_when_read() {
        let mut bad = objective();
        bad.burn_rate_alerts =
            r#"[{"severity":"page","longWindow":"5m","shortWindow":"1h","budgetPercent":2}]"#
                .into();
        let err = message(bad.decode().unwrap_err());
        assert!(err.contains("burn_rate_alerts"), "{err}");
        let mut garbled = objective();
        garbled.burn_rate_alerts = "[".into();
        assert!(message(garbled.decode().unwrap_err()).contains("burn_rate_alerts"));
        // The migration's default text is the defaults.
        let mut migrated = objective();
        migrated.burn_rate_alerts = MIGRATION_DEFAULT.into();
        assert_eq!(migrated.decode().unwrap().burn_rate_alerts, BurnRateAlerts::default());
    }

    /// The `DEFAULT` of `burn_rate_alerts` in both stores' migration 0007.
    const MIGRATION_DEFAULT: &str = r#"[{"severity":"page","longWindow":"1h","shortWindow":"5m","budgetPercent":2},{"severity":"page","longWindow":"6h","shortWindow":"30m","budgetPercent":5},{"severity":"ticket","longWindow":"72h","shortWindow":"6h","budgetPercent":10}]"#;

    #[test]
    fn calendar_rows_decode_and_round_trip_through_window_columns() {
        let fields = ObjectiveFields {
            window_days: 0,
            calendar_unit: Some("month".into()),
            calendar_time_zone: Some("Europe/Berlin".into()),
            ..objective()
        };
        let o = fields.decode().expect("valid calendar row");
        let calendar = o.window.calendar().expect("a calendar window");
        assert_eq!(calendar, Calendar::parse("month", "Europe/Berlin").unwrap());
        assert_eq!(window_columns(&o.window), (0, Some("month"), Some("Europe/Berlin")));
        let rolling = objective().decode().unwrap();
        assert_eq!(window_columns(&rolling.window), (30, None, None));
    }

    #[test]
    fn half_a_calendar_or_a_bad_zone_is_corruption() {
        let bad = [
            (0, Some("month"), None),
            (0, None, Some("UTC")),
            (30, Some("month"), Some("UTC")),
            (0, Some("fortnight"), Some("UTC")),
            (0, Some("month"), Some("Mars/Olympus")),
            (0, None, None),
        ];
        for (days, unit, zone) in bad {
            let fields = ObjectiveFields {
                window_days: days,
                calendar_unit: unit.map(str::to_owned),
                calendar_time_zone: zone.map(str::to_owned),
                ..objective()
            };
            let err = message(fields.decode().unwrap_err());
            assert!(err.contains("calendar") || err.contains("window_days"), "{err}");
        }
    }

    #[test]
    fn out_of_range_integers_are_errors_naming_the_column() {
        for bad in [-1, i64::from(u32::MAX) + 1, i64::MAX, i64::MIN] {
            let err = ObjectiveFields { window_days: bad, ..objective() }.decode().unwrap_err();
            assert!(message(err).contains("window_days"), "{bad}");
        }
        for bad in [0, i64::from(MAX_WINDOW_DAYS) + 1] {
            let err = ObjectiveFields { window_days: bad, ..objective() }.decode().unwrap_err();
            assert!(message(err).contains("window_days"), "{bad}");
        }
        for bad in [-0.5, 100.5, f64::NAN, f64::INFINITY] {
            let err = ObjectiveFields { target: bad, ..objective() }.decode().unwrap_err();
            assert!(message(err).contains("target"), "{bad}");
        }
        let streak = StreakFields {
            objective_id: "o".into(),
            system_id: "api".into(),
            current_streak: 1,
            best_streak: -3,
            streak_start: None,
            best_streak_end: None,
            last_run_date: None,
        };
        assert!(message(streak.decode().unwrap_err()).contains("best_streak"));
        let attempt = AttemptFields {
            delivery_id: 1,
            attempt: 1,
            started_at: 0,
            finished_at: 0,
            status_code: Some(70_000),
            error: None,
            delivered: false,
        };
        assert!(message(attempt.clone().decode().unwrap_err()).contains("status_code"));
        let ok = AttemptFields { status_code: Some(503), ..attempt.clone() }.decode().expect("ok");
        assert_eq!(ok.1.status_code, Some(503));
        let err = AttemptFields { attempt: -1, ..attempt }.decode().unwrap_err();
        assert!(message(err).contains("attempt"));
        let snapshot = SnapshotFields {
            objective_id: "o".into(),
            date: 0,
            availability_percent: 100.0,
            budget_consumed_minutes: 0.0,
            budget_remaining_percent: 100.0,
            burn_rate: None,
            streak_days: i64::from(u32::MAX) + 1,
            original: None,
        };
        assert!(message(snapshot.decode().unwrap_err()).contains("streak_days"));
    }

    #[test]
    fn claimed_attempt_counts_are_checked() {
        assert_eq!(claimed(0).decode("t".into()).expect("ok").attempt, 1);
        assert_eq!(claimed(4).decode("t".into()).expect("ok").attempt, 5);
        assert!(message(claimed(-1).decode("t".into()).unwrap_err()).contains("attempts"));
        let max = i64::from(u32::MAX);
        assert!(message(claimed(max).decode("t".into()).unwrap_err()).contains("attempts"));
    }

    #[test]
    fn bad_enum_text_is_an_error_naming_column_and_value() {
        let err = SystemFields { healthcheck_status: "sideways".into(), ..system_fields() }
            .decode()
            .unwrap_err();
        let text = message(err);
        assert!(text.contains("healthcheck_status") && text.contains("sideways"), "{text}");
        let err =
            SystemFields { down_source: Some("?".into()), ..system_fields() }.decode().unwrap_err();
        assert!(message(err).contains("down_source"));
        let err = ObjectiveFields { dependency_exclusion: "some".into(), ..objective() }
            .decode()
            .unwrap_err();
        assert!(message(err).contains("dependency_exclusion"));
        let event = DowntimeFields {
            id: "e".into(),
            objective_id: "o".into(),
            system_id: "api".into(),
            start_time: 0,
            end_time: None,
            attribution_type: "upstream".into(),
            upstream_system_id: None,
            upstream_system_name: None,
            source: ReportSource::Healthcheck.as_str().into(),
        };
        assert!(message(event.clone().decode().unwrap_err()).contains("attribution_type"));
        let ok = DowntimeFields { upstream_system_id: Some("db".into()), ..event.clone() }
            .decode()
            .expect("upstream without a stored name");
        assert_eq!(
            ok.attribution,
            Attribution::Upstream {
                system_id: SystemId::from_trusted("db".into()),
                system_name: "db".into()
            }
        );
        let err = DowntimeFields { attribution_type: "self".into(), source: "x".into(), ..event }
            .decode()
            .unwrap_err();
        assert!(message(err).contains("source"));
        let run = RunFields {
            kind: "nightly".into(),
            period: "p".into(),
            period_start: 0,
            status: JobRunStatus::Running.as_str().into(),
            lease_owner: "me".into(),
            lease_expires_at: 0,
            started_at: 0,
            completed_at: None,
            result: None,
        };
        assert!(message(run.decode().unwrap_err()).contains("nightly"));
        let mut bad_channel = claimed(0);
        bad_channel.channel.events = Some(vec!["nope".into()]);
        assert!(message(bad_channel.decode("t".into()).unwrap_err()).contains("nope"));
        let achievement = AchievementFields {
            system_id: "api".into(),
            achievement: "gold".into(),
            unlocked_at: 0,
        };
        assert!(message(achievement.decode().unwrap_err()).contains("gold"));
    }

    #[test]
    fn bad_json_is_an_error_naming_the_column() {
        let outbox = OutboxFields {
            seq: 9,
            event: NotificationFields {
                id: "e".into(),
                event_type: EventType::StatusChanged.as_str().into(),
                occurred_at: 0,
                data: "{not json".into(),
            },
        };
        assert!(message(outbox.decode().unwrap_err()).contains("data"));
        let digest =
            DigestFields { id: "d".into(), manual: false, created_at: 0, payload: "[]".into() };
        assert!(message(digest.decode().unwrap_err()).contains("digest"));
    }

    #[test]
    fn lists_split_and_join() {
        assert!(split_list("").is_empty());
        assert_eq!(split_list("a,b"), ["a", "b"]);
        assert_eq!(join_list(["a", "b"]), "a,b");
        assert_eq!(join_list([]), "");
    }

    #[test]
    fn system_rows_carry_the_effective_status() {
        let row = system_fields().decode_row().expect("valid");
        assert_eq!(row.effective_status, HealthStatus::Healthy);
        assert_eq!(row.system.created_at, Timestamp::from_millis(5));
        assert_eq!(row.last_report_at, Some(Timestamp::from_millis(7)));
    }
}
