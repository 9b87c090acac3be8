//! Publishing a promoted version to a forge's API, idempotently and crash-safely: the tag
//! (object and ref), a draft release, its assets, then publication.
//!
//! Every step looks first and writes only what is missing, so any run, however the previous
//! one died, converges on exactly one tag, one ref, one release and one of each asset:
//!
//! 1. the ref `tags/NAME@vX.Y.Z`: when it exists on our commit the tag is done; on another
//!    commit the version was taken by another promotion and the run fails without writing;
//! 2. the release for that tag, drafts included (GitHub's "release by tag" lookup hides drafts,
//!    so [`ReleaseApi::find_release`] must list them); created as a draft when missing;
//! 3. each asset by name: kept when its size and sha256 match the bundle, otherwise (a partial
//!    or different upload) deleted and uploaded again; missing ones are uploaded, `SHA256SUMS`
//!    last;
//! 4. the draft is published once every asset is there.
//!
//! Retries of single HTTP calls (backoff, `retry-after`, look-up before any re-POST) belong to
//! the HTTP client behind [`ReleaseApi`]; this module owns the order and the checks between
//! calls, and is tested against an in-memory forge.

use std::collections::BTreeSet;

use crate::fsx::sha256_hex;
use crate::git::TagInfo;

use super::bundle::Asset;

/// The tag a promotion wanted is on another commit: another promotion took the version first.
/// Callers re-read the registry and pick the next version.
#[derive(Debug, thiserror::Error)]
#[error("the tag `{tag}` already exists on commit {theirs}, not {ours}: another promotion took this version")]
pub struct VersionTaken {
    /// The tag.
    pub tag: String,
    /// Where it points.
    pub theirs: String,
    /// The commit we wanted to tag.
    pub ours: String,
}

/// A release as the forge reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Release {
    /// The forge's id.
    pub id: u64,
    /// The tag it belongs to.
    pub tag_name: String,
    /// Whether it is still a draft.
    pub draft: bool,
    /// Its page.
    #[serde(default)]
    pub html_url: String,
    /// Where its assets are uploaded (a URI template on the uploads host, on GitHub).
    #[serde(default)]
    pub upload_url: String,
}

/// An uploaded asset as the forge reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RemoteAsset {
    /// The forge's id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// `uploaded` when complete (GitHub reports `open` for an upload that did not finish).
    #[serde(default)]
    pub state: String,
    /// `sha256:<hex>`, when the forge computes it.
    #[serde(default)]
    pub digest: Option<String>,
}

/// The calls publication needs; implemented over the GitHub client, and in memory for tests.
pub trait ReleaseApi {
    /// The forge's tags whose names start with `prefix`, except those named in `known` (which
    /// the local repository already has), peeled to their commits, with their messages.
    fn tags(&self, prefix: &str, known: &BTreeSet<String>) -> anyhow::Result<Vec<TagInfo>>;
    /// The commit the tag `tag` points at (peeled through an annotated tag), if the ref exists.
    fn tag_commit(&self, tag: &str) -> anyhow::Result<Option<String>>;
    /// Creates the annotated tag object and its ref `refs/tags/TAG` on `commit`; a ref that
    /// turns out to point at another commit (a race) is a [`VersionTaken`] error.
    fn create_tag(&self, tag: &str, message: &str, commit: &str) -> anyhow::Result<()>;
    /// The release for `tag`, drafts included.
    fn find_release(&self, tag: &str) -> anyhow::Result<Option<Release>>;
    /// Creates a draft release for `tag`.
    fn create_draft(&self, tag: &str, title: &str, body: &str) -> anyhow::Result<Release>;
    /// The release's assets.
    fn assets(&self, release: &Release) -> anyhow::Result<Vec<RemoteAsset>>;
    /// The bytes of an asset, for forges that report no digest.
    fn download_asset(&self, asset: &RemoteAsset) -> anyhow::Result<Vec<u8>>;
    /// Uploads an asset.
    fn upload(&self, release: &Release, name: &str, bytes: &[u8]) -> anyhow::Result<()>;
    /// Deletes an asset.
    fn delete_asset(&self, asset: &RemoteAsset) -> anyhow::Result<()>;
    /// Publishes a draft.
    fn publish(&self, release: &Release) -> anyhow::Result<Release>;
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct Publication<'a> {
    /// `NAME@vX.Y.Z`.
    pub tag: &'a str,
    /// The commit to tag.
    pub commit: &'a str,
    /// The annotated tag's message.
    pub message: &'a str,
    /// The release's title.
    pub title: &'a str,
    /// The release's body (the model card).
    pub body: &'a str,
    /// The assets, `SHA256SUMS` last.
    pub assets: &'a [Asset],
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// The release page.
    pub url: String,
    /// Whether this run created the tag.
    pub created_tag: bool,
    /// Whether this run created the release.
    pub created_release: bool,
    /// Assets this run uploaded.
    pub uploaded: Vec<String>,
    /// Assets this run replaced because the forge's copy was partial or different.
    pub replaced: Vec<String>,
    /// Whether this run published the draft.
    pub published: bool,
}

impl Published {
    /// Whether this run changed nothing (everything was already there).
    pub fn unchanged(&self) -> bool {
        !self.created_tag && !self.created_release && self.uploaded.is_empty() && !self.published
    }
}

/// Publishes, converging from whatever state an earlier run left.
pub fn publish(api: &dyn ReleaseApi, p: &Publication<'_>) -> anyhow::Result<Published> {
    let mut done = Published::default();
    match api.tag_commit(p.tag)? {
        Some(commit) if commit == p.commit => {}
        Some(theirs) => {
            return Err(VersionTaken {
                tag: p.tag.to_string(),
                theirs,
                ours: p.commit.to_string(),
            }
            .into())
        }
        None => {
            api.create_tag(p.tag, p.message, p.commit)?;
            done.created_tag = true;
        }
    }
    let mut release = match api.find_release(p.tag)? {
        Some(release) => release,
        None => {
            done.created_release = true;
            api.create_draft(p.tag, p.title, p.body)?
        }
    };
    let remote = api.assets(&release)?;
    for asset in p.assets {
        let existing: Vec<&RemoteAsset> = remote.iter().filter(|r| r.name == asset.name).collect();
        let mut intact = false;
        for r in existing {
            if !intact && is_intact(api, r, asset)? {
                intact = true;
            } else {
                api.delete_asset(r)?;
                done.replaced.push(asset.name.clone());
            }
        }
        if !intact {
            api.upload(&release, &asset.name, &asset.bytes)?;
            done.uploaded.push(asset.name.clone());
        }
    }
    if release.draft {
        release = api.publish(&release)?;
        done.published = true;
    }
    done.url = release.html_url;
    Ok(done)
}

/// Whether the forge's copy is complete and has the bundle's bytes.
fn is_intact(api: &dyn ReleaseApi, remote: &RemoteAsset, asset: &Asset) -> anyhow::Result<bool> {
    let complete = remote.state == "uploaded" && remote.size == asset.bytes.len() as u64;
    if !complete {
        return Ok(false);
    }
    let digest = match &remote.digest {
        Some(d) => d.trim_start_matches("sha256:").to_ascii_lowercase(),
        None => sha256_hex(&api.download_asset(remote)?),
    };
    Ok(digest == asset.sha256())
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;

    /// An in-memory forge that counts writes and can fail the N-th write after applying it
    /// (a 502 whose write went through) or before (a crash).
    #[derive(Default)]
    struct Forge {
        /// tag -> commit.
        tags: RefCell<Vec<(String, String)>>,
        /// Releases.
        releases: RefCell<Vec<Release>>,
        /// (release id, asset, bytes).
        assets: RefCell<Vec<(u64, RemoteAsset, Vec<u8>)>>,
        /// Write calls so far.
        writes: Cell<u32>,
        /// Fail this write (1-based) after applying it.
        fail_after: Cell<Option<u32>>,
        /// Give no digests, so intact checks download.
        no_digests: bool,
        /// Next id.
        next_id: Cell<u64>,
    }

    impl Forge {
        /// Counts a write; errors when it is the one to fail (after the effect).
        fn wrote(&self) -> anyhow::Result<()> {
            self.writes.set(self.writes.get() + 1);
            if self.fail_after.get() == Some(self.writes.get()) {
                anyhow::bail!("502 Bad Gateway (the write went through)");
            }
            Ok(())
        }

        /// A fresh id.
        fn id(&self) -> u64 {
            self.next_id.set(self.next_id.get() + 1);
            self.next_id.get()
        }
    }

    impl ReleaseApi for Forge {
        fn tags(&self, prefix: &str, known: &BTreeSet<String>) -> anyhow::Result<Vec<TagInfo>> {
            let tags = self.tags.borrow();
            Ok(tags
                .iter()
                .filter(|(t, _)| t.starts_with(prefix) && !known.contains(t))
                .map(|(t, c)| TagInfo {
                    name: t.clone(),
                    commit: c.clone(),
                    message: None,
                    time: 0,
                })
                .collect())
        }
        fn tag_commit(&self, tag: &str) -> anyhow::Result<Option<String>> {
            let tags = self.tags.borrow();
            Ok(tags.iter().find(|(t, _)| t == tag).map(|(_, c)| c.clone()))
        }
        fn create_tag(&self, tag: &str, _message: &str, commit: &str) -> anyhow::Result<()> {
            assert!(self.tag_commit(tag)?.is_none(), "tag created twice");
            self.tags.borrow_mut().push((tag.into(), commit.into()));
            self.wrote()
        }
        fn find_release(&self, tag: &str) -> anyhow::Result<Option<Release>> {
            let releases = self.releases.borrow();
            Ok(releases.iter().find(|r| r.tag_name == tag).cloned())
        }
        fn create_draft(&self, tag: &str, _title: &str, _body: &str) -> anyhow::Result<Release> {
            assert!(self.find_release(tag)?.is_none(), "release created twice");
            let release = Release {
                id: self.id(),
                tag_name: tag.into(),
                draft: true,
                html_url: format!("https://forge/releases/{tag}"),
                upload_url: String::new(),
            };
            self.releases.borrow_mut().push(release.clone());
            self.wrote()?;
            Ok(release)
        }
        fn assets(&self, release: &Release) -> anyhow::Result<Vec<RemoteAsset>> {
            let assets = self.assets.borrow();
            Ok(assets
                .iter()
                .filter(|(id, _, _)| *id == release.id)
                .map(|(_, a, _)| a.clone())
                .collect())
        }
        fn download_asset(&self, asset: &RemoteAsset) -> anyhow::Result<Vec<u8>> {
            let assets = self.assets.borrow();
            Ok(assets
                .iter()
                .find(|(_, a, _)| a.id == asset.id)
                .map(|(_, _, b)| b.clone())
                .unwrap_or_default())
        }
        fn upload(&self, release: &Release, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
            let asset = RemoteAsset {
                id: self.id(),
                name: name.into(),
                size: bytes.len() as u64,
                state: "uploaded".into(),
                digest: (!self.no_digests).then(|| format!("sha256:{}", sha256_hex(bytes))),
            };
            self.assets
                .borrow_mut()
                .push((release.id, asset, bytes.to_vec()));
            self.wrote()
        }
        fn delete_asset(&self, asset: &RemoteAsset) -> anyhow::Result<()> {
            self.assets
                .borrow_mut()
                .retain(|(_, a, _)| a.id != asset.id);
            self.wrote()
        }
        fn publish(&self, release: &Release) -> anyhow::Result<Release> {
            let mut releases = self.releases.borrow_mut();
            let r = releases
                .iter_mut()
                .find(|r| r.id == release.id)
                .expect("exists");
            r.draft = false;
            let out = r.clone();
            drop(releases);
            self.wrote()?;
            Ok(out)
        }
    }

    /// Three assets, `SHA256SUMS` last.
    fn assets() -> Vec<Asset> {
        let mut bundle = crate::release::bundle::Bundle::default();
        bundle
            .add("model.mlgate".into(), b"model".to_vec())
            .unwrap();
        bundle.add("manifest.json".into(), b"{}".to_vec()).unwrap();
        bundle.assets()
    }

    /// Publishes the standard bundle.
    fn run(forge: &Forge, assets: &[Asset]) -> anyhow::Result<Published> {
        publish(
            forge,
            &Publication {
                tag: "churn@v1.0.0",
                commit: "c1",
                message: "m",
                title: "churn v1.0.0",
                body: "card",
                assets,
            },
        )
    }

    /// Exactly one tag, one release (published) and one intact copy of each asset.
    fn assert_converged(forge: &Forge, assets: &[Asset]) {
        assert_eq!(forge.tags.borrow().len(), 1);
        assert_eq!(forge.releases.borrow().len(), 1);
        assert!(!forge.releases.borrow()[0].draft);
        let stored = forge.assets.borrow();
        assert_eq!(stored.len(), assets.len());
        for asset in assets {
            let copies: Vec<_> = stored
                .iter()
                .filter(|(_, a, _)| a.name == asset.name)
                .collect();
            assert_eq!(copies.len(), 1, "{}", asset.name);
            assert_eq!(copies[0].2, asset.bytes);
        }
    }

    #[test]
    fn a_first_run_does_everything_and_a_second_writes_nothing() {
        let forge = Forge::default();
        let assets = assets();
        let first = run(&forge, &assets).unwrap();
        assert!(first.created_tag && first.created_release && first.published);
        let order: Vec<&str> = first.uploaded.iter().map(String::as_str).collect();
        assert_eq!(order, ["manifest.json", "model.mlgate", "SHA256SUMS"]);
        assert_eq!(first.url, "https://forge/releases/churn@v1.0.0");
        let writes = forge.writes.get();
        let second = run(&forge, &assets).unwrap();
        assert!(second.unchanged(), "{second:?}");
        assert_eq!(forge.writes.get(), writes);
        assert_converged(&forge, &assets);
    }

    #[test]
    fn a_failure_after_any_write_is_finished_by_the_next_run_without_duplicates() {
        let assets = assets();
        // Writes of a clean run: tag, draft, three uploads, publish.
        for failing in 1..=6 {
            for no_digests in [false, true] {
                let forge = Forge {
                    no_digests,
                    ..Forge::default()
                };
                forge.fail_after.set(Some(failing));
                assert!(run(&forge, &assets).is_err(), "write {failing} should fail");
                forge.fail_after.set(None);
                run(&forge, &assets).unwrap();
                assert_converged(&forge, &assets);
                let writes = forge.writes.get();
                assert!(run(&forge, &assets).unwrap().unchanged());
                assert_eq!(forge.writes.get(), writes);
            }
        }
    }

    #[test]
    fn a_partial_or_different_asset_is_replaced_once() {
        let forge = Forge::default();
        let assets = assets();
        run(&forge, &assets).unwrap();
        {
            let mut stored = forge.assets.borrow_mut();
            // A half-finished upload and a corrupted one.
            stored[0].1.state = "open".into();
            stored[1].2 = b"other".to_vec();
            stored[1].1.digest = Some(format!("sha256:{}", sha256_hex(b"other")));
            stored[1].1.size = 5;
        }
        let fixed = run(&forge, &assets).unwrap();
        assert_eq!(fixed.replaced.len(), 2, "{fixed:?}");
        assert_eq!(fixed.uploaded.len(), 2);
        assert_converged(&forge, &assets);
    }

    #[test]
    fn a_version_taken_on_another_commit_fails_without_writing() {
        let forge = Forge::default();
        forge
            .tags
            .borrow_mut()
            .push(("churn@v1.0.0".into(), "other".into()));
        let err = run(&forge, &assets()).unwrap_err();
        assert!(err.downcast_ref::<VersionTaken>().is_some(), "{err}");
        assert!(err.to_string().contains("another promotion"), "{err}");
        assert_eq!(forge.writes.get(), 0);
        assert!(forge.releases.borrow().is_empty());
    }
}
