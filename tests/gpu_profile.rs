//! The GPU runner profile `mlgate init --gpu-runner` writes, checked as a host would use it:
//! shellcheck on every script, provision.sh's plan in dry-run mode, the hooks run against a
//! stand-in nvidia-smi, the ephemeral launcher registering with the stand-in GitHub server and
//! handing the configuration to a stand-in `run.sh`, every path the units and `.env` name
//! installed by provision.sh, and the Kubernetes values agreeing with the job-pod template.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::gpu::{executable, fake_smi, label_names, H100_LABELS};
use common::Project;

/// Writes the profile into `PROJECT/profile` for `owner/name`.
fn profile(project: &Project) -> PathBuf {
    let run = project.mlgate_env(
        &[
            "init",
            "--gpu-runner",
            "profile",
            "--runner-repo",
            "Codertocat/Hello-World",
        ],
        &[
            ("MLGATE_NVML", "/nonexistent/libnvidia-ml.so.1"),
            ("MLGATE_NVIDIA_SMI", "/nonexistent/nvidia-smi"),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("no GPU here"), "{}", run.stdout);
    project.path().join("profile")
}

/// The scripts of the profile.
fn scripts(dir: &Path) -> Vec<PathBuf> {
    [
        "provision.sh",
        "hooks/job-started.sh",
        "hooks/job-completed.sh",
        "bin/start-ephemeral.sh",
    ]
    .iter()
    .map(|s| dir.join(s))
    .collect()
}

/// `runner.conf` as a host would have it, pointing at this build and `work`.
fn host_conf(dir: &Path, work: &Path) -> PathBuf {
    let conf = std::fs::read_to_string(dir.join("runner.conf")).expect("conf");
    let conf: String = conf
        .lines()
        .map(|line| match line.split_once('=') {
            Some(("MLGATE_BIN", _)) => format!("MLGATE_BIN={}\n", env!("CARGO_BIN_EXE_mlgate")),
            Some(("MLGATE_WORK_DIR", _)) => format!("MLGATE_WORK_DIR={}\n", work.display()),
            Some(("MLGATE_MIN_FREE_DISK_GIB", _)) => "MLGATE_MIN_FREE_DISK_GIB=0\n".into(),
            _ => format!("{line}\n"),
        })
        .collect();
    let path = dir.join("host-runner.conf");
    std::fs::write(&path, conf).expect("write");
    path
}

/// Runs a profile script with `env`, nothing inherited that would change it.
fn script(path: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new("bash");
    command
        .arg(path)
        .env_remove("GITHUB_WORKSPACE")
        .env_remove("RUNNER_WORKSPACE")
        .env("MLGATE_NVML", "/nonexistent/libnvidia-ml.so.1")
        .stdin(std::process::Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run script")
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn init_writes_the_profile_once_with_executable_scripts() {
    let project = Project::new();
    let dir = profile(&project);
    for script in scripts(&dir) {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&script).expect("meta").permissions(),
        );
        assert_eq!(mode & 0o111, 0o111, "{} not executable", script.display());
    }
    let again = project.mlgate(&["init", "--gpu-runner", "profile"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let bad = project.mlgate(&["init", "--gpu-runner", "other", "--runner-repo", "no-slash"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(!project.path().join("other").exists());
}

#[test]
fn every_script_passes_shellcheck() {
    let shellcheck = std::env::var("MLGATE_SHELLCHECK").unwrap_or_else(|_| "shellcheck".into());
    let Ok(version) = Command::new(&shellcheck).arg("--version").output() else {
        assert!(
            std::env::var_os("MLGATE_REQUIRE_SHELLCHECK").is_none(),
            "MLGATE_REQUIRE_SHELLCHECK is set but `{shellcheck}` is missing"
        );
        eprintln!("skipped: shellcheck is not installed");
        return;
    };
    assert!(version.status.success());
    let project = Project::new();
    let dir = profile(&project);
    let output = Command::new(&shellcheck)
        .arg("-x")
        .args(scripts(&dir))
        .current_dir(&dir)
        .output()
        .expect("shellcheck");
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn provision_plans_the_driver_hold_the_checked_runner_and_the_units() {
    let project = Project::new();
    let dir = profile(&project);
    let mlgate = env!("CARGO_BIN_EXE_mlgate");
    let output = script(
        &dir.join("provision.sh"),
        &[("DRY_RUN", "1"), ("MLGATE_BINARY", mlgate)],
    );
    assert!(output.status.success(), "{}", text(&output));
    let plan = text(&output);
    for expected in [
        "+ apt-mark hold linux-modules-nvidia-580-server-generic nvidia-headless-no-dkms-580-server nvidia-utils-580-server",
        "+ apt-get install -y nvidia-container-toolkit",
        "actions-runner-linux-x64-2.338.0.tar.gz' | sha256sum --check --strict",
        "+ install -m 0644 -o root -g root",
        "+ systemctl enable --now mlgate-gpu-cleanup.timer",
        "runner check --max-foreign-mib 1024 --min-free-disk-gib 50",
        "+ systemctl enable --now mlgate-gpu-runner.service",
    ] {
        assert!(plan.contains(expected), "{expected} missing from:\n{plan}");
    }
    // Every file a unit, a hook setting or the launcher names is one provision.sh installs.
    let installed: Vec<&str> = plan
        .lines()
        .filter_map(|l| l.strip_prefix("+ install "))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    let mut named = Vec::new();
    for file in [
        "runner/.env",
        "systemd/mlgate-gpu-runner.service",
        "systemd/mlgate-gpu-runner.service.d/10-mlgate-gpu.conf",
        "systemd/mlgate-gpu-cleanup.service",
    ] {
        let contents = std::fs::read_to_string(dir.join(file)).expect("read");
        for word in contents.split(|c: char| c.is_whitespace() || c == '=' || c == ':') {
            if word.starts_with("/opt/mlgate-runner/") || word.starts_with("/etc/mlgate-runner/") {
                named.push((file, word.to_string()));
            }
        }
    }
    assert!(named.len() >= 8, "{named:?}");
    for (file, path) in named {
        assert!(
            installed.contains(&path.as_str()) || path == "/etc/mlgate-runner/token",
            "{file} names {path}, which provision.sh does not install:\n{plan}"
        );
    }

    let conf = dir.join("runner.conf");
    let original = std::fs::read_to_string(&conf).expect("conf");
    std::fs::write(
        &conf,
        original.replace(
            "MLGATE_RUNNER_REPO=Codertocat/Hello-World",
            "MLGATE_RUNNER_REPO=",
        ),
    )
    .expect("write");
    let refused = script(
        &dir.join("provision.sh"),
        &[("DRY_RUN", "1"), ("MLGATE_BINARY", mlgate)],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("set MLGATE_RUNNER_REPO"),
        "{}",
        text(&refused)
    );
}

#[test]
fn the_hooks_check_before_a_job_and_clean_up_after_it() {
    let project = Project::new();
    let dir = profile(&project);
    let work = project.path().join("_work");
    std::fs::create_dir_all(work.join("_temp")).expect("mkdir");
    let conf = host_conf(&dir, &work);
    let conf = conf.display().to_string();
    let summary = project.path().join("summary.md");
    let summary_path = summary.display().to_string();
    let idle = fake_smi(project.path(), false);
    let started = script(
        &dir.join("hooks/job-started.sh"),
        &[
            ("MLGATE_RUNNER_CONF", &conf),
            ("MLGATE_NVIDIA_SMI", &idle),
            ("GITHUB_STEP_SUMMARY", &summary_path),
        ],
    );
    assert!(started.status.success(), "{}", text(&started));
    assert!(std::fs::read_to_string(&summary)
        .expect("summary")
        .contains("GPU runner check"));

    let busy = fake_smi(project.path(), true);
    let refused = script(
        &dir.join("hooks/job-started.sh"),
        &[("MLGATE_RUNNER_CONF", &conf), ("MLGATE_NVIDIA_SMI", &busy)],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("FAIL foreign_memory"),
        "{}",
        text(&refused)
    );

    let completed = script(
        &dir.join("hooks/job-completed.sh"),
        &[
            ("MLGATE_RUNNER_CONF", &conf),
            ("MLGATE_GPU_DEVICE_PREFIX", "/nonexistent/nvidia"),
        ],
    );
    assert!(completed.status.success(), "{}", text(&completed));
    let out = text(&completed);
    assert!(
        out.contains("no leftover process") || out.contains("running as root"),
        "{out}"
    );
    assert!(
        out.contains(&format!("no workspace under `{}`", work.display())),
        "{out}"
    );
}

#[test]
fn the_ephemeral_launcher_registers_and_hands_the_config_to_run_sh() {
    use common::github_server::{GithubServer, TOKEN};
    let project = Project::new();
    let dir = profile(&project);
    let server = GithubServer::start();
    let runner_dir = project.path().join("actions-runner");
    std::fs::create_dir_all(&runner_dir).expect("mkdir");
    let args_file = project.path().join("run-args");
    std::fs::write(
        runner_dir.join("run.sh"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
            args_file.display()
        ),
    )
    .expect("write");
    executable(&runner_dir.join("run.sh"));
    let credentials = project.path().join("credentials");
    let runtime = project.path().join("runtime");
    std::fs::create_dir_all(&credentials).expect("mkdir");
    std::fs::create_dir_all(&runtime).expect("mkdir");
    std::fs::write(credentials.join("github-token"), format!("{TOKEN}\n")).expect("token");
    let smi = fake_smi(project.path(), false);
    let env = [
        ("MLGATE_BIN", env!("CARGO_BIN_EXE_mlgate")),
        ("RUNNER_DIR", &runner_dir.display().to_string()),
        ("CREDENTIALS_DIRECTORY", &credentials.display().to_string()),
        ("RUNTIME_DIRECTORY", &runtime.display().to_string()),
        ("MLGATE_RUNNER_REPO", "Codertocat/Hello-World"),
        ("GITHUB_API_URL", &server.api_url()),
        ("MLGATE_NVIDIA_SMI", &smi),
    ];
    let output = script(&dir.join("bin/start-ephemeral.sh"), &env);
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains(TOKEN), "token printed");
    let args = std::fs::read_to_string(&args_file).expect("run.sh ran");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args.len(), 2, "{args:?}");
    assert_eq!(args[0], "--jitconfig");
    assert!(args[1].starts_with("JITCONFIG-"), "{args:?}");
    assert_eq!(
        std::fs::read_dir(&runtime).expect("runtime").count(),
        0,
        "config left behind"
    );
    let state = server.state();
    assert_eq!(state.runners.len(), 1);
    assert_eq!(label_names(&state.runners[0]), H100_LABELS);
}

#[test]
fn the_kubernetes_values_and_the_job_pod_template_agree() {
    let project = Project::new();
    let dir = profile(&project);
    let read = |file: &str| -> serde_json::Value {
        serde_norway::from_str(&std::fs::read_to_string(dir.join(file)).expect("read")).expect(file)
    };
    let values = read("kubernetes/values.yaml");
    // The chart's keys (gha-runner-scale-set values.yaml, 0.12-0.14); a typo would be ignored
    // by helm, silently.
    let known = [
        "githubConfigUrl",
        "githubConfigSecret",
        "runnerScaleSetName",
        "runnerGroup",
        "scaleSetLabels",
        "minRunners",
        "maxRunners",
        "containerMode",
        "template",
        "proxy",
        "githubServerTLS",
        "listenerTemplate",
        "controllerServiceAccount",
    ];
    for key in values.as_object().expect("map").keys() {
        assert!(known.contains(&key.as_str()), "unknown chart key {key}");
    }
    assert_eq!(
        values["githubConfigUrl"],
        "https://github.com/Codertocat/Hello-World"
    );
    assert_eq!(values["minRunners"], 0);
    assert_eq!(values["containerMode"]["type"], "kubernetes");
    assert!(values["runnerScaleSetName"].as_str().expect("name").len() <= 45);
    let spec = &values["template"]["spec"];
    assert_eq!(spec["nodeSelector"]["nvidia.com/gpu.present"], "true");
    assert_eq!(spec["tolerations"][0]["key"], "nvidia.com/gpu");
    let runner = &spec["containers"][0];
    assert_eq!(runner["name"], "runner");
    let env = |name: &str| {
        runner["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].as_str().expect("value").to_string())
    };
    assert_eq!(
        env("ACTIONS_RUNNER_REQUIRE_JOB_CONTAINER").as_deref(),
        Some("true")
    );
    let hook_template = env("ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE").expect("hook template");
    let mount = &runner["volumeMounts"][0];
    let key = hook_template
        .strip_prefix(&format!("{}/", mount["mountPath"].as_str().expect("path")))
        .expect("the hook template is in the mounted volume");
    let volume = &spec["volumes"][0];
    assert_eq!(volume["name"], mount["name"]);

    let config_map = read("kubernetes/job-pod-template.yaml");
    assert_eq!(config_map["kind"], "ConfigMap");
    assert_eq!(config_map["metadata"]["name"], volume["configMap"]["name"]);
    let pod: serde_json::Value = serde_norway::from_str(
        config_map["data"][key]
            .as_str()
            .expect("the key the hook reads"),
    )
    .expect("pod template");
    let job = &pod["spec"]["containers"][0];
    assert_eq!(job["name"], "$job");
    assert_eq!(job["resources"]["limits"]["nvidia.com/gpu"], 1);
    assert_eq!(pod["spec"]["tolerations"], spec["tolerations"]);
}
