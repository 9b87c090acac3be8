//! The README's demo (`mlgate run --config examples/penguins/mlgate.yml`) works on a fresh
//! clone: validation passes and finds the `year` drift that comparing one season with three
//! must find, and the trained model passes the example's gate.

use std::path::Path;
use std::process::Command;

#[test]
fn readme_demo_validates_trains_and_evaluates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mlgate"))
        .args(["run", "--config", "examples/penguins/mlgate.yml", "--out"])
        .arg(out.path())
        .current_dir(root)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("validation passed: 344 rows, 0 errors"),
        "{stdout}"
    );
    assert!(
        stdout.contains("drift against examples/penguins/reference/penguins-2007.profile.json"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("validation.json")).unwrap())
            .unwrap();
    let year = report["drift"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "year")
        .unwrap();
    assert_eq!(year["drifted"], true);
    assert_eq!(report["drift"]["dataset_drift"], false);
    assert!(
        stdout.contains("trained logistic_regression (3 classes)"),
        "{stdout}"
    );
    assert!(stdout.contains("The candidate passes the gate"), "{stdout}");
    let evaluation: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("evaluation.json")).unwrap())
            .unwrap();
    assert_eq!(evaluation["passed"], true);
    assert_eq!(evaluation["primary"], "f1_macro");
}
