//! The action's installer (`scripts/install.sh`), run for real against release archives served
//! from 127.0.0.1: it installs into the tool cache, reuses the cache, and refuses anything it
//! cannot verify.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

const VERSION: &str = "0.1.0";
const TARGET: &str = "x86_64-unknown-linux-musl";

/// Serves the files of one directory over HTTP/1.0 and counts the requests it answered.
struct FileServer {
    base: String,
    requests: Arc<AtomicUsize>,
}

impl FileServer {
    fn start(root: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                serve(stream, &root);
            }
        });
        FileServer { base, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: std::net::TcpStream, root: &Path) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let file = root.join(path.trim_start_matches('/'));
    let response = match std::fs::read(&file) {
        Ok(body) if !path.contains("..") => {
            let mut head = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            head.extend(body);
            head
        }
        _ => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    let _ = stream.write_all(&response);
}

/// A release layout (`v0.1.0/mlgate-v0.1.0-TARGET.tar.gz`) holding the binary under test.
/// Packed once per test process, stripped: the debug binary is over 300 MB and gzip is slow.
struct Release {
    root: PathBuf,
    archive_name: String,
    sha256: String,
}

impl Release {
    fn shared() -> &'static Release {
        static RELEASE: OnceLock<Release> = OnceLock::new();
        RELEASE.get_or_init(Release::build)
    }

    fn build() -> Release {
        // One directory per process: nextest runs each test in its own.
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("installer-release-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let staging = root.join("staging");
        std::fs::create_dir_all(&staging).expect("mkdir");
        std::fs::copy(env!("CARGO_BIN_EXE_mlgate"), staging.join("mlgate")).expect("copy binary");
        // Best effort: without `strip` the test is only slower.
        let _ = Command::new("strip").arg(staging.join("mlgate")).status();
        let archive_name = format!("mlgate-v{VERSION}-{TARGET}.tar.gz");
        let release_dir = root.join(format!("v{VERSION}"));
        std::fs::create_dir_all(&release_dir).expect("mkdir");
        let archive = release_dir.join(&archive_name);
        let status = Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(&staging)
            .arg("mlgate")
            .status()
            .expect("tar");
        assert!(status.success());
        let sha256 = mlgate::fsx::sha256_hex(&std::fs::read(&archive).expect("read archive"));
        Release {
            root,
            archive_name,
            sha256,
        }
    }

    fn server(&self) -> FileServer {
        FileServer::start(self.root.clone())
    }

    /// A checksum file in the runner's directory, pinning `sha` for the archive.
    fn sums(&self, runner: &Runner, sha: &str) -> PathBuf {
        let path = runner.dir.path().join("SHA256SUMS");
        std::fs::write(&path, format!("{sha}  {}\n", self.archive_name)).expect("write sums");
        path
    }
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
    let sums = release.sums(&runner, &release.sha256);

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
    let sums = release.sums(&runner, &"0".repeat(64));

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
    let sums = release.sums(&runner, &release.sha256);
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
    let sums = release.sums(&runner, &release.sha256);

    let windows = runner.install(&server, &sums, &[("RUNNER_OS", "Windows")]);
    assert_eq!(windows.status.code(), Some(2));
    assert!(stderr(&windows).contains("build-from-source"));

    let bad_version = runner.install(&server, &sums, &[("MLGATE_VERSION", "1.0; rm -rf /")]);
    assert_eq!(bad_version.status.code(), Some(2));
    assert_eq!(server.requests(), 0);
}
