//! Helpers shared by the end-to-end tests: a scratch project directory and a runner for the
//! real `mlgate` binary.

#![allow(dead_code)]

pub mod github_server;
pub mod gpu;
pub mod openapi;
pub mod registry;
pub mod release_server;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The output of one `mlgate` run.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A temporary project directory.
pub struct Project {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl Project {
    /// An empty project.
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The project's root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating parent directories).
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// Reads a file as text.
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative)).expect("read")
    }

    /// Reads a JSON file.
    pub fn json(&self, relative: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(relative)).expect("json")
    }

    /// Runs `mlgate ARGS` in the project directory, outside any GitHub Actions environment.
    pub fn mlgate(&self, args: &[&str]) -> Run {
        self.mlgate_env(args, &[])
    }

    /// Runs `mlgate ARGS` outside GitHub Actions apart from the given variables (every other
    /// `GITHUB_*` variable of the test's own environment is removed).
    pub fn mlgate_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mlgate"));
        command.args(args).current_dir(self.path());
        for (name, _) in std::env::vars() {
            if name.starts_with("GITHUB_") || name.starts_with("MLGATE_GITHUB_") {
                command.env_remove(name);
            }
        }
        command.envs(vars.iter().copied());
        let output = command.output().expect("run mlgate");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Copies the bundled penguins data in as `data/penguins.csv`.
    pub fn with_penguins(&self) -> &Project {
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/penguins/data/penguins.csv");
        self.write(
            "data/penguins.csv",
            std::fs::read(source).expect("penguins"),
        );
        self
    }
}

/// The penguins CSV as text.
pub fn penguins_csv() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/penguins/data/penguins.csv");
    std::fs::read_to_string(path).expect("penguins")
}

/// A workflow tool from `.ci/.venv/bin` (or the path in `override_var`), when installed;
/// `require_var` set makes it mandatory, so CI cannot skip what the tool checks.
pub fn ci_tool(name: &str, override_var: &str, require_var: &str) -> Option<PathBuf> {
    let path = std::env::var_os(override_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".ci/.venv/bin")
                .join(name)
        });
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os(require_var).is_none(),
        "{require_var} is set but {} is missing",
        path.display()
    );
    eprintln!("skipped: {name} is not installed ({})", path.display());
    None
}
