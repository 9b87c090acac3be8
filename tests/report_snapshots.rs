//! Snapshots of the rendered reports (markdown section and terminal table) for a failing
//! validation with drift, so that any change to what users read is reviewed.

mod common;

use common::{penguins_csv, Project};

/// Penguins with an unknown species, a bad number and a markdown-injection column value, checked
/// against the original as a drift reference.
fn failing_project() -> Project {
    let project = Project::new();
    project.with_penguins();
    project.write(
        "mlgate.yml",
        "data:\n  path: data/penguins.csv\n  target: species\n",
    );
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
    assert_eq!(project.mlgate(&["validate", "--no-drift"]).code, 0);
    std::fs::copy(
        project.path().join(".mlgate/profile.json"),
        project.path().join("reference.json"),
    )
    .unwrap();
    let mut csv = penguins_csv();
    for _ in 0..60 {
        csv.push_str("Gentoo,Biscoe,59.9,13.1,231,6300,male,2009\n");
    }
    csv.push_str("<b>@here</b> | [x](y),Biscoe,heavy,13.1,231,6300,male,2009\n");
    project.write("data/penguins.csv", csv);
    project
}

#[test]
fn validation_markdown_and_table() {
    let project = failing_project();
    let run = project.mlgate(&["validate", "--reference", "reference.json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("validation_md", project.read(".mlgate/validation.md"));
    insta::assert_snapshot!("validation_table", run.stdout);
}

/// Penguins whose Chinstrap label is a markdown-injection attempt, a champion trained on the
/// measurements and a candidate on `year`, `sex` and `island` only: a failing gate with
/// slices.
#[test]
fn evaluation_markdown_and_table() {
    let project = Project::new();
    let csv = penguins_csv().replace("Chinstrap,", "<img src=x>@team|Chin,");
    project.write("data/penguins.csv", csv);
    let config = |features: &str| {
        format!(
            "data:\n  path: data/penguins.csv\n  target: species\nmodel:\n  kind: logistic_regression\n{features}gate:\n  primary: accuracy\n  rules:\n    - {{ metric: accuracy, min: 0.9 }}\n    - {{ metric: accuracy, max_regression: 0.02 }}\n    - {{ metric: roc_auc, max_regression: 0.05 }}\n  bootstrap: {{ resamples: 500 }}\n  slices: {{ columns: [island], min_rows: 15 }}\n"
        )
    };
    project.write("mlgate.yml", config(""));
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
    assert_eq!(project.mlgate(&["train", "--out", "champion"]).code, 0);
    project.write("mlgate.yml", config("  features: [year, sex, island]\n"));
    assert_eq!(project.mlgate(&["train"]).code, 0);
    let run = project.mlgate(&["evaluate", "--baseline", "champion/model"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("evaluation_md", project.read(".mlgate/evaluation.md"));
    insta::assert_snapshot!("evaluation_table", run.stdout);
}
