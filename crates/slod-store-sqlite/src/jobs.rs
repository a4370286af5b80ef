//! [`JobStore`] and [`JobTx`] for SQLite.

use async_trait::async_trait;
use slod_store::{JobStore, JobTx};

use crate::tx::SqliteTx;
use crate::SqliteStore;

#[async_trait]
impl JobStore for SqliteStore {}

#[async_trait]
impl JobTx for SqliteTx {}
