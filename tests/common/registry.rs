//! Penguins projects in real git repositories for the registry tests: a project with a
//! `release:` section on `main`, commits and tag listings.

use git2::{Repository, RepositoryInitOptions, Signature};

use super::Project;

/// The gate of these tests.
pub const GATE: &str = "gate:\n  primary: accuracy\n  rules:\n    - { metric: accuracy, min: 0.8 }\n    - { metric: accuracy, max_regression: 0.02 }\n  bootstrap: { resamples: 200 }\n";

/// A penguins project in a fresh git repository on `main`, with `release:` set.
pub fn registry_project(model: &str, release: &str) -> (Project, Repository) {
    let project = Project::new();
    project.with_penguins();
    write_config(&project, model, release);
    let inferred = project.mlgate(&["validate", "--infer"]);
    assert_eq!(inferred.code, 0, "{}", inferred.stderr);
    project.write(".gitignore", ".mlgate/\ncache/\n");
    let mut options = RepositoryInitOptions::new();
    options.initial_head("main");
    let repo = Repository::init_opts(project.path(), &options).expect("git init");
    commit_all(&repo, "first");
    (project, repo)
}

/// Writes `mlgate.yml`.
pub fn write_config(project: &Project, model: &str, release: &str) {
    project.write(
        "mlgate.yml",
        format!("data:\n  path: data/penguins.csv\n  target: species\n{model}{GATE}{release}"),
    );
}

/// Commits every file on the current branch; returns the commit id.
pub fn commit_all(repo: &Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("add");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let signature = Signature::now("Test", "test@example.com").expect("sig");
    let parents: Vec<git2::Commit<'_>> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )
    .expect("commit")
}

/// Names of every tag in the repository, sorted.
pub fn tags(repo: &Repository) -> Vec<String> {
    let mut names: Vec<String> = repo
        .tag_names(None)
        .expect("tags")
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}
