//! git, in our words: the merge-base with a branch and a file's bytes at a commit.
//!
//! Wraps `git2::Repository` so the rest of mlgate never handles git2 types, and reads blobs
//! straight from the object database: no checkout, no working-tree changes, and it works in the
//! shallow-free clones CI makes with `fetch-depth: 0`.

use std::path::Path;

use anyhow::Context;
use git2::{Oid, Repository};

/// A repository holding the project's data.
pub struct DataRepo {
    /// The repository.
    repo: Repository,
}

impl DataRepo {
    /// Finds the repository containing `dir`.
    pub fn discover(dir: &Path) -> anyhow::Result<DataRepo> {
        let repo = Repository::discover(dir).with_context(|| {
            format!(
                "`{}` is not inside a git repository, so `git:` drift references cannot be read",
                dir.display()
            )
        })?;
        Ok(DataRepo { repo })
    }

    /// The hex id of the HEAD commit, if there is one.
    pub fn head_commit(&self) -> Option<String> {
        let commit = self.repo.head().ok()?.peel_to_commit().ok()?;
        Some(commit.id().to_string())
    }

    /// The merge-base of HEAD and `rev` (a branch, tag or commit).
    pub fn merge_base_with(&self, rev: &str) -> anyhow::Result<Oid> {
        let head = self
            .repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .context("the repository has no HEAD commit")?;
        let other = self
            .repo
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .with_context(|| format!("git revision `{rev}` not found; in CI, fetch it (actions/checkout with `fetch-depth: 0`)"))?;
        self.repo
            .merge_base(head.id(), other.id())
            .with_context(|| format!("HEAD and `{rev}` have no common ancestor"))
    }

    /// The bytes of `path` (a path on disk inside the work tree) at `commit`, or `None` if the
    /// file did not exist there.
    pub fn file_at(&self, commit: Oid, path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
        let workdir = self.repo.workdir().context("the repository is bare")?;
        let workdir = workdir
            .canonicalize()
            .with_context(|| format!("cannot resolve `{}`", workdir.display()))?;
        let absolute = path
            .canonicalize()
            .with_context(|| format!("cannot resolve `{}`", path.display()))?;
        let relative = absolute.strip_prefix(&workdir).with_context(|| {
            format!(
                "`{}` is outside the repository `{}`",
                path.display(),
                workdir.display()
            )
        })?;
        let tree = self.repo.find_commit(commit)?.tree()?;
        let entry = match tree.get_path(relative) {
            Ok(entry) => entry,
            Err(err) if err.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let blob = entry
            .to_object(&self.repo)?
            .into_blob()
            .map_err(|_| anyhow::anyhow!("`{}` is not a file at {commit}", relative.display()))?;
        Ok(Some(blob.content().to_vec()))
    }
}
