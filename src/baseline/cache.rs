//! A champion's model from a local cache directory (`--cache DIR`, with one `NAME@vX.Y.Z/`
//! subdirectory per version holding the model directory, or a `model/` inside it).
//!
//! A cache is only trusted as far as it checks out: the manifest must have the sha256 the tag
//! recorded, and every model file the sha256 the manifest recorded. A copy that fails either
//! check is an error, not a silent fallback, because it means the cache holds another model
//! under this version's name.

use std::path::{Path, PathBuf};

use crate::fsx::sha256_hex;
use crate::release::record::TagRecord;
use crate::release::version::VersionTag;
use crate::train::manifest::{Manifest, MANIFEST_FILE};

/// The model directory for `tag` in `cache`, if the cache has one.
pub fn model_dir_in(cache: &Path, tag: &VersionTag) -> Option<PathBuf> {
    let root = cache.join(tag.to_string());
    [root.clone(), root.join(crate::train::MODEL_DIR)]
        .into_iter()
        .find(|dir| dir.join(MANIFEST_FILE).is_file())
}

/// Checks the cached model against the tag's record and copies it into `dest` (emptied first);
/// returns the manifest's sha256.
pub fn copy_verified(
    source: &Path,
    record: Option<&TagRecord>,
    dest: &Path,
) -> anyhow::Result<String> {
    let manifest_path = source.join(MANIFEST_FILE);
    let manifest_bytes = fs_err::read(&manifest_path)?;
    let manifest_sha256 = sha256_hex(&manifest_bytes);
    if let Some(expected) = record.and_then(|r| r.manifest_sha256.as_deref()) {
        if expected != manifest_sha256 {
            anyhow::bail!(
                "`{}` has sha256 {manifest_sha256}, but the tag records {expected}: the cache holds a different model under this version",
                manifest_path.display()
            );
        }
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        anyhow::anyhow!("`{}` is not a valid manifest: {e}", manifest_path.display())
    })?;
    if dest.exists() {
        fs_err::remove_dir_all(dest)?;
    }
    for file in &manifest.files {
        let bytes = manifest.read_verified(source, file)?;
        crate::fsx::write_atomic(&dest.join(&file.name), &bytes)?;
    }
    crate::fsx::write_atomic(&dest.join(MANIFEST_FILE), &manifest_bytes)?;
    Ok(manifest_sha256)
}
