//! Built-in tabular models: hyperparameter validation, fitting and prediction.
//!
//! This module owns the mapping from mlgate's model names and user-supplied
//! hyperparameters to concrete estimators, and the fitted-model format that is
//! serialised into run artifacts. It works on an already numeric feature
//! matrix (imputation, scaling and one-hot encoding happen upstream) and on
//! class labels already encoded as `0..n_classes`.
//!
//! Implementations: decision trees and random forests (classification and
//! regression) are our histogram CART ([`super::forest`]), linear in rows and
//! grown on `MLGATE_THREADS` (else all cores) threads without the result
//! depending on the count; smartcore 0.7 fits logistic regression, Gaussian
//! naive Bayes, k-nearest neighbours, linear, ridge and elastic-net
//! regression; the linear SVM is our own dual coordinate descent solver
//! ([`super::linear_svm`]). Where smartcore cannot give class probabilities
//! (logistic regression, naive Bayes) we keep the fitted parameters in our own
//! structs and compute scores ourselves, so every classifier returns per-class
//! scores that sum to 1.
//!
//! Determinism: the same inputs and seed give byte-identical
//! `serde_json::to_vec(&fitted)` and identical predictions. Nothing that is
//! serialised iterates a hash map. Exact float round trips through JSON text
//! need serde_json's `float_roundtrip` feature.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::logreg::LogRegParams;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use smartcore::error::Failed;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::elastic_net::{ElasticNet, ElasticNetParameters};
use smartcore::linear::linear_regression::{LinearRegression, LinearRegressionParameters};
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::naive_bayes::gaussian::{GaussianNB, GaussianNBParameters};
use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};
use smartcore::neighbors::KNNWeightFunction;
use thiserror::Error;

use super::forest::{self as cart, Forest, ForestError};
use super::linear_svm::{softmax, LinearSvm, RowMajor, SvmLoss, SvmSettings};

/// smartcore's dense matrix over `f64`, the only matrix type we feed it.
type Matrix = DenseMatrix<f64>;
/// smartcore k-NN classifier as stored in fitted models.
type SmartKnn = KNNClassifier<f64, u32, Matrix, Vec<u32>, Euclidian<f64>>;

/// Row-major dense features, already imputed/scaled/one-hot encoded by the caller.
#[derive(Clone, Copy, Debug)]
pub struct Features<'a> {
    /// Number of rows (samples).
    pub rows: usize,
    /// Number of columns (features).
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub values: &'a [f64],
}

/// Training target: encoded class labels for classifiers, numbers for regressors.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// Class labels in `0..n_classes`, one per row.
    Classes {
        /// One label per row.
        labels: &'a [u32],
        /// Size of the label space (classes may be absent from these rows).
        n_classes: u32,
    },
    /// Numeric targets, one per row.
    Values(&'a [f64]),
}

/// The built-in model families, named as users write them in configs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// L2-regularised logistic regression (smartcore, L-BFGS).
    LogisticRegression,
    /// CART classification tree (our histogram CART, [`super::forest`]).
    DecisionTree,
    /// Random forest classifier (our histogram CART, averaged leaf class frequencies).
    RandomForest,
    /// Gaussian naive Bayes (smartcore statistics, our scoring).
    NaiveBayes,
    /// k-nearest-neighbours classifier (smartcore, Euclidean, cover tree).
    Knn,
    /// Linear SVM (our liblinear-style dual coordinate descent).
    LinearSvm,
    /// Ordinary least squares (smartcore, SVD).
    Linear,
    /// Ridge regression (smartcore Cholesky on centred data).
    Ridge,
    /// Elastic-net regression (smartcore interior point on centred data).
    ElasticNet,
    /// CART regression tree (our histogram CART).
    DecisionTreeRegressor,
    /// Random forest regressor (our histogram CART).
    RandomForestRegressor,
}

impl ModelKind {
    /// Every kind, in documentation order, for listings and exhaustive tests.
    pub const ALL: [ModelKind; 11] = [
        ModelKind::LogisticRegression,
        ModelKind::DecisionTree,
        ModelKind::RandomForest,
        ModelKind::NaiveBayes,
        ModelKind::Knn,
        ModelKind::LinearSvm,
        ModelKind::Linear,
        ModelKind::Ridge,
        ModelKind::ElasticNet,
        ModelKind::DecisionTreeRegressor,
        ModelKind::RandomForestRegressor,
    ];

    /// True for models that predict class labels.
    pub fn is_classifier(self) -> bool {
        matches!(
            self,
            ModelKind::LogisticRegression
                | ModelKind::DecisionTree
                | ModelKind::RandomForest
                | ModelKind::NaiveBayes
                | ModelKind::Knn
                | ModelKind::LinearSvm
        )
    }

    /// The config name (same spelling as the serde form).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::LogisticRegression => "logistic_regression",
            ModelKind::DecisionTree => "decision_tree",
            ModelKind::RandomForest => "random_forest",
            ModelKind::NaiveBayes => "naive_bayes",
            ModelKind::Knn => "knn",
            ModelKind::LinearSvm => "linear_svm",
            ModelKind::Linear => "linear",
            ModelKind::Ridge => "ridge",
            ModelKind::ElasticNet => "elastic_net",
            ModelKind::DecisionTreeRegressor => "decision_tree_regressor",
            ModelKind::RandomForestRegressor => "random_forest_regressor",
        }
    }
}

/// Split quality measure of classification trees.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Gini impurity (scikit-learn's default).
    Gini,
    /// Information gain (entropy).
    Entropy,
}

/// How many features a forest considers at each split.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    /// `floor(sqrt(n_features))`, at least 1 (classifier default).
    Sqrt,
    /// `floor(log2(n_features))`, at least 1.
    Log2,
    /// Every feature (regressor default, as scikit-learn).
    All,
    /// A fixed count, at most the number of features.
    Count(usize),
}

/// Neighbour weighting of the k-NN classifier.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KnnWeights {
    /// Every neighbour votes equally.
    Uniform,
    /// Votes weighted by inverse distance.
    Distance,
}

/// Hyperparameters shared by single trees and forests.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeParams {
    /// Maximum depth; `None` grows until leaves are pure.
    pub max_depth: Option<u16>,
    /// Minimum rows needed to split a node (>= 2).
    pub min_samples_split: usize,
    /// Minimum rows in a leaf (>= 1).
    pub min_samples_leaf: usize,
}

/// Hyperparameters of forests on top of the tree ones.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForestParams {
    /// Tree-level settings.
    pub tree: TreeParams,
    /// Number of trees.
    pub n_estimators: u16,
    /// Features considered per split.
    pub max_features: MaxFeatures,
}

/// Validated hyperparameters, one variant per model kind, with defaults close
/// to scikit-learn's where smartcore allows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Params {
    /// Logistic regression with scikit-learn's lbfgs objective and defaults.
    LogisticRegression {
        /// Inverse L2 strength (> 0), default 1.0.
        c: f64,
        /// L-BFGS iterations at most, default 100.
        max_iter: usize,
        /// Stop when the largest gradient entry is at most this, default 1e-4.
        tol: f64,
    },
    /// Classification tree.
    DecisionTree {
        /// Tree settings.
        tree: TreeParams,
        /// Split criterion, default gini.
        criterion: Criterion,
    },
    /// Random forest classifier.
    RandomForest {
        /// Forest settings (default 100 trees, sqrt features).
        forest: ForestParams,
        /// Split criterion, default gini.
        criterion: Criterion,
    },
    /// Gaussian naive Bayes.
    NaiveBayes {
        /// Fraction of the largest feature variance added to every variance
        /// (scikit-learn's `var_smoothing`), default 1e-9.
        var_smoothing: f64,
    },
    /// k-nearest neighbours.
    Knn {
        /// Neighbours consulted, default 5.
        k: usize,
        /// Vote weighting, default uniform.
        weights: KnnWeights,
    },
    /// Linear SVM.
    LinearSvm {
        /// Solver settings (default C=1, squared hinge, tol 0.1 as liblinear, 1000 passes).
        settings: SvmSettings,
    },
    /// Ordinary least squares (no hyperparameters).
    Linear,
    /// Ridge regression.
    Ridge {
        /// L2 strength (>= 0) on `||y - Xw||^2 + alpha ||w||^2`, default 1.0.
        alpha: f64,
    },
    /// Elastic-net regression.
    ElasticNet {
        /// Overall penalty (>= 0), default 1.0.
        alpha: f64,
        /// Share of L1 in the penalty, in [0, 1], default 0.5.
        l1_ratio: f64,
        /// Solver tolerance (> 0), default 1e-4.
        tol: f64,
        /// Solver iteration cap, default 1000.
        max_iter: usize,
    },
    /// Regression tree.
    DecisionTreeRegressor {
        /// Tree settings.
        tree: TreeParams,
    },
    /// Random forest regressor.
    RandomForestRegressor {
        /// Forest settings (default 100 trees, all features).
        forest: ForestParams,
    },
}

impl Params {
    /// The model kind these parameters belong to.
    pub fn kind(&self) -> ModelKind {
        match self {
            Params::LogisticRegression { .. } => ModelKind::LogisticRegression,
            Params::DecisionTree { .. } => ModelKind::DecisionTree,
            Params::RandomForest { .. } => ModelKind::RandomForest,
            Params::NaiveBayes { .. } => ModelKind::NaiveBayes,
            Params::Knn { .. } => ModelKind::Knn,
            Params::LinearSvm { .. } => ModelKind::LinearSvm,
            Params::Linear => ModelKind::Linear,
            Params::Ridge { .. } => ModelKind::Ridge,
            Params::ElasticNet { .. } => ModelKind::ElasticNet,
            Params::DecisionTreeRegressor { .. } => ModelKind::DecisionTreeRegressor,
            Params::RandomForestRegressor { .. } => ModelKind::RandomForestRegressor,
        }
    }

    /// Default parameters of a kind (what an empty params map yields).
    pub fn default_for(kind: ModelKind) -> Params {
        // An empty map has no unknown names and no bad values, so this cannot fail;
        // the fallback keeps the function total without a panic.
        params_from_map(kind, &Map::new()).unwrap_or(Params::Linear)
    }
}

/// A hyperparameter the user supplied that cannot be used.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ParamError {
    /// The name is not a parameter of this model.
    #[error("unknown parameter `{name}` for {kind}; valid parameters: {valid}")]
    Unknown {
        /// Model name.
        kind: &'static str,
        /// The offending name.
        name: String,
        /// Comma-separated valid names.
        valid: String,
    },
    /// The JSON value has the wrong type.
    #[error("parameter `{name}` of {kind} must be {expected}, got {found}")]
    WrongType {
        /// Model name.
        kind: &'static str,
        /// Parameter name.
        name: &'static str,
        /// What is accepted.
        expected: String,
        /// The JSON value given.
        found: String,
    },
    /// The value has the right type but is outside the allowed range.
    #[error("parameter `{name}` of {kind} is {value}, allowed: {allowed}")]
    OutOfRange {
        /// Model name.
        kind: &'static str,
        /// Parameter name.
        name: &'static str,
        /// The value given.
        value: String,
        /// The allowed range in words.
        allowed: String,
    },
}

/// Why a model could not be fitted or applied.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ModelError {
    /// `values.len()` does not match `rows * cols`.
    #[error("feature matrix claims {rows} rows x {cols} columns but holds {len} values")]
    MatrixShape {
        /// Claimed rows.
        rows: usize,
        /// Claimed columns.
        cols: usize,
        /// Actual number of values.
        len: usize,
    },
    /// No rows or no columns.
    #[error("feature matrix is empty ({rows} rows x {cols} columns); need at least one of each")]
    EmptyMatrix {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// A NaN or infinite feature value.
    #[error(
        "feature value at row {row}, column {col} is {value}; impute or drop non-finite values first"
    )]
    NonFiniteFeature {
        /// Row index.
        row: usize,
        /// Column index.
        col: usize,
        /// The value, as text.
        value: String,
    },
    /// Prediction matrix width differs from training.
    #[error("feature matrix has {found} columns, the model was trained on {expected}")]
    ColumnCount {
        /// Columns given.
        found: usize,
        /// Columns at training time.
        expected: usize,
    },
    /// Target length differs from the row count.
    #[error("target has {len} values but the feature matrix has {rows} rows")]
    TargetLength {
        /// Target length.
        len: usize,
        /// Matrix rows.
        rows: usize,
    },
    /// Classifier given numbers, or regressor given labels.
    #[error("{kind} is a {expected_kind} and needs {expected}, got {found}")]
    TargetKind {
        /// Model name.
        kind: &'static str,
        /// "classifier" or "regressor".
        expected_kind: &'static str,
        /// What it needs.
        expected: &'static str,
        /// What it got.
        found: &'static str,
    },
    /// A label at or above `n_classes`.
    #[error(
        "label {label} at row {row} is out of range: n_classes is {n_classes}, labels must be 0..{n_classes}"
    )]
    LabelOutOfRange {
        /// Row index.
        row: usize,
        /// The label.
        label: u32,
        /// Declared class count.
        n_classes: u32,
    },
    /// A NaN or infinite regression target.
    #[error("target value at row {row} is {value}; drop or impute non-finite targets first")]
    NonFiniteTarget {
        /// Row index.
        row: usize,
        /// The value, as text.
        value: String,
    },
    /// Fewer than two classes present.
    #[error("{kind} needs at least 2 classes in the training rows, found {found}")]
    TooFewClasses {
        /// Model name.
        kind: &'static str,
        /// Distinct labels present.
        found: usize,
    },
    /// Not enough rows for this model and these parameters.
    #[error("{kind} needs at least {needed} training rows ({why}), got {found}")]
    TooFewRows {
        /// Model name.
        kind: &'static str,
        /// Rows needed.
        needed: usize,
        /// Rows given.
        found: usize,
        /// Reason in words.
        why: String,
    },
    /// A parameter that is only checkable against the data.
    #[error("parameter `{name}` of {kind}: {message}")]
    ParamVsData {
        /// Model name.
        kind: &'static str,
        /// Parameter name.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The underlying library refused or failed.
    #[error("{kind} failed to fit or predict: {message}")]
    Backend {
        /// Model name.
        kind: &'static str,
        /// Library message, with a hint where we have one.
        message: String,
    },
    /// A fitted model is internally inconsistent (e.g. a hand-edited artifact).
    #[error("{kind} model is corrupt: {message}")]
    Corrupt {
        /// Model name.
        kind: &'static str,
        /// What is inconsistent.
        message: String,
    },
}

/// Result of [`FittedModel::predict`].
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Classifier output.
    Classes {
        /// Predicted label per row (argmax of scores, ties to the lowest label).
        predicted: Vec<u32>,
        /// `rows * n_classes` scores, row-major, each row sums to 1.
        scores: Option<Vec<f64>>,
    },
    /// Regressor output, one value per row.
    Values(Vec<f64>),
}

/// A fitted model as stored in run artifacts.
#[derive(Serialize, Deserialize, Debug)]
pub struct FittedModel {
    /// Model family.
    pub kind: ModelKind,
    /// Hyperparameters used.
    pub params: Params,
    /// Number of feature columns at training time.
    pub n_features: usize,
    /// Label-space size for classifiers, `None` for regressors.
    pub n_classes: Option<u32>,
    /// The estimator itself.
    inner: Inner,
}

/// The estimator behind a [`FittedModel`]: smartcore models where they can
/// predict everything we need, our own compact forms otherwise. Trees keep
/// [`Forest`]'s own serde form (flat per-tree arrays), nested as JSON, never
/// re-encoded as a string or byte array.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
enum Inner {
    /// Logistic regression weights (scores computed by us).
    Logistic(LinearClassifier),
    /// Classification tree or forest with leaf class distributions.
    Trees {
        /// Sorted labels present at training; the forest's class indices.
        classes: Vec<u32>,
        /// The fitted trees.
        forest: Forest,
    },
    /// Gaussian naive Bayes statistics.
    NaiveBayes(GaussianNb),
    /// smartcore k-NN classifier plus the labels present at training.
    Knn {
        /// Sorted labels present at training; smartcore's class indices.
        classes: Vec<u32>,
        /// The smartcore model.
        model: Box<SmartKnn>,
    },
    /// Linear SVM plus the labels present at training.
    LinearSvm {
        /// Sorted labels present at training; the SVM's class indices.
        classes: Vec<u32>,
        /// The solver output.
        model: LinearSvm,
    },
    /// Linear, ridge and elastic-net regression weights.
    LinearRegressor(LinearRegressor),
    /// Regression tree or forest with leaf means.
    TreeRegressor(Forest),
}

// ---------------------------------------------------------------------------
// Hyperparameter parsing
// ---------------------------------------------------------------------------

/// Allowed range of a float parameter.
#[derive(Clone, Copy)]
enum FloatRange {
    /// Finite and > 0.
    Positive,
    /// Finite and >= 0.
    NonNegative,
    /// In [0, 1].
    Unit,
}

impl FloatRange {
    /// Whether `v` is allowed.
    fn contains(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                FloatRange::Positive => v > 0.0,
                FloatRange::NonNegative => v >= 0.0,
                FloatRange::Unit => (0.0..=1.0).contains(&v),
            }
    }

    /// The range in words, for error messages.
    fn describe(self) -> &'static str {
        match self {
            FloatRange::Positive => "a finite number > 0",
            FloatRange::NonNegative => "a finite number >= 0",
            FloatRange::Unit => "a number between 0 and 1 inclusive",
        }
    }
}

/// Reads typed, range-checked values out of a user params map.
struct ParamReader<'m> {
    /// Model the params are for (for messages).
    kind: ModelKind,
    /// User-supplied params.
    map: &'m Map<String, Value>,
}

/// Parameter names each kind accepts, for the unknown-name check and messages.
fn valid_names(kind: ModelKind) -> &'static [&'static str] {
    const TREE: &[&str] = &["max_depth", "min_samples_split", "min_samples_leaf"];
    match kind {
        ModelKind::LogisticRegression => &["c", "max_iter", "tol"],
        ModelKind::DecisionTree => &[
            "criterion",
            "max_depth",
            "min_samples_leaf",
            "min_samples_split",
        ],
        ModelKind::RandomForest => &[
            "criterion",
            "max_depth",
            "max_features",
            "min_samples_leaf",
            "min_samples_split",
            "n_estimators",
        ],
        ModelKind::NaiveBayes => &["var_smoothing"],
        ModelKind::Knn => &["k", "weights"],
        ModelKind::LinearSvm => &["c", "loss", "max_iter", "tol"],
        ModelKind::Linear => &[],
        ModelKind::Ridge => &["alpha"],
        ModelKind::ElasticNet => &["alpha", "l1_ratio", "max_iter", "tol"],
        ModelKind::DecisionTreeRegressor => TREE,
        ModelKind::RandomForestRegressor => &[
            "max_depth",
            "max_features",
            "min_samples_leaf",
            "min_samples_split",
            "n_estimators",
        ],
    }
}

/// Short rendering of a JSON value for messages.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

impl<'m> ParamReader<'m> {
    /// Checks every supplied name against the kind's valid names (the map is
    /// ordered, so the first unknown name reported is deterministic).
    fn new(kind: ModelKind, map: &'m Map<String, Value>) -> Result<Self, ParamError> {
        let valid = valid_names(kind);
        if let Some(name) = map.keys().find(|k| !valid.contains(&k.as_str())) {
            let valid = if valid.is_empty() {
                "(none)".to_string()
            } else {
                valid.join(", ")
            };
            return Err(ParamError::Unknown {
                kind: kind.name(),
                name: name.clone(),
                valid,
            });
        }
        Ok(Self { kind, map })
    }

    /// A wrong-type error for `name`.
    fn wrong_type(&self, name: &'static str, expected: &str, v: &Value) -> ParamError {
        ParamError::WrongType {
            kind: self.kind.name(),
            name,
            expected: expected.to_string(),
            found: show(v),
        }
    }

    /// An out-of-range error for `name`.
    fn out_of_range(&self, name: &'static str, v: &Value, allowed: String) -> ParamError {
        ParamError::OutOfRange {
            kind: self.kind.name(),
            name,
            value: show(v),
            allowed,
        }
    }

    /// A float parameter in `range`, or `default` when absent.
    fn float(
        &self,
        name: &'static str,
        default: f64,
        range: FloatRange,
    ) -> Result<f64, ParamError> {
        let Some(v) = self.map.get(name) else {
            return Ok(default);
        };
        let x = v
            .as_f64()
            .ok_or_else(|| self.wrong_type(name, range.describe(), v))?;
        if range.contains(x) {
            Ok(x)
        } else {
            Err(self.out_of_range(name, v, range.describe().to_string()))
        }
    }

    /// An integer parameter in `min..=max`, or `default` when absent.
    fn int(&self, name: &'static str, default: u64, min: u64, max: u64) -> Result<u64, ParamError> {
        match self.map.get(name) {
            None => Ok(default),
            Some(v) => self.int_value(name, v, min, max),
        }
    }

    /// Checks one JSON value as an integer in `min..=max`.
    fn int_value(
        &self,
        name: &'static str,
        v: &Value,
        min: u64,
        max: u64,
    ) -> Result<u64, ParamError> {
        let allowed = format!("an integer from {min} to {max}");
        if let Some(x) = v.as_u64() {
            return if (min..=max).contains(&x) {
                Ok(x)
            } else {
                Err(self.out_of_range(name, v, allowed))
            };
        }
        if v.as_i64().is_some() {
            return Err(self.out_of_range(name, v, allowed));
        }
        Err(self.wrong_type(name, &allowed, v))
    }

    /// Optional integer: absent gives `None`... unless a default is given;
    /// JSON `null` explicitly means "no limit".
    fn opt_int(&self, name: &'static str, min: u64, max: u64) -> Result<Option<u64>, ParamError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.int_value(name, v, min, max).map(Some),
        }
    }

    /// One of a fixed set of strings, or `default` when absent.
    fn choice(
        &self,
        name: &'static str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, ParamError> {
        let Some(v) = self.map.get(name) else {
            return Ok(default);
        };
        let expected = format!("one of \"{}\"", choices.join("\", \""));
        let s = v
            .as_str()
            .ok_or_else(|| self.wrong_type(name, &expected, v))?;
        choices
            .iter()
            .find(|c| **c == s)
            .copied()
            .ok_or_else(|| self.out_of_range(name, v, expected))
    }

    /// Tree settings shared by all tree-based kinds.
    fn tree(&self) -> Result<TreeParams, ParamError> {
        let max_depth = self.opt_int("max_depth", 1, u64::from(u16::MAX))?;
        Ok(TreeParams {
            max_depth: max_depth.and_then(|d| u16::try_from(d).ok()),
            min_samples_split: to_usize(self.int("min_samples_split", 2, 2, 1_000_000)?),
            min_samples_leaf: to_usize(self.int("min_samples_leaf", 1, 1, 1_000_000)?),
        })
    }

    /// Forest settings; `default_features` differs between classifier and regressor.
    fn forest(&self, default_features: MaxFeatures) -> Result<ForestParams, ParamError> {
        let n = self.int("n_estimators", 100, 1, u64::from(u16::MAX))?;
        Ok(ForestParams {
            tree: self.tree()?,
            n_estimators: u16::try_from(n).unwrap_or(u16::MAX),
            max_features: self.max_features(default_features)?,
        })
    }

    /// `max_features`: "sqrt", "log2", "all" or a positive integer.
    fn max_features(&self, default: MaxFeatures) -> Result<MaxFeatures, ParamError> {
        const NAME: &str = "max_features";
        let expected = "\"sqrt\", \"log2\", \"all\" or an integer from 1 to 1000000";
        match self.map.get(NAME) {
            None => Ok(default),
            Some(v @ Value::String(s)) => match s.as_str() {
                "sqrt" => Ok(MaxFeatures::Sqrt),
                "log2" => Ok(MaxFeatures::Log2),
                "all" => Ok(MaxFeatures::All),
                _ => Err(self.out_of_range(NAME, v, expected.to_string())),
            },
            Some(v @ Value::Number(_)) => self
                .int_value(NAME, v, 1, 1_000_000)
                .map(|n| MaxFeatures::Count(to_usize(n))),
            Some(v) => Err(self.wrong_type(NAME, expected, v)),
        }
    }

    /// `criterion`: "gini" or "entropy".
    fn criterion(&self) -> Result<Criterion, ParamError> {
        Ok(
            match self.choice("criterion", "gini", &["gini", "entropy"])? {
                "entropy" => Criterion::Entropy,
                _ => Criterion::Gini,
            },
        )
    }
}

/// `u64` to `usize`, saturating (all our limits fit in 32 bits anyway).
fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Builds validated [`Params`] for `kind` from user-supplied JSON params.
///
/// Unknown names give an error listing the valid ones; wrong types and
/// out-of-range values give an error naming the parameter and the allowed
/// range. Missing names take their defaults.
pub fn params_from_map(kind: ModelKind, map: &Map<String, Value>) -> Result<Params, ParamError> {
    let r = ParamReader::new(kind, map)?;
    Ok(match kind {
        ModelKind::LogisticRegression => Params::LogisticRegression {
            c: r.float("c", 1.0, FloatRange::Positive)?,
            max_iter: to_usize(r.int("max_iter", 100, 1, 1_000_000)?),
            tol: r.float("tol", 1e-4, FloatRange::Positive)?,
        },
        ModelKind::DecisionTree => Params::DecisionTree {
            tree: r.tree()?,
            criterion: r.criterion()?,
        },
        ModelKind::RandomForest => Params::RandomForest {
            forest: r.forest(MaxFeatures::Sqrt)?,
            criterion: r.criterion()?,
        },
        ModelKind::NaiveBayes => Params::NaiveBayes {
            var_smoothing: r.float("var_smoothing", 1e-9, FloatRange::NonNegative)?,
        },
        ModelKind::Knn => Params::Knn {
            k: to_usize(r.int("k", 5, 1, 100_000)?),
            weights: match r.choice("weights", "uniform", &["uniform", "distance"])? {
                "distance" => KnnWeights::Distance,
                _ => KnnWeights::Uniform,
            },
        },
        ModelKind::LinearSvm => Params::LinearSvm {
            settings: svm_settings(&r)?,
        },
        ModelKind::Linear => Params::Linear,
        ModelKind::Ridge => Params::Ridge {
            alpha: r.float("alpha", 1.0, FloatRange::NonNegative)?,
        },
        ModelKind::ElasticNet => Params::ElasticNet {
            alpha: r.float("alpha", 1.0, FloatRange::NonNegative)?,
            l1_ratio: r.float("l1_ratio", 0.5, FloatRange::Unit)?,
            tol: r.float("tol", 1e-4, FloatRange::Positive)?,
            max_iter: to_usize(r.int("max_iter", 1000, 1, 1_000_000)?),
        },
        ModelKind::DecisionTreeRegressor => Params::DecisionTreeRegressor { tree: r.tree()? },
        ModelKind::RandomForestRegressor => Params::RandomForestRegressor {
            forest: r.forest(MaxFeatures::All)?,
        },
    })
}

/// Linear SVM settings from user params.
fn svm_settings(r: &ParamReader<'_>) -> Result<SvmSettings, ParamError> {
    Ok(SvmSettings {
        c: r.float("c", 1.0, FloatRange::Positive)?,
        loss: match r.choice("loss", "squared_hinge", &["hinge", "squared_hinge"])? {
            "hinge" => SvmLoss::Hinge,
            _ => SvmLoss::SquaredHinge,
        },
        // liblinear's own default for its dual solvers; scikit-learn's 1e-4
        // costs 3x the passes on 100k rows for the same accuracy.
        tol: r.float("tol", 0.1, FloatRange::Positive)?,
        max_iter: to_usize(r.int("max_iter", 1000, 1, 1_000_000)?),
    })
}

// ---------------------------------------------------------------------------
// Input validation
// ---------------------------------------------------------------------------

/// Checks shape and finiteness of a feature matrix.
fn check_features(x: &Features<'_>) -> Result<(), ModelError> {
    if x.rows == 0 || x.cols == 0 {
        return Err(ModelError::EmptyMatrix {
            rows: x.rows,
            cols: x.cols,
        });
    }
    if x.rows.checked_mul(x.cols) != Some(x.values.len()) {
        return Err(ModelError::MatrixShape {
            rows: x.rows,
            cols: x.cols,
            len: x.values.len(),
        });
    }
    match x.values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(ModelError::NonFiniteFeature {
            row: i / x.cols,
            col: i % x.cols,
            value: x.values[i].to_string(),
        }),
    }
}

/// Checks the prediction matrix and that it is as wide as the training one.
fn check_predict_features(x: &Features<'_>, expected: usize) -> Result<(), ModelError> {
    if x.cols != expected && x.cols != 0 {
        return Err(ModelError::ColumnCount {
            found: x.cols,
            expected,
        });
    }
    check_features(x)
}

/// Class labels of a classification target, validated; returns the labels,
/// the declared class count and the sorted distinct labels present.
fn class_target<'a>(
    kind: ModelKind,
    y: &Target<'a>,
    rows: usize,
) -> Result<(&'a [u32], u32, Vec<u32>), ModelError> {
    let Target::Classes { labels, n_classes } = *y else {
        return Err(ModelError::TargetKind {
            kind: kind.name(),
            expected_kind: "classifier",
            expected: "class labels",
            found: "numeric values",
        });
    };
    if labels.len() != rows {
        return Err(ModelError::TargetLength {
            len: labels.len(),
            rows,
        });
    }
    if let Some(row) = labels.iter().position(|&l| l >= n_classes) {
        return Err(ModelError::LabelOutOfRange {
            row,
            label: labels[row],
            n_classes,
        });
    }
    let present = present_classes(labels, n_classes);
    if present.len() < 2 {
        return Err(ModelError::TooFewClasses {
            kind: kind.name(),
            found: present.len(),
        });
    }
    Ok((labels, n_classes, present))
}

/// Sorted distinct labels (all `< n_classes`), found without hashing.
fn present_classes(labels: &[u32], n_classes: u32) -> Vec<u32> {
    let mut seen = vec![false; to_usize(u64::from(n_classes))];
    for &l in labels {
        if let Some(s) = seen.get_mut(l as usize) {
            *s = true;
        }
    }
    (0..n_classes)
        .filter(|&c| seen.get(c as usize).copied().unwrap_or(false))
        .collect()
}

/// Numeric values of a regression target, validated.
fn value_target<'a>(kind: ModelKind, y: &Target<'a>, rows: usize) -> Result<&'a [f64], ModelError> {
    let Target::Values(values) = *y else {
        return Err(ModelError::TargetKind {
            kind: kind.name(),
            expected_kind: "regressor",
            expected: "numeric values",
            found: "class labels",
        });
    };
    if values.len() != rows {
        return Err(ModelError::TargetLength {
            len: values.len(),
            rows,
        });
    }
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(values),
        Some(row) => Err(ModelError::NonFiniteTarget {
            row,
            value: values[row].to_string(),
        }),
    }
}

// ---------------------------------------------------------------------------
// smartcore plumbing
// ---------------------------------------------------------------------------

/// Copies the features into a row-major smartcore matrix.
fn to_matrix(kind: ModelKind, x: &Features<'_>) -> Result<Matrix, ModelError> {
    DenseMatrix::new(x.rows, x.cols, x.values.to_vec(), false).map_err(|e| backend(kind, &e))
}

/// Wraps a smartcore error with the model name.
fn backend(kind: ModelKind, e: &Failed) -> ModelError {
    ModelError::Backend {
        kind: kind.name(),
        message: e.to_string(),
    }
}

/// Runs a smartcore call, turning both its errors and any panic inside it
/// into [`ModelError::Backend`], so that no input can abort the CLI.
fn guarded<T>(kind: ModelKind, f: impl FnOnce() -> Result<T, Failed>) -> Result<T, ModelError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(backend(kind, &e)),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(ModelError::Backend {
                kind: kind.name(),
                message: format!("smartcore panicked: {msg}"),
            })
        }
    }
}

/// Row-major copy of a smartcore matrix (any shape).
fn matrix_rows(m: &Matrix) -> Vec<Vec<f64>> {
    // Scoped import: smartcore's `Array` trait also gives `Vec` a `get`
    // method that would shadow the slice one elsewhere in this module.
    use smartcore::linalg::basic::arrays::Array;
    let (r, c) = m.shape();
    (0..r)
        .map(|i| (0..c).map(|j| *m.get((i, j))).collect())
        .collect()
}

/// All values of a smartcore vector-shaped matrix (p x 1 or 1 x p), in order.
fn matrix_flat(m: &Matrix) -> Vec<f64> {
    matrix_rows(m).into_iter().flatten().collect()
}

/// Mixes the user seed with a per-purpose salt (splitmix64 finaliser), so
/// different models fitted with the same seed do not share random streams.
fn derive_seed(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Resolves `max_features` against the column count.
fn resolve_max_features(
    kind: ModelKind,
    mf: MaxFeatures,
    cols: usize,
) -> Result<usize, ModelError> {
    let n = match mf {
        MaxFeatures::Sqrt => (cols as f64).sqrt().floor() as usize,
        MaxFeatures::Log2 => (cols as f64).log2().floor() as usize,
        MaxFeatures::All => cols,
        MaxFeatures::Count(n) if n > cols => {
            return Err(ModelError::ParamVsData {
                kind: kind.name(),
                name: "max_features",
                message: format!("is {n} but the feature matrix has only {cols} columns"),
            });
        }
        MaxFeatures::Count(n) => n,
    };
    Ok(n.clamp(1, cols))
}

// ---------------------------------------------------------------------------
// Own model forms
// ---------------------------------------------------------------------------

/// Softmax/sigmoid linear classifier (logistic regression weights).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct LinearClassifier {
    /// Sorted labels present at training; score columns follow this order.
    classes: Vec<u32>,
    /// One weight row per class, or a single row (for class index 1) when binary.
    coef: Vec<Vec<f64>>,
    /// One intercept per weight row.
    intercept: Vec<f64>,
}

impl LinearClassifier {
    /// Scores over `classes` for one row: sigmoid when binary (the single weight
    /// row scores class index 1), softmax over rows otherwise.
    fn scores(&self, row: &[f64]) -> Vec<f64> {
        let z: Vec<f64> = self
            .coef
            .iter()
            .zip(&self.intercept)
            .map(|(w, b)| w.iter().zip(row).map(|(a, x)| a * x).sum::<f64>() + b)
            .collect();
        if self.classes.len() == 2 {
            softmax(&[0.0, z.first().copied().unwrap_or(0.0)])
        } else {
            softmax(&z)
        }
    }
}

/// Gaussian naive Bayes in log space with variance smoothing.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct GaussianNb {
    /// Sorted labels present at training.
    classes: Vec<u32>,
    /// Log prior per class.
    log_prior: Vec<f64>,
    /// Per class, per feature mean.
    theta: Vec<Vec<f64>>,
    /// Per class, per feature variance after smoothing (all > 0).
    var: Vec<Vec<f64>>,
}

impl GaussianNb {
    /// Posterior class probabilities of one row (log-sum-exp normalised).
    fn scores(&self, row: &[f64]) -> Vec<f64> {
        let ln_2pi = (2.0 * std::f64::consts::PI).ln();
        let joint: Vec<f64> = self
            .log_prior
            .iter()
            .zip(self.theta.iter().zip(&self.var))
            .map(|(lp, (mu, var))| {
                let ll: f64 = row
                    .iter()
                    .zip(mu.iter().zip(var))
                    .map(|(x, (m, v))| -0.5 * (ln_2pi + v.ln()) - (x - m) * (x - m) / (2.0 * v))
                    .sum();
                lp + ll
            })
            .collect();
        softmax(&joint)
    }
}

/// Linear regression weights shared by OLS, ridge and elastic net.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct LinearRegressor {
    /// One weight per feature.
    coef: Vec<f64>,
    /// Intercept.
    intercept: f64,
}

impl LinearRegressor {
    /// Prediction for one row.
    fn predict(&self, row: &[f64]) -> f64 {
        self.coef.iter().zip(row).map(|(w, x)| w * x).sum::<f64>() + self.intercept
    }

    /// Rejects non-finite weights (a diverged or singular solve).
    fn checked(self, kind: ModelKind, hint: &str) -> Result<Self, ModelError> {
        if self.intercept.is_finite() && self.coef.iter().all(|c| c.is_finite()) {
            Ok(self)
        } else {
            Err(ModelError::Backend {
                kind: kind.name(),
                message: format!("the solver produced non-finite weights; {hint}"),
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Fitting
// ---------------------------------------------------------------------------

/// Fits the model described by `params` on `x` and `y`, growing trees on
/// [`crate::threads::budget`] threads (fitted models never depend on it).
///
/// `seed` drives every random choice (bootstrap, feature sampling, SVM
/// permutation); the same inputs and seed give a byte-identical serialised
/// model.
pub fn fit(
    params: &Params,
    x: &Features<'_>,
    y: &Target<'_>,
    seed: u64,
) -> Result<FittedModel, ModelError> {
    fit_with_threads(params, x, y, seed, crate::threads::budget())
}

/// [`fit`] with an explicit thread count for the tree kinds (callers that
/// already run fits in parallel pass their share); the other kinds run on
/// one thread. The model is identical for every `threads`.
pub fn fit_with_threads(
    params: &Params,
    x: &Features<'_>,
    y: &Target<'_>,
    seed: u64,
    threads: usize,
) -> Result<FittedModel, ModelError> {
    check_features(x)?;
    let threads = threads.max(1);
    let kind = params.kind();
    let (inner, n_classes) = if kind.is_classifier() {
        let (labels, n_classes, present) = class_target(kind, y, x.rows)?;
        (
            fit_classifier(params, x, labels, present, seed, threads)?,
            Some(n_classes),
        )
    } else {
        (
            fit_regressor(params, x, value_target(kind, y, x.rows)?, seed, threads)?,
            None,
        )
    };
    Ok(FittedModel {
        kind,
        params: params.clone(),
        n_features: x.cols,
        n_classes,
        inner,
    })
}

/// Dispatches classifier fits; `present` are the sorted labels present.
fn fit_classifier(
    params: &Params,
    x: &Features<'_>,
    labels: &[u32],
    present: Vec<u32>,
    seed: u64,
    threads: usize,
) -> Result<Inner, ModelError> {
    let kind = params.kind();
    match params {
        Params::LogisticRegression { c, max_iter, tol } => {
            let settings = LogRegParams {
                c: *c,
                max_iter: *max_iter,
                tol: *tol,
            };
            fit_logistic(x, labels, present, &settings, threads)
        }
        Params::DecisionTree { tree, criterion } => {
            let p = cart_params(kind, tree, None, *criterion, x.cols)?;
            fit_tree_classifier(kind, x, labels, present, &p, derive_seed(seed, 1), threads)
        }
        Params::RandomForest { forest, criterion } => {
            let p = cart_params(kind, &forest.tree, Some(forest), *criterion, x.cols)?;
            fit_tree_classifier(kind, x, labels, present, &p, derive_seed(seed, 2), threads)
        }
        Params::NaiveBayes { var_smoothing } => fit_naive_bayes(x, labels, present, *var_smoothing),
        Params::Knn { k, weights } => fit_knn(x, labels, present, *k, *weights),
        Params::LinearSvm { settings } => fit_svm(x, labels, present, settings, seed),
        _ => Err(ModelError::Corrupt {
            kind: kind.name(),
            message: "not a classifier".to_string(),
        }),
    }
}

/// Logistic regression with our L-BFGS ([`super::logreg`]): smartcore's fixed 1000-iteration
/// solver was 5x slower than scikit-learn on 100k rows; ours matches scikit-learn's objective
/// and is faster than it. Only the weights are kept.
fn fit_logistic(
    x: &Features<'_>,
    labels: &[u32],
    classes: Vec<u32>,
    settings: &LogRegParams,
    threads: usize,
) -> Result<Inner, ModelError> {
    let kind = ModelKind::LogisticRegression;
    let n_classes = classes.last().map_or(0, |c| c + 1);
    let model = super::logreg::fit(
        x.values, x.rows, x.cols, labels, n_classes, settings, threads,
    )
    .map_err(|e| ModelError::Backend {
        kind: kind.name(),
        message: e.to_string(),
    })?;
    let cols = x.cols.max(1);
    let coef: Vec<Vec<f64>> = if x.cols == 0 {
        vec![Vec::new(); model.intercepts().len()]
    } else {
        model.weights().chunks(cols).map(<[f64]>::to_vec).collect()
    };
    Ok(Inner::Logistic(LinearClassifier {
        classes,
        coef,
        intercept: model.intercepts().to_vec(),
    }))
}

/// Compact class index of each label (position in `classes`).
fn compact_labels(labels: &[u32], classes: &[u32]) -> Vec<usize> {
    labels
        .iter()
        .map(|l| classes.binary_search(l).unwrap_or(0))
        .collect()
}

/// The [`cart`] settings for our tree parameters: a single tree (`ensemble`
/// `None`) sees every feature and every row once, as scikit-learn's
/// `DecisionTree*`; a forest bootstraps and draws `max_features` per node.
fn cart_params(
    kind: ModelKind,
    tree: &TreeParams,
    ensemble: Option<&ForestParams>,
    criterion: Criterion,
    cols: usize,
) -> Result<cart::ForestParams, ModelError> {
    let (n_trees, max_features, bootstrap) = match ensemble {
        None => (1, cart::MaxFeatures::All, false),
        Some(f) => (
            usize::from(f.n_estimators),
            cart::MaxFeatures::Count(resolve_max_features(kind, f.max_features, cols)?),
            true,
        ),
    };
    Ok(cart::ForestParams {
        n_trees,
        max_depth: tree.max_depth.map(usize::from),
        min_samples_split: tree.min_samples_split,
        min_samples_leaf: tree.min_samples_leaf,
        max_features,
        bootstrap,
        criterion: match criterion {
            Criterion::Gini => cart::Criterion::Gini,
            Criterion::Entropy => cart::Criterion::Entropy,
        },
    })
}

/// Borrows our features as a [`cart::Matrix`] (same row-major layout).
fn cart_matrix<'a>(x: &Features<'a>) -> cart::Matrix<'a> {
    cart::Matrix {
        values: x.values,
        rows: x.rows,
        cols: x.cols,
    }
}

/// Names the model in a [`ForestError`]; a damaged or mismatched forest is
/// [`ModelError::Corrupt`], anything else a backend failure.
fn cart_error(kind: ModelKind, e: ForestError) -> ModelError {
    match e {
        ForestError::Corrupt(message) => ModelError::Corrupt {
            kind: kind.name(),
            message,
        },
        ForestError::WrongKind(message) => ModelError::Corrupt {
            kind: kind.name(),
            message: message.to_string(),
        },
        other => ModelError::Backend {
            kind: kind.name(),
            message: other.to_string(),
        },
    }
}

/// Classification tree or forest on labels compacted to the present
/// `classes`, so leaves store only classes seen in training.
fn fit_tree_classifier(
    kind: ModelKind,
    x: &Features<'_>,
    labels: &[u32],
    classes: Vec<u32>,
    p: &cart::ForestParams,
    seed: u64,
    threads: usize,
) -> Result<Inner, ModelError> {
    let compact: Vec<u32> = labels
        .iter()
        .map(|l| classes.binary_search(l).unwrap_or(0) as u32)
        .collect();
    let forest = cart::fit_classifier(cart_matrix(x), &compact, classes.len(), p, seed, threads)
        .map_err(|e| cart_error(kind, e))?;
    Ok(Inner::Trees { classes, forest })
}

/// Gaussian naive Bayes: class statistics from smartcore, smoothing and
/// scoring ours (smartcore adds no variance smoothing, so a feature constant
/// within a class would give infinite log-likelihoods).
fn fit_naive_bayes(
    x: &Features<'_>,
    labels: &[u32],
    classes: Vec<u32>,
    var_smoothing: f64,
) -> Result<Inner, ModelError> {
    let kind = ModelKind::NaiveBayes;
    let m = to_matrix(kind, x)?;
    let y = labels.to_vec();
    let model = guarded(kind, || {
        GaussianNB::<f64, u32, Matrix, Vec<u32>>::fit(&m, &y, GaussianNBParameters::default())
    })?;
    let epsilon = var_smoothing * max_column_variance(x);
    let var: Vec<Vec<f64>> = model
        .var()
        .iter()
        .map(|v| v.iter().map(|s| s.max(0.0) + epsilon).collect())
        .collect();
    if var.iter().flatten().any(|v| !(*v > 0.0 && v.is_finite())) {
        return Err(ModelError::ParamVsData {
            kind: kind.name(),
            name: "var_smoothing",
            message: "a feature has zero variance within a class; set var_smoothing > 0 or drop constant features".to_string(),
        });
    }
    let log_prior = model.class_priors().iter().map(|p| p.ln()).collect();
    Ok(Inner::NaiveBayes(GaussianNb {
        classes,
        log_prior,
        theta: model.theta().clone(),
        var,
    }))
}

/// Largest per-column population variance (scikit-learn's smoothing scale).
fn max_column_variance(x: &Features<'_>) -> f64 {
    let n = x.rows as f64;
    (0..x.cols)
        .map(|j| {
            let col = || x.values.iter().skip(j).step_by(x.cols);
            let mean = col().sum::<f64>() / n;
            col().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
        })
        .fold(0.0, f64::max)
}

/// k-NN via smartcore (cover tree, Euclidean).
fn fit_knn(
    x: &Features<'_>,
    labels: &[u32],
    classes: Vec<u32>,
    k: usize,
    weights: KnnWeights,
) -> Result<Inner, ModelError> {
    let kind = ModelKind::Knn;
    if k > x.rows {
        return Err(ModelError::TooFewRows {
            kind: kind.name(),
            needed: k,
            found: x.rows,
            why: format!("k is {k}"),
        });
    }
    let m = to_matrix(kind, x)?;
    let y = labels.to_vec();
    let w = match weights {
        KnnWeights::Uniform => KNNWeightFunction::Uniform,
        KnnWeights::Distance => KNNWeightFunction::Distance,
    };
    let p = KNNClassifierParameters::default().with_k(k).with_weight(w);
    let model = guarded(kind, || SmartKnn::fit(&m, &y, p))?;
    Ok(Inner::Knn {
        classes,
        model: Box::new(model),
    })
}

/// Linear SVM with our solver, on compact labels.
fn fit_svm(
    x: &Features<'_>,
    labels: &[u32],
    classes: Vec<u32>,
    settings: &SvmSettings,
    seed: u64,
) -> Result<Inner, ModelError> {
    let compact: Vec<u32> = compact_labels(labels, &classes)
        .into_iter()
        .map(|c| c as u32)
        .collect();
    let rm = RowMajor {
        rows: x.rows,
        cols: x.cols,
        values: x.values,
    };
    let model = LinearSvm::fit(rm, &compact, classes.len(), settings, derive_seed(seed, 3));
    if !model.is_finite() {
        return Err(ModelError::Backend {
            kind: ModelKind::LinearSvm.name(),
            message: "the solver produced non-finite weights; try a smaller c".to_string(),
        });
    }
    Ok(Inner::LinearSvm { classes, model })
}

/// Dispatches regressor fits.
fn fit_regressor(
    params: &Params,
    x: &Features<'_>,
    y: &[f64],
    seed: u64,
    threads: usize,
) -> Result<Inner, ModelError> {
    let kind = params.kind();
    match params {
        Params::Linear => fit_ols(x, y),
        Params::Ridge { alpha } => fit_ridge(x, y, *alpha),
        Params::ElasticNet {
            alpha,
            l1_ratio,
            tol,
            max_iter,
        } => {
            let p = ElasticNetParameters::default()
                .with_alpha(*alpha)
                .with_l1_ratio(*l1_ratio)
                .with_tol(*tol)
                .with_max_iter(*max_iter)
                .with_normalize(false);
            fit_elastic_net(x, y, p)
        }
        Params::DecisionTreeRegressor { tree } => {
            let p = cart_params(kind, tree, None, Criterion::Gini, x.cols)?;
            fit_tree_regressor(kind, x, y, &p, derive_seed(seed, 4), threads)
        }
        Params::RandomForestRegressor { forest } => {
            let p = cart_params(kind, &forest.tree, Some(forest), Criterion::Gini, x.cols)?;
            fit_tree_regressor(kind, x, y, &p, derive_seed(seed, 5), threads)
        }
        _ => Err(ModelError::Corrupt {
            kind: kind.name(),
            message: "not a regressor".to_string(),
        }),
    }
}

/// Ordinary least squares via smartcore's SVD solver.
fn fit_ols(x: &Features<'_>, y: &[f64]) -> Result<Inner, ModelError> {
    let kind = ModelKind::Linear;
    if x.rows <= x.cols {
        return Err(ModelError::TooFewRows {
            kind: kind.name(),
            needed: x.cols + 1,
            found: x.rows,
            why: format!(
                "one more than the {} feature columns; use ridge for wide data",
                x.cols
            ),
        });
    }
    let m = to_matrix(kind, x)?;
    let yv = y.to_vec();
    let p = LinearRegressionParameters::default();
    let model = guarded(kind, || {
        LinearRegression::<f64, f64, Matrix, Vec<f64>>::fit(&m, &yv, p)
    })?;
    let r = LinearRegressor {
        coef: matrix_flat(model.coefficients()),
        intercept: *model.intercept(),
    };
    Ok(Inner::LinearRegressor(
        r.checked(kind, "features may be collinear; try ridge")?,
    ))
}

/// Column means and a centred copy of the features; with the centred target
/// this lets smartcore solve without an intercept, as scikit-learn does.
fn centre(x: &Features<'_>, y: &[f64]) -> (Vec<f64>, Vec<f64>, f64, Vec<f64>) {
    let n = x.rows as f64;
    let mut means = vec![0.0; x.cols];
    for row in x.values.chunks(x.cols) {
        means.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    means.iter_mut().for_each(|m| *m /= n);
    let centred: Vec<f64> = x
        .values
        .chunks(x.cols)
        .flat_map(|row| {
            row.iter()
                .zip(&means)
                .map(|(v, m)| v - m)
                .collect::<Vec<_>>()
        })
        .collect();
    let y_mean = y.iter().sum::<f64>() / n;
    let yc = y.iter().map(|v| v - y_mean).collect();
    (means, centred, y_mean, yc)
}

/// Intercept that undoes the centring.
fn intercept_from(coef: &[f64], means: &[f64], y_mean: f64) -> f64 {
    y_mean - coef.iter().zip(means).map(|(w, m)| w * m).sum::<f64>()
}

/// Ridge via smartcore (Cholesky) on centred data, so the intercept is not
/// penalised and features are not rescaled (scikit-learn semantics).
fn fit_ridge(x: &Features<'_>, y: &[f64], alpha: f64) -> Result<Inner, ModelError> {
    let kind = ModelKind::Ridge;
    if x.rows <= x.cols {
        return Err(ModelError::TooFewRows {
            kind: kind.name(),
            needed: x.cols + 1,
            found: x.rows,
            why: format!(
                "smartcore's ridge needs more rows than the {} feature columns",
                x.cols
            ),
        });
    }
    let (means, centred, y_mean, yc) = centre(x, y);
    let m = DenseMatrix::new(x.rows, x.cols, centred, false).map_err(|e| backend(kind, &e))?;
    let p = RidgeRegressionParameters::default()
        .with_alpha(alpha)
        .with_normalize(false);
    let model = guarded(kind, || {
        RidgeRegression::<f64, f64, Matrix, Vec<f64>>::fit(&m, &yc, p)
    })
    .map_err(|e| hint(e, "with collinear features use alpha > 0"))?;
    let coef = matrix_flat(model.coefficients());
    let intercept = intercept_from(&coef, &means, y_mean);
    Ok(Inner::LinearRegressor(
        LinearRegressor { coef, intercept }.checked(kind, "try a larger alpha")?,
    ))
}

/// Appends a hint to a backend error message.
fn hint(e: ModelError, text: &str) -> ModelError {
    match e {
        ModelError::Backend { kind, message } => ModelError::Backend {
            kind,
            message: format!("{message}; {text}"),
        },
        other => other,
    }
}

/// Elastic net via smartcore on centred data (its un-normalised path does
/// not fit an intercept itself).
fn fit_elastic_net(
    x: &Features<'_>,
    y: &[f64],
    p: ElasticNetParameters,
) -> Result<Inner, ModelError> {
    let kind = ModelKind::ElasticNet;
    let (means, centred, y_mean, yc) = centre(x, y);
    let m = DenseMatrix::new(x.rows, x.cols, centred, false).map_err(|e| backend(kind, &e))?;
    let model = guarded(kind, || {
        ElasticNet::<f64, f64, Matrix, Vec<f64>>::fit(&m, &yc, p)
    })?;
    let coef = matrix_flat(model.coefficients());
    let intercept = intercept_from(&coef, &means, y_mean);
    Ok(Inner::LinearRegressor(
        LinearRegressor { coef, intercept }.checked(kind, "try a larger alpha or tol")?,
    ))
}

/// Regression tree or forest (leaf means).
fn fit_tree_regressor(
    kind: ModelKind,
    x: &Features<'_>,
    y: &[f64],
    p: &cart::ForestParams,
    seed: u64,
    threads: usize,
) -> Result<Inner, ModelError> {
    cart::fit_regressor(cart_matrix(x), y, p, seed, threads)
        .map(Inner::TreeRegressor)
        .map_err(|e| cart_error(kind, e))
}

// ---------------------------------------------------------------------------
// Prediction
// ---------------------------------------------------------------------------

impl FittedModel {
    /// Predicts for every row of `x`, which must have the training width.
    pub fn predict(&self, x: &Features<'_>) -> Result<Prediction, ModelError> {
        check_predict_features(x, self.n_features)?;
        let kind = self.kind;
        let rows = || x.values.chunks(x.cols);
        match &self.inner {
            Inner::Logistic(m) => self.classes(&m.classes, rows().map(|r| Ok(m.scores(r)))),
            Inner::Trees { classes, forest } => {
                let k = classes.len();
                let proba = forest
                    .predict_proba(cart_matrix(x))
                    .map_err(|e| cart_error(kind, e))?;
                if k == 0 || proba.len() != x.rows * k {
                    return Err(ModelError::Corrupt {
                        kind: kind.name(),
                        message: "the trees' class count does not match the stored classes"
                            .to_string(),
                    });
                }
                self.classes(classes, proba.chunks(k).map(|r| Ok(r.to_vec())))
            }
            Inner::NaiveBayes(m) => self.classes(&m.classes, rows().map(|r| Ok(m.scores(r)))),
            Inner::LinearSvm { classes, model } => {
                self.classes(classes, rows().map(|r| Ok(model.scores(r))))
            }
            Inner::Knn { classes, model } => {
                let m = to_matrix(kind, x)?;
                let proba = guarded(kind, || model.predict_proba(&m))?;
                self.classes(classes, proba.into_iter().map(Ok))
            }
            Inner::LinearRegressor(m) => {
                Ok(Prediction::Values(rows().map(|r| m.predict(r)).collect()))
            }
            Inner::TreeRegressor(forest) => forest
                .predict_values(cart_matrix(x))
                .map(Prediction::Values)
                .map_err(|e| cart_error(kind, e)),
        }
    }

    /// Scatters per-row scores over `present` classes into the full
    /// `n_classes` label space and takes the argmax (ties to the lowest label).
    fn classes(
        &self,
        present: &[u32],
        rows: impl Iterator<Item = Result<Vec<f64>, ModelError>>,
    ) -> Result<Prediction, ModelError> {
        let k = self.n_classes.map_or(0, |n| n as usize);
        let mut predicted = Vec::new();
        let mut scores = Vec::new();
        for row in rows {
            let row = row?;
            if row.len() != present.len() || present.iter().any(|&c| c as usize >= k) {
                return Err(ModelError::Corrupt {
                    kind: self.kind.name(),
                    message: "score width does not match the stored classes".to_string(),
                });
            }
            let start = scores.len();
            scores.resize(start + k, 0.0);
            for (&c, s) in present.iter().zip(&row) {
                scores[start + c as usize] = *s;
            }
            predicted.push(argmax(&scores[start..]));
        }
        Ok(Prediction::Classes {
            predicted,
            scores: Some(scores),
        })
    }
}

/// Index of the largest value, the lowest index among ties.
fn argmax(values: &[f64]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic synthetic data for the tests (splitmix64 + Box-Muller).
    struct Gen(u64);

    impl Gen {
        /// Next 64 random bits.
        fn bits(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.bits() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Standard normal.
        fn normal(&mut self) -> f64 {
            let u1 = self.unit().max(1e-300);
            let u2 = self.unit();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }

    /// Classification data: `k` Gaussian blobs in 4-D (centres on a circle of
    /// radius `r` in the first two features, two pure-noise features).
    fn blobs(n: usize, k: u32, r: f64, seed: u64) -> (Vec<f64>, Vec<u32>) {
        let mut g = Gen(seed);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let c = (i as u32) % k;
            let angle = 2.0 * std::f64::consts::PI * f64::from(c) / f64::from(k);
            x.extend([
                r * angle.cos() + g.normal(),
                r * angle.sin() + g.normal(),
                g.normal(),
                g.normal(),
            ]);
            y.push(c);
        }
        (x, y)
    }

    /// Regression data: `y = 1 + 3 x0 - 2 x1 + 0.5 x2 + noise(0.5)`, 4 features.
    fn linear_data(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut g = Gen(seed);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let r = [g.normal(), g.normal(), g.normal(), g.normal()];
            y.push(1.0 + 3.0 * r[0] - 2.0 * r[1] + 0.5 * r[2] + 0.5 * g.normal());
            x.extend(r);
        }
        (x, y)
    }

    /// Features view over a 4-column buffer.
    fn feats(values: &[f64]) -> Features<'_> {
        Features {
            rows: values.len() / 4,
            cols: 4,
            values,
        }
    }

    /// Classifier kinds.
    fn classifiers() -> Vec<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .filter(|k| k.is_classifier())
            .collect()
    }

    /// Regressor kinds.
    fn regressors() -> Vec<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .filter(|k| !k.is_classifier())
            .collect()
    }

    /// Fits `kind` with default params.
    fn fit_default(kind: ModelKind, x: &Features<'_>, y: &Target<'_>) -> FittedModel {
        fit(&Params::default_for(kind), x, y, 42).unwrap_or_else(|e| panic!("{}: {e}", kind.name()))
    }

    /// Predicted labels and scores of a classifier.
    fn classes_of(p: Prediction) -> (Vec<u32>, Vec<f64>) {
        match p {
            Prediction::Classes {
                predicted,
                scores: Some(s),
            } => (predicted, s),
            other => panic!("expected classes with scores, got {other:?}"),
        }
    }

    /// Fraction of equal labels.
    fn accuracy(a: &[u32], b: &[u32]) -> f64 {
        a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
    }

    /// Checks each score row sums to 1 and the prediction is its argmax.
    fn check_scores(kind: ModelKind, predicted: &[u32], scores: &[f64], k: usize) {
        assert_eq!(scores.len(), predicted.len() * k, "{kind:?}");
        for (row, p) in scores.chunks(k).zip(predicted) {
            let sum: f64 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-9, "{kind:?}: row sums to {sum}");
            assert!(
                row.iter().all(|s| (0.0..=1.0).contains(s)),
                "{kind:?}: {row:?}"
            );
            assert_eq!(argmax(row), *p, "{kind:?}");
        }
    }

    /// Classifier accuracy on held-out rows of `k` blobs; every model must
    /// clearly beat the 1/k majority baseline.
    fn classifier_accuracy(kind: ModelKind, k: u32) -> f64 {
        let (xtr, ytr) = blobs(600, k, 3.0, 1);
        let (xte, yte) = blobs(400, k, 3.0, 2);
        let m = fit_default(
            kind,
            &feats(&xtr),
            &Target::Classes {
                labels: &ytr,
                n_classes: k,
            },
        );
        let (pred, scores) = classes_of(m.predict(&feats(&xte)).unwrap());
        check_scores(kind, &pred, &scores, k as usize);
        accuracy(&pred, &yte)
    }

    #[test]
    fn binary_classifiers_beat_baseline() {
        // Bayes accuracy here is about 0.98; majority baseline 0.5. Threshold 0.9.
        for kind in classifiers() {
            let acc = classifier_accuracy(kind, 2);
            assert!(acc >= 0.9, "{}: accuracy {acc}", kind.name());
        }
    }

    #[test]
    fn three_class_classifiers_beat_baseline() {
        // Baseline 1/3; threshold 0.85 (Bayes accuracy about 0.95).
        for kind in classifiers() {
            let acc = classifier_accuracy(kind, 3);
            assert!(acc >= 0.85, "{}: accuracy {acc}", kind.name());
        }
    }

    /// R^2 of predictions.
    fn r2(pred: &[f64], y: &[f64]) -> f64 {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let ss_res: f64 = pred.iter().zip(y).map(|(p, t)| (p - t) * (p - t)).sum();
        let ss_tot: f64 = y.iter().map(|t| (t - mean) * (t - mean)).sum();
        1.0 - ss_res / ss_tot
    }

    #[test]
    fn regressors_beat_mean_baseline() {
        // The mean predictor has R^2 = 0; noise caps R^2 near 0.98.
        // Thresholds: linear models 0.95, elastic net (alpha=1 shrinks) 0.6, trees 0.75.
        let (xtr, ytr) = linear_data(500, 3);
        let (xte, yte) = linear_data(300, 4);
        for kind in regressors() {
            let m = fit_default(kind, &feats(&xtr), &Target::Values(&ytr));
            let Prediction::Values(pred) = m.predict(&feats(&xte)).unwrap() else {
                panic!("values")
            };
            let score = r2(&pred, &yte);
            let threshold = match kind {
                ModelKind::Linear | ModelKind::Ridge => 0.95,
                ModelKind::ElasticNet => 0.6,
                _ => 0.75,
            };
            assert!(score >= threshold, "{}: R^2 {score}", kind.name());
        }
    }

    #[test]
    fn ols_and_ridge_recover_coefficients() {
        let (x, y) = linear_data(2000, 5);
        for kind in [ModelKind::Linear, ModelKind::Ridge] {
            let m = fit_default(kind, &feats(&x), &Target::Values(&y));
            let Inner::LinearRegressor(lr) = &m.inner else {
                panic!("linear")
            };
            approx::assert_abs_diff_eq!(lr.intercept, 1.0, epsilon = 0.05);
            for (c, t) in lr.coef.iter().zip([3.0, -2.0, 0.5, 0.0]) {
                approx::assert_abs_diff_eq!(*c, t, epsilon = 0.05);
            }
        }
    }

    /// Fits every kind on small data with the given seed.
    fn fit_all(seed: u64) -> Vec<FittedModel> {
        let (xc, yc) = blobs(300, 3, 2.0, 7);
        let (xr, yr) = linear_data(300, 8);
        ModelKind::ALL
            .into_iter()
            .map(|kind| {
                let (x, y) = if kind.is_classifier() {
                    (
                        feats(&xc),
                        Target::Classes {
                            labels: &yc,
                            n_classes: 3,
                        },
                    )
                } else {
                    (feats(&xr), Target::Values(&yr))
                };
                fit(&Params::default_for(kind), &x, &y, seed).unwrap()
            })
            .collect()
    }

    #[test]
    fn same_seed_gives_identical_bytes_and_predictions() {
        let (xt, _) = blobs(100, 3, 2.0, 9);
        for (a, b) in fit_all(11).iter().zip(fit_all(11).iter()) {
            let (ba, bb) = (
                serde_json::to_vec(a).unwrap(),
                serde_json::to_vec(b).unwrap(),
            );
            assert!(ba == bb, "{} serialises differently", a.kind.name());
            assert_eq!(
                a.predict(&feats(&xt)).unwrap(),
                b.predict(&feats(&xt)).unwrap()
            );
        }
    }

    #[test]
    fn seed_changes_random_models() {
        for (a, b) in fit_all(1).iter().zip(fit_all(2).iter()) {
            if matches!(
                a.kind,
                ModelKind::RandomForest | ModelKind::RandomForestRegressor
            ) {
                assert_ne!(
                    serde_json::to_vec(a).unwrap(),
                    serde_json::to_vec(b).unwrap(),
                    "{:?}",
                    a.kind
                );
            }
        }
    }

    #[test]
    fn serde_round_trip_keeps_predictions() {
        let (xt, _) = blobs(100, 3, 2.0, 10);
        for m in fit_all(3) {
            let bytes = serde_json::to_vec(&m).unwrap();
            let back: FittedModel = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                m.predict(&feats(&xt)).unwrap(),
                back.predict(&feats(&xt)).unwrap(),
                "{:?}",
                m.kind
            );
            assert_eq!(bytes, serde_json::to_vec(&back).unwrap(), "{:?}", m.kind);
        }
    }

    #[test]
    fn tree_models_do_not_depend_on_threads() {
        let (xc, yc) = blobs(300, 3, 2.0, 7);
        let (xr, yr) = linear_data(300, 8);
        let labels = Target::Classes {
            labels: &yc,
            n_classes: 3,
        };
        for kind in [
            ModelKind::DecisionTree,
            ModelKind::RandomForest,
            ModelKind::DecisionTreeRegressor,
            ModelKind::RandomForestRegressor,
        ] {
            let (x, y) = if kind.is_classifier() {
                (feats(&xc), labels)
            } else {
                (feats(&xr), Target::Values(&yr))
            };
            let few = json_map(if kind.name().starts_with("random_forest") {
                r#"{"n_estimators": 20}"#
            } else {
                "{}"
            });
            let p = params_from_map(kind, &few).unwrap();
            let bytes = |threads| {
                let m = fit_with_threads(&p, &x, &y, 5, threads).unwrap();
                serde_json::to_vec(&m).unwrap()
            };
            let one = bytes(1);
            assert!(one == bytes(3) && one == bytes(8), "{kind:?}");
        }
    }

    #[test]
    fn damaged_trees_are_refused_at_load() {
        let (x, y) = blobs(200, 2, 2.0, 1);
        let m = fit_default(
            ModelKind::DecisionTree,
            &feats(&x),
            &Target::Classes {
                labels: &y,
                n_classes: 2,
            },
        );
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains("\"left\":[1,"), "{text}");
        let bad = text.replacen("\"left\":[1,", "\"left\":[99999,", 1);
        let err = serde_json::from_str::<FittedModel>(&bad).unwrap_err();
        assert!(
            err.to_string().contains("tree 0: node 0 is invalid"),
            "{err}"
        );
    }

    #[test]
    fn wrong_column_count_is_an_error() {
        let narrow = vec![0.0; 15];
        for m in fit_all(4) {
            let err = m
                .predict(&Features {
                    rows: 5,
                    cols: 3,
                    values: &narrow,
                })
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "feature matrix has 3 columns, the model was trained on 4"
            );
        }
    }

    #[test]
    fn one_class_target_is_an_error() {
        let (x, _) = blobs(20, 2, 2.0, 1);
        let y = vec![1u32; 20];
        for kind in classifiers() {
            let err = fit(
                &Params::default_for(kind),
                &feats(&x),
                &Target::Classes {
                    labels: &y,
                    n_classes: 2,
                },
                0,
            )
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{} needs at least 2 classes in the training rows, found 1",
                    kind.name()
                )
            );
        }
    }

    #[test]
    fn absent_class_gets_zero_scores() {
        let (x, y) = blobs(90, 3, 3.0, 5);
        for kind in classifiers() {
            let m = fit_default(
                kind,
                &feats(&x),
                &Target::Classes {
                    labels: &y,
                    n_classes: 5,
                },
            );
            let (pred, scores) = classes_of(m.predict(&feats(&x)).unwrap());
            check_scores(kind, &pred, &scores, 5);
            assert!(
                scores.chunks(5).all(|r| r[3] == 0.0 && r[4] == 0.0),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (mut x, y) = blobs(20, 2, 2.0, 1);
        let p = Params::default_for(ModelKind::Knn);
        let t = Target::Classes {
            labels: &y,
            n_classes: 2,
        };
        let short = Features {
            rows: 20,
            cols: 4,
            values: &x[..79],
        };
        assert!(matches!(
            fit(&p, &short, &t, 0),
            Err(ModelError::MatrixShape { .. })
        ));
        let bad_label = Target::Classes {
            labels: &y,
            n_classes: 1,
        };
        assert!(matches!(
            fit(&p, &feats(&x), &bad_label, 0),
            Err(ModelError::LabelOutOfRange { .. })
        ));
        let values = vec![0.0; 20];
        assert!(matches!(
            fit(&p, &feats(&x), &Target::Values(&values), 0),
            Err(ModelError::TargetKind { .. })
        ));
        let big_k = params_from_map(ModelKind::Knn, &json_map(r#"{"k": 50}"#)).unwrap();
        assert!(matches!(
            fit(&big_k, &feats(&x), &t, 0),
            Err(ModelError::TooFewRows { .. })
        ));
        x[6] = f64::NAN;
        let err = fit(&p, &feats(&x), &t, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "feature value at row 1, column 2 is NaN; impute or drop non-finite values first"
        );
    }

    /// Parses a JSON object literal.
    fn json_map(s: &str) -> Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn params_defaults_and_overrides() {
        for kind in ModelKind::ALL {
            assert_eq!(Params::default_for(kind).kind(), kind);
        }
        let p = params_from_map(
            ModelKind::RandomForest,
            &json_map(r#"{"n_estimators": 10, "max_features": 2, "max_depth": null}"#),
        )
        .unwrap();
        let Params::RandomForest { forest, .. } = p else {
            panic!()
        };
        assert_eq!(
            (
                forest.n_estimators,
                forest.max_features,
                forest.tree.max_depth
            ),
            (10, MaxFeatures::Count(2), None)
        );
        let Params::RandomForest { forest, criterion } =
            Params::default_for(ModelKind::RandomForest)
        else {
            panic!()
        };
        assert_eq!(
            (forest.n_estimators, forest.max_features, criterion),
            (100, MaxFeatures::Sqrt, Criterion::Gini)
        );
    }

    #[test]
    fn bad_params_name_the_param() {
        let cases = [
            (
                ModelKind::RandomForest,
                r#"{"n_trees": 5}"#,
                "unknown parameter `n_trees` for random_forest; valid parameters: criterion, max_depth, max_features, min_samples_leaf, min_samples_split, n_estimators",
            ),
            (
                ModelKind::Linear,
                r#"{"alpha": 1}"#,
                "unknown parameter `alpha` for linear; valid parameters: (none)",
            ),
            (
                ModelKind::Knn,
                r#"{"k": "five"}"#,
                "parameter `k` of knn must be an integer from 1 to 100000, got \"five\"",
            ),
            (
                ModelKind::Knn,
                r#"{"k": 0}"#,
                "parameter `k` of knn is 0, allowed: an integer from 1 to 100000",
            ),
            (
                ModelKind::Ridge,
                r#"{"alpha": -1.0}"#,
                "parameter `alpha` of ridge is -1.0, allowed: a finite number >= 0",
            ),
            (
                ModelKind::ElasticNet,
                r#"{"l1_ratio": 2}"#,
                "parameter `l1_ratio` of elastic_net is 2, allowed: a number between 0 and 1 inclusive",
            ),
            (
                ModelKind::LinearSvm,
                r#"{"loss": "log"}"#,
                "parameter `loss` of linear_svm is \"log\", allowed: one of \"hinge\", \"squared_hinge\"",
            ),
            (
                ModelKind::DecisionTree,
                r#"{"max_depth": 0}"#,
                "parameter `max_depth` of decision_tree is 0, allowed: an integer from 1 to 65535",
            ),
            (
                ModelKind::LogisticRegression,
                r#"{"c": 0}"#,
                "parameter `c` of logistic_regression is 0, allowed: a finite number > 0",
            ),
            (
                ModelKind::RandomForestRegressor,
                r#"{"max_features": true}"#,
                "parameter `max_features` of random_forest_regressor must be \"sqrt\", \"log2\", \"all\" or an integer from 1 to 1000000, got true",
            ),
        ];
        for (kind, json, msg) in cases {
            assert_eq!(
                params_from_map(kind, &json_map(json))
                    .unwrap_err()
                    .to_string(),
                msg
            );
        }
    }

    #[test]
    fn max_features_above_width_is_an_error() {
        let (x, y) = blobs(40, 2, 2.0, 1);
        let p =
            params_from_map(ModelKind::RandomForest, &json_map(r#"{"max_features": 9}"#)).unwrap();
        let err = fit(
            &p,
            &feats(&x),
            &Target::Classes {
                labels: &y,
                n_classes: 2,
            },
            0,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `max_features` of random_forest: is 9 but the feature matrix has only 4 columns"
        );
    }

    #[test]
    fn naive_bayes_survives_constant_feature() {
        let (mut x, y) = blobs(60, 2, 2.0, 1);
        x.iter_mut().skip(3).step_by(4).for_each(|v| *v = 1.0);
        let m = fit_default(
            ModelKind::NaiveBayes,
            &feats(&x),
            &Target::Classes {
                labels: &y,
                n_classes: 2,
            },
        );
        let (pred, scores) = classes_of(m.predict(&feats(&x)).unwrap());
        check_scores(ModelKind::NaiveBayes, &pred, &scores, 2);
    }

    #[test]
    fn depth_limited_tree_gives_soft_scores() {
        let (x, y) = blobs(300, 2, 1.0, 1);
        let p = params_from_map(ModelKind::DecisionTree, &json_map(r#"{"max_depth": 2}"#)).unwrap();
        let m = fit(
            &p,
            &feats(&x),
            &Target::Classes {
                labels: &y,
                n_classes: 2,
            },
            0,
        )
        .unwrap();
        let (_, scores) = classes_of(m.predict(&feats(&x)).unwrap());
        assert!(scores.iter().any(|s| *s > 0.0 && *s < 1.0));
    }
}
