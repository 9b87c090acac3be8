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
    /// Validate, train and evaluate in one go, locally, then write the report.
    Run(RunArgs),
    /// Post the report as one sticky pull-request comment (created once, then updated), and
    /// optionally a check run on the head commit.
    Comment(CommentArgs),
    /// Write `report.md` (the PR comment) and `report.html` from the run directory's files.
    Report(ReportArgs),
    /// Find the champion: the newest `NAME@vX.Y.Z` tag the base branch reaches, its model and
    /// the history of promoted versions.
    Champion(ChampionArgs),
    /// Tag a model whose evaluation passed as the next version, with its release bundle.
    Promote(PromoteArgs),
    /// Start a repository: `mlgate.yml` and the schema inferred from your data, and the
    /// GitHub workflows (pull request, comment, release, GPU, scheduled retraining).
    Init(InitArgs),
    /// The self-hosted GPU runner's host: health report and the job-start check.
    #[command(subcommand)]
    Runner(RunnerCommand),
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

    /// With `--baseline auto`: download a champion missing from the cache from its GitHub
    /// release (needs `GITHUB_REPOSITORY` and a token; the cache defaults to `<out>/cache`).
    #[arg(long)]
    pub download: bool,

    /// The GitHub token for `--download`.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<crate::github::Token>,

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

    /// With `--baseline auto`: download a missing champion, as for `mlgate evaluate --download`.
    #[arg(long)]
    pub download: bool,

    /// The GitHub token for `--download`.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<crate::github::Token>,

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

    /// What the report shows besides the stage files.
    #[command(flatten)]
    pub report: ReportFlags,
}

/// Flags of `mlgate report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory: holds the stage files and receives `report.md` and `report.html`.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,

    /// What the report shows besides the stage files.
    #[command(flatten)]
    pub report: ReportFlags,
}

/// Report flags shared by `mlgate report` and `mlgate run`.
#[derive(Debug, Clone, Args)]
pub struct ReportFlags {
    /// A link to the workflow run (default inside GitHub Actions:
    /// `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`).
    #[arg(long, value_name = "URL")]
    pub run_url: Option<String>,

    /// A title shown beside the verdict, such as the pull request's title (escaped).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

/// Flags of `mlgate comment`.
#[derive(Debug, Args)]
pub struct CommentArgs {
    /// The run directory: holds `report.md` and, for `--check`, `validation.json` /
    /// `evaluation.json`.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,

    /// The markdown to post (default: `report.md` in the run directory).
    #[arg(long, value_name = "PATH", conflicts_with = "from_artifact")]
    pub body: Option<PathBuf>,

    /// Names the sticky comment, so that several independent ones can live on one pull request.
    #[arg(long, default_value = "default", value_parser = crate::github::comment::Header::parse)]
    pub header: crate::github::comment::Header,

    /// The pull request (default: from the event).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pr: Option<u64>,

    /// The login whose comment is ours (default: the token's user, or `github-actions[bot]` for
    /// an Actions or App installation token).
    #[arg(long, value_name = "LOGIN")]
    pub author: Option<String>,

    /// The GitHub token.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<crate::github::Token>,

    /// Delete older duplicates of our comment (same header and author) instead of leaving them.
    #[arg(long)]
    pub delete_duplicates: bool,

    /// Also create or update a check run named `mlgate` (or `mlgate / HEADER`) on the head
    /// commit: the verdict as its conclusion, the report as its summary, failed data checks as
    /// annotations.
    #[arg(long)]
    pub check: bool,

    /// Fork flow, `pull_request` job: write `report.md` and `pr.json` into DIR for upload as an
    /// artifact, and post nothing.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["from_artifact", "check"])]
    pub write_pr_info: Option<PathBuf>,

    /// Fork flow, `workflow_run` job: post the report from an artifact written by
    /// `--write-pr-info`, after checking that the pull request's head is the commit the
    /// triggering run built.
    #[arg(long, value_name = "DIR", conflicts_with = "pr")]
    pub from_artifact: Option<PathBuf>,
}

/// Wraps a token value so that it never prints.
fn parse_token(value: &str) -> Result<crate::github::Token, String> {
    crate::github::Token::new(value).ok_or_else(|| "the token is empty".to_string())
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

    /// Download a champion missing from the cache from its GitHub release, verified against
    /// the tag's record (needs `GITHUB_REPOSITORY` and a token; the cache defaults to
    /// `<out>/cache`).
    #[arg(long)]
    pub download: bool,

    /// The GitHub token for `--download`.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<crate::github::Token>,

    /// The run directory that receives `champion.json`, `history.json` and `champion/`.
    #[arg(long, default_value = ".mlgate", value_name = "DIR")]
    pub out: PathBuf,
}

/// Flags of `mlgate init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The data file (CSV or Parquet), relative to `--dir`.
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "gpu_runner",
        requires = "target"
    )]
    pub data: Option<PathBuf>,

    /// The column to predict.
    #[arg(long, value_name = "COLUMN", requires = "data")]
    pub target: Option<String>,

    /// Write the self-hosted GPU runner profile (provisioning, hooks, systemd units,
    /// Kubernetes values) into this directory; alone, or with the repository files.
    #[arg(long, value_name = "DIR")]
    pub gpu_runner: Option<PathBuf>,

    /// The repository the profile's runners register with (`owner/name`).
    #[arg(
        long,
        value_name = "OWNER/NAME",
        requires = "gpu_runner",
        conflicts_with = "runner_org"
    )]
    pub runner_repo: Option<String>,

    /// The organisation the profile's runners register with.
    #[arg(long, value_name = "ORG", requires = "gpu_runner")]
    pub runner_org: Option<String>,

    /// A column that identifies rows (stable splits, uniqueness check).
    #[arg(long, value_name = "COLUMN")]
    pub id: Option<String>,

    /// The model's registry name (tags `NAME@vX.Y.Z`; default: the directory's name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// The repository root to write into.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,

    /// What the workflows put after `uses:` (a fork of the action, or `./` to test a checkout).
    #[arg(long, default_value = crate::scaffold::DEFAULT_ACTION, value_name = "REF")]
    pub action: String,

    /// Make the workflows build mlgate from the action's source instead of a release binary.
    #[arg(long)]
    pub build_from_source: bool,

    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
}

/// `mlgate runner` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RunnerCommand {
    /// Every GPU: model, UUID, driver and CUDA versions, memory, temperature, ECC errors,
    /// processes. Exit 4 on a host without a GPU.
    Doctor(DoctorArgs),
    /// The job-started hook: fails (exit 1) on uncorrectable ECC errors, a driver/library
    /// mismatch, leftover processes holding GPU memory or too little disk; exit 4 without a GPU.
    Check(CheckArgs),
    /// The job-completed hook: ends leftover processes of the runner's own user that still hold
    /// `/dev/nvidia*` (never anyone else's) and trims workspaces no job used lately.
    Cleanup(CleanupArgs),
    /// Register an ephemeral just-in-time runner and print its configuration for
    /// `run.sh --jitconfig` (never the token).
    Register(RegisterArgs),
}

/// Flags of `mlgate runner register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The runner's name (default: `mlgate-gpu-HOST-SECONDS`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Labels, comma-separated (default: self-hosted, linux, x64, gpu, the GPU model and
    /// `cuda-MAJOR` when a GPU is found).
    #[arg(long, value_delimiter = ',', value_name = "LABEL,...")]
    pub labels: Vec<String>,

    /// The runner group.
    #[arg(long, default_value_t = 1, value_name = "ID")]
    pub runner_group_id: u64,

    /// The work folder, relative to the runner's directory.
    #[arg(long, default_value = "_work", value_name = "DIR")]
    pub work_folder: String,

    /// Register for this organisation instead of the repository (`GITHUB_REPOSITORY` or
    /// `--repo`).
    #[arg(long, value_name = "ORG", conflicts_with = "repo")]
    pub org: Option<String>,

    /// The repository `owner/name` (default: `GITHUB_REPOSITORY`).
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// Write the configuration to this file (mode 0600) instead of standard output.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// A token that may administer the repository's or organisation's runners.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<crate::github::Token>,
}

/// Flags of `mlgate runner doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `mlgate runner check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The most MiB other processes may hold on one GPU when the job starts.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub max_foreign_mib: u64,

    /// The least free disk under the work directory, in GiB.
    #[arg(long, default_value_t = 10.0, value_name = "GIB")]
    pub min_free_disk_gib: f64,

    /// The work directory whose free space counts (default: `$GITHUB_WORKSPACE`, else `.`).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

/// Flags of `mlgate runner cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Show what would be ended and trimmed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Seconds a process gets to exit after SIGTERM before SIGKILL.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub grace_secs: u64,

    /// The runner's work directory (`_work`; default: the parent of `$RUNNER_WORKSPACE`);
    /// without one, no workspace is trimmed.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,

    /// Trim the workspaces no job used for this many hours (the current job's is always kept).
    #[arg(long, default_value_t = 72, value_name = "HOURS")]
    pub keep_hours: u64,

    /// End root's processes too when run as root (a runner should not run as root: this ends
    /// every root process holding a GPU that is not a known system daemon).
    #[arg(long)]
    pub allow_root: bool,
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
    /// upload. Without it, the tag and the release are made through the GitHub API.
    #[arg(long)]
    pub local: bool,

    /// The GitHub token (needs `contents: write`).
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, value_parser = parse_token, conflicts_with = "local")]
    pub token: Option<crate::github::Token>,

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
