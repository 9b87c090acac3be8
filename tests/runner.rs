//! `mlgate runner` end to end with a stand-in `nvidia-smi` that answers with output captured on
//! a real H100 host (`tests/fixtures/gpu/`) and a stand-in NVML library built from
//! `fake_nvml.c` that answers the same: the doctor's table and JSON from either probe, the
//! fallback between them, the job-start check passing idle and failing with a process holding
//! 4 GiB, and the exit code of a host without a GPU.

mod common;

use common::{Project, Run};

/// The stand-in nvidia-smi in the project.
fn fake_smi(project: &Project, busy: bool) -> String {
    common::gpu::fake_smi(project.path(), busy)
}

/// No NVML, even on a host that has one.
const NO_NVML: &str = "/nonexistent/libnvidia-ml.so.1";

/// Runs `mlgate runner ARGS` with `smi` as nvidia-smi and no NVML.
fn runner(project: &Project, smi: &str, args: &[&str]) -> Run {
    runner_with(project, smi, NO_NVML, &[], args)
}

/// Runs `mlgate runner ARGS` with `smi` as nvidia-smi, `nvml` as the library and more `env`.
fn runner_with(
    project: &Project,
    smi: &str,
    nvml: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let mut full = vec!["runner"];
    full.extend_from_slice(args);
    let summary = project.path().join("summary.md").display().to_string();
    let mut vars = vec![
        ("MLGATE_NVIDIA_SMI", smi),
        ("MLGATE_NVML", nvml),
        ("GITHUB_STEP_SUMMARY", summary.as_str()),
    ];
    vars.extend_from_slice(env);
    project.mlgate_env(&full, &vars)
}

/// The stand-in NVML in the project.
fn fake_nvml(project: &Project, only_v3: bool) -> String {
    common::gpu::fake_nvml(project.path(), only_v3)
}

/// The `snapshot` of `doctor --json`, with process names dropped (NVML names them from /proc).
fn doctor_snapshot(run: &Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let mut value: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let snapshot = value["snapshot"].take();
    let mut snapshot = snapshot;
    for process in snapshot["processes"].as_array_mut().expect("processes") {
        process["name"].take();
    }
    snapshot
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
    assert_eq!(
        common::gpu::label_names(&server.state().runners[0]),
        common::gpu::H100_LABELS
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

#[test]
#[cfg_attr(
    all(target_env = "musl", target_feature = "crt-static"),
    ignore = "a static build cannot load the stand-in NVML (see a_static_build_reads_nvidia_smi_alone)"
)]
fn nvml_reports_what_nvidia_smi_reports_and_is_released() {
    let project = Project::new();
    let nvml = fake_nvml(&project, false);
    let smi = fake_smi(&project, true);
    let log = project.path().join("nvml.log").display().to_string();
    let from_nvml = runner_with(
        &project,
        "/nonexistent/nvidia-smi",
        &nvml,
        &[("FAKE_NVML_STATE", "busy"), ("FAKE_NVML_LOG", &log)],
        &["doctor", "--json"],
    );
    let from_smi = runner(&project, &smi, &["doctor", "--json"]);
    let (mut a, mut b) = (doctor_snapshot(&from_nvml), doctor_snapshot(&from_smi));
    assert_eq!(a["source"], "nvml");
    assert_eq!(b["source"], "nvidia-smi");
    a["source"].take();
    b["source"].take();
    assert_eq!(a, b);
    assert_eq!(project.read("nvml.log"), "init\nshutdown\n");

    let table = runner_with(
        &project,
        "/nonexistent/nvidia-smi",
        &nvml,
        &[
            ("FAKE_NVML_STATE", "busy"),
            ("FAKE_NVML_PID", &std::process::id().to_string()),
        ],
        &["doctor"],
    );
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table
            .stdout
            .contains(&format!("{} runner-", std::process::id())),
        "NVML names processes from /proc:\n{}",
        table.stdout
    );
}

#[test]
#[cfg_attr(
    all(target_env = "musl", target_feature = "crt-static"),
    ignore = "a static build cannot load the stand-in NVML (see a_static_build_reads_nvidia_smi_alone)"
)]
fn a_growing_process_list_and_a_driver_with_only_v3_are_read_whole() {
    let project = Project::new();
    let nvml = fake_nvml(&project, true);
    let run = runner_with(
        &project,
        "/nonexistent/nvidia-smi",
        &nvml,
        &[("FAKE_NVML_STATE", "grow")],
        &["doctor", "--json"],
    );
    let snapshot = doctor_snapshot(&run);
    let processes = snapshot["processes"].as_array().expect("processes");
    assert_eq!(processes.len(), 20);
    assert_eq!(processes[0]["used_mib"], 4614);
    assert!(processes[1..].iter().all(|p| p["used_mib"].is_null()));
    assert_eq!(processes[19]["pid"], 479 + 19);
}

#[test]
#[cfg_attr(
    all(target_env = "musl", target_feature = "crt-static"),
    ignore = "a static build cannot load the stand-in NVML (see a_static_build_reads_nvidia_smi_alone)"
)]
fn nvml_without_a_driver_or_failing_falls_back_to_nvidia_smi() {
    let project = Project::new();
    let nvml = fake_nvml(&project, false);
    let smi = fake_smi(&project, false);
    for state in ["no-driver", "broken"] {
        let env = [("FAKE_NVML_STATE", state)];
        let run = runner_with(&project, &smi, &nvml, &env, &["doctor", "--json"]);
        assert_eq!(doctor_snapshot(&run)["source"], "nvidia-smi", "{state}");
        assert_eq!(
            run.stderr
                .contains("NVML `nvmlInit_v2` failed: Unknown Error (code 999)"),
            state == "broken",
            "{state}: {}",
            run.stderr
        );
    }
    let env = [("FAKE_NVML_STATE", "no-driver")];
    let none = runner_with(&project, "/nonexistent/nvidia-smi", &nvml, &env, &["check"]);
    assert_eq!(none.code, 4, "{}", none.stderr);
    let env = [("FAKE_NVML_STATE", "broken")];
    let failed = runner_with(&project, "/nonexistent/nvidia-smi", &nvml, &env, &["check"]);
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    assert!(failed.stderr.contains("code 999"), "{}", failed.stderr);
}

/// The released Linux binaries are static: NVML, even when installed, is out of their reach,
/// so `nvidia-smi` is read and a host without it is told why NVML did not count.
#[test]
#[cfg(all(target_env = "musl", target_feature = "crt-static"))]
fn a_static_build_reads_nvidia_smi_alone() {
    let project = Project::new();
    let nvml = fake_nvml(&project, false);
    let smi = fake_smi(&project, false);
    let env = [("FAKE_NVML_STATE", "idle")];
    let run = runner_with(&project, &smi, &nvml, &env, &["doctor", "--json"]);
    assert_eq!(doctor_snapshot(&run)["source"], "nvidia-smi");
    let run = runner_with(
        &project,
        "/nonexistent/nvidia-smi",
        &nvml,
        &env,
        &["doctor"],
    );
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("a static build, cannot load NVML"),
        "{}",
        run.stderr
    );
}
