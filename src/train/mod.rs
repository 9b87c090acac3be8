//! `mlgate train`: load the data, split it by hash, fit the preprocessing and the model, and
//! write the model directory and `predictions.csv` on the evaluation rows.
//!
//! The pieces: [`table`] holds the data in memory, [`split`] decides train or eval per row,
//! [`features`] is the preprocessing stored in the model, [`models`] the model zoo,
//! [`artifact`] the model file, [`manifest`] what the model directory says about itself, and
//! [`external`] runs a user's own trainer. Everything is written through temporary paths and
//! renamed at the end, so a failure leaves the previous run's files, never half of new ones.

pub mod artifact;
pub mod external;
pub mod features;
pub mod forest;
pub mod grid;
pub mod linear_svm;
pub mod logreg;
pub mod manifest;
pub mod models;
mod plan;
pub mod split;
pub mod table;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::config::{LoadedConfig, TaskKind};
use crate::evaluate::predictions::Predictions;

use self::artifact::{Payload, MODEL_FILE};
use self::features::Preprocessor;
use self::manifest::Manifest;
use self::models::{Features, FittedModel, Prediction, Target};
pub use self::plan::{task, Plan};
use self::split::Split;
use self::table::{ColumnData, Table};

/// The model directory's name inside the run directory.
pub const MODEL_DIR: &str = "model";

/// The predictions file's name inside the run directory.
pub const PREDICTIONS_FILE: &str = "predictions.csv";

/// The model file of a built-in model, as stored.
pub type ModelFile = Payload<FittedModel>;

/// What a training run produced.
#[derive(Debug)]
pub struct Trained {
    /// The model directory.
    pub model_dir: PathBuf,
    /// The evaluation predictions.
    pub predictions: PathBuf,
    /// The manifest written beside the model.
    pub manifest: Manifest,
}

/// A training problem the user must fix in the data or config.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Classification on one class.
    #[error(
        "the training rows hold only one class of `{target}` (`{class}`); a classifier needs at least two"
    )]
    OneClass {
        /// The target column.
        target: String,
        /// The class.
        class: String,
    },
    /// An evaluation label the training rows never show.
    #[error(
        "class `{class}` of `{target}` appears in {rows} evaluation row(s) but in no training row, so the model cannot learn it"
    )]
    UnseenLabel {
        /// The target column.
        target: String,
        /// The class.
        class: String,
        /// Evaluation rows with it.
        rows: usize,
    },
    /// No rows left on one side of the split.
    #[error("the split left {train} training and {eval} evaluation rows; both need at least one")]
    EmptySide {
        /// Training rows.
        train: usize,
        /// Evaluation rows.
        eval: usize,
    },
}

/// The train and eval rows with their tables (one table, or the data and an eval file).
struct Rows {
    /// The training table.
    train_table: Table,
    /// The evaluation table (the same data unless `split.eval_path` is set).
    eval_table: Option<Table>,
    /// Which rows of which table.
    split: Split,
    /// How the split was made, for the manifest.
    method: &'static str,
    /// Rows dropped for a missing target.
    dropped: usize,
}

impl Rows {
    /// The table the evaluation rows live in.
    fn eval_table(&self) -> &Table {
        self.eval_table.as_ref().unwrap_or(&self.train_table)
    }
}

/// Trains the configured model and writes the run-directory files.
pub fn train(config: &LoadedConfig, out: &Path) -> anyhow::Result<Trained> {
    let plan = Plan::new(config)?;
    if plan.is_external() {
        return train_external(config, &plan, out);
    }
    let started = Instant::now();
    // Hyperparameters are checked before the data is read, so a typo fails in milliseconds.
    let mut params = plan.params()?;
    let rows = load_rows(config, &plan)?;
    let classes = plan.classes(
        &rows.train_table,
        &rows.split.train,
        rows.eval_table(),
        &rows.split.eval,
    )?;
    let search = match &plan.grid {
        Some(grid) => {
            let metric = grid_metric(config, grid, plan.task);
            let (search, chosen) = grid::search(
                grid,
                metric,
                &grid::Inputs {
                    plan: &plan,
                    table: &rows.train_table,
                    rows: &rows.split.train,
                    classes: &classes,
                    base: plan.raw_params(),
                    threads: crate::threads::budget(),
                },
            )?;
            params = chosen;
            Some(search)
        }
        None => None,
    };
    let preprocessor = Preprocessor::fit(
        &rows.train_table,
        &plan.features,
        &rows.split.train,
        plan.max_categories,
    )?;
    let x_train = preprocessor.transform(&rows.train_table, &rows.split.train)?;
    let train_features = Features {
        rows: rows.split.train.len(),
        cols: preprocessor.width(),
        values: &x_train,
    };
    let y_labels;
    let y_values;
    let target = match plan.task {
        TaskKind::Classification => {
            y_labels = plan.encode_labels(&rows.train_table, &rows.split.train, &classes);
            Target::Classes {
                labels: &y_labels,
                n_classes: classes.len() as u32,
            }
        }
        TaskKind::Regression => {
            y_values = plan.numeric_target(&rows.train_table, &rows.split.train);
            Target::Values(&y_values)
        }
    };
    let fit_started = Instant::now();
    let model = models::fit(&params, &train_features, &target, plan.seed)?;
    let training_seconds = fit_started.elapsed().as_secs_f64();
    let payload = Payload {
        target: plan.target.clone(),
        id: plan.id.clone(),
        classes,
        preprocessor,
        model,
    };
    let predict_started = Instant::now();
    let predictions = score(
        &payload,
        &plan,
        rows.eval_table(),
        &rows.split.eval,
        "predictions.csv",
    )?;
    let predict_seconds = predict_started.elapsed().as_secs_f64();
    let header = artifact::header(&plan.kind, plan.task);
    let bytes = artifact::encode(&header, &payload)?;
    let manifest = Manifest::build(manifest::Inputs {
        config,
        plan: &plan,
        rows: &rows,
        payload_features: Some(&payload.preprocessor),
        classes: &payload.classes,
        params: serde_json::to_value(&payload.model.params)?,
        predictions: &predictions,
        training_seconds,
        predict_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
        artifact: Some((MODEL_FILE, &bytes)),
    })
    .with_grid(search);
    publish(out, &[(MODEL_FILE, bytes)], &manifest, &predictions)
}

/// The metric a grid search optimises: its own, the gate's primary, the first rule's, or
/// accuracy / RMSE.
fn grid_metric(
    config: &LoadedConfig,
    grid: &crate::config::GridConfig,
    task: TaskKind,
) -> crate::evaluate::metrics::Metric {
    use crate::evaluate::metrics::Metric;
    let gate = config.config.gate.as_ref();
    grid.metric
        .or_else(|| gate.and_then(|g| g.primary))
        .or_else(|| gate.and_then(|g| g.rules.first().map(|r| r.metric)))
        .unwrap_or(match task {
            TaskKind::Classification => Metric::Accuracy,
            TaskKind::Regression => Metric::Rmse,
        })
}

/// Loads the data (and eval file) and splits it.
fn load_rows(config: &LoadedConfig, plan: &Plan) -> anyhow::Result<Rows> {
    let train_table = plan.load(config, &config.data_path())?;
    plan.check_ids(&train_table)?;
    let usable = plan.rows_with_target(&train_table);
    let dropped = train_table.rows - usable.len();
    let (eval_table, split, method) = match &plan.eval_path {
        Some(path) => {
            let eval_table = plan.load(config, path)?;
            plan.check_ids(&eval_table)?;
            let eval = plan.rows_with_target(&eval_table);
            (
                Some(eval_table),
                Split {
                    train: usable,
                    eval,
                },
                "file",
            )
        }
        None => {
            let split = split::by_hash(
                &train_table,
                plan.id.as_deref(),
                &usable,
                plan.eval_fraction,
            );
            let method = if plan.id.is_some() {
                "hash_of_id"
            } else {
                "hash_of_row"
            };
            (None, split, method)
        }
    };
    if split.train.is_empty() || split.eval.is_empty() {
        return Err(TrainError::EmptySide {
            train: split.train.len(),
            eval: split.eval.len(),
        }
        .into());
    }
    Ok(Rows {
        train_table,
        eval_table,
        split,
        method,
        dropped,
    })
}

/// Scores `rows` of `table` with a built-in model into predictions.
pub fn score(
    payload: &ModelFile,
    plan: &Plan,
    table: &Table,
    rows: &[usize],
    source: &str,
) -> anyhow::Result<Predictions> {
    let x = payload.preprocessor.transform(table, rows)?;
    let features = Features {
        rows: rows.len(),
        cols: payload.preprocessor.width(),
        values: &x,
    };
    let prediction = payload.model.predict(&features)?;
    let ids = plan.ids(table, rows);
    let labels = plan.label_texts(table, rows);
    let (predicted, score_classes, scores) = match prediction {
        Prediction::Classes { predicted, scores } => {
            let names = predicted
                .iter()
                .map(|&c| payload.classes.get(c as usize).cloned().unwrap_or_default())
                .collect();
            match scores {
                Some(scores) => (names, payload.classes.clone(), scores),
                None => (names, Vec::new(), Vec::new()),
            }
        }
        Prediction::Values(values) => (
            values.iter().map(|v| v.to_string()).collect(),
            Vec::new(),
            Vec::new(),
        ),
    };
    Ok(Predictions {
        source: source.to_string(),
        ids,
        labels,
        predicted,
        score_classes,
        scores,
    })
}

/// Re-scores a saved built-in model on this config's evaluation rows: how the champion is
/// compared on exactly the candidate's rows.
pub fn rescore(config: &LoadedConfig, model_dir: &Path) -> anyhow::Result<Predictions> {
    let path = model_dir.join(MODEL_FILE);
    let (header, payload): (_, ModelFile) = artifact::read(&path)?;
    let mut plan = Plan::new(config)?;
    plan.adopt(&header, &payload);
    let rows = load_rows(config, &plan)?;
    score(
        &payload,
        &plan,
        rows.eval_table(),
        &rows.split.eval,
        &path.display().to_string(),
    )
}

/// Writes the model directory and predictions: everything goes to temporary paths first and
/// is renamed into place only when all of it is written.
fn publish(
    out: &Path,
    model_files: &[(&str, Vec<u8>)],
    manifest: &Manifest,
    predictions: &Predictions,
) -> anyhow::Result<Trained> {
    fs_err::create_dir_all(out)?;
    let model_dir = out.join(MODEL_DIR);
    let staging = crate::fsx::temporary_sibling(&model_dir);
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    fs_err::create_dir_all(&staging)?;
    for (name, bytes) in model_files {
        fs_err::write(staging.join(name), bytes)?;
    }
    let manifest_json = serde_json::to_string_pretty(manifest)? + "\n";
    fs_err::write(staging.join(manifest::MANIFEST_FILE), manifest_json)?;
    let predictions_path = out.join(PREDICTIONS_FILE);
    predictions.write(&predictions_path)?;
    replace_dir(&staging, &model_dir)?;
    Ok(Trained {
        model_dir,
        predictions: predictions_path,
        manifest: manifest.clone(),
    })
}

/// Moves `staging` to `target`, replacing an older directory.
fn replace_dir(staging: &Path, target: &Path) -> anyhow::Result<()> {
    if target.exists() {
        let old = target.with_file_name(format!(".{}.old-{}", MODEL_DIR, std::process::id()));
        fs_err::rename(target, &old)?;
        fs_err::rename(staging, target)?;
        fs_err::remove_dir_all(&old)?;
    } else {
        fs_err::rename(staging, target)?;
    }
    Ok(())
}

/// Runs the user's trainer on mlgate's split and checks what it wrote.
fn train_external(config: &LoadedConfig, plan: &Plan, out: &Path) -> anyhow::Result<Trained> {
    let started = Instant::now();
    let rows = load_rows(config, plan)?;
    let work = out.join("external");
    fs_err::create_dir_all(&work)?;
    let work = work
        .canonicalize()
        .with_context(|| format!("cannot resolve `{}`", work.display()))?;
    let train_csv = work.join("train.csv");
    let eval_csv = work.join("eval.csv");
    plan.write_rows(&rows.train_table, &rows.split.train, &train_csv)?;
    plan.write_rows(rows.eval_table(), &rows.split.eval, &eval_csv)?;
    let model_dir = out.join(MODEL_DIR);
    let staging = crate::fsx::temporary_sibling(&model_dir);
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    fs_err::create_dir_all(&staging)?;
    let staging = staging.canonicalize()?;
    let written = work.join("predictions.csv");
    if written.exists() {
        fs_err::remove_file(&written)?;
    }
    let command = plan.train_command.as_ref().context("no train command")?;
    let mut env = plan.external_env();
    env.extend([
        ("MLGATE_TRAIN_PATH", train_csv.display().to_string()),
        ("MLGATE_EVAL_PATH", eval_csv.display().to_string()),
        ("MLGATE_INPUT_PATH", eval_csv.display().to_string()),
        ("MLGATE_PREDICTIONS_PATH", written.display().to_string()),
        ("MLGATE_MODEL_DIR", staging.display().to_string()),
    ]);
    let fit_started = Instant::now();
    let trained = external::run(&external::Job {
        role: "train",
        command: &command.command,
        dir: &config.dir,
        env,
        timeout: std::time::Duration::from_secs(command.timeout_seconds),
    })
    .map_err(anyhow::Error::from)
    .and_then(|()| read_external_predictions(&written, plan, rows.eval_table(), &rows.split.eval));
    let predictions = match trained {
        Ok(predictions) => predictions,
        Err(err) => {
            let _ = fs_err::remove_dir_all(&staging);
            return Err(err);
        }
    };
    let training_seconds = fit_started.elapsed().as_secs_f64();
    let manifest = Manifest::build(manifest::Inputs {
        config,
        plan,
        rows: &rows,
        payload_features: None,
        classes: &plan.external_classes(&predictions),
        params: serde_json::Value::Null,
        predictions: &predictions,
        training_seconds,
        predict_seconds: 0.0,
        total_seconds: started.elapsed().as_secs_f64(),
        artifact: None,
    });
    let manifest = manifest.with_model_files(&staging)?;
    let manifest_json = serde_json::to_string_pretty(&manifest)? + "\n";
    fs_err::write(staging.join(manifest::MANIFEST_FILE), manifest_json)?;
    let predictions_path = out.join(PREDICTIONS_FILE);
    predictions.write(&predictions_path)?;
    replace_dir(&staging, &model_dir)?;
    Ok(Trained {
        model_dir,
        predictions: predictions_path,
        manifest,
    })
}

/// Reads the predictions an external command wrote and checks they cover exactly the
/// evaluation rows with the right labels.
pub fn read_external_predictions(
    path: &Path,
    plan: &Plan,
    table: &Table,
    rows: &[usize],
) -> anyhow::Result<Predictions> {
    if !path.exists() {
        anyhow::bail!(
            "the external command exited successfully but wrote no predictions at `{}` ($MLGATE_PREDICTIONS_PATH)",
            path.display()
        );
    }
    let predictions = Predictions::read(path)?;
    let expected_ids = plan.ids(table, rows);
    let expected_labels = plan.label_texts(table, rows);
    let by_id: std::collections::HashMap<&str, usize> = predictions
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let missing: Vec<&String> = expected_ids
        .iter()
        .filter(|id| !by_id.contains_key(id.as_str()))
        .collect();
    if let Some(id) = missing.first() {
        anyhow::bail!(
            "`{}` lacks {} of the {} evaluation rows, e.g. id `{id}`; write one row per row of $MLGATE_INPUT_PATH",
            path.display(),
            missing.len(),
            expected_ids.len()
        );
    }
    if predictions.len() != expected_ids.len() {
        let expected: std::collections::HashSet<&str> =
            expected_ids.iter().map(String::as_str).collect();
        let extra = predictions
            .ids
            .iter()
            .find(|id| !expected.contains(id.as_str()))
            .map(|id| format!(", e.g. id `{id}`"))
            .unwrap_or_default();
        anyhow::bail!(
            "`{}` has {} rows but the evaluation set has {}: it holds ids that are not evaluation rows{extra}",
            path.display(),
            predictions.len(),
            expected_ids.len()
        );
    }
    // Reorder to the evaluation rows' order and check labels.
    let mut ordered = Predictions {
        source: predictions.source.clone(),
        ids: Vec::with_capacity(rows.len()),
        labels: Vec::with_capacity(rows.len()),
        predicted: Vec::with_capacity(rows.len()),
        score_classes: predictions.score_classes.clone(),
        scores: Vec::with_capacity(predictions.scores.len()),
    };
    let k = predictions.score_classes.len();
    for (id, label) in expected_ids.iter().zip(&expected_labels) {
        let i = by_id[id.as_str()];
        if !labels_agree(plan.task, &predictions.labels[i], label) {
            anyhow::bail!(
                "`{}`: id `{id}` has label `{}` but the data says `{label}`",
                path.display(),
                predictions.labels[i]
            );
        }
        ordered.ids.push(id.clone());
        ordered.labels.push(label.clone());
        ordered.predicted.push(predictions.predicted[i].clone());
        ordered
            .scores
            .extend_from_slice(&predictions.scores[i * k..(i + 1) * k]);
    }
    Ok(ordered)
}

/// Labels agree as text, or as numbers for regression (`2` and `2.0`).
fn labels_agree(task: TaskKind, written: &str, data: &str) -> bool {
    if written == data {
        return true;
    }
    match task {
        TaskKind::Regression => match (written.trim().parse::<f64>(), data.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            _ => false,
        },
        TaskKind::Classification => false,
    }
}

/// Re-scores an external champion with `predict.command` on this config's evaluation rows.
pub fn rescore_external(
    config: &LoadedConfig,
    model_dir: &Path,
    out: &Path,
) -> anyhow::Result<Predictions> {
    let plan = Plan::new(config)?;
    let command = plan.predict_command.as_ref().with_context(|| {
        format!(
            "`{}` holds an external model; re-scoring it needs `model.predict.command`",
            model_dir.display()
        )
    })?;
    let rows = load_rows(config, &plan)?;
    let work = out.join("external");
    fs_err::create_dir_all(&work)?;
    let work = work.canonicalize()?;
    let input = work.join("champion-input.csv");
    plan.write_rows(rows.eval_table(), &rows.split.eval, &input)?;
    let written = work.join("champion-predictions.csv");
    if written.exists() {
        fs_err::remove_file(&written)?;
    }
    let mut env = plan.external_env();
    env.extend([
        ("MLGATE_INPUT_PATH", input.display().to_string()),
        ("MLGATE_PREDICTIONS_PATH", written.display().to_string()),
        (
            "MLGATE_MODEL_DIR",
            model_dir
                .canonicalize()
                .with_context(|| format!("cannot resolve `{}`", model_dir.display()))?
                .display()
                .to_string(),
        ),
    ]);
    external::run(&external::Job {
        role: "predict",
        command: &command.command,
        dir: &config.dir,
        env,
        timeout: std::time::Duration::from_secs(command.timeout_seconds),
    })?;
    read_external_predictions(&written, &plan, rows.eval_table(), &rows.split.eval)
}

/// The text of a column's row, for ids and labels.
fn text_of(table: &Table, column: &str, row: usize) -> Option<String> {
    let column = table.column(column)?;
    match &column.data {
        ColumnData::Text { .. } => column.data.text(row).map(str::to_string),
        ColumnData::Numbers(values) => values
            .get(row)
            .filter(|v| v.is_finite())
            .map(|v| v.to_string()),
    }
}
