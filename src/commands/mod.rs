//! Command dispatch: one module per subcommand, each `run(args) -> Result<Status>`.

mod champion;
mod comment;
mod evaluate;
mod promote;
mod report;
mod run;
mod train;
mod validate;

use crate::cli::{Cli, Command};
use crate::exit::Status;

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
