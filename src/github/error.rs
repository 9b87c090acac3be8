//! `ApiError`: what went wrong talking to GitHub, typed so that callers can branch on it (a
//! missing object, a read-only token, an object that already exists) and worded so that the
//! message names the call but never the token.

use std::fmt;
use std::time::Duration;

/// The HTTP methods the adapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads; always safe to repeat.
    Get,
    /// Creates; never repeated without looking the object up first.
    Post,
    /// Updates; repeating sends the same state again.
    Patch,
    /// Replaces; repeating sends the same state again.
    Put,
    /// Deletes; a repeat that finds nothing left counts as done.
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed GitHub call. The `call` field is `METHOD /path` (no host, no query string, never a
/// header), so the message is safe to print.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// GitHub answered with an error status.
    #[error("GitHub answered {status} to `{call}`: {message}")]
    Status {
        /// `METHOD /path`.
        call: String,
        /// The HTTP status.
        status: u16,
        /// GitHub's `message`, sanitised for a terminal (or the status text when none).
        message: String,
        /// The `code` of each entry in GitHub's `errors` list (`already_exists`, `invalid`...).
        codes: Vec<String>,
    },
    /// No answer: connection refused, reset, TLS failure or timeout.
    #[error("no answer from GitHub to `{call}`: {reason}")]
    Transport {
        /// `METHOD /path`.
        call: String,
        /// What the HTTP client said.
        reason: String,
    },
    /// An answer mlgate cannot use: not JSON, not the expected shape, too large.
    #[error("unexpected answer from GitHub to `{call}`: {reason}")]
    Unexpected {
        /// `METHOD /path`.
        call: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Retries ran out (attempts or the bounded total wait); `last` is the final failure.
    #[error("gave up after {attempts} attempt(s) and {:.1} s of waiting: {last}", waited.as_secs_f64())]
    GaveUp {
        /// How many requests were sent.
        attempts: u32,
        /// How long was spent sleeping between them.
        waited: Duration,
        /// The last failure.
        last: Box<ApiError>,
    },
}

impl ApiError {
    /// The HTTP status of the (last) failure, if GitHub answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            ApiError::GaveUp { last, .. } => last.status(),
            ApiError::Transport { .. } | ApiError::Unexpected { .. } => None,
        }
    }

    /// GitHub's message of the (last) failure, if it answered with one.
    pub fn message(&self) -> Option<&str> {
        match self {
            ApiError::Status { message, .. } => Some(message),
            ApiError::GaveUp { last, .. } => last.message(),
            ApiError::Transport { .. } | ApiError::Unexpected { .. } => None,
        }
    }

    /// 404: the object (or the repository, for a token that cannot see it) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 403 "Resource not accessible by integration" (or "by personal access token"): the token
    /// may read but not write, as a `pull_request` run from a fork gets.
    pub fn is_read_only(&self) -> bool {
        self.status() == Some(403)
            && self
                .message()
                .is_some_and(|m| m.to_ascii_lowercase().contains("not accessible by"))
    }

    /// 422 with an `already_exists` error: a create raced with another (or with our own earlier
    /// attempt that GitHub applied before failing to answer). The git refs API says it in its
    /// message alone (`Reference already exists`, no `errors` list).
    pub fn is_already_exists(&self) -> bool {
        match self {
            ApiError::Status {
                status,
                codes,
                message,
                ..
            } => {
                *status == 422
                    && (codes.iter().any(|c| c == "already_exists")
                        || message.eq_ignore_ascii_case("Reference already exists"))
            }
            ApiError::GaveUp { last, .. } => last.is_already_exists(),
            _ => false,
        }
    }

    /// Builds the error for an error status from GitHub's JSON body
    /// (`{"message": ..., "errors": [{"code": ...}]}`), tolerating any other body.
    pub fn from_status(method: Method, path: &str, status: u16, body: &[u8]) -> ApiError {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let message = json
            .get("message")
            .and_then(|m| m.as_str())
            .map(sanitise)
            .unwrap_or_else(|| default_reason(status).to_string());
        let codes = json
            .get("errors")
            .and_then(|e| e.as_array())
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e.get("code").and_then(|c| c.as_str()).map(sanitise))
                    .collect()
            })
            .unwrap_or_default();
        ApiError::Status {
            call: call(method, path),
            status,
            message,
            codes,
        }
    }
}

/// `METHOD /path` for messages: the path without scheme, host or query string.
pub fn call(method: Method, url_or_path: &str) -> String {
    let without_scheme = url_or_path
        .split_once("://")
        .map_or(url_or_path, |(_, rest)| rest);
    let path = if url_or_path.contains("://") {
        without_scheme
            .find('/')
            .map_or("/", |i| &without_scheme[i..])
    } else {
        without_scheme
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    format!("{method} {path}")
}

/// Makes text from a server fit for a terminal: no control characters (no ANSI escapes), at
/// most 300 characters.
pub fn sanitise(text: &str) -> String {
    const LIMIT: usize = 300;
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(LIMIT)
        .collect();
    if text.chars().count() > LIMIT {
        out.push('…');
    }
    out
}

/// A reason for a status when GitHub sent no message.
fn default_reason(status: u16) -> &'static str {
    match status {
        401 => "bad credentials",
        403 => "forbidden",
        404 => "not found",
        409 => "conflict",
        422 => "unprocessable entity",
        429 => "too many requests",
        500..=599 => "server error",
        _ => "unexpected status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_githubs_error_body() {
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}],"documentation_url":"https://docs.github.com"}"#;
        let err = ApiError::from_status(Method::Post, "/repos/o/r/releases", 422, body);
        assert!(err.is_already_exists());
        assert_eq!(
            err.to_string(),
            "GitHub answered 422 to `POST /repos/o/r/releases`: Validation Failed"
        );
    }

    #[test]
    fn an_existing_git_ref_is_recognised_by_its_message() {
        let body = br#"{"message":"Reference already exists","documentation_url":"https://docs.github.com/rest/git/refs#create-a-reference","status":"422"}"#;
        let err = ApiError::from_status(Method::Post, "/repos/o/r/git/refs", 422, body);
        assert!(err.is_already_exists());
        let other = ApiError::from_status(
            Method::Post,
            "/x",
            422,
            br#"{"message":"Validation Failed"}"#,
        );
        assert!(!other.is_already_exists());
    }

    #[test]
    fn read_only_token_is_recognised() {
        let body = br#"{"message":"Resource not accessible by integration"}"#;
        let err = ApiError::from_status(Method::Post, "/repos/o/r/issues/1/comments", 403, body);
        assert!(err.is_read_only());
        let limited = ApiError::from_status(
            Method::Post,
            "/x",
            403,
            br#"{"message":"You have exceeded a secondary rate limit"}"#,
        );
        assert!(!limited.is_read_only());
    }

    #[test]
    fn non_json_body_and_wrapped_errors() {
        let err = ApiError::from_status(Method::Get, "/x", 502, b"<html>bad gateway</html>");
        assert_eq!(err.message(), Some("server error"));
        let gave_up = ApiError::GaveUp {
            attempts: 3,
            waited: Duration::from_secs(2),
            last: Box::new(err),
        };
        assert_eq!(gave_up.status(), Some(502));
        assert!(!gave_up.is_not_found());
    }

    #[test]
    fn call_strips_host_and_query() {
        assert_eq!(
            call(
                Method::Get,
                "https://api.github.com/repos/o/r/issues/1/comments?per_page=100&page=2"
            ),
            "GET /repos/o/r/issues/1/comments"
        );
        assert_eq!(
            call(Method::Patch, "/repos/o/r/issues/comments/5"),
            "PATCH /repos/o/r/issues/comments/5"
        );
        assert_eq!(call(Method::Post, "http://127.0.0.1:9"), "POST /");
    }

    #[test]
    fn sanitise_drops_escapes_and_caps_length() {
        assert_eq!(sanitise("a\u{1b}[31mred\nx"), "a [31mred x");
        assert_eq!(sanitise(&"x".repeat(400)).chars().count(), 301);
    }
}
