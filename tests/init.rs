//! `mlgate init` end to end: the scaffold on the bundled data, a pipeline that runs with the
//! config it wrote, all-or-nothing refusal without `--force`, and every workflow it writes
//! clean under actionlint (with shellcheck on each `run:` block).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::registry::commit_all;
use common::Project;

/// Every file `init` writes.
const WRITTEN: [&str; 8] = [
    "mlgate.yml",
    "mlgate.schema.yml",
    ".github/workflows/mlgate-pr.yml",
    ".github/workflows/mlgate-comment.yml",
    ".github/workflows/mlgate-release.yml",
    ".github/workflows/mlgate-gpu.yml",
    ".github/workflows/mlgate-retrain.yml",
    ".github/actionlint.yaml",
];

/// A git repository holding only the penguins data.
fn data_repo() -> Project {
    let project = Project::new();
    project.with_penguins();
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head("main");
    git2::Repository::init_opts(project.path(), &options).expect("git init");
    project
}

/// actionlint, when installed (required in CI).
fn actionlint() -> Option<PathBuf> {
    common::ci_tool(
        "actionlint",
        "MLGATE_ACTIONLINT",
        "MLGATE_REQUIRE_ACTIONLINT",
    )
}

/// Runs `mlgate init` on the penguins data with `target` and extra flags.
fn init(project: &Project, target: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["init", "--data", "data/penguins.csv", "--target", target];
    args.extend_from_slice(extra);
    project.mlgate(&args)
}

#[test]
fn init_scaffolds_a_repository_whose_pipeline_runs_and_whose_workflows_lint_clean() {
    let project = data_repo();
    let run = init(&project, "species", &["--name", "penguins"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for file in WRITTEN {
        assert!(project.path().join(file).is_file(), "{file}");
    }
    let config = project.read("mlgate.yml");
    assert!(config.contains("kind: logistic_regression"), "{config}");
    assert!(config.contains("name: penguins"), "{config}");
    let pr = project.read(".github/workflows/mlgate-pr.yml");
    assert!(pr.contains("uses: mlgate/mlgate@v1"), "{pr}");
    assert!(!pr.contains("build-from-source"), "{pr}");
    assert!(pr.contains("persist-credentials: false"), "{pr}");

    // The written config drives the whole pipeline.
    project.write(".gitignore", ".mlgate/\n");
    let repo = git2::Repository::open(project.path()).expect("repo");
    commit_all(&repo, "init");
    let pipeline = project.mlgate(&["run", "--no-drift"]);
    assert_eq!(pipeline.code, 0, "{}{}", pipeline.stdout, pipeline.stderr);

    if let Some(actionlint) = actionlint() {
        let workflows: Vec<String> = WRITTEN
            .iter()
            .filter(|f| f.starts_with(".github/workflows/"))
            .map(|f| f.to_string())
            .collect();
        let lint = Command::new(actionlint)
            .args(&workflows)
            .current_dir(project.path())
            .output()
            .expect("actionlint");
        assert!(
            lint.status.success(),
            "{}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
    }
}

#[test]
fn init_never_overwrites_without_force_and_writes_all_or_nothing() {
    let project = data_repo();
    project.write(".github/workflows/mlgate-pr.yml", "# mine\n");
    let refused = init(&project, "species", &[]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("mlgate-pr.yml"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(project.read(".github/workflows/mlgate-pr.yml"), "# mine\n");
    assert!(
        !project.path().join("mlgate.yml").exists(),
        "nothing written"
    );

    let run = init(
        &project,
        "species",
        &["--force", "--action", "./", "--build-from-source"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let pr = project.read(".github/workflows/mlgate-pr.yml");
    assert!(pr.contains("uses: ./\n"), "{pr}");
    assert!(pr.contains("build-from-source: \"true\""), "{pr}");
}

#[test]
fn a_numeric_target_gets_a_regressor_and_a_wrong_one_is_named() {
    let project = data_repo();
    let run = init(&project, "body_mass_g", &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let config = project.read("mlgate.yml");
    assert!(config.contains("kind: ridge"), "{config}");
    assert!(config.contains("primary: rmse"), "{config}");

    let other = data_repo();
    let wrong = init(&other, "specie", &[]);
    assert_eq!(wrong.code, 2, "{}{}", wrong.stdout, wrong.stderr);
    assert!(wrong.stderr.contains("`specie`"), "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("did you mean `species`?"),
        "{}",
        wrong.stderr
    );
    assert!(!other.path().join("mlgate.yml").exists());
}
