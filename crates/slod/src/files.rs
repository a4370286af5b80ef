//! `slod apply` and `slod export` (SPEC §14): SLOs as files on the
//! command line, against a server (`--server URL`, through its API) or a
//! database (`--database URL`, through the service layer directly).
//!
//! ```text
//! $ slod apply -f slos/ --server http://127.0.0.1:8080 --dry-run
//! KIND       NAME              ACTION     CHANGES
//! system     api               unchanged
//! objective  api-availability  update     target: 99.9 → 99.95
//!
//! 0 created, 1 updated, 1 unchanged, 0 deleted (dry run: nothing changed)
//! ```
//!
//! Exit status 0 when the files are valid (and applied, unless a dry
//! run), 1 otherwise: an invalid file, a refused plan, a server or database
//! that cannot be reached. So `slod apply --dry-run` guards a pull request.
//!
//! With `--server`, the files go to `POST /api/v1/apply` whole, with their
//! names, and the server reads them exactly as `--database` reads them
//! here: an error names the same file, document and line either way.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use crate::clock::{Clock, SystemClock};
use crate::config::{ApplyArgs, ExportArgs, ExportFormatArg, PlanOutput, Target};
use crate::database::connect_store;
use crate::manifest::export::ExportFormat;
use crate::manifest::plan::{render_table, ApplyReport};
use crate::service::apply::{self as service, ApplyOptions};
use crate::service::ServiceError;

/// `slod apply -f PATH... (--server URL | --database URL) [--dry-run] [--prune]`.
pub async fn apply(args: &ApplyArgs) -> ExitCode {
    match run_apply(args).await {
        Ok(report) => {
            match args.output {
                PlanOutput::Table => println!("{}", render_table(&report)),
                PlanOutput::Json => println!("{}", json!(report)),
            }
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

/// `slod export --format openslo|checkstack (--server URL | --database URL)`.
pub async fn export(args: &ExportArgs) -> ExitCode {
    match run_export(args).await {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}

async fn run_apply(args: &ApplyArgs) -> anyhow::Result<ApplyReport> {
    let files = read_paths(&args.paths)?;
    let options = ApplyOptions { dry_run: args.dry_run, prune: args.prune };
    match target(&args.target)? {
        Where::Server(url) => {
            let body = json!({
                "files": files.iter().map(|(name, content)| json!({"name": name, "content": content}))
                    .collect::<Vec<_>>(),
            });
            let query = format!("?dryRun={}&prune={}", options.dry_run, options.prune);
            let request = client(url)?.post(api_url(url, "/apply", &query)).json(&body);
            let answer = send(authorized(request, args.auth.token.as_deref())).await?;
            serde_json::from_value(answer).context("reading the server's plan")
        }
        Where::Database(url) => {
            let documents =
                crate::manifest::read_files(files.iter().map(|(n, c)| (n.as_str(), c.as_str())))
                    .map_err(|e| anyhow!("{e}"))?;
            let store = connect_store(url, 2).await?;
            service::apply(&*store, SystemClock.now(), &documents, options)
                .await
                .map_err(service_error)
        }
    }
}

async fn run_export(args: &ExportArgs) -> anyhow::Result<String> {
    let format = match args.format {
        ExportFormatArg::Openslo => ExportFormat::OpenSlo,
        ExportFormatArg::Checkstack => ExportFormat::Checkstack,
    };
    match target(&args.target)? {
        Where::Server(url) => {
            let name = match format {
                ExportFormat::OpenSlo => "openslo",
                ExportFormat::Checkstack => "checkstack",
            };
            let request = client(url)?.get(api_url(url, "/export", &format!("?format={name}")));
            let response = authorized(request, args.auth.token.as_deref())
                .send()
                .await
                .with_context(|| format!("reaching {url}"))?;
            let status = response.status();
            let text = response.text().await.context("reading the server's answer")?;
            if !status.is_success() {
                bail!("{}", server_message(status, &text));
            }
            Ok(text)
        }
        Where::Database(url) => {
            let store = connect_store(url, 2).await?;
            service::export(&*store, format).await.map_err(service_error)
        }
    }
}

enum Where<'a> {
    Server(&'a str),
    Database(&'a str),
}

fn target(target: &Target) -> anyhow::Result<Where<'_>> {
    match (&target.server, &target.database) {
        (Some(url), None) => Ok(Where::Server(url.trim_end_matches('/'))),
        (None, Some(url)) => Ok(Where::Database(url)),
        // clap's argument group makes this one of the two.
        _ => bail!("give exactly one of --server URL and --database URL"),
    }
}

/// A refused apply says only what the files got wrong (the message names
/// the file, document, line and field); anything else with its cause.
fn service_error(err: ServiceError) -> anyhow::Error {
    match err {
        ServiceError::Invalid(err) => anyhow!("{}", err.message),
        ServiceError::Internal(err) => err,
        other => anyhow!("{other}"),
    }
}

fn api_url(server: &str, path: &str, query: &str) -> String {
    format!("{server}/api/v1{path}{query}")
}

/// A client that goes straight to loopback servers (never through a proxy
/// from the environment) and times out rather than hang a CI job.
fn client(server: &str) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60));
    let host = server.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
    if host == "localhost" || host.starts_with("127.") || server.contains("://[::1]") {
        builder = builder.no_proxy();
    }
    builder.build().context("setting up the HTTP client")
}

/// With `--token` (or `SLOD_TOKEN`), the request carries it as a bearer
/// token; it is never printed.
fn authorized(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Sends a request; a non-2xx answer is an error carrying the server's
/// message.
async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response = request.send().await.context("reaching the server")?;
    let status = response.status();
    let text = response.text().await.context("reading the server's answer")?;
    if !status.is_success() {
        bail!("{}", server_message(status, &text));
    }
    serde_json::from_str(&text).with_context(|| format!("the server's answer is not JSON: {text}"))
}

/// The `message` of our error shape, or the status and the raw text.
fn server_message(status: reqwest::StatusCode, text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|body| body["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("the server answered {status}: {text}"))
}

/// Every file the paths name, in order: a file as given, a directory's
/// `.yaml`/`.yml`/`.json` files recursively in name order. Each comes
/// with the name errors will use (the path as the user wrote it).
fn read_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            collect(path, &mut found)?;
            found.sort();
            if found.is_empty() {
                bail!("{} holds no .yaml, .yml or .json file", path.display());
            }
            for file in found {
                files.push(read(&file)?);
            }
        } else {
            files.push(read(path)?);
        }
    }
    Ok(files)
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
        if path.is_dir() {
            collect(&path, found)?;
        } else if is_document_file(&path) {
            found.push(path);
        }
    }
    Ok(())
}

fn is_document_file(path: &Path) -> bool {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    matches!(extension.as_deref(), Some("yaml" | "yml" | "json"))
}

fn read(path: &Path) -> anyhow::Result<(String, String)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_read_recursively_in_name_order_and_only_document_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nested")).unwrap();
        for name in ["b.yaml", "a.yml", "nested/c.json", "README.md", "notes.txt"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let files = read_paths(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|(n, _)| n.strip_prefix(&format!("{}/", dir.path().display())).unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.yml", "b.yaml", "nested/c.json"]);
        assert!(read_paths(&[dir.path().join("missing.yaml")]).is_err());
    }
}
