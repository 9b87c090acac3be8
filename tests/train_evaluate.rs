//! `mlgate train`, `evaluate` and `run` end to end on the bundled penguins data: every model
//! kind, the files they write, determinism, the gate's verdicts, and bad input.

mod common;

use common::Project;

/// A penguins project with an inferred schema and the given `model:` and `gate:` YAML.
fn penguins(model: &str, gate: &str) -> Project {
    let project = Project::new();
    project.with_penguins();
    project.write(
        "mlgate.yml",
        format!("data:\n  path: data/penguins.csv\n  target: species\n{model}{gate}"),
    );
    let inferred = project.mlgate(&["validate", "--infer"]);
    assert_eq!(inferred.code, 0, "{}", inferred.stderr);
    project
}

/// The standard gate of these tests.
const GATE: &str = "gate:\n  primary: accuracy\n  rules:\n    - { metric: accuracy, min: 0.8 }\n    - { metric: accuracy, max_regression: 0.02 }\n  bootstrap: { resamples: 500 }\n";

/// Runs `mlgate train --out OUT` with `MLGATE_THREADS=THREADS`, expecting success; returns stdout.
fn train_with_threads(project: &Project, out: &str, threads: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mlgate"))
        .args(["train", "--out", out])
        .env("MLGATE_THREADS", threads)
        .current_dir(project.path())
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A metric's candidate value from `evaluation.json`.
fn metric(evaluation: &serde_json::Value, name: &str) -> f64 {
    evaluation["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == name)
        .unwrap_or_else(|| panic!("no {name}"))["candidate"]
        .as_f64()
        .expect("number")
}

#[test]
fn train_then_evaluate_writes_the_model_directory_and_passes() {
    let project = penguins("model:\n  kind: logistic_regression\n  seed: 3\n", GATE);
    let trained = project.mlgate(&["train"]);
    assert_eq!(trained.code, 0, "{}", trained.stderr);
    assert!(
        trained
            .stdout
            .contains("trained logistic_regression (3 classes)"),
        "{}",
        trained.stdout
    );

    let manifest = project.json(".mlgate/model/manifest.json");
    assert_eq!(manifest["schema_version"], 1);
    assert_eq!(manifest["model_kind"], "logistic_regression");
    assert_eq!(manifest["seed"], 3);
    assert_eq!(
        manifest["classes"],
        serde_json::json!(["Adelie", "Chinstrap", "Gentoo"])
    );
    let split = &manifest["split"];
    assert_eq!(split["method"], "hash_of_row");
    let (train, eval) = (
        split["train_rows"].as_u64().expect("n"),
        split["eval_rows"].as_u64().expect("n"),
    );
    assert_eq!(train + eval, 344);
    assert!((50..100).contains(&eval), "{eval}");
    let model = std::fs::read(project.path().join(".mlgate/model/model.mlgate")).expect("model");
    let file = &manifest["files"][0];
    assert_eq!(file["name"], "model.mlgate");
    assert_eq!(file["bytes"].as_u64(), Some(model.len() as u64));
    assert_eq!(file["sha256"].as_str().map(str::len), Some(64));
    assert!(String::from_utf8_lossy(&model).starts_with(
        r#"{"format":"mlgate-model","format_version":1,"model_kind":"logistic_regression""#
    ));
    let predictions = project.read(".mlgate/predictions.csv");
    assert!(
        predictions.starts_with("id,label,prediction,score_Adelie,score_Chinstrap,score_Gentoo\n")
    );
    assert_eq!(predictions.lines().count() as u64, eval + 1);

    let evaluated = project.mlgate(&["evaluate"]);
    assert_eq!(
        evaluated.code, 0,
        "{}{}",
        evaluated.stdout, evaluated.stderr
    );
    let evaluation = project.json(".mlgate/evaluation.json");
    assert_eq!(evaluation["schema_version"], 1);
    assert_eq!(evaluation["passed"], true);
    assert_eq!(
        evaluation["eval_set_hash"],
        manifest["split"]["eval_set_hash"]
    );
    assert!(metric(&evaluation, "accuracy") > 0.95);
    assert!(evaluation["notes"][0]
        .as_str()
        .expect("note")
        .contains("no champion"));
    assert!(project
        .read(".mlgate/evaluation.md")
        .contains("Model gate passed"));
}

#[test]
fn every_built_in_model_trains_and_scores_sensibly() {
    // Gaussian naive Bayes models one-hot columns as Gaussians, exactly as scikit-learn's
    // GaussianNB does (both score 0.743 on these rows with every feature), so it gets the
    // numeric columns.
    let numeric = "\n  features: [bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g]";
    for (kind, features) in [
        ("logistic_regression", ""),
        ("decision_tree", ""),
        ("random_forest", ""),
        ("naive_bayes", numeric),
        ("knn", ""),
        ("linear_svm", ""),
    ] {
        let project = penguins(&format!("model:\n  kind: {kind}{features}\n"), GATE);
        let trained = project.mlgate(&["train"]);
        assert_eq!(trained.code, 0, "{kind}: {}", trained.stderr);
        let evaluated = project.mlgate(&["evaluate"]);
        assert_eq!(
            evaluated.code, 0,
            "{kind}: {}{}",
            evaluated.stdout, evaluated.stderr
        );
        let accuracy = metric(&project.json(".mlgate/evaluation.json"), "accuracy");
        assert!(accuracy > 0.85, "{kind}: accuracy {accuracy}");
    }
    for kind in [
        "linear",
        "ridge",
        "elastic_net",
        "decision_tree_regressor",
        "random_forest_regressor",
    ] {
        let project = Project::new();
        project.with_penguins();
        project.write(
            "mlgate.yml",
            format!("data:\n  path: data/penguins.csv\n  target: body_mass_g\nmodel:\n  kind: {kind}\ngate:\n  rules:\n    - {{ metric: r2, min: 0.5 }}\n"),
        );
        assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
        let trained = project.mlgate(&["train"]);
        assert_eq!(trained.code, 0, "{kind}: {}", trained.stderr);
        assert!(
            trained.stdout.contains("(regression)"),
            "{}",
            trained.stdout
        );
        let evaluated = project.mlgate(&["evaluate"]);
        assert_eq!(
            evaluated.code, 0,
            "{kind}: {}{}",
            evaluated.stdout, evaluated.stderr
        );
        let r2 = metric(&project.json(".mlgate/evaluation.json"), "r2");
        assert!(r2 > 0.5, "{kind}: r2 {r2}");
    }
}

#[test]
fn same_data_config_and_seed_give_byte_identical_models_and_metrics() {
    let project = penguins(
        "model:\n  kind: random_forest\n  seed: 11\n  params: { n_estimators: 20 }\n",
        GATE,
    );
    train_with_threads(&project, "a", "1");
    train_with_threads(&project, "b", "4");
    for file in ["model/model.mlgate", "predictions.csv"] {
        assert_eq!(
            project.read(&format!("a/{file}")),
            project.read(&format!("b/{file}")),
            "{file} differs"
        );
    }
    for out in ["a", "b"] {
        let run = project.mlgate(&["evaluate", "--out", out, "--baseline", "a/model"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    }
    let (a, b) = (
        project.json("a/evaluation.json"),
        project.json("b/evaluation.json"),
    );
    assert_eq!(a["metrics"], b["metrics"]);
    assert_eq!(a["rules"], b["rules"]);
    // Re-scoring the saved champion gives exactly the candidate's numbers: a zero delta.
    for m in a["metrics"].as_array().expect("metrics") {
        assert_eq!(m["delta"].as_f64(), Some(0.0), "{}", m["metric"]);
    }
}

#[test]
fn a_model_without_informative_features_fails_against_the_champion() {
    let project = penguins("model:\n  kind: logistic_regression\n", GATE);
    assert_eq!(project.mlgate(&["train", "--out", "champion"]).code, 0);
    project.write(
        "mlgate.yml",
        format!("data:\n  path: data/penguins.csv\n  target: species\nmodel:\n  kind: logistic_regression\n  features: [year, sex]\n{GATE}"),
    );
    let trained = project.mlgate(&["train"]);
    assert_eq!(trained.code, 0, "{}", trained.stderr);
    let run = project.mlgate(&["evaluate", "--baseline", "champion/model"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("FAIL  accuracy regression <= 0.02"),
        "{}",
        run.stdout
    );
    let evaluation = project.json(".mlgate/evaluation.json");
    assert_eq!(evaluation["passed"], false);
    assert_eq!(evaluation["verdict"], "fail");
    let markdown = project.read(".mlgate/evaluation.md");
    assert!(markdown.contains("Model gate failed"), "{markdown}");
    assert!(
        markdown.contains("worse, beyond the allowed 0\\.0200"),
        "{markdown}"
    );
    // The champion was re-scored on the candidate's rows with its own features.
    assert!(metric(&evaluation, "accuracy") < 0.8);
}

#[test]
fn appending_rows_never_moves_old_rows_between_train_and_eval() {
    let csv = common::penguins_csv();
    let lines: Vec<&str> = csv.lines().collect();
    let project = Project::new();
    project.write("data/penguins.csv", lines[..201].join("\n") + "\n");
    project.write(
        "mlgate.yml",
        "data:\n  path: data/penguins.csv\n  target: species\nmodel:\n  kind: naive_bayes\n",
    );
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
    assert_eq!(project.mlgate(&["train", "--out", "before"]).code, 0);
    project.write("data/penguins.csv", csv.clone());
    assert_eq!(project.mlgate(&["train", "--out", "after"]).code, 0);
    let ids = |out: &str| -> Vec<u64> {
        project
            .read(&format!("{out}/predictions.csv"))
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().expect("id").parse().expect("row"))
            .collect()
    };
    let before = ids("before");
    let after: Vec<u64> = ids("after").into_iter().filter(|&r| r <= 200).collect();
    assert_eq!(before, after);
}

#[test]
fn run_validates_trains_and_evaluates_in_one_command() {
    let project = penguins("model:\n  kind: logistic_regression\n", GATE);
    let run = project.mlgate(&["run", "--no-drift"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for stage in [
        "== validate",
        "== train",
        "== evaluate",
        "passes the gate",
        "== report",
    ] {
        assert!(run.stdout.contains(stage), "{stage}: {}", run.stdout);
    }
    for file in [
        "validation.json",
        "profile.json",
        "predictions.csv",
        "evaluation.json",
        "model/manifest.json",
        "report.md",
    ] {
        assert!(project.path().join(".mlgate").join(file).exists(), "{file}");
    }
}

#[test]
fn bad_training_input_gets_one_clear_message() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "species,x\nAdelie,1\nAdelie,2\nAdelie,3\nAdelie,4\n",
            "model:\n  kind: logistic_regression\n",
            "only one class of `species` (`Adelie`)",
        ),
        (
            &(0..40).fold("species,x,empty\n".to_string(), |csv, i| {
                csv + &format!("{},{i},\n", ["A", "B"][i % 2])
            }),
            "model:\n  kind: knn\n",
            "`empty` has no value in any training row",
        ),
        (
            "species,x\nA,1\nB,2\n",
            "model:\n  kind: random_forrest\n",
            "did you mean `random_forest`?",
        ),
        (
            "species,x\nA,1\nB,2\n",
            "model:\n  kind: knn\n  params: { kk: 3 }\n",
            "kk",
        ),
        (
            "species,x\nA,1\nB,2\n",
            "model:\n  kind: knn\n  features: [y]\n",
            "feature `y` is not a column",
        ),
    ];
    for (data, model, expected) in cases {
        let project = Project::new();
        project.write("d.csv", data);
        project.write(
            "mlgate.yml",
            format!("data:\n  path: d.csv\n  target: species\n{model}"),
        );
        let run = project.mlgate(&["train"]);
        assert_eq!(run.code, 2, "{model}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{model}: expected {expected:?} in {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(!project.path().join(".mlgate/model").exists());
    }
}

#[test]
fn an_evaluation_label_never_seen_in_training_is_named() {
    let project = Project::new();
    project.write("train.csv", "species,x\nA,1\nB,2\nA,3\nB,4\n");
    project.write("eval.csv", "species,x\nA,1\nC,9\nC,8\n");
    project.write(
        "mlgate.yml",
        "data:\n  path: train.csv\n  target: species\nmodel:\n  kind: naive_bayes\n  split: { eval_path: eval.csv }\n",
    );
    let run = project.mlgate(&["train"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "class `C` of `species` appears in 2 evaluation row(s) but in no training row"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn candidate_predictions_with_duplicated_or_missing_ids_are_refused() {
    let project = penguins("model:\n  kind: naive_bayes\n", GATE);
    assert_eq!(project.mlgate(&["train"]).code, 0);
    let predictions = project.read(".mlgate/predictions.csv");
    let mut lines: Vec<&str> = predictions.lines().collect();
    let duplicated = format!("{}\n{}\n", lines.join("\n"), lines[1]);
    project.write("dup.csv", duplicated);
    let run = project.mlgate(&["evaluate", "--candidate", "dup.csv"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("repeats row 1"), "{}", run.stderr);
    // A champion that scored fewer rows cannot be compared pairwise.
    lines.truncate(lines.len() - 3);
    project.write("short.csv", lines.join("\n") + "\n");
    let run = project.mlgate(&["evaluate", "--baseline", "short.csv"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("lack 3 of the"), "{}", run.stderr);
}

#[test]
fn an_external_trainer_that_crashes_hangs_or_writes_garbage_is_reported() {
    let cases = [
        (
            "echo 'Traceback: boom' >&2; exit 1",
            30,
            "failed (exit code 1)",
        ),
        ("sleep 20", 1, "ran longer than 1 s and was stopped"),
        (
            "echo 'not,a,predictions,file' > \"$MLGATE_PREDICTIONS_PATH\"",
            30,
            "`id`, `label` and `prediction`",
        ),
        ("true", 30, "wrote no predictions"),
    ];
    for (command, timeout, expected) in cases {
        let project = penguins(
            &format!("model:\n  kind: external\n  train: {{ command: sh trainer.sh, timeout_seconds: {timeout} }}\n"),
            "",
        );
        project.write("trainer.sh", command);
        let run = project.mlgate(&["train"]);
        assert_eq!(run.code, 2, "{command}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{command}: expected {expected:?} in {}",
            run.stderr
        );
        assert!(!project.path().join(".mlgate/model").exists(), "{command}");
        assert!(
            !project.path().join(".mlgate/predictions.csv").exists(),
            "{command}"
        );
    }
}

#[test]
fn an_external_trainer_gets_the_split_and_its_predictions_are_checked() {
    // A "model" that copies the label: reads eval.csv and writes perfect predictions.
    let script = r#"set -eu
if [ -n "${MLGATE_TRAIN_PATH:-}" ]; then
  echo "trained on $(($(wc -l < "$MLGATE_TRAIN_PATH") - 1)) rows" > "$MLGATE_MODEL_DIR/model.txt"
fi
awk -F, -v t="$MLGATE_TARGET" 'NR==1 { for (i=1;i<=NF;i++) { if ($i==t) c=i; if ($i==ENVIRON["MLGATE_ID"]) d=i }; print "id,label,prediction"; next } { print $d "," $c "," $c }' "$MLGATE_INPUT_PATH" > "$MLGATE_PREDICTIONS_PATH"
"#;
    let project = penguins(
        "model:\n  kind: external\n  train: { command: sh trainer.sh }\n  predict: { command: sh trainer.sh }\n",
        GATE,
    );
    project.write("trainer.sh", script);
    let run = project.mlgate(&["train"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = project.json(".mlgate/model/manifest.json");
    assert_eq!(manifest["model_kind"], "external");
    assert_eq!(manifest["files"][0]["name"], "model.txt");
    assert!(project
        .read(".mlgate/model/model.txt")
        .starts_with("trained on "));
    let evaluated = project.mlgate(&["evaluate", "--baseline", ".mlgate/model"]);
    assert_eq!(
        evaluated.code, 0,
        "{}{}",
        evaluated.stdout, evaluated.stderr
    );
    assert_eq!(
        metric(&project.json(".mlgate/evaluation.json"), "accuracy"),
        1.0
    );
}

#[test]
fn a_grid_search_picks_the_best_combination_whatever_the_thread_count() {
    let project = penguins(
        "model:\n  kind: decision_tree\n  seed: 5\n  grid:\n    params: { max_depth: [1, 4], min_samples_leaf: [1, 5] }\n    folds: 4\n",
        GATE,
    );
    let stdout = train_with_threads(&project, "one", "1");
    train_with_threads(&project, "two", "2");
    assert!(
        stdout.contains("grid search: 4 combinations x 4 folds"),
        "{stdout}"
    );
    let grid = &project.json("one/model/manifest.json")["grid"];
    assert_eq!(grid["metric"], "accuracy");
    let results = grid["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    let best = &results[grid["best"].as_u64().expect("best") as usize];
    // One split cannot separate three species; depth 4 can.
    assert_eq!(best["params"]["max_depth"], 4, "{grid}");
    assert!(best["mean"].as_f64().expect("mean") > 0.9);
    assert_eq!(
        project.read("one/model/model.mlgate"),
        project.read("two/model/model.mlgate")
    );
    assert_eq!(
        project.json("one/model/manifest.json")["grid"],
        project.json("two/model/manifest.json")["grid"]
    );
}

#[test]
fn a_bad_grid_is_a_config_error_at_its_line() {
    let project = Project::new();
    project.with_penguins();
    let config = |grid: &str| {
        format!("data:\n  path: data/penguins.csv\n  target: species\nmodel:\n  kind: decision_tree\n  grid:\n{grid}")
    };
    project.write(
        "mlgate.yml",
        config("    params: { max_depth: [1, 4] }\n    folds: 1\n"),
    );
    let run = project.mlgate(&["train"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`folds` must be from 2 to 20, not 1"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("mlgate.yml:8:5"), "{}", run.stderr);
    project.write("mlgate.yml", config("    params: { max_depth: [0] }\n"));
    let run = project.mlgate(&["train"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("invalid `model.grid.params`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("max_depth"), "{}", run.stderr);
}

#[test]
fn a_model_trained_next_to_a_gpu_records_it_in_its_manifest() {
    let project = penguins("model:\n  kind: logistic_regression\n", GATE);
    let nvml = common::gpu::fake_nvml(project.path(), false);
    // A static build (the released Linux binaries) cannot load NVML: it reads nvidia-smi.
    let loadable = mlgate::runner::nvml::LOADABLE;
    let smi = if loadable {
        "/nonexistent/nvidia-smi".to_string()
    } else {
        common::gpu::fake_smi(project.path(), false)
    };
    let train = |visible: Option<&str>| {
        let mut vars = vec![
            ("MLGATE_NVML", nvml.as_str()),
            ("MLGATE_NVIDIA_SMI", smi.as_str()),
        ];
        if let Some(visible) = visible {
            vars.push(("CUDA_VISIBLE_DEVICES", visible));
        }
        let run = project.mlgate_env(&["train"], &vars);
        assert_eq!(run.code, 0, "{}", run.stderr);
        project.json(".mlgate/model/manifest.json")["hardware"].clone()
    };
    let hardware = train(None);
    let source = if loadable { "nvml" } else { "nvidia-smi" };
    assert_eq!(hardware["source"], source);
    assert_eq!(hardware["cuda_version"], "13.0");
    assert_eq!(
        hardware["gpus"],
        serde_json::json!([{
            "index": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "uuid": "GPU-e5e85b13-bd49-5804-e1ec-b700ef64ce65",
            "driver_version": "580.159.04",
            "memory_total_mib": 81559
        }])
    );
    assert_eq!(train(Some("GPU-e5e85b13"))["gpus"][0]["index"], 0);
    assert!(
        train(Some("")).is_null(),
        "no visible GPU, nothing recorded"
    );
    assert!(train(Some("1")).is_null());
}
