//! The release bundle: the files a release carries, flat, with `SHA256SUMS`.
//!
//! Release assets have flat names, so a model file in a subdirectory (an external trainer's
//! `weights/a.bin`) becomes `weights__a.bin`; the manifest keeps the real names and the
//! mapping is fixed, so a download can put every file back. Before anything is bundled, every
//! model file is checked against the sha256 the manifest recorded: a release never carries a
//! model that differs from the one that was evaluated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::fsx::{sha256_hex, write_atomic};
use crate::train::manifest::{Manifest, MANIFEST_FILE};

/// The checksum file's name, in `sha256sum` format.
pub const SHA256SUMS: &str = "SHA256SUMS";

/// The model card's asset name.
pub const MODEL_CARD: &str = "model_card.md";

/// The directory under the run directory that receives the bundle.
pub const RELEASE_DIR: &str = "release";

/// One asset: its flat name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The asset's name on the release.
    pub name: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

impl Asset {
    /// Lowercase hex sha256 of the content.
    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

/// The flat asset name of a model file named `name` in the manifest.
pub fn asset_name(name: &str) -> String {
    name.replace('/', "__")
}

/// The assets of a release, by name (so ordering is deterministic), with `SHA256SUMS` last.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// Assets by name.
    assets: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    /// Adds an asset; two assets with one name are an error (a user's extra asset called
    /// `manifest.json`, say), never a silent overwrite.
    pub fn add(&mut self, name: String, bytes: Vec<u8>) -> anyhow::Result<()> {
        if name == SHA256SUMS || self.assets.contains_key(&name) {
            anyhow::bail!("two release assets would be named `{name}`; rename one");
        }
        self.assets.insert(name, bytes);
        Ok(())
    }

    /// Adds the model directory: every file the manifest lists (checked against its sha256)
    /// and the manifest itself.
    pub fn add_model(&mut self, model_dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
        for file in &manifest.files {
            let bytes = manifest.read_verified(model_dir, file)?;
            self.add(asset_name(&file.name), bytes)?;
        }
        self.add(
            MANIFEST_FILE.to_string(),
            fs_err::read(model_dir.join(MANIFEST_FILE))?,
        )
    }

    /// Adds a file under its own file name.
    pub fn add_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .with_context(|| format!("`{}` has no file name", path.display()))?;
        let bytes = fs_err::read(path)
            .with_context(|| format!("cannot read the release asset `{}`", path.display()))?;
        self.add(name, bytes)
    }

    /// `SHA256SUMS`: `<hex>  <name>` per asset, sorted by name, as `sha256sum` writes it.
    pub fn sha256sums(&self) -> String {
        self.assets
            .iter()
            .map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes)))
            .collect()
    }

    /// Every asset with `SHA256SUMS` last: the order to upload in, so a release that has its
    /// checksum file has everything it lists.
    pub fn assets(&self) -> Vec<Asset> {
        self.assets
            .iter()
            .map(|(name, bytes)| Asset {
                name: name.clone(),
                bytes: bytes.clone(),
            })
            .chain(std::iter::once(Asset {
                name: SHA256SUMS.to_string(),
                bytes: self.sha256sums().into_bytes(),
            }))
            .collect()
    }

    /// Writes the bundle into `dir` (emptied first, so no stale asset survives), returning the
    /// paths written.
    pub fn write(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        if dir.exists() {
            fs_err::remove_dir_all(dir)?;
        }
        let mut written = Vec::new();
        for asset in self.assets() {
            let path = dir.join(&asset.name);
            write_atomic(&path, &asset.bytes)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Parses `SHA256SUMS` text into name -> hex digest; malformed lines are errors naming the line.
pub fn parse_sha256sums(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = line.split_once("  ").filter(|(hex, name)| {
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && !name.is_empty()
        });
        let Some((hex, name)) = parsed else {
            anyhow::bail!("line {} of SHA256SUMS is not `<sha256>  <name>`", index + 1);
        };
        out.insert(name.to_string(), hex.to_ascii_lowercase());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_sorted_and_in_sha256sum_format() {
        let mut bundle = Bundle::default();
        bundle.add("b.txt".into(), b"abc".to_vec()).unwrap();
        bundle.add("a.txt".into(), Vec::new()).unwrap();
        assert_eq!(
            bundle.sha256sums(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.txt\n\
             ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b.txt\n"
        );
        let names: Vec<String> = bundle.assets().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["a.txt", "b.txt", "SHA256SUMS"]);
        let parsed = parse_sha256sums(&bundle.sha256sums()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parse_sha256sums("zz  a\n").is_err());
    }

    #[test]
    fn duplicate_names_are_refused() {
        let mut bundle = Bundle::default();
        bundle.add("a".into(), Vec::new()).unwrap();
        assert!(bundle.add("a".into(), Vec::new()).is_err());
        assert!(bundle.add(SHA256SUMS.into(), Vec::new()).is_err());
    }

    #[test]
    fn nested_model_files_get_flat_names() {
        assert_eq!(asset_name("weights/a.bin"), "weights__a.bin");
        assert_eq!(asset_name("model.mlgate"), "model.mlgate");
    }
}
