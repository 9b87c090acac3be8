//! Drift against the data file at the merge-base, read from git with no checkout: data is
//! committed on `main`, changed on a branch, and `mlgate validate --reference git:main` finds
//! the drift; the same data on both sides finds none.

mod common;

use std::path::Path;

use common::{penguins_csv, Project};
use git2::{Repository, Signature};

/// Commits every file in the work tree on the current branch.
fn commit_all(repo: &Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::new("t", "t@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
    let parents: Vec<git2::Commit> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

/// Penguins with every bill 8 mm longer and no Adelie penguins on Torgersen.
fn shifted_penguins() -> String {
    let mut out = String::new();
    for (i, line) in penguins_csv().lines().enumerate() {
        let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
        if i > 0 {
            if let Ok(v) = fields[2].parse::<f64>() {
                fields[2] = format!("{:.1}", v + 8.0);
            }
            if fields[1] == "Torgersen" {
                fields[1] = "Biscoe".to_string();
            }
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// A repository with penguins committed on `main` and a schema.
fn repo_with_penguins(project: &Project) -> Repository {
    let repo = Repository::init_opts(
        project.path(),
        git2::RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    project.with_penguins();
    project.write(
        "mlgate.yml",
        "data:\n  path: data/penguins.csv\n  target: species\ndrift:\n  reference: git:main\n",
    );
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    project.write(".gitignore", ".mlgate/\n");
    commit_all(&repo, "data on main");
    repo
}

#[test]
fn branch_with_changed_data_drifts_against_main() {
    let project = Project::new();
    let repo = repo_with_penguins(&project);
    let main = repo.head().unwrap().peel_to_commit().unwrap();
    repo.branch("feature", &main, false).unwrap();
    repo.set_head("refs/heads/feature").unwrap();
    project.write("data/penguins.csv", shifted_penguins());
    commit_all(&repo, "longer bills");

    let run = project.mlgate(&["validate"]);
    // Drift is `warn` by default; the range check (also `warn` when inferred) fires too.
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = project.json(".mlgate/validation.json");
    let drift = &report["drift"];
    assert!(drift["reference"]["label"]
        .as_str()
        .unwrap()
        .starts_with("git:main (merge-base "));
    let column = |name: &str| {
        drift["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == name)
            .unwrap()
            .clone()
    };
    let bill = column("bill_length_mm");
    assert_eq!(bill["method"], "ks");
    assert_eq!(bill["drifted"], true);
    assert!(bill["p_value"].as_f64().unwrap() < 1e-6);
    let island = column("island");
    assert_eq!(island["method"], "chi_square");
    assert_eq!(island["drifted"], true);
    assert_eq!(column("bill_depth_mm")["drifted"], false);
    assert_eq!(column("species")["drifted"], false);
    assert!(
        run.stdout.contains("drift against git:main"),
        "{}",
        run.stdout
    );

    // With drift as an error, the same change fails the gate.
    project.write(
        "mlgate.yml",
        "data:\n  path: data/penguins.csv\n  target: species\ndrift:\n  reference: git:main\n  severity: error\n  share: 0.2\n",
    );
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
}

#[test]
fn unchanged_data_does_not_drift_and_new_files_are_skipped() {
    let project = Project::new();
    let _repo = repo_with_penguins(&project);
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = project.json(".mlgate/validation.json");
    assert_eq!(report["drift"]["drifted"], 0);
    assert_eq!(report["drift"]["dataset_drift"], false);

    // A data file that did not exist at the merge-base: no reference, no drift section.
    project.write(
        "mlgate.yml",
        "data:\n  path: data/new.csv\n  target: species\n",
    );
    std::fs::copy(
        project.path().join("data/penguins.csv"),
        project.path().join("data/new.csv"),
    )
    .unwrap();
    let run = project.mlgate(&["validate", "--reference", "git:main"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(project
        .json(".mlgate/validation.json")
        .get("drift")
        .is_none());
}

#[test]
fn stored_profile_is_a_reference_without_raw_data() {
    let project = Project::new();
    let _repo = repo_with_penguins(&project);
    assert_eq!(project.mlgate(&["validate", "--no-drift"]).code, 0);
    std::fs::copy(
        project.path().join(".mlgate/profile.json"),
        project.path().join("reference.json"),
    )
    .unwrap();
    project.write("data/penguins.csv", shifted_penguins());
    let run = project.mlgate(&["validate", "--reference", "reference.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = project.json(".mlgate/validation.json");
    assert!(
        report["drift"]["drifted"].as_u64().unwrap() >= 2,
        "{report:#}"
    );
}

#[test]
fn unknown_revision_is_a_clear_error() {
    let project = Project::new();
    let _repo = repo_with_penguins(&project);
    let run = project.mlgate(&["validate", "--reference", "git:nope"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("git revision `nope` (or `origin/nope`) not found"),
        "{}",
        run.stderr
    );
    assert!(Path::new(&project.path().join(".mlgate")).exists() || run.code == 2);
}
