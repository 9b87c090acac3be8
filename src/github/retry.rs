//! When to try a GitHub call again, and how long to wait first.
//!
//! GitHub asks clients to back off on 5xx, on 429, and on 403 when it is a rate limit (primary:
//! `x-ratelimit-remaining: 0` with `x-ratelimit-reset`; secondary: a message and usually
//! `retry-after`). Everything here is pure apart from the [`Clock`], which tests replace so that
//! no test sleeps for real. Whether a failed *create* may be re-sent at all is the client's
//! decision (it looks the object up first); this module only says "wait this long".

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How persistent the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent at most for one call, the first included.
    pub max_attempts: u32,
    /// The first backoff delay; each later one doubles, with jitter.
    pub base_delay: Duration,
    /// The longest single backoff delay (a server's `retry-after` may ask for more).
    pub max_delay: Duration,
    /// The longest total sleep for one call; a server asking for more makes the call fail now
    /// rather than hang a CI job.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(120),
        }
    }
}

/// Time as the client sees it: sleeping, the wall clock (for `x-ratelimit-reset`) and jitter.
pub trait Clock: Send + Sync {
    /// Waits.
    fn sleep(&self, duration: Duration);
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> u64;
    /// A number in `[0, 1)` that spreads out clients retrying together.
    fn jitter(&self) -> f64;
}

/// The real clock, with a small xorshift generator for jitter (jitter needs no quality, and
/// a random-number crate would be a dependency for nothing else).
#[derive(Debug)]
pub struct SystemClock {
    /// Generator state.
    state: AtomicU64,
}

impl SystemClock {
    /// A clock whose jitter is seeded from the time and the process id.
    pub fn new() -> SystemClock {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos ^ (u64::from(std::process::id()) << 32) | 1;
        SystemClock {
            state: AtomicU64::new(seed),
        }
    }
}

impl Default for SystemClock {
    fn default() -> SystemClock {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn jitter(&self) -> f64 {
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The parts of an answer that decide whether to retry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Answer<'a> {
    /// HTTP status.
    pub status: u16,
    /// `retry-after`.
    pub retry_after: Option<&'a str>,
    /// `x-ratelimit-remaining`.
    pub ratelimit_remaining: Option<&'a str>,
    /// `x-ratelimit-reset` (Unix seconds).
    pub ratelimit_reset: Option<&'a str>,
    /// GitHub's `message`.
    pub message: Option<&'a str>,
}

/// What to do after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The answer is final (success, or an error that a retry cannot fix).
    Final,
    /// Try again, after the server's requested wait if it gave one.
    Retry(Option<Duration>),
}

/// GitHub's advice for a secondary rate limit that names no wait: at least a minute.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Classifies an answer.
pub fn decide(answer: &Answer<'_>, now_unix: u64) -> Decision {
    match answer.status {
        429 => Decision::Retry(Some(
            server_wait(answer, now_unix).unwrap_or(SECONDARY_LIMIT_WAIT),
        )),
        403 if is_rate_limited(answer) => Decision::Retry(Some(
            server_wait(answer, now_unix).unwrap_or(SECONDARY_LIMIT_WAIT),
        )),
        408 | 500..=599 => Decision::Retry(server_wait(answer, now_unix)),
        _ => Decision::Final,
    }
}

/// A 403 that is a rate limit rather than a permission problem.
fn is_rate_limited(answer: &Answer<'_>) -> bool {
    answer.retry_after.is_some()
        || answer.ratelimit_remaining.map(str::trim) == Some("0")
        || answer
            .message
            .is_some_and(|m| m.to_ascii_lowercase().contains("rate limit"))
}

/// The wait the server asked for: `retry-after` seconds, else the time until
/// `x-ratelimit-reset` when the quota is spent.
fn server_wait(answer: &Answer<'_>, now_unix: u64) -> Option<Duration> {
    if let Some(seconds) = answer
        .retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(seconds));
    }
    if answer.ratelimit_remaining.map(str::trim) == Some("0") {
        let reset = answer.ratelimit_reset?.trim().parse::<u64>().ok()?;
        // One second more: the reset time is rounded down.
        return Some(Duration::from_secs(reset.saturating_sub(now_unix) + 1));
    }
    None
}

/// Counts attempts and total sleep for one call.
#[derive(Debug)]
pub struct Backoff {
    /// The limits.
    policy: RetryPolicy,
    /// Requests sent so far.
    attempts: u32,
    /// Time slept so far.
    waited: Duration,
}

impl Backoff {
    /// A fresh budget; the first request counts once [`Backoff::sent`] is called.
    pub fn new(policy: RetryPolicy) -> Backoff {
        Backoff {
            policy,
            attempts: 0,
            waited: Duration::ZERO,
        }
    }

    /// Records one request sent.
    pub fn sent(&mut self) {
        self.attempts += 1;
    }

    /// Requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time slept so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// The wait before the next attempt, or `None` when the budget says stop. `hint` is the
    /// server's requested wait, honoured as given (never shortened).
    pub fn next_wait(&mut self, hint: Option<Duration>, jitter: f64) -> Option<Duration> {
        if self.attempts >= self.policy.max_attempts {
            return None;
        }
        let wait = hint.unwrap_or_else(|| self.exponential(jitter));
        if self.waited + wait > self.policy.max_total_wait {
            return None;
        }
        self.waited += wait;
        Some(wait)
    }

    /// `base * 2^(attempts-1)`, capped, with "equal jitter": half fixed, half random.
    fn exponential(&self, jitter: f64) -> Duration {
        let doublings = self.attempts.saturating_sub(1).min(16);
        let full = self
            .policy
            .base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.policy.max_delay);
        full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Answer<'static> {
        Answer {
            status,
            ..Answer::default()
        }
    }

    #[test]
    fn server_errors_retry_and_client_errors_do_not() {
        for code in [500, 502, 503, 504] {
            assert_eq!(decide(&status(code), 0), Decision::Retry(None), "{code}");
        }
        for code in [200, 201, 204, 400, 401, 404, 409, 422] {
            assert_eq!(decide(&status(code), 0), Decision::Final, "{code}");
        }
    }

    #[test]
    fn retry_after_is_honoured() {
        let answer = Answer {
            status: 429,
            retry_after: Some("7"),
            ..Answer::default()
        };
        assert_eq!(
            decide(&answer, 0),
            Decision::Retry(Some(Duration::from_secs(7)))
        );
        let answer = Answer {
            status: 503,
            retry_after: Some("2"),
            ..Answer::default()
        };
        assert_eq!(
            decide(&answer, 0),
            Decision::Retry(Some(Duration::from_secs(2)))
        );
    }

    #[test]
    fn forbidden_retries_only_when_it_is_a_rate_limit() {
        let read_only = Answer {
            status: 403,
            message: Some("Resource not accessible by integration"),
            ..Answer::default()
        };
        assert_eq!(decide(&read_only, 0), Decision::Final);
        let secondary = Answer {
            status: 403,
            message: Some("You have exceeded a secondary rate limit. Please wait a few minutes."),
            ..Answer::default()
        };
        assert_eq!(
            decide(&secondary, 0),
            Decision::Retry(Some(SECONDARY_LIMIT_WAIT))
        );
        let primary = Answer {
            status: 403,
            ratelimit_remaining: Some("0"),
            ratelimit_reset: Some("1000"),
            message: Some("API rate limit exceeded"),
            ..Answer::default()
        };
        assert_eq!(
            decide(&primary, 990),
            Decision::Retry(Some(Duration::from_secs(11)))
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_limits() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(5),
            max_total_wait: Duration::from_secs(60),
        };
        let mut backoff = Backoff::new(policy);
        let mut waits = Vec::new();
        loop {
            backoff.sent();
            match backoff.next_wait(None, 0.0) {
                Some(wait) => waits.push(wait.as_secs_f64()),
                None => break,
            }
        }
        // 2, 4, then capped at 5; with zero jitter each is half of that.
        assert_eq!(waits, vec![1.0, 2.0, 2.5]);
        assert_eq!(backoff.attempts(), 4);

        let mut backoff = Backoff::new(policy);
        backoff.sent();
        assert_eq!(
            backoff.next_wait(None, 0.999_999).map(|d| d.as_secs()),
            Some(1)
        );
    }

    #[test]
    fn a_server_wait_beyond_the_total_budget_gives_up_at_once() {
        let mut backoff = Backoff::new(RetryPolicy::default());
        backoff.sent();
        assert_eq!(
            backoff.next_wait(Some(Duration::from_secs(3600)), 0.5),
            None
        );
        assert_eq!(backoff.waited(), Duration::ZERO);
        assert_eq!(
            backoff.next_wait(Some(Duration::from_secs(3)), 0.5),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn system_jitter_stays_in_range() {
        let clock = SystemClock::new();
        for _ in 0..1000 {
            let j = clock.jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
