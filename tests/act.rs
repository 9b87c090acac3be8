//! The actions end to end under act (host mode, no Docker): a repository written by
//! `mlgate init`, this checkout's actions as `mlgate/mlgate@v1`, the installer downloading the
//! binary under test from a release layout on 127.0.0.1, and the stand-in GitHub server.
//!
//! 1. a push to main runs `mlgate-release.yml` unchanged: tag, release and every asset;
//! 2. the same push again: no write call;
//! 3. a pull request that drops the informative features, through the one-line `uses: mlgate/mlgate@v1`
//!    (stage `auto`): the champion is downloaded from its release, the job fails, and the
//!    sticky comment says which rule failed;
//! 4. the pull request again: the same comment, updated, no duplicate.
//!
//! 5. a pull request from a fork through `mlgate-pr.yml` unchanged: no write call; then
//!    `mlgate-comment.yml` unchanged, on `workflow_run`, posts the comment (twice: one comment),
//!    and refuses an artifact whose pull request has moved on.
//!
//! `actions/upload-artifact` and `actions/download-artifact`, which act would fetch from
//! github.com (unreachable here), are replaced by stand-ins that keep artifacts in a directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::github_server::{GithubServer, TOKEN};
use common::registry::commit_all;
use common::release_server::{FileServer, Release};
use common::Project;

/// act, when installed (required in CI).
fn act() -> Option<PathBuf> {
    common::ci_tool("act", "MLGATE_ACT", "MLGATE_REQUIRE_ACT")
}

/// A copy of what the action needs from this checkout (not `target/`).
fn action_copy(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dest = dir.join("mlgate-action");
    std::fs::create_dir_all(&dest).expect("mkdir");
    for part in ["action.yml", "actions", "scripts", "dist"] {
        let status = Command::new("cp")
            .arg("-R")
            .arg(root.join(part))
            .arg(dest.join(part))
            .status()
            .expect("cp");
        assert!(status.success(), "{part}");
    }
    dest
}

/// Serialises the tests: act keeps one tool cache for every run.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `actions/upload-artifact` and `actions/download-artifact` at the SHAs the templates pin.
const UPLOAD: &str = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02";
/// See [`UPLOAD`].
const DOWNLOAD: &str = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093";

/// Stand-ins for GitHub's artifact actions, which act would fetch from github.com: they keep
/// artifacts by name in `$ARTIFACT_STORE`, as GitHub keeps them by run, so the template's
/// pull-request and comment workflows run unchanged.
fn artifact_stand_ins(dir: &Path) -> PathBuf {
    let root = dir.join("stand-ins");
    let upload = r#"name: upload-artifact stand-in
description: keeps files in $ARTIFACT_STORE/NAME
inputs:
  name: { description: name, required: true }
  path: { description: paths, required: true }
  if-no-files-found: { description: policy, default: warn }
runs:
  using: composite
  steps:
    - shell: bash
      env: { NAME: "${{ inputs.name }}", PATHS: "${{ inputs.path }}" }
      run: |
        mkdir -p "$ARTIFACT_STORE/$NAME"
        while IFS= read -r p; do
          if [ -d "$p" ]; then cp -R "$p/." "$ARTIFACT_STORE/$NAME/"
          elif [ -f "$p" ]; then cp "$p" "$ARTIFACT_STORE/$NAME/"
          fi
        done <<< "$PATHS"
"#;
    let download = r#"name: download-artifact stand-in
description: copies $ARTIFACT_STORE/NAME
inputs:
  name: { description: name, required: true }
  path: { description: where, required: true }
  run-id: { description: run, default: "" }
  github-token: { description: token, default: "" }
runs:
  using: composite
  steps:
    - shell: bash
      env: { NAME: "${{ inputs.name }}", DEST: "${{ inputs.path }}" }
      run: |
        mkdir -p "$DEST"
        cp -R "$ARTIFACT_STORE/$NAME/." "$DEST/"
"#;
    for (name, text) in [("upload", upload), ("download", download)] {
        std::fs::create_dir_all(root.join(name)).expect("mkdir");
        std::fs::write(root.join(name).join("action.yml"), text).expect("stand-in");
    }
    root
}

/// Everything one scenario needs.
struct Setup {
    /// The fixture repository.
    project: Project,
    /// Scratch space: the action copy, events, the checksum file.
    scratch: tempfile::TempDir,
    /// The fake GitHub.
    server: GithubServer,
    /// The release downloads.
    downloads: FileServer,
    /// act.
    act: PathBuf,
    /// The action copy.
    action: PathBuf,
    /// The pinned sums.
    sums: PathBuf,
    /// The stand-in artifact actions.
    stand_ins: PathBuf,
    /// Where they keep artifacts.
    artifacts: PathBuf,
}

impl Setup {
    fn new(act: PathBuf) -> Setup {
        // act's own tool cache outlives runs: start each test from an empty one, so the
        // installer downloads and verifies every time.
        if let Some(home) = std::env::var_os("HOME") {
            let _ = std::fs::remove_dir_all(Path::new(&home).join(".cache/act/tool_cache/mlgate"));
        }
        let project = Project::new();
        project.with_penguins();
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        let repo = git2::Repository::init_opts(project.path(), &options).expect("git init");
        let init = project.mlgate(&[
            "init",
            "--data",
            "data/penguins.csv",
            "--target",
            "species",
            "--name",
            "penguins",
        ]);
        assert_eq!(init.code, 0, "{}", init.stderr);
        project.write(
            ".github/workflows/pr.yml",
            "name: pr\non: pull_request\npermissions:\n  contents: read\n  pull-requests: write\njobs:\n  mlgate:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n        with:\n          fetch-depth: 0\n          persist-credentials: false\n      - uses: mlgate/mlgate@v1\n",
        );
        project.write(".gitignore", ".mlgate/\n");
        commit_all(&repo, "mlgate init");
        let scratch = tempfile::tempdir().expect("scratch");
        let action = action_copy(scratch.path());
        let release = Release::shared();
        let sums = scratch.path().join("SHA256SUMS");
        std::fs::write(
            &sums,
            format!("{}  {}\n", release.sha256, release.archive_name),
        )
        .expect("sums");
        let stand_ins = artifact_stand_ins(scratch.path());
        let artifacts = scratch.path().join("artifacts");
        Setup {
            stand_ins,
            artifacts,
            project,
            scratch,
            server: GithubServer::start(),
            downloads: release.server(),
            act,
            action,
            sums,
        }
    }

    /// Runs `act EVENT -W WORKFLOW` with `event` as the payload.
    fn act(&self, event: &str, workflow: &str, payload: &serde_json::Value) -> Output {
        let event_path = self.scratch.path().join(format!("{event}.json"));
        std::fs::write(&event_path, payload.to_string()).expect("event");
        let env = |name: &str, value: &str| format!("{name}={value}");
        let output = Command::new(&self.act)
            .current_dir(self.project.path())
            .arg(event)
            .args(["-W", workflow, "-e"])
            .arg(&event_path)
            .args(["-P", "ubuntu-latest=-self-hosted", "--no-cache-server"])
            .arg("--local-repository")
            .arg(format!("mlgate/mlgate@v1={}", self.action.display()))
            .arg("--local-repository")
            .arg(format!(
                "{UPLOAD}={}",
                self.stand_ins.join("upload").display()
            ))
            .arg("--local-repository")
            .arg(format!(
                "{DOWNLOAD}={}",
                self.stand_ins.join("download").display()
            ))
            .args([
                "--env",
                &env("ARTIFACT_STORE", &self.artifacts.display().to_string()),
            ])
            .args(["--env", &env("GITHUB_API_URL", &self.server.api_url())])
            .args(["--env", &env("GITHUB_REPOSITORY", "Codertocat/Hello-World")])
            .args(["--env", &env("MLGATE_DOWNLOAD_BASE", &self.downloads.base)])
            .args([
                "--env",
                &env("MLGATE_CHECKSUMS_FILE", &self.sums.display().to_string()),
            ])
            .args(["--env", "MLGATE_GITHUB_TIMEOUT=5"])
            .args(["-s", &env("GITHUB_TOKEN", TOKEN)])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run act");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for line in text.lines() {
            assert!(
                !line.contains(TOKEN) || line.contains("::add-mask::"),
                "token printed: {line}"
            );
        }
        output
    }

    /// The head commit of the fixture.
    fn head(&self) -> String {
        let repo = git2::Repository::open(self.project.path()).expect("repo");
        let head = repo.head().expect("head").peel_to_commit().expect("commit");
        head.id().to_string()
    }

    /// Requests that changed the server's state.
    fn writes(&self) -> usize {
        self.server
            .log()
            .iter()
            .filter(|l| l.method != "GET" && l.status < 500)
            .count()
    }
}

/// The repository of these tests.
const REPO: &str = "Codertocat/Hello-World";

/// A repository in an event payload; a fork when it is not [`REPO`].
fn repo_json(full_name: &str) -> serde_json::Value {
    serde_json::json!({"full_name": full_name, "fork": full_name != REPO})
}

/// A `pull_request` payload for PR #2 from `head_repo`'s `head_ref` at `head` onto `main` at
/// `base`.
fn pull_request_event(
    head_ref: &str,
    head: &str,
    base: &str,
    head_repo: &str,
) -> serde_json::Value {
    serde_json::json!({
        "number": 2,
        "pull_request": {
            "number": 2,
            "head": {"ref": head_ref, "sha": head, "repo": repo_json(head_repo)},
            "base": {"ref": "main", "sha": base, "repo": repo_json(REPO)},
        },
        "repository": repo_json(REPO),
    })
}

/// act's combined output, for assertion messages.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_actions_release_on_main_and_gate_a_degrading_pull_request_under_act() {
    let Some(act) = act() else { return };
    // act's tool cache is shared: one act run at a time.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new(act);
    let main = setup.head();
    let push = serde_json::json!({
        "ref": "refs/heads/main",
        "after": main,
        "repository": {"full_name": "Codertocat/Hello-World", "default_branch": "main"},
    });

    // 1. Push to main: the release workflow, unchanged from `mlgate init`.
    let released = setup.act("push", ".github/workflows/mlgate-release.yml", &push);
    assert!(released.status.success(), "{}", text(&released));
    {
        let state = setup.server.state();
        assert_eq!(state.releases.len(), 1, "{}", text(&released));
        assert_eq!(state.releases[0]["tag_name"], "penguins@v0.0.1");
        assert_eq!(state.releases[0]["draft"], false);
        let names: Vec<&str> = state
            .assets
            .iter()
            .filter_map(|(_, a, _)| a["name"].as_str())
            .collect();
        for asset in [
            "model.mlgate",
            "manifest.json",
            "model_card.md",
            "SHA256SUMS",
        ] {
            assert!(names.contains(&asset), "{asset} missing from {names:?}");
        }
    }
    assert!(
        setup.downloads.requests() >= 1,
        "the installer downloaded the release"
    );

    // 2. The same push again: nothing changes on the server.
    let before = setup.writes();
    let again = setup.act("push", ".github/workflows/mlgate-release.yml", &push);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        setup.writes(),
        before,
        "a re-run must not write\n{}",
        text(&again)
    );

    // The pull request's checkout has the tag, as `fetch-depth: 0` gives it.
    let message = {
        let state = setup.server.state();
        state.tags[0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let repo = git2::Repository::open(setup.project.path()).expect("repo");
    let head = repo.head().expect("head").peel_to_commit().expect("commit");
    let tagger = git2::Signature::now("github-actions[bot]", "bot@example.com").expect("sig");
    repo.tag(
        "penguins@v0.0.1",
        head.as_object(),
        &tagger,
        &message,
        false,
    )
    .expect("tag");

    // 3. A pull request that drops the informative measurements from the model's features.
    repo.branch("degrade", &head, false).expect("branch");
    repo.set_head("refs/heads/degrade").expect("checkout");
    let config = setup.project.read("mlgate.yml").replace(
        "  seed: 42\n",
        "  seed: 42\n  exclude: [bill_length_mm, bill_depth_mm, flipper_length_mm]\n",
    );
    setup.project.write("mlgate.yml", config);
    commit_all(&repo, "fewer features");
    let pr_head = setup.head();
    setup.server.add_pull(2, &pr_head);
    let pull = pull_request_event("degrade", &pr_head, &main, REPO);
    for attempt in 1..=2 {
        let gated = setup.act("pull_request", ".github/workflows/pr.yml", &pull);
        assert!(
            !gated.status.success(),
            "attempt {attempt}: the gate must fail the job\n{}",
            text(&gated)
        );
        let comments = setup.server.comments(2);
        assert_eq!(
            comments.len(),
            1,
            "attempt {attempt}: one sticky comment\n{}",
            text(&gated)
        );
        let body = &comments[0].body;
        assert!(body.contains("f1_macro"), "{body}");
        assert!(body.to_lowercase().contains("fail"), "{body}");
        // Which rule failed and by how much, against which champion (`@` is escaped in markdown).
        assert!(body.contains("fails the gate"), "{body}");
        assert!(body.contains("vs champion"), "{body}");
        assert!(
            body.contains(r"v0\.0\.1") || body.contains("v0.0.1"),
            "the champion is named: {body}"
        );
    }
}

#[test]
fn a_fork_pull_request_writes_nothing_and_the_workflow_run_job_posts_the_comment() {
    let Some(act) = act() else { return };
    // act's tool cache is shared: one act run at a time.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new(act);
    let main = setup.head();
    let repo = git2::Repository::open(setup.project.path()).expect("repo");
    let head = repo.head().expect("head").peel_to_commit().expect("commit");
    repo.branch("feature", &head, false).expect("branch");
    repo.set_head("refs/heads/feature").expect("checkout");
    setup.project.write("NOTES.md", "a contributor's change\n");
    commit_all(&repo, "from a fork");
    let pr_head = setup.head();
    setup.server.add_pull(2, &pr_head);
    let base_repo = repo_json(REPO);
    let pull = pull_request_event("feature", &pr_head, &main, "contributor/Hello-World");

    // The pull_request job, `mlgate-pr.yml` unchanged: no write call at all.
    let built = setup.act("pull_request", ".github/workflows/mlgate-pr.yml", &pull);
    assert!(built.status.success(), "{}", text(&built));
    assert_eq!(
        setup.writes(),
        0,
        "the fork's job wrote to GitHub\n{}",
        text(&built)
    );
    assert!(setup.server.comments(2).is_empty());

    // The workflow_run job, `mlgate-comment.yml` unchanged, posts it; twice, one comment.
    let run = serde_json::json!({
        "workflow_run": {
            "id": 4242,
            "event": "pull_request",
            "conclusion": "success",
            "head_sha": pr_head,
            "pull_requests": [],
        },
        "repository": base_repo,
    });
    for attempt in 1..=2 {
        let posted = setup.act("workflow_run", ".github/workflows/mlgate-comment.yml", &run);
        assert!(
            posted.status.success(),
            "attempt {attempt}\n{}",
            text(&posted)
        );
        let comments = setup.server.comments(2);
        assert_eq!(comments.len(), 1, "attempt {attempt}\n{}", text(&posted));
        assert!(
            comments[0].body.contains("mlgate:sticky"),
            "{}",
            comments[0].body
        );
    }

    // An artifact whose pull request has moved on is refused, and nothing is posted.
    setup.server.add_pull(2, &"f".repeat(40));
    let before = setup.writes();
    let refused = setup.act("workflow_run", ".github/workflows/mlgate-comment.yml", &run);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert_eq!(setup.writes(), before);
}
