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
        trained_on => manifest.hardware.as_ref().map(|h| {
            let gpus: Vec<String> = h.gpus.iter().map(|g| g.name.clone()).collect();
            format!(
                "{} (driver {}{})",
                gpus.join(", "),
                h.gpus.first().map_or("-", |g| g.driver_version.as_str()),
                h.cuda_version.as_deref().map(|c| format!(", CUDA {c}")).unwrap_or_default()
            )
        }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::version::Version;

    /// A manifest with a hostile column name, target and parameter.
    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "tool_version": "0.1.0", "model_kind": "random_forest",
            "task": "classification", "target": "<b>churn</b>", "id": null,
            "classes": ["no", "yes"], "seed": 7,
            "params": { "max_depth": 8, "note": "[x](http://evil)" },
            "features": [
                { "column": "plan|@admin", "type": "categorical", "encoding": "one_hot", "width": 3 },
                { "column": "tenure", "type": "int", "encoding": "numeric", "width": 1 }
            ],
            "feature_schema_hash": "f00d",
            "data": { "path": "data/churn.csv", "rows": 1000, "bytes": 5, "xxh3": "abcd" },
            "eval_data": null,
            "split": { "method": "hash_of_id", "eval_fraction": 0.2, "train_rows": 800,
                       "eval_rows": 200, "dropped_rows": 0, "eval_set_hash": "e5e5" },
            "config_sha256": "c0c0", "git_commit": null, "training_seconds": 1.5,
            "prediction_rows_per_second": null, "total_seconds": 2.0, "files": []
        }))
        .expect("manifest")
    }

    /// An evaluation with a champion, a regressed slice and a skipped one.
    fn evaluation() -> EvaluationSummary {
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "rows": 200, "eval_set_hash": "e5e5", "primary": "f1",
            "metrics": [
                { "metric": "f1", "candidate": 0.91, "champion": 0.89, "ci_low": 0.005,
                  "ci_high": 0.035, "change": "better" },
                { "metric": "accuracy", "candidate": 0.93, "champion": null }
            ],
            "rules": [ { "rule": "f1 >= 0.8", "verdict": "pass", "message": "f1 = 0.9100, within f1 >= 0.8" } ],
            "slices": {
                "metric": "f1",
                "evaluated": [ { "column": "region", "value": "<script>", "rows": 40,
                                 "candidate": 0.7, "regressed": true } ],
                "skipped": [ { "column": "region", "value": "@north", "rows": 3 } ]
            },
            "verdict": "pass", "passed": true, "notes": ["slices regressed"]
        }))
        .expect("evaluation")
    }

    #[test]
    fn card_renders_every_section_and_escapes_untrusted_text() {
        let tag = VersionTag::new("churn", Version::new(1, 3, 0));
        let context = CardContext {
            tag: &tag,
            commit: "0123456789abcdef0123456789abcdef01234567",
            champion: Some("churn@v1.2.0"),
            run_url: Some("https://ci.example/runs/1"),
        };
        let card = render(&context, &manifest(), &evaluation()).expect("renders");
        assert!(!card.contains("<b>") && !card.contains("<script>") && !card.contains("](http"));
        assert!(!card.contains("plan|@admin"), "{card}");
        insta::assert_snapshot!("model_card", card);
    }

    #[test]
    fn a_model_trained_on_a_gpu_says_which() {
        let tag = VersionTag::new("churn", Version::new(1, 3, 0));
        let context = CardContext {
            tag: &tag,
            commit: "0123456789abcdef0123456789abcdef01234567",
            champion: None,
            run_url: None,
        };
        let mut manifest = manifest();
        manifest.hardware = Some(crate::train::manifest::Hardware {
            source: "nvml".into(),
            cuda_version: Some("13.0".into()),
            gpus: vec![crate::train::manifest::TrainingGpu {
                index: 0,
                name: "NVIDIA H100 80GB HBM3".into(),
                uuid: "GPU-x".into(),
                driver_version: "580.159.04".into(),
                memory_total_mib: 81559,
            }],
        });
        let card = render(&context, &manifest, &evaluation()).expect("renders");
        assert!(
            card.contains(
                r"| Trained on | NVIDIA H100 80GB HBM3 \(driver 580\.159\.04, CUDA 13\.0\) |"
            ),
            "{card}"
        );
        assert!(!render(&context, &self::manifest(), &evaluation())
            .unwrap()
            .contains("Trained on"));
    }
}
