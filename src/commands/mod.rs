//! Command dispatch: one module per subcommand, each `run(args) -> Result<Status>`.

mod champion;
mod comment;
mod evaluate;
mod promote;
mod report;
mod run;
mod train;
mod validate;

use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::exit::Status;
use crate::github::context::{mask_command, GithubContext};
use crate::github::{Client, Token};

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
