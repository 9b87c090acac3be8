//! The model registry as git tags: every promoted version of one model and its stage
//! assignments, read from the repository with their records.
//!
//! Tags that look like ours but are not (`churn@latest`, a pre-release, a tag of a tree) are
//! skipped with a note rather than failing the run: a registry is shared with people and other
//! tools, and one odd tag must not block every pull request.

use crate::git::{DataRepo, TagInfo};

use super::record::TagRecord;
use super::version::{StageTag, VersionTag};

/// One promoted version.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotedVersion {
    /// The tag.
    pub tag: VersionTag,
    /// The commit it points at.
    pub commit: String,
    /// Seconds since the epoch: when it was tagged (lightweight tags: the commit's time).
    pub time: i64,
    /// The record from its message; `None` for lightweight tags and tags made by hand.
    pub record: Option<TagRecord>,
}

/// One stage assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageAssignment {
    /// The tag.
    pub tag: StageTag,
    /// The commit it points at.
    pub commit: String,
}

/// Every version and stage tag of one model.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Versions, lowest first.
    pub versions: Vec<PromotedVersion>,
    /// Stage assignments, by stage then number.
    pub stages: Vec<StageAssignment>,
    /// Tags that were skipped or are missing facts, for the reader.
    pub notes: Vec<String>,
}

impl Registry {
    /// Reads the tags of model `name` from the repository.
    pub fn read(repo: &DataRepo, name: &str) -> anyhow::Result<Registry> {
        Registry::read_with(repo, name, &[])
    }

    /// Reads the tags of model `name` from the repository, plus `remote` tags the repository
    /// lacks (a forge's tags that a shallow or stale checkout has not fetched). A tag known to
    /// both is taken from the repository.
    pub fn read_with(repo: &DataRepo, name: &str, remote: &[TagInfo]) -> anyhow::Result<Registry> {
        let (mut versions, not_commits) = repo.tags_with_prefix(&format!("{name}@"))?;
        let (mut stages, _) = repo.tags_with_prefix(&format!("{name}#"))?;
        for tag in remote {
            let list = if tag.name.starts_with(&format!("{name}@")) {
                &mut versions
            } else if tag.name.starts_with(&format!("{name}#")) {
                &mut stages
            } else {
                continue;
            };
            if !list.iter().any(|t| t.name == tag.name) && !not_commits.contains(&tag.name) {
                list.push(tag.clone());
            }
        }
        Ok(Registry::from_tags(name, versions, not_commits, stages))
    }

    /// Builds the registry from tag lists: `NAME@...` tags, tags that point at no commit, and
    /// `NAME#...` tags.
    fn from_tags(
        name: &str,
        version_tags: Vec<TagInfo>,
        not_commits: Vec<String>,
        stage_tags: Vec<TagInfo>,
    ) -> Registry {
        let mut registry = Registry::default();
        for tag in not_commits {
            registry
                .notes
                .push(format!("tag `{tag}` does not point at a commit; ignored"));
        }
        for info in version_tags {
            let parsed = match info.name.parse::<VersionTag>() {
                Ok(parsed) if parsed.name == name => parsed,
                _ => {
                    registry.notes.push(format!(
                        "tag `{}` is not a version tag `{name}@vX.Y.Z`; ignored",
                        info.name
                    ));
                    continue;
                }
            };
            let record = match &info.message {
                None => {
                    registry.notes.push(format!(
                        "`{}` is a lightweight tag: no recorded metrics or hashes",
                        info.name
                    ));
                    None
                }
                Some(message) => match TagRecord::parse(message) {
                    Ok(record) => Some(record),
                    Err(err) => {
                        registry.notes.push(format!("`{}`: {err}", info.name));
                        None
                    }
                },
            };
            registry.versions.push(PromotedVersion {
                tag: parsed,
                commit: info.commit,
                time: info.time,
                record,
            });
        }
        registry.versions.sort_by_key(|v| v.tag.version);
        for info in stage_tags {
            match info.name.parse::<StageTag>() {
                Ok(tag) if tag.name == name => registry.stages.push(StageAssignment {
                    tag,
                    commit: info.commit,
                }),
                _ => registry.notes.push(format!(
                    "tag `{}` is not a stage tag `{name}#STAGE#N`; ignored",
                    info.name
                )),
            }
        }
        registry
            .stages
            .sort_by(|a, b| (&a.tag.stage, a.tag.number).cmp(&(&b.tag.stage, b.tag.number)));
        registry
    }

    /// The versions whose commit `base_commit` reaches, lowest first.
    pub fn reachable_from(
        &self,
        repo: &DataRepo,
        base_commit: &str,
    ) -> anyhow::Result<Vec<&PromotedVersion>> {
        let commits: Vec<&str> = self.versions.iter().map(|v| v.commit.as_str()).collect();
        let reached = repo.reached_among(base_commit, &commits)?;
        Ok(self
            .versions
            .iter()
            .filter(|v| reached.contains(&v.commit))
            .collect())
    }

    /// The highest version tagged on `commit`, if any.
    pub fn at_commit(&self, commit: &str) -> Option<&PromotedVersion> {
        self.versions.iter().rev().find(|v| v.commit == commit)
    }

    /// The latest assignment of `stage`, if any.
    pub fn latest_stage(&self, stage: &str) -> Option<&StageAssignment> {
        self.stages.iter().rev().find(|s| s.tag.stage == stage)
    }
}
