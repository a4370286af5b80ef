//! [`NotifyStore`] and [`NotifyTx`] for SQLite.

use async_trait::async_trait;
use slod_store::{NotifyStore, NotifyTx};

use crate::tx::SqliteTx;
use crate::SqliteStore;

#[async_trait]
impl NotifyStore for SqliteStore {}

#[async_trait]
impl NotifyTx for SqliteTx {}
