//! Finding the champion: the newest version tag `NAME@vX.Y.Z` that the base branch reaches,
//! its model (from a verified local cache) or, failing that, the metrics its tag recorded,
//! and the history of every promoted version for the report's chart.
//!
//! Writes `champion.json`, `history.json` and, when the model can be had, `champion/` in the
//! run directory, so `mlgate evaluate` (or any other tool) can use them without git.

pub mod cache;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::LoadedConfig;
use crate::git::{rfc3339, DataRepo};
use crate::release::registry::{PromotedVersion, Registry};
use crate::release::version::{Version, VersionTag};
use crate::report::history::{PromotedVersion as HistoryVersion, HISTORY_SCHEMA_VERSION};

/// The champion's model directory under the run directory.
pub const CHAMPION_DIR: &str = "champion";

/// The champion's description under the run directory.
pub const CHAMPION_FILE: &str = "champion.json";

/// The promoted versions' metrics under the run directory.
pub use crate::report::history::{History, HISTORY_FILE};

/// Layout version of `champion.json` and `history.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the champion's model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A local cache directory (`--cache`), verified.
    Cache,
    /// Downloaded from the version's release into the cache (`--download`), verified.
    Release,
    /// The model could not be had: only the metrics recorded in its tag.
    Recorded,
    /// No version reachable from the base: this is the first model.
    None,
}

/// `champion.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ChampionReport {
    /// Layout version.
    pub schema_version: u32,
    /// The registry name.
    pub name: String,
    /// The base revision as given.
    pub base: String,
    /// The commit it resolved to.
    pub base_commit: String,
    /// The champion's tag.
    pub tag: Option<String>,
    /// Its version.
    pub version: Option<Version>,
    /// The commit the tag points at.
    pub commit: Option<String>,
    /// When it was tagged (RFC 3339, UTC).
    pub date: Option<String>,
    /// Where its model came from.
    pub source: Source,
    /// The model directory, relative to the run directory, when the model was had.
    pub model_dir: Option<String>,
    /// sha256 of its `manifest.json` (recorded in the tag, checked against the model).
    pub manifest_sha256: Option<String>,
    /// Its feature-schema hash, as recorded.
    pub feature_schema_hash: Option<String>,
    /// Its primary metric, as recorded.
    pub primary: Option<String>,
    /// Its metrics as recorded at promotion, on its own evaluation set.
    pub metrics: BTreeMap<String, f64>,
    /// Skipped tags and other things to know.
    pub notes: Vec<String>,
}

/// The outcome of a search.
#[derive(Debug, Clone)]
pub struct Found {
    /// `champion.json`.
    pub report: ChampionReport,
    /// `history.json`.
    pub history: History,
    /// The champion's verified model directory, when it could be had.
    pub model_dir: Option<PathBuf>,
}

/// The base branch: `GITHUB_BASE_REF` on a pull request, else `main`.
pub fn default_base() -> String {
    std::env::var("GITHUB_BASE_REF")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "main".to_string())
}

/// The registry name from `release.name`, required for anything that reads or writes tags.
pub fn release_name(config: &LoadedConfig) -> anyhow::Result<String> {
    match &config.config.release {
        Some(release) => Ok(release.name.clone()),
        None => Err(anyhow::Error::new(config.error_at(
            &["release"],
            "the champion and promotion need the model's registry name".into(),
            Some("add `release: { name: my-model }` to the config (tags become `my-model@vX.Y.Z`)".into()),
        ))),
    }
}

/// What fetching a champion's model from where it was published gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The model directory was written.
    Model,
    /// It could not be had (no release, no such asset, the forge unreachable): why.
    Unavailable(String),
}

/// Fetches the model of a version into a directory (a forge's release assets); errors are for
/// downloads that arrived but do not check out, which must stop the run.
pub type Fetch<'a> = &'a dyn Fn(&VersionTag, &Path) -> anyhow::Result<Fetched>;

/// Finds the champion of `config`'s model on `base` and fetches what can be had into
/// `out/champion/`: from `cache`, else through `fetch` into `cache`.
pub fn find(
    config: &LoadedConfig,
    base: &str,
    cache: Option<&Path>,
    fetch: Option<Fetch<'_>>,
    out: &Path,
) -> anyhow::Result<Found> {
    let name = release_name(config)?;
    let repo = DataRepo::discover_registry(&config.dir)?;
    let base_commit = repo.resolve_commit(base)?;
    let registry = Registry::read(&repo, &name)?;
    let reachable = registry.reachable_from(&repo, &base_commit)?;
    let mut notes = registry.notes.clone();
    let unreachable = registry.versions.len() - reachable.len();
    if unreachable > 0 {
        notes.push(format!(
            "{unreachable} version tag(s) of `{name}` are not reachable from `{base}` and were ignored"
        ));
    }
    let champion = reachable.last().copied();
    let mut report = ChampionReport {
        schema_version: SCHEMA_VERSION,
        name: name.clone(),
        base: base.to_string(),
        base_commit,
        tag: champion.map(|c| c.tag.to_string()),
        version: champion.map(|c| c.tag.version),
        commit: champion.map(|c| c.commit.clone()),
        date: champion.map(|c| rfc3339(c.time)),
        source: Source::None,
        model_dir: None,
        manifest_sha256: None,
        feature_schema_hash: None,
        primary: None,
        metrics: BTreeMap::new(),
        notes,
    };
    let champion_dir = out.join(CHAMPION_DIR);
    let mut model_dir = None;
    if let Some(champion) = champion {
        let record = champion.record.as_ref();
        report.manifest_sha256 = record.and_then(|r| r.manifest_sha256.clone());
        report.feature_schema_hash = record.and_then(|r| r.feature_schema_hash.clone());
        report.primary = record.and_then(|r| r.primary.clone());
        report.metrics = record.map(|r| r.metrics.clone()).unwrap_or_default();
        let mut cached = cache
            .and_then(|c| cache::model_dir_in(c, &champion.tag))
            .map(|dir| (dir, Source::Cache));
        if let (None, Some(fetch), Some(cache)) = (&cached, fetch, cache) {
            match fetch(&champion.tag, &cache.join(champion.tag.to_string()))? {
                Fetched::Model => {
                    cached =
                        cache::model_dir_in(cache, &champion.tag).map(|d| (d, Source::Release));
                }
                Fetched::Unavailable(why) => report.notes.push(format!(
                    "the model of `{}` could not be downloaded: {why}",
                    champion.tag
                )),
            }
        }
        match cached {
            Some((source_dir, source)) => {
                let sha = cache::copy_verified(&source_dir, record, &champion_dir)?;
                report.manifest_sha256 = Some(sha);
                report.source = source;
                report.model_dir = Some(CHAMPION_DIR.to_string());
                model_dir = Some(champion_dir.clone());
            }
            None => {
                report.source = Source::Recorded;
                report.notes.push(format!(
                    "no model for `{}` in a cache (`--cache DIR` with a `{}/` subdirectory): only its recorded metrics are available, which were measured on its own evaluation set",
                    champion.tag, champion.tag
                ));
            }
        }
    }
    if model_dir.is_none() && champion_dir.exists() {
        // A champion directory left by an earlier run must not pass for this one's.
        fs_err::remove_dir_all(&champion_dir)?;
    }
    let metric = config
        .config
        .gate
        .as_ref()
        .and_then(|g| g.primary.or_else(|| g.rules.first().map(|r| r.metric)))
        .map(|m| m.name().to_string())
        .or_else(|| report.primary.clone());
    let history = History {
        schema_version: HISTORY_SCHEMA_VERSION,
        name,
        metric,
        versions: reachable.iter().map(|v| history_entry(v)).collect(),
    };
    Ok(Found {
        report,
        history,
        model_dir,
    })
}

/// One version as the history lists it.
fn history_entry(version: &PromotedVersion) -> HistoryVersion {
    HistoryVersion {
        tag: version.tag.to_string(),
        version: version.tag.version.to_string(),
        commit: version.commit.clone(),
        date: rfc3339(version.time),
        metrics: version
            .record
            .as_ref()
            .map(|r| r.metrics.clone())
            .unwrap_or_default(),
    }
}

/// Writes `champion.json` and `history.json` into the run directory.
pub fn write(out: &Path, found: &Found) -> anyhow::Result<()> {
    for (file, json) in [
        (CHAMPION_FILE, serde_json::to_string_pretty(&found.report)?),
        (HISTORY_FILE, serde_json::to_string_pretty(&found.history)?),
    ] {
        crate::fsx::write_atomic(&out.join(file), (json + "\n").as_bytes())?;
    }
    Ok(())
}
