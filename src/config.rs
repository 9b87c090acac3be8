//! `mlgate.yml`: the typed configuration, its defaults, and errors that point at the bad line.
//!
//! YAML is read with `serde_norway`, the maintained fork of `serde_yaml` (which is archived):
//! it keeps serde's `deny_unknown_fields` and reports the line and column of every error, which
//! is what lets us print a caret under the offending key. Values serde cannot judge (a delimiter
//! of two characters, a threshold above 1) are checked afterwards by [`Config::check`], and their
//! line is found by [`locate_key`] so those errors point at the file too.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::evaluate::gate::OnInconclusive;
use crate::evaluate::metrics::Metric;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the dataset lives and how to read it.
    pub data: DataConfig,
    /// The schema file written by `mlgate validate --infer`, relative to the config's directory.
    #[serde(default = "default_schema_path")]
    pub schema: PathBuf,
    /// Drift detection against a reference.
    #[serde(default)]
    pub drift: DriftConfig,
    /// The model `mlgate train` fits, and how rows are split.
    #[serde(default)]
    pub model: Option<ModelConfig>,
    /// Gate rules, read by `mlgate evaluate`.
    #[serde(default)]
    pub gate: Option<GateConfig>,
    /// How promoted models are named, tagged and released (`mlgate champion`, `mlgate promote`).
    #[serde(default)]
    pub release: Option<ReleaseConfig>,
}

/// The `release:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConfig {
    /// The model's name in the registry: tags are `NAME@vX.Y.Z` (GTO's format). Required rather
    /// than guessed from a directory name, because renaming a directory would silently start a
    /// new registry and lose the champion.
    pub name: String,
    /// A stage to assign on promotion (`prod` gives GTO stage tags `NAME#prod#N`).
    #[serde(default)]
    pub stage: Option<String>,
    /// Extra files attached to the release, relative to the config's directory.
    #[serde(default)]
    pub assets: Vec<PathBuf>,
    /// Which version part a promotion bumps; `auto` applies the versioning rules.
    #[serde(default)]
    pub bump: BumpPolicy,
}

/// The `release.bump` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BumpPolicy {
    /// Major if the feature schema changed, minor if the primary metric improved
    /// significantly, patch otherwise.
    #[default]
    Auto,
    /// Always the major version.
    Major,
    /// Always the minor version.
    Minor,
    /// Always the patch version.
    Patch,
}

/// The `data:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The data file, relative to the config's directory.
    pub path: PathBuf,
    /// File format; `auto` decides by extension.
    #[serde(default)]
    pub format: DataFormat,
    /// CSV field delimiter: one ASCII character; `\t` for tab-separated files.
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// The label column.
    #[serde(default)]
    pub target: Option<String>,
    /// A column that identifies rows; it is checked for uniqueness and drives the stable split.
    #[serde(default)]
    pub id: Option<String>,
    /// Text values read as missing in CSV files.
    #[serde(default = "default_null_values")]
    pub null_values: Vec<String>,
    /// Columns that mlgate ignores entirely (not read, not checked).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// The on-disk format of the dataset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// By extension: `.parquet` / `.pq` is Parquet, anything else CSV.
    #[default]
    Auto,
    /// Comma (or `delimiter`) separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// Severity of a check: an `error` fails the gate, a `warn` is reported only.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported, does not fail.
    Warn,
    /// Fails the gate.
    #[default]
    Error,
}

/// The `drift:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    /// `git:REV`, a data file, or a `profile.json`; no reference means no drift check.
    pub reference: Option<String>,
    /// Only these columns (default: every column but the id).
    pub columns: Option<Vec<String>>,
    /// Columns left out of the drift check.
    pub exclude: Vec<String>,
    /// Test for numeric columns.
    pub numeric_method: NumericMethod,
    /// Test for categorical columns.
    pub categorical_method: CategoricalMethod,
    /// Reference columns with up to this many values use the statistical tests (KS,
    /// chi-square); larger ones use distances, because p-values of large samples flag
    /// differences too small to matter.
    pub small_sample: u64,
    /// Per-method thresholds.
    pub thresholds: DriftThresholds,
    /// The dataset drifts when at least this share of checked columns drift.
    pub share: f64,
    /// What dataset drift does to the gate.
    pub severity: Severity,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            reference: None,
            columns: None,
            exclude: Vec::new(),
            numeric_method: NumericMethod::Auto,
            categorical_method: CategoricalMethod::Auto,
            small_sample: 1000,
            thresholds: DriftThresholds::default(),
            share: 0.5,
            severity: Severity::Warn,
        }
    }
}

/// Drift test for numeric, date and datetime columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericMethod {
    /// KS for small references, normed Wasserstein distance otherwise (Evidently's rule).
    #[default]
    Auto,
    /// Two-sample Kolmogorov-Smirnov test (needs exact samples: small data only).
    Ks,
    /// Wasserstein distance divided by the reference's standard deviation.
    Wasserstein,
    /// Population stability index over reference deciles.
    Psi,
}

/// Drift test for categorical, boolean and low-cardinality columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalMethod {
    /// Chi-square for small references, Jensen-Shannon distance otherwise (Evidently's rule).
    #[default]
    Auto,
    /// Pearson chi-square test of homogeneity.
    ChiSquare,
    /// Jensen-Shannon distance (natural log).
    JensenShannon,
    /// L-infinity distance between category shares (TFDV's rule).
    Linf,
}

/// Thresholds: a p-value below, or a distance at or above, the threshold is drift.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftThresholds {
    /// KS p-value.
    pub ks_p_value: f64,
    /// Chi-square p-value.
    pub chi_square_p_value: f64,
    /// Normed Wasserstein distance.
    pub wasserstein: f64,
    /// Population stability index.
    pub psi: f64,
    /// Jensen-Shannon distance.
    pub jensen_shannon: f64,
    /// L-infinity distance.
    pub linf: f64,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        DriftThresholds {
            ks_p_value: 0.05,
            chi_square_p_value: 0.05,
            wasserstein: 0.1,
            psi: 0.1,
            jensen_shannon: 0.1,
            linf: 0.1,
        }
    }
}

/// The `gate:` section: the rules a candidate model must meet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// The metric the headline reports and versioning looks at (default: the first rule's).
    #[serde(default)]
    pub primary: Option<Metric>,
    /// The rules; each gets its own verdict and the gate takes the worst.
    #[serde(default)]
    pub rules: Vec<GateRule>,
    /// What an inconclusive comparison does to the gate.
    #[serde(default)]
    pub on_inconclusive: OnInconclusive,
    /// The paired bootstrap behind the confidence intervals.
    #[serde(default)]
    pub bootstrap: BootstrapConfig,
    /// Metrics per value of chosen columns.
    #[serde(default)]
    pub slices: Option<SliceConfig>,
}

/// The `gate.slices:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SliceConfig {
    /// Columns of the dataset whose values define slices.
    pub columns: Vec<String>,
    /// Slices with fewer evaluation rows are listed as skipped.
    #[serde(default = "default_slice_min_rows")]
    pub min_rows: usize,
    /// What a significant regression in a slice (after Holm correction) does to the gate;
    /// `warn` by default, since slices multiply the chances of a fluke.
    #[serde(default = "default_slice_severity")]
    pub severity: Severity,
}

/// Default severity of a slice regression.
fn default_slice_severity() -> Severity {
    Severity::Warn
}

/// Default minimum slice size.
fn default_slice_min_rows() -> usize {
    30
}

/// One gate rule: absolute bounds on the candidate and/or an allowed regression against the
/// champion (direction-aware: "regression" means worse, whichever way the metric points).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateRule {
    /// The metric.
    pub metric: Metric,
    /// The candidate's value must be at least this.
    #[serde(default)]
    pub min: Option<f64>,
    /// The candidate's value must be at most this.
    #[serde(default)]
    pub max: Option<f64>,
    /// Allowed regression against the champion, in the metric's units.
    #[serde(default)]
    pub max_regression: Option<f64>,
    /// Allowed regression against the champion, as a share of the champion's value.
    #[serde(default)]
    pub max_relative_regression: Option<f64>,
}

/// The `model:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// A built-in model (`logistic_regression`, `random_forest`, ...) or `external`.
    pub kind: String,
    /// Hyperparameters of a built-in model; names and ranges are checked by `mlgate train`.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, serde_norway::Value>,
    /// `classification` or `regression`; by default the model kind decides (for `external`,
    /// the target's type in the schema).
    #[serde(default)]
    pub task: Option<TaskKind>,
    /// Seed of everything random in training.
    #[serde(default)]
    pub seed: u64,
    /// The feature columns; by default every column except the target, the id and `exclude`.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Columns never used as features.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// One-hot columns per categorical feature at most; rarer values share an `other` column.
    #[serde(default = "default_max_categories")]
    pub max_categories: usize,
    /// How rows are split into training and evaluation rows.
    #[serde(default)]
    pub split: SplitConfig,
    /// External trainer: the command that trains and writes `predictions.csv`.
    #[serde(default)]
    pub train: Option<CommandConfig>,
    /// External trainer: the command that scores a saved model on given rows.
    #[serde(default)]
    pub predict: Option<CommandConfig>,
    /// Hyperparameter search by k-fold cross-validation on the training rows.
    #[serde(default)]
    pub grid: Option<GridConfig>,
}

/// The `model.grid:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Values to try per parameter; every combination is cross-validated.
    pub params: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    /// Folds.
    #[serde(default = "default_folds")]
    pub folds: usize,
    /// The metric to optimise (default: the gate's primary metric).
    #[serde(default)]
    pub metric: Option<Metric>,
}

/// Default number of cross-validation folds.
fn default_folds() -> usize {
    5
}

/// Classification or regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Predict a class.
    Classification,
    /// Predict a number.
    Regression,
}

/// The `model.split:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Share of rows held out for evaluation (by hash, so old rows never move).
    pub eval_fraction: f64,
    /// An explicit evaluation file with the same columns; then every row of `data.path` trains.
    pub eval_path: Option<PathBuf>,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            eval_fraction: 0.2,
            eval_path: None,
        }
    }
}

/// A command mlgate runs for an external trainer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// The command line, run by `sh -c` in the config's directory.
    pub command: String,
    /// Seconds before the command is stopped.
    #[serde(default = "default_command_timeout")]
    pub timeout_seconds: u64,
}

/// Default bound on one-hot columns per feature.
fn default_max_categories() -> usize {
    50
}

/// Default timeout of an external command: one hour.
fn default_command_timeout() -> u64 {
    3600
}

/// Settings of the paired bootstrap.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapConfig {
    /// Resamples (B).
    pub resamples: usize,
    /// Seed of the resampling; recorded in `evaluation.json`.
    pub seed: u64,
    /// Confidence level of the intervals.
    pub confidence: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            resamples: 2000,
            seed: 0,
            confidence: 0.95,
        }
    }
}

/// Default schema path, beside the config.
fn default_schema_path() -> PathBuf {
    PathBuf::from("mlgate.schema.yml")
}

/// Default CSV delimiter.
fn default_delimiter() -> String {
    ",".to_string()
}

/// The text values pandas also reads as missing by default, minus the exotic ones.
pub fn default_null_values() -> Vec<String> {
    [
        "", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "#N/A",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A configuration error, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column, when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// A suggestion, e.g. the known key closest to an unknown one.
    pub hint: Option<String>,
    /// The offending source line, for the caret view.
    pub source_line: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.location {
            Some((line, column)) => {
                writeln!(f, "invalid config `{path}`: {}", self.message)?;
                write!(f, "  --> {path}:{line}:{column}")?;
                if let Some(text) = &self.source_line {
                    let gutter = line.to_string().len();
                    write!(f, "\n{:gutter$} |", "")?;
                    write!(f, "\n{line} | {text}")?;
                    write!(f, "\n{:gutter$} | {:>col$}", "", "^", col = column)?;
                }
            }
            None => write!(f, "invalid config `{path}`: {}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A parsed, checked configuration with the facts needed to resolve its relative paths.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The config file.
    pub path: PathBuf,
    /// The directory relative paths are resolved against.
    pub dir: PathBuf,
    /// The checked configuration.
    pub config: Config,
}

impl LoadedConfig {
    /// Reads, parses and checks a config file.
    pub fn load(path: &Path) -> anyhow::Result<LoadedConfig> {
        let source = fs_err::read_to_string(path).map_err(|err| {
            anyhow::anyhow!(err).context(format!("cannot read config `{}`", path.display()))
        })?;
        let config = parse(path, &source)?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(LoadedConfig {
            path: path.to_path_buf(),
            dir,
            config,
        })
    }

    /// The data file, resolved against the config's directory.
    pub fn data_path(&self) -> PathBuf {
        self.resolve(&self.config.data.path)
    }

    /// The schema file, resolved against the config's directory.
    pub fn schema_path(&self) -> PathBuf {
        self.resolve(&self.config.schema)
    }

    /// Resolves a path written in the config against the config's directory (without a
    /// leading `./`, so annotations and messages show the path users know).
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        if self.dir == Path::new(".") {
            relative.to_path_buf()
        } else {
            self.dir.join(relative)
        }
    }

    /// An error about a value in this config, located by its key path.
    pub fn error_at(&self, keys: &[&str], message: String, hint: Option<String>) -> ConfigError {
        let source = fs_err::read_to_string(&self.path).unwrap_or_default();
        located_error(&self.path, &source, keys, message, hint)
    }
}

/// Parses and checks config text; `path` only labels errors.
pub fn parse(path: &Path, source: &str) -> Result<Config, ConfigError> {
    if source.trim().is_empty() {
        return Err(ConfigError {
            path: path.to_path_buf(),
            location: None,
            message: "the file is empty".into(),
            hint: Some("start from `mlgate validate --help` or docs/config.md".into()),
            source_line: None,
        });
    }
    let config: Config =
        serde_norway::from_str(source).map_err(|err| yaml_error(path, source, &err))?;
    config.check(path, source)?;
    Ok(config)
}

impl Config {
    /// Checks the values serde accepted but that make no sense.
    fn check(&self, path: &Path, source: &str) -> Result<(), ConfigError> {
        let fail =
            |keys: &[&str], message: String| Err(located_error(path, source, keys, message, None));
        if self.data.delimiter_byte().is_none() {
            return fail(
                &["data", "delimiter"],
                format!(
                    "`delimiter` must be one ASCII character (or `\\t`), not `{}`",
                    self.data.delimiter
                ),
            );
        }
        if self.data.path.as_os_str().is_empty() {
            return fail(&["data", "path"], "`path` is empty".into());
        }
        if let (Some(target), Some(id)) = (&self.data.target, &self.data.id) {
            if target == id {
                return fail(
                    &["data", "id"],
                    format!("`id` and `target` name the same column `{id}`"),
                );
            }
        }
        let t = &self.drift.thresholds;
        let thresholds = [
            ("ks_p_value", t.ks_p_value),
            ("chi_square_p_value", t.chi_square_p_value),
            ("wasserstein", t.wasserstein),
            ("psi", t.psi),
            ("jensen_shannon", t.jensen_shannon),
            ("linf", t.linf),
        ];
        for (key, value) in thresholds {
            if !(value.is_finite() && value > 0.0) {
                return fail(
                    &["drift", "thresholds", key],
                    format!("`{key}` must be a positive number, not {value}"),
                );
            }
        }
        for (key, value) in [
            ("ks_p_value", t.ks_p_value),
            ("chi_square_p_value", t.chi_square_p_value),
        ] {
            if value >= 1.0 {
                return fail(
                    &["drift", "thresholds", key],
                    format!("`{key}` is a p-value threshold and must be below 1, not {value}"),
                );
            }
        }
        if let Some(gate) = &self.gate {
            check_gate(gate).map_err(|(keys, message)| {
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                located_error(path, source, &keys, message, None)
            })?;
        }
        if let Some(model) = &self.model {
            check_model(model).map_err(|(keys, message, hint)| {
                located_error(path, source, &keys, message, hint)
            })?;
        }
        if let Some(release) = &self.release {
            check_release(release).map_err(|(keys, message, hint)| {
                located_error(path, source, &keys, message, hint)
            })?;
        }
        if !(self.drift.share > 0.0 && self.drift.share <= 1.0) {
            return fail(
                &["drift", "share"],
                format!("`share` must be in (0, 1], not {}", self.drift.share),
            );
        }
        Ok(())
    }
}

/// The value of `model.kind` that hands training to the user's own command.
pub const EXTERNAL_KIND: &str = "external";

/// The model kinds `model.kind` accepts: every built-in model, then `external`.
pub fn model_kinds() -> impl Iterator<Item = &'static str> + Clone {
    crate::train::models::ModelKind::ALL
        .iter()
        .map(|k| k.name())
        .chain(std::iter::once(EXTERNAL_KIND))
}

/// A config problem: key path, message, hint.
type KeyedProblem = (Vec<&'static str>, String, Option<String>);

/// Checks model values serde accepted.
fn check_model(model: &ModelConfig) -> Result<(), KeyedProblem> {
    if !model_kinds().any(|k| k == model.kind) {
        let hint = closest(&model.kind, model_kinds())
            .map(|k| format!("did you mean `{k}`?"))
            .or_else(|| {
                Some(format!(
                    "one of: {}",
                    model_kinds().collect::<Vec<_>>().join(", ")
                ))
            });
        return Err((
            vec!["model", "kind"],
            format!("unknown model kind `{}`", model.kind),
            hint,
        ));
    }
    let fraction = model.split.eval_fraction;
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err((
            vec!["model", "split", "eval_fraction"],
            format!("`eval_fraction` must be in (0, 1), not {fraction}"),
            None,
        ));
    }
    if model.max_categories == 0 {
        return Err((
            vec!["model", "max_categories"],
            "`max_categories` must be at least 1".into(),
            None,
        ));
    }
    if let Some(grid) = &model.grid {
        if model.kind == EXTERNAL_KIND {
            return Err((
                vec!["model", "grid"],
                "`grid` searches built-in models; an external trainer tunes itself".into(),
                None,
            ));
        }
        if !(2..=20).contains(&grid.folds) {
            return Err((
                vec!["model", "grid", "folds"],
                format!("`folds` must be from 2 to 20, not {}", grid.folds),
                None,
            ));
        }
        let combinations = grid
            .params
            .values()
            .map(Vec::len)
            .try_fold(1usize, |acc, n| acc.checked_mul(n))
            .unwrap_or(usize::MAX);
        if grid.params.is_empty() || combinations == 0 || combinations > 1000 {
            return Err((
                vec!["model", "grid", "params"],
                format!(
                    "`grid.params` must list at least one value per parameter and at most 1000 combinations in all, not {combinations}"
                ),
                None,
            ));
        }
    }
    if model.kind == EXTERNAL_KIND && model.train.is_none() {
        return Err((
            vec!["model", "kind"],
            "`kind: external` needs `model.train.command`".into(),
            Some("see docs/external-trainers.md".into()),
        ));
    }
    if model.kind != EXTERNAL_KIND && (model.train.is_some() || model.predict.is_some()) {
        return Err((
            vec!["model", "train"],
            format!(
                "`train` / `predict` commands are for `kind: external`, not `{}`",
                model.kind
            ),
            None,
        ));
    }
    for (key, command) in [("train", &model.train), ("predict", &model.predict)] {
        if let Some(command) = command {
            if command.command.trim().is_empty() || command.timeout_seconds == 0 {
                return Err((
                    vec!["model", key],
                    format!("`{key}` needs a non-empty `command` and a positive `timeout_seconds`"),
                    None,
                ));
            }
        }
    }
    Ok(())
}

/// Checks release values serde accepted: GTO's naming rules, so that GTO reads our tags.
fn check_release(release: &ReleaseConfig) -> Result<(), KeyedProblem> {
    crate::release::version::check_name(&release.name).map_err(|err| {
        (
            vec!["release", "name"],
            err.to_string(),
            Some("lowercase letters, digits and dashes, with `/` between namespaces, e.g. `churn` or `team/churn`".into()),
        )
    })?;
    if let Some(stage) = &release.stage {
        crate::release::version::check_stage(stage).map_err(|err| {
            (
                vec!["release", "stage"],
                err.to_string(),
                Some("lowercase letters, digits and dashes, e.g. `prod`".into()),
            )
        })?;
    }
    if release.assets.iter().any(|p| p.as_os_str().is_empty()) {
        return Err((
            vec!["release", "assets"],
            "an asset path is empty".into(),
            None,
        ));
    }
    Ok(())
}

/// A key path as [`check_gate`] returns it.
fn keys(path: &[&str]) -> Vec<String> {
    path.iter().map(|key| key.to_string()).collect()
}

/// Checks gate values serde accepted; returns the key path (a rule as `[index]`) and message
/// of the first problem.
fn check_gate(gate: &GateConfig) -> Result<(), (Vec<String>, String)> {
    let b = &gate.bootstrap;
    if !(b.confidence > 0.0 && b.confidence < 1.0) {
        return Err((
            keys(&["gate", "bootstrap", "confidence"]),
            format!("`confidence` must be in (0, 1), not {}", b.confidence),
        ));
    }
    if b.resamples < 100 {
        return Err((
            keys(&["gate", "bootstrap", "resamples"]),
            format!("`resamples` must be at least 100, not {}", b.resamples),
        ));
    }
    if let Some(slices) = &gate.slices {
        if slices.columns.is_empty() || slices.min_rows < 2 {
            return Err((
                keys(&["gate", "slices"]),
                "`slices` needs at least one column and `min_rows` of 2 or more".into(),
            ));
        }
    }
    for (index, rule) in gate.rules.iter().enumerate() {
        let name = rule.metric.name();
        let at_rule = || keys(&["gate", "rules", &format!("[{index}]")]);
        let bounds = [
            rule.min,
            rule.max,
            rule.max_regression,
            rule.max_relative_regression,
        ];
        if bounds.iter().all(Option::is_none) {
            return Err((at_rule(), format!(
                "the rule on `{name}` sets none of `min`, `max`, `max_regression`, `max_relative_regression`"
            )));
        }
        if rule.max_regression.is_some() && rule.max_relative_regression.is_some() {
            return Err((at_rule(), format!(
                "the rule on `{name}` sets both `max_regression` and `max_relative_regression`; write two rules"
            )));
        }
        if bounds.iter().flatten().any(|v| !v.is_finite())
            || [rule.max_regression, rule.max_relative_regression]
                .iter()
                .flatten()
                .any(|v| *v < 0.0)
        {
            return Err((
                at_rule(),
                format!(
                "the rule on `{name}` has a bound that is not a finite number, or a negative margin"
            ),
            ));
        }
        let (lowest, highest) = rule.metric.range();
        let never_met = match (rule.min, rule.max) {
            (Some(min), _) if min > highest => {
                Some(format!("`min` {min}: it is at most {highest}"))
            }
            (_, Some(max)) if max < lowest => Some(format!("`max` {max}: it is at least {lowest}")),
            _ => None,
        };
        if let Some(bound) = never_met {
            return Err((
                at_rule(),
                format!("the rule on `{name}` can never be met with {bound}"),
            ));
        }
        if let (Some(lo), Some(hi)) = (rule.min, rule.max) {
            if lo > hi {
                return Err((
                    at_rule(),
                    format!("the rule on `{name}` has `min` {lo} above `max` {hi}"),
                ));
            }
        }
    }
    Ok(())
}

impl DataConfig {
    /// The delimiter as a byte, or `None` when it is not a single ASCII character.
    pub fn delimiter_byte(&self) -> Option<u8> {
        match self.delimiter.as_str() {
            "\\t" | "\t" => Some(b'\t'),
            d if d.len() == 1 && d.is_ascii() => d.bytes().next(),
            _ => None,
        }
    }
}

/// Turns a YAML or serde error into a located [`ConfigError`] with a "did you mean" hint.
pub fn yaml_error(path: &Path, source: &str, err: &serde_norway::Error) -> ConfigError {
    let full = err.to_string();
    let message = strip_location_suffix(&full).to_string();
    let hint = did_you_mean(&message);
    let location = err.location().map(|loc| (loc.line(), loc.column()));
    let source_line = location.and_then(|(line, _)| source.lines().nth(line.saturating_sub(1)));
    ConfigError {
        path: path.to_path_buf(),
        location,
        message,
        hint,
        source_line: source_line.map(str::to_string),
    }
}

/// serde_norway appends " at line L column C"; we print the location ourselves.
fn strip_location_suffix(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(" column ") => &message[..index],
        _ => message,
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (and "unknown variant"), suggests
/// the closest expected name. serde exposes the expected names only in the message, so we read
/// them back from it; the format has been stable since serde 1.0.
pub fn did_you_mean(message: &str) -> Option<String> {
    let (kind, rest) = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|prefix| {
            message
                .find(prefix)
                .map(|i| (*prefix, &message[i + prefix.len()..]))
        })?;
    let end = rest.find('`')?;
    let unknown = &rest[..end];
    let expected: Vec<&str> = rest[end..].split('`').skip(2).step_by(2).collect();
    let best = closest(unknown, expected.iter().copied())?;
    let what = if kind.contains("field") {
        "key"
    } else {
        "value"
    };
    Some(format!("did you mean the {what} `{best}`?"))
}

/// The known name closest to `unknown`: one edit away wins (catches short names like `f2` for
/// `f1`, which Jaro-Winkler scores low); otherwise the most similar name, if similar enough.
pub fn closest<'a>(unknown: &str, known: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    let one_edit = known.clone().find(|c| strsim::levenshtein(unknown, c) == 1);
    let similar = || {
        known
            .map(|candidate| (strsim::jaro_winkler(unknown, candidate), candidate))
            .filter(|(score, _)| *score >= 0.75)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, candidate)| candidate)
    };
    one_edit.or_else(similar)
}

/// Builds an error located at the key path `keys` (block-style YAML), or unlocated if the key
/// cannot be found (flow style, or the key was defaulted).
fn located_error(
    path: &Path,
    source: &str,
    keys: &[&str],
    message: String,
    hint: Option<String>,
) -> ConfigError {
    // A key that cannot be found (defaulted, or in a flow-style list) is located at the
    // nearest enclosing key that can.
    let location = (1..=keys.len())
        .rev()
        .find_map(|depth| locate_key(source, &keys[..depth]));
    ConfigError {
        path: path.to_path_buf(),
        location,
        message,
        hint,
        source_line: location
            .and_then(|(line, _)| source.lines().nth(line - 1))
            .map(str::to_string),
    }
}

/// Finds the 1-based line and column of a nested key: in block-style YAML by indentation,
/// else (a flow mapping, `drift: { thresholds: { psi: -1 } }`) as `key:` tokens in order.
pub fn locate_key(source: &str, keys: &[&str]) -> Option<(usize, usize)> {
    locate_key_by_indent(source, keys).or_else(|| locate_key_in_order(source, keys))
}

/// [`locate_key`] in block style: each key must appear deeper than its parent and before the
/// parent's block ends. A key `[N]` is the parent's list item N (from 0), which YAML allows at
/// the parent's own indentation.
fn locate_key_by_indent(source: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    let mut lines = source.lines().enumerate();
    for key in keys {
        found = None;
        let item = key
            .strip_prefix('[')
            .and_then(|k| k.strip_suffix(']'))
            .and_then(|k| k.parse::<usize>().ok());
        let (mut items_seen, mut item_indent) = (0, None);
        for (index, line) in lines.by_ref() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let is_item = trimmed.starts_with("- ") || trimmed == "-";
            let same_level_item = is_item && item.is_some() && parent_indent == Some(indent);
            if parent_indent.is_some_and(|p| indent <= p) && !same_level_item {
                return None;
            }
            if let Some(wanted) = item {
                if is_item && *item_indent.get_or_insert(indent) == indent {
                    if items_seen == wanted {
                        found = Some((index + 1, indent + 1));
                        parent_indent = Some(indent);
                        break;
                    }
                    items_seen += 1;
                }
                continue;
            }
            let bare = trimmed.trim_start_matches("- ");
            let name = bare
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            if name == *key && bare.contains(':') {
                let column = indent + (trimmed.len() - bare.len()) + 1;
                found = Some((index + 1, column));
                parent_indent = Some(indent);
                break;
            }
        }
        found?;
    }
    found
}

/// [`locate_key`] for flow style, where indentation says nothing: each key is the first
/// `key:` token (outside comments) after the one before, within the top-level entry of the
/// first (so a key missing from one section is never found in the next).
fn locate_key_in_order(source: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let (mut from, mut end) = (0, source.len());
    let mut at = None;
    for (depth, key) in keys.iter().enumerate() {
        let found = key_tokens(source, key).find(|&i| i >= from && i < end)?;
        if depth == 0 {
            end = top_level_entry_end(source, found);
        }
        from = found + key.len();
        at = Some(found);
    }
    let at = at?;
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = source[..at].matches('\n').count() + 1;
    Some((line, at - line_start + 1))
}

/// Where the top-level entry holding byte `at` ends: at the next line that starts with
/// neither a space nor a comment nor a closing bracket.
fn top_level_entry_end(source: &str, at: usize) -> usize {
    let mut offset = at;
    for line in source[at..].split_inclusive('\n') {
        let starts_entry = !line.starts_with([' ', '\t', '#', '}', ']', '\n', '\r']);
        if offset > at && starts_entry {
            return offset;
        }
        offset += line.len();
    }
    source.len()
}

/// Byte offsets where `key` stands as a mapping key: after a line start, a space, `{`, `,`,
/// `- ` or a quote, followed by `:` (quotes and spaces allowed between), not in a comment.
fn key_tokens<'a>(source: &'a str, key: &'a str) -> impl Iterator<Item = usize> + 'a {
    source.match_indices(key).map(|(i, _)| i).filter(move |&i| {
        let line = &source[source[..i].rfind('\n').map_or(0, |n| n + 1)..i];
        let starts = line
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '"' | '\'' | '-'));
        let rest = source[i + key.len()..].trim_start_matches(['"', '\'', ' ', '\t']);
        let commented = line.starts_with('#') || line.contains(" #");
        starts && rest.starts_with(':') && !commented && !key.is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses text as `mlgate.yml`.
    fn parse_str(source: &str) -> Result<Config, ConfigError> {
        parse(Path::new("mlgate.yml"), source)
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let config = parse_str("data:\n  path: data.csv\n").unwrap();
        assert_eq!(config.data.format, DataFormat::Auto);
        assert_eq!(config.data.delimiter_byte(), Some(b','));
        assert_eq!(config.schema, PathBuf::from("mlgate.schema.yml"));
        assert_eq!(config.drift.share, 0.5);
        assert!(config.data.null_values.contains(&"NA".to_string()));
    }

    #[test]
    fn unknown_key_names_line_column_and_suggests() {
        let err = parse_str("data:\n  pth: data.csv\n").unwrap_err();
        assert_eq!(err.location, Some((2, 3)));
        assert!(
            err.message.contains("unknown field `pth`"),
            "{}",
            err.message
        );
        assert_eq!(err.hint.as_deref(), Some("did you mean the key `path`?"));
        let shown = err.to_string();
        assert!(shown.contains("--> mlgate.yml:2:3"), "{shown}");
        assert!(shown.contains("2 |   pth: data.csv"), "{shown}");
    }

    #[test]
    fn unknown_variant_suggests_value() {
        let err = parse_str("data:\n  path: d\n  format: parket\n").unwrap_err();
        assert_eq!(
            err.hint.as_deref(),
            Some("did you mean the value `parquet`?")
        );
        assert_eq!(err.location.map(|l| l.0), Some(3));
    }

    #[test]
    fn wrong_type_is_located() {
        let err = parse_str("data:\n  path: d\ndrift:\n  share: lots\n").unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(4));
    }

    #[test]
    fn bad_values_are_located_after_parsing() {
        let err = parse_str("data:\n  path: d.csv\n  delimiter: ';;'\n").unwrap_err();
        assert_eq!(err.location, Some((3, 3)));
        let err = parse_str("data:\n  path: d\ndrift:\n  thresholds:\n    psi: -1\n").unwrap_err();
        assert_eq!(err.location, Some((5, 5)));
        let err = parse_str("data:\n  path: d\ndrift:\n  share: 1.5\n").unwrap_err();
        assert!(err.message.contains("share"));
    }

    #[test]
    fn gate_rules_parse_and_are_checked() {
        let config = parse_str(
            "data:\n  path: d\ngate:\n  primary: f1\n  rules:\n    - { metric: f1, min: 0.86 }\n    - { metric: log_loss, max_relative_regression: 0.05 }\n  on_inconclusive: fail\n",
        )
        .unwrap();
        let gate = config.gate.unwrap();
        assert_eq!(gate.rules.len(), 2);
        assert_eq!(gate.on_inconclusive, OnInconclusive::Fail);
        assert_eq!(gate.bootstrap.resamples, 2000);
        let err = parse_str("data:\n  path: d\ngate:\n  rules:\n    - { metric: f2, min: 0.8 }\n")
            .unwrap_err();
        assert_eq!(
            err.hint.as_deref(),
            Some("did you mean the value `f1`?"),
            "{err}"
        );
        let err =
            parse_str("data:\n  path: d\ngate:\n  rules:\n    - { metric: f1 }\n").unwrap_err();
        assert!(err.message.contains("sets none of"), "{err}");
        assert_eq!(err.location, Some((5, 5)), "at the rule");
        let err =
            parse_str("data:\n  path: d\ngate:\n  bootstrap:\n    confidence: 1.5\n").unwrap_err();
        assert_eq!(err.location, Some((5, 5)));
    }

    #[test]
    fn gate_bounds_a_metric_cannot_reach_are_refused() {
        let rule = |rule: &str| {
            parse_str(&format!(
                "data:\n  path: d\ngate:\n  rules:\n    - {rule}\n"
            ))
        };
        let err = rule("{ metric: f1_macro, min: 2 }").unwrap_err();
        assert!(
            err.message
                .contains("the rule on `f1_macro` can never be met with `min` 2: it is at most 1"),
            "{err}"
        );
        let err = rule("{ metric: rmse, max: -0.5 }").unwrap_err();
        assert!(
            err.message.contains("`max` -0.5: it is at least 0"),
            "{err}"
        );
        let err = rule("{ metric: r2, min: 1.2 }").unwrap_err();
        assert!(err.message.contains("it is at most 1"), "{err}");
        for fine in [
            "{ metric: brier, max: 1.5 }",
            "{ metric: r2, min: -3 }",
            "{ metric: roc_auc, min: 1 }",
            "{ metric: log_loss, max: 40 }",
        ] {
            assert!(rule(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn release_section_is_typed_and_checked() {
        let config = parse_str(
            "data:\n  path: d\nrelease:\n  name: team/churn\n  stage: prod\n  assets: [docs/a.html]\n  bump: minor\n",
        )
        .unwrap();
        let release = config.release.unwrap();
        assert_eq!(release.name, "team/churn");
        assert_eq!(release.stage.as_deref(), Some("prod"));
        assert_eq!(release.bump, BumpPolicy::Minor);
        let err = parse_str("data:\n  path: d\nrelease:\n  nme: churn\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean the key `name`?"));
        assert_eq!(err.location, Some((4, 3)));
        let err = parse_str("data:\n  path: d\nrelease:\n  name: Churn_Model\n").unwrap_err();
        assert_eq!(err.location, Some((4, 3)), "{err}");
        assert!(err.message.contains("Churn_Model"), "{err}");
        let err = parse_str("data:\n  path: d\nrelease:\n  name: churn\n  stage: 'prod#1'\n")
            .unwrap_err();
        assert_eq!(err.location, Some((5, 3)), "{err}");
        let err =
            parse_str("data:\n  path: d\nrelease:\n  name: churn\n  bump: mayor\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean the value `major`?"));
    }

    #[test]
    fn empty_and_non_mapping_files_are_errors() {
        assert!(parse_str("").unwrap_err().message.contains("empty"));
        assert!(parse_str("- a\n- b\n").is_err());
        assert!(parse_str("data: [").is_err());
    }

    #[test]
    fn far_names_get_no_hint() {
        assert_eq!(did_you_mean("unknown field `zzzz`, expected `path`"), None);
    }

    #[test]
    fn locate_key_follows_indentation() {
        let source = "data:\n  path: a\ndrift:\n  # note\n  path: b\n";
        assert_eq!(locate_key(source, &["drift", "path"]), Some((5, 3)));
        assert_eq!(locate_key(source, &["data", "path"]), Some((2, 3)));
        assert_eq!(locate_key(source, &["data", "nope"]), None);
    }

    #[test]
    fn locate_key_finds_list_items_by_index() {
        let indented = "gate:\n  rules:\n    - metric: f1\n      min: 0.8\n    - metric: r2\n";
        assert_eq!(
            locate_key(indented, &["gate", "rules", "[1]"]),
            Some((5, 5))
        );
        assert_eq!(locate_key(indented, &["gate", "rules", "[2]"]), None);
        let level = "gate:\n  rules:\n  - metric: f1\n  - metric: r2\n  primary: f1\n";
        assert_eq!(locate_key(level, &["gate", "rules", "[0]"]), Some((3, 3)));
        assert_eq!(locate_key(level, &["gate", "rules", "[1]"]), Some((4, 3)));
        assert_eq!(
            locate_key(level, &["gate", "rules", "[2]"]),
            None,
            "the list has ended"
        );
    }

    #[test]
    fn a_bad_gate_rule_is_located_at_the_rule() {
        let source = "data:\n  path: d\ngate:\n  rules:\n    - { metric: f1, min: 0.8 }\n    - { metric: f1_macro, min: 2 }\n";
        let err = parse_str(source).unwrap_err();
        assert_eq!(err.location, Some((6, 5)), "{}", err.message);
        // In a flow-style list, at the list.
        let source = "data:\n  path: d\ngate:\n  rules: [{ metric: f1, min: 2 }]\n";
        assert_eq!(parse_str(source).unwrap_err().location, Some((4, 3)));
    }

    #[test]
    fn locate_key_follows_flow_mappings_in_order() {
        let source = "data: {path: a.csv} # thresholds: no\ndrift: { thresholds: { psi: -1 } }\n";
        assert_eq!(
            locate_key(source, &["drift", "thresholds", "psi"]),
            Some((2, 24))
        );
        assert_eq!(locate_key(source, &["data", "path"]), Some((1, 8)));
        let quoted = "drift: {\"share\" : 2, severity: error}\n";
        assert_eq!(locate_key(quoted, &["drift", "share"]), Some((1, 10)));
        assert_eq!(
            locate_key(source, &["drift", "path"]),
            None,
            "only after `drift`"
        );
        assert_eq!(locate_key("psi_max: 1\n", &["psi"]), None);
        let two = "drift: { share: 0.5 }\nrelease: { name: x, path: y }\n";
        assert_eq!(
            locate_key(two, &["drift", "path"]),
            None,
            "not in the next section"
        );
        let spread = "drift: {\n  thresholds: { psi: -1 }\n}\ndata: {path: d}\n";
        assert_eq!(
            locate_key(spread, &["drift", "thresholds", "psi"]),
            Some((2, 17))
        );
    }

    #[test]
    fn bad_values_in_flow_style_are_located() {
        let source = "data:\n  path: d.csv\ndrift: { thresholds: { psi: -1 } }\n";
        let err = parse_str(source).unwrap_err();
        assert_eq!(err.location, Some((3, 24)), "{}", err.message);
        assert!(err.message.contains("`psi` must be a positive number"));
    }

    proptest::proptest! {
        /// No text makes the loader panic.
        #[test]
        fn parse_never_panics(source in "\\PC{0,200}") {
            let _ = parse_str(&source);
        }
    }
}
