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

use anyhow::Context;
use axum::Router;
use slod_store::Store;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::clock::Clock;
use crate::config::Settings;
use crate::{database, demo};

/// A server that is bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
}

impl Application {
    /// Opens the database the settings name (running its migrations) and
    /// binds the listener.
    pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = database::connect_store(&settings.database_url).await?;
        tracing::info!(
            backend = store.backend(),
            database = %database::redact(&settings.database_url),
            "database ready"
        );
        Self::with_store(settings, store, clock).await
    }

    /// Like [`build`](Self::build), with a store already opened.
    pub async fn with_store(
        settings: &Settings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        if settings.demo {
            demo::seed_if_empty(&*store, clock.now()).await.context("seeding demo data")?;
        }
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let router = api::router(AppState::new(store, clock));
        Ok(Self { listener, address, router })
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then finishes the requests in
    /// flight and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!("listening on {}", self.address);
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP")?;
        tracing::info!("stopped");
        Ok(())
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
