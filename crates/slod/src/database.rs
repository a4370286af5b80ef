//! Picks the storage backend from the database URL's scheme.
//!
//! `sqlite://PATH` opens (creating if needed) an embedded SQLite file; the
//! backend's `connect` runs its migrations before returning, so a store
//! handed out here is ready to serve. `postgres://` (or `postgresql://`)
//! connects to PostgreSQL (SPEC §10), waiting for the server while it is
//! unreachable and failing at once on bad credentials or a wrong URL.

use std::sync::Arc;

use anyhow::{bail, Context};
use slod_store::Store;

/// The backends a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Which backend `url` names, judged by its scheme alone.
pub fn backend_for(url: &str) -> anyhow::Result<Backend> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite") => Ok(Backend::Sqlite),
        Some("postgres" | "postgresql") => Ok(Backend::Postgres),
        _ => bail!(
            "unsupported database URL `{}`: expected sqlite://PATH or postgres://…",
            redact(url)
        ),
    }
}

/// Connects to the database `url` names and brings its schema up to date.
pub async fn connect_store(url: &str, pool_size: u32) -> anyhow::Result<Arc<dyn Store>> {
    match backend_for(url)? {
        Backend::Sqlite => {
            let store = slod_store_sqlite::SqliteStore::connect(url)
                .await
                .with_context(|| format!("opening the SQLite database {}", redact(url)))?;
            Ok(Arc::new(store))
        }
        Backend::Postgres => {
            let store = slod_store_postgres::PgStore::connect(url, pool_size)
                .await
                .with_context(|| format!("opening the PostgreSQL database {}", redact(url)))?;
            Ok(Arc::new(store))
        }
    }
}

/// `url` with any password replaced, for logs and error messages: a
/// PostgreSQL URL may carry credentials, which are never logged.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_picks_the_backend() {
        assert_eq!(backend_for("sqlite://slod.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_for("SQLite:///tmp/x.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_for("postgres://u:p@h/db").unwrap(), Backend::Postgres);
        assert!(backend_for("mysql://h/db").is_err());
        assert!(backend_for("slod.db").is_err());
    }

    #[tokio::test]
    async fn a_malformed_postgres_url_fails_at_once() {
        let err = connect_store("postgres://user@host:notaport/db", 1).await.err().unwrap();
        assert!(format!("{err:#}").contains("PostgreSQL"), "{err:#}");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://me:secret@db:5432/slod"), "postgres://me:***@db:5432/slod");
        assert_eq!(redact("sqlite://slod.db"), "sqlite://slod.db");
        assert_eq!(redact("postgres://db/slod"), "postgres://db/slod");
    }
}
