//! The model registry end to end, in real git repositories made in temporary directories:
//! `mlgate champion` (the newest version the base reaches, side branches and odd tags
//! ignored), `mlgate evaluate --baseline auto` (cached model re-scored, or recorded metrics),
//! and `mlgate promote --local` (versioning rules, tags, stage tags, bundle, idempotency).

mod common;

use std::path::Path;
use std::process::Command;

use common::registry::{commit_all, registry_project, tags, write_config};
use common::{Project, Run};
use git2::{Repository, Signature};

/// The message of an annotated tag.
fn tag_message(repo: &Repository, name: &str) -> String {
    let object = repo
        .revparse_single(&format!("refs/tags/{name}"))
        .expect("tag");
    object
        .as_tag()
        .expect("annotated")
        .message()
        .expect("utf-8")
        .to_string()
}

/// Runs mlgate with extra environment variables.
fn mlgate_env(project: &Project, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlgate"));
    command
        .args(args)
        .current_dir(project.path())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_BASE_REF");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs mlgate expecting exit code `code`.
fn expect(project: &Project, args: &[&str], code: i32) -> Run {
    let run = project.mlgate(args);
    assert_eq!(
        run.code, code,
        "mlgate {args:?}\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run
}

/// Validate, train and evaluate with no champion.
fn run_pipeline(project: &Project) {
    expect(project, &["run", "--no-drift"], 0);
}

/// Lightweight tag `name` on `commit`.
fn lightweight(repo: &Repository, name: &str, commit: git2::Oid) {
    let object = repo.find_object(commit, None).expect("object");
    repo.tag_lightweight(name, &object, false).expect("tag");
}

/// Annotated tag `name` on `commit` with `message`.
fn annotated(repo: &Repository, name: &str, commit: git2::Oid, message: &str) {
    let object = repo.find_object(commit, None).expect("object");
    let signature = Signature::new(
        "Test",
        "test@example.com",
        &git2::Time::new(1_795_168_800, 0),
    )
    .expect("sig");
    repo.tag(name, &object, &signature, message, false)
        .expect("tag");
}

#[test]
fn promote_local_tags_writes_the_bundle_and_a_rerun_changes_nothing() {
    let (project, repo) = registry_project(
        "model:\n  kind: logistic_regression\n  seed: 3\n",
        "release:\n  name: penguins\n  stage: prod\n",
    );
    run_pipeline(&project);
    let outputs = project.path().join("outputs.txt");
    let first = mlgate_env(
        &project,
        &[
            "promote",
            "--local",
            "--run-url",
            "https://ci.example/run/1",
        ],
        &[("GITHUB_OUTPUT", &outputs)],
    );
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("promoted penguins@v0.0.1"),
        "{}",
        first.stdout
    );
    assert_eq!(tags(&repo), ["penguins#prod#1", "penguins@v0.0.1"]);
    let written = std::fs::read_to_string(&outputs).expect("outputs");
    // `$GITHUB_OUTPUT` takes `name<<DELIMITER` blocks.
    let lines: Vec<&str> = written.lines().collect();
    for (key, value) in [("tag", "penguins@v0.0.1"), ("version", "0.0.1")] {
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("{key}<<")))
            .unwrap_or_else(|| panic!("no {key} in {written}"));
        assert_eq!(lines[at + 1], value, "{written}");
    }

    // The tag's record carries the metrics and hashes, machine-readably.
    let message = tag_message(&repo, "penguins@v0.0.1");
    assert!(
        message.starts_with("penguins v0.0.1: accuracy "),
        "{message}"
    );
    let manifest = project.read(".mlgate/model/manifest.json");
    let manifest_sha = mlgate::fsx::sha256_hex(manifest.as_bytes());
    for line in [
        "mlgate-tag-format: 1".to_string(),
        "name: penguins".into(),
        "version: 0.0.1".into(),
        "primary-metric: accuracy".into(),
        format!("manifest-sha256: {manifest_sha}"),
        "run-url: https://ci.example/run/1".into(),
    ] {
        assert!(
            message.lines().any(|l| l == line),
            "{line} missing from\n{message}"
        );
    }
    assert!(
        message
            .lines()
            .any(|l| l.starts_with("metric.accuracy: 0.")),
        "{message}"
    );

    // The bundle: every asset listed in SHA256SUMS with its real digest.
    let release = project.path().join(".mlgate/release");
    let sums = std::fs::read_to_string(release.join("SHA256SUMS")).expect("sums");
    let mut names = Vec::new();
    for line in sums.lines() {
        let (hex, name) = line.split_once("  ").expect("sha256sum format");
        let bytes = std::fs::read(release.join(name)).expect("asset");
        assert_eq!(hex, mlgate::fsx::sha256_hex(&bytes), "{name}");
        names.push(name.to_string());
    }
    assert_eq!(
        names,
        [
            "evaluation.json",
            "manifest.json",
            "model.mlgate",
            "model_card.md",
            "profile.json"
        ]
    );
    let card = project.read(".mlgate/release/model_card.md");
    assert!(card.starts_with("# Model card: penguins 0.0.1"), "{card}");
    assert!(card.contains("| bill\\_length\\_mm |"), "{card}");

    // A second run on the same commit: nothing changes.
    let tag_object = repo.refname_to_id("refs/tags/penguins@v0.0.1").expect("id");
    let again = expect(&project, &["promote", "--local"], 0);
    assert!(
        again.stdout.contains("already promoted as penguins@v0.0.1"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("release assets rebuilt"),
        "{}",
        again.stdout
    );
    assert_eq!(tags(&repo), ["penguins#prod#1", "penguins@v0.0.1"]);
    assert_eq!(
        repo.refname_to_id("refs/tags/penguins@v0.0.1").expect("id"),
        tag_object
    );
    assert_eq!(
        std::fs::read_to_string(release.join("SHA256SUMS")).expect("sums"),
        sums
    );
}

#[test]
fn a_crash_before_the_stage_tag_is_finished_by_the_next_run() {
    let (project, repo) = registry_project(
        "model:\n  kind: logistic_regression\n",
        "release:\n  name: penguins\n",
    );
    run_pipeline(&project);
    expect(&project, &["promote", "--local"], 0);
    // Adding a stage afterwards stands in for a run that died between the two tags.
    write_config(
        &project,
        "model:\n  kind: logistic_regression\n",
        "release:\n  name: penguins\n  stage: prod\n",
    );
    let again = expect(&project, &["promote", "--local"], 0);
    assert!(
        again.stdout.contains("assigned penguins#prod#1"),
        "{}",
        again.stdout
    );
    assert_eq!(tags(&repo), ["penguins#prod#1", "penguins@v0.0.1"]);
    expect(&project, &["promote", "--local"], 0);
    assert_eq!(tags(&repo), ["penguins#prod#1", "penguins@v0.0.1"]);
}

#[test]
fn versions_follow_the_rules_and_the_overrides() {
    let (project, repo) = registry_project(
        "model:\n  kind: logistic_regression\n",
        "release:\n  name: penguins\n  stage: prod\n",
    );
    run_pipeline(&project);
    expect(&project, &["promote", "--local"], 0);

    // Same features, no significant change: patch.
    project.write("notes.txt", "second");
    commit_all(&repo, "second");
    run_pipeline(&project);
    let patch = expect(&project, &["promote", "--local"], 0);
    assert!(
        patch
            .stdout
            .contains("promoted penguins@v0.0.2 (patch bump"),
        "{}",
        patch.stdout
    );
    assert!(
        patch.stdout.contains("assigned penguins#prod#2"),
        "{}",
        patch.stdout
    );

    // Fewer features: the schema changed, so major.
    write_config(
        &project,
        "model:\n  kind: logistic_regression\n  features: [bill_length_mm, bill_depth_mm, flipper_length_mm]\n",
        "release:\n  name: penguins\n",
    );
    commit_all(&repo, "third");
    run_pipeline(&project);
    let major = expect(&project, &["promote", "--local"], 0);
    assert!(
        major
            .stdout
            .contains("promoted penguins@v1.0.0 (major bump: the feature schema changed)"),
        "{}",
        major.stdout
    );

    // Overrides: `--version` must be new and the highest; `--bump` wins over the rules.
    project.write("notes.txt", "fourth");
    commit_all(&repo, "fourth");
    let reused = expect(&project, &["promote", "--local", "--version", "0.0.2"], 2);
    assert!(
        reused.stderr.contains("version 0.0.2 already exists"),
        "{}",
        reused.stderr
    );
    let lower = expect(&project, &["promote", "--local", "--version", "0.5.0"], 2);
    assert!(
        lower.stderr.contains("not above the newest"),
        "{}",
        lower.stderr
    );
    let minor = expect(&project, &["promote", "--local", "--bump", "minor"], 0);
    assert!(
        minor.stdout.contains("promoted penguins@v1.1.0"),
        "{}",
        minor.stdout
    );
    assert_eq!(
        tags(&repo),
        [
            "penguins#prod#1",
            "penguins#prod#2",
            "penguins@v0.0.1",
            "penguins@v0.0.2",
            "penguins@v1.0.0",
            "penguins@v1.1.0"
        ]
    );
}

#[test]
fn a_failed_evaluation_is_not_promoted_without_force() {
    let (project, repo) = registry_project(
        "model:\n  kind: logistic_regression\n",
        "release:\n  name: penguins\n",
    );
    project.write(
        "mlgate.yml",
        project
            .read("mlgate.yml")
            .replace("min: 0.8", "min: 0.9999"),
    );
    expect(&project, &["run", "--no-drift"], 1);
    let refused = expect(&project, &["promote", "--local"], 1);
    assert!(
        refused.stderr.contains("not promoting"),
        "{}",
        refused.stderr
    );
    assert!(tags(&repo).is_empty());
    let forced = expect(&project, &["promote", "--local", "--force"], 0);
    assert!(forced.stderr.contains("warning"), "{}", forced.stderr);
    assert_eq!(tags(&repo), ["penguins@v0.0.1"]);

    // An evaluation of some other evaluation set is not a verdict on this model.
    let evaluation = project.read(".mlgate/evaluation.json");
    let hash = project.json(".mlgate/evaluation.json")["eval_set_hash"]
        .as_str()
        .expect("hash")
        .to_string();
    project.write(
        ".mlgate/evaluation.json",
        evaluation.replace(&hash, "00000000000000000000000000000000"),
    );
    let mismatch = expect(&project, &["promote", "--local", "--force"], 2);
    assert!(
        mismatch.stderr.contains("evaluation set"),
        "{}",
        mismatch.stderr
    );
}

#[test]
fn the_champion_is_the_newest_version_the_base_reaches() {
    let (project, repo) = registry_project(
        "model:\n  kind: logistic_regression\n",
        "release:\n  name: penguins\n",
    );
    let first = repo.head().unwrap().peel_to_commit().unwrap().id();
    annotated(
        &repo,
        "penguins@v1.0.0",
        first,
        "penguins v1.0.0\n\nmlgate-tag-format: 1\nname: penguins\nversion: 1.0.0\nprimary-metric: accuracy\nmetric.accuracy: 0.97\nmanifest-sha256: 00\n",
    );
    project.write("notes.txt", "second");
    let second = commit_all(&repo, "second");
    lightweight(&repo, "penguins@v1.1.0", second);
    // Odd tags: not versions, a pre-release, another model, a tag by hand without a record.
    lightweight(&repo, "penguins@latest", second);
    lightweight(&repo, "penguins@v1.2.0-rc.1", second);
    lightweight(&repo, "penguins-old@v9.0.0", second);
    annotated(&repo, "penguins@v0.9.0", first, "made by hand\n");
    // A side branch with a higher version that main does not reach.
    let side_parent = repo.find_commit(second).unwrap();
    repo.branch("side", &side_parent, false).unwrap();
    repo.set_head("refs/heads/side").unwrap();
    project.write("notes.txt", "side");
    let side = commit_all(&repo, "side");
    annotated(&repo, "penguins@v2.0.0", side, "side\n");
    repo.set_head("refs/heads/main").unwrap();

    let run = expect(&project, &["champion", "--base", "main"], 0);
    assert!(
        run.stdout.contains("champion penguins@v1.1.0"),
        "{}",
        run.stdout
    );
    let champion = project.json(".mlgate/champion.json");
    assert_eq!(champion["tag"], "penguins@v1.1.0");
    assert_eq!(champion["version"], "1.1.0");
    assert_eq!(champion["commit"], second.to_string());
    assert_eq!(champion["source"], "recorded");
    let notes = champion["notes"].to_string();
    for expected in [
        "`penguins@latest` is not a version tag",
        "`penguins@v1.2.0-rc.1` is not a version tag",
        "`penguins@v1.1.0` is a lightweight tag",
        "`penguins@v0.9.0`: the tag message holds no mlgate record",
        "1 version tag(s) of `penguins` are not reachable from `main`",
    ] {
        assert!(notes.contains(expected), "{expected} not in {notes}");
    }
    assert!(!notes.contains("penguins-old"), "{notes}");

    let history = project.json(".mlgate/history.json");
    assert_eq!(history["schema_version"], 1);
    assert_eq!(history["name"], "penguins");
    assert_eq!(history["metric"], "accuracy");
    let versions = history["versions"].as_array().expect("versions");
    let listed: Vec<&str> = versions
        .iter()
        .map(|v| v["tag"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ["penguins@v0.9.0", "penguins@v1.0.0", "penguins@v1.1.0"]
    );
    assert_eq!(versions[1]["metrics"]["accuracy"], 0.97);
    assert_eq!(versions[1]["date"], "2026-11-20T10:00:00Z");
    assert_eq!(versions[1]["commit"], first.to_string());
    let keys: Vec<&String> = versions[1].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["commit", "date", "metrics", "tag", "version"]);

    // From the side branch, its own tag is the champion; a pull request's base comes from
    // `GITHUB_BASE_REF`.
    let side_run = expect(&project, &["champion", "--base", "side"], 0);
    assert!(
        side_run.stdout.contains("champion penguins@v2.0.0"),
        "{}",
        side_run.stdout
    );
    let from_env = mlgate_env(
        &project,
        &["champion"],
        &[("GITHUB_BASE_REF", Path::new("side"))],
    );
    assert!(
        from_env.stdout.contains("champion penguins@v2.0.0"),
        "{}{}",
        from_env.stdout,
        from_env.stderr
    );
}

#[test]
fn baseline_auto_rescores_a_verified_cached_champion_or_falls_back_to_recorded_metrics() {
    let (project, repo) = registry_project(
        "model:\n  kind: logistic_regression\n  seed: 1\n",
        "release:\n  name: penguins\n",
    );
    // No tag at all: the first model is judged by absolute bounds only.
    run_pipeline(&project);
    expect(&project, &["evaluate", "--baseline", "auto"], 0);
    let evaluation = project.json(".mlgate/evaluation.json");
    assert!(evaluation["champion"].is_null());
    assert!(evaluation["notes"][0]
        .as_str()
        .unwrap()
        .contains("no champion"));
    assert!(project.json(".mlgate/champion.json")["tag"].is_null());

    expect(&project, &["promote", "--local"], 0);
    let model = project.path().join(".mlgate/model");
    let cached = project.path().join("cache/penguins@v0.0.1");
    std::fs::create_dir_all(&cached).unwrap();
    for entry in std::fs::read_dir(&model).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), cached.join(entry.file_name())).unwrap();
    }
    write_config(
        &project,
        "model:\n  kind: logistic_regression\n  seed: 2\n",
        "release:\n  name: penguins\n",
    );
    commit_all(&repo, "candidate");
    expect(&project, &["train"], 0);

    // The cached champion is verified, copied and re-scored: paired intervals.
    expect(
        &project,
        &[
            "evaluate",
            "--baseline",
            "auto",
            "--cache",
            "cache",
            "--base",
            "main",
        ],
        0,
    );
    let evaluation = project.json(".mlgate/evaluation.json");
    assert_eq!(evaluation["champion"]["source"], "cache");
    assert_eq!(evaluation["champion"]["tag"], "penguins@v0.0.1");
    assert_eq!(evaluation["champion"]["rescored"], true);
    let accuracy = evaluation["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "accuracy")
        .unwrap();
    assert!(accuracy["ci_low"].is_number(), "{accuracy}");
    assert!(project
        .path()
        .join(".mlgate/champion/model.mlgate")
        .exists());
    assert_eq!(project.json(".mlgate/champion.json")["source"], "cache");
    expect(
        &project,
        &[
            "run",
            "--no-drift",
            "--baseline",
            "auto",
            "--cache",
            "cache",
        ],
        0,
    );
    assert_eq!(
        project.json(".mlgate/evaluation.json")["champion"]["source"],
        "cache"
    );

    // Without the cache: the recorded metrics, labelled, point values only.
    expect(&project, &["evaluate", "--baseline", "auto"], 0);
    let evaluation = project.json(".mlgate/evaluation.json");
    assert_eq!(evaluation["champion"]["source"], "recorded");
    assert_eq!(evaluation["champion"]["rescored"], false);
    assert!(evaluation["champion"]["note"]
        .as_str()
        .unwrap()
        .contains("not re-scored"));
    let rules = evaluation["rules"].to_string();
    assert!(rules.contains("point values"), "{rules}");
    assert!(!project.path().join(".mlgate/champion").exists());

    // A cache that holds another model under this version's name is an error.
    let mut bytes = std::fs::read(cached.join("model.mlgate")).unwrap();
    bytes.push(b' ');
    std::fs::write(cached.join("model.mlgate"), bytes).unwrap();
    let tampered = expect(
        &project,
        &["evaluate", "--baseline", "auto", "--cache", "cache"],
        2,
    );
    assert!(tampered.stderr.contains("sha256"), "{}", tampered.stderr);

    // `--cache` without `--baseline auto` is a usage error.
    expect(&project, &["evaluate", "--cache", "cache"], 2);
}

#[test]
fn commands_that_need_the_registry_name_say_so() {
    let (project, _repo) = registry_project("model:\n  kind: logistic_regression\n", "");
    let run = expect(&project, &["champion"], 2);
    assert!(run.stderr.contains("release"), "{}", run.stderr);
    let run = expect(&project, &["promote", "--local"], 2);
    assert!(run.stderr.contains("release"), "{}", run.stderr);
    // Through the API outside GitHub Actions: says how to promote locally instead.
    let run = expect(&project, &["promote"], 2);
    assert!(run.stderr.contains("--local"), "{}", run.stderr);
}
