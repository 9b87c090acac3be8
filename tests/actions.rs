//! The GitHub Actions: every `action.yml` follows the security rules, `docs/actions.md` agrees
//! with the files, and `scripts/action-run.sh` (what each action runs) drives the real binary
//! through a pull request's pipeline against the stand-in GitHub server.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::github_server::{GithubServer, BOT, TOKEN};
use common::registry::registry_project;
use serde_json::Value;

/// The shell every `run:` step uses.
const SHELL: &str = "bash --noprofile --norc -euo pipefail {0}";

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every action: (name as users write it in `uses:`, parsed file).
fn actions() -> Vec<(String, Value)> {
    let mut found = vec![("mlgate/mlgate".to_string(), root().join("action.yml"))];
    let mut stages: Vec<PathBuf> = std::fs::read_dir(root().join("actions"))
        .expect("actions/")
        .map(|e| e.expect("entry").path())
        .collect();
    stages.sort();
    for dir in stages {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        found.push((
            format!("mlgate/mlgate/actions/{name}"),
            dir.join("action.yml"),
        ));
    }
    found
        .into_iter()
        .map(|(name, path)| {
            let text = std::fs::read_to_string(&path).expect("action.yml");
            let value: Value =
                serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, value)
        })
        .collect()
}

#[test]
fn every_action_passes_inputs_through_env_and_pins_its_shell() {
    let actions = actions();
    assert_eq!(actions.len(), 8, "the root action and seven stages");
    for (name, action) in &actions {
        assert_eq!(action["runs"]["using"], "composite", "{name}");
        assert!(action["branding"]["icon"].is_string(), "{name}: branding");
        for (input, spec) in action["inputs"].as_object().expect("inputs") {
            assert!(spec["description"].is_string(), "{name}: input {input}");
        }
        for step in action["runs"]["steps"].as_array().expect("steps") {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            assert!(
                !run.contains("${{"),
                "{name}: an expression inside `run:`: {run}"
            );
            assert_eq!(step["shell"], SHELL, "{name}: {run}");
            for (var, value) in step["env"].as_object().into_iter().flatten() {
                let value = value.as_str().unwrap_or_default();
                // Only inputs and the action's own path reach the scripts.
                assert!(
                    !value.contains("${{")
                        || value.contains("inputs.")
                        || value.contains("github.action_path"),
                    "{name}: {var}={value}"
                );
            }
        }
    }
}

/// One action's tables in `docs/actions.md`: input -> (default, description), and output ->
/// description.
#[derive(Debug, Default, PartialEq)]
struct Documented {
    inputs: BTreeMap<String, (String, String)>,
    outputs: BTreeMap<String, String>,
}

/// Reads `docs/actions.md` into one [`Documented`] per `## \`name\`` section.
fn documented() -> BTreeMap<String, Documented> {
    let text = std::fs::read_to_string(root().join("docs/actions.md")).expect("docs/actions.md");
    let mut sections: BTreeMap<String, Documented> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## `").and_then(|l| l.strip_suffix('`')) {
            current = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
            continue;
        }
        let Some(name) = &current else { continue };
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let key = |cell: &str| cell.trim_matches('`').to_string();
        let section = sections.get_mut(name).expect("section");
        match cells.as_slice() {
            [input, default, description] if input.starts_with('`') => {
                section
                    .inputs
                    .insert(key(input), (key(default), description.to_string()));
            }
            [output, description] if output.starts_with('`') => {
                section.outputs.insert(key(output), description.to_string());
            }
            _ => {}
        }
    }
    sections
}

#[test]
fn docs_list_every_input_and_output_as_the_files_do() {
    let docs = documented();
    let actions = actions();
    assert_eq!(docs.len(), actions.len(), "{:?}", docs.keys());
    for (name, action) in actions {
        let mut expected = Documented::default();
        for (input, spec) in action["inputs"].as_object().expect("inputs") {
            let default = spec["default"].as_str().unwrap_or_default().to_string();
            let description = spec["description"].as_str().unwrap_or_default().to_string();
            expected
                .inputs
                .insert(input.clone(), (default, description));
        }
        for (output, spec) in action["outputs"].as_object().into_iter().flatten() {
            let description = spec["description"].as_str().unwrap_or_default().to_string();
            expected.outputs.insert(output.clone(), description);
        }
        assert_eq!(
            docs.get(&name),
            Some(&expected),
            "docs/actions.md for {name}"
        );
    }
}

#[test]
fn every_stage_action_runs_a_stage_the_script_knows() {
    let script = std::fs::read_to_string(root().join("scripts/action-run.sh")).expect("script");
    for (name, action) in actions().into_iter().skip(1) {
        let stage = name.rsplit('/').next().expect("stage");
        let step = &action["runs"]["steps"][1];
        assert_eq!(step["env"]["MLGATE_STAGE"], stage, "{name}");
        assert!(
            script.lines().any(|l| l.trim_start().starts_with(stage)
                || l.contains(&format!("| {stage}"))
                || l.contains(&format!("{stage} |"))),
            "scripts/action-run.sh has no `{stage}` case"
        );
    }
}

/// Runs `scripts/action-run.sh` as the root action's second step would, with the test's
/// `mlgate` on `PATH`.
fn action_run(dir: &Path, vars: &[(&str, &str)]) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_mlgate"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new(root().join("scripts/action-run.sh"));
    command.current_dir(dir).env("PATH", path);
    for (name, _) in std::env::vars() {
        if name.starts_with("GITHUB_") || name.starts_with("MLGATE_") {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().copied());
    command.output().expect("run the action script")
}

#[test]
fn the_pull_request_pipeline_reports_and_keeps_one_sticky_comment() {
    let (project, _repo) = registry_project(
        "model:\n  kind: logistic_regression\n",
        "release:\n  name: penguins\n",
    );
    let event = root().join("tests/fixtures/github/webhook-pull_request.opened.example.json");
    let server = GithubServer::start();
    let api = server.api_url();
    let outputs = project.path().join("outputs.txt").display().to_string();
    let event = event.display().to_string();
    let vars = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.as_str()),
        ("GITHUB_REPOSITORY", "Codertocat/Hello-World"),
        ("GITHUB_BASE_REF", "main"),
        ("GITHUB_API_URL", api.as_str()),
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_OUTPUT", outputs.as_str()),
        ("MLGATE_ARGS", "--no-drift"),
        ("MLGATE_GITHUB_TIMEOUT", "2"),
    ];
    for attempt in 1..=2 {
        let run = action_run(project.path(), &vars);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr),
        );
        assert!(
            run.status.success(),
            "attempt {attempt}\n{stdout}\n{stderr}"
        );
        // The only line allowed to carry the token is the runner's mask command.
        let mask = format!("::add-mask::{TOKEN}");
        for line in stdout.lines().chain(stderr.lines()) {
            assert!(
                line == mask || !line.contains(TOKEN),
                "token printed: {line}"
            );
        }
        let comments = server.comments(2);
        assert_eq!(comments.len(), 1, "attempt {attempt}: one sticky comment");
        assert_eq!(comments[0].author, BOT);
        assert!(comments[0].body.contains("mlgate"), "{}", comments[0].body);
    }
    let written = std::fs::read_to_string(project.path().join("outputs.txt")).expect("outputs");
    assert!(written.contains("verdict<<"), "{written}");
    assert!(written.contains("report_md<<"), "{written}");
}
