//! The operator's commands besides `serve` (SPEC §18): `slod backup`,
//! `slod migrate`, `slod token create|list|revoke` (SPEC §16) and `slod check`
//! (SPEC §12).
//!
//! Each prints what it did on stdout and any failure on stderr, and turns
//! the outcome into the exit status: 0 done, 1 failed, 2 not something this
//! command does (a PostgreSQL backup: that is `pg_dump`'s job).
//!
//! ```text
//! $ slod backup --database sqlite:///var/lib/slod/slod.db --to /backups/slod-2026-12-02.db
//! backed up sqlite:///var/lib/slod/slod.db to /backups/slod-2026-12-02.db (274432 bytes)
//! $ slod migrate --database sqlite:///var/lib/slod/slod.db --dry-run
//! schema at version 4; no migration pending
//! $ slod check --database sqlite:///var/lib/slod/slod.db
//! objective 6f1c… (system api): events [2026-12-01T10:00:00.000Z, 2026-12-01T10:30:00.000Z) and [2026-12-01T10:20:00.000Z, open) overlap
//! sqlite:///var/lib/slod/slod.db: 4 systems, 7 objectives, 112 events checked: 1 problem in 1 objective
//! ```
//!
//! `slod check` exits 0 when the database is consistent (after a repair,
//! when `--repair` made it so) and 1 otherwise or on failure.

use std::process::ExitCode;

use anyhow::anyhow;
use slod_store::schema::{Migration, SchemaStatus};

use crate::config::{BackupArgs, CheckArgs, MigrateArgs, TokenCommand};
use crate::database::{backend_for, connect_store, redact, Backend};
use crate::service::audit::{self, CheckOutcome, Findings};
use crate::service::tokens::{self, NewToken};

/// Why a command failed, and the exit status that says so.
struct Failure {
    status: u8,
    error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self { status: 1, error }
    }
}

/// Prints the outcome and turns it into the exit status.
fn finish(outcome: Result<String, Failure>) -> ExitCode {
    match outcome {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(Failure { status, error }) => {
            eprintln!("error: {error:#}");
            ExitCode::from(status)
        }
    }
}

/// Warnings (a PostgreSQL server still starting, …) on stderr, so stdout
/// holds only the command's report.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// `slod backup --database sqlite://PATH --to FILE [--force]`.
pub async fn backup(args: &BackupArgs) -> ExitCode {
    init_logs();
    finish(run_backup(args).await)
}

async fn run_backup(args: &BackupArgs) -> Result<String, Failure> {
    let database = redact(&args.database);
    match backend_for(&args.database)? {
        Backend::Postgres => Err(Failure {
            status: 2,
            error: anyhow!(
                "slod backup copies SQLite databases only, and {database} is PostgreSQL: back it \
                 up with pg_dump (`pg_dump -Fc -f slod.dump URL`) and restore with pg_restore; \
                 the README's Operations section shows both"
            ),
        }),
        Backend::Sqlite => {
            let started = std::time::Instant::now();
            let bytes =
                slod_store_sqlite::ops::backup(&args.database, &args.to, args.force).await?;
            Ok(format!(
                "backed up {database} to {} ({bytes} bytes in {:.1} s)",
                args.to.display(),
                started.elapsed().as_secs_f64()
            ))
        }
    }
}

/// `slod migrate --database URL [--dry-run]`.
pub async fn migrate(args: &MigrateArgs) -> ExitCode {
    init_logs();
    finish(run_migrate(args).await)
}

async fn run_migrate(args: &MigrateArgs) -> Result<String, Failure> {
    let backend = backend_for(&args.database)?;
    let status = match backend {
        Backend::Sqlite => slod_store_sqlite::ops::schema_status(&args.database).await?,
        Backend::Postgres => slod_store_postgres::ops::schema_status(&args.database).await?,
    };
    status.refuse_newer().map_err(anyhow::Error::from)?;
    let database = redact(&args.database);
    if args.dry_run {
        return Ok(describe_pending(&database, &status));
    }
    let applied = match backend {
        Backend::Sqlite => slod_store_sqlite::ops::migrate(&args.database).await?,
        Backend::Postgres => slod_store_postgres::ops::migrate(&args.database).await?,
    };
    let mut report = String::new();
    for migration in &applied {
        report.push_str(&format!("applied {migration}\n"));
    }
    report.push_str(&format!(
        "{database}: schema at version {}; {} applied",
        status.binary_version(),
        count(applied.len())
    ));
    Ok(report)
}

/// What `--dry-run` prints: where the schema stands and what would run.
fn describe_pending(database: &str, status: &SchemaStatus) -> String {
    let at = match status.database_version() {
        Some(version) => format!("schema at version {version}"),
        None => "no schema yet".to_owned(),
    };
    let pending: Vec<&Migration> = status.pending();
    if pending.is_empty() {
        return format!("{database}: {at}; no migration pending");
    }
    let mut report = String::new();
    for migration in &pending {
        report.push_str(&format!("pending {migration}\n"));
    }
    report.push_str(&format!(
        "{database}: {at}; {} pending (nothing applied: dry run)",
        count(pending.len())
    ));
    report
}

/// `slod check --database URL [--repair]`.
pub async fn check(args: &CheckArgs) -> ExitCode {
    init_logs();
    match run_check(args).await {
        Ok((report, consistent)) => {
            println!("{report}");
            if consistent {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn run_check(args: &CheckArgs) -> anyhow::Result<(String, bool)> {
    let database = redact(&args.database);
    let store = connect_store(&args.database, 2).await?;
    let outcome = audit::check(&*store, args.repair)
        .await
        .map_err(|err| anyhow!("checking {database}: {err}"))?;
    Ok((describe_check(&database, &outcome), outcome.is_consistent()))
}

/// What `slod check` prints: one line per problem, what a repair did, and
/// a summary line.
fn describe_check(database: &str, outcome: &CheckOutcome) -> String {
    let mut report = String::new();
    for problem in &outcome.before.problems {
        report.push_str(&format!("{problem}\n"));
    }
    report.push_str(&summary(database, &outcome.before));
    if let Some((repaired, after)) = &outcome.repair {
        for r in repaired {
            report.push_str(&format!(
                "\nrepaired objective {} (system {}): {} events replaced by {} rebuilt from the \
                 report log",
                r.objective_id, r.system_id, r.events_before, r.events_after
            ));
        }
        for problem in &after.problems {
            report.push_str(&format!("\n{problem}"));
        }
        report.push_str(&format!("\nafter repair: {}", summary(database, after)));
        if !repaired.is_empty() {
            report.push_str(
                "\nrunning slod servers keep closed history cached: restart them to serve the \
                 repaired events",
            );
        }
    }
    report
}

fn summary(database: &str, findings: &Findings) -> String {
    let checked = format!(
        "{database}: {} systems, {} objectives, {} events checked",
        findings.systems, findings.objectives, findings.events
    );
    if findings.is_consistent() {
        return format!("{checked}: consistent");
    }
    let objectives = findings.objectives_affected().len();
    format!(
        "{checked}: {} in {}",
        plural(findings.problems.len(), "problem"),
        plural(objectives, "objective")
    )
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `slod token create|list|revoke`: the same operations as `/api/v1/tokens`,
/// on the database directly (how the first token is made).
pub async fn token(command: &TokenCommand) -> ExitCode {
    init_logs();
    finish(run_token(command).await)
}

async fn run_token(command: &TokenCommand) -> Result<String, Failure> {
    let database = match command {
        TokenCommand::Create(args) => &args.db.database,
        TokenCommand::List(args) => &args.database,
        TokenCommand::Revoke(args) => &args.db.database,
    };
    let store = connect_store(database, 1).await?;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let failed = |err: crate::service::ServiceError| Failure::from(anyhow!("{err}"));
    match command {
        TokenCommand::Create(args) => {
            let name = tokens::parse_token_name(&args.name, "--name")
                .map_err(|err| anyhow!("{}: {}", err.field, err.message))?;
            let scope = tokens::parse_scope(&args.scope, "--scope")
                .map_err(|err| anyhow!("{}: {}", err.field, err.message))?;
            let issued = tokens::create_token(&*store, now, NewToken { name, scope })
                .await
                .map_err(failed)?;
            Ok(format!(
                "created token {} ({}, {}); its secret, shown this once:\n{}",
                issued.row.id,
                issued.row.name,
                issued.row.scope,
                issued.token.expose()
            ))
        }
        TokenCommand::List(_) => {
            let rows = tokens::list_tokens(&*store).await.map_err(failed)?;
            let mut report = format!(
                "{:<16}  {:<7}  {:<24}  {:<24}  name",
                "id", "scope", "created", "last used"
            );
            for row in rows {
                let last =
                    row.last_used_at.map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
                report.push_str(&format!(
                    "\n{:<16}  {:<7}  {:<24}  {:<24}  {}",
                    row.id,
                    row.scope.as_str(),
                    row.created_at.to_rfc3339(),
                    last,
                    row.name
                ));
            }
            Ok(report)
        }
        TokenCommand::Revoke(args) => {
            tokens::revoke_token(&*store, now, &args.id).await.map_err(failed)?;
            Ok(format!("revoked token {}", args.id))
        }
    }
}

fn count(n: usize) -> String {
    match n {
        1 => "1 migration".to_owned(),
        n => format!("{n} migrations"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(applied: &[i64]) -> SchemaStatus {
        SchemaStatus {
            applied: applied.to_vec(),
            known: (1..=3)
                .map(|v| Migration { version: v, description: format!("m{v}") })
                .collect(),
        }
    }

    #[test]
    fn a_dry_run_lists_what_would_run() {
        assert_eq!(
            describe_pending("db", &status(&[1, 2, 3])),
            "db: schema at version 3; no migration pending"
        );
        assert_eq!(
            describe_pending("db", &status(&[1])),
            "pending 0002 m2\npending 0003 m3\n\
             db: schema at version 1; 2 migrations pending (nothing applied: dry run)"
        );
        assert!(describe_pending("db", &status(&[])).contains("no schema yet; 3 migrations"));
    }
}
