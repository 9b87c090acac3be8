//! `mlgate report` and the report stage of `mlgate run`: snapshots of `report.md` for a first
//! model, a pass, a failure, an inconclusive gate and a validation-only run; escaping of hostile
//! names; fitting a huge run into GitHub's comment limit; the job summary; `report.html` is
//! self-contained, escaped, and small whatever the evaluation set's size.

mod common;

use common::{penguins_csv, Project};
use serde_json::Value;

/// A gate on macro F1 with slices, trained on every feature unless `features` says otherwise.
fn config(features: &str, primary: &str, rules: &str) -> String {
    format!(
        "data:\n  path: data/penguins.csv\n  target: species\nmodel:\n  kind: logistic_regression\n{features}gate:\n  primary: {primary}\n  rules:\n{rules}  bootstrap: {{ resamples: 500 }}\n  slices: {{ columns: [island, sex], min_rows: 10 }}\n"
    )
}

/// The default rules.
const F1_RULES: &str =
    "    - { metric: f1_macro, min: 0.9 }\n    - { metric: f1_macro, max_regression: 0.02 }\n";

/// A penguins project with an inferred schema and `config` written.
fn project(config: &str) -> Project {
    let project = Project::new();
    project.with_penguins();
    project.write("mlgate.yml", config);
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
    project
}

/// `report.md` without the numbers that change between identical runs (timings) or releases.
fn stable(markdown: &str) -> String {
    let timing =
        regex::Regex::new(r"(?m)^\| (training_seconds|prediction_rows_per_second) (.) \|.*$")
            .unwrap();
    let version = regex::Regex::new(r"mlgate \d+\.\d+\.\d+[^<]*</sub>").unwrap();
    let text = timing.replace_all(markdown, "| $1 $2 | [timing] | [timing] |");
    version
        .replace_all(&text, "mlgate [version]</sub>")
        .into_owned()
}

/// Runs and returns `report.md`, checking the exit code.
fn run_report(project: &Project, args: &[&str], code: i32, out: &str) -> String {
    let run = project.mlgate(args);
    assert_eq!(run.code, code, "{}\n{}", run.stdout, run.stderr);
    let markdown = project.read(&format!("{out}/report.md"));
    assert_well_formed(&markdown);
    markdown
}

#[test]
fn first_model_then_a_pass() {
    let project = project(&config("", "f1_macro", F1_RULES));
    let first = run_report(&project, &["run", "--no-drift"], 0, ".mlgate");
    insta::assert_snapshot!("no_champion", stable(&first));
    std::fs::copy(
        project.path().join(".mlgate/profile.json"),
        project.path().join("reference.json"),
    )
    .unwrap();
    let pass = run_report(
        &project,
        &[
            "run",
            "--baseline",
            ".mlgate/model",
            "--reference",
            "reference.json",
            "--out",
            "pass",
            "--title",
            "Retrain on the 2009 season",
            "--run-url",
            "https://github.com/o/r/actions/runs/42",
        ],
        0,
        "pass",
    );
    insta::assert_snapshot!("pass", stable(&pass));
}

#[test]
fn a_failing_gate() {
    let project = project(&config("", "f1_macro", F1_RULES));
    assert_eq!(project.mlgate(&["train", "--out", "champion"]).code, 0);
    project.write(
        "mlgate.yml",
        config("  features: [year, sex, island]\n", "f1_macro", F1_RULES),
    );
    let failed = run_report(
        &project,
        &["run", "--no-drift", "--baseline", "champion/model"],
        1,
        ".mlgate",
    );
    insta::assert_snapshot!("fail", stable(&failed));
}

#[test]
fn an_inconclusive_gate() {
    let rules = "    - { metric: accuracy, max_regression: 0.01 }\n";
    let project = project(&config("", "accuracy", rules));
    assert_eq!(project.mlgate(&["train", "--out", "champion"]).code, 0);
    project.write(
        "mlgate.yml",
        config(
            "  features: [island, bill_length_mm, bill_depth_mm, sex]\n",
            "accuracy",
            rules,
        ),
    );
    assert_eq!(project.mlgate(&["train"]).code, 0);
    let run = project.mlgate(&["evaluate", "--baseline", "champion/model"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let inconclusive = run_report(&project, &["report"], 0, ".mlgate");
    assert!(inconclusive.contains("### ⚠️ Model gate inconclusive"));
    insta::assert_snapshot!("inconclusive", stable(&inconclusive));
}

#[test]
fn a_failed_validation_reports_the_data_only() {
    let project = project(&config("", "f1_macro", F1_RULES));
    // A model from an earlier run must not be reported as this run's.
    assert_eq!(project.mlgate(&["run", "--no-drift"]).code, 0);
    let mut csv = penguins_csv();
    csv.push_str("<b>@here</b> | [x](y),Biscoe,heavy,13.1,231,6300,male,2009\n");
    project.write("data/penguins.csv", csv);
    let markdown = run_report(&project, &["run", "--no-drift"], 1, ".mlgate");
    assert!(!markdown.contains("Metric"), "{markdown}");
    insta::assert_snapshot!("validation_only", stable(&markdown));
}

/// Every kind of untrusted text the report shows, as one hostile string.
const HOSTILE: &str =
    "@octocat <img src=x onerror=alert(1)> | ` [x](javascript:alert(1)) <!-- --> #1\nnext";

/// Replaces names in a run's stage files with `name(i)`.
fn rename_everything(project: &Project, out: &str, name: impl Fn(usize) -> String) {
    let mut evaluation: Value = project.json(&format!("{out}/evaluation.json"));
    let classes = evaluation["classes"].as_array().unwrap().len();
    evaluation["classes"] = (0..classes).map(|i| Value::from(name(i))).collect();
    for (i, s) in evaluation["slices"]["evaluated"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        s["column"] = name(i).into();
        s["value"] = name(i + 1).into();
    }
    project.write(
        &format!("{out}/evaluation.json"),
        serde_json::to_string(&evaluation).unwrap(),
    );
    let mut validation: Value = project.json(&format!("{out}/validation.json"));
    for (i, c) in validation["checks"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        if c.get("column").is_some() {
            c["column"] = name(i).into();
        }
    }
    for (i, c) in validation["drift"]["columns"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        c["column"] = name(i).into();
    }
    project.write(
        &format!("{out}/validation.json"),
        serde_json::to_string(&validation).unwrap(),
    );
}

/// A run with drift, a champion and slices, in `.mlgate`.
fn full_run() -> Project {
    let project = project(&config("", "f1_macro", F1_RULES));
    assert_eq!(project.mlgate(&["train", "--out", "champion"]).code, 0);
    assert_eq!(project.mlgate(&["validate", "--no-drift"]).code, 0);
    std::fs::copy(
        project.path().join(".mlgate/profile.json"),
        project.path().join("reference.json"),
    )
    .unwrap();
    let run = project.mlgate(&[
        "run",
        "--baseline",
        "champion/model",
        "--reference",
        "reference.json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    project
}

#[test]
fn hostile_names_are_text() {
    let project = full_run();
    rename_everything(&project, ".mlgate", |_| HOSTILE.to_string());
    let markdown = run_report(&project, &["report", "--title", HOSTILE], 0, ".mlgate");
    assert!(markdown.contains("@&#8203;octocat"), "{markdown}");
    for raw in [
        "@octocat",
        "<img",
        "](javascript",
        "<!-- -->",
        " #1 ",
        "` [",
        "\nnext",
    ] {
        assert!(!markdown.contains(raw), "`{raw}` is in the report");
    }
    assert_eq!(markdown.matches("<!--").count(), 1, "only the marker");
}

#[test]
fn a_huge_run_fits_a_comment_and_stays_well_formed() {
    let project = full_run();
    let long = |i: usize| format!("{i} {}", HOSTILE.repeat(4));
    let mut evaluation: Value = project.json(".mlgate/evaluation.json");
    let slice = evaluation["slices"]["evaluated"][0].clone();
    evaluation["slices"]["evaluated"] = (0..5_000).map(|_| slice.clone()).collect();
    project.write(
        ".mlgate/evaluation.json",
        serde_json::to_string(&evaluation).unwrap(),
    );
    let mut validation: Value = project.json(".mlgate/validation.json");
    let column = validation["drift"]["columns"][0].clone();
    validation["drift"]["columns"] = (0..10_000).map(|_| column.clone()).collect();
    let check = validation["checks"][3].clone();
    validation["checks"] = (0..10_000).map(|_| check.clone()).collect();
    project.write(
        ".mlgate/validation.json",
        serde_json::to_string(&validation).unwrap(),
    );
    rename_everything(&project, ".mlgate", long);
    let markdown = run_report(&project, &["report"], 0, ".mlgate");
    let chars = markdown.chars().count();
    assert!(chars <= 65_536 - 1_024, "{chars} characters");
    assert!(chars > 30_000, "shortened far more than needed: {chars}");
    assert!(markdown.contains("more rows (see `report.html`"));
    assert!(markdown.contains("Shortened to fit GitHub's size limit"));
    // The lowest-priority sections went first; the slices table stayed, shortened.
    assert!(!markdown.contains("Every data check"));
    assert!(markdown.contains("#### Slices"));
}

#[test]
fn the_job_summary_gets_the_report_within_what_is_left() {
    let project = full_run();
    let summary = project.write("summary.md", "x".repeat(1024 * 1024 - 3_000));
    let summary_path = summary.display().to_string();
    let env = [
        ("GITHUB_STEP_SUMMARY", summary_path.as_str()),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "o/r"),
        ("GITHUB_RUN_ID", "7"),
    ];
    let outputs = project.path().join("outputs");
    let outputs_path = outputs.display().to_string();
    let mut with_outputs = env.to_vec();
    with_outputs.push(("GITHUB_OUTPUT", outputs_path.as_str()));
    let run = project.mlgate_env(&["report"], &with_outputs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert!(
        outputs.contains("report_md<<MLGATE_EOF_0\n.mlgate/report.md\n"),
        "{outputs}"
    );
    assert!(outputs.contains("report_html<<"), "{outputs}");
    let report = project.read(".mlgate/report.md");
    assert!(report.contains("[workflow run](https://github.com/o/r/actions/runs/7)"));
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(written.len() <= 1024 * 1024, "{}", written.len());
    let appended = &written[1024 * 1024 - 3_000..];
    assert!(appended.starts_with("<!-- mlgate:report -->"), "{appended}");
    assert!(appended.len() < report.len());
    assert_well_formed(appended);
    // A full summary gets nothing rather than a broken fragment.
    let run = project.mlgate_env(&["report"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let again = std::fs::read_to_string(&summary).unwrap();
    assert!(again.len() <= 1024 * 1024);
}

#[test]
fn a_champion_measured_elsewhere_is_flagged_first() {
    let project = full_run();
    let mut evaluation: Value = project.json(".mlgate/evaluation.json");
    evaluation["champion"] = serde_json::json!({
        "source": "recorded",
        "tag": "penguins@v1.2.0",
        "rescored": false,
        "note": null
    });
    project.write(
        ".mlgate/evaluation.json",
        serde_json::to_string(&evaluation).unwrap(),
    );
    let markdown = run_report(&project, &["report"], 0, ".mlgate");
    let warning = markdown.find("> [!WARNING]\n> The champion was not re\\-scored");
    let table = markdown.find("| Metric |");
    assert!(warning.is_some() && warning < table, "{markdown}");
    assert!(
        markdown.contains("champion penguins@&#8203;v1\\.2\\.0 · "),
        "{markdown}"
    );
}

#[test]
fn run_leaves_the_job_summary_to_its_report() {
    let project = project(&config("", "f1_macro", F1_RULES));
    let summary = project.path().join("summary.md");
    let summary_path = summary.display().to_string();
    let run = project.mlgate_env(
        &["run", "--no-drift"],
        &[("GITHUB_STEP_SUMMARY", summary_path.as_str())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(written, project.read(".mlgate/report.md"));
    assert_eq!(written.matches("Model gate passed").count(), 1);
}

/// The structure GitHub needs: the marker first, closed `<details>`, one HTML comment, and
/// every table row with as many cells as its header.
fn assert_well_formed(markdown: &str) {
    assert!(
        markdown.starts_with("<!-- mlgate:report -->\n"),
        "{markdown}"
    );
    assert_eq!(
        markdown.matches("<details>").count(),
        markdown.matches("</details>").count()
    );
    assert_eq!(markdown.matches("<!--").count(), 1);
    assert!(markdown.trim_end().ends_with("</sub>"), "{markdown}");
    let mut header_cells = None;
    for line in markdown.lines() {
        let line = line.trim_end();
        if !line.starts_with('|') {
            header_cells = None;
            continue;
        }
        assert!(line.ends_with('|'), "unterminated row: {line}");
        let cells = line.matches('|').count();
        let expected = *header_cells.get_or_insert(cells);
        assert_eq!(cells, expected, "row with a different cell count: {line}");
    }
}

/// Every `<svg>` element of a page.
fn svgs(html: &str) -> Vec<&str> {
    html.split("<svg").skip(1).collect()
}

/// The number of points of each `<polyline>` in a page.
fn polyline_points(html: &str) -> Vec<usize> {
    html.split("<polyline points=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().split(' ').count())
        .collect()
}

#[test]
fn the_html_report_is_self_contained_and_escaped() {
    let project = full_run();
    rename_everything(&project, ".mlgate", |_| HOSTILE.to_string());
    let run = project.mlgate(&[
        "report",
        "--title",
        HOSTILE,
        "--run-url",
        "https://github.com/o/r/actions/runs/9\"><script>",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = project.read(".mlgate/report.html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // Nothing is fetched: no scripts at all, no external sources, styles or fonts; the one
    // outside link is the run's, with its quote encoded.
    for banned in ["<script", "@import", "url(", "<link", "<img", "<iframe"] {
        assert!(!html.contains(banned), "`{banned}` in report.html");
    }
    let tags = regex::Regex::new(r"<[^>]+>").unwrap();
    for tag in tags.find_iter(&html) {
        assert!(!tag.as_str().contains("src="), "{}", tag.as_str());
    }
    let links: Vec<&str> = html.split("href=\"").skip(1).collect();
    assert_eq!(links.len(), 1, "only the run link");
    assert!(
        links[0].starts_with("https:&#x2f;&#x2f;github.com&#x2f;o&#x2f;r&#x2f;actions&#x2f;runs&#x2f;9%22%3E%3Cscript%3E\""),
        "{}",
        links[0]
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // Every SVG is closed, and the namespace is the only http in it.
    // The renamed classes match no score column, so only the heat maps are drawn.
    assert!(html.contains("no score columns for every class"));
    let charts = svgs(&html);
    assert_eq!(charts.len(), 2, "two heat maps");
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    for svg in charts {
        let svg = &svg[..svg.find("</svg>").expect("closed")];
        assert_eq!(svg.matches("http").count(), 1, "{svg}");
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
    assert!(html.contains("No history.json in the run directory"));
}

#[test]
fn curves_over_many_rows_are_downsampled() {
    let project = full_run();
    // 60,000 rows of three-class scores in place of the real predictions, on both sides.
    let classes = ["Adelie", "Chinstrap", "Gentoo"];
    let mut csv = String::from("id,label,prediction,score_Adelie,score_Chinstrap,score_Gentoo\n");
    let mut state = 7u64;
    for i in 0..60_000 {
        let mut draw = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 1000) as f64 + 1.0
        };
        let raw = [draw(), draw(), draw()];
        let sum: f64 = raw.iter().sum();
        let label = classes[i % 3];
        csv.push_str(&format!(
            "{i},{label},{label},{},{},{}\n",
            raw[0] / sum,
            raw[1] / sum,
            raw[2] / sum
        ));
    }
    project.write(".mlgate/predictions.csv", &csv);
    project.write(".mlgate/champion_predictions.csv", &csv);
    project.write(
        ".mlgate/history.json",
        r#"{"schema_version":1,"name":"penguins","metric":"f1_macro","versions":[
            {"tag":"penguins@v1.0.0","version":"1.0.0","commit":"a","date":"2026-11-01T10:00:00Z","metrics":{"f1_macro":0.91}},
            {"tag":"penguins@v1.1.0","version":"1.1.0","commit":"b","date":"2026-11-10T10:00:00Z","metrics":{"f1_macro":0.95}}]}"#,
    );
    let run = project.mlgate(&["report"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = project.read(".mlgate/report.html");
    let points = polyline_points(&html);
    // ROC and PR for two models, reliability for two, the history line.
    assert_eq!(points.len(), 7, "{points:?}");
    assert!(points.iter().all(|&n| (2..=200).contains(&n)), "{points:?}");
    assert!(html.contains("micro-averaged"));
    assert!(html.contains("across promoted versions of penguins"));
    assert!(html.len() < 200_000, "{} bytes", html.len());
}

#[test]
fn regression_gets_a_scatter_and_residuals() {
    let project = Project::new();
    project.with_penguins();
    project.write(
        "mlgate.yml",
        "data:\n  path: data/penguins.csv\n  target: body_mass_g\nmodel:\n  kind: linear\n  features: [bill_length_mm, flipper_length_mm]\ngate:\n  primary: rmse\n",
    );
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
    let run = project.mlgate(&["run", "--no-drift"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let html = project.read(".mlgate/report.html");
    assert!(html.contains("Predicted against actual"), "{html}");
    assert!(html.contains("Residuals"));
    assert!(!html.contains("ROC curve"));
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
}

/// Debian's headless Chromium (`.ci/run` installs `chromium-headless-shell`), or `None`.
fn chromium() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium-headless-shell", "chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

#[test]
fn a_browser_parses_the_html_report_as_written_and_paints_it() {
    let Some(chromium) = chromium() else {
        // CI sets MLGATE_REQUIRE_CHROMIUM so that a missing browser fails there.
        assert!(
            std::env::var_os("MLGATE_REQUIRE_CHROMIUM").is_none(),
            "MLGATE_REQUIRE_CHROMIUM is set but no chromium-headless-shell is on PATH"
        );
        eprintln!(
            "skipped: no chromium-headless-shell on PATH (apt-get install chromium-headless-shell)"
        );
        return;
    };
    let project = full_run();
    project.write(
        ".mlgate/history.json",
        r#"{"schema_version":1,"name":"penguins","metric":"f1_macro","versions":[
            {"tag":"penguins@v1.0.0","version":"1.0.0","commit":"a","date":"2026-11-01T10:00:00Z","metrics":{"f1_macro":0.91}}]}"#,
    );
    let run = project.mlgate(&["report", "--title", HOSTILE]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = project.path().join(".mlgate/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let browser = |args: &[&str]| {
        let output = std::process::Command::new(&chromium)
            .args(["--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
            .args(args)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium");
        assert!(output.status.success(), "{output:?}");
        output.stdout
    };
    // The DOM the browser built has exactly the elements written: nothing was auto-closed,
    // re-nested or dropped, and no chart swallowed the page after it.
    let dom = String::from_utf8(browser(&["--dump-dom"])).unwrap();
    for tag in [
        "<svg",
        "<polyline",
        "<circle",
        "<rect",
        "<text",
        "<table",
        "<tr>",
        "<figure",
    ] {
        assert_eq!(
            dom.matches(tag).count(),
            html.matches(tag).count(),
            "`{tag}` in the browser's DOM"
        );
    }
    for svg in dom.split("<svg").skip(1) {
        let inside = &svg[..svg.find("</svg>").expect("closed in the DOM")];
        for outer in ["<figcaption", "<table", "<h2", "<p>", "<p class"] {
            assert!(!inside.contains(outer), "`{outer}` inside an <svg>");
        }
    }
    assert!(!dom.contains("<script"));
    // And it paints: a 1200-pixel-wide screenshot with real content (a blank page is a few
    // hundred bytes of PNG).
    let shot = project.path().join("shot.png");
    browser(&[
        "--window-size=1200,2400",
        &format!("--screenshot={}", shot.display()),
    ]);
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1200);
    assert!(png.len() > 50_000, "{} bytes", png.len());
}
