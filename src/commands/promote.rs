//! `mlgate promote`: tag a passing model as the next version and publish its release, through
//! the GitHub API or, with `--local`, with git in the local repository.

use anyhow::Context as _;

use crate::cli::{BumpChoice, PromoteArgs};
use crate::config::LoadedConfig;
use crate::exit::Status;
use crate::github::context::GithubContext;
use crate::github::release::GithubReleases;
use crate::release::forge::{self, ForgeOutcome};
use crate::release::local::{self, Outcome};
use crate::release::promotion::Request;
use crate::release::publish::Published;
use crate::release::version::{Bump, StageTag, Version, VersionTag};
use crate::workflow::Workflow;

/// Runs the command.
pub fn run(args: &PromoteArgs) -> anyhow::Result<Status> {
    let request = request(args)?;
    if args.force {
        eprintln!("warning: `--force`: promoting whatever the evaluation's verdict");
    }
    if args.local {
        run_local(args, &request)
    } else {
        run_github(args, &request)
    }
}

/// `--local`: git tags and `<out>/release/`.
fn run_local(args: &PromoteArgs, request: &Request) -> anyhow::Result<Status> {
    let workflow = Workflow::from_env();
    match local::promote(request)? {
        Outcome::Refused { verdict } => Ok(refused(args, &verdict)),
        Outcome::Promoted {
            tag,
            reason,
            stage,
            bundle,
        } => {
            println!("promoted {tag} ({reason})");
            print_stage(stage.as_ref());
            println!(
                "release assets in `{}`; push the tags with `git push origin {tag}{}`",
                bundle.display(),
                stage.as_ref().map_or(String::new(), |s| format!(" {s}"))
            );
            set_outputs(&workflow, &tag, None)?;
            Ok(Status::Passed)
        }
        Outcome::AlreadyPromoted { tag, stage, bundle } => {
            println!("this commit is already promoted as {tag}; nothing to do");
            print_late_stage(stage.as_ref());
            match bundle {
                Some(dir) => println!("release assets rebuilt in `{}`", dir.display()),
                None => println!(
                    "the run directory holds a different model than {tag}, so no release assets were written"
                ),
            }
            set_outputs(&workflow, &tag, None)?;
            Ok(Status::Passed)
        }
    }
}

/// Through the GitHub API: the tag, the release with its assets, the stage tag.
fn run_github(args: &PromoteArgs, request: &Request) -> anyhow::Result<Status> {
    let context = GithubContext::from_env().context(
        "promoting through the GitHub API needs the Actions context; elsewhere, `mlgate promote --local` tags with git",
    )?;
    let client = super::github_client(&context, args.token.clone(), "contents: write")?;
    let api = GithubReleases::new(&client, &context.repo);
    let workflow = Workflow::from_env();
    match forge::promote(request, &api)? {
        ForgeOutcome::Refused { verdict } => Ok(refused(args, &verdict)),
        ForgeOutcome::Promoted {
            tag,
            reason,
            stage,
            published,
            bundle,
        } => {
            println!("promoted {tag} ({reason})");
            print_published(&published);
            print_stage(stage.as_ref());
            println!("release assets also in `{}`", bundle.display());
            set_outputs(&workflow, &tag, Some(&published.url))?;
            Ok(Status::Passed)
        }
        ForgeOutcome::AlreadyPromoted {
            tag,
            stage,
            published,
        } => {
            println!("this commit is already promoted as {tag}");
            match &published {
                Some(p) if p.unchanged() => println!("its release is complete: {}", p.url),
                Some(p) => print_published(p),
                None => println!(
                    "the run directory holds a different model than {tag}, so its release was left as it is"
                ),
            }
            print_late_stage(stage.as_ref());
            set_outputs(&workflow, &tag, published.as_ref().map(|p| p.url.as_str()))?;
            Ok(Status::Passed)
        }
    }
}

/// The message and status for a verdict that does not allow promotion.
fn refused(args: &PromoteArgs, verdict: &str) -> Status {
    eprintln!(
        "error: not promoting: the evaluation's verdict is `{verdict}` (see `{}`)\nhint: fix the model, or pass `--force` to promote anyway",
        args.out.join("evaluation.json").display()
    );
    Status::GateFailed
}

/// What publishing did, one line each.
fn print_published(published: &Published) {
    if published.created_tag {
        println!("created the tag");
    }
    if published.created_release {
        println!("created the release as a draft");
    }
    for name in &published.replaced {
        println!("replaced the incomplete or different asset `{name}`");
    }
    if !published.uploaded.is_empty() {
        println!("uploaded {}", published.uploaded.join(", "));
    }
    if published.published {
        println!("published {}", published.url);
    }
}

/// The stage assignment made with a new version.
fn print_stage(stage: Option<&StageTag>) {
    if let Some(stage) = stage {
        println!("assigned {stage}");
    }
}

/// A stage assignment an earlier run left out.
fn print_late_stage(stage: Option<&StageTag>) {
    if let Some(stage) = stage {
        println!("assigned {stage}, which an earlier run left out");
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

/// `tag`, `version` and, when there is a release, `release_url` step outputs.
fn set_outputs(workflow: &Workflow, tag: &VersionTag, url: Option<&str>) -> anyhow::Result<()> {
    let mut outputs = vec![
        ("tag", tag.to_string()),
        ("version", tag.version.to_string()),
    ];
    if let Some(url) = url.filter(|u| !u.is_empty()) {
        outputs.push(("release_url", url.to_string()));
    }
    workflow.set_outputs(&outputs)
}
