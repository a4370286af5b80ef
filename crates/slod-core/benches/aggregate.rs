//! The status hot loop (SPEC §4): one objective's 30-day window of a million
//! downtime events, summed by `status::aggregate` and turned into an
//! `SloStatus` by `compute_status`.
//!
//! ```text
//! cargo bench -p slod-core --bench aggregate -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Throughput is per event, so criterion's `thrpt` line reads as events per
//! second; ns/event = 1e9 / that.
//!
//! The `+maintenance` cases are the same statuses with SPEC §12's exclusion:
//! 24 maintenance windows of the system (12 nightly, 12 weekly), expanded
//! and merged inside the measured loop for `compute_status`, the way a read
//! would do it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use slod_core::maintenance::{merged_occurrences, MaintenanceWindow};
use slod_core::model::{
    BurnRateThresholds, DependencyExclusion, Objective, SystemId, Target, WindowDays,
};
use slod_core::status::{
    aggregate, aggregate_excluding, compute_status, compute_status_excluding, maintenance_range,
    EventSpan, OPEN_END,
};
use slod_core::time::{Timestamp, DAY_MS, HOUR_MS, MINUTE_MS};

const EVENTS: usize = 1_000_000;
const UPSTREAMS: u32 = 5;
const WINDOW_DAYS: u32 = 30;
/// 2026-03-01T12:00:00Z.
const AT: i64 = 1_772_366_400_000;

/// A small deterministic generator (xorshift64*), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A million non-overlapping events sorted by start, spread over the window
/// plus a day before it (those are clamped or skipped), about 10 % of them
/// in the last 72 h; half self, half spread over 5 upstreams; the last one
/// still open.
fn spans() -> Vec<EventSpan> {
    let mut rng = Rng(0x5EED_5EED_5EED_5EED);
    let from = AT - i64::from(WINDOW_DAYS + 1) * DAY_MS;
    let slot = (AT - from) / EVENTS as i64;
    let mut spans: Vec<EventSpan> = (0..EVENTS as i64)
        .map(|i| {
            let start = from + i * slot + rng.below(slot as u64 / 2) as i64;
            let len = 1 + rng.below(slot as u64 / 2) as i64;
            let upstream = if rng.below(2) == 0 {
                0
            } else {
                1 + u32::try_from(rng.below(u64::from(UPSTREAMS))).expect("below UPSTREAMS")
            };
            EventSpan { start, end: start + len, upstream }
        })
        .collect();
    if let Some(last) = spans.last_mut() {
        last.end = OPEN_END;
    }
    spans
}

/// 24 windows starting before the status window: 12 nightly ones of 30
/// minutes (one every other hour) and 12 weekly ones of 2 hours (each on
/// one weekday, at 3 different hours).
fn maintenance_windows() -> Vec<MaintenanceWindow> {
    // A Monday, 00:00 UTC, 35 days before `AT` (2026-01-26).
    let monday = Timestamp::parse("2026-01-26T00:00:00Z").expect("valid date");
    let nightly = (0..12).map(|i| {
        let start = monday.plus_millis(i * 2 * HOUR_MS);
        MaintenanceWindow::parse(
            start,
            start.plus_millis(30 * MINUTE_MS),
            Some("FREQ=DAILY"),
            false,
        )
    });
    let days = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
    let weekly = (0..12i64).zip(days.iter().cycle()).map(|(i, day)| {
        let start = monday.plus_millis((i % 7) * DAY_MS + (1 + 4 * (i % 3)) * HOUR_MS);
        let rule = format!("FREQ=WEEKLY;BYDAY={day}");
        MaintenanceWindow::parse(start, start.plus_millis(2 * HOUR_MS), Some(&rule), false)
    });
    nightly.chain(weekly).collect::<Result<_, _>>().expect("valid windows")
}

fn objective(mode: DependencyExclusion) -> Objective {
    Objective {
        id: slod_core::model::ObjectiveId::from_trusted("bench".into()),
        name: None,
        system_id: SystemId::parse("api", "id").expect("valid id"),
        health_check_configuration_id: None,
        target: Target::parse(99.9).expect("valid target"),
        window: WindowDays::parse(WINDOW_DAYS.into()).expect("valid window").into(),
        dependency_exclusion: mode,
        excluded_dependency_ids: vec![],
        exclude_maintenance_windows: false,
        burn_rate_thresholds: BurnRateThresholds::default(),
        burn_rate_alerts: Default::default(),
        created_at: Timestamp::from_millis(0),
        updated_at: Timestamp::from_millis(0),
    }
}

fn bench(c: &mut Criterion) {
    let spans = spans();
    let window_start = AT - i64::from(WINDOW_DAYS) * DAY_MS;
    let upstreams: Vec<(SystemId, String)> = (1..=UPSTREAMS)
        .map(|i| {
            (SystemId::parse(&format!("up-{i}"), "id").expect("valid id"), format!("Upstream {i}"))
        })
        .collect();

    let mut group = c.benchmark_group("status");
    group.throughput(Throughput::Elements(EVENTS as u64));
    for (name, strict) in [("aggregate/strict", true), ("aggregate/self-only", false)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                aggregate(
                    black_box(&spans),
                    UPSTREAMS as usize,
                    black_box(window_start),
                    black_box(AT),
                    black_box(true),
                    black_box(strict),
                )
            })
        });
    }
    let self_only = objective(DependencyExclusion::SelfOnly);
    group.bench_function("compute_status/self-only", |b| {
        b.iter(|| {
            compute_status(
                black_box(&self_only),
                black_box(&spans),
                &upstreams,
                Timestamp::from_millis(black_box(AT)),
                true,
            )
        })
    });

    let windows = maintenance_windows();
    let excluding = Objective { exclude_maintenance_windows: true, ..self_only.clone() };
    let (from, to) = maintenance_range(&excluding, Timestamp::from_millis(AT));
    let merged = merged_occurrences(&windows, from, to);
    for (name, strict) in
        [("aggregate+maintenance/strict", true), ("aggregate+maintenance/self-only", false)]
    {
        group.bench_function(name, |b| {
            b.iter(|| {
                aggregate_excluding(
                    black_box(&spans),
                    black_box(&merged),
                    UPSTREAMS as usize,
                    black_box(window_start),
                    black_box(AT),
                    black_box(true),
                    black_box(strict),
                )
            })
        });
    }
    group.bench_function("compute_status+maintenance/self-only", |b| {
        b.iter(|| {
            let at = Timestamp::from_millis(black_box(AT));
            let (from, to) = maintenance_range(&excluding, at);
            let merged = merged_occurrences(black_box(&windows), from, to);
            compute_status_excluding(
                black_box(&excluding),
                black_box(&spans),
                &upstreams,
                at,
                true,
                &merged,
            )
        })
    });
    group.finish();
    eprintln!(
        "{} maintenance windows, {} merged occurrences in the status range, {:.1} h of maintenance",
        windows.len(),
        merged.len(),
        merged.iter().map(|(s, e)| e - s).sum::<i64>() as f64 / HOUR_MS as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
