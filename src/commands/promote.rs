//! `mlgate promote`: tag a passing model as the next version and build its release bundle.

use crate::cli::{BumpChoice, PromoteArgs};
use crate::config::LoadedConfig;
use crate::exit::Status;
use crate::release::local::{self, Outcome, Request};
use crate::release::version::{Bump, Version};
use crate::workflow::Workflow;

/// Runs the command.
pub fn run(args: &PromoteArgs) -> anyhow::Result<Status> {
    if !args.local {
        anyhow::bail!(
            "publishing a release through the GitHub API is not available in this build yet; run `mlgate promote --local` to tag with git and upload `<out>/release/` yourself"
        );
    }
    let request = request(args)?;
    if args.force {
        eprintln!("warning: `--force`: promoting whatever the evaluation's verdict");
    }
    let outcome = local::promote(&request)?;
    let workflow = Workflow::from_env();
    match outcome {
        Outcome::Refused { verdict } => {
            eprintln!(
                "error: not promoting: the evaluation's verdict is `{verdict}` (see `{}`)\nhint: fix the model, or pass `--force` to promote anyway",
                args.out.join("evaluation.json").display()
            );
            Ok(Status::GateFailed)
        }
        Outcome::Promoted {
            tag,
            reason,
            stage,
            bundle,
        } => {
            println!("promoted {tag} ({reason})");
            if let Some(stage) = &stage {
                println!("assigned {stage}");
            }
            println!(
                "release assets in `{}`; push the tags with `git push origin {tag}{}`",
                bundle.display(),
                stage.as_ref().map_or(String::new(), |s| format!(" {s}"))
            );
            set_outputs(&workflow, &tag.to_string(), &tag.version.to_string())?;
            Ok(Status::Passed)
        }
        Outcome::AlreadyPromoted { tag, stage, bundle } => {
            println!("this commit is already promoted as {tag}; nothing to do");
            if let Some(stage) = stage {
                println!("assigned {stage}, which an earlier run left out");
            }
            match bundle {
                Some(dir) => println!("release assets rebuilt in `{}`", dir.display()),
                None => println!(
                    "the run directory holds a different model than {tag}, so no release assets were written"
                ),
            }
            set_outputs(&workflow, &tag.to_string(), &tag.version.to_string())?;
            Ok(Status::Passed)
        }
    }
}

/// Validated settings from the flags.
fn request(args: &PromoteArgs) -> anyhow::Result<Request> {
    let version = args
        .version
        .as_deref()
        .map(|v| v.trim_start_matches('v').parse::<Version>())
        .transpose()?;
    Ok(Request {
        config: LoadedConfig::load(&args.config)?,
        out: args.out.clone(),
        commit: args.commit.clone().unwrap_or_else(|| "HEAD".into()),
        bump: args.bump.map(|b| match b {
            BumpChoice::Major => Bump::Major,
            BumpChoice::Minor => Bump::Minor,
            BumpChoice::Patch => Bump::Patch,
        }),
        version,
        force: args.force,
        run_url: args.run_url.clone().or_else(run_url_from_env),
    })
}

/// `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`, when all are set.
fn run_url_from_env() -> Option<String> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(format!(
        "{}/{}/actions/runs/{}",
        var("GITHUB_SERVER_URL")?,
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_RUN_ID")?
    ))
}

/// `version` and `tag` step outputs.
fn set_outputs(workflow: &Workflow, tag: &str, version: &str) -> anyhow::Result<()> {
    workflow.set_outputs(&[("tag", tag.to_string()), ("version", version.to_string())])
}
