//! `mlgate comment`: the sticky PR comment, the check run, and the fork flow's two halves.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::CommentArgs;
use crate::exit::Status;
use crate::github::artifact::{self, PrInfo};
use crate::github::check::{self, upsert_check};
use crate::github::comment::{self, sticky_body, token_author, upsert};
use crate::github::context::GithubContext;
use crate::github::{ApiError, Client};
use crate::workflow::{Level, Workflow};

/// Runs the command.
pub fn run(args: &CommentArgs) -> anyhow::Result<Status> {
    let context = GithubContext::from_env()?;
    if let Some(dir) = &args.write_pr_info {
        return write_pr_info(args, &context, dir);
    }
    let client = super::github_client(
        &context,
        args.token.clone(),
        "pull-requests: write, checks: write",
    )?;
    let target = target(args, &context, &client)?;
    let workflow = Workflow::from_env();
    let body = sticky_body(&args.header, &target.report);
    if let Some(pr) = target.pr {
        let author = match &args.author {
            Some(author) => author.clone(),
            None => token_author(&client)
                .context("could not find out who the token is (pass `--author LOGIN` to say)")?,
        };
        let posted = upsert(
            &client,
            &context.repo,
            pr,
            &args.header,
            &author,
            &body,
            args.delete_duplicates,
        );
        match posted {
            Ok(done) => report_upsert(pr, &done),
            Err(e) if e.is_read_only() => return read_only_fallback(&workflow, &target.report, e),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "could not post the sticky comment on pull request #{pr}"
                )))
            }
        }
    } else if !args.check {
        anyhow::bail!(
            "no pull request to comment on: the event is `{}`; pass `--pr N`",
            context.event_name
        );
    }
    if args.check {
        let sha = target
            .head_sha
            .as_deref()
            .context("no commit for the check run: `GITHUB_SHA` is not set")?;
        let failed = format!("could not create or update the check run on {sha}");
        match post_check(&client, &context, args, sha, &target.report) {
            Ok(()) => {}
            Err(CheckError::Api(e)) if e.is_read_only() => {
                return read_only_fallback(&workflow, &target.report, e)
            }
            // The API error itself goes into the chain so that it maps to exit code 3.
            Err(CheckError::Api(e)) => return Err(anyhow::Error::new(e).context(failed)),
            Err(CheckError::Input(e)) => return Err(e.context(failed)),
        }
    }
    Ok(Status::Passed)
}

/// Where to post and what.
struct Target {
    /// The pull request, if any.
    pr: Option<u64>,
    /// The commit for the check run.
    head_sha: Option<String>,
    /// The report markdown.
    report: String,
}

/// Resolves the pull request, the commit and the report: from an artifact (checked against
/// GitHub), or from the event and the run directory.
fn target(args: &CommentArgs, context: &GithubContext, client: &Client) -> anyhow::Result<Target> {
    if let Some(dir) = &args.from_artifact {
        let run = context.event.triggering_run.as_ref().with_context(|| {
            format!(
                "`--from-artifact` needs a `workflow_run` event, not `{}`",
                context.event_name
            )
        })?;
        let (info, report) = artifact::read(dir)?;
        artifact::verify(client, &context.repo, &info, run)?;
        return Ok(Target {
            pr: Some(info.pr_number),
            head_sha: Some(info.head_sha),
            report,
        });
    }
    Ok(Target {
        pr: args.pr.or(context.event.pr_number),
        head_sha: context.head_sha().map(str::to_string),
        report: read_report(&report_path(args))?,
    })
}

/// `--body`, or `report.md` in the run directory.
fn report_path(args: &CommentArgs) -> PathBuf {
    args.body
        .clone()
        .unwrap_or_else(|| args.out.join(artifact::REPORT_FILE))
}

/// Reads the report, with a hint when it is missing.
fn read_report(path: &Path) -> anyhow::Result<String> {
    if !path.exists() {
        anyhow::bail!(
            "no report at `{}`; run `mlgate report` first or pass `--body PATH`",
            path.display()
        );
    }
    Ok(fs_err::read_to_string(path)?)
}

/// `--write-pr-info DIR`: the fork flow's first half, no API calls.
fn write_pr_info(
    args: &CommentArgs,
    context: &GithubContext,
    dir: &Path,
) -> anyhow::Result<Status> {
    let pr = args.pr.or(context.event.pr_number).with_context(|| {
        format!(
            "no pull request number: the event is `{}`; pass `--pr N`",
            context.event_name
        )
    })?;
    let head_sha = context
        .head_sha()
        .context("no head commit: neither the event nor `GITHUB_SHA` names one")?
        .to_string();
    let report = read_report(&report_path(args))?;
    let info = PrInfo {
        schema_version: 1,
        pr_number: pr,
        head_sha,
    };
    artifact::write(dir, &info, &report)?;
    println!(
        "wrote `{}` and `{}` in `{}` for pull request #{pr}; upload the directory as an artifact",
        artifact::REPORT_FILE,
        artifact::PR_INFO_FILE,
        dir.display()
    );
    Ok(Status::Passed)
}

/// The check run.
fn post_check(
    client: &Client,
    context: &GithubContext,
    args: &CommentArgs,
    sha: &str,
    report: &str,
) -> Result<(), CheckError> {
    let verdict = check::verdict_from_run_dir(&args.out).map_err(CheckError::Input)?;
    let annotations = check::annotations_from_run_dir(&args.out).map_err(CheckError::Input)?;
    let name = check::check_name(&args.header);
    let done = upsert_check(
        client,
        &context.repo,
        sha,
        &name,
        &verdict,
        report,
        &annotations,
    )
    .map_err(CheckError::Api)?;
    println!(
        "check run `{name}` {} on {sha}: {} ({} annotations sent)",
        done.action, verdict.conclusion, done.annotations_sent
    );
    Ok(())
}

/// A check-run failure: bad run-directory files, or GitHub.
#[derive(Debug)]
enum CheckError {
    /// The run directory.
    Input(anyhow::Error),
    /// GitHub.
    Api(ApiError),
}

/// Prints what the upsert did.
fn report_upsert(pr: u64, done: &comment::Upserted) {
    println!(
        "sticky comment {} on pull request #{pr}: {}",
        done.action, done.url
    );
    if done.duplicates > 0 {
        let what = if done.duplicates_deleted {
            "deleted"
        } else {
            "left alone (pass `--delete-duplicates` to remove them)"
        };
        println!(
            "{} older duplicate(s) of this comment {what}",
            done.duplicates
        );
    }
    let _ = std::io::stdout().flush();
}

/// A read-only token (a `pull_request` run from a fork): the report goes to the job summary,
/// a warning says why, and the step succeeds.
fn read_only_fallback(
    workflow: &Workflow,
    report: &str,
    error: impl std::fmt::Display,
) -> anyhow::Result<Status> {
    workflow.append_summary(report)?;
    let message = format!(
        "the token cannot write to this repository ({error}); the report is in the job summary. For pull requests from forks, use `--write-pr-info` here and `--from-artifact` in a `workflow_run` job"
    );
    match workflow.annotation(Level::Warning, None, None, "mlgate comment", &message) {
        Some(line) => println!("{line}"),
        None => eprintln!("warning: {message}"),
    }
    Ok(Status::Passed)
}
