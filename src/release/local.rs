//! Promotion into the local repository with git alone (`mlgate promote --local`), for any
//! forge: the annotated version tag, the optional stage tag, and the release bundle in
//! `<out>/release/` for the user's own upload step.
//!
//! The tag is the commit point. The bundle is written first, so a run that dies after tagging
//! has already left its assets; a re-run on a tagged commit changes nothing in the repository
//! (it only adds a stage tag a crash left out, and rebuilds the bundle when the run directory
//! holds the very model that was tagged).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::baseline::release_name;
use crate::config::{BumpPolicy, LoadedConfig};
use crate::fsx::sha256_hex;
use crate::git::{DataRepo, TagCreateError};
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

/// How a promotion ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new version was tagged.
    Promoted {
        /// The new tag.
        tag: VersionTag,
        /// Why this version.
        reason: String,
        /// The stage tag created, if any.
        stage: Option<StageTag>,
        /// The bundle directory.
        bundle: PathBuf,
    },
    /// The commit already carried a version of this model; the repository was left as it was
    /// (but for a missing stage tag).
    AlreadyPromoted {
        /// The existing tag.
        tag: VersionTag,
        /// A stage tag added because an earlier run stopped before making it.
        stage: Option<StageTag>,
        /// The bundle, when the run directory holds the tagged model and it was rebuilt.
        bundle: Option<PathBuf>,
    },
    /// The evaluation did not pass and `--force` was not given.
    Refused {
        /// The evaluation's verdict.
        verdict: String,
    },
}

/// What the run directory holds for a promotion.
struct RunFiles {
    /// The evaluation.
    evaluation: EvaluationSummary,
    /// The candidate's manifest.
    manifest: Manifest,
    /// sha256 of the manifest file.
    manifest_sha256: String,
    /// The model directory.
    model_dir: PathBuf,
}

/// Reads `evaluation.json` and `model/manifest.json`.
fn read_run_files(out: &Path) -> anyhow::Result<RunFiles> {
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

/// Promotes the run directory's model in the local repository.
pub fn promote(request: &Request) -> anyhow::Result<Outcome> {
    let name = release_name(&request.config)?;
    let files = read_run_files(&request.out)?;
    if !files.evaluation.gate_passed() && !request.force {
        return Ok(Outcome::Refused {
            verdict: files.evaluation.verdict.clone(),
        });
    }
    let repo = DataRepo::discover_registry(&request.config.dir)?;
    let commit = repo.resolve_commit(&request.commit)?;
    let registry = Registry::read(&repo, &name)?;
    if let Some(existing) = registry.at_commit(&commit) {
        return finish_existing(request, &repo, &registry, existing, &files);
    }
    let reachable = registry.reachable_from(&repo, &commit)?;
    let champion = reachable.last().copied();
    let (bump, reason) = choose_bump(request, champion, &files);
    let existing: Vec<Version> = registry.versions.iter().map(|v| v.tag.version).collect();
    let version = version::choose(&existing, bump, request.version)?;
    let tag = VersionTag::new(&name, version);
    let reason = match request.version {
        Some(_) => "the version given with `--version`".to_string(),
        None => format!("{} bump: {reason}", bump.name()),
    };
    let bundle = write_bundle(
        request,
        &tag,
        &commit,
        champion,
        &files,
        request.run_url.as_deref(),
    )?;
    let record = tag_record(request, &tag, &files);
    let message = record.message(
        &summary_line(&tag, &files.evaluation),
        std::slice::from_ref(&reason),
    );
    match repo.create_annotated_tag(&tag.to_string(), &commit, &message) {
        Ok(()) => {}
        Err(TagCreateError::Exists { commit: theirs, .. }) if theirs == commit => {
            // Another promotion of this very commit won the race: the outcome is the same.
            return Ok(Outcome::AlreadyPromoted {
                tag,
                stage: None,
                bundle: Some(bundle),
            });
        }
        Err(TagCreateError::Exists { name, commit: theirs }) => anyhow::bail!(
            "`{name}` was created at commit {theirs} by another promotion while this one ran; re-run to pick the next version"
        ),
        Err(err) => return Err(err.into()),
    }
    let stage = ensure_stage(request, &repo, &tag, &commit)?;
    Ok(Outcome::Promoted {
        tag,
        reason,
        stage,
        bundle,
    })
}

/// A commit that already carries a version: add a missing stage tag, rebuild the bundle when
/// the run directory holds the tagged model, change nothing else.
fn finish_existing(
    request: &Request,
    repo: &DataRepo,
    registry: &Registry,
    existing: &PromotedVersion,
    files: &RunFiles,
) -> anyhow::Result<Outcome> {
    let same_model = existing
        .record
        .as_ref()
        .and_then(|r| r.manifest_sha256.as_deref())
        == Some(files.manifest_sha256.as_str());
    let bundle = if same_model {
        let champion = registry
            .versions
            .iter()
            .rfind(|v| v.tag.version < existing.tag.version);
        // The card describes the tagged version, so it names the run the tag recorded.
        let run_url = existing.record.as_ref().and_then(|r| r.run_url.as_deref());
        Some(write_bundle(
            request,
            &existing.tag,
            &existing.commit,
            champion,
            files,
            run_url,
        )?)
    } else {
        None
    };
    let stage = ensure_stage(request, repo, &existing.tag, &existing.commit)?;
    Ok(Outcome::AlreadyPromoted {
        tag: existing.tag.clone(),
        stage,
        bundle,
    })
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
fn tag_record(request: &Request, tag: &VersionTag, files: &RunFiles) -> TagRecord {
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
        run_url: request.run_url.clone(),
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

/// Builds and writes the release bundle into `<out>/release/`.
fn write_bundle(
    request: &Request,
    tag: &VersionTag,
    commit: &str,
    champion: Option<&PromotedVersion>,
    files: &RunFiles,
    run_url: Option<&str>,
) -> anyhow::Result<PathBuf> {
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
    Ok(dir)
}

/// Assigns `release.stage` to the version on `commit` unless its latest assignment already
/// points there (GTO's rule: the newest `NAME#STAGE#N` wins).
fn ensure_stage(
    request: &Request,
    repo: &DataRepo,
    tag: &VersionTag,
    commit: &str,
) -> anyhow::Result<Option<StageTag>> {
    let Some(stage) = request
        .config
        .config
        .release
        .as_ref()
        .and_then(|r| r.stage.clone())
    else {
        return Ok(None);
    };
    let registry = Registry::read(repo, &tag.name)?;
    let latest = registry.latest_stage(&stage);
    if latest.is_some_and(|s| s.commit == commit) {
        return Ok(None);
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
    repo.create_annotated_tag(&stage_tag.to_string(), commit, &message)?;
    Ok(Some(stage_tag))
}
