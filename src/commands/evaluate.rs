//! `mlgate evaluate`: candidate versus champion on the same rows, then the gate.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::baseline;
use crate::cli::EvaluateArgs;
use crate::config::LoadedConfig;
use crate::evaluate::evaluation::{
    self, ChampionInfo, ChampionInput, Evaluation, OperationalMetric, RecordedChampion, Settings,
    SliceColumns,
};
use crate::evaluate::predictions::{Predictions, CHAMPION_PREDICTIONS_FILE};
use crate::exit::Status;
use crate::report;
use crate::train::manifest::{Manifest, MANIFEST_FILE};
use crate::train::table::Load;
use crate::train::{self, Plan, MODEL_DIR, PREDICTIONS_FILE};
use crate::workflow::Workflow;

/// The `--baseline` value that asks for the registry's champion.
const AUTO: &str = "auto";

/// Where the champion comes from.
#[derive(Debug, Clone)]
pub enum Baseline {
    /// No champion.
    None,
    /// A model directory or a predictions file.
    Path(PathBuf),
    /// The registry's champion on `base`, its model from `cache` when there.
    Auto {
        /// The base branch.
        base: String,
        /// The champion cache.
        cache: Option<PathBuf>,
        /// Download a missing champion from its release, with this token.
        download: Option<Option<crate::github::Token>>,
    },
}

impl Baseline {
    /// Reads `--baseline`, `--base` and `--cache`.
    fn from_args(args: &EvaluateArgs) -> anyhow::Result<Baseline> {
        match &args.baseline {
            Some(path) if path.as_os_str() == AUTO => Ok(Baseline::Auto {
                base: args.base.clone().unwrap_or_else(baseline::default_base),
                cache: args.cache.clone(),
                download: args.download.then(|| args.token.clone()),
            }),
            _ if args.base.is_some() || args.cache.is_some() || args.download => {
                anyhow::bail!("`--base`, `--cache` and `--download` go with `--baseline auto`")
            }
            Some(path) => Ok(Baseline::Path(path.clone())),
            None => Ok(Baseline::None),
        }
    }
}

/// Runs the command.
pub fn run(args: &EvaluateArgs) -> anyhow::Result<Status> {
    run_in(args, &Workflow::from_env())
}

/// Runs the command, reporting to `workflow`.
pub fn run_in(args: &EvaluateArgs, workflow: &Workflow) -> anyhow::Result<Status> {
    let config = LoadedConfig::load(&args.config)?;
    let baseline = Baseline::from_args(args)?;
    let evaluation = evaluate(&config, &args.out, args.candidate.as_deref(), &baseline)?;
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
    baseline: &Baseline,
) -> anyhow::Result<Evaluation> {
    let task = train::task(config)?;
    let candidate_path = candidate.map_or_else(|| out.join(PREDICTIONS_FILE), Path::to_path_buf);
    if !candidate_path.exists() {
        anyhow::bail!(
            "no candidate predictions at `{}`; run `mlgate train` first or pass `--candidate`",
            candidate_path.display()
        );
    }
    // The two files are independent: each side is read on its own core.
    let (candidate, side) = std::thread::scope(|scope| {
        let candidate = scope.spawn(|| Predictions::read(&candidate_path));
        let side = champion_side(config, out, baseline);
        let candidate = candidate
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (candidate, side)
    });
    let (candidate, side) = (candidate?, side?);
    let gate = config.config.gate.clone().unwrap_or_default();
    let slices = match &gate.slices {
        Some(s) => slice_columns(config, &Plan::new(config)?, &candidate, &s.columns)?,
        None => SliceColumns::default(),
    };
    let settings = Settings {
        task,
        gate,
        threads: crate::threads::budget(),
    };
    let input = match (&side.predictions, &side.recorded) {
        (Some(p), _) => ChampionInput::Predictions(p),
        (None, Some(r)) => ChampionInput::Recorded(r),
        (None, None) => ChampionInput::None,
    };
    // Rewriting a million champion rows for the report's curves takes a core for a third of a
    // second: it runs beside the evaluation, whose single-threaded stretches leave one free.
    let mut evaluation = std::thread::scope(|scope| {
        let kept = scope.spawn(|| keep_champion_predictions(out, side.predictions.as_ref()));
        let evaluation = evaluation::evaluate_with(&settings, &candidate, input, &slices);
        kept.join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        anyhow::Ok(evaluation?)
    })?;
    if side.info.is_some() {
        evaluation.champion = side.info;
    }
    let champion_manifest = side.manifest;
    // Freeing two million rows of strings one by one takes a tenth of a second that nothing
    // waits for: a thread does it while the results are written.
    let rows = (candidate, side.predictions);
    std::thread::spawn(move || drop(rows));
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

/// The champion as the evaluation sees it.
#[derive(Default)]
struct ChampionSide {
    /// Its predictions on this evaluation set.
    predictions: Option<Predictions>,
    /// Its manifest, when it has one.
    manifest: Option<Manifest>,
    /// Its recorded metrics, when its model could not be had.
    recorded: Option<RecordedChampion>,
    /// How to label it, when the evaluation's own label is not enough.
    info: Option<ChampionInfo>,
}

/// Loads the champion `baseline` names; for `auto`, finds it first and writes `champion.json`
/// and `history.json`.
fn champion_side(
    config: &LoadedConfig,
    out: &Path,
    baseline: &Baseline,
) -> anyhow::Result<ChampionSide> {
    let (base, cache) = match baseline {
        Baseline::None => return Ok(ChampionSide::default()),
        Baseline::Path(path) => {
            let (predictions, manifest) = load_champion(config, out, path)?;
            return Ok(ChampionSide {
                predictions: Some(predictions),
                manifest,
                ..ChampionSide::default()
            });
        }
        Baseline::Auto {
            base,
            cache,
            download,
        } => (base, (cache, download)),
    };
    let (cache, download) = cache;
    let found = super::find_champion(config, base, cache.as_deref(), download.clone(), out)?;
    baseline::write(out, &found)?;
    let report = &found.report;
    let Some(tag) = report.tag.clone() else {
        return Ok(ChampionSide::default());
    };
    match &found.model_dir {
        Some(dir) => {
            let (predictions, manifest) = load_champion(config, out, dir)?;
            Ok(ChampionSide {
                predictions: Some(predictions),
                manifest,
                recorded: None,
                info: Some(ChampionInfo {
                    source: serde_json::to_value(report.source)?
                        .as_str()
                        .unwrap_or("cache")
                        .to_string(),
                    tag: Some(tag),
                    rescored: true,
                    note: None,
                }),
            })
        }
        None => Ok(ChampionSide {
            recorded: Some(RecordedChampion {
                tag,
                metrics: report.metrics.clone(),
            }),
            ..ChampionSide::default()
        }),
    }
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
