//! `mlgate promote` through the GitHub API, end to end: the real binary, a real git repository
//! and the stand-in GitHub server (every request checked against GitHub's REST description),
//! with faults injected before and after writes. Whatever happens, the server ends with one tag,
//! one ref, one published release and one intact copy of each asset, and a re-run writes
//! nothing.

mod common;

use std::path::Path;
use std::time::Duration;

use common::github_server::{Fault, GithubServer, TOKEN};
use common::registry::{commit_all, registry_project};
use common::{Project, Run};
use serde_json::Value;

/// The create-release route.
const RELEASES: &str = "/repos/{owner}/{repo}/releases";
/// The upload route (on the uploads host).
const UPLOAD: &str = "/repos/{owner}/{repo}/releases/{release_id}/assets";
/// The update-release route (publishing).
const RELEASE: &str = "/repos/{owner}/{repo}/releases/{release_id}";
/// The create-ref route.
const REFS: &str = "/repos/{owner}/{repo}/git/refs";
/// The matching-refs route.
const MATCHING: &str = "/repos/{owner}/{repo}/git/matching-refs/{ref}";

/// A penguins project that has trained and evaluated, with a release name and a stage.
fn evaluated_project() -> Project {
    let (project, _repo) = registry_project(
        "model:\n  kind: logistic_regression\n  seed: 3\n",
        "release:\n  name: penguins\n  stage: prod\n",
    );
    let run = project.mlgate(&["run", "--no-drift"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    project
}

/// Runs `mlgate promote ARGS` as a push-to-main job would, against `server`.
fn promote(project: &Project, server: &GithubServer, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let outputs = project.path().join("outputs.txt").display().to_string();
    let mut vars = vec![
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_SERVER_URL", "https://github.example"),
        ("GITHUB_RUN_ID", "77"),
        ("GITHUB_OUTPUT", outputs.as_str()),
    ];
    vars.extend_from_slice(extra);
    let mut full = vec!["promote"];
    full.extend_from_slice(args);
    with_github(project, server, &full, &vars)
}

/// Runs `mlgate ARGS` in a GitHub Actions job on `Codertocat/Hello-World` served by `server`,
/// with extra variables, and checks that the token was never printed.
fn with_github(
    project: &Project,
    server: &GithubServer,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Run {
    let api = server.api_url();
    let mut vars = vec![
        ("GITHUB_REPOSITORY", "Codertocat/Hello-World"),
        ("GITHUB_API_URL", api.as_str()),
        ("GITHUB_TOKEN", TOKEN),
        ("MLGATE_GITHUB_TIMEOUT", "2"),
    ];
    vars.extend_from_slice(extra);
    let run = project.mlgate_env(args, &vars);
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the token was printed"
    );
    run
}

/// Requests that change the server's state.
fn writes(server: &GithubServer) -> usize {
    server
        .log()
        .iter()
        .filter(|l| l.method != "GET" && l.status < 500)
        .count()
}

/// The tags of the server's releases, in creation order.
fn release_tags(server: &GithubServer) -> Vec<String> {
    let state = server.state();
    state
        .releases
        .iter()
        .filter_map(|r| r["tag_name"].as_str().map(str::to_string))
        .collect()
}

/// The one release on the server.
fn only_release(server: &GithubServer) -> Value {
    let state = server.state();
    assert_eq!(state.releases.len(), 1, "{:#?}", state.releases);
    state.releases[0].clone()
}

/// The server ends with exactly the bundle: one ref per tag, one published release, one
/// intact copy of each asset in `.mlgate/release/`.
fn assert_converged(server: &GithubServer, project: &Project, tag: &str) {
    let release = only_release(server);
    assert_eq!(release["tag_name"], tag);
    assert_eq!(release["draft"], false);
    let state = server.state();
    let refs: Vec<&str> = state
        .refs
        .iter()
        .filter_map(|r| r["ref"].as_str())
        .collect();
    assert_eq!(
        refs.iter()
            .filter(|r| **r == format!("refs/tags/{tag}"))
            .count(),
        1
    );
    let dir = project.path().join(".mlgate/release");
    let mut local: Vec<String> = std::fs::read_dir(&dir)
        .expect("release dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    local.sort();
    let mut remote: Vec<String> = state
        .assets
        .iter()
        .map(|(_, a, _)| a["name"].as_str().unwrap_or_default().to_string())
        .collect();
    remote.sort();
    assert_eq!(remote, local, "one copy of each asset");
    for (_, asset, bytes) in &state.assets {
        let name = asset["name"].as_str().unwrap_or_default();
        assert_eq!(asset["state"], "uploaded", "{name}");
        assert_eq!(
            *bytes,
            std::fs::read(dir.join(name)).expect("asset"),
            "{name}"
        );
    }
}

/// The value of a `$GITHUB_OUTPUT` key (`name<<DELIMITER` blocks).
fn output(project: &Project, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(project.path().join("outputs.txt")).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with(&format!("{key}<<")))?;
    lines.get(at + 1).map(|l| l.to_string())
}

#[test]
fn promote_publishes_tag_release_and_assets_and_a_rerun_writes_nothing() {
    let project = evaluated_project();
    let server = GithubServer::start();
    let first = promote(&project, &server, &[], &[]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("promoted penguins@v0.0.1"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("assigned penguins#prod#1"),
        "{}",
        first.stdout
    );
    assert_converged(&server, &project, "penguins@v0.0.1");

    // The annotated tag carries the record; the stage tag is annotated too.
    {
        let state = server.state();
        let refs: Vec<&str> = state
            .refs
            .iter()
            .filter_map(|r| r["ref"].as_str())
            .collect();
        assert_eq!(
            refs,
            ["refs/tags/penguins@v0.0.1", "refs/tags/penguins#prod#1"]
        );
        assert!(state.refs.iter().all(|r| r["object"]["type"] == "tag"));
        let head = git2::Repository::open(project.path())
            .expect("repo")
            .head()
            .expect("head")
            .peel_to_commit()
            .expect("commit")
            .id()
            .to_string();
        let message = state.tags[0]["message"].as_str().unwrap_or_default();
        assert_eq!(state.tags[0]["object"]["sha"], head.as_str());
        assert!(
            message.starts_with("penguins v0.0.1: accuracy "),
            "{message}"
        );
        assert!(message.contains("\nmlgate-tag-format: 1\n"), "{message}");
        assert!(
            message
                .contains("run-url: https://github.example/Codertocat/Hello-World/actions/runs/77"),
            "{message}"
        );
    }
    let release = only_release(&server);
    assert_eq!(release["name"], "penguins v0.0.1");
    let body = release["body"].as_str().unwrap_or_default();
    assert!(body.starts_with("# Model card: penguins 0.0.1"), "{body}");
    assert_eq!(output(&project, "tag").as_deref(), Some("penguins@v0.0.1"));
    assert_eq!(output(&project, "version").as_deref(), Some("0.0.1"));
    assert_eq!(
        output(&project, "release_url"),
        release["html_url"].as_str().map(str::to_string)
    );
    // Drafts are created first and published last, after every asset.
    assert_eq!(server.count("POST", RELEASES), 1);
    assert_eq!(server.count("PATCH", RELEASE), 1);

    // The local repository never learnt the tags, yet a re-run finds them on the server.
    let before = writes(&server);
    let again = promote(&project, &server, &[], &[]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("already promoted as penguins@v0.0.1"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("its release is complete"),
        "{}",
        again.stdout
    );
    assert_eq!(writes(&server), before, "a re-run must not write");
    assert_converged(&server, &project, "penguins@v0.0.1");
}

#[test]
fn lost_answers_and_rate_limits_never_duplicate_anything() {
    let project = evaluated_project();
    let server = GithubServer::start();
    server.fault("GET", MATCHING, Fault::RateLimited { retry_after: 1 });
    server.fault("POST", REFS, Fault::StatusAfterWrite(502));
    server.fault("POST", RELEASES, Fault::StatusAfterWrite(502));
    server.fault("POST", UPLOAD, Fault::StatusAfterWrite(500));
    server.fault("POST", UPLOAD, Fault::SecondaryRateLimit { retry_after: 1 });
    // Past the 2-second client timeout: the upload lands but its answer never arrives.
    server.fault("POST", UPLOAD, Fault::Delay(Duration::from_secs(3)));
    server.fault("PATCH", RELEASE, Fault::Status(503));
    let run = promote(&project, &server, &[], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        server.pending_faults().is_empty(),
        "{:?}",
        server.pending_faults()
    );
    assert_converged(&server, &project, "penguins@v0.0.1");
    // The lost answers were looked up, not re-sent: one POST per object.
    assert_eq!(
        server.count("POST", RELEASES),
        1,
        "the draft was created once"
    );
    assert_eq!(
        server.count("POST", REFS),
        2,
        "version and stage refs, each once"
    );
}

#[test]
fn a_run_that_died_halfway_is_finished_by_the_next_without_duplicates() {
    let project = evaluated_project();
    let server = GithubServer::start();
    // No retries: the first upload's answer is lost and the run gives up, leaving a draft with
    // one asset behind.
    server.fault("POST", UPLOAD, Fault::StatusAfterWrite(500));
    let died = promote(&project, &server, &[], &[("MLGATE_GITHUB_MAX_WAIT", "0")]);
    assert_eq!(died.code, 3, "{}{}", died.stdout, died.stderr);
    assert!(server.pending_faults().is_empty());
    assert!(
        died.stderr
            .contains("could not publish the release of penguins@v0.0.1"),
        "{}",
        died.stderr
    );
    assert_eq!(only_release(&server)["draft"], true);
    assert_eq!(server.state().assets.len(), 1);

    // An interrupted upload of the second asset: GitHub keeps it in state `open`.
    {
        let mut state = server.state();
        let (release, mut asset, bytes) = state.assets[0].clone();
        asset["id"] = Value::from(9_999);
        asset["name"] = Value::from("manifest.json");
        asset["state"] = Value::from("open");
        asset["size"] = Value::from(3);
        state
            .assets
            .push((release, asset, bytes[..3.min(bytes.len())].to_vec()));
    }
    let finished = promote(&project, &server, &[], &[]);
    assert_eq!(finished.code, 0, "{}{}", finished.stdout, finished.stderr);
    assert!(
        finished
            .stdout
            .contains("replaced the incomplete or different asset `manifest.json`"),
        "{}",
        finished.stdout
    );
    assert!(finished.stdout.contains("published"), "{}", finished.stdout);
    assert_converged(&server, &project, "penguins@v0.0.1");
    let before = writes(&server);
    assert_eq!(promote(&project, &server, &[], &[]).code, 0);
    assert_eq!(writes(&server), before);
}

#[test]
fn a_version_taken_by_another_checkout_is_never_reused() {
    let server = GithubServer::start();
    let first = evaluated_project();
    assert_eq!(promote(&first, &server, &[], &[]).code, 0);
    // Another clone of the project, on another commit, that never fetched the tags.
    let second = evaluated_project();
    second.write("NOTES.md", "another commit\n");
    let repo = git2::Repository::open(second.path()).expect("repo");
    commit_all(&repo, "second");
    let run = promote(&second, &server, &[], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("promoted penguins@v0.0.2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("assigned penguins#prod#2"),
        "{}",
        run.stdout
    );
    let tags = release_tags(&server);
    assert_eq!(tags, ["penguins@v0.0.1", "penguins@v0.0.2"]);
}

#[test]
fn a_race_lost_on_the_tag_ref_picks_the_next_version() {
    let project = evaluated_project();
    let server = GithubServer::start();
    let other = "c0ffee".repeat(6) + "c0ff";
    // Between our look-up and our ref, another promotion takes v0.0.1 on another commit.
    server.fault("POST", REFS, Fault::CompetingRef(other.clone()));
    let run = promote(&project, &server, &[], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(server.pending_faults().is_empty());
    assert!(
        run.stderr.contains("another promotion took this version"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("promoted penguins@v0.0.2"),
        "{}",
        run.stdout
    );
    let releases = release_tags(&server);
    let state = server.state();
    assert_eq!(
        releases,
        ["penguins@v0.0.2"],
        "no release for the lost version"
    );
    let refs: Vec<&str> = state
        .refs
        .iter()
        .filter_map(|r| r["ref"].as_str())
        .collect();
    assert_eq!(
        refs,
        [
            "refs/tags/penguins@v0.0.1",
            "refs/tags/penguins@v0.0.2",
            "refs/tags/penguins#prod#1"
        ]
    );
}

#[test]
fn a_failed_gate_or_a_read_only_token_writes_nothing() {
    let project = evaluated_project();
    let server = GithubServer::start();
    // A gate the model cannot pass.
    let config = project.read("mlgate.yml").replace("min: 0.8", "min: 0.999");
    project.write("mlgate.yml", config);
    assert_eq!(project.mlgate(&["evaluate"]).code, 1);
    let refused = promote(&project, &server, &[], &[]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("not promoting"),
        "{}",
        refused.stderr
    );
    assert_eq!(writes(&server), 0);

    server.set_read_only(TOKEN);
    let read_only = promote(&project, &server, &["--force"], &[]);
    assert_eq!(
        read_only.code, 3,
        "{}{}",
        read_only.stdout, read_only.stderr
    );
    assert!(read_only.stderr.contains("403"), "{}", read_only.stderr);
    let state = server.state();
    assert!(state.tags.is_empty() && state.refs.is_empty() && state.releases.is_empty());
}

#[test]
fn without_a_token_it_says_what_to_pass() {
    let project = evaluated_project();
    let run = project.mlgate_env(
        &["promote"],
        &[("GITHUB_REPOSITORY", "o/r"), ("GITHUB_EVENT_NAME", "push")],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no GitHub token"), "{}", run.stderr);
    assert!(Path::new(&project.path().join(".mlgate/model")).exists());
}

/// Mirrors the server's annotated tag into the local repository, as a checkout with
/// `fetch-depth: 0` would have it.
fn fetch_tag(project: &Project, server: &GithubServer, name: &str) {
    let message = {
        let state = server.state();
        let tag = state.tags.iter().find(|t| t["tag"] == name).expect("tag");
        tag["message"].as_str().unwrap_or_default().to_string()
    };
    let repo = git2::Repository::open(project.path()).expect("repo");
    let head = repo.head().expect("head").peel_to_commit().expect("commit");
    let signature = git2::Signature::now("github-actions[bot]", "bot@example.com").expect("sig");
    repo.tag(name, head.as_object(), &signature, &message, false)
        .expect("tag");
}

#[test]
fn the_champion_is_downloaded_from_its_release_and_verified() {
    let project = evaluated_project();
    let server = GithubServer::start();
    assert_eq!(promote(&project, &server, &[], &[]).code, 0);
    fetch_tag(&project, &server, "penguins@v0.0.1");

    let found = in_pull_request(&project, &server, &["champion", "--download"]);
    assert_eq!(found.code, 0, "{}{}", found.stdout, found.stderr);
    assert!(
        found.stdout.contains("model from the release, verified"),
        "{}",
        found.stdout
    );
    let champion = project.json(".mlgate/champion.json");
    assert_eq!(champion["source"], "release");
    assert!(project
        .path()
        .join(".mlgate/cache/penguins@v0.0.1/manifest.json")
        .is_file());

    // The downloaded champion is re-scored on this evaluation set (a second run finds it in
    // the cache; a fresh runner downloads it again).
    std::fs::remove_dir_all(project.path().join(".mlgate/cache")).expect("clear cache");
    let evaluated = in_pull_request(
        &project,
        &server,
        &["evaluate", "--baseline", "auto", "--download"],
    );
    assert_eq!(
        evaluated.code, 0,
        "{}{}",
        evaluated.stdout, evaluated.stderr
    );
    let evaluation = project.json(".mlgate/evaluation.json");
    assert_eq!(evaluation["champion"]["source"], "release");
    assert_eq!(evaluation["champion"]["rescored"], true);

    // A model asset that no longer matches `SHA256SUMS` stops the run.
    {
        let mut state = server.state();
        let model = state
            .assets
            .iter_mut()
            .find(|(_, a, _)| a["name"] == "model.mlgate")
            .expect("model asset");
        model.2[0] ^= 1;
    }
    std::fs::remove_dir_all(project.path().join(".mlgate/cache")).expect("clear cache");
    let tampered = in_pull_request(&project, &server, &["champion", "--download"]);
    assert_eq!(tampered.code, 2, "{}{}", tampered.stdout, tampered.stderr);
    assert!(
        tampered.stderr.contains("SHA256SUMS"),
        "{}",
        tampered.stderr
    );
    assert!(!project
        .path()
        .join(".mlgate/cache/penguins@v0.0.1")
        .exists());

    // No release at all: the recorded metrics, with a note saying why.
    server.state().releases.clear();
    let recorded = in_pull_request(&project, &server, &["champion", "--download"]);
    assert_eq!(recorded.code, 0, "{}{}", recorded.stdout, recorded.stderr);
    assert!(
        recorded.stdout.contains("recorded metrics only"),
        "{}",
        recorded.stdout
    );
    assert!(
        recorded.stdout.contains("no published release"),
        "{}",
        recorded.stdout
    );
}

/// Runs mlgate in a pull-request job against `server`.
fn in_pull_request(project: &Project, server: &GithubServer, args: &[&str]) -> Run {
    with_github(
        project,
        server,
        args,
        &[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_BASE_REF", "main"),
        ],
    )
}
