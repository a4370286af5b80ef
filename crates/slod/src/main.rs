//! The `slod` command: parses the command line and hands over to
//! [`slod::startup`].

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use slod::access::AccessSettings;
use slod::clock::SystemClock;
use slod::config::{Cli, Command, Settings};
use slod::startup::{shutdown_signal, Application};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            slod::telemetry::init(args.log_format);
            let settings = Settings::from(&args);
            match serve(&settings, AccessSettings::from(&args)).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    tracing::error!("{err:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Backup(args) => slod::ops::backup(&args).await,
        Command::Migrate(args) => slod::ops::migrate(&args).await,
        Command::Apply(args) => slod::files::apply(&args).await,
        Command::Export(args) => slod::files::export(&args).await,
        Command::Check(args) => slod::ops::check(&args).await,
        Command::Token(command) => slod::ops::token(&command).await,
    }
}

async fn serve(settings: &Settings, access: AccessSettings) -> anyhow::Result<()> {
    let app = Application::build_with_access(settings, access, Arc::new(SystemClock)).await?;
    app.run_until(shutdown_signal()).await
}
