//! End-to-end tests: the real HTTP server, a fresh database per test (SQLite,
//! or PostgreSQL when `SLOD_TEST_DATABASE_URL` is set: see `helpers`),
//! and a [`ManualClock`](slod::clock::ManualClock) the test moves by hand.
//! `durability` runs the compiled binary instead, to kill it with SIGKILL.

mod access;
mod alertmanager;
mod browser;
mod calendar;
mod concurrency;
mod demo;
mod dependencies;
mod durability;
mod errors;
mod health;
mod helpers;
mod integrations;
mod jobs;
mod maintenance;
mod notify;
mod objectives;
#[path = "../support/process.rs"]
mod process;
mod receiver;
mod status;
mod systems;
mod validation;
mod web;
