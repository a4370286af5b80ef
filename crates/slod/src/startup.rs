//! Start-up: open the store, optionally seed demo data, bind, serve, and
//! stop gracefully.
//!
//! [`Application::build`] does everything that can fail before the first
//! request (database, migrations, binding the port), so once
//! [`Application::run_until`] logs `listening on ADDR` the server is ready;
//! with `--listen 127.0.0.1:0` that line is how callers learn the port.
//! Tests build the same `Application` in-process with a
//! [`ManualClock`](crate::clock::ManualClock).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use slod_store::Store;
use tokio::net::TcpListener;

use crate::access::{listen_decision, Access, AccessSettings, ListenDecision};
use crate::app::{self, AppState};
use crate::clock::Clock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::notify::{Notifier, NotifySettings};
use crate::{database, demo};

/// How long requests in flight at shutdown get to finish (SPEC §18).
pub const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// How long each background worker gets, after the requests, to reach a
/// safe point; it was told to stop when the requests were, so this only
/// bites on one stuck mid-step.
pub const WORKER_STOP_LIMIT: Duration = Duration::from_secs(10);

/// A server that is bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    notifier: Arc<Notifier>,
    /// Run the delivery worker and the alert evaluator (tests that drive
    /// them by hand turn this off).
    notify_workers: bool,
    /// The daily job and weekly digest scheduler; `None` when a test drives
    /// the jobs by hand.
    scheduler: Option<crate::scheduler::Scheduler>,
    store: Arc<dyn Store>,
    /// Whether it opened `store` itself ([`build`](Self::build)), and so
    /// closes it once served; a store handed in stays its owner's.
    owns_store: bool,
    clock: Arc<dyn Clock>,
}

impl Application {
    /// Opens the database the settings name (running its migrations) and
    /// binds the listener, with the default access settings.
    pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_with_access(settings, AccessSettings::default(), clock).await
    }

    /// [`build`](Self::build) with access settings (SPEC §16): refuses a
    /// non-loopback address while no token exists, unless
    /// `--insecure-no-auth`.
    pub async fn build_with_access(
        settings: &Settings,
        access: AccessSettings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let store =
            database::connect_store(&settings.database_url, settings.database_pool_size).await?;
        tracing::info!(
            backend = store.backend(),
            database = %database::redact(&settings.database_url),
            "database ready"
        );
        let app = Self::with_store_and_access(settings, store, access, clock).await?;
        Ok(Self { owns_store: true, ..app })
    }

    /// Like [`build`](Self::build), with a store already opened.
    pub async fn with_store(
        settings: &Settings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        Self::with_store_and_access(settings, store, AccessSettings::default(), clock).await
    }

    async fn with_store_and_access(
        settings: &Settings,
        store: Arc<dyn Store>,
        access: AccessSettings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let tokens_exist = crate::service::tokens::any_token(&*store)
            .await
            .map_err(|err| anyhow::anyhow!("reading the tokens: {err}"))?;
        match listen_decision(settings.listen, tokens_exist, access.insecure_no_auth) {
            ListenDecision::Serve => {}
            ListenDecision::ServeInsecure => tracing::warn!(
                listen = %settings.listen,
                "INSECURE: serving a non-loopback address with no API token and \
                 --insecure-no-auth: ANYONE WHO CAN REACH THIS ADDRESS CAN READ, CHANGE AND \
                 DELETE EVERYTHING. Create a token (`slod token create --scope manage`) to turn \
                 access control on"
            ),
            ListenDecision::Refuse => anyhow::bail!(
                "refusing to listen on {} with no API token: anyone who can reach it could \
                 change or delete everything. Create a token first (`slod token create --name \
                 admin --scope manage --database …`), listen on 127.0.0.1, or pass \
                 --insecure-no-auth if something in front of slod controls access",
                settings.listen
            ),
        }
        if settings.demo {
            demo::seed_if_empty(&*store, &*clock).await.context("seeding demo data")?;
        }
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let access = Arc::new(Access::new(access, settings.listen));
        let notify_settings =
            NotifySettings { egress: access.egress(), ..NotifySettings::default() };
        let metrics = Arc::new(Metrics::new());
        let notifier = Arc::new(
            Notifier::new(store.clone(), clock.clone(), notify_settings, metrics.clone())
                .context("setting up notifications")?,
        );
        let scheduler = Some(crate::scheduler::Scheduler::new(store.clone(), clock.clone()));
        let state = AppState::new(store.clone(), clock.clone(), notifier.clone(), access, metrics);
        let router = app::router(state);
        Ok(Self {
            listener,
            address,
            router,
            notifier,
            notify_workers: true,
            scheduler,
            store,
            owns_store: false,
            clock,
        })
    }

    /// Serves without the job scheduler, so a test runs the daily job and
    /// the digest itself (`Scheduler::run_due_jobs`, or the API triggers).
    pub fn without_scheduler(mut self) -> Self {
        self.scheduler = None;
        self
    }

    /// The notification machinery, for tests that run its "once now"
    /// functions ([`Notifier::deliver_due`], [`Notifier::evaluate_alerts`]).
    pub fn notifier(&self) -> Arc<Notifier> {
        self.notifier.clone()
    }

    /// Serves without the background delivery worker and alert evaluator,
    /// so a test drives them deterministically instead. The event stream
    /// still runs.
    pub fn without_notify_workers(mut self) -> Self {
        self.notify_workers = false;
        self
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then stops accepting, finishes
    /// the requests in flight and returns (SPEC §18). The notification
    /// tasks (delivery, alert evaluation, the event stream) and the
    /// scheduler run alongside and are told to stop at the same moment.
    ///
    /// Requests get [`DRAIN_LIMIT`]; one still running then is dropped,
    /// which rolls its transaction back (nothing is half-applied, and it
    /// was never acknowledged). Each worker stops between two units of
    /// work (a delivery, an evaluation pass, one daily run's period); one
    /// that overstays [`WORKER_STOP_LIMIT`] is abandoned: deliveries are
    /// leased and retried, job runs are idempotent and resumed at start.
    /// Last, a store the application opened itself is closed.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let notify_tasks = self.notifier.start(self.notify_workers).await;
        // Read every objective's status once in the background, so the
        // store's span cache holds the closed downtime before the first
        // dashboard or list request asks (that first read costs what an
        // uncached read does: about a second per million events).
        let warm = tokio::spawn(warm_up(self.store.clone(), self.clock.clone()));
        // The scheduler runs next to the server and stops with it.
        let (stop_jobs, jobs_stop) = tokio::sync::watch::channel(false);
        let jobs = self.scheduler.map(|scheduler| tokio::spawn(scheduler.run(jobs_stop)));
        let notifier = self.notifier.clone();
        let (signalled, mut draining) = tokio::sync::watch::channel(false);
        // Stopping the notification tasks also ends open event streams,
        // which would otherwise hold the graceful shutdown forever.
        let shutdown = async move {
            shutdown.await;
            notifier.shutdown();
            stop_jobs.send_replace(true);
            signalled.send_replace(true);
        };
        tracing::info!("listening on {}", self.address);
        // With the peer's address, for the failed-authentication limit.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(self.listener, service).with_graceful_shutdown(shutdown);
        let drain_limit = async move {
            if draining.wait_for(|signalled| *signalled).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(DRAIN_LIMIT).await;
        };
        let served = tokio::select! {
            served = serve => served.context("serving HTTP"),
            () = drain_limit => {
                tracing::warn!(
                    "requests still in flight after {} s; dropping them (their transactions roll back)",
                    DRAIN_LIMIT.as_secs()
                );
                Ok(())
            }
        };
        self.notifier.shutdown();
        if tokio::time::timeout(WORKER_STOP_LIMIT, notify_tasks.join()).await.is_err() {
            tracing::warn!("notification workers did not stop in time; abandoning them");
        }
        if let Some(mut jobs) = jobs {
            if tokio::time::timeout(WORKER_STOP_LIMIT, &mut jobs).await.is_err() {
                tracing::warn!("the job scheduler did not stop in time; abandoning its run");
                jobs.abort();
            }
        }
        warm.abort();
        // Last, once nothing else uses it, and only a store it opened: on
        // SQLite this copies the WAL into the database file, so the next
        // start has no log to read first.
        if self.owns_store
            && tokio::time::timeout(WORKER_STOP_LIMIT, self.store.close()).await.is_err()
        {
            tracing::warn!("the database did not close in time");
        }
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Reads every objective's status now, filling the store's span cache.
async fn warm_up(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    let started = std::time::Instant::now();
    match crate::service::objectives::list_objectives(&*store, None, clock.now()).await {
        Ok(objectives) => tracing::info!(
            objectives = objectives.len(),
            // Saturating: only a log field, and 2^64 ms is 584 million years.
            ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "read every objective's downtime once"
        ),
        Err(err) => {
            tracing::warn!(error = %err, "reading every objective's status at start failed")
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}
