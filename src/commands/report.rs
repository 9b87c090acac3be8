//! `mlgate report`: `report.md` and `report.html` from the run directory, and the job summary.

use std::path::Path;

use crate::cli::{ReportArgs, ReportFlags};
use crate::exit::Status;
use crate::fsx::write_atomic;
use crate::report::document::{self, ReportOptions};
use crate::report::fit::Budget;
use crate::report::html;
use crate::report::run_dir::RunFiles;
use crate::workflow::Workflow;

/// Runs the command. The report describes verdicts but does not repeat them as an exit code:
/// the stages that decided them already did.
pub fn run(args: &ReportArgs) -> anyhow::Result<Status> {
    let files = RunFiles::load(&args.out)?;
    let options = options(&args.report);
    write(&args.out, &files, &options, &Workflow::from_env())?;
    Ok(Status::Passed)
}

/// Settings from flags, with the run link from GitHub Actions' variables when not given.
pub fn options(flags: &ReportFlags) -> ReportOptions {
    ReportOptions {
        title: flags.title.clone(),
        run_url: flags.run_url.clone().or_else(|| {
            let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
            let (server, repository, run) = (
                var("GITHUB_SERVER_URL")?,
                var("GITHUB_REPOSITORY")?,
                var("GITHUB_RUN_ID")?,
            );
            Some(format!("{server}/{repository}/actions/runs/{run}"))
        }),
    }
}

/// Writes `report.md`, and appends it to the job summary within what is left of it.
pub fn write(
    out: &Path,
    files: &RunFiles,
    options: &ReportOptions,
    workflow: &Workflow,
) -> anyhow::Result<()> {
    let markdown = document::render(files, options, Budget::comment())?;
    let path = out.join("report.md");
    write_atomic(&path, markdown.as_bytes())?;
    println!(
        "wrote `{}` ({} characters)",
        path.display(),
        markdown.chars().count()
    );
    let page = html::render(files, options)?;
    let html_path = out.join("report.html");
    write_atomic(&html_path, page.as_bytes())?;
    println!("wrote `{}` ({} bytes)", html_path.display(), page.len());
    workflow.set_outputs(&[
        ("report_md", path.display().to_string()),
        ("report_html", html_path.display().to_string()),
    ])?;
    if let Some(room) = workflow.summary_room() {
        let summary = if markdown.len() <= room {
            markdown
        } else {
            document::render(files, options, Budget::comment().within_bytes(room))?
        };
        workflow.append_summary(&summary)?;
    }
    Ok(())
}
