//! `mlgate runner` end to end with a stand-in `nvidia-smi` that answers with output captured on
//! a real H100 host (`tests/fixtures/gpu/`): the doctor's table and JSON, the job-start check
//! passing idle and failing with a process holding 4 GiB, and the exit code of a host without
//! a GPU.

mod common;

use std::path::Path;

use common::{Project, Run};

/// Writes a fake `nvidia-smi` answering from the fixtures, idle or busy.
fn fake_smi(project: &Project, busy: bool) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpu");
    let (gpus, apps, banner) = if busy {
        (
            "query-gpu-busy-noheader-nounits.csv",
            "query-apps-busy.csv",
            "nvidia-smi-busy.txt",
        )
    } else {
        ("query-gpu.csv", "query-apps.csv", "nvidia-smi.txt")
    };
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  --query-gpu=*) cat '{}' ;;\n  --query-compute-apps=*) cat '{}' ;;\n  *) cat '{}' ;;\nesac\n",
        dir.join(gpus).display(),
        dir.join(apps).display(),
        dir.join(banner).display()
    );
    let path = project.write("nvidia-smi", script);
    let mut permissions = std::fs::metadata(&path).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).expect("chmod");
    path.display().to_string()
}

/// Runs `mlgate runner ARGS` with `smi` as nvidia-smi.
fn runner(project: &Project, smi: &str, args: &[&str]) -> Run {
    let mut full = vec!["runner"];
    full.extend_from_slice(args);
    let summary = project.path().join("summary.md").display().to_string();
    project.mlgate_env(
        &full,
        &[
            ("MLGATE_NVIDIA_SMI", smi),
            ("GITHUB_STEP_SUMMARY", summary.as_str()),
        ],
    )
}

#[test]
fn doctor_reports_the_h100_as_a_table_and_as_json() {
    let project = Project::new();
    let smi = fake_smi(&project, true);
    let table = runner(&project, &smi, &["doctor"]);
    assert_eq!(table.code, 0, "{}{}", table.stdout, table.stderr);
    for text in [
        "NVIDIA H100 80GB HBM3",
        "580.159.04",
        "13.0",
        "4623 / 81559 MiB",
        "479 python3 4614 MiB",
    ] {
        assert!(
            table.stdout.contains(text),
            "{text} missing:\n{}",
            table.stdout
        );
    }
    let json = runner(&project, &smi, &["doctor", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["label"], "gpu-h100-80gb-hbm3");
    assert_eq!(
        value["snapshot"]["gpus"][0]["uuid"],
        "GPU-e5e85b13-bd49-5804-e1ec-b700ef64ce65"
    );
    assert_eq!(value["snapshot"]["processes"][0]["pid"], 479);
}

#[test]
fn check_passes_idle_and_fails_on_a_leftover_process() {
    let project = Project::new();
    let idle = fake_smi(&project, false);
    let args = ["check", "--min-free-disk-gib", "0", "--work-dir", "."];
    let passed = runner(&project, &idle, &args);
    assert_eq!(passed.code, 0, "{}{}", passed.stdout, passed.stderr);
    let summary = project.read("summary.md");
    assert!(summary.contains("### GPU runner check"), "{summary}");
    assert!(summary.contains("NVIDIA H100 80GB HBM3"), "{summary}");

    let busy = fake_smi(&project, true);
    let failed = runner(&project, &busy, &args);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed
            .stdout
            .contains("FAIL foreign_memory: GPU 0: 4614 MiB held by 479 (python3)"),
        "{}",
        failed.stdout
    );
    let allowed = runner(
        &project,
        &busy,
        &[
            "check",
            "--min-free-disk-gib",
            "0",
            "--max-foreign-mib",
            "8192",
        ],
    );
    assert_eq!(allowed.code, 0, "{}", allowed.stdout);
    let full_disk = runner(
        &project,
        &idle,
        &["check", "--min-free-disk-gib", "1000000"],
    );
    assert_eq!(full_disk.code, 1, "{}", full_disk.stdout);
    assert!(
        full_disk.stdout.contains("FAIL disk"),
        "{}",
        full_disk.stdout
    );
}

#[test]
fn a_host_without_a_gpu_has_its_own_exit_code() {
    let project = Project::new();
    for args in [&["doctor"][..], &["check"][..]] {
        let run = runner(&project, "/nonexistent/nvidia-smi", args);
        assert_eq!(run.code, 4, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("no NVIDIA GPU found"), "{}", run.stderr);
    }
}

#[test]
fn register_prints_the_jit_config_never_the_token_and_refuses_a_taken_name() {
    use common::github_server::{GithubServer, TOKEN};
    let project = Project::new();
    let smi = fake_smi(&project, false);
    let server = GithubServer::start();
    let api = server.api_url();
    let register = |args: &[&str], repo: Option<&str>| {
        let mut full = vec!["runner", "register"];
        full.extend_from_slice(args);
        let mut vars = vec![
            ("MLGATE_NVIDIA_SMI", smi.as_str()),
            ("GITHUB_API_URL", api.as_str()),
            ("GITHUB_TOKEN", TOKEN),
        ];
        if let Some(repo) = repo {
            vars.push(("GITHUB_REPOSITORY", repo));
        }
        let run = project.mlgate_env(&full, &vars);
        assert!(
            !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
            "token printed"
        );
        run
    };
    let run = register(&["--name", "gpu-1"], Some("Codertocat/Hello-World"));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let config = run.stdout.trim();
    assert!(config.starts_with("JITCONFIG-"), "{}", run.stdout);
    let labels: Vec<String> = server.state().runners[0]["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .filter_map(|l| l["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        labels,
        [
            "self-hosted",
            "linux",
            "x64",
            "gpu",
            "gpu-h100-80gb-hbm3",
            "cuda-13"
        ]
    );

    // The same name again: GitHub's 409, exit 3, no second runner.
    let taken = register(&["--name", "gpu-1"], Some("Codertocat/Hello-World"));
    assert_eq!(taken.code, 3, "{}{}", taken.stdout, taken.stderr);
    assert!(taken.stderr.contains("409"), "{}", taken.stderr);
    assert_eq!(server.state().runners.len(), 1);

    // For an organisation, into a private file.
    let out = project.path().join("jit.txt");
    let org = register(
        &[
            "--org",
            "octo-org",
            "--name",
            "gpu-2",
            "--labels",
            "self-hosted,gpu",
            "--output",
            out.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(org.code, 0, "{}{}", org.stdout, org.stderr);
    assert!(
        org.stdout.is_empty(),
        "the config went to the file: {}",
        org.stdout
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&out).expect("file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(&out)
        .expect("read")
        .starts_with("JITCONFIG-"));
    assert_eq!(
        server.count("POST", "/orgs/{org}/actions/runners/generate-jitconfig"),
        1
    );
}
