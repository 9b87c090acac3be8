//! What a promotion decides before anything is written anywhere: the run directory's model and
//! verdict, the commit, the registry, the next version and why, the tag's message and the
//! release bundle. Shared by `promote --local` (git) and `promote` (a forge's API), so both
//! pick the same version for the same inputs.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{BumpPolicy, LoadedConfig};
use crate::fsx::sha256_hex;
use crate::git::{DataRepo, TagInfo};
use crate::train::manifest::{Manifest, MANIFEST_FILE};
use crate::train::MODEL_DIR;

use super::bundle::{Bundle, MODEL_CARD, RELEASE_DIR};
use super::card::{self, CardContext};
use super::inputs::EvaluationSummary;
use super::record::TagRecord;
use super::registry::{PromotedVersion, Registry};
use super::version::{self, Bump, BumpFacts, StageTag, Version, VersionTag};

/// What a promotion was asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    /// The config.
    pub config: LoadedConfig,
    /// The run directory.
    pub out: PathBuf,
    /// The revision to tag (`HEAD` by default).
    pub commit: String,
    /// A bump that overrides the rules and `release.bump`.
    pub bump: Option<Bump>,
    /// An exact version.
    pub version: Option<Version>,
    /// Promote a model whose evaluation did not pass.
    pub force: bool,
    /// The CI run, recorded in the tag.
    pub run_url: Option<String>,
}

/// What the run directory holds for a promotion.
pub struct RunFiles {
    /// The evaluation.
    pub evaluation: EvaluationSummary,
    /// The candidate's manifest.
    pub manifest: Manifest,
    /// sha256 of the manifest file.
    pub manifest_sha256: String,
    /// The model directory.
    pub model_dir: PathBuf,
}

/// Reads `evaluation.json` and `model/manifest.json`.
pub fn read_run_files(out: &Path) -> anyhow::Result<RunFiles> {
    let evaluation = EvaluationSummary::read(&out.join("evaluation.json"))?;
    let model_dir = out.join(MODEL_DIR);
    let manifest_path = model_dir.join(MANIFEST_FILE);
    let bytes = fs_err::read(&manifest_path).with_context(|| {
        format!(
            "no model at `{}`; run `mlgate train` first",
            model_dir.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!("`{}` is not a valid manifest: {e}", manifest_path.display())
    })?;
    // The verdict must be about this model: an evaluation of other predictions (another
    // run's, or `--candidate`) would promote a model nobody judged.
    if evaluation.eval_set_hash != manifest.split.eval_set_hash {
        anyhow::bail!(
            "`evaluation.json` was computed on evaluation set {}, but `{}` was trained with evaluation set {}; run `mlgate evaluate` on this model first",
            evaluation.eval_set_hash,
            manifest_path.display(),
            manifest.split.eval_set_hash
        );
    }
    Ok(RunFiles {
        evaluation,
        manifest,
        manifest_sha256: sha256_hex(&bytes),
        model_dir,
    })
}

/// What to do, decided from the run directory, the repository and the forge's extra tags.
pub enum Plan {
    /// The evaluation did not pass and `--force` was not given.
    Refused {
        /// The evaluation's verdict.
        verdict: String,
    },
    /// Tag a new version.
    New(Box<NewVersion>),
    /// The commit already carries a version of this model.
    Existing(Box<ExistingVersion>),
}

/// A new version to tag.
pub struct NewVersion {
    /// The run directory's files.
    pub files: RunFiles,
    /// The commit to tag.
    pub commit: String,
    /// The registry it was chosen from.
    pub registry: Registry,
    /// The tag.
    pub tag: VersionTag,
    /// Why this version.
    pub reason: String,
    /// The highest version the commit reaches.
    pub champion: Option<PromotedVersion>,
    /// The annotated tag's message.
    pub message: String,
}

/// A version the commit already carries.
pub struct ExistingVersion {
    /// The run directory's files.
    pub files: RunFiles,
    /// The registry.
    pub registry: Registry,
    /// The version on the commit.
    pub existing: PromotedVersion,
    /// The version below it.
    pub champion: Option<PromotedVersion>,
    /// Whether the run directory holds the very model that was tagged (same manifest sha256).
    pub same_model: bool,
}

/// Decides what to promote. `remote` holds tags a forge has that the repository may lack.
pub fn plan(request: &Request, repo: &DataRepo, remote: &[TagInfo]) -> anyhow::Result<Plan> {
    let name = crate::baseline::release_name(&request.config)?;
    let files = read_run_files(&request.out)?;
    if !files.evaluation.gate_passed() && !request.force {
        return Ok(Plan::Refused {
            verdict: files.evaluation.verdict.clone(),
        });
    }
    let commit = repo.resolve_commit(&request.commit)?;
    let registry = Registry::read_with(repo, &name, remote)?;
    if let Some(existing) = registry.at_commit(&commit).cloned() {
        let champion = registry
            .versions
            .iter()
            .rfind(|v| v.tag.version < existing.tag.version)
            .cloned();
        let same_model = existing
            .record
            .as_ref()
            .and_then(|r| r.manifest_sha256.as_deref())
            == Some(files.manifest_sha256.as_str());
        return Ok(Plan::Existing(Box::new(ExistingVersion {
            files,
            registry,
            existing,
            champion,
            same_model,
        })));
    }
    let champion = registry
        .reachable_from(repo, &commit)?
        .last()
        .map(|c| (*c).clone());
    let (bump, reason) = choose_bump(request, champion.as_ref(), &files);
    let existing: Vec<Version> = registry.versions.iter().map(|v| v.tag.version).collect();
    let version = version::choose(&existing, bump, request.version)?;
    let tag = VersionTag::new(&name, version);
    let reason = match request.version {
        Some(_) => "the version given with `--version`".to_string(),
        None => format!("{} bump: {reason}", bump.name()),
    };
    let record = tag_record(request.run_url.clone(), &tag, &files);
    let message = record.message(
        &summary_line(&tag, &files.evaluation),
        std::slice::from_ref(&reason),
    );
    Ok(Plan::New(Box::new(NewVersion {
        files,
        commit,
        registry,
        tag,
        reason,
        champion,
        message,
    })))
}

/// The bump: `--bump`, else a fixed `release.bump`, else the rules.
fn choose_bump(
    request: &Request,
    champion: Option<&PromotedVersion>,
    files: &RunFiles,
) -> (Bump, String) {
    if let Some(bump) = request.bump {
        return (bump, "given with `--bump`".into());
    }
    let policy = request
        .config
        .config
        .release
        .as_ref()
        .map_or(BumpPolicy::Auto, |r| r.bump);
    let fixed = match policy {
        BumpPolicy::Auto => None,
        BumpPolicy::Major => Some(Bump::Major),
        BumpPolicy::Minor => Some(Bump::Minor),
        BumpPolicy::Patch => Some(Bump::Patch),
    };
    if let Some(bump) = fixed {
        return (bump, "set by `release.bump`".into());
    }
    let champion_schema = champion
        .and_then(|c| c.record.as_ref())
        .and_then(|r| r.feature_schema_hash.as_deref());
    let facts = BumpFacts {
        schema_changed: champion_schema
            .is_some_and(|hash| hash != files.manifest.feature_schema_hash),
        significant_improvement: files.evaluation.significant_improvement(),
    };
    let (bump, reason) = version::auto_bump(facts);
    (bump, reason.to_string())
}

/// The record the tag carries.
fn tag_record(run_url: Option<String>, tag: &VersionTag, files: &RunFiles) -> TagRecord {
    let manifest = &files.manifest;
    TagRecord {
        name: tag.name.clone(),
        version: Some(tag.version),
        model_kind: Some(manifest.model_kind.clone()),
        primary: Some(files.evaluation.primary.clone()),
        metrics: files
            .evaluation
            .metrics
            .iter()
            .map(|m| (m.metric.clone(), m.candidate))
            .collect(),
        eval_set_hash: Some(files.evaluation.eval_set_hash.clone()),
        data_xxh3: Some(manifest.data.xxh3.clone()),
        config_sha256: Some(manifest.config_sha256.clone()),
        feature_schema_hash: Some(manifest.feature_schema_hash.clone()),
        manifest_sha256: Some(files.manifest_sha256.clone()),
        tool_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        run_url,
    }
}

/// `churn v1.3.0: f1_macro 0.9123 (evaluation passed on 67 rows)`.
fn summary_line(tag: &VersionTag, evaluation: &EvaluationSummary) -> String {
    let primary = evaluation
        .primary_metric()
        .map(|m| format!(": {} {:.4}", m.metric, m.candidate))
        .unwrap_or_default();
    format!(
        "{} v{}{primary} (evaluation {} on {} rows)",
        tag.name, tag.version, evaluation.verdict, evaluation.rows
    )
}

/// The message for a version the commit already carries, when a forge lacks its tag (one made
/// by `promote --local` and never pushed): its own record under a fresh summary line.
pub fn existing_message(existing: &ExistingVersion) -> Option<String> {
    let record = existing.existing.record.as_ref()?;
    Some(record.message(
        &summary_line(&existing.existing.tag, &existing.files.evaluation),
        &["published from the tag's record".to_string()],
    ))
}

/// The release bundle, written to `<out>/release/`.
pub struct WrittenBundle {
    /// The directory.
    pub dir: PathBuf,
    /// What it holds.
    pub bundle: Bundle,
}

/// Builds the release bundle of `tag` and writes it into `<out>/release/`.
fn write_bundle(
    request: &Request,
    tag: &VersionTag,
    commit: &str,
    champion: Option<&PromotedVersion>,
    files: &RunFiles,
    run_url: Option<&str>,
) -> anyhow::Result<WrittenBundle> {
    let mut bundle = Bundle::default();
    bundle.add_model(&files.model_dir, &files.manifest)?;
    bundle.add_file(&request.out.join("evaluation.json"))?;
    let profile = request.out.join("profile.json");
    if profile.exists() {
        bundle.add_file(&profile)?;
    }
    if let Some(release) = &request.config.config.release {
        for asset in &release.assets {
            bundle.add_file(&request.config.resolve(asset))?;
        }
    }
    let champion_tag = champion.map(|c| c.tag.to_string());
    let context = CardContext {
        tag,
        commit,
        champion: champion_tag.as_deref(),
        run_url,
    };
    let card = card::render(&context, &files.manifest, &files.evaluation)
        .context("cannot render the model card")?;
    bundle.add(MODEL_CARD.to_string(), card.into_bytes())?;
    let dir = request.out.join(RELEASE_DIR);
    bundle.write(&dir)?;
    Ok(WrittenBundle { dir, bundle })
}

/// Writes the bundle of a new version.
pub fn write_new_bundle(request: &Request, new: &NewVersion) -> anyhow::Result<WrittenBundle> {
    write_bundle(
        request,
        &new.tag,
        &new.commit,
        new.champion.as_ref(),
        &new.files,
        request.run_url.as_deref(),
    )
}

/// Rebuilds the bundle of a version the commit already carries, naming the run its tag
/// recorded (the card describes the tagged version).
pub fn rebuild_bundle(
    request: &Request,
    existing: &ExistingVersion,
) -> anyhow::Result<WrittenBundle> {
    let run_url = existing
        .existing
        .record
        .as_ref()
        .and_then(|r| r.run_url.as_deref());
    write_bundle(
        request,
        &existing.existing.tag,
        &existing.existing.commit,
        existing.champion.as_ref(),
        &existing.files,
        run_url,
    )
}

/// The stage tag to create so that `release.stage` points at `commit`, unless its latest
/// assignment already does (GTO's rule: the newest `NAME#STAGE#N` wins).
pub fn next_stage_tag(
    request: &Request,
    registry: &Registry,
    tag: &VersionTag,
    commit: &str,
) -> Option<(StageTag, String)> {
    let stage = request.config.config.release.as_ref()?.stage.clone()?;
    let latest = registry.latest_stage(&stage);
    if latest.is_some_and(|s| s.commit == commit) {
        return None;
    }
    let stage_tag = StageTag {
        name: tag.name.clone(),
        stage: stage.clone(),
        number: latest.map_or(1, |s| s.tag.number + 1),
    };
    let message = format!(
        "{} v{} assigned to stage {stage} by mlgate {}",
        tag.name,
        tag.version,
        env!("CARGO_PKG_VERSION")
    );
    Some((stage_tag, message))
}
