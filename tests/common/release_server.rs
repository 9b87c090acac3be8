//! Release archives of the binary under test, served from 127.0.0.1 the way GitHub serves
//! release downloads: for the installer's tests and the actions run by act.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

pub const VERSION: &str = "0.1.0";
pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// Serves the files of one directory over HTTP/1.0 and counts the requests it answered.
pub struct FileServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Requests answered.
    requests: Arc<AtomicUsize>,
}

impl FileServer {
    /// Serves `root`.
    pub fn start(root: PathBuf) -> FileServer {
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

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
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
pub struct Release {
    /// The directory served.
    pub root: PathBuf,
    /// `mlgate-vVERSION-TARGET.tar.gz`.
    pub archive_name: String,
    /// Its sha256.
    pub sha256: String,
}

impl Release {
    /// The archive, packed once per test process.
    pub fn shared() -> &'static Release {
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

    /// A server for the release layout.
    pub fn server(&self) -> FileServer {
        FileServer::start(self.root.clone())
    }
}
