//! Stand-ins for a GPU host: an `nvidia-smi` answering with the H100 captures in
//! `tests/fixtures/gpu/`, an NVML library built from `fake_nvml.c` that answers the same, and
//! what a registered runner's labels are.

use std::path::Path;

/// Writes an executable `nvidia-smi` stand-in into `dir`, idle or with a process holding
/// 4614 MiB, and returns its path.
pub fn fake_smi(dir: &Path, busy: bool) -> String {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpu");
    let (gpus, apps, banner, name) = if busy {
        (
            "query-gpu-busy-noheader-nounits.csv",
            "query-apps-busy.csv",
            "nvidia-smi-busy.txt",
            "nvidia-smi-busy",
        )
    } else {
        (
            "query-gpu.csv",
            "query-apps.csv",
            "nvidia-smi.txt",
            "nvidia-smi",
        )
    };
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  --query-gpu=*) cat '{}' ;;\n  --query-compute-apps=*) cat '{}' ;;\n  *) cat '{}' ;;\nesac\n",
        fixtures.join(gpus).display(),
        fixtures.join(apps).display(),
        fixtures.join(banner).display()
    );
    let path = dir.join(name);
    std::fs::write(&path, script).expect("write nvidia-smi");
    executable(&path);
    path.display().to_string()
}

/// Makes a file executable.
pub fn executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The label names of a runner in the stand-in server's state.
pub fn label_names(runner: &serde_json::Value) -> Vec<String> {
    runner["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .filter_map(|l| l["name"].as_str().map(str::to_string))
        .collect()
}

/// The labels a runner on the captured H100 gets by default.
pub const H100_LABELS: [&str; 6] = [
    "self-hosted",
    "linux",
    "x64",
    "gpu",
    "gpu-h100-80gb-hbm3",
    "cuda-13",
];

/// Builds the stand-in NVML into `dir` (`-DONLY_V3`: without the `_v2` process call) and
/// returns the library's path, for `MLGATE_NVML`.
pub fn fake_nvml(dir: &Path, only_v3: bool) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpu/fake_nvml.c");
    let library = dir.join(if only_v3 {
        "v3/libnvidia-ml.so.1"
    } else {
        "libnvidia-ml.so.1"
    });
    std::fs::create_dir_all(library.parent().expect("parent")).expect("mkdir");
    let mut cc = std::process::Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cc.args(["-shared", "-fPIC", "-Wall", "-Werror", "-o"])
        .arg(&library)
        .arg(&source);
    if only_v3 {
        cc.arg("-DONLY_V3");
    }
    let status = cc
        .status()
        .expect("a C compiler (`cc`, or `CC`) builds the stand-in NVML");
    assert!(status.success(), "cc failed");
    library.display().to_string()
}
