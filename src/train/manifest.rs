//! `manifest.json`: what a model directory says about itself.
//!
//! Enough to reproduce and audit the model without opening it: the data's and config's hashes,
//! the git commit, the seed, the feature schema (whose hash decides a major version bump at
//! promotion), timings, and the size and sha256 of every model file (checked again when a
//! champion is downloaded). Timings differ run to run, so the manifest, unlike the model file,
//! is not byte-reproducible; everything else in it is.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{LoadedConfig, TaskKind};
use crate::data::ScanSummary;
use crate::evaluate::evaluation::eval_set_hash;
use crate::evaluate::predictions::Predictions;

use super::features::Preprocessor;
use super::Plan;

/// The manifest's file name in a model directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Layout version of `manifest.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// The manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version.
    pub schema_version: u32,
    /// The mlgate that trained the model.
    pub tool_version: String,
    /// `model.kind`.
    pub model_kind: String,
    /// Classification or regression.
    pub task: TaskKind,
    /// The target column.
    pub target: String,
    /// The id column, if any.
    pub id: Option<String>,
    /// Classes in index order.
    pub classes: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// Resolved hyperparameters (null for external trainers).
    pub params: serde_json::Value,
    /// Input feature columns and what they became.
    pub features: Vec<FeatureInfo>,
    /// xxh3-128 of the feature schema (names, types, encodings).
    pub feature_schema_hash: String,
    /// The training data.
    pub data: DataInfo,
    /// The evaluation file, when separate.
    pub eval_data: Option<DataInfo>,
    /// How rows were split.
    pub split: SplitInfo,
    /// sha256 of the config file.
    pub config_sha256: String,
    /// HEAD commit of the repository holding the config, if any.
    pub git_commit: Option<String>,
    /// Seconds spent fitting the model.
    pub training_seconds: f64,
    /// Evaluation rows scored per second.
    pub prediction_rows_per_second: Option<f64>,
    /// Seconds for the whole command.
    pub total_seconds: f64,
    /// Model files in the directory.
    pub files: Vec<FileInfo>,
    /// The hyperparameter search, when `model.grid` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<serde_json::Value>,
    /// The GPUs of the host that trained the model (absent on a host without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Hardware>,
}

/// The GPUs a model was trained next to, as `mlgate runner doctor` sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hardware {
    /// `nvml` or `nvidia-smi`.
    pub source: String,
    /// The CUDA version the driver supports.
    pub cuda_version: Option<String>,
    /// The GPUs the trainer could use (`CUDA_VISIBLE_DEVICES` narrows them).
    pub gpus: Vec<TrainingGpu>,
}

/// One GPU of [`Hardware`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingGpu {
    /// The driver's index.
    pub index: u32,
    /// The model.
    pub name: String,
    /// `GPU-...`.
    pub uuid: String,
    /// The driver version.
    pub driver_version: String,
    /// Memory in MiB.
    pub memory_total_mib: u64,
}

impl Hardware {
    /// The host's GPUs that `cuda_visible_devices` (indices or UUIDs, comma-separated; empty
    /// hides all) lets a trainer use; `None` without any.
    pub fn from_snapshot(
        snapshot: &crate::runner::Snapshot,
        cuda_visible_devices: Option<&str>,
    ) -> Option<Hardware> {
        let visible = |gpu: &crate::runner::Gpu| match cuda_visible_devices {
            None => true,
            Some(list) => list.split(',').map(str::trim).any(|entry| {
                entry == gpu.index.to_string() || (!entry.is_empty() && gpu.uuid.starts_with(entry))
            }),
        };
        let gpus: Vec<TrainingGpu> = snapshot
            .gpus
            .iter()
            .filter(|g| visible(g))
            .map(|g| TrainingGpu {
                index: g.index,
                name: g.name.clone(),
                uuid: g.uuid.clone(),
                driver_version: g.driver_version.clone(),
                memory_total_mib: g.memory_total_mib,
            })
            .collect();
        (!gpus.is_empty()).then(|| Hardware {
            source: snapshot.source.clone(),
            cuda_version: snapshot.cuda_version.clone(),
            gpus,
        })
    }

    /// This host's, through the runner's probe (NVML, else nvidia-smi); a probe failure is no
    /// GPU, since a manifest must not fail a training run over it.
    pub fn of_this_host() -> Option<Hardware> {
        use crate::runner::GpuProbe as _;
        let snapshot = crate::runner::HostProbe::from_env().snapshot().ok()??;
        let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        Hardware::from_snapshot(&snapshot, visible.as_deref())
    }
}

/// One input feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureInfo {
    /// The column.
    pub column: String,
    /// Its schema type.
    #[serde(rename = "type")]
    pub ty: String,
    /// `numeric`, `one_hot`, or `external`.
    pub encoding: String,
    /// Number of model inputs it became.
    pub width: usize,
}

/// A data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Path relative to the config.
    pub path: String,
    /// Data rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
    /// xxh3-128 of the bytes.
    pub xxh3: String,
}

/// The split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitInfo {
    /// `hash_of_id`, `hash_of_row` or `file`.
    pub method: String,
    /// Held-out share (hash splits).
    pub eval_fraction: Option<f64>,
    /// Training rows.
    pub train_rows: usize,
    /// Evaluation rows.
    pub eval_rows: usize,
    /// Rows left out for a missing target.
    pub dropped_rows: usize,
    /// Hash of the evaluation set's ids and labels (as in `evaluation.json`).
    pub eval_set_hash: String,
}

/// A model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Name inside the model directory.
    pub name: String,
    /// Size.
    pub bytes: u64,
    /// Lowercase hex sha256.
    pub sha256: String,
}

/// What [`Manifest::build`] needs.
pub(super) struct Inputs<'a> {
    /// The config.
    pub config: &'a LoadedConfig,
    /// The plan.
    pub plan: &'a Plan,
    /// The data that was read and how it was split.
    pub rows: &'a super::Rows,
    /// The fitted preprocessing (built-in models).
    pub payload_features: Option<&'a Preprocessor>,
    /// Classes.
    pub classes: &'a [String],
    /// Resolved hyperparameters.
    pub params: serde_json::Value,
    /// Evaluation predictions.
    pub predictions: &'a Predictions,
    /// Fit seconds.
    pub training_seconds: f64,
    /// Predict seconds (0 when unknown).
    pub predict_seconds: f64,
    /// Whole-run seconds.
    pub total_seconds: f64,
    /// The model file's name and bytes (built-in models).
    pub artifact: Option<(&'a str, &'a [u8])>,
}

impl Manifest {
    /// The bytes of the listed model file `file` in `dir`, refused when they do not have the
    /// sha256 this manifest recorded (a model that changed after training, or a corrupt copy).
    pub fn read_verified(&self, dir: &Path, file: &FileInfo) -> anyhow::Result<Vec<u8>> {
        let path = dir.join(&file.name);
        let bytes = fs_err::read(&path)?;
        let actual = crate::fsx::sha256_hex(&bytes);
        if actual != file.sha256 {
            anyhow::bail!(
                "`{}` has sha256 {actual}, but its manifest records {}",
                path.display(),
                file.sha256
            );
        }
        Ok(bytes)
    }

    /// Builds the manifest.
    pub(super) fn build(inputs: Inputs<'_>) -> Manifest {
        let Inputs {
            config,
            plan,
            rows,
            payload_features,
            classes,
            params,
            predictions,
            training_seconds,
            predict_seconds,
            total_seconds,
            artifact,
        } = inputs;
        let (train_rows, eval_rows) = (rows.split.train.len(), rows.split.eval.len());
        let split_method = rows.method;
        let features = feature_infos(plan, payload_features);
        let feature_schema_hash = hash_features(&features);
        let data_path = config.config.data.path.display().to_string();
        let eval_path = plan.eval_path.as_ref().map(|p| {
            crate::data::display_relative(p, &config.dir)
                .display()
                .to_string()
        });
        Manifest {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            model_kind: plan.kind.clone(),
            task: plan.task,
            target: plan.target.clone(),
            id: plan.id.clone(),
            classes: classes.to_vec(),
            seed: plan.seed,
            params,
            features,
            feature_schema_hash,
            data: data_info(data_path, &rows.train_table.summary),
            eval_data: rows
                .eval_table
                .as_ref()
                .zip(eval_path)
                .map(|(t, p)| data_info(p, &t.summary)),
            split: SplitInfo {
                method: split_method.into(),
                eval_fraction: (split_method != "file").then_some(plan.eval_fraction),
                train_rows,
                eval_rows,
                dropped_rows: rows.dropped,
                eval_set_hash: eval_set_hash(predictions),
            },
            config_sha256: fs_err::read(&config.path)
                .map(|b| crate::fsx::sha256_hex(&b))
                .unwrap_or_default(),
            git_commit: crate::git::DataRepo::discover(&config.dir)
                .ok()
                .and_then(|r| r.head_commit()),
            training_seconds,
            prediction_rows_per_second: (predict_seconds > 0.0)
                .then(|| eval_rows as f64 / predict_seconds),
            total_seconds,
            files: artifact
                .map(|(name, bytes)| {
                    vec![FileInfo {
                        name: name.into(),
                        bytes: bytes.len() as u64,
                        sha256: crate::fsx::sha256_hex(bytes),
                    }]
                })
                .unwrap_or_default(),
            grid: None,
            hardware: Hardware::of_this_host(),
        }
    }

    /// Records a hyperparameter search.
    pub fn with_grid(mut self, search: Option<super::grid::GridSearch>) -> Manifest {
        self.grid = search.and_then(|s| serde_json::to_value(s).ok());
        self
    }

    /// Lists every file an external trainer left in the model directory, sorted by name.
    pub fn with_model_files(mut self, dir: &Path) -> anyhow::Result<Manifest> {
        let mut files = Vec::new();
        collect_files(dir, dir, &mut files)?;
        files.sort_by(|a, b| a.name.cmp(&b.name));
        self.files = files;
        Ok(self)
    }

    /// Reads a manifest.
    pub fn read(path: &Path) -> anyhow::Result<Manifest> {
        let text = fs_err::read_to_string(path)?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("`{}` is not a valid manifest: {e}", path.display()))
    }

    /// The model file's size, when there is one.
    pub fn artifact_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// Files under `dir`, recursively, with names relative to `root`.
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<FileInfo>) -> anyhow::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else if path.file_name().is_some_and(|n| n != MANIFEST_FILE) {
            let bytes = fs_err::read(&path)?;
            out.push(FileInfo {
                name: path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
                bytes: bytes.len() as u64,
                sha256: crate::fsx::sha256_hex(&bytes),
            });
        }
    }
    Ok(())
}

/// The feature list of the manifest.
fn feature_infos(plan: &Plan, preprocessor: Option<&Preprocessor>) -> Vec<FeatureInfo> {
    let type_of = |c: &str| {
        plan.column_type(c)
            .map_or("unknown", |t| t.name())
            .to_string()
    };
    match preprocessor {
        Some(p) => p
            .encodings
            .iter()
            .map(|e| FeatureInfo {
                column: e.column().to_string(),
                ty: type_of(e.column()),
                encoding: match e {
                    super::features::Encoding::Numeric { .. } => "numeric",
                    super::features::Encoding::OneHot { .. } => "one_hot",
                }
                .into(),
                width: e.output_names().len(),
            })
            .collect(),
        None => plan
            .features
            .iter()
            .map(|c| FeatureInfo {
                column: c.clone(),
                ty: type_of(c),
                encoding: "external".into(),
                width: 1,
            })
            .collect(),
    }
}

/// xxh3-128 over the features' columns, types and encodings: changes exactly when a model's
/// inputs change shape.
fn hash_features(features: &[FeatureInfo]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for f in features {
        for part in [f.column.as_str(), f.ty.as_str(), f.encoding.as_str()] {
            hasher.update(part.as_bytes());
            hasher.update(b"\x1f");
        }
        hasher.update(b"\x1e");
    }
    format!("{:032x}", hasher.digest128())
}

/// A data file's description.
fn data_info(path: String, scan: &ScanSummary) -> DataInfo {
    DataInfo {
        path,
        rows: scan.rows,
        bytes: scan.bytes,
        xxh3: scan.fingerprint.clone(),
    }
}
