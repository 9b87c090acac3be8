//! git, in our words: the merge-base with a branch, a file's bytes at a commit, and the tags
//! that make up the model registry (listing them, whether a base branch reaches them, creating
//! annotated tags).
//!
//! Wraps `git2::Repository` so the rest of mlgate never handles git2 types, and reads blobs
//! straight from the object database: no checkout, no working-tree changes, and it works in the
//! shallow-free clones CI makes with `fetch-depth: 0`.

use std::path::Path;

use anyhow::Context;
use git2::{ObjectType, Oid, Repository, Signature};

/// A tag as the registry sees it: its name, the commit it points at, and its message when it
/// is annotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    /// The short name (without `refs/tags/`).
    pub name: String,
    /// The commit the tag peels to, hex.
    pub commit: String,
    /// The tag message, for annotated tags; `None` for lightweight ones.
    pub message: Option<String>,
    /// Seconds since the epoch: the tagger's time (annotated) or the commit's (lightweight).
    pub time: i64,
}

/// Why a tag could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TagCreateError {
    /// A tag of that name exists (another promotion got there first); it points at `commit`.
    #[error("tag `{name}` already exists (at commit {commit})")]
    Exists {
        /// The tag.
        name: String,
        /// Where the existing tag points.
        commit: String,
    },
    /// Anything else git reported.
    #[error("cannot create tag `{name}`")]
    Git {
        /// The tag.
        name: String,
        /// git's error.
        #[source]
        source: git2::Error,
    },
}

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

    /// Finds the repository containing `dir`, for reading and writing registry tags.
    pub fn discover_registry(dir: &Path) -> anyhow::Result<DataRepo> {
        let repo = Repository::discover(dir).with_context(|| {
            format!(
                "`{}` is not inside a git repository, so the model registry (tags) cannot be read",
                dir.display()
            )
        })?;
        Ok(DataRepo { repo })
    }

    /// The commit `rev` names, trying `origin/REV` when `rev` itself is unknown (CI checkouts
    /// have remote-tracking branches only).
    pub fn resolve_commit(&self, rev: &str) -> anyhow::Result<String> {
        [rev.to_string(), format!("origin/{rev}")]
            .iter()
            .find_map(|r| self.repo.revparse_single(r).ok()?.peel_to_commit().ok())
            .map(|c| c.id().to_string())
            .with_context(|| {
                format!("git revision `{rev}` (or `origin/{rev}`) not found; in CI, fetch it (actions/checkout with `fetch-depth: 0`)")
            })
    }

    /// Which of `commits` `base` reaches, in one walk of its history that stops once every one
    /// is found (checking each tag on its own walks the history once per tag).
    pub fn reached_among(
        &self,
        base: &str,
        commits: &[&str],
    ) -> anyhow::Result<std::collections::HashSet<String>> {
        let mut wanted: std::collections::HashSet<Oid> = commits
            .iter()
            .map(|c| Oid::from_str(c))
            .collect::<Result<_, _>>()?;
        let mut found = std::collections::HashSet::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        let mut walk = self.repo.revwalk().context("cannot walk the git history")?;
        walk.push(Oid::from_str(base)?)
            .with_context(|| format!("cannot walk the history of {base}"))?;
        for oid in walk {
            let oid = oid.context("cannot walk the git history")?;
            if wanted.remove(&oid) {
                found.insert(oid.to_string());
                if wanted.is_empty() {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Every tag whose name starts with `prefix`, sorted by name; tags that do not point at a
    /// commit (a tagged tree or blob) are returned in the second list by name.
    pub fn tags_with_prefix(&self, prefix: &str) -> anyhow::Result<(Vec<TagInfo>, Vec<String>)> {
        let full_prefix = format!("refs/tags/{prefix}");
        let mut tags = Vec::new();
        let mut not_commits = Vec::new();
        for reference in self
            .repo
            .references()
            .context("cannot list git references")?
        {
            let reference = reference.context("cannot read a git reference")?;
            let Some(full) = reference.name().filter(|n| n.starts_with(&full_prefix)) else {
                continue;
            };
            let name = full.trim_start_matches("refs/tags/").to_string();
            let Ok(commit) = reference.peel_to_commit() else {
                not_commits.push(name);
                continue;
            };
            let annotated = reference
                .peel(ObjectType::Tag)
                .ok()
                .and_then(|o| o.into_tag().ok());
            let (message, time) = match annotated {
                Some(tag) => (
                    Some(tag.message().unwrap_or_default().to_string()),
                    tag.tagger()
                        .map_or(commit.time().seconds(), |t| t.when().seconds()),
                ),
                None => (None, commit.time().seconds()),
            };
            tags.push(TagInfo {
                name,
                commit: commit.id().to_string(),
                message,
                time,
            });
        }
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        not_commits.sort();
        Ok((tags, not_commits))
    }

    /// Creates the annotated tag `name` on `commit` with `message`, never moving an existing
    /// tag. The tagger is git's configured identity, or `mlgate` when none is configured (CI).
    pub fn create_annotated_tag(
        &self,
        name: &str,
        commit: &str,
        message: &str,
    ) -> Result<(), TagCreateError> {
        let git = |source| TagCreateError::Git {
            name: name.to_string(),
            source,
        };
        let target = Oid::from_str(commit)
            .and_then(|oid| self.repo.find_object(oid, Some(ObjectType::Commit)))
            .map_err(git)?;
        let tagger = self
            .repo
            .signature()
            .or_else(|_| Signature::now("mlgate", "mlgate@users.noreply.github.com"))
            .map_err(git)?;
        match self.repo.tag(name, &target, &tagger, message, false) {
            Ok(_) => Ok(()),
            Err(err) if err.code() == git2::ErrorCode::Exists => {
                let commit = self
                    .repo
                    .revparse_single(&format!("refs/tags/{name}"))
                    .and_then(|o| o.peel_to_commit())
                    .map(|c| c.id().to_string())
                    .unwrap_or_default();
                Err(TagCreateError::Exists {
                    name: name.to_string(),
                    commit,
                })
            }
            Err(err) => Err(git(err)),
        }
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
        let other = Oid::from_str(&self.resolve_commit(rev)?)?;
        self.repo
            .merge_base(head.id(), other)
            .with_context(|| format!("HEAD and `{rev}` have no common ancestor"))
    }

    /// The blob of `path` (a path on disk inside the work tree) at `commit`, or `None` if the
    /// file did not exist there. libgit2 holds a blob whole in memory (it inflates packed
    /// objects whole, and streams none), so its bytes are read in place, never copied.
    pub fn file_at(&self, commit: Oid, path: &Path) -> anyhow::Result<Option<git2::Blob<'_>>> {
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
        Ok(Some(blob))
    }
}

/// Seconds since the epoch as an RFC 3339 UTC timestamp (`2026-11-20T10:00:00Z`).
pub fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Seconds since the epoch of a UTC timestamp `YYYY-MM-DDTHH:MM:SSZ` (fractions ignored), the
/// inverse of [`rfc3339`]; `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, time) = text.split_once('T')?;
    let time = time.strip_suffix('Z')?;
    let time = time.split('.').next()?;
    let numbers = |part: &str, sep: char| -> Option<Vec<i64>> {
        part.split(sep).map(|n| n.parse().ok()).collect()
    };
    let (ymd, hms) = (numbers(date, '-')?, numbers(time, ':')?);
    let ([year, month, day], [hour, minute, second]) = (ymd.as_slice(), hms.as_slice()) else {
        return None;
    };
    let valid = (1..=12).contains(month)
        && (1..=31).contains(day)
        && (0..24).contains(hour)
        && (0..60).contains(minute)
        && (0..61).contains(second);
    if !valid {
        return None;
    }
    // Howard Hinnant's days-from-civil algorithm.
    let y = if *month <= 2 { year - 1 } else { *year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let day_of_year = (153 * mp + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_back_what_it_formats() {
        for seconds in [0, 951_782_400, 1_764_633_600, 4_102_444_799, -86_400] {
            assert_eq!(parse_rfc3339(&rfc3339(seconds)), Some(seconds), "{seconds}");
        }
        assert_eq!(parse_rfc3339("2011-06-17T14:53:35.5Z"), Some(1_308_322_415));
        for bad in [
            "",
            "2011-06-17",
            "2011-13-01T00:00:00Z",
            "2011-06-17T14:53:35+01:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    /// A repository with two commits on `main` and a tagged side commit.
    fn repo_with_history() -> (tempfile::TempDir, DataRepo, [String; 3]) {
        let dir = tempfile::tempdir().expect("dir");
        let repo = Repository::init(dir.path()).expect("init");
        let sig = Signature::new("T", "t@example.com", &git2::Time::new(0, 0)).expect("sig");
        let tree = {
            let mut index = repo.index().expect("index");
            repo.find_tree(index.write_tree().expect("tree"))
                .expect("tree")
        };
        let first = repo
            .commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
            .expect("commit");
        let parent = repo.find_commit(first).expect("first");
        let second = repo
            .commit(Some("HEAD"), &sig, &sig, "second", &tree, &[&parent])
            .expect("commit");
        let side = repo
            .commit(None, &sig, &sig, "side", &tree, &[&parent])
            .expect("commit");
        let ids = [first, second, side].map(|c| c.to_string());
        drop((tree, parent));
        (dir, DataRepo { repo }, ids)
    }

    #[test]
    fn tags_are_listed_peeled_and_never_moved() {
        let (_dir, repo, [first, second, side]) = repo_with_history();
        repo.create_annotated_tag("m@v1.0.0", &first, "hello")
            .expect("tag");
        let object = repo.repo.revparse_single(&second).expect("second");
        repo.repo
            .tag_lightweight("m@v1.1.0", &object, false)
            .expect("tag");
        repo.create_annotated_tag("other@v1.0.0", &side, "x")
            .expect("tag");
        let (tags, not_commits) = repo.tags_with_prefix("m@").expect("list");
        assert!(not_commits.is_empty());
        let listed: Vec<(&str, &str, Option<&str>)> = tags
            .iter()
            .map(|t| (t.name.as_str(), t.commit.as_str(), t.message.as_deref()))
            .collect();
        assert_eq!(
            listed,
            [
                ("m@v1.0.0", first.as_str(), Some("hello")),
                ("m@v1.1.0", second.as_str(), None)
            ]
        );
        let head = repo.resolve_commit("HEAD").expect("head");
        assert_eq!(head, second);
        let reached = repo
            .reached_among(&head, &[&first, &side, &second])
            .expect("walk");
        let mut reached: Vec<String> = reached.into_iter().collect();
        reached.sort();
        let mut expected = vec![first.clone(), second.clone()];
        expected.sort();
        assert_eq!(reached, expected);
        match repo.create_annotated_tag("m@v1.0.0", &second, "again") {
            Err(TagCreateError::Exists { commit, .. }) => assert_eq!(commit, first),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert!(repo.resolve_commit("no-such-branch").is_err());
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_168_800), "2026-11-20T10:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
