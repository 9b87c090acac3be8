//! Running a user's own trainer or scorer: `sh -c COMMAND` with the paths in environment
//! variables, a timeout, and an error that says what went wrong.
//!
//! The command runs in its own process group so that a timeout stops everything it started (a
//! Python trainer's worker processes included), first politely (SIGTERM), then for good
//! (SIGKILL). Its stdout passes straight through to our log; its stderr passes through too, and
//! its last lines are kept for the error message, because in CI the reason a trainer died is
//! almost always on its last lines of stderr. When the main process exits, whatever it left
//! running in its group is stopped too, so nothing outlives the job or its time limit.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of stderr kept for the error message.
const STDERR_TAIL_LINES: usize = 20;

/// Grace period between SIGTERM and SIGKILL on timeout.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How often the child is polled.
const POLL: Duration = Duration::from_millis(20);

/// An external command that did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// It could not be started.
    #[error("cannot start the {role} command `{command}`: {reason}")]
    Spawn {
        /// `train` or `predict`.
        role: &'static str,
        /// The command line.
        command: String,
        /// The OS error.
        reason: String,
    },
    /// It exited with a failure status.
    #[error("the {role} command `{command}` failed ({status}){tail}")]
    Failed {
        /// `train` or `predict`.
        role: &'static str,
        /// The command line.
        command: String,
        /// Exit code or signal.
        status: String,
        /// Its last stderr lines, formatted.
        tail: String,
    },
    /// It ran past its timeout and was stopped.
    #[error("the {role} command `{command}` ran longer than {seconds} s and was stopped{tail}")]
    TimedOut {
        /// `train` or `predict`.
        role: &'static str,
        /// The command line.
        command: String,
        /// The limit.
        seconds: u64,
        /// Its last stderr lines, formatted.
        tail: String,
    },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    /// `train` or `predict`, for messages.
    pub role: &'static str,
    /// The shell command line.
    pub command: &'a str,
    /// Working directory.
    pub dir: &'a Path,
    /// Extra environment variables.
    pub env: Vec<(&'static str, String)>,
    /// Time limit.
    pub timeout: Duration,
}

/// Runs the job to completion; `Ok` only for exit status 0 within the time limit.
pub fn run(job: &Job<'_>) -> Result<(), ExternalError> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(job.command)
        .current_dir(job.dir)
        .envs(job.env.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(|e| ExternalError::Spawn {
        role: job.role,
        command: job.command.to_string(),
        reason: e.to_string(),
    })?;
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let relay = child.stderr.take().map(|stderr| {
        let tail = Arc::clone(&tail);
        std::thread::spawn(move || relay_stderr(stderr, &tail))
    });
    let started = Instant::now();
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= job.timeout => break None,
            Ok(None) => std::thread::sleep(POLL),
            Err(_) => break None,
        }
    };
    let status = match outcome {
        Some(status) => status,
        None => {
            stop_group(child.id());
            let deadline = Instant::now() + KILL_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(POLL);
            }
            kill_group(child.id());
            let _ = child.wait();
            if let Some(relay) = relay {
                let _ = relay.join();
            }
            return Err(ExternalError::TimedOut {
                role: job.role,
                command: job.command.to_string(),
                seconds: job.timeout.as_secs(),
                tail: format_tail(&tail),
            });
        }
    };
    // Processes the command left behind (a worker pool, `cmd &`) would hold its stderr open
    // and keep running past the time limit; the job is over when its main process is.
    stop_group(child.id());
    if let Some(relay) = relay {
        let deadline = Instant::now() + KILL_GRACE;
        while !relay.is_finished() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        if !relay.is_finished() {
            kill_group(child.id());
        }
        let _ = relay.join();
    }
    if status.success() {
        return Ok(());
    }
    Err(ExternalError::Failed {
        role: job.role,
        command: job.command.to_string(),
        status: describe(status),
        tail: format_tail(&tail),
    })
}

/// Copies the child's stderr to ours, keeping the last lines.
fn relay_stderr(stderr: impl std::io::Read, tail: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let _ = std::io::stderr().write_all(&line);
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                if let Ok(mut tail) = tail.lock() {
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(text);
                }
            }
        }
    }
}

/// The kept stderr lines as an indented block, or nothing.
fn format_tail(tail: &Mutex<VecDeque<String>>) -> String {
    let lines = tail.lock().map(|t| t.clone()).unwrap_or_default();
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("; its last lines of stderr:");
    for line in lines {
        out.push_str("\n    ");
        out.push_str(&line);
    }
    out
}

/// "exit code 3" or "killed by signal 9".
fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    "no exit code".into()
}

/// Sends SIGTERM to the process group (the child leads its own group).
fn stop_group(pid: u32) {
    signal_group("-TERM", pid);
}

/// Sends SIGKILL to the process group.
fn kill_group(pid: u32) {
    signal_group("-KILL", pid);
}

/// `kill SIGNAL -- -PGID`, through the `kill` utility so no unsafe code is needed.
fn signal_group(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job running `command` in a temporary directory.
    fn job(command: &str, dir: &Path, timeout: Duration) -> Job<'static> {
        Job {
            role: "train",
            command: Box::leak(command.to_string().into_boxed_str()),
            dir: Box::leak(dir.to_path_buf().into_boxed_path()),
            env: vec![("MLGATE_TEST_VALUE", "hello".into())],
            timeout,
        }
    }

    #[test]
    fn passes_the_environment_and_succeeds() {
        let dir = tempfile::tempdir().expect("dir");
        let j = job(
            "printf '%s' \"$MLGATE_TEST_VALUE\" > out.txt",
            dir.path(),
            Duration::from_secs(10),
        );
        run(&j).expect("runs");
        let written = std::fs::read_to_string(dir.path().join("out.txt")).expect("written");
        assert_eq!(written, "hello");
    }

    #[test]
    fn a_crash_reports_the_status_and_the_last_stderr_lines() {
        let dir = tempfile::tempdir().expect("dir");
        let j = job(
            "echo starting >&2; echo 'ValueError: bad column' >&2; exit 3",
            dir.path(),
            Duration::from_secs(10),
        );
        let text = run(&j).expect_err("fails").to_string();
        assert!(text.contains("failed (exit code 3)"), "{text}");
        assert!(text.contains("ValueError: bad column"), "{text}");
    }

    #[test]
    fn a_hang_is_stopped_at_the_timeout_with_its_children() {
        let dir = tempfile::tempdir().expect("dir");
        // The grandchild would write the file after 3 s if it survived the group kill.
        let j = job(
            "(sleep 3; touch survived) & sleep 30",
            dir.path(),
            Duration::from_millis(300),
        );
        let started = Instant::now();
        let err = run(&j).expect_err("times out");
        assert!(matches!(err, ExternalError::TimedOut { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(3500));
        assert!(!dir.path().join("survived").exists());
    }

    #[test]
    fn processes_left_behind_are_stopped_when_the_command_exits() {
        let dir = tempfile::tempdir().expect("dir");
        let j = job(
            "(sleep 3; touch survived) & exit 0",
            dir.path(),
            Duration::from_secs(30),
        );
        let started = Instant::now();
        run(&j).expect("the command itself succeeded");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(3500));
        assert!(!dir.path().join("survived").exists());
    }

    #[test]
    fn a_missing_program_is_a_failure_with_the_shell_message() {
        let dir = tempfile::tempdir().expect("dir");
        let j = job(
            "no-such-trainer-xyz --fit",
            dir.path(),
            Duration::from_secs(10),
        );
        let text = run(&j).expect_err("fails").to_string();
        assert!(text.contains("exit code 127"), "{text}");
        assert!(text.contains("not found"), "{text}");
    }
}
