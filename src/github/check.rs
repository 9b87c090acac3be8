//! The `mlgate` check run on the head commit: the gate's verdict as its conclusion, the report
//! as its summary, failed data checks as annotations.
//!
//! Re-runs find the check run by commit and name and update it. GitHub appends annotations on
//! every update and offers no way to remove them, so annotations are sent in a fixed order and
//! a re-run resumes after the `annotations_count` already there: a run cut short finishes the
//! list, and a repeated run adds nothing.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::Client;
use super::comment::{truncate, Header, DEFAULT_HEADER};
use super::context::Repo;
use super::error::ApiError;
use super::url::encode_component;

/// GitHub's limit on a check run's summary, in characters.
pub const SUMMARY_LIMIT: usize = 65_535;

/// GitHub's limit on annotations per request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;

/// The check run's name: `mlgate`, or `mlgate / HEADER` for another header.
pub fn check_name(header: &Header) -> String {
    if header.as_str() == DEFAULT_HEADER {
        "mlgate".to_string()
    } else {
        format!("mlgate / {}", header.as_str())
    }
}

/// The outcome shown on the check run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `success`, `failure` or `neutral`.
    pub conclusion: &'static str,
    /// A one-line title.
    pub title: String,
}

/// Reads the verdict from `evaluation.json` and `validation.json` in the run directory: a
/// failed validation or a failed gate is `failure`, an inconclusive evaluation that the gate
/// let through is `neutral`, a pass is `success`; with neither file, `neutral`.
pub fn verdict_from_run_dir(dir: &Path) -> anyhow::Result<Verdict> {
    let validation = read_json(&dir.join("validation.json"))?;
    let evaluation = read_json(&dir.join("evaluation.json"))?;
    if let Some(v) = &validation {
        if v["status"] == "failed" {
            let errors = v["errors"].as_u64().unwrap_or(0);
            return Ok(Verdict {
                conclusion: "failure",
                title: format!("data validation failed ({errors} failed checks)"),
            });
        }
    }
    let Some(e) = evaluation else {
        return Ok(match validation {
            Some(_) => Verdict {
                conclusion: "success",
                title: "data validation passed".to_string(),
            },
            None => Verdict {
                conclusion: "neutral",
                title: "no validation.json or evaluation.json in the run directory".to_string(),
            },
        });
    };
    let verdict = e["verdict"].as_str().unwrap_or("unknown");
    let (conclusion, title) = match (e["passed"].as_bool(), verdict) {
        (Some(false), _) | (None, "fail") => ("failure", "the model gate failed"),
        (_, "inconclusive") => ("neutral", "the model gate is inconclusive"),
        (Some(true), _) | (None, "pass") => ("success", "the model gate passed"),
        _ => ("neutral", "the evaluation has no verdict"),
    };
    Ok(Verdict {
        conclusion,
        title: title.to_string(),
    })
}

/// Annotations for the failed checks in `validation.json`, in its (stable) order: on the first
/// offending row's line of the data file when known (data row N of a CSV is line N + 1).
pub fn annotations_from_run_dir(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let Some(validation) = read_json(&dir.join("validation.json"))? else {
        return Ok(Vec::new());
    };
    let file = validation["data"]["file"].as_str().unwrap_or("mlgate.yml");
    let csv = validation["data"]["format"] == "csv";
    let annotations = validation["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|check| check["passed"] == false)
        .map(|check| {
            let row = check["examples"][0]["row"].as_u64();
            let line = row.map_or(1, |r| if csv { r + 1 } else { r }).max(1);
            let level = if check["severity"] == "error" {
                "failure"
            } else {
                "warning"
            };
            let title = match check["column"].as_str() {
                Some(column) => format!(
                    "{} check on column {column}",
                    check["check"].as_str().unwrap_or("data")
                ),
                None => format!("{} check", check["check"].as_str().unwrap_or("data")),
            };
            json!({
                "path": file,
                "start_line": line,
                "end_line": line,
                "annotation_level": level,
                "title": title,
                "message": check["message"].as_str().unwrap_or("check failed"),
            })
        })
        .collect();
    Ok(annotations)
}

/// Reads a JSON file if it exists.
fn read_json(path: &Path) -> anyhow::Result<Option<Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = fs_err::read_to_string(path)?;
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("`{}` is not valid JSON", path.display()))
}

/// A check run as GitHub lists it (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRun {
    /// Id.
    pub id: u64,
    /// Link for people.
    #[serde(default)]
    pub html_url: Option<String>,
    /// Output counters.
    #[serde(default)]
    pub output: Option<CheckOutput>,
}

/// The part of a check run's output we read back.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckOutput {
    /// Annotations already attached.
    #[serde(default)]
    pub annotations_count: usize,
}

/// `GET .../commits/{sha}/check-runs` answer.
#[derive(Debug, Deserialize)]
struct CheckRunList {
    /// The runs.
    check_runs: Vec<CheckRun>,
}

/// What a check-run upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// `created` or `updated`.
    pub action: &'static str,
    /// The check run's id.
    pub id: u64,
    /// Annotations sent this time.
    pub annotations_sent: usize,
}

/// Creates or updates the check run named `name` on `sha`.
pub fn upsert_check(
    client: &Client,
    repo: &Repo,
    sha: &str,
    name: &str,
    verdict: &Verdict,
    report: &str,
    annotations: &[Value],
) -> Result<CheckResult, ApiError> {
    let find = || -> Result<Option<CheckRun>, ApiError> {
        let path = format!(
            "{}/commits/{sha}/check-runs?check_name={}&filter=latest&per_page=100",
            repo.api_path(),
            encode_component(name)
        );
        let list: CheckRunList = client.get(&path)?;
        Ok(list.check_runs.into_iter().max_by_key(|r| r.id))
    };
    let summary = truncate(report, SUMMARY_LIMIT);
    let output =
        |batch: &[Value]| json!({"title": verdict.title, "summary": summary, "annotations": batch});
    let (run, action) = match find()? {
        Some(run) => (run, "updated"),
        None => {
            let body = json!({
                "name": name,
                "head_sha": sha,
                "status": "completed",
                "conclusion": verdict.conclusion,
                "output": output(&[]),
            });
            let run: CheckRun =
                client.create(&format!("{}/check-runs", repo.api_path()), &body, find)?;
            (run, "created")
        }
    };
    let path = format!("{}/check-runs/{}", repo.api_path(), run.id);
    let already = run.output.as_ref().map_or(0, |o| o.annotations_count);
    let pending = annotations.get(already..).unwrap_or_default();
    let mut batches: Vec<&[Value]> = pending.chunks(ANNOTATIONS_PER_REQUEST).collect();
    if batches.is_empty() {
        batches.push(&[]);
    }
    for batch in batches {
        let body = json!({"status": "completed", "conclusion": verdict.conclusion, "output": output(batch)});
        client.patch::<Value, _>(&path, &body)?;
    }
    Ok(CheckResult {
        action,
        id: run.id,
        annotations_sent: pending.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names() {
        assert_eq!(check_name(&Header::parse("default").unwrap()), "mlgate");
        assert_eq!(check_name(&Header::parse("gpu").unwrap()), "mlgate / gpu");
    }

    /// A run directory with the given files.
    fn run_dir(files: &[(&str, Value)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in files {
            std::fs::write(dir.path().join(name), value.to_string()).unwrap();
        }
        dir
    }

    #[test]
    fn verdicts() {
        let cases = [
            (json!({"verdict": "pass", "passed": true}), "success"),
            (json!({"verdict": "fail", "passed": false}), "failure"),
            (
                json!({"verdict": "inconclusive", "passed": true}),
                "neutral",
            ),
            (
                json!({"verdict": "inconclusive", "passed": false}),
                "failure",
            ),
        ];
        for (evaluation, expected) in cases {
            let dir = run_dir(&[("evaluation.json", evaluation.clone())]);
            assert_eq!(
                verdict_from_run_dir(dir.path()).unwrap().conclusion,
                expected,
                "{evaluation}"
            );
        }
        let failed = run_dir(&[
            ("validation.json", json!({"status": "failed", "errors": 2})),
            (
                "evaluation.json",
                json!({"verdict": "pass", "passed": true}),
            ),
        ]);
        let verdict = verdict_from_run_dir(failed.path()).unwrap();
        assert_eq!(verdict.conclusion, "failure");
        assert!(verdict.title.contains("2 failed checks"));
        assert_eq!(
            verdict_from_run_dir(run_dir(&[]).path())
                .unwrap()
                .conclusion,
            "neutral"
        );
    }

    #[test]
    fn failed_checks_become_annotations_on_their_csv_line() {
        let validation = json!({
            "status": "failed", "errors": 1,
            "data": {"file": "data/churn.csv", "format": "csv"},
            "checks": [
                {"check": "range", "column": "age", "severity": "error", "passed": false, "message": "3 rows out of range", "examples": [{"row": 4, "value": "-1"}]},
                {"check": "nulls", "column": "x", "severity": "warn", "passed": true, "message": "ok"},
                {"check": "row_count", "severity": "warn", "passed": false, "message": "too few rows"}
            ]
        });
        let dir = run_dir(&[("validation.json", validation)]);
        let annotations = annotations_from_run_dir(dir.path()).unwrap();
        assert_eq!(annotations.len(), 2);
        assert_eq!(annotations[0]["start_line"], 5);
        assert_eq!(annotations[0]["annotation_level"], "failure");
        assert_eq!(annotations[0]["title"], "range check on column age");
        assert_eq!(annotations[1]["start_line"], 1);
        assert_eq!(annotations[1]["annotation_level"], "warning");
    }
}
