//! File writes that never leave half a file: write a temporary sibling, then rename it.
//!
//! A crash, a full disk or a killed job between the first and the last byte would otherwise
//! leave a truncated model or predictions file that a later stage reads as if it were whole.
//! A rename within one directory is atomic on every platform CI runs on.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Writes `bytes` to `path` atomically, creating the parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = temporary_sibling(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs_err::create_dir_all(parent)?;
    }
    let result = (|| -> anyhow::Result<()> {
        let mut file = fs_err::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs_err::rename(&temporary, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write `{}`", path.display()))
}

/// `dir/.name.tmp-PID`: hidden, unique per process, and in the same directory (same file
/// system) so the rename is atomic.
pub fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Lowercase hex SHA-256 of `bytes`, the digest release assets and manifests use.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sub").join("a.txt");
        write_atomic(&path, b"hello").expect("write");
        write_atomic(&path, b"world").expect("overwrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"world");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["a.txt"]);
    }

    #[test]
    fn a_failed_write_names_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        // The target is a directory, so the rename fails.
        let path = dir.path().join("taken");
        std::fs::create_dir(&path).expect("mkdir");
        std::fs::write(path.join("x"), b"x").expect("fill");
        let err = write_atomic(&path, b"data").expect_err("fails");
        assert!(format!("{err:#}").contains("taken"), "{err:#}");
        assert!(!temporary_sibling(&path).exists());
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
