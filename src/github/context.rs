//! The GitHub Actions context: who we are running for, read from the `GITHUB_*` variables and
//! the event payload file (`pull_request`, `pull_request_target`, `push`, `workflow_run`,
//! `workflow_dispatch`).
//!
//! Variables are read through a lookup function, not `std::env` directly, so tests feed the
//! real webhook payloads without touching the process environment.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use super::client::{ClientConfig, DEFAULT_API_URL};
use super::token::Token;

/// The largest event payload read (GitHub caps webhook payloads at 25 MB).
const EVENT_LIMIT: u64 = 32 * 1024 * 1024;

/// `owner/name`, checked to be safe in an API path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The owner (user or organisation).
    pub owner: String,
    /// The repository name.
    pub name: String,
}

impl Repo {
    /// Parses `owner/name`; GitHub allows letters, digits, `-`, `_` and `.` in both.
    pub fn parse(text: &str) -> anyhow::Result<Repo> {
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match text.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => Ok(Repo {
                owner: owner.to_string(),
                name: name.to_string(),
            }),
            _ => anyhow::bail!(
                "`GITHUB_REPOSITORY` is `{}`, not `owner/name`",
                text.escape_debug()
            ),
        }
    }

    /// `/repos/owner/name`.
    pub fn api_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

/// The run that triggered a `workflow_run` workflow (the fork flow's first half).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggeringRun {
    /// Its id.
    pub id: u64,
    /// The commit it ran on.
    pub head_sha: String,
    /// Its own event (`pull_request` for the fork flow).
    pub event: String,
    /// Pull requests GitHub links to it (empty for pull requests from forks).
    pub pull_requests: Vec<u64>,
}

/// What the event says about the code under test.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// The pull request number, for pull-request events.
    pub pr_number: Option<u64>,
    /// The commit under test: the PR head, the pushed commit, the triggering run's head.
    pub head_sha: Option<String>,
    /// The PR's base branch.
    pub base_ref: Option<String>,
    /// True when the PR comes from another repository (its token is read-only).
    pub fork: bool,
    /// For `workflow_run`: the run that triggered this one.
    pub triggering_run: Option<TriggeringRun>,
}

/// Everything the GitHub commands need to know about the run.
#[derive(Debug, Clone)]
pub struct GithubContext {
    /// `GITHUB_REPOSITORY`.
    pub repo: Repo,
    /// `GITHUB_API_URL` (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: String,
    /// `GITHUB_SERVER_URL`, for links.
    pub server_url: String,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_SHA`.
    pub sha: Option<String>,
    /// `GITHUB_REF`.
    pub git_ref: Option<String>,
    /// `GITHUB_EVENT_NAME`.
    pub event_name: String,
    /// From `GITHUB_EVENT_PATH`.
    pub event: Event,
    /// True inside GitHub Actions (`GITHUB_ACTIONS=true`).
    pub in_actions: bool,
}

impl GithubContext {
    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<GithubContext> {
        GithubContext::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads the context through `var` (a variable's value, `None` when unset).
    pub fn from_lookup(var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<GithubContext> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let repository = var("GITHUB_REPOSITORY").context(
            "`GITHUB_REPOSITORY` is not set; run inside GitHub Actions or set it to `owner/name`",
        )?;
        let event_name = var("GITHUB_EVENT_NAME").unwrap_or_default();
        let event = match var("GITHUB_EVENT_PATH") {
            Some(path) => Event::read(&event_name, Path::new(&path))?,
            None => Event::default(),
        };
        Ok(GithubContext {
            repo: Repo::parse(&repository)?,
            api_url: var("GITHUB_API_URL")
                .unwrap_or_else(|| DEFAULT_API_URL.to_string())
                .trim_end_matches('/')
                .to_string(),
            server_url: var("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".to_string()),
            run_id: var("GITHUB_RUN_ID"),
            sha: var("GITHUB_SHA"),
            git_ref: var("GITHUB_REF"),
            event_name,
            event,
            in_actions: var("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
        })
    }

    /// The commit a check run belongs to: the PR head (not the merge commit in `GITHUB_SHA`).
    pub fn head_sha(&self) -> Option<&str> {
        self.event.head_sha.as_deref().or(self.sha.as_deref())
    }

    /// The client settings for this context; `MLGATE_GITHUB_TIMEOUT` (seconds per request) and
    /// `MLGATE_GITHUB_MAX_WAIT` (seconds of retry waiting per call) override the defaults.
    pub fn client_config(
        &self,
        token: Option<Token>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig::new(&self.api_url, token);
        if let Some(seconds) = seconds(var, "MLGATE_GITHUB_TIMEOUT")? {
            config.timeout = seconds;
        }
        if let Some(seconds) = seconds(var, "MLGATE_GITHUB_MAX_WAIT")? {
            config.retry.max_total_wait = seconds;
        }
        Ok(config)
    }
}

/// A duration in (possibly fractional) seconds from a variable.
fn seconds(var: &dyn Fn(&str) -> Option<String>, name: &str) -> anyhow::Result<Option<Duration>> {
    let Some(text) = var(name) else {
        return Ok(None);
    };
    let value: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0 && *v <= 86_400.0)
        .with_context(|| {
            format!(
                "`{name}` is `{}`, not a number of seconds",
                text.escape_debug()
            )
        })?;
    Ok(Some(Duration::from_secs_f64(value)))
}

impl Event {
    /// Reads the payload file for an event.
    pub fn read(event_name: &str, path: &Path) -> anyhow::Result<Event> {
        let size = fs_err::metadata(path)?.len();
        if size > EVENT_LIMIT {
            anyhow::bail!(
                "the event file `{}` is {size} bytes; too large",
                path.display()
            );
        }
        let text = fs_err::read_to_string(path)?;
        let payload: Value = serde_json::from_str(&text)
            .with_context(|| format!("the event file `{}` is not JSON", path.display()))?;
        Ok(Event::from_payload(event_name, &payload))
    }

    /// Extracts what mlgate needs from a webhook payload.
    pub fn from_payload(event_name: &str, payload: &Value) -> Event {
        let text = |v: &Value| v.as_str().map(str::to_string);
        match event_name {
            "pull_request" | "pull_request_target" => {
                let pr = &payload["pull_request"];
                let head_repo = pr["head"]["repo"]["full_name"].as_str();
                let base_repo = pr["base"]["repo"]["full_name"].as_str();
                Event {
                    pr_number: pr["number"].as_u64().or(payload["number"].as_u64()),
                    head_sha: text(&pr["head"]["sha"]),
                    base_ref: text(&pr["base"]["ref"]),
                    // A deleted fork leaves `head.repo` null: still not ours.
                    fork: head_repo.is_none() || head_repo != base_repo,
                    triggering_run: None,
                }
            }
            "push" => Event {
                head_sha: text(&payload["after"]),
                ..Event::default()
            },
            "workflow_run" => {
                let run = &payload["workflow_run"];
                let pull_requests: Vec<u64> = run["pull_requests"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|pr| pr["number"].as_u64())
                    .collect();
                Event {
                    pr_number: None,
                    head_sha: text(&run["head_sha"]),
                    base_ref: None,
                    fork: run["head_repository"]["full_name"] != payload["repository"]["full_name"],
                    triggering_run: Some(TriggeringRun {
                        id: run["id"].as_u64().unwrap_or(0),
                        head_sha: text(&run["head_sha"]).unwrap_or_default(),
                        event: text(&run["event"]).unwrap_or_default(),
                        pull_requests,
                    }),
                }
            }
            // workflow_dispatch and everything else: GITHUB_SHA and GITHUB_REF say it all.
            _ => Event::default(),
        }
    }
}

/// The runner command that hides a secret in every later log line, or `None` outside Actions.
pub fn mask_command(context_in_actions: bool, token: &Token) -> Option<String> {
    context_in_actions.then(|| format!("::add-mask::{}", token.expose()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload fixture from `tests/fixtures/github/`.
    fn fixture(name: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
    }

    #[test]
    fn pull_request_opened() {
        let event = Event::from_payload(
            "pull_request",
            &fixture("webhook-pull_request.opened.example.json"),
        );
        assert_eq!(event.pr_number, Some(2));
        assert_eq!(
            event.head_sha.as_deref(),
            Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821")
        );
        assert_eq!(event.base_ref.as_deref(), Some("master"));
        assert!(!event.fork);
    }

    #[test]
    fn pull_request_from_a_fork() {
        let mut payload = fixture("webhook-pull_request.opened.example.json");
        payload["pull_request"]["head"]["repo"]["full_name"] = "someone/Hello-World".into();
        assert!(Event::from_payload("pull_request", &payload).fork);
        payload["pull_request"]["head"]["repo"] = Value::Null;
        assert!(Event::from_payload("pull_request_target", &payload).fork);
    }

    #[test]
    fn push_and_dispatch() {
        let misc = fixture("webhook-misc.examples.json");
        let push = Event::from_payload("push", &misc["push"]);
        assert_eq!(
            push.head_sha.as_deref(),
            Some("6113728f27ae82c7b1a177c8d03f9e96e0adf246")
        );
        assert_eq!(push.pr_number, None);
        assert_eq!(
            Event::from_payload("workflow_dispatch", &misc["workflow_dispatch"]),
            Event::default()
        );
    }

    #[test]
    fn workflow_run_from_a_fork() {
        let payload = serde_json::json!({
            "action": "completed",
            "repository": {"full_name": "o/r"},
            "workflow_run": {
                "id": 99, "event": "pull_request", "head_sha": "abc",
                "head_repository": {"full_name": "fork/r"}, "pull_requests": []
            }
        });
        let event = Event::from_payload("workflow_run", &payload);
        assert!(event.fork);
        assert_eq!(event.head_sha.as_deref(), Some("abc"));
        let run = event.triggering_run.expect("run");
        assert_eq!((run.id, run.event.as_str()), (99, "pull_request"));
        assert!(run.pull_requests.is_empty());
    }

    #[test]
    fn context_from_variables_and_the_event_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github/webhook-pull_request.opened.example.json");
        let vars = |name: &str| -> Option<String> {
            match name {
                "GITHUB_REPOSITORY" => Some("Codertocat/Hello-World".into()),
                "GITHUB_API_URL" => Some("https://ghe.example/api/v3/".into()),
                "GITHUB_EVENT_NAME" => Some("pull_request".into()),
                "GITHUB_EVENT_PATH" => Some(path.display().to_string()),
                "GITHUB_SHA" => Some("merge-commit".into()),
                "GITHUB_ACTIONS" => Some("true".into()),
                "MLGATE_GITHUB_TIMEOUT" => Some("2.5".into()),
                _ => None,
            }
        };
        let context = GithubContext::from_lookup(&vars).expect("context");
        assert_eq!(context.api_url, "https://ghe.example/api/v3");
        assert_eq!(context.repo.api_path(), "/repos/Codertocat/Hello-World");
        assert_eq!(context.event.pr_number, Some(2));
        assert_eq!(
            context.head_sha(),
            Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821")
        );
        let config = context.client_config(None, &vars).expect("config");
        assert_eq!(config.timeout, Duration::from_millis(2500));
        let token = Token::new("ghs_x").expect("token");
        assert_eq!(
            mask_command(context.in_actions, &token).as_deref(),
            Some("::add-mask::ghs_x")
        );
        assert_eq!(mask_command(false, &token), None);
    }

    #[test]
    fn bad_repository_names_are_refused() {
        for bad in ["noslash", "a/b/c", "../x", "o/r?x=1", "o/ r"] {
            assert!(Repo::parse(bad).is_err(), "{bad}");
        }
        assert!(Repo::parse("my-org/my.repo_1").is_ok());
        let missing = GithubContext::from_lookup(&|_| None).unwrap_err();
        assert!(missing.to_string().contains("GITHUB_REPOSITORY"));
    }
}
