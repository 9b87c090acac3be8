//! A small blocking GitHub REST client: JSON calls, `Link` pagination, uploads and downloads,
//! with retries that never create anything twice.
//!
//! Reads, updates and deletes (`GET`, `PATCH`, `PUT`, `DELETE`) are retried on 5xx, 429, rate
//! limited 403s and timeouts, with exponential backoff and jitter, honouring `retry-after` and
//! `x-ratelimit-reset` within a bounded total wait. A create (`POST`) is different: when it
//! fails without a clear "not done" answer GitHub may still have applied it, so the caller
//! supplies a `lookup` ("does the object exist now?") that runs before any second `POST`, and
//! that also answers a 422 `already_exists`. octocrab's retry layer re-sends POSTs blindly,
//! which is how duplicate comments and releases happen; see `docs/architecture.md` for why this
//! is built on `ureq` instead.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{call, ApiError, Method};
use super::link;
use super::retry::{decide, Answer, Backoff, Clock, Decision, RetryPolicy, SystemClock};
use super::token::Token;

/// The public GitHub API; GitHub Enterprise sets `GITHUB_API_URL` to `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version every request pins.
pub const API_VERSION: &str = "2022-11-28";

/// GitHub's JSON media type.
const ACCEPT_JSON: &str = "application/vnd.github+json";

/// The media type that makes the release-asset endpoint answer with the file (a redirect).
const ACCEPT_BYTES: &str = "application/octet-stream";

/// The largest JSON answer read (a page of 100 comments of 64 KiB each fits).
const JSON_LIMIT: u64 = 16 * 1024 * 1024;

/// A safety stop for `Link` pagination that loops.
const MAX_PAGES: usize = 1000;

/// How to build a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API root, e.g. `https://api.github.com` or `https://HOST/api/v3`.
    pub api_url: String,
    /// Sent as `Authorization: Bearer`; without one only public reads work.
    pub token: Option<Token>,
    /// `User-Agent` (GitHub rejects requests without one).
    pub user_agent: String,
    /// The limit on one request, connection to last byte.
    pub timeout: Duration,
    /// Retry limits.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// Defaults: 30 s per request, [`RetryPolicy::default`], `mlgate/VERSION` as user agent.
    pub fn new(api_url: &str, token: Option<Token>) -> ClientConfig {
        ClientConfig {
            api_url: api_url.trim_end_matches('/').to_string(),
            token,
            user_agent: concat!("mlgate/", env!("CARGO_PKG_VERSION")).to_string(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// One answer from GitHub, read in full.
#[derive(Debug, Clone)]
pub struct Response {
    /// `METHOD /path` of the request, for messages.
    call: String,
    /// HTTP status.
    pub status: u16,
    /// Headers, names in lower case.
    headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON; an empty body (204) reads as `null`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.is_empty() {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| ApiError::Unexpected {
            call: self.call.clone(),
            reason: format!("the body is not the expected JSON ({e})"),
        })
    }

    /// GitHub's `message` from an error body, if it sent one.
    fn message(&self) -> Option<String> {
        let json: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        json.get("message")?.as_str().map(str::to_string)
    }
}

/// One request, ready to send as often as needed.
#[derive(Debug)]
struct Request<'a> {
    /// The method.
    method: Method,
    /// The absolute URL.
    url: String,
    /// The body and its media type.
    body: Option<(&'a [u8], &'a str)>,
    /// `Accept`.
    accept: &'static str,
    /// The largest body read back.
    limit: u64,
}

impl Request<'_> {
    /// `METHOD /path`.
    fn call(&self) -> String {
        call(self.method, &self.url)
    }
}

/// The GitHub REST client. Cheap to share by reference; all methods take `&self`.
pub struct Client {
    /// The HTTP agent (connection pool, timeouts, TLS).
    agent: ureq::Agent,
    /// The API root without a trailing slash.
    api_url: String,
    /// The credentials.
    token: Option<Token>,
    /// `User-Agent`.
    user_agent: String,
    /// Retry limits.
    retry: RetryPolicy,
    /// Sleeping and time, replaceable in tests.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.api_url)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client that sleeps for real.
    pub fn new(config: ClientConfig) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .build()
            .new_agent();
        Client {
            agent,
            api_url: config.api_url.trim_end_matches('/').to_string(),
            token: config.token,
            user_agent: config.user_agent,
            retry: config.retry,
            clock: Arc::new(SystemClock::new()),
        }
    }

    /// Replaces the clock (tests use one that records sleeps instead of sleeping).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Client {
        self.clock = clock;
        self
    }

    /// The API root this client talks to.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// `GET` a JSON object. `path` is relative to the API root (`/repos/o/r/...`) or absolute.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send_idempotent(&self.json_request(Method::Get, path, None))?
            .json()
    }

    /// `GET` that reads a 404 as `None`, for "does it exist?" lookups.
    pub fn get_optional<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ApiError> {
        match self.get(path) {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET` every page of a list (`per_page=100`, then the `Link: rel="next"` URLs).
    ///
    /// A `next` URL on another host is refused rather than followed, so the token is never sent
    /// anywhere but the API root.
    pub fn get_all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ApiError> {
        let mut items = Vec::new();
        let mut url = with_per_page(&self.url(path));
        for _ in 0..MAX_PAGES {
            let request = self.json_request(Method::Get, &url, None);
            let page = self.send_idempotent(&request)?;
            items.extend(page.json::<Vec<T>>()?);
            let Some(next) = page.header("link").and_then(link::next_page) else {
                return Ok(items);
            };
            if !self.is_api_url(next) {
                return Err(ApiError::Unexpected {
                    call: request.call(),
                    reason: "the next page is on another host".to_string(),
                });
            }
            url = next.to_string();
        }
        Err(ApiError::Unexpected {
            call: call(Method::Get, path),
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// `PATCH` with a JSON body; retried like a read, since sending the same state twice is
    /// harmless.
    pub fn patch<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send_json(Method::Patch, path, body)
    }

    /// `PUT` with a JSON body; retried like a read.
    pub fn put<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send_json(Method::Put, path, body)
    }

    /// Sends a JSON body with a method that is safe to repeat and reads the JSON answer.
    fn send_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let bytes = to_json(method, path, body)?;
        self.send_idempotent(&self.json_request(method, path, Some(&bytes)))?
            .json()
    }

    /// `DELETE`. A 404 on a repeated attempt counts as done: the earlier one got through.
    pub fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.send_idempotent(&self.json_request(Method::Delete, path, None))
            .map(drop)
    }

    /// `POST` a JSON body that creates an object, never creating it twice.
    ///
    /// `lookup` answers "does the object exist now?" (a comment by marker and author, a release
    /// by tag...). It runs after any failure that might have been applied anyway (5xx, timeout,
    /// connection reset) before the `POST` is re-sent, and on a 422 `already_exists`; when it
    /// finds the object, that is the result.
    pub fn create<T, B, F>(&self, path: &str, body: &B, mut lookup: F) -> Result<T, ApiError>
    where
        T: DeserializeOwned,
        B: Serialize + ?Sized,
        F: FnMut() -> Result<Option<T>, ApiError>,
    {
        let bytes = to_json(Method::Post, path, body)?;
        let request = self.json_request(Method::Post, path, Some(&bytes));
        self.send_create(&request, &mut lookup)
    }

    /// `POST` raw bytes to an absolute URL (a release's `upload_url`, which is on another host:
    /// `uploads.github.com`, or `https://HOST/api/uploads` on GitHub Enterprise), with the same
    /// look-up-before-re-sending rule as [`Client::create`].
    pub fn upload<T, F>(
        &self,
        url: &str,
        content_type: &str,
        bytes: &[u8],
        mut lookup: F,
    ) -> Result<T, ApiError>
    where
        T: DeserializeOwned,
        F: FnMut() -> Result<Option<T>, ApiError>,
    {
        let request = Request {
            method: Method::Post,
            url: url.to_string(),
            body: Some((bytes, content_type)),
            accept: ACCEPT_JSON,
            limit: JSON_LIMIT,
        };
        self.send_create(&request, &mut lookup)
    }

    /// Downloads a release asset (`GET .../releases/assets/ID` with
    /// `Accept: application/octet-stream`), following the redirect to the storage host without
    /// sending the token there; at most `limit` bytes.
    pub fn download(&self, path: &str, limit: u64) -> Result<Vec<u8>, ApiError> {
        let request = Request {
            method: Method::Get,
            url: self.url(path),
            body: None,
            accept: ACCEPT_BYTES,
            limit,
        };
        Ok(self.send_idempotent(&request)?.body)
    }

    /// A JSON request against the API.
    fn json_request<'a>(&self, method: Method, path: &str, body: Option<&'a [u8]>) -> Request<'a> {
        Request {
            method,
            url: self.url(path),
            body: body.map(|b| (b, "application/json")),
            accept: ACCEPT_JSON,
            limit: JSON_LIMIT,
        }
    }

    /// An absolute URL for a path under the API root (absolute URLs pass through).
    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}/{}", self.api_url, path.trim_start_matches('/'))
        }
    }

    /// True when `url` is under the API root's scheme, host and port.
    fn is_api_url(&self, url: &str) -> bool {
        let origin = origin(&self.api_url);
        url.strip_prefix(origin)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Sends a request that is safe to repeat, until it succeeds, fails for good, or the retry
    /// budget runs out. Only 2xx comes back as `Ok`.
    fn send_idempotent(&self, request: &Request<'_>) -> Result<Response, ApiError> {
        let mut backoff = Backoff::new(self.retry);
        loop {
            backoff.sent();
            let outcome = self.attempt(request);
            if let Ok(response) = &outcome {
                if response.is_success() {
                    return outcome;
                }
                if response.status == 404
                    && request.method == Method::Delete
                    && backoff.attempts() > 1
                {
                    return outcome;
                }
            }
            let decision = self.decision(&outcome);
            let error = into_error(request, outcome);
            self.wait_or_give_up(&mut backoff, decision, error)?;
        }
    }

    /// Sends a create; see [`Client::create`].
    fn send_create<T: DeserializeOwned>(
        &self,
        request: &Request<'_>,
        lookup: &mut dyn FnMut() -> Result<Option<T>, ApiError>,
    ) -> Result<T, ApiError> {
        let mut backoff = Backoff::new(self.retry);
        loop {
            backoff.sent();
            let outcome = self.attempt(request);
            if let Ok(response) = &outcome {
                if response.is_success() {
                    return response.json();
                }
            }
            let decision = self.decision(&outcome);
            let error = into_error(request, outcome);
            if error.is_already_exists() {
                return lookup()?.ok_or(error);
            }
            self.wait_or_give_up(&mut backoff, decision, error)?;
            if let Some(found) = lookup()? {
                return Ok(found);
            }
        }
    }

    /// Sleeps before the next attempt, or returns the error when the decision or the budget
    /// says stop.
    fn wait_or_give_up(
        &self,
        backoff: &mut Backoff,
        decision: Decision,
        error: ApiError,
    ) -> Result<(), ApiError> {
        let Decision::Retry(hint) = decision else {
            return Err(error);
        };
        match backoff.next_wait(hint, self.clock.jitter()) {
            Some(wait) => {
                self.clock.sleep(wait);
                Ok(())
            }
            None => Err(ApiError::GaveUp {
                attempts: backoff.attempts(),
                waited: backoff.waited(),
                last: Box::new(error),
            }),
        }
    }

    /// Whether an attempt's outcome is worth another try. No answer at all (timeout, reset)
    /// is retried: for a create, the lookup that follows finds out whether it was applied.
    fn decision(&self, outcome: &Result<Response, ApiError>) -> Decision {
        match outcome {
            Err(_) => Decision::Retry(None),
            Ok(response) => {
                let message = response.message();
                let answer = Answer {
                    status: response.status,
                    retry_after: response.header("retry-after"),
                    ratelimit_remaining: response.header("x-ratelimit-remaining"),
                    ratelimit_reset: response.header("x-ratelimit-reset"),
                    message: message.as_deref(),
                };
                decide(&answer, self.clock.now_unix())
            }
        }
    }

    /// Sends one request and reads the whole answer, whatever its status.
    fn attempt(&self, request: &Request<'_>) -> Result<Response, ApiError> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.url)
            .header("accept", request.accept)
            .header("user-agent", &self.user_agent)
            .header("x-github-api-version", API_VERSION);
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {}", token.expose()));
        }
        let transport = |reason: String| ApiError::Transport {
            call: request.call(),
            reason,
        };
        let sent = match request.body {
            Some((bytes, content_type)) => builder
                .header("content-type", content_type)
                .body(bytes)
                .map(|r| self.agent.run(r)),
            None => builder.body(()).map(|r| self.agent.run(r)),
        };
        let mut answer = sent
            .map_err(|e| transport(format!("bad request: {e}")))?
            .map_err(|e| transport(describe(&e)))?;
        let headers = answer
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect();
        let status = answer.status().as_u16();
        let body = answer
            .body_mut()
            .with_config()
            .limit(request.limit)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(limit) => ApiError::Unexpected {
                    call: request.call(),
                    reason: format!("the answer is larger than {limit} bytes"),
                },
                other => transport(describe(&other)),
            })?;
        Ok(Response {
            call: request.call(),
            status,
            headers,
            body,
        })
    }
}

/// Serialises a request body.
fn to_json<B: Serialize + ?Sized>(
    method: Method,
    path: &str,
    body: &B,
) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(body).map_err(|e| ApiError::Unexpected {
        call: call(method, path),
        reason: format!("cannot encode the request body: {e}"),
    })
}

/// Turns a failed outcome into its error (a non-2xx answer becomes [`ApiError::Status`]).
fn into_error(request: &Request<'_>, outcome: Result<Response, ApiError>) -> ApiError {
    match outcome {
        Ok(response) => ApiError::from_status(
            request.method,
            &request.url,
            response.status,
            &response.body,
        ),
        Err(e) => e,
    }
}

/// A short description of a transport error, without the URL (messages name the call).
fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// `scheme://host:port` of a URL.
fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].find('/') {
        Some(i) => &url[..start + i],
        None => url,
    }
}

/// Adds `per_page=100` unless the URL already sets a page size.
fn with_per_page(url: &str) -> String {
    if url.contains("per_page=") {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}per_page=100")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_page_is_added_once() {
        assert_eq!(with_per_page("http://h/a"), "http://h/a?per_page=100");
        assert_eq!(
            with_per_page("http://h/a?x=1"),
            "http://h/a?x=1&per_page=100"
        );
        assert_eq!(
            with_per_page("http://h/a?per_page=5"),
            "http://h/a?per_page=5"
        );
    }

    #[test]
    fn paths_join_the_api_root_and_urls_pass_through() {
        let client = Client::new(ClientConfig::new("https://ghe.example/api/v3/", None));
        assert_eq!(
            client.url("/repos/o/r"),
            "https://ghe.example/api/v3/repos/o/r"
        );
        assert_eq!(
            client.url("https://uploads.example/x"),
            "https://uploads.example/x"
        );
        assert!(client.is_api_url("https://ghe.example/api/v3/repos/o/r?page=2"));
        assert!(!client.is_api_url("https://ghe.example.evil/api/v3/repos"));
        assert!(!client.is_api_url("http://ghe.example/api/v3/repos"));
    }

    #[test]
    fn debug_hides_the_token() {
        let token = Token::new("ghp_topsecret");
        let client = Client::new(ClientConfig::new(DEFAULT_API_URL, token));
        assert!(!format!("{client:?}").contains("topsecret"));
    }
}
