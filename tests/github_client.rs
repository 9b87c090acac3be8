//! The GitHub client against the stand-in server: retries, backoff, and no duplicate writes.
//! A recording clock makes every backoff instant and lets the tests read the waits.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::github_server::{Fault, GithubServer, COMMENT, COMMENTS, TOKEN};
use mlgate::github::{ApiError, Client, ClientConfig, Clock, Token};
use serde_json::{json, Value};

/// Records sleeps instead of sleeping; no jitter.
#[derive(Default)]
struct TestClock {
    /// Every requested sleep.
    sleeps: Mutex<Vec<Duration>>,
}

impl Clock for TestClock {
    fn sleep(&self, duration: Duration) {
        self.sleeps.lock().unwrap().push(duration);
    }
    fn now_unix(&self) -> u64 {
        1_700_000_000
    }
    fn jitter(&self) -> f64 {
        0.0
    }
}

/// A client for the server with an instant clock and a 1 s timeout.
fn client(server: &GithubServer) -> (Client, Arc<TestClock>) {
    let clock = Arc::new(TestClock::default());
    let mut config = ClientConfig::new(&server.api_url(), Token::new(TOKEN));
    config.timeout = Duration::from_secs(1);
    (Client::new(config).with_clock(clock.clone()), clock)
}

const LIST: &str = "/repos/o/r/issues/7/comments";

/// Creates a comment with the lookup a real caller uses: find our body among all comments.
fn create_comment(client: &Client, body: &str) -> Result<Value, ApiError> {
    client.create(LIST, &json!({ "body": body }), || {
        let all: Vec<Value> = client.get_all(LIST)?;
        Ok(all.into_iter().find(|c| c["body"] == body))
    })
}

#[test]
fn a_post_answered_502_after_the_write_is_not_repeated() {
    let server = GithubServer::start();
    server.fault("POST", COMMENTS, Fault::StatusAfterWrite(502));
    let (client, clock) = client(&server);
    let created = create_comment(&client, "hello").expect("create");
    assert_eq!(created["body"], "hello");
    assert_eq!(server.comments(7).len(), 1);
    assert_eq!(
        server.count("POST", COMMENTS),
        1,
        "the lookup found it; no second POST"
    );
    assert_eq!(clock.sleeps.lock().unwrap().len(), 1);
}

#[test]
fn a_post_that_failed_before_the_write_is_sent_again_after_the_lookup() {
    let server = GithubServer::start();
    server.fault("POST", COMMENTS, Fault::Status(500));
    let (client, _) = client(&server);
    create_comment(&client, "hello").expect("create");
    assert_eq!(server.comments(7).len(), 1);
    assert_eq!(server.count("POST", COMMENTS), 2);
    assert_eq!(
        server.count("GET", COMMENTS),
        1,
        "looked up once before re-sending"
    );
}

#[test]
fn a_post_that_timed_out_after_the_write_is_not_repeated() {
    let server = GithubServer::start();
    server.fault("POST", COMMENTS, Fault::Delay(Duration::from_secs(3)));
    let (client, _) = client(&server);
    create_comment(&client, "slow").expect("create");
    assert_eq!(server.comments(7).len(), 1);
    assert_eq!(server.count("POST", COMMENTS), 1);
}

#[test]
fn retry_after_and_secondary_rate_limits_are_honoured() {
    let server = GithubServer::start();
    server.seed_comment(7, "someone", "x");
    server.fault("GET", COMMENTS, Fault::RateLimited { retry_after: 7 });
    server.fault(
        "GET",
        COMMENTS,
        Fault::SecondaryRateLimit { retry_after: 3 },
    );
    let (client, clock) = client(&server);
    let all: Vec<Value> = client.get_all(LIST).expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(
        *clock.sleeps.lock().unwrap(),
        vec![Duration::from_secs(7), Duration::from_secs(3)]
    );
}

#[test]
fn server_errors_back_off_exponentially_then_give_up() {
    let server = GithubServer::start();
    for _ in 0..5 {
        server.fault("GET", COMMENT, Fault::Status(500));
    }
    let id = server.seed_comment(7, "someone", "x");
    let (client, clock) = client(&server);
    let err = client
        .get::<Value>(&format!("/repos/o/r/issues/comments/{id}"))
        .expect_err("gives up");
    assert!(matches!(err, ApiError::GaveUp { attempts: 5, .. }), "{err}");
    assert_eq!(err.status(), Some(500));
    // Base 1 s doubling, zero jitter halves each: 0.5, 1, 2, 4.
    let sleeps: Vec<f64> = clock
        .sleeps
        .lock()
        .unwrap()
        .iter()
        .map(Duration::as_secs_f64)
        .collect();
    assert_eq!(sleeps, vec![0.5, 1.0, 2.0, 4.0]);
}

#[test]
fn a_read_only_token_fails_at_once_and_the_token_never_shows() {
    let server = GithubServer::start();
    server.set_read_only(TOKEN);
    let (client, clock) = client(&server);
    let err = create_comment(&client, "hello").expect_err("read-only");
    assert!(err.is_read_only(), "{err}");
    assert!(clock.sleeps.lock().unwrap().is_empty());
    assert_eq!(server.count("POST", COMMENTS), 1);
    let shown = format!("{err} {err:?} {client:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[test]
fn pagination_follows_link_headers_at_100_per_page() {
    let server = GithubServer::start();
    for i in 0..250 {
        server.seed_comment(7, "someone", &format!("comment {i}"));
    }
    let (client, _) = client(&server);
    let all: Vec<Value> = client.get_all(LIST).expect("list");
    assert_eq!(all.len(), 250);
    assert_eq!(all[249]["body"], "comment 249");
    let pages: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.method == "GET")
        .collect();
    assert_eq!(pages.len(), 3);
    assert!(pages
        .iter()
        .all(|p| p.query.contains(&("per_page".into(), "100".into()))));
}

#[test]
fn patch_and_delete_are_retried_and_a_repeated_delete_that_finds_nothing_is_done() {
    let server = GithubServer::start();
    let id = server.seed_comment(7, "github-actions[bot]", "old");
    let path = format!("/repos/o/r/issues/comments/{id}");
    server.fault("PATCH", COMMENT, Fault::Status(502));
    let (client, _) = client(&server);
    let updated: Value = client.patch(&path, &json!({"body": "new"})).expect("patch");
    assert_eq!(updated["body"], "new");
    server.fault("DELETE", COMMENT, Fault::StatusAfterWrite(500));
    client.delete(&path).expect("delete");
    assert!(server.comments(7).is_empty());
    assert_eq!(server.count("DELETE", COMMENT), 2);
}

/// The release a create found or made, by tag.
fn release_by_tag(client: &Client, tag: &str) -> Result<Option<Value>, ApiError> {
    client.get_optional(&format!("/repos/o/r/releases/tags/{tag}"))
}

#[test]
fn releases_and_assets_are_created_once_and_downloads_leave_the_token_behind() {
    let server = GithubServer::start();
    let (client, _) = client(&server);
    let body = json!({"tag_name": "churn@v1.0.0", "name": "churn v1.0.0"});
    server.fault(
        "POST",
        "/repos/{owner}/{repo}/releases",
        Fault::StatusAfterWrite(502),
    );
    let release: Value = client
        .create("/repos/o/r/releases", &body, || {
            release_by_tag(&client, "churn@v1.0.0")
        })
        .expect("release");
    // A second run: GitHub says 422 already_exists, and the lookup answers.
    let again: Value = client
        .create("/repos/o/r/releases", &body, || {
            release_by_tag(&client, "churn@v1.0.0")
        })
        .expect("release again");
    assert_eq!(release["id"], again["id"]);
    assert_eq!(server.state().releases.len(), 1);

    let upload_url = release["upload_url"]
        .as_str()
        .unwrap()
        .replace("{?name,label}", "?name=model.bin");
    assert!(upload_url.contains("/api/uploads/"), "{upload_url}");
    let release_id = release["id"].as_u64().unwrap();
    let find_asset = || -> Result<Option<Value>, ApiError> {
        let assets: Vec<Value> =
            client.get_all(&format!("/repos/o/r/releases/{release_id}/assets"))?;
        Ok(assets.into_iter().find(|a| a["name"] == "model.bin"))
    };
    server.fault(
        "POST",
        "/repos/{owner}/{repo}/releases/{release_id}/assets",
        Fault::StatusAfterWrite(500),
    );
    let asset: Value = client
        .upload(
            &upload_url,
            "application/octet-stream",
            b"weights",
            find_asset,
        )
        .expect("upload");
    assert_eq!(server.state().assets.len(), 1);
    let bytes = client
        .download(&format!("/repos/o/r/releases/assets/{}", asset["id"]), 1024)
        .expect("download");
    assert_eq!(bytes, b"weights");
}

#[test]
fn git_tags_and_refs_race_to_already_exists() {
    let server = GithubServer::start();
    let (client, _) = client(&server);
    let tag: Value = client
        .create(
            "/repos/o/r/git/tags",
            &json!({"tag": "churn@v1.0.0", "message": "m", "object": "0123456789012345678901234567890123456789", "type": "commit"}),
            || Ok(None),
        )
        .expect("tag");
    let reference = json!({"ref": "refs/tags/churn@v1.0.0", "sha": tag["sha"]});
    let lookup = || client.get_optional::<Value>("/repos/o/r/git/ref/tags/churn@v1.0.0");
    let first: Value = client
        .create("/repos/o/r/git/refs", &reference, lookup)
        .expect("ref");
    assert_eq!(first["object"]["type"], "tag");
    let err = client
        .create::<Value, _, _>("/repos/o/r/git/refs", &reference, || Ok(None))
        .expect_err("exists");
    assert_eq!(err.status(), Some(422));
    assert_eq!(server.state().refs.len(), 1);
}

#[test]
fn the_server_flags_unknown_routes_bad_bodies_and_undeclared_queries() {
    let server = GithubServer::start();
    let (client, _) = client(&server);
    client
        .get::<Value>("/repos/o/r/issues/7/nonsense")
        .expect_err("no such route");
    let _ = client.patch::<Value, _>("/repos/o/r/issues/comments/1", &json!({"body": 5}));
    let _ = client.get_all::<Value>("/repos/o/r/issues/7/comments?sort=asc");
    let violations = server.take_violations();
    assert_eq!(violations.len(), 3, "{violations:#?}");
    assert!(
        violations[0].contains("no route")
            && violations[0].contains("GET /api/v3/repos/o/r/issues/7/nonsense")
    );
    assert!(violations[1].contains("request body") && violations[1].contains("body.body"));
    assert!(violations[2].contains("`sort` is not declared"));
}

#[test]
fn the_description_validator_rejects_what_github_would_not_send() {
    let spec = common::openapi::Spec::load();
    let schema = json!({"$ref": "#/components/schemas/issue-comment"});
    let good = spec.example("issue-comment");
    spec.validate(&schema, &good, "c")
        .expect("the example is valid");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("user");
    assert!(spec
        .validate(&schema, &missing, "c")
        .unwrap_err()
        .contains("missing required `user`"));
    let mut wrong = good.clone();
    wrong["id"] = json!("seven");
    assert!(spec
        .validate(&schema, &wrong, "c")
        .unwrap_err()
        .contains("c.id: expected integer"));
    let check = json!({"$ref": "#/components/schemas/check-run"});
    let mut run = spec.example("check-run");
    run["status"] = json!("exploded");
    assert!(spec
        .validate(&check, &run, "r")
        .unwrap_err()
        .contains("not one of"));
}
