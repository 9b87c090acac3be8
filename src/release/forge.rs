//! Promotion through a forge's API (`mlgate promote`): the same decision as `--local`, then the
//! tag, the release and its assets published by [`publish`](super::publish), and the stage
//! tag, all on the forge.
//!
//! The registry is the local repository's tags plus the forge's, so a checkout that did not
//! fetch every tag can never reuse a version. When another promotion takes the chosen version
//! on another commit between the look-up and the tag (a race), the registry is read again and
//! the next version is chosen, a few times at most.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context;

use crate::git::{DataRepo, TagInfo};

use super::bundle::MODEL_CARD;
use super::promotion::{self, ExistingVersion, Plan, Request, WrittenBundle};
use super::publish::{publish, Publication, Published, ReleaseApi, VersionTaken};
use super::registry::Registry;
use super::version::{StageTag, VersionTag};

/// How often a lost race is retried with the next version.
const RACE_ATTEMPTS: usize = 3;

/// How a promotion to the forge ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgeOutcome {
    /// A new version was published.
    Promoted {
        /// The new tag.
        tag: VersionTag,
        /// Why this version.
        reason: String,
        /// The stage tag created, if any.
        stage: Option<StageTag>,
        /// What publishing did.
        published: Published,
        /// The bundle directory.
        bundle: PathBuf,
    },
    /// The commit already carried a version of this model.
    AlreadyPromoted {
        /// The existing tag.
        tag: VersionTag,
        /// A stage tag added because an earlier run stopped before making it.
        stage: Option<StageTag>,
        /// What publishing did, when the run directory holds the tagged model (a release an
        /// earlier run left unfinished is finished; a finished one is left alone).
        published: Option<Published>,
    },
    /// The evaluation did not pass and `--force` was not given.
    Refused {
        /// The evaluation's verdict.
        verdict: String,
    },
}

/// Promotes the run directory's model on the forge behind `api`.
pub fn promote(request: &Request, api: &dyn ReleaseApi) -> anyhow::Result<ForgeOutcome> {
    let repo = DataRepo::discover_registry(&request.config.dir)?;
    let name = crate::baseline::release_name(&request.config)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remote = forge_tags(api, &repo, &name)?;
        let new = match promotion::plan(request, &repo, &remote)? {
            Plan::Refused { verdict } => return Ok(ForgeOutcome::Refused { verdict }),
            Plan::Existing(existing) => return finish_existing(request, api, &existing),
            Plan::New(new) => new,
        };
        let written = promotion::write_new_bundle(request, &new)?;
        let published = match publish_bundle(api, &new.tag, &new.commit, &new.message, &written) {
            Ok(published) => published,
            Err(err) if attempt < RACE_ATTEMPTS && err.downcast_ref::<VersionTaken>().is_some() => {
                eprintln!("note: {err:#}; choosing the next version");
                continue;
            }
            Err(err) => return Err(err),
        };
        let stage = ensure_stage(request, api, &new.registry, &new.tag, &new.commit)?;
        return Ok(ForgeOutcome::Promoted {
            tag: new.tag,
            reason: new.reason,
            stage,
            published,
            bundle: written.dir,
        });
    }
}

/// The forge's tags of model `name` that the local repository lacks.
fn forge_tags(api: &dyn ReleaseApi, repo: &DataRepo, name: &str) -> anyhow::Result<Vec<TagInfo>> {
    let mut tags = Vec::new();
    for prefix in [format!("{name}@"), format!("{name}#")] {
        let (local, not_commits) = repo.tags_with_prefix(&prefix)?;
        let known: BTreeSet<String> = local
            .into_iter()
            .map(|t| t.name)
            .chain(not_commits)
            .collect();
        tags.extend(
            api.tags(&prefix, &known)
                .with_context(|| format!("cannot list the forge's `{prefix}*` tags"))?,
        );
    }
    Ok(tags)
}

/// Publishes a written bundle as the release of `tag`, with the model card as its body.
fn publish_bundle(
    api: &dyn ReleaseApi,
    tag: &VersionTag,
    commit: &str,
    message: &str,
    written: &WrittenBundle,
) -> anyhow::Result<Published> {
    let assets = written.bundle.assets();
    let body = assets
        .iter()
        .find(|a| a.name == MODEL_CARD)
        .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
        .unwrap_or_default();
    let title = format!("{} v{}", tag.name, tag.version);
    let tag_name = tag.to_string();
    publish(
        api,
        &Publication {
            tag: &tag_name,
            commit,
            message,
            title: &title,
            body: &body,
            assets: &assets,
        },
    )
    .with_context(|| format!("could not publish the release of {tag_name}"))
}

/// A commit that already carries a version: finish its release when the run directory holds
/// the tagged model, add a missing stage tag, change nothing else.
fn finish_existing(
    request: &Request,
    api: &dyn ReleaseApi,
    existing: &ExistingVersion,
) -> anyhow::Result<ForgeOutcome> {
    let version = &existing.existing;
    let published = match (existing.same_model, promotion::existing_message(existing)) {
        (true, Some(message)) => {
            let written = promotion::rebuild_bundle(request, existing)?;
            Some(publish_bundle(
                api,
                &version.tag,
                &version.commit,
                &message,
                &written,
            )?)
        }
        _ => None,
    };
    let stage = ensure_stage(
        request,
        api,
        &existing.registry,
        &version.tag,
        &version.commit,
    )?;
    Ok(ForgeOutcome::AlreadyPromoted {
        tag: version.tag.clone(),
        stage,
        published,
    })
}

/// Creates the stage tag `release.stage` needs on the forge, if any.
fn ensure_stage(
    request: &Request,
    api: &dyn ReleaseApi,
    registry: &Registry,
    tag: &VersionTag,
    commit: &str,
) -> anyhow::Result<Option<StageTag>> {
    let Some((stage_tag, message)) = promotion::next_stage_tag(request, registry, tag, commit)
    else {
        return Ok(None);
    };
    let name = stage_tag.to_string();
    api.create_tag(&name, &message, commit)
        .with_context(|| format!("could not create the stage tag `{name}`"))?;
    Ok(Some(stage_tag))
}
