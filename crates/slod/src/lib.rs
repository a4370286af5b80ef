//! slod, the SLO service: everything around the pure core.
//!
//! `slod-core` decides what health reports do to downtime events and what an
//! objective's status is; this crate gives it a command line, a database
//! (through the `slod-store` trait), a clock, and an HTTP API:
//!
//! - [`access`]: access control (SPEC §16): which token scope each request
//!   needs, open-until-the-first-token, the failed-authentication limit.
//! - [`config`]: the command line and the one [`config::Settings`] struct.
//! - [`clock`]: where "now" comes from ([`clock::SystemClock`] in
//!   production, [`clock::ManualClock`] in tests).
//! - [`database`]: picks the storage backend from the database URL.
//! - [`scheduler`]: runs the daily job and the weekly digest on time
//!   (SPEC §5, §6); the jobs themselves are `service::jobs`.
//! - [`service`]: one function per operation; each runs in one store
//!   transaction and calls the engine with an explicit `now`.
//! - [`app`]: the application router: nests the API, merges the
//!   dashboard, and holds the fallback and the layers every response goes
//!   through.
//! - [`state`]: [`state::AppState`], what every handler reaches (storage,
//!   clock, notifier, metrics).
//! - [`metrics`]: the Prometheus metrics of `GET /metrics` (SPEC §15).
//! - [`api`]: the HTTP routes of SPEC §9; handlers parse, call one service
//!   function, and render.
//! - [`input`]: request types parsed from JSON, shared by the API and the
//!   dashboard.
//! - [`halves`]: the list reads' work over two cores.
//! - [`demo`]: deterministic demo data for `slod serve --demo`.
//! - [`ops`]: `slod backup` and `slod migrate` (SPEC §18).
//! - [`manifest`]: SLOs as files (SPEC §14), pure: the documents, the
//!   plan, the export; [`files`]: `slod apply` and `slod export` on top.
//! - [`notify`]: notification delivery (webhooks, Slack, Teams), the live
//!   event stream and the 30-second alert evaluator (SPEC §8).
//! - [`startup`]: binds the listener and serves until shut down.
//! - [`telemetry`]: structured logs.
//! - [`web`]: the dashboard, server-rendered HTML at `/` (SPEC §11).
//!
//! `src/main.rs` only parses the command line and hands over to
//! [`startup`].

pub mod access;
pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod database;
pub mod demo;
pub mod documents;
pub mod files;
pub mod halves;
pub mod input;
pub mod manifest;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod scheduler;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
