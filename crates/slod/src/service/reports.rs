//! SLA statements (SPEC §17): per objective, availability over a period
//! of UTC days and every interval of downtime in it with its cause, after
//! maintenance and corrections, as `GET /reports/sla` serves them and
//! `slo.report.monthly` carries them.
//!
//! The arithmetic is `slod_core::corrections::statement`; this module
//! reads its inputs in one pass (every objective's spans in one
//! `event_spans` call, the windows and corrections of their systems once).
//! Downtime is counted up to the earlier of the period's end and now, and
//! availability is over that elapsed part (the whole period once it is
//! over). Maintenance windows are taken over the whole period here, not
//! only the objective's rolling window.

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use slod_core::corrections::{statement, StatementInterval};
use slod_core::maintenance::merged_occurrences;
use slod_core::model::{ObjectiveId, SystemId, ValidationError};
use slod_core::time::Timestamp;
use slod_store::{Spans, Store};

use super::{corrections, maintenance, ServiceError, ServiceResult};

/// The period of a statement: `[from, to)`, UTC midnights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// `[from, to)`; `to` must be after `from` (else 400 naming `to`).
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, ValidationError> {
        if to <= from {
            return Err(ValidationError::new("to", format!("{to} must be after `from` ({from})")));
        }
        Ok(Self { from, to })
    }

    /// The calendar month `YYYY-MM` (UTC), naming `field` when it is not
    /// one.
    pub fn month(raw: &str, field: &str) -> Result<Self, ValidationError> {
        let first = NaiveDate::parse_from_str(&format!("{}-01", raw.trim()), "%Y-%m-%d")
            .ok()
            .filter(|first| raw.trim().len() == 7 && (1970..=9999).contains(&first.year()))
            .ok_or_else(|| {
                ValidationError::new(field, format!("`{raw}` is not a month (YYYY-MM)"))
            })?;
        let next = first
            .checked_add_months(Months::new(1))
            .ok_or_else(|| ValidationError::new(field, format!("`{raw}` is out of range")))?;
        Ok(Self { from: first, to: next })
    }

    /// The month before the one `at` falls in.
    pub fn month_before(at: Timestamp) -> Option<Self> {
        let date = at.date();
        let this = NaiveDate::from_ymd_opt(date.year(), date.month(), 1)?;
        let previous = this.checked_sub_months(Months::new(1))?;
        Some(Self { from: previous, to: this })
    }

    /// `YYYY-MM` of `from`.
    pub fn month_label(&self) -> String {
        self.from.format("%Y-%m").to_string()
    }
}

/// One objective's part of a statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveStatement {
    pub objective_id: ObjectiveId,
    /// The objective's name when it has one (SPEC §14).
    pub name: Option<String>,
    pub system_id: SystemId,
    pub system_name: String,
    pub target: f64,
    pub availability_percent: f64,
    pub met: bool,
    pub consumed_minutes: f64,
    pub intervals: Vec<StatementInterval>,
}

/// `GET /reports/sla` (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlaStatement {
    pub from: Timestamp,
    pub to: Timestamp,
    pub objectives: Vec<ObjectiveStatement>,
}

/// The statement of every objective (of `system`, when given) over
/// `period`, as of `now`.
pub async fn sla_statement(
    store: &dyn Store,
    period: Period,
    system: Option<&SystemId>,
    now: Timestamp,
) -> ServiceResult<SlaStatement> {
    let from = Timestamp::from_date(period.from);
    let to = Timestamp::from_date(period.to);
    let systems = store.list_systems().await?;
    if let Some(system) = system {
        if !systems.iter().any(|row| &row.system.id == system) {
            return Err(ServiceError::unknown_system(system, Some("systemId".into())));
        }
    }
    let objectives = match system {
        Some(system) => store.list_objectives(Some(std::slice::from_ref(system))).await?,
        None => store.list_objectives(None).await?,
    };
    let until = to.min(now);
    let ids: Vec<String> = objectives.iter().map(|o| o.id.to_string()).collect();
    let spans = if ids.is_empty() || until <= from {
        slod_store::SpanSet::default()
    } else {
        store.event_spans(&ids, from, until).await?
    };
    let windows = maintenance::load_for(store, &objectives).await?;
    let fixes = corrections::load_for(store, &objectives).await?;
    let upstreams = corrections::upstream_table(&spans.upstreams, &fixes);

    let statements = objectives
        .iter()
        .map(|objective| {
            let row = systems.iter().find(|row| row.system.id == objective.system_id);
            let down = row.is_some_and(|row| row.effective_status.is_down());
            let own = spans.spans.get(objective.id.as_str()).map(Spans::as_slice).unwrap_or(&[]);
            let excluded = match windows.get(&objective.system_id) {
                Some(system_windows) if objective.exclude_maintenance_windows => {
                    merged_occurrences(system_windows, from.millis(), until.millis())
                }
                _ => Vec::new(),
            };
            let overlay = corrections::overlay_for(objective, &fixes);
            let figures = statement(
                objective,
                own,
                &upstreams,
                from.millis(),
                until.millis().max(from.millis()),
                down,
                &excluded,
                &overlay,
            );
            ObjectiveStatement {
                objective_id: objective.id.clone(),
                name: objective.name.as_ref().map(|n| n.as_str().to_owned()),
                system_id: objective.system_id.clone(),
                system_name: row
                    .map_or_else(|| objective.system_id.to_string(), |r| r.system.name.clone()),
                target: objective.target.get(),
                availability_percent: figures.availability_percent,
                met: figures.met,
                consumed_minutes: figures.consumed_minutes,
                intervals: figures.intervals,
            }
        })
        .collect();
    Ok(SlaStatement { from, to, objectives: statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_periods() {
        let feb = Period::month("2028-02", "period").unwrap();
        assert_eq!(
            (feb.from.to_string(), feb.to.to_string()),
            ("2028-02-01".into(), "2028-03-01".into())
        );
        assert_eq!(Period::month("2026-12", "month").unwrap().to.to_string(), "2027-01-01");
        for bad in ["2026-13", "2026-2", "26-02", "2026-02-01", ""] {
            assert_eq!(Period::month(bad, "month").unwrap_err().field, "month", "{bad}");
        }
        let day = |raw: &str| NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap();
        assert_eq!(Period::new(day("2026-03-02"), day("2026-03-02")).unwrap_err().field, "to");
        let before =
            Period::month_before(Timestamp::parse("2026-01-01T00:00:00Z").unwrap()).unwrap();
        assert_eq!(before.month_label(), "2025-12");
        assert_eq!(before.to.to_string(), "2026-01-01");
    }
}
