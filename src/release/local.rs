//! Promotion into the local repository with git alone (`mlgate promote --local`), for any
//! forge: the annotated version tag, the optional stage tag, and the release bundle in
//! `<out>/release/` for the user's own upload step.
//!
//! The tag is the commit point. The bundle is written first, so a run that dies after tagging
//! has already left its assets; a re-run on a tagged commit changes nothing in the repository
//! (it only adds a stage tag a crash left out, and rebuilds the bundle when the run directory
//! holds the very model that was tagged).

use std::path::PathBuf;

use crate::git::{DataRepo, TagCreateError};

use super::promotion::{self, ExistingVersion, Plan, Request};
use super::registry::Registry;
use super::version::{StageTag, VersionTag};

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

/// Promotes the run directory's model in the local repository.
pub fn promote(request: &Request) -> anyhow::Result<Outcome> {
    let repo = DataRepo::discover_registry(&request.config.dir)?;
    let new = match promotion::plan(request, &repo, &[])? {
        Plan::Refused { verdict } => return Ok(Outcome::Refused { verdict }),
        Plan::Existing(existing) => return finish_existing(request, &repo, &existing),
        Plan::New(new) => new,
    };
    let bundle = promotion::write_new_bundle(request, &new)?.dir;
    let tag = new.tag;
    match repo.create_annotated_tag(&tag.to_string(), &new.commit, &new.message) {
        Ok(()) => {}
        Err(TagCreateError::Exists { commit: theirs, .. }) if theirs == new.commit => {
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
    let stage = ensure_stage(request, &repo, &new.registry, &tag, &new.commit)?;
    Ok(Outcome::Promoted {
        tag,
        reason: new.reason,
        stage,
        bundle,
    })
}

/// A commit that already carries a version: add a missing stage tag, rebuild the bundle when
/// the run directory holds the tagged model, change nothing else.
fn finish_existing(
    request: &Request,
    repo: &DataRepo,
    existing: &ExistingVersion,
) -> anyhow::Result<Outcome> {
    let bundle = if existing.same_model {
        Some(promotion::rebuild_bundle(request, existing)?.dir)
    } else {
        None
    };
    let version = &existing.existing;
    let stage = ensure_stage(
        request,
        repo,
        &existing.registry,
        &version.tag,
        &version.commit,
    )?;
    Ok(Outcome::AlreadyPromoted {
        tag: version.tag.clone(),
        stage,
        bundle,
    })
}

/// Creates the stage tag `release.stage` needs, if any.
fn ensure_stage(
    request: &Request,
    repo: &DataRepo,
    registry: &Registry,
    tag: &VersionTag,
    commit: &str,
) -> anyhow::Result<Option<StageTag>> {
    let Some((stage_tag, message)) = promotion::next_stage_tag(request, registry, tag, commit)
    else {
        return Ok(None);
    };
    repo.create_annotated_tag(&stage_tag.to_string(), commit, &message)?;
    Ok(Some(stage_tag))
}
