//! The fork flow's hand-over: the `pull_request` job (read-only token) writes the report and a
//! small `pr.json` into a directory it uploads as an artifact; the `workflow_run` job (write
//! token) downloads it and posts the comment.
//!
//! The artifact was produced by code from the fork, so it is untrusted data: files are size
//! limited, must be plain files directly in the directory (no symlinks out of it), and the PR
//! number is only believed when GitHub says that PR's head is the commit the triggering run
//! built.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::client::Client;
use super::context::{Repo, TriggeringRun};
use super::error::ApiError;

/// The PR description file in the artifact.
pub const PR_INFO_FILE: &str = "pr.json";

/// The report file in the artifact.
pub const REPORT_FILE: &str = "report.md";

/// The largest `pr.json` read.
const PR_INFO_LIMIT: u64 = 4 * 1024;

/// The largest report read (GitHub would show at most 64 KiB of it anyway).
const REPORT_LIMIT: u64 = 4 * 1024 * 1024;

/// `pr.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrInfo {
    /// Format version.
    pub schema_version: u32,
    /// The pull request.
    pub pr_number: u64,
    /// The commit the report is about.
    pub head_sha: String,
}

/// Writes the artifact directory: `report.md` and `pr.json`.
pub fn write(dir: &Path, info: &PrInfo, report: &str) -> anyhow::Result<()> {
    fs_err::create_dir_all(dir)?;
    fs_err::write(dir.join(REPORT_FILE), report)?;
    let json = serde_json::to_string_pretty(info)? + "\n";
    fs_err::write(dir.join(PR_INFO_FILE), json)?;
    Ok(())
}

/// Reads and checks an artifact directory.
pub fn read(dir: &Path) -> anyhow::Result<(PrInfo, String)> {
    let info_text = read_limited(&dir.join(PR_INFO_FILE), PR_INFO_LIMIT)?;
    let info: PrInfo = serde_json::from_str(&info_text).with_context(|| {
        format!(
            "`{}` is not a valid pr.json",
            dir.join(PR_INFO_FILE).display()
        )
    })?;
    if info.schema_version != 1 {
        anyhow::bail!(
            "`{PR_INFO_FILE}` has schema_version {}, expected 1",
            info.schema_version
        );
    }
    if info.pr_number == 0 {
        anyhow::bail!("`{PR_INFO_FILE}` names pull request 0");
    }
    if !is_sha(&info.head_sha) {
        anyhow::bail!(
            "`{PR_INFO_FILE}` has head_sha `{}`, not a 40-character hex sha",
            info.head_sha.escape_debug()
        );
    }
    let report = read_limited(&dir.join(REPORT_FILE), REPORT_LIMIT)?;
    Ok((info, report))
}

/// Reads a plain file (not a symlink) of at most `limit` bytes as UTF-8.
fn read_limited(path: &Path, limit: u64) -> anyhow::Result<String> {
    let meta = fs_err::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        anyhow::bail!("`{}` in the artifact is not a plain file", path.display());
    }
    if meta.len() > limit {
        anyhow::bail!(
            "`{}` in the artifact is {} bytes, over the {limit}-byte limit",
            path.display(),
            meta.len()
        );
    }
    let bytes = fs_err::read(path)?;
    String::from_utf8(bytes)
        .with_context(|| format!("`{}` in the artifact is not UTF-8", path.display()))
}

/// 40 lower- or upper-case hex digits.
fn is_sha(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why an artifact was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The artifact's sha is not the triggering run's.
    #[error("the artifact is about commit {artifact}, but the triggering run built {run}; refusing to post it")]
    ShaMismatch {
        /// From `pr.json`.
        artifact: String,
        /// From the `workflow_run` event.
        run: String,
    },
    /// GitHub says the PR's head is another commit.
    #[error("pull request #{pr} has head {head}, not {run} that the triggering run built; refusing to post (a newer run will report on the new head)")]
    HeadMismatch {
        /// The PR.
        pr: u64,
        /// Its head now.
        head: String,
        /// What the run built.
        run: String,
    },
    /// GitHub linked the run to other PRs.
    #[error("the triggering run belongs to pull requests {linked:?}, not #{pr}; refusing to post")]
    NotLinked {
        /// From `pr.json`.
        pr: u64,
        /// From the event.
        linked: Vec<u64>,
    },
}

/// Checks an artifact against the triggering run and GitHub's view of the PR.
pub fn verify(
    client: &Client,
    repo: &Repo,
    info: &PrInfo,
    run: &TriggeringRun,
) -> anyhow::Result<()> {
    if !info.head_sha.eq_ignore_ascii_case(&run.head_sha) {
        return Err(Refused::ShaMismatch {
            artifact: info.head_sha.clone(),
            run: run.head_sha.clone(),
        }
        .into());
    }
    // Fork PRs are never linked (the list is empty); same-repository ones must match.
    if !run.pull_requests.is_empty() && !run.pull_requests.contains(&info.pr_number) {
        return Err(Refused::NotLinked {
            pr: info.pr_number,
            linked: run.pull_requests.clone(),
        }
        .into());
    }
    let head = pull_head(client, repo, info.pr_number)
        .with_context(|| format!("could not read pull request #{}", info.pr_number))?;
    if !head.eq_ignore_ascii_case(&run.head_sha) {
        return Err(Refused::HeadMismatch {
            pr: info.pr_number,
            head,
            run: run.head_sha.clone(),
        }
        .into());
    }
    Ok(())
}

/// The head sha of a pull request.
fn pull_head(client: &Client, repo: &Repo, pr: u64) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Pull {
        head: Head,
    }
    #[derive(Deserialize)]
    struct Head {
        sha: String,
    }
    let pull: Pull = client.get(&format!("{}/pulls/{pr}", repo.api_path()))?;
    Ok(pull.head.sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let info = PrInfo {
            schema_version: 1,
            pr_number: 7,
            head_sha: SHA.into(),
        };
        write(dir.path(), &info, "# report\n").unwrap();
        let (back, report) = read(dir.path()).unwrap();
        assert_eq!(back, info);
        assert_eq!(report, "# report\n");
    }

    #[test]
    fn hostile_artifacts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let info = PrInfo {
            schema_version: 1,
            pr_number: 7,
            head_sha: SHA.into(),
        };
        write(dir.path(), &info, "r").unwrap();
        let pr = dir.path().join(PR_INFO_FILE);
        for bad in [
            r#"{"schema_version":1,"pr_number":7,"head_sha":"../../etc"}"#.to_string(),
            format!(r#"{{"schema_version":1,"pr_number":0,"head_sha":"{SHA}"}}"#),
            format!(r#"{{"schema_version":1,"pr_number":7,"head_sha":"{SHA}","extra":1}}"#),
            format!(
                r#"{{"schema_version":1,"pr_number":7,"head_sha":"{SHA}","pad":"{}"}}"#,
                "x".repeat(5000)
            ),
        ] {
            std::fs::write(&pr, bad).unwrap();
            assert!(read(dir.path()).is_err());
        }
        std::fs::remove_file(&pr).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", &pr).unwrap();
            let err = read(dir.path()).unwrap_err();
            assert!(err.to_string().contains("not a plain file"), "{err}");
        }
    }
}
