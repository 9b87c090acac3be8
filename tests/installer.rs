//! The action's installer (`scripts/install.sh`), run for real against release archives served
//! from 127.0.0.1: it installs into the tool cache, reuses the cache, and refuses anything it
//! cannot verify.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::release_server::{FileServer, Release, TARGET, VERSION};

/// A checksum file in the runner's directory, pinning `sha` for the archive.
fn sums(release: &Release, runner: &Runner, sha: &str) -> PathBuf {
    let path = runner.dir.path().join("SHA256SUMS");
    std::fs::write(&path, format!("{sha}  {}\n", release.archive_name)).expect("write sums");
    path
}

/// A runner's directories: tool cache, temp, and the `GITHUB_PATH` / `GITHUB_OUTPUT` files.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let runner = Runner {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        for sub in ["cache", "temp"] {
            std::fs::create_dir_all(runner.dir.path().join(sub)).expect("mkdir");
        }
        runner
    }

    fn install(&self, server: &FileServer, sums: &Path, extra: &[(&str, &str)]) -> Output {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut command = Command::new("bash");
        command
            .arg(root.join("scripts/install.sh"))
            .env_remove("MLGATE_VERSION")
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TOOL_CACHE", self.dir.path().join("cache"))
            .env("RUNNER_TEMP", self.dir.path().join("temp"))
            .env("GITHUB_PATH", self.dir.path().join("github_path"))
            .env("GITHUB_OUTPUT", self.dir.path().join("github_output"))
            .env("MLGATE_DOWNLOAD_BASE", &server.base)
            .env("MLGATE_CHECKSUMS_FILE", sums);
        for (key, value) in extra {
            command.env(key, value);
        }
        command.output().expect("run install.sh")
    }

    fn installed_dir(&self) -> PathBuf {
        self.dir
            .path()
            .join("cache/mlgate")
            .join(VERSION)
            .join(TARGET)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn installs_the_verified_binary_then_reuses_the_tool_cache() {
    let release = Release::shared();
    let server = release.server();
    let runner = Runner::new();
    let sums = sums(release, &runner, &release.sha256);

    let first = runner.install(&server, &sums, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(server.requests(), 1);
    let binary = runner.installed_dir().join("mlgate");
    let version = Command::new(&binary)
        .arg("--version")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("mlgate "));
    assert_eq!(
        runner.read("github_path").trim(),
        runner.installed_dir().display().to_string()
    );
    let outputs = runner.read("github_output");
    assert!(
        outputs.contains(&format!("version={VERSION}\n")),
        "{outputs}"
    );
    assert!(outputs.contains(&format!("path={}\n", binary.display())));

    let second = runner.install(&server, &sums, &[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(
        server.requests(),
        1,
        "the second install must come from the cache"
    );
    assert!(String::from_utf8_lossy(&second.stdout).contains("found in the tool cache"));
}

#[test]
fn a_checksum_mismatch_fails_and_installs_nothing() {
    let release = Release::shared();
    let server = release.server();
    let runner = Runner::new();
    let sums = sums(release, &runner, &"0".repeat(64));

    let output = runner.install(&server, &sums, &[]);
    assert_eq!(output.status.code(), Some(3));
    let message = stderr(&output);
    assert!(message.contains("sha256 mismatch"), "{message}");
    assert!(message.contains(&release.sha256), "{message}");
    assert!(!runner.installed_dir().join("mlgate").exists());
    assert!(runner.read("github_path").is_empty());
}

#[test]
fn an_archive_without_a_pinned_sum_is_refused_before_download() {
    let release = Release::shared();
    let server = release.server();
    let runner = Runner::new();
    let sums = runner.dir.path().join("other-sums");
    std::fs::write(
        &sums,
        format!("{}  mlgate-v9.9.9-x.tar.gz\n", release.sha256),
    )
    .expect("write");

    let output = runner.install(&server, &sums, &[]);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("no sha256 pinned for"));
    assert_eq!(server.requests(), 0);
}

#[test]
fn no_hash_tool_is_a_hard_failure() {
    let release = Release::shared();
    let server = release.server();
    let runner = Runner::new();
    let sums = sums(release, &runner, &release.sha256);
    // A PATH with every tool the installer uses except sha256sum and shasum.
    let bin = runner.dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for tool in [
        "bash", "curl", "awk", "tar", "gzip", "mktemp", "rm", "mkdir", "install", "touch", "tr",
        "dirname", "cut", "uname",
    ] {
        let found = Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .expect("which");
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        assert!(!path.is_empty(), "{tool} is needed for this test");
        std::os::unix::fs::symlink(&path, bin.join(tool)).expect("symlink");
    }
    let path = bin.display().to_string();

    let output = runner.install(&server, &sums, &[("PATH", &path)]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("neither sha256sum nor shasum"));
    assert!(!runner.installed_dir().join("mlgate").exists());
}

#[test]
fn an_unsupported_platform_or_version_is_a_usage_error() {
    let release = Release::shared();
    let server = release.server();
    let runner = Runner::new();
    let sums = sums(release, &runner, &release.sha256);

    let windows = runner.install(&server, &sums, &[("RUNNER_OS", "Windows")]);
    assert_eq!(windows.status.code(), Some(2));
    assert!(stderr(&windows).contains("build-from-source"));

    let bad_version = runner.install(&server, &sums, &[("MLGATE_VERSION", "1.0; rm -rf /")]);
    assert_eq!(bad_version.status.code(), Some(2));
    assert_eq!(server.requests(), 0);
}
