//! The standard `process_*` metrics, read from `/proc/self` at scrape time.
//!
//! `prometheus-client` has no process collector, so this is the set the
//! other official clients (Go, Python, Java) export under the same names
//! and meanings: CPU seconds, resident and virtual memory, open and maximum
//! file descriptors, start time. Off Linux, or if `/proc` cannot be read,
//! the figures that failed are left out rather than reported as 0.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub(super) struct ProcessCollector;

/// The figures of one read of `/proc/self`.
#[derive(Debug, Default)]
struct ProcessFigures {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<f64>,
    virtual_bytes: Option<f64>,
    start_time_seconds: Option<f64>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
}

#[cfg(target_os = "linux")]
fn read() -> ProcessFigures {
    use procfs::process::{LimitValue, Process};

    let Ok(me) = Process::myself() else {
        return ProcessFigures::default();
    };
    let ticks = procfs::ticks_per_second() as f64;
    let mut figures = ProcessFigures::default();
    if let Ok(stat) = me.stat() {
        figures.cpu_seconds = Some((stat.utime + stat.stime) as f64 / ticks);
        figures.resident_bytes = Some(stat.rss as f64 * procfs::page_size() as f64);
        figures.virtual_bytes = Some(stat.vsize as f64);
        figures.start_time_seconds =
            procfs::boot_time_secs().ok().map(|boot| boot as f64 + stat.starttime as f64 / ticks);
    }
    figures.open_fds = me.fd_count().ok().map(|n| n as f64);
    figures.max_fds = me.limits().ok().and_then(|limits| match limits.max_open_files.soft_limit {
        LimitValue::Value(n) => Some(n as f64),
        LimitValue::Unlimited => None,
    });
    figures
}

#[cfg(not(target_os = "linux"))]
fn read() -> ProcessFigures {
    ProcessFigures::default()
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let figures = read();
        if let Some(seconds) = figures.cpu_seconds {
            let counter = ConstCounter::new(seconds);
            counter.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                counter.metric_type(),
            )?)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                figures.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                figures.virtual_bytes,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                figures.start_time_seconds,
            ),
            ("process_open_fds", "Number of open file descriptors.", figures.open_fds),
            ("process_max_fds", "Maximum number of open file descriptors.", figures.max_fds),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                gauge.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    gauge.metric_type(),
                )?)?;
            }
        }
        Ok(())
    }
}
