//! `mlgate validate`: schema checks and drift, from one streaming pass over the data.
//!
//! This module wires the pieces: [`scan`] runs the per-row checks and builds the profile,
//! [`report`] turns them into `validation.json`, [`drift`] compares profiles, [`infer`] proposes a
//! schema. It never prints; the command layer decides what to show.

pub mod drift;
pub mod infer;
mod labels;
pub mod profile;
pub mod report;
mod row_key;
mod runs;
pub mod scan;
pub mod schema;
pub mod tracker;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{DataFormat, LoadedConfig};
use crate::data::{self, ReadOptions, ScanSummary};
use crate::git::DataRepo;

use self::profile::Profile;
use self::report::{DataInfo, ValidationReport};
use self::scan::Scanner;
use self::schema::Schema;

/// Where the drift reference comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// The data file at the merge-base of HEAD and this revision.
    Git(String),
    /// A data file or a `profile.json`.
    Path(PathBuf),
}

impl Reference {
    /// Parses `git:REV` or a path (relative paths are resolved against `base`).
    pub fn parse(text: &str, base: &Path) -> Reference {
        match text.strip_prefix("git:") {
            Some(rev) => Reference::Git(rev.to_string()),
            None if base == Path::new(".") => Reference::Path(PathBuf::from(text)),
            None => Reference::Path(base.join(text)),
        }
    }
}

/// What `validate` produced.
#[derive(Debug)]
pub struct Validation {
    /// The checks and drift.
    pub report: ValidationReport,
    /// The current data's profile.
    pub profile: Profile,
    /// Data row `n` is on line `n + 1` of the file ([`ScanSummary::one_line_per_row`]).
    pub one_line_per_row: bool,
}

/// Runs the checks and, with a reference, the drift comparison.
pub fn validate(
    config: &LoadedConfig,
    schema: Schema,
    reference: Option<&Reference>,
) -> anyhow::Result<Validation> {
    let data_path = config.data_path();
    let label = config.config.data.path.display().to_string();
    let options = ReadOptions::from_config(&config.config.data, &data_path);
    check_target_and_id(config, &schema)?;
    let schema_for_reference = schema.clone();
    let (summary, scanner) = scan_for_checks(&data_path, &label, &options, schema)?;
    let profile = Profile::from_scan(&label, &summary, &scanner);
    let checks = report::build_checks(&scanner);
    let drift = match reference {
        Some(reference) => {
            let (reference_profile, reference_label) =
                load_reference(config, reference, schema_for_reference, &options)?;
            reference_profile.map(|reference_profile| {
                drift::compare(
                    &reference_profile,
                    &profile,
                    &config.config.drift,
                    config.config.data.id.as_deref(),
                    &reference_label,
                )
            })
        }
        None => None,
    };
    let info = data_info(&label, options.format, &summary, &scanner);
    let schema_file = config.config.schema.display().to_string();
    Ok(Validation {
        report: ValidationReport::new(info, schema_file, checks, drift),
        profile,
        one_line_per_row: summary.one_line_per_row,
    })
}

/// The checking pass over the data. Where ids come in runs, the duplicate-row check leaves
/// their rows to the unique check's proof that no id repeats; when an id does repeat after
/// all, the data is read again, keying the rows with repeated ids (and, should that not
/// settle it, every row): see [`Scanner::next_pass`].
fn scan_for_checks(
    path: &Path,
    label: &str,
    options: &ReadOptions,
    schema: Schema,
) -> anyhow::Result<(ScanSummary, Scanner)> {
    let mut scanner = Scanner::new(schema.clone());
    let first = data::scan_file(path, options, &mut scanner)?;
    let mut summary = first.clone();
    while scanner.needs_second_pass() {
        scanner = scanner.next_pass(schema.clone());
        summary = data::scan_file(path, options, &mut scanner)?;
        anyhow::ensure!(
            summary.fingerprint == first.fingerprint,
            "`{label}` changed while it was being read: its bytes differ between two passes"
        );
    }
    Ok((summary, scanner))
}

/// The `data` block of the report.
fn data_info(
    label: &str,
    format: DataFormat,
    summary: &ScanSummary,
    scanner: &Scanner,
) -> DataInfo {
    DataInfo {
        file: label.to_string(),
        format: match format {
            DataFormat::Parquet => "parquet",
            _ => "csv",
        }
        .to_string(),
        rows: summary.rows,
        columns: scanner.columns.iter().map(|c| c.name.clone()).collect(),
        bytes: summary.bytes,
        fingerprint: summary.fingerprint.clone(),
    }
}

/// `data.target` and `data.id` must name schema columns: a typo there would silently disable
/// the class and uniqueness checks.
fn check_target_and_id(config: &LoadedConfig, schema: &Schema) -> anyhow::Result<()> {
    for (key, name) in [
        ("target", &config.config.data.target),
        ("id", &config.config.data.id),
    ] {
        let Some(name) = name else { continue };
        if schema.column(name).is_none() {
            let known: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
            let hint = known
                .iter()
                .map(|k| (strsim::jaro_winkler(name, k), *k))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| format!("did you mean `{k}`?"));
            return Err(config
                .error_at(
                    &["data", key],
                    format!(
                        "`{key}` names column `{name}`, which the schema `{}` does not list",
                        config.config.schema.display()
                    ),
                    hint,
                )
                .into());
        }
    }
    Ok(())
}

/// Builds the reference profile; `None` when a git reference has no such file yet.
fn load_reference(
    config: &LoadedConfig,
    reference: &Reference,
    schema: Schema,
    options: &ReadOptions,
) -> anyhow::Result<(Option<Profile>, String)> {
    match reference {
        Reference::Path(path) if path.extension().is_some_and(|e| e == "json") => {
            let profile = Profile::load(path).context("cannot use the drift reference")?;
            Ok((Some(profile), path.display().to_string()))
        }
        Reference::Path(path) => {
            let mut scanner = Scanner::new(schema);
            let reference_options = ReadOptions {
                format: data::resolve_format(config.config.data.format, path),
                ..options.clone()
            };
            let summary = data::scan_file(path, &reference_options, &mut scanner)
                .context("cannot read the drift reference")?;
            let label = path.display().to_string();
            Ok((Some(Profile::from_scan(&label, &summary, &scanner)), label))
        }
        Reference::Git(rev) => {
            let repo = DataRepo::discover(&config.dir)?;
            let base = repo.merge_base_with(rev)?;
            let short = base.to_string()[..7].to_string();
            let label = format!("git:{rev} (merge-base {short})");
            let Some(blob) = repo.file_at(base, &config.data_path())? else {
                return Ok((None, label));
            };
            let mut scanner = Scanner::new(schema);
            let blob_label = format!("{}@{short}", config.config.data.path.display());
            let summary = data::scan_bytes(&blob_label, blob.content(), options, &mut scanner)?;
            Ok((
                Some(Profile::from_scan(&blob_label, &summary, &scanner)),
                label,
            ))
        }
    }
}

/// Infers a schema from the data (two passes; see [`infer`]).
pub fn infer_schema(config: &LoadedConfig) -> anyhow::Result<Schema> {
    let data_path = config.data_path();
    let options = ReadOptions::from_config(&config.config.data, &data_path);
    let mut sniffer = infer::TypeSniffer::default();
    let summary = data::scan_file(&data_path, &options, &mut sniffer)?;
    if summary.rows == 0 {
        anyhow::bail!(
            "`{}` has a header but no data rows: there is nothing to infer a schema from",
            config.config.data.path.display()
        );
    }
    let provisional = sniffer.provisional_schema(&config.config.data);
    let mut scanner = Scanner::new(provisional.clone());
    let summary = data::scan_file(&data_path, &options, &mut scanner)?;
    let label = config.config.data.path.display().to_string();
    let profile = Profile::from_scan(&label, &summary, &scanner);
    let duplicate_fraction = scanner
        .duplicates
        .as_ref()
        .map_or(0.0, |t| t.summary().fraction);
    let schema = infer::finish_schema(
        provisional,
        &profile,
        duplicate_fraction,
        &config.config.data,
    );
    check_target_and_id(config, &schema)?;
    Ok(schema)
}
