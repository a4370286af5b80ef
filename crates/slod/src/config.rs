//! The command line and the settings it produces.
//!
//! Every flag has an environment-variable twin (`SLOD_LISTEN`, …) and a
//! default, so `slod serve` runs with no configuration at all. The parsed
//! flags become one [`Settings`] value that start-up passes explicitly;
//! nothing reads the environment after this point.

use std::net::SocketAddr;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "slod", version, about = "Service Level Objectives for the systems you run")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Copy a SQLite database to a file while slod runs (restore: start
    /// slod on the copy). For PostgreSQL use pg_dump.
    Backup(BackupArgs),
    /// Apply (or, with --dry-run, list) the database's pending migrations
    /// without serving.
    Migrate(MigrateArgs),
    /// Create, list and revoke API tokens (SPEC §16).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Make slod's systems and named objectives match YAML/JSON files
    /// (OpenSLO, Checkstack): prints the plan; exits 1 on an invalid file.
    Apply(ApplyArgs),
    /// Write every named objective and its systems as YAML that
    /// `slod apply` reads back.
    Export(ExportArgs),
    /// Verify the stored downtime against its invariants (exit 0 when
    /// consistent, 1 otherwise); --repair rebuilds the events of each
    /// inconsistent objective from the report log.
    Check(CheckArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown this once only).
    Create(TokenCreateArgs),
    /// List the tokens that are not revoked (never their secrets).
    List(TokenDatabaseArgs),
    /// Revoke a token at once.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct TokenDatabaseArgs {
    /// Database URL, as for `slod serve`.
    #[arg(long, env = "SLOD_DATABASE", default_value = "sqlite://slod.db")]
    pub database: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TokenCreateArgs {
    /// What the token is for (shown in `slod token list`).
    #[arg(long)]
    pub name: String,
    /// `read` (every GET), `ingest` (health reports and integrations) or
    /// `manage` (everything).
    #[arg(long)]
    pub scope: String,
    #[command(flatten)]
    pub db: TokenDatabaseArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TokenRevokeArgs {
    /// The token's id (from `slod token list`).
    pub id: String,
    #[command(flatten)]
    pub db: TokenDatabaseArgs,
}

/// Where `slod apply` and `slod export` act: a running server or the
/// database directly. Exactly one.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// The server's root URL, e.g. http://127.0.0.1:8080 (goes through its
    /// API).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,

    /// A database URL, as for `slod serve` (applies directly; migrates the
    /// schema first, as `serve` would).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

/// The API token `--server` sends (SPEC §16): `manage` to apply, `read` to
/// export. Not needed while the server has no tokens.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArg {
    #[arg(long, env = "SLOD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// Files or directories (read recursively: .yaml, .yml, .json), each
    /// file one or more documents.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true, num_args = 1..)]
    pub paths: Vec<std::path::PathBuf>,

    #[command(flatten)]
    pub target: Target,

    #[command(flatten)]
    pub auth: TokenArg,

    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Delete named objectives that no file declares any more.
    #[arg(long)]
    pub prune: bool,

    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanOutput::Table)]
    pub output: PlanOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    Table,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The documents' format.
    #[arg(long, value_enum, default_value_t = ExportFormatArg::Openslo)]
    pub format: ExportFormatArg,

    #[command(flatten)]
    pub target: Target,

    #[command(flatten)]
    pub auth: TokenArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    Openslo,
    Checkstack,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Database URL, as for `slod serve`.
    #[arg(long, env = "SLOD_DATABASE", default_value = "sqlite://slod.db")]
    pub database: String,

    /// Rebuild the events of each inconsistent objective from the report
    /// log, in one transaction, then check again.
    #[arg(long)]
    pub repair: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// The database to copy: `sqlite://PATH`.
    #[arg(long, env = "SLOD_DATABASE", default_value = "sqlite://slod.db")]
    pub database: String,

    /// The file to write the copy to.
    #[arg(long, value_name = "FILE")]
    pub to: std::path::PathBuf,

    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// Database URL, as for `slod serve`.
    #[arg(long, env = "SLOD_DATABASE", default_value = "sqlite://slod.db")]
    pub database: String,

    /// List the pending migrations; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "SLOD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Database URL: `sqlite://PATH` (created if missing) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (also `postgresql://`) for
    /// several replicas on one database.
    #[arg(long, env = "SLOD_DATABASE", default_value = "sqlite://slod.db")]
    pub database: String,

    /// Connections in the PostgreSQL pool (SQLite always uses one writer).
    #[arg(long, env = "SLOD_DATABASE_POOL_SIZE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,

    /// Seed demo systems, objectives and 30 days of history into an empty
    /// database.
    #[arg(long, env = "SLOD_DEMO")]
    pub demo: bool,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "SLOD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Serve a non-loopback address while no API token exists (anyone who
    /// can reach it can do anything): only behind something that controls
    /// access itself.
    #[arg(long, env = "SLOD_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,

    /// Serve `/metrics` without a token.
    #[arg(long, env = "SLOD_PUBLIC_METRICS")]
    pub public_metrics: bool,

    /// Let anyone read the dashboard without logging in (editing still
    /// needs a `manage` session).
    #[arg(long, env = "SLOD_PUBLIC_DASHBOARD")]
    pub public_dashboard: bool,

    /// Refuse webhook channels that reach loopback or private addresses
    /// (link-local ones are always refused).
    #[arg(long, env = "SLOD_DENY_PRIVATE_WEBHOOKS")]
    pub deny_private_webhooks: bool,
}

impl From<&ServeArgs> for crate::access::AccessSettings {
    fn from(args: &ServeArgs) -> Self {
        Self {
            insecure_no_auth: args.insecure_no_auth,
            public_metrics: args.public_metrics,
            public_dashboard: args.public_dashboard,
            deny_private_webhooks: args.deny_private_webhooks,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `slod serve` needs to start, resolved from flags and
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub database_pool_size: u32,
    pub demo: bool,
}

impl From<&ServeArgs> for Settings {
    fn from(args: &ServeArgs) -> Self {
        Self {
            listen: args.listen,
            database_url: args.database.clone(),
            database_pool_size: args.database_pool_size,
            demo: args.demo,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_runs_with_no_flags() {
        let cli = Cli::try_parse_from(["slod", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        let settings = Settings::from(&args);
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.database_url, "sqlite://slod.db");
        assert!(!settings.demo);
    }

    #[test]
    fn apply_takes_paths_and_exactly_one_target() {
        let cli = Cli::try_parse_from([
            "slod",
            "apply",
            "-f",
            "a.yaml",
            "dir",
            "-f",
            "b.json",
            "--server",
            "http://x",
            "--dry-run",
        ])
        .unwrap();
        let Command::Apply(args) = cli.command else { panic!("not apply") };
        assert_eq!(args.paths.len(), 3);
        assert!(args.dry_run && !args.prune);
        assert_eq!(args.target.server.as_deref(), Some("http://x"));
        assert!(Cli::try_parse_from(["slod", "apply", "-f", "a.yaml"]).is_err(), "no target");
        assert!(Cli::try_parse_from([
            "slod",
            "apply",
            "-f",
            "a",
            "--server",
            "http://x",
            "--database",
            "sqlite://x"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["slod", "apply", "--server", "http://x"]).is_err(), "no -f");
    }

    #[test]
    fn access_flags_reach_the_access_settings() {
        let cli = Cli::try_parse_from(["slod", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        assert_eq!(crate::access::AccessSettings::from(&args), Default::default());
        let cli = Cli::try_parse_from([
            "slod",
            "serve",
            "--insecure-no-auth",
            "--public-metrics",
            "--public-dashboard",
            "--deny-private-webhooks",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        let access = crate::access::AccessSettings::from(&args);
        assert!(access.insecure_no_auth && access.public_metrics);
        assert!(access.public_dashboard && access.deny_private_webhooks);
    }

    #[test]
    fn token_commands_parse() {
        let cli = Cli::try_parse_from([
            "slod",
            "token",
            "create",
            "--name",
            "ci",
            "--scope",
            "ingest",
            "--database",
            "sqlite://x.db",
        ])
        .unwrap();
        let Command::Token(TokenCommand::Create(args)) = cli.command else { panic!("create") };
        assert_eq!((args.name.as_str(), args.scope.as_str()), ("ci", "ingest"));
        assert_eq!(args.db.database, "sqlite://x.db");
        let cli = Cli::try_parse_from(["slod", "token", "revoke", "abc"]).unwrap();
        let Command::Token(TokenCommand::Revoke(args)) = cli.command else { panic!("revoke") };
        assert_eq!(args.id, "abc");
    }

    #[test]
    fn flags_override_defaults() {
        let cli = Cli::try_parse_from([
            "slod",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite:///tmp/x.db",
            "--demo",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        let settings = Settings::from(&args);
        assert_eq!(settings.listen.port(), 0);
        assert_eq!(settings.database_url, "sqlite:///tmp/x.db");
        assert!(settings.demo);
    }
}
