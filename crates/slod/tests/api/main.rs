//! End-to-end tests: the real HTTP server, a fresh SQLite database per test,
//! and a [`ManualClock`](slod::clock::ManualClock) the test moves by hand.
//! `durability` runs the compiled binary instead, to kill it with SIGKILL.

mod concurrency;
mod demo;
mod dependencies;
mod durability;
mod errors;
mod health;
mod helpers;
mod objectives;
mod status;
mod systems;
mod validation;
