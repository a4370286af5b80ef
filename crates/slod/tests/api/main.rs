//! End-to-end tests: the real HTTP server, a fresh database per test (SQLite,
//! or PostgreSQL when `SLOD_TEST_DATABASE_URL` is set: see `helpers`),
//! and a [`ManualClock`](slod::clock::ManualClock) the test moves by hand.
//! `durability` runs the compiled binary instead, to kill it with SIGKILL.

mod access;
mod alertmanager;
mod apply;
mod browser;
mod burn_alerts;
mod calendar;
mod checks;
mod concurrency;
mod corrections;
mod demo;
mod dependencies;
mod durability;
mod errors;
mod health;
mod helpers;
mod integrations;
mod jobs;
mod maintenance;
mod metrics;
mod notify;
mod objectives;
mod openapi;
#[path = "../support/process.rs"]
mod process;

mod receiver;
mod reports;
mod status;
mod systems;
mod validation;
mod web;
