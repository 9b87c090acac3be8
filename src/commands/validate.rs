//! `mlgate validate`: infer a schema, or check the data and write the run-directory files.

use std::io::Write;

use anyhow::Context;

use crate::cli::ValidateArgs;
use crate::config::{LoadedConfig, Severity};
use crate::exit::Status;
use crate::report;
use crate::validate::report::{Outcome, ValidationReport};
use crate::validate::schema::Schema;
use crate::validate::{self, Reference, Validation};
use crate::workflow::{Level, Workflow};

/// Runs the command.
pub fn run(args: &ValidateArgs) -> anyhow::Result<Status> {
    run_in(args, &Workflow::from_env())
}

/// Runs the command, reporting to `workflow`.
pub fn run_in(args: &ValidateArgs, workflow: &Workflow) -> anyhow::Result<Status> {
    let config = LoadedConfig::load(&args.config)?;
    if args.infer {
        return infer(&config, args.force);
    }
    let schema = Schema::load(&config.schema_path())?;
    let reference = if args.no_drift {
        None
    } else {
        args.reference
            .as_deref()
            .map(|r| Reference::parse(r, std::path::Path::new(".")))
            .or_else(|| {
                config
                    .config
                    .drift
                    .reference
                    .as_deref()
                    .map(|r| Reference::parse(r, &config.dir))
            })
    };
    let result = validate::validate(&config, schema, reference.as_ref())?;
    write_run_files(args, &result)?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", report::validation_table(&result.report))?;
    for line in annotations(workflow, &config, &result) {
        writeln!(stdout, "{line}")?;
    }
    publish(workflow, args, &result.report)?;
    Ok(match result.report.status {
        Outcome::Passed => Status::Passed,
        Outcome::Failed => Status::GateFailed,
    })
}

/// `--infer`: writes the schema file, refusing to overwrite without `--force`.
fn infer(config: &LoadedConfig, force: bool) -> anyhow::Result<Status> {
    let path = config.schema_path();
    if path.exists() && !force {
        anyhow::bail!(
            "`{}` already exists; pass `--force` to overwrite it (your edits will be lost)",
            path.display()
        );
    }
    let schema = validate::infer_schema(config)?;
    fs_err::write(&path, schema.to_yaml()?)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "wrote `{}` ({} columns):",
        path.display(),
        schema.columns.len()
    )?;
    for column in &schema.columns {
        let nullable = if column.nullable { ", nullable" } else { "" };
        writeln!(stdout, "  {}: {}{nullable}", column.name, column.ty.name())?;
    }
    writeln!(
        stdout,
        "review it, then commit it; `mlgate validate` checks the data against it"
    )?;
    Ok(Status::Passed)
}

/// Writes `validation.json`, `profile.json` and `validation.md` to the run directory.
fn write_run_files(args: &ValidateArgs, result: &validate::Validation) -> anyhow::Result<()> {
    fs_err::create_dir_all(&args.out)?;
    let json = serde_json::to_string_pretty(&result.report)? + "\n";
    fs_err::write(args.out.join("validation.json"), &json)?;
    if let Some(extra) = &args.json {
        fs_err::write(extra, &json)?;
    }
    let profile = serde_json::to_string(&result.profile)? + "\n";
    fs_err::write(args.out.join("profile.json"), profile)?;
    let markdown =
        report::validation_markdown(&result.report).context("cannot render validation.md")?;
    fs_err::write(args.out.join("validation.md"), markdown)?;
    Ok(())
}

/// One annotation per failed check, pointing at the line of the first example row where
/// rows and lines correspond (a CSV file whose records each take one line), else at the file.
fn annotations(workflow: &Workflow, config: &LoadedConfig, result: &Validation) -> Vec<String> {
    let file = config.data_path().display().to_string();
    let report = &result.report;
    let mut lines: Vec<String> = report
        .failures()
        .into_iter()
        .filter_map(|check| {
            let level = match check.severity {
                Severity::Error => Level::Error,
                Severity::Warn => Level::Warning,
            };
            let line = check
                .examples
                .first()
                .filter(|_| result.one_line_per_row)
                .map(|e| e.row + 1);
            let column = check
                .column
                .as_deref()
                .map(|c| format!(" `{c}`"))
                .unwrap_or_default();
            let title = format!("mlgate validate: {}{column}", check.check.name());
            workflow.annotation(level, Some(&file), line, &title, &check.message)
        })
        .collect();
    if let Some(drift) = report.drift.as_ref().filter(|d| d.dataset_drift) {
        let level = if drift.severity == Severity::Error {
            Level::Error
        } else {
            Level::Warning
        };
        let message = format!(
            "{} of {} columns drifted against {}",
            drift.drifted,
            drift.columns.len(),
            drift.reference.label
        );
        lines.extend(workflow.annotation(
            level,
            Some(&file),
            None,
            "mlgate validate: dataset drift",
            &message,
        ));
    }
    lines
}

/// Step outputs and the job summary.
fn publish(
    workflow: &Workflow,
    args: &ValidateArgs,
    report: &ValidationReport,
) -> anyhow::Result<()> {
    let status = match report.status {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
    };
    let drift = report
        .drift
        .as_ref()
        .map_or("none".to_string(), |d| d.dataset_drift.to_string());
    workflow.set_outputs(&[
        ("status", status.to_string()),
        ("errors", report.errors.to_string()),
        ("warnings", report.warnings.to_string()),
        ("dataset_drift", drift),
        (
            "validation_json",
            args.out.join("validation.json").display().to_string(),
        ),
        (
            "profile_json",
            args.out.join("profile.json").display().to_string(),
        ),
    ])?;
    workflow.append_summary(&report::validation_markdown(report)?)?;
    Ok(())
}
