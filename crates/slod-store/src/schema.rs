//! Where a database's schema stands against the migrations this binary
//! carries (SPEC §18 upgrades).
//!
//! Each backend records the migrations it applied in `_sqlx_migrations`
//! and reads that table into a [`SchemaStatus`] without changing anything.
//! Two decisions follow from it, the same on every backend:
//!
//! - what is pending ([`SchemaStatus::pending`]): migrated forward at
//!   start, or by `slod migrate`;
//! - whether the database is *newer* than this binary
//!   ([`SchemaStatus::refuse_newer`]): it holds a migration this binary
//!   does not know, so a later release made it. Such a database is refused
//!   before anything writes to it: an older binary would read a schema it
//!   does not understand, and running its migrations could not make that
//!   right.

/// One migration this binary carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub description: String,
}

impl std::fmt::Display for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04} {}", self.version, self.description)
    }
}

/// The applied migrations of one database and the known ones of this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Versions the database records as applied, ascending; empty for a
    /// database slod never migrated (or that does not exist yet).
    pub applied: Vec<i64>,
    /// The migrations this binary carries, ascending.
    pub known: Vec<Migration>,
}

/// A database migrated by a newer release than this binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the database was migrated by a newer release of slod: its schema is at version {database}, \
     this binary knows versions up to {binary} (unknown: {unknown:?}); run that newer release, \
     or restore a backup taken before the upgrade. The database was not changed"
)]
pub struct NewerDatabase {
    /// The database's newest applied version.
    pub database: i64,
    /// This binary's newest migration.
    pub binary: i64,
    /// The applied versions this binary does not know.
    pub unknown: Vec<i64>,
}

impl SchemaStatus {
    /// The known migrations the database has not applied, in order.
    pub fn pending(&self) -> Vec<&Migration> {
        self.known.iter().filter(|m| !self.applied.contains(&m.version)).collect()
    }

    /// The database's newest applied version (`None` when nothing is).
    pub fn database_version(&self) -> Option<i64> {
        self.applied.iter().copied().max()
    }

    /// This binary's newest migration (0 when it carries none).
    pub fn binary_version(&self) -> i64 {
        self.known.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// `Err` when the database holds a migration this binary does not know.
    pub fn refuse_newer(&self) -> Result<(), NewerDatabase> {
        let unknown: Vec<i64> = self
            .applied
            .iter()
            .copied()
            .filter(|v| !self.known.iter().any(|m| m.version == *v))
            .collect();
        match unknown.is_empty() {
            true => Ok(()),
            false => Err(NewerDatabase {
                database: self.database_version().unwrap_or(0),
                binary: self.binary_version(),
                unknown,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(applied: &[i64]) -> SchemaStatus {
        SchemaStatus {
            applied: applied.to_vec(),
            known: (1..=4)
                .map(|v| Migration { version: v, description: format!("m{v}") })
                .collect(),
        }
    }

    #[test]
    fn pending_lists_what_is_not_applied() {
        let pending: Vec<i64> = status(&[1, 2]).pending().iter().map(|m| m.version).collect();
        assert_eq!(pending, [3, 4]);
        assert!(status(&[1, 2, 3, 4]).pending().is_empty());
        assert_eq!(status(&[]).pending().len(), 4);
    }

    #[test]
    fn an_unknown_version_is_a_newer_database() {
        assert!(status(&[1, 2, 3, 4]).refuse_newer().is_ok());
        let err = status(&[1, 2, 3, 4, 9999]).refuse_newer().unwrap_err();
        assert_eq!((err.database, err.binary, err.unknown.clone()), (9999, 4, vec![9999]));
        let message = err.to_string();
        assert!(message.contains("9999") && message.contains("up to 4"), "{message}");
    }
}
