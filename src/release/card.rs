//! The model card: a markdown page for the release, rendered from `templates/model_card.md.j2`.
//!
//! Everything on it comes from the manifest and `evaluation.json`; column names, classes,
//! paths, parameters and messages are untrusted text and pass through the `md` filter.

use serde::Serialize;

use crate::report::{markdown, number};
use crate::train::manifest::Manifest;

use super::inputs::EvaluationSummary;
use super::version::VersionTag;

/// The template, built into the binary.
const TEMPLATE: &str = include_str!("../../templates/model_card.md.j2");

/// What the card describes besides the manifest and the evaluation.
#[derive(Debug, Clone)]
pub struct CardContext<'a> {
    /// The version's tag.
    pub tag: &'a VersionTag,
    /// The commit it points at.
    pub commit: &'a str,
    /// The champion it replaces, if any.
    pub champion: Option<&'a str>,
    /// The CI run, if known.
    pub run_url: Option<&'a str>,
}

/// A hyperparameter, formatted.
#[derive(Serialize)]
struct ParamView {
    /// Name.
    name: String,
    /// Value as JSON text.
    value: String,
}

/// A metric row, formatted.
#[derive(Serialize)]
struct MetricView {
    /// Name.
    metric: String,
    /// Whether it is the primary metric.
    primary: bool,
    /// The candidate's value.
    value: String,
    /// The champion's value or a dash.
    champion: String,
    /// `[low, high]` or a dash.
    interval: String,
}

/// A rule, formatted.
#[derive(Serialize)]
struct RuleView {
    /// Verdict.
    verdict: String,
    /// The rule.
    rule: String,
    /// The sentence.
    message: String,
}

/// A number or a dash.
fn or_dash(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), number)
}

/// Renders the card.
pub fn render(
    context: &CardContext<'_>,
    manifest: &Manifest,
    evaluation: &EvaluationSummary,
) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_filter("md", |value: String| markdown::escape(&value));
    env.add_template("model_card.md", TEMPLATE)?;
    let params: Vec<ParamView> = match &manifest.params {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(name, value)| ParamView {
                name: name.clone(),
                value: value.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let metrics: Vec<MetricView> = evaluation
        .metrics
        .iter()
        .map(|m| MetricView {
            metric: m.metric.clone(),
            primary: m.metric == evaluation.primary,
            value: number(m.candidate),
            champion: or_dash(m.champion),
            interval: match (m.ci_low, m.ci_high) {
                (Some(lo), Some(hi)) => format!("[{}, {}]", number(lo), number(hi)),
                _ => "–".into(),
            },
        })
        .collect();
    let rules: Vec<RuleView> = evaluation
        .rules
        .iter()
        .map(|r| RuleView {
            verdict: r.verdict.clone(),
            rule: r.rule.clone(),
            message: r.message.clone(),
        })
        .collect();
    let split = &manifest.split;
    let split_text = match split.eval_fraction {
        Some(f) => format!("{} ({} held out)", split.method, number(f)),
        None => split.method.clone(),
    };
    let template = env.get_template("model_card.md")?;
    let rendered = template.render(minijinja::context! {
        name => context.tag.name,
        version => context.tag.version.to_string(),
        tag => context.tag.to_string(),
        commit => context.commit,
        champion => context.champion,
        run_url => context.run_url,
        tool_version => env!("CARGO_PKG_VERSION"),
        model_kind => manifest.model_kind,
        task => match manifest.task {
            crate::config::TaskKind::Classification => "classification",
            crate::config::TaskKind::Regression => "regression",
        },
        target => manifest.target,
        params => params,
        features => manifest.features.iter().map(|f| minijinja::context! {
            column => f.column, ty => f.ty, encoding => f.encoding, width => f.width,
        }).collect::<Vec<_>>(),
        data_path => manifest.data.path,
        data_rows => manifest.data.rows,
        data_xxh3 => manifest.data.xxh3,
        split => split_text,
        train_rows => split.train_rows,
        eval_rows => split.eval_rows,
        eval_set_hash => split.eval_set_hash,
        metrics => metrics,
        verdict => evaluation.verdict,
        rules => rules,
        limitations => limitations(evaluation),
    })?;
    Ok(rendered)
}

/// What a reader of the card must know: regressed and skipped slices, the evaluation's notes.
fn limitations(evaluation: &EvaluationSummary) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(slices) = &evaluation.slices {
        for s in slices.evaluated.iter().filter(|s| s.regressed) {
            out.push(format!(
                "{} regressed significantly on the slice {} = {} ({} rows, {} {})",
                slices.metric,
                s.column,
                s.value,
                s.rows,
                slices.metric,
                or_dash(s.candidate)
            ));
        }
        for s in &slices.skipped {
            out.push(format!(
                "not judged on the slice {} = {}: only {} evaluation rows",
                s.column, s.value, s.rows
            ));
        }
    }
    out.extend(evaluation.notes.iter().cloned());
    out
}
