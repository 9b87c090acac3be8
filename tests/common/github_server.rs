//! A stand-in GitHub API for end-to-end tests: stateful, on 127.0.0.1, and strict.
//!
//! Every request is routed through the REST description in `tests/fixtures/github/` (an unknown
//! method + path is a violation naming the request line), its query parameters and JSON body
//! are checked against the operation, and every JSON answer is validated against the declared
//! response schema, so the fake answers the way GitHub does. Answers are built from the
//! description's own examples with the state's values filled in. Violations make the server
//! panic when dropped, failing the test.
//!
//! Layout mimics GitHub Enterprise: the API root is `/api/v3`, uploads go to `/api/uploads`
//! (the `upload_url` host), and asset downloads redirect to `/storage`, which must never see
//! the token. Faults can be queued per method and path template. A plain `std::net` server
//! (no dependency): one thread per connection, `Connection: close`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};

use super::openapi::{percent_decode, Matched, Spec};

/// The default token: an Actions installation token (`/user` is 403 for it).
pub const TOKEN: &str = "ghs_StandInInstallationToken0123456789";
/// The login an installation token writes as.
pub const BOT: &str = "github-actions[bot]";
/// The template of the issue-comments list and create route.
pub const COMMENTS: &str = "/repos/{owner}/{repo}/issues/{issue_number}/comments";
/// The template of one issue comment.
pub const COMMENT: &str = "/repos/{owner}/{repo}/issues/comments/{comment_id}";

/// Who a token is.
#[derive(Clone, Debug)]
pub enum Identity {
    /// A user (personal access token): `/user` answers with this login.
    User(String),
    /// An installation token (`GITHUB_TOKEN`): `/user` is 403; it writes as `github-actions[bot]`.
    Installation,
}

/// An injected failure, used once, for the next request matching its method and template.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this status without applying the request.
    Status(u16),
    /// Apply the request, then answer this status (the write happened; the answer was lost).
    StatusAfterWrite(u16),
    /// 429 with `retry-after`.
    RateLimited {
        /// Seconds.
        retry_after: u64,
    },
    /// 403 secondary rate limit with `retry-after`.
    SecondaryRateLimit {
        /// Seconds.
        retry_after: u64,
    },
    /// Apply the request, then wait this long before answering (past the client's timeout).
    Delay(Duration),
    /// 422 with this message, without applying.
    Unprocessable(&'static str),
    /// Another client wins a race: before the request runs, the ref it is about to create is
    /// created pointing at this commit (through a tag object, as a promotion would).
    CompetingRef(String),
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Method.
    pub method: String,
    /// Path (with prefix), without query.
    pub path: String,
    /// The matched spec template, if any.
    pub template: Option<String>,
    /// Query pairs.
    pub query: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
    /// The raw request head and body, lossily decoded (for token-leak checks).
    pub raw: String,
}

/// One issue comment.
#[derive(Clone, Debug)]
pub struct Comment {
    /// Id.
    pub id: u64,
    /// Issue or PR number.
    pub issue: u64,
    /// Author login.
    pub author: String,
    /// Body.
    pub body: String,
}

/// Everything the fake GitHub holds.
#[derive(Default)]
pub struct State {
    /// Id counter shared by every object.
    next_id: u64,
    /// Tokens and who they are, and whether they are read-only.
    tokens: BTreeMap<String, (Identity, bool)>,
    /// Issue comments.
    pub comments: Vec<Comment>,
    /// Pull requests: number -> head sha.
    pub pulls: BTreeMap<u64, String>,
    /// Check runs (full JSON objects).
    pub check_runs: Vec<Value>,
    /// Annotations per check run id.
    pub annotations: BTreeMap<u64, Vec<Value>>,
    /// Releases (full JSON objects, `assets` kept empty; see `assets`).
    pub releases: Vec<Value>,
    /// Assets: (release id, object, bytes).
    pub assets: Vec<(u64, Value, Vec<u8>)>,
    /// Annotated tag objects.
    pub tags: Vec<Value>,
    /// Refs.
    pub refs: Vec<Value>,
    /// Self-hosted runners registered with a JIT configuration (full JSON objects).
    pub runners: Vec<Value>,
}

impl State {
    /// The next id.
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// Shared between the test and the server threads.
struct Shared {
    /// The description.
    spec: Spec,
    /// The state.
    state: Mutex<State>,
    /// Queued faults: (method, template, fault).
    faults: Mutex<Vec<(String, String, Fault)>>,
    /// The request log.
    log: Mutex<Vec<Logged>>,
    /// Contract violations.
    violations: Mutex<Vec<String>>,
    /// `http://127.0.0.1:PORT`.
    root: String,
    /// Set on drop.
    stopping: AtomicBool,
}

/// The running server; dropping it stops it and fails the test on any violation.
pub struct GithubServer {
    /// Shared state.
    shared: Arc<Shared>,
}

/// An answer.
struct Reply {
    /// Status.
    status: u16,
    /// Extra headers.
    headers: Vec<(String, String)>,
    /// Body.
    body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec(value).expect("json"),
        }
    }

    /// GitHub's error shape.
    fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            &json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
        )
    }

    /// 422 `already_exists` on a field.
    fn already_exists(resource: &str, field: &str) -> Reply {
        Reply::json(
            422,
            &json!({"message": "Validation Failed", "errors": [{"resource": resource, "code": "already_exists", "field": field}], "documentation_url": "https://docs.github.com/rest"}),
        )
    }
}

/// A parsed request.
struct Incoming {
    /// Method.
    method: String,
    /// Path without query.
    path: String,
    /// Query pairs.
    query: Vec<(String, String)>,
    /// Lower-case header names.
    headers: Vec<(String, String)>,
    /// Body.
    body: Vec<u8>,
    /// Head and body as text.
    raw: String,
}

impl Incoming {
    /// A header.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query value.
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl GithubServer {
    /// Starts the server on an ephemeral port with the default installation token.
    pub fn start() -> GithubServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let root = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            spec: Spec::load(),
            state: Mutex::new(State::default()),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            root,
            stopping: AtomicBool::new(false),
        });
        let server = GithubServer {
            shared: shared.clone(),
        };
        server.add_token(TOKEN, Identity::Installation);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(&shared, stream));
            }
        });
        server
    }

    /// The API root, as `GITHUB_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.shared.root)
    }

    /// Registers a token.
    pub fn add_token(&self, token: &str, identity: Identity) {
        self.state()
            .tokens
            .insert(token.to_string(), (identity, false));
    }

    /// Makes a token read-only: every write gets 403 "Resource not accessible by integration".
    pub fn set_read_only(&self, token: &str) {
        if let Some(entry) = self.state().tokens.get_mut(token) {
            entry.1 = true;
        }
    }

    /// Queues a fault for the next request with this method and spec path template.
    pub fn fault(&self, method: &str, template: &str, fault: Fault) {
        assert!(
            self.shared.spec.has_route(method, template),
            "no route {method} {template} in the description"
        );
        self.shared.faults.lock().expect("faults").push((
            method.to_string(),
            template.to_string(),
            fault,
        ));
    }

    /// Adds a pull request with its head sha.
    pub fn add_pull(&self, number: u64, head_sha: &str) {
        self.state().pulls.insert(number, head_sha.to_string());
    }

    /// Adds a comment as if someone had written it; returns its id.
    pub fn seed_comment(&self, issue: u64, author: &str, body: &str) -> u64 {
        let mut state = self.state();
        let id = state.id();
        state.comments.push(Comment {
            id,
            issue,
            author: author.to_string(),
            body: body.to_string(),
        });
        id
    }

    /// The comments on an issue, oldest first.
    pub fn comments(&self, issue: u64) -> Vec<Comment> {
        self.state()
            .comments
            .iter()
            .filter(|c| c.issue == issue)
            .cloned()
            .collect()
    }

    /// The state, for assertions on releases, assets, tags, refs and check runs.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().expect("state")
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().expect("log").clone()
    }

    /// Faults queued that no request has met yet.
    pub fn pending_faults(&self) -> Vec<String> {
        let faults = self.shared.faults.lock().expect("faults");
        faults
            .iter()
            .map(|(method, template, fault)| format!("{method} {template}: {fault:?}"))
            .collect()
    }

    /// How many requests matched a method and template.
    pub fn count(&self, method: &str, template: &str) -> usize {
        self.log()
            .iter()
            .filter(|l| l.method == method && l.template.as_deref() == Some(template))
            .count()
    }

    /// Contract violations so far, cleared (for tests of the server's own strictness).
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut *self.shared.violations.lock().expect("violations"))
    }

    /// Contract violations so far.
    pub fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().expect("violations").clone()
    }
}

impl Drop for GithubServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.shared.root.trim_start_matches("http://"));
        let violations = self.violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "the stand-in GitHub server saw contract violations:\n{}",
                violations.join("\n")
            );
        }
    }
}

/// Serves one connection: one request, one answer.
fn serve(shared: &Shared, mut stream: TcpStream) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let mut delay = None;
    let reply = handle(shared, &request, &mut delay);
    if let Some(delay) = delay {
        std::thread::sleep(delay);
    }
    let mut head = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
}

/// Reads a request with a `content-length` body.
fn read_request(stream: &mut TcpStream) -> Option<Incoming> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut raw = line.clone();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        raw.push_str(&header);
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    raw.push_str(&String::from_utf8_lossy(&body));
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Some(Incoming {
        method,
        path: path.to_string(),
        query,
        headers,
        body,
        raw,
    })
}

/// Routes, checks, applies faults and the operation, validates the answer, logs.
fn handle(shared: &Shared, request: &Incoming, delay: &mut Option<Duration>) -> Reply {
    let violation = |text: String| shared.violations.lock().expect("violations").push(text);
    let request_line = format!("{} {}", request.method, request.path);
    let mut template = None;
    let reply = if let Some(id) = request.path.strip_prefix("/storage/assets/") {
        if request.header("authorization").is_some() {
            violation(format!(
                "{request_line}: the token was sent to the storage host"
            ));
        }
        storage(shared, id)
    } else {
        let api_path = request
            .path
            .strip_prefix("/api/v3")
            .or_else(|| request.path.strip_prefix("/api/uploads"));
        match api_path.and_then(|p| shared.spec.route(&request.method, p)) {
            None => {
                violation(format!(
                    "no route in the GitHub description for `{request_line}`"
                ));
                Reply::error(404, "Not Found")
            }
            Some(matched) => {
                template = Some(matched.route.template.clone());
                let is_upload = request.path.starts_with("/api/uploads");
                if is_upload
                    != (matched.route.operation["operationId"] == "repos/upload-release-asset")
                {
                    violation(format!(
                        "`{request_line}` sent to the wrong host (API vs uploads)"
                    ));
                }
                api(shared, request, &matched, delay, &violation)
            }
        }
    };
    shared.log.lock().expect("log").push(Logged {
        method: request.method.clone(),
        path: request.path.clone(),
        template,
        query: request.query.clone(),
        status: reply.status,
        raw: request.raw.clone(),
    });
    reply
}

/// An API request that matched a route.
fn api(
    shared: &Shared,
    request: &Incoming,
    matched: &Matched,
    delay: &mut Option<Duration>,
    violation: &dyn Fn(String),
) -> Reply {
    let spec = &shared.spec;
    let route = &matched.route;
    let line = format!("{} {}", request.method, request.path);
    for header in ["user-agent", "x-github-api-version", "accept"] {
        if request.header(header).is_none() {
            violation(format!("{line}: no `{header}` header"));
        }
    }
    if let Err(e) = spec.check_query(route, &request.query) {
        violation(format!("{line}: {e}"));
    }
    let is_json = route.operation["requestBody"]["content"]["application/json"].is_object();
    let body: Value = if is_json {
        match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => {
                violation(format!("{line}: body is not JSON: {e}"));
                return Reply::error(400, "Problems parsing JSON");
            }
        }
    } else {
        Value::Null
    };
    if is_json {
        if let Err(e) = spec.check_request_body(route, &body) {
            violation(format!("{line}: request body: {e}"));
            return Reply::error(422, "Invalid request");
        }
    }
    let token = request
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some((identity, read_only)) = shared
        .state
        .lock()
        .expect("state")
        .tokens
        .get(token)
        .cloned()
    else {
        return Reply::error(401, "Bad credentials");
    };
    let fault = take_fault(shared, &request.method, &route.template);
    match &fault {
        Some(Fault::Status(status)) => return Reply::error(*status, "Server Error"),
        Some(Fault::RateLimited { retry_after }) => {
            let mut reply = Reply::error(429, "Too Many Requests");
            reply
                .headers
                .push(("retry-after".into(), retry_after.to_string()));
            return reply;
        }
        Some(Fault::SecondaryRateLimit { retry_after }) => {
            let mut reply = Reply::error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.");
            reply
                .headers
                .push(("retry-after".into(), retry_after.to_string()));
            return reply;
        }
        Some(Fault::Unprocessable(message)) => return Reply::error(422, message),
        Some(Fault::CompetingRef(commit)) => {
            let mut state = shared.state.lock().expect("state");
            let sha = fake_sha(state.id());
            let mut tag = shared.spec.example("git-tag");
            tag["sha"] = json!(sha);
            tag["object"]["sha"] = json!(commit);
            tag["object"]["type"] = json!("commit");
            tag["message"] = json!("promoted by another run");
            state.tags.push(tag);
            let mut reference = shared.spec.example("git-ref");
            reference["ref"] = body["ref"].clone();
            reference["object"]["sha"] = json!(sha);
            reference["object"]["type"] = json!("tag");
            state.refs.push(reference);
        }
        _ => {}
    }
    if read_only && request.method != "GET" {
        return Reply::error(403, "Resource not accessible by integration");
    }
    let login = match &identity {
        Identity::User(login) => login.clone(),
        Identity::Installation => BOT.to_string(),
    };
    let context = Context {
        spec,
        root: &shared.root,
        login: &login,
        identity: &identity,
        matched,
        request,
        body: &body,
    };
    let reply = context.apply(&mut shared.state.lock().expect("state"));
    if let Some(schema) = spec.response_schema(route, reply.status) {
        let value: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        if let Err(e) = spec.validate(&schema, &value, "response") {
            violation(format!(
                "{line}: our own {} answer does not match the description: {e}",
                reply.status
            ));
        }
    }
    match fault {
        Some(Fault::StatusAfterWrite(status)) => Reply::error(status, "Server Error"),
        Some(Fault::Delay(wait)) => {
            *delay = Some(wait);
            reply
        }
        _ => reply,
    }
}

/// Takes the first queued fault for a method and template.
fn take_fault(shared: &Shared, method: &str, template: &str) -> Option<Fault> {
    let mut faults = shared.faults.lock().expect("faults");
    let index = faults
        .iter()
        .position(|(m, t, _)| m == method && t == template)?;
    Some(faults.remove(index).2)
}

/// Serves an asset's bytes on the storage host.
fn storage(shared: &Shared, id: &str) -> Reply {
    let state = shared.state.lock().expect("state");
    match state
        .assets
        .iter()
        .find(|(_, a, _)| a["id"].as_u64().is_some_and(|n| n.to_string() == id))
    {
        Some((_, _, bytes)) => Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/octet-stream".into())],
            body: bytes.clone(),
        },
        None => Reply::error(404, "Not Found"),
    }
}

/// What an operation needs to run.
struct Context<'a> {
    /// The description (for examples).
    spec: &'a Spec,
    /// `http://127.0.0.1:PORT`.
    root: &'a str,
    /// Who is writing.
    login: &'a str,
    /// The token's identity.
    identity: &'a Identity,
    /// The route and path parameters.
    matched: &'a Matched,
    /// The request.
    request: &'a Incoming,
    /// The JSON body (or null).
    body: &'a Value,
}

impl Context<'_> {
    /// Runs the operation against the state.
    fn apply(&self, state: &mut State) -> Reply {
        let op = self.matched.route.operation["operationId"]
            .as_str()
            .unwrap_or_default();
        match op {
            "users/get-authenticated" => self.get_user(),
            "issues/list-comments" => {
                let issue = self.number("issue_number");
                let items: Vec<Value> = state
                    .comments
                    .iter()
                    .filter(|c| c.issue == issue)
                    .map(|c| self.comment_json(c))
                    .collect();
                self.paginate(items)
            }
            "issues/create-comment" => {
                let text = self.body["body"].as_str().unwrap_or_default();
                if let Some(reply) = too_long(text, 65_536, "IssueComment") {
                    return reply;
                }
                let comment = Comment {
                    id: state.id(),
                    issue: self.number("issue_number"),
                    author: self.login.to_string(),
                    body: text.to_string(),
                };
                state.comments.push(comment.clone());
                Reply::json(201, &self.comment_json(&comment))
            }
            "issues/get-comment" | "issues/update-comment" | "issues/delete-comment" => {
                let id = self.number("comment_id");
                let Some(index) = state.comments.iter().position(|c| c.id == id) else {
                    return Reply::error(404, "Not Found");
                };
                match op {
                    "issues/update-comment" => {
                        let text = self.body["body"].as_str().unwrap_or_default();
                        if let Some(reply) = too_long(text, 65_536, "IssueComment") {
                            return reply;
                        }
                        state.comments[index].body = text.to_string();
                        Reply::json(200, &self.comment_json(&state.comments[index]))
                    }
                    "issues/delete-comment" => {
                        state.comments.remove(index);
                        Reply {
                            status: 204,
                            headers: Vec::new(),
                            body: Vec::new(),
                        }
                    }
                    _ => Reply::json(200, &self.comment_json(&state.comments[index])),
                }
            }
            "pulls/get" => match state.pulls.get(&self.number("pull_number")) {
                Some(sha) => {
                    let mut pull = self.spec.example("pull-request");
                    pull["number"] = json!(self.number("pull_number"));
                    pull["head"]["sha"] = json!(sha);
                    // GitHub's own example lists a team without the `type` its schema requires.
                    pull["requested_teams"] = json!([]);
                    Reply::json(200, &pull)
                }
                None => Reply::error(404, "Not Found"),
            },
            "checks/create" => self.create_check_run(state),
            "checks/update" | "checks/get" => self.check_run(state, op == "checks/update"),
            "checks/list-for-ref" => {
                let sha = self.matched.param("ref");
                let name = self.request.query("check_name");
                let runs: Vec<Value> = state
                    .check_runs
                    .iter()
                    .filter(|r| r["head_sha"] == sha && name.is_none_or(|n| r["name"] == n))
                    .cloned()
                    .collect();
                Reply::json(200, &json!({"total_count": runs.len(), "check_runs": runs}))
            }
            "repos/create-release" => self.create_release(state),
            "repos/list-releases" => {
                let items = state
                    .releases
                    .iter()
                    .rev()
                    .map(|r| release_with_assets(state, r))
                    .collect();
                self.paginate(items)
            }
            "repos/get-release-by-tag" => {
                // As on GitHub, drafts are not found by tag; only the list shows them.
                let tag = self.matched.param("tag");
                self.found(
                    state
                        .releases
                        .iter()
                        .find(|r| r["tag_name"] == tag && r["draft"] != true)
                        .map(|r| release_with_assets(state, r)),
                )
            }
            "repos/get-release" => {
                let id = self.number("release_id");
                self.found(
                    state
                        .releases
                        .iter()
                        .find(|r| r["id"] == id)
                        .map(|r| release_with_assets(state, r)),
                )
            }
            "repos/update-release" => {
                let id = self.number("release_id");
                let Some(release) = state.releases.iter_mut().find(|r| r["id"] == id) else {
                    return Reply::error(404, "Not Found");
                };
                merge(release, self.body);
                let release = release.clone();
                Reply::json(200, &release_with_assets(state, &release))
            }
            "repos/delete-release" => {
                let id = self.number("release_id");
                let before = state.releases.len();
                state.releases.retain(|r| r["id"] != id);
                if state.releases.len() == before {
                    return Reply::error(404, "Not Found");
                }
                state.assets.retain(|(release, _, _)| *release != id);
                Reply {
                    status: 204,
                    headers: Vec::new(),
                    body: Vec::new(),
                }
            }
            "repos/list-release-assets" => {
                let id = self.number("release_id");
                let items = state
                    .assets
                    .iter()
                    .filter(|(r, _, _)| *r == id)
                    .map(|(_, a, _)| a.clone())
                    .collect();
                self.paginate(items)
            }
            "repos/upload-release-asset" => self.upload_asset(state),
            "repos/get-release-asset" => {
                let id = self.number("asset_id");
                let Some((_, asset, _)) = state.assets.iter().find(|(_, a, _)| a["id"] == id)
                else {
                    return Reply::error(404, "Not Found");
                };
                if self.request.header("accept") == Some("application/octet-stream") {
                    return Reply {
                        status: 302,
                        headers: vec![(
                            "location".into(),
                            format!("{}/storage/assets/{id}", self.root),
                        )],
                        body: Vec::new(),
                    };
                }
                Reply::json(200, asset)
            }
            "repos/delete-release-asset" => {
                let id = self.number("asset_id");
                let before = state.assets.len();
                state.assets.retain(|(_, a, _)| a["id"] != id);
                if state.assets.len() == before {
                    return Reply::error(404, "Not Found");
                }
                Reply {
                    status: 204,
                    headers: Vec::new(),
                    body: Vec::new(),
                }
            }
            "git/create-tag" => {
                let sha = fake_sha(state.id());
                let mut tag = self.spec.example("git-tag");
                tag["sha"] = json!(sha);
                tag["node_id"] = json!(format!("TAG_{sha}"));
                tag["tag"] = self.body["tag"].clone();
                tag["message"] = self.body["message"].clone();
                tag["object"]["sha"] = self.body["object"].clone();
                tag["object"]["type"] = self.body["type"].clone();
                tag["url"] = json!(format!(
                    "{}/api/v3{}/{sha}",
                    self.root,
                    self.request.path.trim_start_matches("/api/v3")
                ));
                if let Some(tagger) = self.body.get("tagger") {
                    merge(&mut tag["tagger"], tagger);
                }
                state.tags.push(tag.clone());
                Reply::json(201, &tag)
            }
            "git/get-tag" => {
                let sha = self.matched.param("tag_sha");
                self.found(state.tags.iter().find(|t| t["sha"] == sha).cloned())
            }
            "git/create-ref" => {
                let name = self.body["ref"].as_str().unwrap_or_default();
                if state.refs.iter().any(|r| r["ref"] == name) {
                    return Reply::error(422, "Reference already exists");
                }
                let mut reference = self.spec.example("git-ref");
                reference["ref"] = json!(name);
                reference["object"]["sha"] = self.body["sha"].clone();
                reference["object"]["type"] =
                    json!(if state.tags.iter().any(|t| t["sha"] == self.body["sha"]) {
                        "tag"
                    } else {
                        "commit"
                    });
                state.refs.push(reference.clone());
                Reply::json(201, &reference)
            }
            "actions/generate-runner-jitconfig-for-repo"
            | "actions/generate-runner-jitconfig-for-org" => {
                let name = self.body["name"].as_str().unwrap_or_default();
                if state.runners.iter().any(|r| r["name"] == name) {
                    return Reply::error(
                        409,
                        "Already exists - A runner with the name already exists.",
                    );
                }
                let id = state.id();
                let mut answer = self.spec.example("runner-jitconfig");
                let labels: Vec<Value> = self.body["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, l)| json!({"id": i + 1, "name": l, "type": "custom"}))
                    .collect();
                answer["runner"]["id"] = json!(id);
                answer["runner"]["name"] = json!(name);
                answer["runner"]["labels"] = Value::Array(labels);
                answer["encoded_jit_config"] = json!(format!("JITCONFIG-{id}-{name}"));
                state.runners.push(answer["runner"].clone());
                Reply::json(201, &answer)
            }
            "git/list-matching-refs" => {
                let prefix = format!("refs/{}", self.matched.param("ref"));
                let refs: Vec<Value> = state
                    .refs
                    .iter()
                    .filter(|r| r["ref"].as_str().is_some_and(|n| n.starts_with(&prefix)))
                    .cloned()
                    .collect();
                Reply::json(200, &Value::Array(refs))
            }
            "git/get-ref" | "git/update-ref" | "git/delete-ref" => {
                let name = format!("refs/{}", self.matched.param("ref"));
                let Some(index) = state.refs.iter().position(|r| r["ref"] == name.as_str()) else {
                    return Reply::error(404, "Not Found");
                };
                match op {
                    "git/update-ref" => {
                        state.refs[index]["object"]["sha"] = self.body["sha"].clone();
                        Reply::json(200, &state.refs[index])
                    }
                    "git/delete-ref" => {
                        state.refs.remove(index);
                        Reply {
                            status: 204,
                            headers: Vec::new(),
                            body: Vec::new(),
                        }
                    }
                    _ => Reply::json(200, &state.refs[index]),
                }
            }
            other => Reply::error(
                501,
                &format!("the stand-in server does not implement {other}"),
            ),
        }
    }

    /// A numeric path parameter.
    fn number(&self, name: &str) -> u64 {
        self.matched.param(name).parse().unwrap_or(0)
    }

    /// 200 with the object, or 404.
    fn found(&self, value: Option<Value>) -> Reply {
        value.map_or_else(|| Reply::error(404, "Not Found"), |v| Reply::json(200, &v))
    }

    /// `GET /user`: 403 for installation tokens, as on GitHub.
    fn get_user(&self) -> Reply {
        match self.identity {
            Identity::Installation => Reply::error(403, "Resource not accessible by integration"),
            Identity::User(login) => {
                let mut user = self
                    .spec
                    .example("private-user-response-with-public-and-private-profile-information");
                user["login"] = json!(login);
                Reply::json(200, &user)
            }
        }
    }

    /// A comment as GitHub shows it.
    fn comment_json(&self, comment: &Comment) -> Value {
        let mut value = self.spec.example("issue-comment");
        let api = format!("{}/api/v3", self.root);
        let repo = format!(
            "{}/{}",
            self.matched.param("owner"),
            self.matched.param("repo")
        );
        value["id"] = json!(comment.id);
        value["node_id"] = json!(format!("IC_{}", comment.id));
        value["url"] = json!(format!("{api}/repos/{repo}/issues/comments/{}", comment.id));
        value["html_url"] = json!(format!(
            "{}/{repo}/pull/{}#issuecomment-{}",
            self.root, comment.issue, comment.id
        ));
        value["issue_url"] = json!(format!("{api}/repos/{repo}/issues/{}", comment.issue));
        value["body"] = json!(comment.body);
        value["user"]["login"] = json!(comment.author);
        value["user"]["type"] = json!(if comment.author.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        });
        value
    }

    /// A page of a list with a `Link` header (GitHub's default 30 per page, at most 100).
    fn paginate(&self, items: Vec<Value>) -> Reply {
        let per_page: usize = self
            .request
            .query("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let page: usize = self
            .request
            .query("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let last = items.len().div_ceil(per_page).max(1);
        let chunk: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let mut reply = Reply::json(200, &Value::Array(chunk));
        let url = |p: usize| {
            format!(
                "{}{}?per_page={per_page}&page={p}",
                self.root, self.request.path
            )
        };
        let mut links = Vec::new();
        if page < last {
            links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
            links.push(format!("<{}>; rel=\"last\"", url(last)));
        }
        if page > 1 {
            links.push(format!("<{}>; rel=\"prev\"", url(page - 1)));
            links.push(format!("<{}>; rel=\"first\"", url(1)));
        }
        if !links.is_empty() {
            reply.headers.push(("link".into(), links.join(", ")));
        }
        reply
    }

    /// `POST .../check-runs`.
    fn create_check_run(&self, state: &mut State) -> Reply {
        if let Some(reply) = self.check_output_limits() {
            return reply;
        }
        let id = state.id();
        let mut run = self.spec.example("check-run");
        run["id"] = json!(id);
        run["node_id"] = json!(format!("CR_{id}"));
        run["url"] = json!(format!(
            "{}/api/v3/repos/{}/{}/check-runs/{id}",
            self.root,
            self.matched.param("owner"),
            self.matched.param("repo")
        ));
        run["name"] = self.body["name"].clone();
        run["head_sha"] = self.body["head_sha"].clone();
        run["status"] = json!("queued");
        run["conclusion"] = Value::Null;
        run["completed_at"] = Value::Null;
        run["external_id"] = self.body.get("external_id").cloned().unwrap_or(json!(""));
        run["details_url"] = self.body.get("details_url").cloned().unwrap_or(Value::Null);
        run["output"] = json!({"title": null, "summary": null, "text": null, "annotations_count": 0, "annotations_url": format!("{}/annotations", run["url"].as_str().unwrap_or_default())});
        state.annotations.insert(id, Vec::new());
        apply_check_body(
            &mut run,
            self.body,
            state.annotations.entry(id).or_default(),
        );
        state.check_runs.push(run.clone());
        Reply::json(201, &run)
    }

    /// `GET|PATCH .../check-runs/{id}`.
    fn check_run(&self, state: &mut State, update: bool) -> Reply {
        let id = self.number("check_run_id");
        let Some(index) = state.check_runs.iter().position(|r| r["id"] == id) else {
            return Reply::error(404, "Not Found");
        };
        if update {
            if let Some(reply) = self.check_output_limits() {
                return reply;
            }
            let mut run = state.check_runs[index].clone();
            apply_check_body(
                &mut run,
                self.body,
                state.annotations.entry(id).or_default(),
            );
            state.check_runs[index] = run;
        }
        Reply::json(200, &state.check_runs[index])
    }

    /// GitHub's limits on a check run's output: 65,535-character summary, 50 annotations.
    fn check_output_limits(&self) -> Option<Reply> {
        let output = &self.body["output"];
        let summary = output["summary"].as_str().unwrap_or_default();
        if summary.chars().count() > 65_535 {
            return Some(Reply::error(
                422,
                "Invalid request.\n\nsummary is too long (maximum is 65535 characters)",
            ));
        }
        if output["annotations"]
            .as_array()
            .is_some_and(|a| a.len() > 50)
        {
            return Some(Reply::error(
                422,
                "Invalid request.\n\nOnly 50 annotations are allowed per request",
            ));
        }
        None
    }

    /// `POST .../releases`.
    fn create_release(&self, state: &mut State) -> Reply {
        let tag = self.body["tag_name"].as_str().unwrap_or_default();
        if state.releases.iter().any(|r| r["tag_name"] == tag) {
            return Reply::already_exists("Release", "tag_name");
        }
        let id = state.id();
        let repo = format!(
            "{}/{}",
            self.matched.param("owner"),
            self.matched.param("repo")
        );
        let mut release = self.spec.example("release");
        release["id"] = json!(id);
        release["node_id"] = json!(format!("RE_{id}"));
        release["url"] = json!(format!("{}/api/v3/repos/{repo}/releases/{id}", self.root));
        release["assets_url"] = json!(format!(
            "{}/api/v3/repos/{repo}/releases/{id}/assets",
            self.root
        ));
        release["upload_url"] = json!(format!(
            "{}/api/uploads/repos/{repo}/releases/{id}/assets{{?name,label}}",
            self.root
        ));
        release["html_url"] = json!(format!("{}/{repo}/releases/tag/{tag}", self.root));
        release["tag_name"] = json!(tag);
        release["name"] = self.body.get("name").cloned().unwrap_or(json!(tag));
        release["body"] = self.body.get("body").cloned().unwrap_or(Value::Null);
        release["draft"] = self.body.get("draft").cloned().unwrap_or(json!(false));
        release["prerelease"] = self.body.get("prerelease").cloned().unwrap_or(json!(false));
        release["target_commitish"] = self
            .body
            .get("target_commitish")
            .cloned()
            .unwrap_or(json!("main"));
        release["author"]["login"] = json!(self.login);
        release["assets"] = json!([]);
        state.releases.push(release.clone());
        Reply::json(201, &release)
    }

    /// `POST /api/uploads/.../assets?name=`.
    fn upload_asset(&self, state: &mut State) -> Reply {
        let release_id = self.number("release_id");
        if !state.releases.iter().any(|r| r["id"] == release_id) {
            return Reply::error(404, "Not Found");
        }
        let Some(name) = self.request.query("name") else {
            return Reply::error(422, "name is required");
        };
        if state
            .assets
            .iter()
            .any(|(r, a, _)| *r == release_id && a["name"] == name)
        {
            return Reply::already_exists("ReleaseAsset", "name");
        }
        let id = state.id();
        let bytes = self.request.body.clone();
        let repo = format!(
            "{}/{}",
            self.matched.param("owner"),
            self.matched.param("repo")
        );
        let mut asset = self.spec.example("release-asset");
        asset["id"] = json!(id);
        asset["node_id"] = json!(format!("RA_{id}"));
        asset["name"] = json!(name);
        asset["label"] = self
            .request
            .query("label")
            .map_or(Value::Null, |l| json!(l));
        asset["size"] = json!(bytes.len());
        asset["content_type"] = json!(self
            .request
            .header("content-type")
            .unwrap_or("application/octet-stream"));
        asset["state"] = json!("uploaded");
        asset["digest"] = json!(format!("sha256:{}", sha256_hex(&bytes)));
        asset["url"] = json!(format!(
            "{}/api/v3/repos/{repo}/releases/assets/{id}",
            self.root
        ));
        asset["browser_download_url"] = json!(format!("{}/storage/assets/{id}", self.root));
        asset["uploader"]["login"] = json!(self.login);
        state.assets.push((release_id, asset.clone(), bytes));
        Reply::json(201, &asset)
    }
}

/// A release with its current assets.
fn release_with_assets(state: &State, release: &Value) -> Value {
    let mut release = release.clone();
    let id = release["id"].clone();
    release["assets"] = state
        .assets
        .iter()
        .filter(|(r, _, _)| json!(r) == id)
        .map(|(_, a, _)| a.clone())
        .collect();
    release
}

/// Applies a create/update check-run body: status, conclusion, output (annotations appended).
fn apply_check_body(run: &mut Value, body: &Value, annotations: &mut Vec<Value>) {
    for key in ["name", "details_url", "external_id", "status", "started_at"] {
        if let Some(value) = body.get(key) {
            run[key] = value.clone();
        }
    }
    if let Some(conclusion) = body.get("conclusion") {
        run["conclusion"] = conclusion.clone();
        run["status"] = json!("completed");
        run["completed_at"] = body
            .get("completed_at")
            .cloned()
            .unwrap_or(json!("2026-01-01T00:00:00Z"));
    }
    if let Some(output) = body.get("output") {
        for key in ["title", "summary", "text"] {
            if let Some(value) = output.get(key) {
                run["output"][key] = value.clone();
            }
        }
        annotations.extend(
            output["annotations"]
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        run["output"]["annotations_count"] = json!(annotations.len());
    }
}

/// Shallow-merges `patch` into `target`.
fn merge(target: &mut Value, patch: &Value) {
    if let (Some(target), Some(patch)) = (target.as_object_mut(), patch.as_object()) {
        for (key, value) in patch {
            target.insert(key.clone(), value.clone());
        }
    }
}

/// GitHub's 422 for a body over its limit.
fn too_long(text: &str, limit: usize, resource: &str) -> Option<Reply> {
    (text.chars().count() > limit).then(|| {
        Reply::json(
            422,
            &json!({"message": "Validation Failed", "errors": [{"resource": resource, "code": "custom", "field": "body", "message": format!("body is too long (maximum is {limit} characters)")}], "documentation_url": "https://docs.github.com/rest"}),
        )
    })
}

/// A 40-hex sha from a counter.
fn fake_sha(n: u64) -> String {
    format!("{n:040x}")
}

/// sha256 as hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
