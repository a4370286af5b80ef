//! SLOs as files (SPEC §14): the documents `slod apply` reads, the plan
//! that compares them with what is stored, and the export that writes
//! stored objectives back as documents.
//!
//! Pure: no I/O, no store. The command line (`slod apply --database`), the
//! HTTP route (`POST /api/v1/apply`) and the service that carries a plan
//! out all use this one module, so a file means the same everywhere and an
//! error reads the same everywhere:
//!
//! ```text
//! slo.yaml: document 2 (line 14): spec.objectives[0].target: must be between 0 and 1
//! ```
//!
//! - [`source`]: file text (YAML streams, JSON) → located raw documents.
//! - [`document`]: a raw document → a typed system or objective spec.
//! - [`plan`]: specs + what is stored → create / update / unchanged /
//!   delete, and the steps that do it; the table the CLI prints.
//! - [`export`]: stored objectives → OpenSLO or Checkstack YAML.

pub mod document;
pub mod export;
pub mod plan;
pub mod source;

pub use document::Located;
pub use source::{DocumentRef, ManifestError};

/// Every document of several files, in order, each checked on its own.
/// The first error stops it: nothing is applied from files with a bad
/// document.
pub fn read_files<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Located>, ManifestError> {
    let mut documents = Vec::new();
    for (name, text) in files {
        for raw in source::parse(name, text, source::Format::of_path(name))? {
            documents.push(document::read(&raw)?);
        }
    }
    Ok(documents)
}
