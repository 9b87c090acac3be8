//! `mlgate evaluate`: candidate versus champion on the same rows, then the gate.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::cli::EvaluateArgs;
use crate::config::LoadedConfig;
use crate::evaluate::evaluation::{self, Evaluation, OperationalMetric, Settings, SliceColumns};
use crate::evaluate::predictions::{Predictions, CHAMPION_PREDICTIONS_FILE};
use crate::exit::Status;
use crate::report;
use crate::train::manifest::{Manifest, MANIFEST_FILE};
use crate::train::table::Load;
use crate::train::{self, Plan, MODEL_DIR, PREDICTIONS_FILE};
use crate::workflow::Workflow;

/// Runs the command.
pub fn run(args: &EvaluateArgs) -> anyhow::Result<Status> {
    run_in(args, &Workflow::from_env())
}

/// Runs the command, reporting to `workflow`.
pub fn run_in(args: &EvaluateArgs, workflow: &Workflow) -> anyhow::Result<Status> {
    let config = LoadedConfig::load(&args.config)?;
    let evaluation = evaluate(
        &config,
        &args.out,
        args.candidate.as_deref(),
        args.baseline.as_deref(),
    )?;
    write_run_files(&args.out, args.json.as_deref(), &evaluation)?;
    print!("{}", report::evaluation::evaluation_table(&evaluation));
    std::io::stdout().flush()?;
    publish(workflow, &args.out, &evaluation)?;
    Ok(if evaluation.passed {
        Status::Passed
    } else {
        Status::GateFailed
    })
}

/// Loads both sides and evaluates.
pub fn evaluate(
    config: &LoadedConfig,
    out: &Path,
    candidate: Option<&Path>,
    baseline: Option<&Path>,
) -> anyhow::Result<Evaluation> {
    let plan = Plan::new(config)?;
    let candidate_path = candidate.map_or_else(|| out.join(PREDICTIONS_FILE), Path::to_path_buf);
    if !candidate_path.exists() {
        anyhow::bail!(
            "no candidate predictions at `{}`; run `mlgate train` first or pass `--candidate`",
            candidate_path.display()
        );
    }
    let candidate = Predictions::read(&candidate_path)?;
    let (champion, champion_manifest) = match baseline {
        Some(path) => {
            let (p, m) = load_champion(config, out, path)?;
            (Some(p), m)
        }
        None => (None, None),
    };
    keep_champion_predictions(out, champion.as_ref())?;
    let gate = config.config.gate.clone().unwrap_or_default();
    let slices = match &gate.slices {
        Some(s) => slice_columns(config, &plan, &candidate, &s.columns)?,
        None => SliceColumns::default(),
    };
    let settings = Settings {
        task: plan.task,
        gate,
        threads: crate::threads::budget(),
    };
    let mut evaluation = evaluation::evaluate(&settings, &candidate, champion.as_ref(), &slices)?;
    // A run directory's predictions sit beside the model that made them.
    let candidate_manifest = Some(&candidate_path)
        .filter(|p| p.file_name().is_some_and(|n| n == PREDICTIONS_FILE))
        .and_then(|p| p.parent())
        .map(|dir| dir.join(MODEL_DIR).join(MANIFEST_FILE))
        .filter(|p| p.exists())
        .and_then(|p| Manifest::read(&p).ok());
    evaluation.operational = operational(candidate_manifest.as_ref(), champion_manifest.as_ref());
    Ok(evaluation)
}

/// The champion's predictions on this evaluation set, and its manifest when it has one.
fn load_champion(
    config: &LoadedConfig,
    out: &Path,
    baseline: &Path,
) -> anyhow::Result<(Predictions, Option<Manifest>)> {
    if baseline.is_file() {
        return Ok((Predictions::read(baseline)?, None));
    }
    if !baseline.is_dir() {
        anyhow::bail!(
            "the baseline `{}` does not exist; pass a model directory or a predictions file",
            baseline.display()
        );
    }
    let manifest_path = baseline.join(MANIFEST_FILE);
    let manifest = if manifest_path.exists() {
        Some(Manifest::read(&manifest_path)?)
    } else {
        None
    };
    if baseline.join(train::artifact::MODEL_FILE).exists() {
        let predictions = train::rescore(config, baseline)
            .with_context(|| format!("cannot re-score the champion in `{}`", baseline.display()))?;
        return Ok((predictions, manifest));
    }
    if manifest
        .as_ref()
        .is_some_and(|m| m.model_kind == crate::config::EXTERNAL_KIND)
    {
        let predictions = train::rescore_external(config, baseline, out)
            .with_context(|| format!("cannot re-score the champion in `{}`", baseline.display()))?;
        return Ok((predictions, manifest));
    }
    let recorded = baseline.join(PREDICTIONS_FILE);
    if recorded.exists() {
        return Ok((Predictions::read(&recorded)?, manifest));
    }
    anyhow::bail!(
        "`{}` holds no `{}`, no external model manifest and no `{PREDICTIONS_FILE}`",
        baseline.display(),
        train::artifact::MODEL_FILE
    )
}

/// Keeps the champion's predictions in the run directory for the report's curves, or removes
/// a previous run's, so the charts never show a champion this evaluation did not use.
fn keep_champion_predictions(out: &Path, champion: Option<&Predictions>) -> anyhow::Result<()> {
    let path = out.join(CHAMPION_PREDICTIONS_FILE);
    match champion {
        Some(champion) => champion.write(&path),
        None if path.exists() => Ok(fs_err::remove_file(&path)?),
        None => Ok(()),
    }
}

/// Values of the slice columns for each candidate row, found by id in the evaluation data.
fn slice_columns(
    config: &LoadedConfig,
    plan: &Plan,
    candidate: &Predictions,
    columns: &[String],
) -> anyhow::Result<SliceColumns> {
    let path = plan.eval_path.clone().unwrap_or_else(|| config.data_path());
    let mut slice_plan = plan.clone();
    slice_plan.loads = plan
        .id
        .iter()
        .map(|id| (id.clone(), Load::Text))
        .chain(columns.iter().map(|c| (c.clone(), Load::Text)))
        .collect();
    let table = slice_plan
        .load(config, &path)
        .context("cannot read the slice columns (`gate.slices.columns`)")?;
    let all_rows: Vec<usize> = (0..table.rows).collect();
    let ids = plan.ids(&table, &all_rows);
    let row_of: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let out = columns
        .iter()
        .map(|name| {
            let column = table.column(name).map(|c| &c.data);
            let values = candidate
                .ids
                .iter()
                .map(|id| {
                    let row = row_of.get(id.as_str())?;
                    column?.text(*row).map(str::to_string)
                })
                .collect();
            (name.clone(), values)
        })
        .collect();
    Ok(SliceColumns { columns: out })
}

/// Reads one operational value from a manifest.
type ManifestValue = fn(&Manifest) -> Option<f64>;

/// Operational metrics from both manifests.
fn operational(
    candidate: Option<&Manifest>,
    champion: Option<&Manifest>,
) -> Vec<OperationalMetric> {
    if candidate.is_none() && champion.is_none() {
        return Vec::new();
    }
    let pick = |m: Option<&Manifest>, f: ManifestValue| m.and_then(f);
    let rows: [(&'static str, bool, ManifestValue); 3] = [
        ("artifact_bytes", false, |m| {
            Some(m.artifact_bytes() as f64).filter(|b| *b > 0.0)
        }),
        ("training_seconds", false, |m| Some(m.training_seconds)),
        ("prediction_rows_per_second", true, |m| {
            m.prediction_rows_per_second
        }),
    ];
    rows.iter()
        .map(|&(metric, higher_is_better, f)| OperationalMetric {
            metric: metric.to_string(),
            higher_is_better,
            candidate: pick(candidate, f),
            champion: pick(champion, f),
        })
        .collect()
}

/// Writes `evaluation.json` and `evaluation.md`.
pub fn write_run_files(
    out: &Path,
    extra: Option<&Path>,
    evaluation: &Evaluation,
) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(evaluation)? + "\n";
    crate::fsx::write_atomic(&out.join("evaluation.json"), json.as_bytes())?;
    if let Some(extra) = extra {
        crate::fsx::write_atomic(extra, json.as_bytes())?;
    }
    let markdown = report::evaluation::evaluation_markdown(evaluation)
        .context("cannot render evaluation.md")?;
    crate::fsx::write_atomic(&out.join("evaluation.md"), markdown.as_bytes())?;
    Ok(())
}

/// Step outputs and the job summary.
fn publish(workflow: &Workflow, out: &Path, evaluation: &Evaluation) -> anyhow::Result<()> {
    let verdict = if evaluation.passed {
        match evaluation.verdict {
            crate::evaluate::gate::Verdict::Inconclusive => "inconclusive",
            _ => "pass",
        }
    } else {
        "fail"
    };
    workflow.set_outputs(&[
        ("verdict", verdict.to_string()),
        ("passed", evaluation.passed.to_string()),
        (
            "evaluation_json",
            out.join("evaluation.json").display().to_string(),
        ),
    ])?;
    workflow.append_summary(&report::evaluation::evaluation_markdown(evaluation)?)?;
    Ok(())
}
