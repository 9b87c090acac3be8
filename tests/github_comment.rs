//! `mlgate comment` end to end: the real binary against the stand-in GitHub server.

mod common;

use std::time::{Duration, Instant};

use common::github_server::{Fault, GithubServer, Identity, BOT, COMMENTS, TOKEN};
use common::{Project, Run};
use serde_json::json;

/// The head sha of the pull_request fixture (PR #2).
const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
/// The PR number of the fixture.
const PR: u64 = 2;
/// The marker of the default header.
const MARKER: &str = "<!-- mlgate:sticky header=\"default\" -->";

/// A project with a report and the pull_request event, and a server that knows PR #2.
struct Setup {
    /// The scratch directory.
    project: Project,
    /// The fake GitHub.
    server: GithubServer,
    /// Extra variables for the next runs.
    extra: Vec<(String, String)>,
}

impl Setup {
    fn new() -> Setup {
        let project = Project::new();
        project.write(
            ".mlgate/report.md",
            "## mlgate\n\n| metric | value |\n| --- | --- |\n| f1 | 0.91 |\n",
        );
        let event = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/github/webhook-pull_request.opened.example.json"),
        )
        .expect("fixture");
        project.write("event.json", event);
        let server = GithubServer::start();
        server.add_pull(PR, HEAD);
        Setup {
            project,
            server,
            extra: Vec::new(),
        }
    }

    /// Adds or replaces a variable.
    fn var(&mut self, name: &str, value: &str) -> &mut Setup {
        self.extra.retain(|(n, _)| n != name);
        self.extra.push((name.to_string(), value.to_string()));
        self
    }

    /// Runs `mlgate comment ARGS` as a pull_request job would.
    fn comment(&self, args: &[&str]) -> Run {
        let api = self.server.api_url();
        let event = self.project.path().join("event.json").display().to_string();
        let mut vars: Vec<(String, String)> = vec![
            ("GITHUB_REPOSITORY".into(), "Codertocat/Hello-World".into()),
            ("GITHUB_API_URL".into(), api),
            ("GITHUB_TOKEN".into(), TOKEN.into()),
            ("GITHUB_EVENT_NAME".into(), "pull_request".into()),
            ("GITHUB_EVENT_PATH".into(), event),
            ("GITHUB_SHA".into(), "f".repeat(40)),
            ("MLGATE_GITHUB_TIMEOUT".into(), "1".into()),
        ];
        for (name, value) in &self.extra {
            vars.retain(|(n, _)| n != name);
            vars.push((name.clone(), value.clone()));
        }
        let borrowed: Vec<(&str, &str)> =
            vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let mut full = vec!["comment"];
        full.extend_from_slice(args);
        let run = self.project.mlgate_env(&full, &borrowed);
        // The only line allowed to carry the token is the runner's mask command.
        let mask = format!("::add-mask::{TOKEN}");
        let leaked = run
            .stdout
            .lines()
            .chain(run.stderr.lines())
            .any(|line| line.contains(TOKEN) && line != mask);
        assert!(!leaked, "the token leaked:\n{}\n{}", run.stdout, run.stderr);
        run
    }

    /// Our comments (by the bot, with the default marker).
    fn ours(&self) -> Vec<common::github_server::Comment> {
        self.server
            .comments(PR)
            .into_iter()
            .filter(|c| c.author == BOT && c.body.starts_with(MARKER))
            .collect()
    }
}

/// Asserts success and returns stdout.
fn ok(run: &Run) -> &str {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    &run.stdout
}

#[test]
fn first_run_creates_then_updates_then_leaves_alone() {
    let setup = Setup::new();
    assert!(ok(&setup.comment(&[])).contains("sticky comment created on pull request #2"));
    let ours = setup.ours();
    assert_eq!(ours.len(), 1);
    assert!(ours[0].body.starts_with(&format!("{MARKER}\n## mlgate")));

    setup
        .project
        .write(".mlgate/report.md", "## mlgate\n\nf1 0.93\n");
    assert!(ok(&setup.comment(&[])).contains("sticky comment updated"));
    let ours = setup.ours();
    assert_eq!(ours.len(), 1);
    assert!(ours[0].body.ends_with("f1 0.93\n"));
    assert_eq!(
        setup.server.count("PATCH", common::github_server::COMMENT),
        1
    );

    assert!(ok(&setup.comment(&[])).contains("sticky comment unchanged"));
    assert_eq!(setup.server.count("POST", COMMENTS), 1);
}

#[test]
fn our_comment_on_page_three_is_found() {
    let setup = Setup::new();
    for i in 0..250 {
        setup
            .server
            .seed_comment(PR, "someone", &format!("comment {i}"));
    }
    let id = setup
        .server
        .seed_comment(PR, BOT, &format!("{MARKER}\nold report"));
    assert!(ok(&setup.comment(&[])).contains("updated"));
    let ours = setup.ours();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].id, id);
    assert_eq!(setup.server.count("POST", COMMENTS), 0);
    assert_eq!(setup.server.count("GET", COMMENTS), 3, "three pages of 100");
}

#[test]
fn a_marker_in_someone_elses_comment_is_not_touched() {
    let setup = Setup::new();
    let theirs = format!("{MARKER}\nI copied your marker");
    let id = setup.server.seed_comment(PR, "mallory", &theirs);
    ok(&setup.comment(&[]));
    let all = setup.server.comments(PR);
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().find(|c| c.id == id).unwrap().body, theirs);
    assert_eq!(setup.ours().len(), 1);
}

#[test]
fn two_headers_make_two_comments_and_duplicates_are_reported_or_deleted() {
    let setup = Setup::new();
    ok(&setup.comment(&[]));
    ok(&setup.comment(&["--header", "gpu"]));
    ok(&setup.comment(&["--header", "gpu"]));
    let all = setup.server.comments(PR);
    assert_eq!(all.len(), 2);
    assert!(all
        .iter()
        .any(|c| c.body.starts_with("<!-- mlgate:sticky header=\"gpu\" -->")));

    setup
        .server
        .seed_comment(PR, BOT, &format!("{MARKER}\nstale twin"));
    let run = setup.comment(&[]);
    assert!(
        ok(&run).contains("1 older duplicate(s) of this comment left alone"),
        "{}",
        run.stdout
    );
    assert_eq!(setup.ours().len(), 2);
    let run = setup.comment(&["--delete-duplicates"]);
    assert!(ok(&run).contains("deleted"));
    assert_eq!(setup.ours().len(), 1);

    let bad = setup.comment(&["--header", "x-->"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn a_post_answered_502_after_the_write_leaves_exactly_one_comment() {
    let setup = Setup::new();
    setup
        .server
        .fault("POST", COMMENTS, Fault::StatusAfterWrite(502));
    ok(&setup.comment(&[]));
    assert_eq!(setup.ours().len(), 1);
    assert_eq!(setup.server.count("POST", COMMENTS), 1);
}

#[test]
fn rate_limits_are_waited_out() {
    let setup = Setup::new();
    setup
        .server
        .fault("GET", COMMENTS, Fault::RateLimited { retry_after: 1 });
    setup.server.fault(
        "POST",
        COMMENTS,
        Fault::SecondaryRateLimit { retry_after: 1 },
    );
    let started = Instant::now();
    ok(&setup.comment(&[]));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(setup.ours().len(), 1);
    // The rate-limited POST was not applied; the lookup found nothing, so it was sent again.
    assert_eq!(setup.server.count("POST", COMMENTS), 2);
}

#[test]
fn timeouts_are_retried_without_duplicating_the_comment() {
    let setup = Setup::new();
    setup
        .server
        .fault("GET", COMMENTS, Fault::Delay(Duration::from_secs(3)));
    setup
        .server
        .fault("POST", COMMENTS, Fault::Delay(Duration::from_secs(3)));
    ok(&setup.comment(&[]));
    assert_eq!(setup.ours().len(), 1);
    assert_eq!(setup.server.count("POST", COMMENTS), 1);
}

#[test]
fn a_read_only_token_writes_the_job_summary_warns_and_succeeds() {
    let mut setup = Setup::new();
    setup.server.set_read_only(TOKEN);
    let summary = setup
        .project
        .path()
        .join("summary.md")
        .display()
        .to_string();
    setup
        .var("GITHUB_STEP_SUMMARY", &summary)
        .var("GITHUB_ACTIONS", "true");
    let run = setup.comment(&["--check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("::warning title=mlgate comment::"),
        "{}",
        run.stdout
    );
    assert!(setup.project.read("summary.md").contains("| f1 | 0.91 |"));
    assert!(setup.server.comments(PR).is_empty());
    assert!(setup.server.state().check_runs.is_empty());
}

#[test]
fn the_token_is_masked_in_actions_and_never_printed_otherwise() {
    let mut setup = Setup::new();
    setup.var("GITHUB_ACTIONS", "true");
    // `comment()` asserts the token is absent, so call the binary directly here.
    let api = setup.server.api_url();
    let event = setup
        .project
        .path()
        .join("event.json")
        .display()
        .to_string();
    let run = setup.project.mlgate_env(
        &["comment"],
        &[
            ("GITHUB_REPOSITORY", "Codertocat/Hello-World"),
            ("GITHUB_API_URL", &api),
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", &event),
            ("GITHUB_ACTIONS", "true"),
        ],
    );
    ok(&run);
    let lines: Vec<&str> = run.stdout.lines().filter(|l| l.contains(TOKEN)).collect();
    assert_eq!(lines, vec![format!("::add-mask::{TOKEN}")]);

    // A failing GitHub: exit 3, one clear first line, no token anywhere (checked by `comment`).
    setup.extra.clear();
    setup.var("MLGATE_GITHUB_MAX_WAIT", "1");
    for _ in 0..3 {
        setup.server.fault("GET", COMMENTS, Fault::Status(500));
    }
    let run = setup.comment(&["--author", BOT]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: could not post the sticky comment on pull request #2\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "GitHub answered 500 to `GET /api/v3/repos/Codertocat/Hello-World/issues/2/comments`"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn the_author_follows_the_token() {
    let setup = Setup::new();
    setup
        .server
        .add_token("ghp_personal", Identity::User("octocat".into()));
    let mut setup = setup;
    setup.var("GITHUB_TOKEN", "ghp_personal");
    ok(&setup.comment(&[]));
    ok(&setup.comment(&[]));
    let all = setup.server.comments(PR);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].author, "octocat");
}

#[test]
fn long_reports_are_cut_to_githubs_limit() {
    let setup = Setup::new();
    let long = "| row | value |\n".repeat(6_000);
    setup.project.write("big.md", &long);
    ok(&setup.comment(&["--body", "big.md"]));
    let ours = setup.ours();
    assert_eq!(ours.len(), 1);
    assert!(ours[0].body.chars().count() <= 65_536);
    assert!(ours[0]
        .body
        .contains("The report was cut to fit GitHub's size limit"));
}

/// A workflow_run event for a run that built `sha`.
fn workflow_run_event(sha: &str) -> String {
    json!({
        "action": "completed",
        "repository": {"full_name": "Codertocat/Hello-World"},
        "workflow_run": {"id": 42, "event": "pull_request", "head_sha": sha,
                         "head_repository": {"full_name": "fork/Hello-World"}, "pull_requests": []}
    })
    .to_string()
}

#[test]
fn fork_flow_posts_from_the_artifact_only_for_the_built_head() {
    let mut setup = Setup::new();
    // The pull_request job: writes the artifact, calls nothing.
    let run = setup.comment(&["--write-pr-info", "artifact"]);
    ok(&run);
    assert!(setup.server.log().is_empty());
    assert_eq!(setup.project.json("artifact/pr.json")["pr_number"], 2);

    // The workflow_run job, for the same head: posts.
    setup
        .project
        .write("run-event.json", workflow_run_event(HEAD));
    let event = setup
        .project
        .path()
        .join("run-event.json")
        .display()
        .to_string();
    setup
        .var("GITHUB_EVENT_NAME", "workflow_run")
        .var("GITHUB_EVENT_PATH", &event);
    ok(&setup.comment(&["--from-artifact", "artifact"]));
    assert_eq!(setup.ours().len(), 1);

    // The PR moved on (or the artifact lies): refused, nothing posted.
    setup.server.add_pull(PR, &"a".repeat(40));
    setup.project.write(".mlgate/report.md", "changed");
    let run = setup.comment(&["--from-artifact", "artifact"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("refusing to post"), "{}", run.stderr);
    assert!(setup.ours()[0].body.contains("| f1 | 0.91 |"));

    // An artifact claiming another commit than the run built: refused before any call.
    setup
        .project
        .write("run-event.json", workflow_run_event(&"b".repeat(40)));
    let before = setup.server.log().len();
    let run = setup.comment(&["--from-artifact", "artifact"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("the triggering run built"),
        "{}",
        run.stderr
    );
    assert_eq!(setup.server.log().len(), before);
}

#[test]
fn check_run_is_created_once_with_batched_annotations() {
    let setup = Setup::new();
    let checks: Vec<_> = (0..60)
        .map(|i| json!({"check": "range", "column": format!("c{i}"), "severity": "error", "passed": false,
                        "failing_rows": 1, "message": format!("c{i} out of range"), "examples": [{"row": i + 1, "value": "x"}]}))
        .collect();
    setup.project.write(
        ".mlgate/validation.json",
        json!({"status": "failed", "errors": 60, "data": {"file": "data/d.csv", "format": "csv"}, "checks": checks}).to_string(),
    );
    let run = setup.comment(&["--check"]);
    assert!(ok(&run).contains("check run `mlgate` created on ec26c3e57ca3a959ca5aad62de7213c562f8c821: failure (60 annotations sent)"), "{}", run.stdout);
    {
        let state = setup.server.state();
        assert_eq!(state.check_runs.len(), 1);
        assert_eq!(state.check_runs[0]["conclusion"], "failure");
        assert_eq!(state.check_runs[0]["head_sha"], HEAD);
        let id = state.check_runs[0]["id"].as_u64().unwrap();
        assert_eq!(state.annotations[&id].len(), 60);
    }
    assert_eq!(
        setup
            .server
            .count("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
        2
    );

    let run = rerun_updates_the_one_check_run(&setup);
    assert_eq!(
        setup.server.state().annotations[&run["id"].as_u64().unwrap()].len(),
        60,
        "a re-run adds no annotations"
    );
}

/// Runs `comment --check` again and returns the one check run, which it must have updated.
fn rerun_updates_the_one_check_run(setup: &Setup) -> serde_json::Value {
    let run = setup.comment(&["--check"]);
    assert!(
        ok(&run).contains("check run `mlgate` updated"),
        "{}",
        run.stdout
    );
    let state = setup.server.state();
    assert_eq!(state.check_runs.len(), 1);
    state.check_runs[0].clone()
}

#[test]
fn a_refused_check_run_update_is_an_outside_service_failure() {
    let setup = Setup::new();
    setup.project.write(
        ".mlgate/evaluation.json",
        json!({"verdict": "inconclusive", "passed": true}).to_string(),
    );
    setup.server.fault(
        "PATCH",
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        Fault::Unprocessable("Invalid request"),
    );
    let run = setup.comment(&["--check"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "error: could not create or update the check run on {HEAD}\n"
        )),
        "{}",
        run.stderr
    );
    // The comment went up before the check run failed; the re-run completes the check run.
    assert_eq!(setup.ours().len(), 1);
    assert_eq!(
        rerun_updates_the_one_check_run(&setup)["conclusion"],
        "neutral"
    );
}
