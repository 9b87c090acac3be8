//! Command-line definitions only (clap derive); the doc comments are the help text.
//!
//! Parsing stops here: commands turn these raw values into validated settings before any work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Continuous integration for machine learning: validate data, gate models, promote releases.
#[derive(Debug, Parser)]
#[command(name = "mlgate", version, about, long_about = None)]
pub struct Cli {
    /// The stage to run.
    #[command(subcommand)]
    pub command: Command,
}

/// One subcommand per pipeline stage.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the dataset against its schema and measure drift against a reference.
    Validate(ValidateArgs),
}

/// Flags of `mlgate validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The project configuration.
    #[arg(long, short, default_value = "mlgate.yml", value_name = "PATH")]
    pub config: PathBuf,

    /// Infer a schema from the data and write it to the path named by `schema:` in the config,
    /// instead of validating.
    #[arg(long)]
    pub infer: bool,

    /// With `--infer`: overwrite an existing schema file.
    #[arg(long, requires = "infer")]
    pub force: bool,

    /// Drift reference: `git:REV` (the data file at the merge-base of HEAD and REV), a data
    /// file, or a `profile.json`. Overrides `drift.reference` in the config.
    #[arg(long, value_name = "PATH|git:REV", conflicts_with = "no_drift")]
    pub reference: Option<String>,

    /// Skip the drift comparison even when the config names a reference.
    #[arg(long)]
    pub no_drift: bool,

    /// The run directory that receives `validation.json`, `profile.json` and `validation.md`.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,

    /// Also write `validation.json` to this path.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap's own consistency checks (conflicting names, bad defaults) run in tests, not at a
    /// user's first invocation.
    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
