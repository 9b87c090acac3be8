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
    /// Train the configured model on the training rows and score the evaluation rows.
    Train(TrainArgs),
    /// Compare the candidate with the champion on the same rows and apply the gate.
    Evaluate(EvaluateArgs),
    /// Validate, train and evaluate in one go, locally.
    Run(RunArgs),
    /// Find the champion: the newest `NAME@vX.Y.Z` tag the base branch reaches, its model and
    /// the history of promoted versions.
    Champion(ChampionArgs),
    /// Tag a model whose evaluation passed as the next version, with its release bundle.
    Promote(PromoteArgs),
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

/// Flags of `mlgate train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The project configuration.
    #[arg(long, short, default_value = "mlgate.yml", value_name = "PATH")]
    pub config: PathBuf,

    /// The run directory that receives `model/` and `predictions.csv`.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,
}

/// Flags of `mlgate evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The project configuration.
    #[arg(long, short, default_value = "mlgate.yml", value_name = "PATH")]
    pub config: PathBuf,

    /// The champion: a model directory (re-scored on this evaluation set), a predictions
    /// file, or `auto` (the newest version tag the base branch reaches; see `mlgate champion`).
    /// Without it the candidate is judged by absolute bounds only.
    #[arg(long, value_name = "DIR|PATH|auto")]
    pub baseline: Option<PathBuf>,

    /// With `--baseline auto`: the branch whose tags count (default: `$GITHUB_BASE_REF`, else
    /// `main`).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,

    /// With `--baseline auto`: a directory holding champion models in `NAME@vX.Y.Z/`.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// The candidate's predictions (default: `predictions.csv` in the run directory).
    #[arg(long, value_name = "PATH")]
    pub candidate: Option<PathBuf>,

    /// The run directory: holds the candidate and receives `evaluation.json`.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,

    /// Also write `evaluation.json` to this path.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

/// Flags of `mlgate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The project configuration.
    #[arg(long, short, default_value = "mlgate.yml", value_name = "PATH")]
    pub config: PathBuf,

    /// The champion, as for `mlgate evaluate --baseline` (`auto` included).
    #[arg(long, value_name = "DIR|PATH|auto")]
    pub baseline: Option<PathBuf>,

    /// With `--baseline auto`: the base branch, as for `mlgate evaluate --base`.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,

    /// With `--baseline auto`: the champion cache, as for `mlgate evaluate --cache`.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// Drift reference, as for `mlgate validate --reference`.
    #[arg(long, value_name = "PATH|git:REV", conflicts_with = "no_drift")]
    pub reference: Option<String>,

    /// Skip the drift comparison.
    #[arg(long)]
    pub no_drift: bool,

    /// Keep going to training and evaluation even when data validation fails.
    #[arg(long)]
    pub keep_going: bool,

    /// The run directory.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,
}

/// Flags of `mlgate champion`.
#[derive(Debug, Args)]
pub struct ChampionArgs {
    /// The project configuration (`release.name` names the model).
    #[arg(long, short, default_value = "mlgate.yml", value_name = "PATH")]
    pub config: PathBuf,

    /// The branch whose tags count (default: `$GITHUB_BASE_REF`, else `main`; `origin/REF` is
    /// tried when `REF` is unknown).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,

    /// A directory holding champion models in `NAME@vX.Y.Z/` subdirectories.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// The run directory that receives `champion.json`, `history.json` and `champion/`.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,
}

/// A version part, for `--bump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BumpChoice {
    /// `X+1.0.0`.
    Major,
    /// `X.Y+1.0`.
    Minor,
    /// `X.Y.Z+1`.
    Patch,
}

/// Flags of `mlgate promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The project configuration (`release:` section).
    #[arg(long, short, default_value = "mlgate.yml", value_name = "PATH")]
    pub config: PathBuf,

    /// The run directory holding `evaluation.json` and `model/`; receives `release/`.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,

    /// Tag the local repository with git only (for any forge); `release/` holds the assets to
    /// upload.
    #[arg(long)]
    pub local: bool,

    /// The commit to tag (default: `HEAD`).
    #[arg(long, value_name = "REV")]
    pub commit: Option<String>,

    /// Bump this part instead of applying the versioning rules (or `release.bump`).
    #[arg(long, value_name = "PART", conflicts_with = "version")]
    pub bump: Option<BumpChoice>,

    /// Use this exact version `X.Y.Z` (new, and above every existing one).
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<String>,

    /// Promote even though the evaluation did not pass (prints a warning).
    #[arg(long)]
    pub force: bool,

    /// The CI run to record in the tag (default: from `GITHUB_SERVER_URL`,
    /// `GITHUB_REPOSITORY` and `GITHUB_RUN_ID`).
    #[arg(long, value_name = "URL")]
    pub run_url: Option<String>,
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
