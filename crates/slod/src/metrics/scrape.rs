//! The gauges computed at scrape time (SPEC §15): per objective, per
//! system, and the outbox backlog.
//!
//! [`gather`] reads every objective's status through the path
//! `GET /objectives` serves ([`crate::service::objectives::list_objectives`]:
//! one batched span read, one down-state read, one maintenance read and one
//! streak read for all of them, however many there are), so a dashboard and
//! a scrape never disagree. The [`Snapshot`] it returns is a
//! `prometheus-client` collector that writes those figures in base units:
//! ratios in 0..1, seconds rather than minutes or days.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use slod_core::status::{BurnRates, BURN_WINDOWS};
use slod_core::time::Timestamp;
use slod_store::Store;

use crate::service::objectives::list_objectives;
use crate::service::status::ObjectiveWithStatus;
use crate::service::ServiceResult;

/// One objective's figures, with its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveFigures {
    pub objective_id: String,
    pub objective_name: String,
    pub system_id: String,
    pub system_name: String,
    pub availability_ratio: f64,
    pub target_ratio: f64,
    pub budget_remaining_ratio: f64,
    pub budget_consumed_seconds: f64,
    /// `(window, rate)` for each burn window that has a rate (none when the
    /// target is 100 %: there is no budget to burn).
    pub burn_rates: Vec<(&'static str, f64)>,
    pub breaching: bool,
    pub streak_seconds: f64,
    pub open_downtime: bool,
}

/// One system's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemFigures {
    pub system_id: String,
    pub system_name: String,
    pub up: bool,
}

/// Everything a scrape computes, ready to encode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub objectives: Vec<ObjectiveFigures>,
    pub systems: Vec<SystemFigures>,
    pub outbox_pending: u64,
}

/// The label an objective's name gets: its `name` (SPEC §14), else its id,
/// the one name every objective has.
fn objective_name(item: &ObjectiveWithStatus) -> String {
    match &item.objective.name {
        Some(name) => name.as_str().to_owned(),
        None => item.objective.id.as_str().to_owned(),
    }
}

fn burn_rates(rates: &BurnRates) -> Vec<(&'static str, f64)> {
    let values = [rates.m5, rates.m30, rates.h1, rates.h6, rates.h24, rates.h72];
    BURN_WINDOWS
        .iter()
        .zip(values)
        .filter_map(|(&(window, _), rate)| rate.map(|rate| (window, rate)))
        .collect()
}

/// Reads the figures of every objective and system at `now`.
pub async fn gather(store: &dyn Store, now: Timestamp) -> ServiceResult<Snapshot> {
    let systems = store.list_systems().await?;
    let items = list_objectives(store, None, now).await?;
    let outbox_pending = store.pending_deliveries().await?;
    let names: std::collections::HashMap<&str, &str> =
        systems.iter().map(|row| (row.system.id.as_str(), row.system.name.as_str())).collect();
    let objectives = items
        .iter()
        .map(|item| {
            let status = &item.status;
            ObjectiveFigures {
                objective_id: item.objective.id.as_str().to_owned(),
                objective_name: objective_name(item),
                system_id: item.objective.system_id.as_str().to_owned(),
                system_name: names.get(item.objective.system_id.as_str()).map_or_else(
                    || item.objective.system_id.as_str().to_owned(),
                    |n| (*n).to_owned(),
                ),
                availability_ratio: status.current_availability / 100.0,
                target_ratio: status.target / 100.0,
                budget_remaining_ratio: status.error_budget_remaining_percent / 100.0,
                budget_consumed_seconds: status.error_budget_consumed_minutes * 60.0,
                burn_rates: burn_rates(&status.burn_rates),
                breaching: status.is_breaching,
                streak_seconds: f64::from(item.streak.current_streak) * 86_400.0,
                open_downtime: status.has_open_downtime,
            }
        })
        .collect();
    let systems = systems
        .into_iter()
        .map(|row| SystemFigures {
            up: !row.effective_status.is_down(),
            system_id: row.system.id.as_str().to_owned(),
            system_name: row.system.name,
        })
        .collect();
    Ok(Snapshot { objectives, systems, outbox_pending })
}

/// The per-objective gauges: name, help, and how to read the value.
type ObjectiveGauge = (&'static str, &'static str, fn(&ObjectiveFigures) -> f64);

const OBJECTIVE_GAUGES: [ObjectiveGauge; 7] = [
    (
        "slod_objective_availability_ratio",
        "Availability over the objective's window (0..1), as GET /objectives reports it.",
        |o| o.availability_ratio,
    ),
    ("slod_objective_target_ratio", "The objective's availability target (0..1).", |o| {
        o.target_ratio
    }),
    (
        "slod_objective_error_budget_remaining_ratio",
        "Share of the window's error budget left (0..1).",
        |o| o.budget_remaining_ratio,
    ),
    (
        "slod_objective_error_budget_consumed_seconds",
        "Downtime charged to the error budget inside the window, in seconds.",
        |o| o.budget_consumed_seconds,
    ),
    ("slod_objective_breaching", "1 while availability is below the target, else 0.", |o| {
        f64::from(u8::from(o.breaching))
    }),
    (
        "slod_objective_streak_seconds",
        "The current streak of days that met the target, in seconds (days x 86400).",
        |o| o.streak_seconds,
    ),
    (
        "slod_objective_open_downtime",
        "1 while the objective has open downtime counting against it, else 0.",
        |o| f64::from(u8::from(o.open_downtime)),
    ),
];

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, value) in OBJECTIVE_GAUGES {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for o in &self.objectives {
                let labels = objective_labels(o);
                ConstGauge::new(value(o)).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "slod_objective_burn_rate",
            "Error budget burn rate over the trailing window (1 = exactly on budget).",
            None,
            MetricType::Gauge,
        )?;
        for o in &self.objectives {
            for &(window, rate) in &o.burn_rates {
                let [a, b, c, d] = objective_labels(o);
                let labels = [a, b, c, d, ("window", window)];
                ConstGauge::new(rate).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "slod_system_up",
            "1 while the system is healthy, 0 while it is down or degraded.",
            None,
            MetricType::Gauge,
        )?;
        for s in &self.systems {
            let labels =
                [("system_id", s.system_id.as_str()), ("system_name", s.system_name.as_str())];
            ConstGauge::new(i64::from(s.up)).encode(family.encode_family(&labels)?)?;
        }
        let pending = ConstGauge::new(i64::try_from(self.outbox_pending).unwrap_or(i64::MAX));
        pending.encode(encoder.encode_descriptor(
            "slod_outbox_pending",
            "Notification deliveries not yet delivered nor abandoned.",
            None,
            pending.metric_type(),
        )?)?;
        Ok(())
    }
}

fn objective_labels(o: &ObjectiveFigures) -> [(&'static str, &str); 4] {
    [
        ("objective_id", o.objective_id.as_str()),
        ("objective_name", o.objective_name.as_str()),
        ("system_id", o.system_id.as_str()),
        ("system_name", o.system_name.as_str()),
    ]
}
