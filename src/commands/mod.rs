//! Command dispatch: one module per subcommand, each `run(args) -> Result<Status>`.

mod champion;
mod comment;
mod evaluate;
mod init;
mod promote;
mod report;
mod run;
mod runner;
mod train;
mod validate;

use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::exit::Status;
use std::path::{Path, PathBuf};

use crate::baseline::Fetched;
use crate::github::context::{mask_command, GithubContext};
use crate::github::{Client, Token};
use crate::release::version::VersionTag;

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<Status> {
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Evaluate(args) => evaluate::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Comment(args) => comment::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Champion(args) => champion::run(&args),
        Command::Promote(args) => promote::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Runner(command) => runner::run(&command),
    }
}

/// The GitHub client for a publishing command: the token from `--token` / `GITHUB_TOKEN`
/// (`permissions` names what the workflow must grant), masked in the runner's log first.
fn github_client(
    context: &GithubContext,
    token: Option<Token>,
    permissions: &str,
) -> anyhow::Result<Client> {
    let token = token.with_context(|| {
        format!(
            "no GitHub token: pass `--token` or set `GITHUB_TOKEN` (in a workflow: `env: GITHUB_TOKEN: ${{{{ github.token }}}}` with `permissions: {permissions}`)"
        )
    })?;
    if let Some(mask) = mask_command(context.in_actions, &token) {
        println!("{mask}");
    }
    let config = context.client_config(Some(token), &|name| std::env::var(name).ok())?;
    Ok(Client::new(config))
}

/// Downloads champions from their GitHub releases, for `--download`.
struct Downloader {
    /// The repository.
    context: GithubContext,
    /// The client.
    client: Client,
}

impl Downloader {
    /// A downloader for the repository of the Actions context.
    fn new(token: Option<Token>) -> anyhow::Result<Downloader> {
        let context = GithubContext::from_env()
            .context("`--download` reads the champion's release from the GitHub repository")?;
        let client = github_client(&context, token, "contents: read")?;
        Ok(Downloader { context, client })
    }

    /// Downloads the model of `tag` into `dest`.
    fn fetch(&self, tag: &VersionTag, dest: &Path) -> anyhow::Result<Fetched> {
        crate::github::release::download_model(
            &self.client,
            &self.context.repo,
            &tag.to_string(),
            dest,
        )
    }
}

/// Finds the champion (`mlgate champion`, `--baseline auto`): its model from `cache`, else,
/// when `download` holds the token flag, from its GitHub release into the cache (`<out>/cache`
/// unless `--cache` names one).
fn find_champion(
    config: &crate::config::LoadedConfig,
    base: &str,
    cache: Option<&Path>,
    download: Option<Option<Token>>,
    out: &Path,
) -> anyhow::Result<crate::baseline::Found> {
    let downloader = match download {
        Some(token) => Some(Downloader::new(token)?),
        None => None,
    };
    let fetch = |tag: &VersionTag, dest: &Path| match &downloader {
        Some(d) => d.fetch(tag, dest),
        None => Ok(Fetched::Unavailable("not asked to download".into())),
    };
    let cache: Option<PathBuf> = cache
        .map(Path::to_path_buf)
        .or_else(|| downloader.is_some().then(|| out.join("cache")));
    let fetch = downloader
        .is_some()
        .then_some(&fetch as crate::baseline::Fetch<'_>);
    crate::baseline::find(config, base, cache.as_deref(), fetch, out)
}
