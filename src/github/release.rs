//! [`ReleaseApi`] over the GitHub REST API: git tag objects and refs, releases (drafts
//! included), release assets on the uploads host, and the repository's tags for the registry.
//!
//! Every create passes a look-up to [`Client::create`] / [`Client::upload`], so a `POST` whose
//! answer was lost is found rather than sent again. The one exception is the tag object: a
//! second `POST .../git/tags` only leaves an unreferenced object that nothing lists and git
//! collects, while the ref that makes the tag is created with a look-up like everything else.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::json;

use crate::git::{parse_rfc3339, TagInfo};
use crate::release::publish::{Release, ReleaseApi, RemoteAsset, VersionTaken};

use super::client::Client;
use super::comment::truncate;
use super::context::Repo;
use super::error::ApiError;
use super::url::{encode_component, encode_ref};

/// GitHub's limit on a release body, in characters.
const BODY_LIMIT: usize = 125_000;

/// The largest asset downloaded to check it (release assets may be up to 2 GiB; a model we
/// uploaded ourselves that is larger than this is compared by size and digest only).
const DOWNLOAD_LIMIT: u64 = 2 * 1024 * 1024 * 1024;

/// How many annotated tags deep a ref is peeled (a tag of a tag of a commit is legal git).
const PEEL_DEPTH: usize = 4;

/// A git ref (`GET .../git/ref/{ref}`, `.../git/matching-refs/{ref}`).
#[derive(Debug, Deserialize)]
struct GitRef {
    /// `refs/tags/NAME`.
    #[serde(rename = "ref")]
    name: String,
    /// What it points at.
    object: GitObject,
}

/// The object a ref or tag points at.
#[derive(Debug, Deserialize)]
struct GitObject {
    /// Its sha.
    sha: String,
    /// `commit`, `tag`, `tree` or `blob`.
    #[serde(rename = "type")]
    kind: String,
}

/// An annotated tag object (`GET .../git/tags/{sha}`).
#[derive(Debug, Deserialize)]
struct GitTag {
    /// Its sha.
    sha: String,
    /// The message.
    message: String,
    /// Who tagged, and when.
    tagger: Tagger,
    /// What it tags.
    object: GitObject,
}

/// The tagger of a tag object.
#[derive(Debug, Deserialize)]
struct Tagger {
    /// `2014-11-07T22:01:45Z`.
    date: String,
}

/// What a ref peels to: the commit, and the outermost tag object when it is annotated.
struct Peeled {
    /// The commit.
    commit: String,
    /// The annotated tag's message and time.
    annotated: Option<(String, i64)>,
}

/// The GitHub implementation of [`ReleaseApi`] for one repository.
pub struct GithubReleases<'a> {
    /// The client.
    client: &'a Client,
    /// The repository.
    repo: &'a Repo,
}

impl<'a> GithubReleases<'a> {
    /// Releases of `repo` through `client`.
    pub fn new(client: &'a Client, repo: &'a Repo) -> GithubReleases<'a> {
        GithubReleases { client, repo }
    }

    /// `/repos/OWNER/NAME` + `rest`.
    fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.repo.api_path())
    }

    /// The ref `refs/tags/TAG`, if it exists.
    fn tag_ref(&self, tag: &str) -> Result<Option<GitRef>, ApiError> {
        self.client
            .get_optional(&self.path(&format!("/git/ref/{}", encode_ref(&format!("tags/{tag}")))))
    }

    /// Follows a ref through annotated tags to its commit; `None` for a tag of a tree or blob.
    fn peel(&self, object: &GitObject) -> Result<Option<Peeled>, ApiError> {
        let mut current = GitObject {
            sha: object.sha.clone(),
            kind: object.kind.clone(),
        };
        let mut annotated = None;
        for _ in 0..PEEL_DEPTH {
            match current.kind.as_str() {
                "commit" => {
                    return Ok(Some(Peeled {
                        commit: current.sha,
                        annotated,
                    }))
                }
                "tag" => {
                    let tag: GitTag = self
                        .client
                        .get(&self.path(&format!("/git/tags/{}", current.sha)))?;
                    if annotated.is_none() {
                        let time = parse_rfc3339(&tag.tagger.date).unwrap_or(0);
                        annotated = Some((tag.message, time));
                    }
                    current = tag.object;
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The release of `tag` among all releases, drafts included (the by-tag route hides them).
    fn release_by_tag(&self, tag: &str) -> Result<Option<Release>, ApiError> {
        let published = self.client.get_optional::<Release>(
            &self.path(&format!("/releases/tags/{}", encode_component(tag))),
        )?;
        if published.is_some() {
            return Ok(published);
        }
        let all: Vec<Release> = self.client.get_all(&self.path("/releases"))?;
        Ok(all.into_iter().find(|r| r.tag_name == tag))
    }

    /// The complete asset named `name` on `release`, if there is one.
    fn uploaded_asset(
        &self,
        release: &Release,
        name: &str,
        size: u64,
    ) -> Result<Option<RemoteAsset>, ApiError> {
        Ok(self
            .list_assets(release)?
            .into_iter()
            .find(|a| a.name == name && a.state == "uploaded" && a.size == size))
    }

    /// Every asset of a release.
    fn list_assets(&self, release: &Release) -> Result<Vec<RemoteAsset>, ApiError> {
        self.client
            .get_all(&self.path(&format!("/releases/{}/assets", release.id)))
    }
}

impl ReleaseApi for GithubReleases<'_> {
    fn tags(&self, prefix: &str, known: &BTreeSet<String>) -> anyhow::Result<Vec<TagInfo>> {
        // `matching-refs` is not paginated: it answers every match in one array.
        let refs: Vec<GitRef> = self.client.get(&self.path(&format!(
            "/git/matching-refs/{}",
            encode_ref(&format!("tags/{prefix}"))
        )))?;
        let mut tags = Vec::new();
        for reference in refs {
            let Some(name) = reference.name.strip_prefix("refs/tags/") else {
                continue;
            };
            if !name.starts_with(prefix) || known.contains(name) {
                continue;
            }
            let Some(peeled) = self.peel(&reference.object)? else {
                continue;
            };
            let (message, time) = match peeled.annotated {
                Some((message, time)) => (Some(message), time),
                None => (None, 0),
            };
            tags.push(TagInfo {
                name: name.to_string(),
                commit: peeled.commit,
                message,
                time,
            });
        }
        Ok(tags)
    }

    fn tag_commit(&self, tag: &str) -> anyhow::Result<Option<String>> {
        let Some(reference) = self.tag_ref(tag)? else {
            return Ok(None);
        };
        match self.peel(&reference.object)? {
            Some(peeled) => Ok(Some(peeled.commit)),
            None => anyhow::bail!("the tag `{tag}` exists but does not point at a commit"),
        }
    }

    fn create_tag(&self, tag: &str, message: &str, commit: &str) -> anyhow::Result<()> {
        let object: GitTag = self.client.create(
            &self.path("/git/tags"),
            &json!({"tag": tag, "message": message, "object": commit, "type": "commit"}),
            || Ok(None),
        )?;
        let ref_name = format!("refs/tags/{tag}");
        let created: GitRef = self.client.create(
            &self.path("/git/refs"),
            &json!({"ref": ref_name, "sha": object.sha}),
            || self.tag_ref(tag),
        )?;
        // The look-up may have found another promotion's ref rather than ours.
        if created.object.sha != object.sha {
            let theirs = self.peel(&created.object)?.map(|p| p.commit);
            if theirs.as_deref() != Some(commit) {
                return Err(VersionTaken {
                    tag: tag.to_string(),
                    theirs: theirs.unwrap_or_else(|| created.object.sha.clone()),
                    ours: commit.to_string(),
                }
                .into());
            }
        }
        Ok(())
    }

    fn find_release(&self, tag: &str) -> anyhow::Result<Option<Release>> {
        Ok(self.release_by_tag(tag)?)
    }

    fn create_draft(&self, tag: &str, title: &str, body: &str) -> anyhow::Result<Release> {
        let body = truncate(body, BODY_LIMIT);
        Ok(self.client.create(
            &self.path("/releases"),
            &json!({"tag_name": tag, "name": title, "body": body, "draft": true}),
            || self.release_by_tag(tag),
        )?)
    }

    fn assets(&self, release: &Release) -> anyhow::Result<Vec<RemoteAsset>> {
        Ok(self.list_assets(release)?)
    }

    fn download_asset(&self, asset: &RemoteAsset) -> anyhow::Result<Vec<u8>> {
        Ok(self.client.download(
            &self.path(&format!("/releases/assets/{}", asset.id)),
            DOWNLOAD_LIMIT,
        )?)
    }

    fn upload(&self, release: &Release, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let base = release
            .upload_url
            .split('{')
            .next()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| anyhow::anyhow!("release {} has no upload URL", release.id))?;
        let url = format!("{base}?name={}", encode_component(name));
        let size = bytes.len() as u64;
        let _: RemoteAsset = self
            .client
            .upload(&url, "application/octet-stream", bytes, || {
                self.uploaded_asset(release, name, size)
            })?;
        Ok(())
    }

    fn delete_asset(&self, asset: &RemoteAsset) -> anyhow::Result<()> {
        Ok(self
            .client
            .delete(&self.path(&format!("/releases/assets/{}", asset.id)))?)
    }

    fn publish(&self, release: &Release) -> anyhow::Result<Release> {
        Ok(self.client.patch(
            &self.path(&format!("/releases/{}", release.id)),
            &json!({"draft": false}),
        )?)
    }
}

/// The largest manifest or checksum file read from a release.
const SMALL_ASSET_LIMIT: u64 = 16 * 1024 * 1024;

/// Downloads the model of the published release of `tag` into `dest`: `manifest.json`, then
/// every model file it lists (flat asset names mapped back to the manifest's paths), each
/// checked against `SHA256SUMS` when the release has one. Files go to a sibling directory that
/// is renamed into place at the end, so an interrupted download never leaves a half model in
/// the cache. The manifest's own sha256 is checked against the tag's record by the cache.
pub fn download_model(
    client: &Client,
    repo: &Repo,
    tag: &str,
    dest: &std::path::Path,
) -> anyhow::Result<crate::baseline::Fetched> {
    use crate::baseline::Fetched;
    use crate::release::bundle::{asset_name, parse_sha256sums, SHA256SUMS};
    use crate::train::manifest::{Manifest, MANIFEST_FILE};

    let api = GithubReleases::new(client, repo);
    let unavailable = |why: String| Ok(Fetched::Unavailable(why));
    let release: Option<Release> = match client
        .get_optional(&api.path(&format!("/releases/tags/{}", encode_component(tag))))
    {
        Ok(found) => found,
        Err(e) => return unavailable(format!("cannot read its release: {e}")),
    };
    let Some(release) = release else {
        return unavailable(format!("no published release for `{tag}`"));
    };
    let assets = match api.list_assets(&release) {
        Ok(assets) => assets,
        Err(e) => return unavailable(format!("cannot list its release assets: {e}")),
    };
    let fetch = |name: &str, limit: u64| -> anyhow::Result<Option<Vec<u8>>> {
        let Some(asset) = assets
            .iter()
            .find(|a| a.name == name && a.state == "uploaded")
        else {
            return Ok(None);
        };
        let bytes = client.download(&api.path(&format!("/releases/assets/{}", asset.id)), limit)?;
        Ok(Some(bytes))
    };
    let Some(manifest_bytes) = fetch(MANIFEST_FILE, SMALL_ASSET_LIMIT)? else {
        return unavailable(format!("the release of `{tag}` has no `{MANIFEST_FILE}`"));
    };
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        anyhow::anyhow!("the `{MANIFEST_FILE}` of the release of `{tag}` is not a manifest: {e}")
    })?;
    let sums = match fetch(SHA256SUMS, SMALL_ASSET_LIMIT)? {
        Some(bytes) => Some(parse_sha256sums(&String::from_utf8_lossy(&bytes))?),
        None => None,
    };
    let check = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let Some(expected) = sums.as_ref().and_then(|s| s.get(name)) else {
            return Ok(());
        };
        let actual = crate::fsx::sha256_hex(bytes);
        if &actual != expected {
            anyhow::bail!(
                "the release asset `{name}` of `{tag}` has sha256 {actual}, but its `{SHA256SUMS}` lists {expected}"
            );
        }
        Ok(())
    };
    check(MANIFEST_FILE, &manifest_bytes)?;
    let staging = dest.with_extension(format!("download-{}", std::process::id()));
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    let written = (|| -> anyhow::Result<Option<String>> {
        for file in &manifest.files {
            let name = asset_name(&file.name);
            let Some(bytes) = fetch(&name, DOWNLOAD_LIMIT)? else {
                return Ok(Some(format!(
                    "the release of `{tag}` has no asset `{name}`"
                )));
            };
            check(&name, &bytes)?;
            crate::fsx::write_atomic(&staging.join(&file.name), &bytes)?;
        }
        crate::fsx::write_atomic(&staging.join(MANIFEST_FILE), &manifest_bytes)?;
        Ok(None)
    })();
    if !matches!(written, Ok(None)) {
        // Best effort: a staging directory that cannot be removed is replaced next time.
        let _ = fs_err::remove_dir_all(&staging);
    }
    match written? {
        Some(why) => unavailable(why),
        None => {
            if dest.exists() {
                fs_err::remove_dir_all(dest)?;
            }
            fs_err::rename(&staging, dest)?;
            Ok(Fetched::Model)
        }
    }
}
