//! What a training run will do, decided from the config and the schema before any data is read:
//! the task, the target, the id, the feature columns and how each is loaded.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::config::{CommandConfig, LoadedConfig, TaskKind};
use crate::data::{ColumnType, ReadOptions};
use crate::validate::schema::Schema;

use super::artifact::Header;
use super::features::Encoding;
use super::models::{self, ModelKind, Params};
use super::table::{self, ColumnData, Load, Table};
use super::{text_of, ModelFile, TrainError};

/// The name of the id column mlgate adds to files it hands to external trainers when the data
/// has none (the 1-based data row).
pub const ROW_ID_COLUMN: &str = "mlgate_row_id";

/// A resolved training plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `model.kind` as written.
    pub kind: String,
    /// Classification or regression.
    pub task: TaskKind,
    /// The target column.
    pub target: String,
    /// The id column, if any.
    pub id: Option<String>,
    /// Feature columns.
    pub features: Vec<String>,
    /// How each column is loaded (id, target, features; every column for external trainers).
    pub loads: Vec<(String, Load)>,
    /// Seed.
    pub seed: u64,
    /// One-hot bound.
    pub max_categories: usize,
    /// Share of rows held out.
    pub eval_fraction: f64,
    /// Explicit evaluation file.
    pub eval_path: Option<PathBuf>,
    /// Raw hyperparameters.
    params: serde_json::Map<String, serde_json::Value>,
    /// External train command.
    pub train_command: Option<CommandConfig>,
    /// External predict command.
    pub predict_command: Option<CommandConfig>,
    /// Hyperparameter search.
    pub grid: Option<crate::config::GridConfig>,
    /// The schema the types came from.
    schema: Schema,
}

impl Plan {
    /// Resolves the plan; errors name the config key at fault.
    pub fn new(config: &LoadedConfig) -> anyhow::Result<Plan> {
        let model = config.config.model.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "`{}` has no `model:` section; add one such as `model: {{ kind: logistic_regression }}` (docs/config.md)",
                config.path.display()
            )
        })?;
        let target = config.config.data.target.clone().ok_or_else(|| {
            config.error_at(
                &["data"],
                "`data.target` is required for training".into(),
                Some("name the label column, e.g. `target: species`".into()),
            )
        })?;
        let schema = load_schema(config)?;
        let target_type = schema.column(&target).map(|c| c.ty).ok_or_else(|| {
            anyhow::anyhow!(
                "the target `{target}` is not a column of the schema `{}`",
                config.schema_path().display()
            )
        })?;
        let task = resolve_task(config, &model.kind, model.task, target_type)?;
        let id = config.config.data.id.clone();
        let features = choose_features(config, &schema, &target, id.as_deref())?;
        let external = model.kind == crate::config::EXTERNAL_KIND;
        let mut loads = Vec::new();
        if let Some(id) = &id {
            loads.push((id.clone(), Load::Text));
        }
        loads.push((
            target.clone(),
            match (task, external) {
                (TaskKind::Regression, false) => Load::Number(ColumnType::Float),
                _ => Load::Text,
            },
        ));
        for name in &features {
            let ty = schema.column(name).map_or(ColumnType::String, |c| c.ty);
            loads.push((
                name.clone(),
                if external { Load::Text } else { load_for(ty) },
            ));
        }
        let params = serde_json::to_value(&model.params)?
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok(Plan {
            kind: model.kind.clone(),
            task,
            target,
            id,
            features,
            loads,
            seed: model.seed,
            max_categories: model.max_categories,
            eval_fraction: model.split.eval_fraction,
            eval_path: model.split.eval_path.as_ref().map(|p| config.resolve(p)),
            params,
            train_command: model.train.clone(),
            predict_command: model.predict.clone(),
            grid: model.grid.clone(),
            schema,
        })
    }

    /// Whether the user's own program trains.
    pub fn is_external(&self) -> bool {
        self.kind == crate::config::EXTERNAL_KIND
    }

    /// The built-in model's kind.
    pub fn model_kind(&self) -> anyhow::Result<ModelKind> {
        built_in(&self.kind)
            .ok_or_else(|| anyhow::anyhow!("`{}` is not a built-in model", self.kind))
    }

    /// The built-in model's validated hyperparameters.
    pub fn params(&self) -> anyhow::Result<Params> {
        models::params_from_map(self.model_kind()?, &self.params)
            .map_err(|e| anyhow::anyhow!("invalid `model.params`: {e}"))
    }

    /// The hyperparameters as written.
    pub fn raw_params(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.params
    }

    /// Switches the feature columns to those a saved model was trained on, so it can score
    /// this data even when the config's features changed since.
    pub fn adopt(&mut self, header: &Header, payload: &ModelFile) {
        self.kind = header.model_kind.clone();
        self.task = header.task;
        self.features = payload
            .preprocessor
            .encodings
            .iter()
            .map(|e| e.column().to_string())
            .collect();
        self.loads.truncate(usize::from(self.id.is_some()) + 1);
        for encoding in &payload.preprocessor.encodings {
            let load = match encoding {
                Encoding::Numeric { column, .. } => {
                    let ty = self
                        .schema
                        .column(column)
                        .map_or(ColumnType::Float, |c| c.ty);
                    match load_for(ty) {
                        Load::Text => Load::Number(ColumnType::Float),
                        numeric => numeric,
                    }
                }
                Encoding::OneHot { .. } => Load::Text,
            };
            self.loads.push((encoding.column().to_string(), load));
        }
    }

    /// Loads the plan's columns of a data file.
    pub fn load(&self, config: &LoadedConfig, path: &std::path::Path) -> anyhow::Result<Table> {
        let options = ReadOptions::from_config(&config.config.data, path);
        let label = crate::data::display_relative(path, &config.dir)
            .display()
            .to_string();
        table::load(path, &label, &options, &self.loads)
    }

    /// Every row needs an id: it decides the split and joins predictions, so a missing one
    /// would silently fall back to the row number and could collide with a real id.
    pub fn check_ids(&self, table: &Table) -> anyhow::Result<()> {
        let Some(id) = &self.id else {
            return Ok(());
        };
        let Some(ColumnData::Text { codes, .. }) = table.column(id).map(|c| &c.data) else {
            return Ok(());
        };
        let missing: Vec<usize> = (0..table.rows)
            .filter(|&r| codes[r] == table::NULL_CODE)
            .collect();
        if let Some(first) = missing.first() {
            anyhow::bail!(
                "the id column `{id}` is missing in {} row(s), first in row {}; every row needs an id (it decides the train/eval split)",
                missing.len(),
                first + 1
            );
        }
        Ok(())
    }

    /// Rows whose target is present.
    pub fn rows_with_target(&self, table: &Table) -> Vec<usize> {
        let Some(column) = table.column(&self.target) else {
            return Vec::new();
        };
        (0..table.rows)
            .filter(|&r| match &column.data {
                ColumnData::Numbers(v) => v[r].is_finite(),
                ColumnData::Text { codes, .. } => codes[r] != table::NULL_CODE,
            })
            .collect()
    }

    /// The sorted classes of a classification; every one must occur in the training rows.
    pub fn classes(
        &self,
        train: &Table,
        train_rows: &[usize],
        eval: &Table,
        eval_rows: &[usize],
    ) -> Result<Vec<String>, TrainError> {
        if self.task == TaskKind::Regression {
            return Ok(Vec::new());
        }
        let train_labels: BTreeSet<String> =
            self.label_texts(train, train_rows).into_iter().collect();
        if train_labels.len() < 2 {
            return Err(TrainError::OneClass {
                target: self.target.clone(),
                class: train_labels.into_iter().next().unwrap_or_default(),
            });
        }
        let eval_labels = self.label_texts(eval, eval_rows);
        if let Some(unseen) = eval_labels.iter().find(|l| !train_labels.contains(*l)) {
            return Err(TrainError::UnseenLabel {
                target: self.target.clone(),
                class: unseen.clone(),
                rows: eval_labels.iter().filter(|l| *l == unseen).count(),
            });
        }
        Ok(train_labels.into_iter().collect())
    }

    /// Class indices of `rows`.
    pub fn encode_labels(&self, table: &Table, rows: &[usize], classes: &[String]) -> Vec<u32> {
        self.label_texts(table, rows)
            .iter()
            .map(|l| classes.binary_search(l).map_or(0, |i| i as u32))
            .collect()
    }

    /// Numeric targets of `rows`.
    pub fn numeric_target(&self, table: &Table, rows: &[usize]) -> Vec<f64> {
        match table.column(&self.target).map(|c| &c.data) {
            Some(ColumnData::Numbers(v)) => rows.iter().map(|&r| v[r]).collect(),
            _ => Vec::new(),
        }
    }

    /// The target's text per row.
    pub fn label_texts(&self, table: &Table, rows: &[usize]) -> Vec<String> {
        rows.iter()
            .map(|&r| text_of(table, &self.target, r).unwrap_or_default())
            .collect()
    }

    /// Row ids: the id column's text, or the 1-based data row.
    pub fn ids(&self, table: &Table, rows: &[usize]) -> Vec<String> {
        rows.iter()
            .map(|&r| {
                self.id
                    .as_deref()
                    .and_then(|id| text_of(table, id, r))
                    .unwrap_or_else(|| (r + 1).to_string())
            })
            .collect()
    }

    /// The id column external programs see.
    pub fn external_id_column(&self) -> &str {
        self.id.as_deref().unwrap_or(ROW_ID_COLUMN)
    }

    /// Writes `rows` of `table` as CSV for an external program: the id first (added when the
    /// data has none), then the target and the features, as text.
    pub fn write_rows(
        &self,
        table: &Table,
        rows: &[usize],
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        let mut header: Vec<&str> = Vec::new();
        if self.id.is_none() {
            header.push(ROW_ID_COLUMN);
        }
        header.extend(table.columns.iter().map(|c| c.name.as_str()));
        writer.write_record(&header)?;
        let ids = self.ids(table, rows);
        for (&row, id) in rows.iter().zip(ids) {
            let mut record: Vec<String> = Vec::with_capacity(header.len());
            if self.id.is_none() {
                record.push(id);
            }
            for column in &table.columns {
                record.push(text_of(table, &column.name, row).unwrap_or_default());
            }
            writer.write_record(&record)?;
        }
        let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        crate::fsx::write_atomic(path, &bytes)
    }

    /// Environment variables every external command gets.
    pub fn external_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MLGATE_TARGET", self.target.clone()),
            ("MLGATE_ID", self.external_id_column().to_string()),
            (
                "MLGATE_TASK",
                match self.task {
                    TaskKind::Classification => "classification",
                    TaskKind::Regression => "regression",
                }
                .to_string(),
            ),
            ("MLGATE_SEED", self.seed.to_string()),
            ("MLGATE_FEATURES", self.features.join(",")),
        ]
    }

    /// Classes seen in an external trainer's predictions, sorted.
    pub fn external_classes(
        &self,
        predictions: &crate::evaluate::predictions::Predictions,
    ) -> Vec<String> {
        if self.task == TaskKind::Regression {
            return Vec::new();
        }
        let set: BTreeSet<&String> = predictions.labels.iter().collect();
        set.into_iter().cloned().collect()
    }

    /// The type of a column in the schema.
    pub fn column_type(&self, name: &str) -> Option<ColumnType> {
        self.schema.column(name).map(|c| c.ty)
    }
}

/// The built-in model called `name`.
fn built_in(name: &str) -> Option<ModelKind> {
    ModelKind::ALL.into_iter().find(|k| k.name() == name)
}

/// How a column of a schema type is loaded for a built-in model.
fn load_for(ty: ColumnType) -> Load {
    match ty {
        ColumnType::Categorical | ColumnType::String => Load::Text,
        numeric => Load::Number(numeric),
    }
}

/// The task alone, as [`Plan::new`] resolves it, loading the schema only when neither the
/// model kind nor `model.task` decides: evaluating needs nothing more, and without a committed
/// schema one is inferred by reading the whole data file twice.
pub fn task(config: &LoadedConfig) -> anyhow::Result<TaskKind> {
    match &config.config.model {
        // The target type only matters for an external model without `task`, not this one.
        Some(model) if model.kind != crate::config::EXTERNAL_KIND || model.task.is_some() => {
            resolve_task(config, &model.kind, model.task, ColumnType::String)
        }
        _ => Plan::new(config).map(|plan| plan.task),
    }
}

/// The committed schema, or one inferred from the data when there is none yet.
fn load_schema(config: &LoadedConfig) -> anyhow::Result<Schema> {
    let path = config.schema_path();
    if path.exists() {
        Schema::load(&path)
    } else {
        crate::validate::infer_schema(config)
    }
}

/// The task from the model kind, checked against `model.task`.
fn resolve_task(
    config: &LoadedConfig,
    kind: &str,
    written: Option<TaskKind>,
    target_type: ColumnType,
) -> anyhow::Result<TaskKind> {
    let implied = match kind {
        crate::config::EXTERNAL_KIND => None,
        k => Some(match built_in(k) {
            Some(kind) if kind.is_classifier() => TaskKind::Classification,
            Some(_) => TaskKind::Regression,
            None => anyhow::bail!("unknown model kind `{k}`"),
        }),
    };
    match (implied, written) {
        (Some(implied), Some(written)) if implied != written => Err(config
            .error_at(
                &["model", "task"],
                format!("`{kind}` is a {implied:?} model but `task` says {written:?}")
                    .to_lowercase(),
                None,
            )
            .into()),
        (Some(implied), _) => Ok(implied),
        (None, Some(written)) => Ok(written),
        (None, None) => Ok(match target_type {
            ColumnType::Float => TaskKind::Regression,
            _ => TaskKind::Classification,
        }),
    }
}

/// `model.features`, or every schema column except the target, the id and the exclusions.
fn choose_features(
    config: &LoadedConfig,
    schema: &Schema,
    target: &str,
    id: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let model = config.config.model.as_ref();
    let excluded = |name: &str| {
        name == target
            || Some(name) == id
            || config.config.data.exclude.iter().any(|e| e == name)
            || model.is_some_and(|m| m.exclude.iter().any(|e| e == name))
    };
    let features: Vec<String> = match model.and_then(|m| m.features.as_ref()) {
        Some(listed) => {
            for name in listed {
                if schema.column(name).is_none() {
                    let hint = crate::config::closest(
                        name,
                        schema.columns.iter().map(|c| c.name.as_str()),
                    )
                    .map(|c| format!("did you mean `{c}`?"));
                    return Err(config
                        .error_at(
                            &["model", "features"],
                            format!("feature `{name}` is not a column of the schema"),
                            hint,
                        )
                        .into());
                }
                if name == target {
                    return Err(config
                        .error_at(
                            &["model", "features"],
                            format!("the target `{name}` cannot also be a feature"),
                            None,
                        )
                        .into());
                }
            }
            listed.clone()
        }
        None => schema
            .columns
            .iter()
            .map(|c| c.name.clone())
            .filter(|n| !excluded(n))
            .collect(),
    };
    if features.is_empty() {
        anyhow::bail!(
            "no feature columns are left after removing the target, the id and `exclude`"
        );
    }
    Ok(features)
}
