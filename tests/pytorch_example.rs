//! The PyTorch example (`examples/pytorch`) through `mlgate train` and `evaluate`: without
//! PyTorch it says what to install; with it (a Python that has torch: `MLGATE_TORCH_PYTHON`,
//! or `.ci/.torch-venv`), it trains on the CPU (or the GPU, where there is one) to the gate,
//! byte-identically twice, and predict.py re-scores it as the champion.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example's config.
fn config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pytorch/mlgate.yml")
}

/// Runs mlgate with `bin` first on PATH (where the trainer's `python3` comes from).
fn mlgate(bin: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlgate"));
    command
        .args(args)
        .env("MLGATE_NVML", "/nonexistent/libnvidia-ml.so.1");
    if let Some(bin) = bin {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin.to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        command.env("PATH", std::env::join_paths(paths).expect("PATH"));
    }
    command.output().expect("run mlgate")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether `python3` from `bin` (or PATH) imports torch.
fn has_torch(bin: Option<&Path>) -> bool {
    let python = bin.map_or_else(|| PathBuf::from("python3"), |b| b.join("python3"));
    Command::new(python)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The directory of a `python3` that has torch, when one is set up.
fn torch_bin() -> Option<PathBuf> {
    let bin = std::env::var_os("MLGATE_TORCH_PYTHON")
        .map(|p| {
            PathBuf::from(p)
                .parent()
                .expect("python's directory")
                .to_path_buf()
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/.torch-venv/bin"));
    if has_torch(Some(&bin)) {
        return Some(bin);
    }
    assert!(
        std::env::var_os("MLGATE_REQUIRE_TORCH").is_none(),
        "MLGATE_REQUIRE_TORCH is set but {} has no torch",
        bin.display()
    );
    eprintln!(
        "skipped: no Python with torch ({}); set MLGATE_TORCH_PYTHON",
        bin.display()
    );
    None
}

#[test]
fn without_pytorch_the_trainer_says_what_to_install() {
    if has_torch(None) {
        eprintln!("skipped: this python3 has torch");
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let config = config().display().to_string();
    let run = mlgate(
        None,
        &[
            "train",
            "--config",
            &config,
            "--out",
            &out.path().display().to_string(),
        ],
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains("install the pinned requirements: pip install -r requirements.txt"),
        "{}",
        text(&run)
    );
    assert!(
        !out.path().join("model").exists(),
        "no model from a failed trainer"
    );
}

#[test]
fn the_pytorch_example_trains_to_the_gate_deterministically_and_rescores_as_champion() {
    let Some(bin) = torch_bin() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config().display().to_string();
    let runs: Vec<PathBuf> = ["a", "b"].iter().map(|r| dir.path().join(r)).collect();
    for run_dir in &runs {
        let run = mlgate(
            Some(&bin),
            &[
                "train",
                "--config",
                &config,
                "--out",
                &run_dir.display().to_string(),
            ],
        );
        assert!(run.status.success(), "{}", text(&run));
        assert!(text(&run).contains("MLP"), "{}", text(&run));
    }
    for file in ["model/model.pt", "model/preprocess.json", "predictions.csv"] {
        let read = |run: &Path| std::fs::read(run.join(file)).expect(file);
        assert!(
            read(&runs[0]) == read(&runs[1]),
            "{file} differs between identical runs"
        );
    }
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(runs[0].join("model/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["model_kind"], "external");
    let names: Vec<&str> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["model.pt", "preprocess.json"]);

    let baseline = runs[0].join("model").display().to_string();
    let evaluated = mlgate(
        Some(&bin),
        &[
            "evaluate",
            "--config",
            &config,
            "--out",
            &runs[1].display().to_string(),
            "--baseline",
            &baseline,
        ],
    );
    assert!(evaluated.status.success(), "{}", text(&evaluated));
    let evaluation: serde_json::Value = serde_json::from_slice(
        &std::fs::read(runs[1].join("evaluation.json")).expect("evaluation"),
    )
    .expect("json");
    let f1 = evaluation["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == "f1_macro")
        .expect("f1_macro");
    assert!(f1["candidate"].as_f64().expect("candidate") >= 0.9, "{f1}");
    assert_eq!(
        f1["candidate"], f1["champion"],
        "the same model re-scored: {f1}"
    );
}
