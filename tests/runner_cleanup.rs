//! `mlgate runner cleanup` end to end on real processes: leftovers that hold a (stand-in) GPU
//! device node are listed by `--dry-run` and left alone, then ended — the one that ignores
//! SIGTERM by SIGKILL after the grace period — while another user's process holding the same
//! device and a process holding none stay; stale workspaces are emptied, the runner's own
//! directories and the current job's workspace kept.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Project;

/// A process holding `device` open as its standard input, started through `sh -c SCRIPT`.
fn holder(device: &std::path::Path, script: &str, prefix: &[&str]) -> Child {
    let mut command = Command::new(prefix.first().copied().unwrap_or("sh"));
    command.args(prefix.iter().skip(1));
    if !prefix.is_empty() {
        command.arg("sh");
    }
    command
        .args(["-c", script])
        .stdin(std::fs::File::open(device).expect("open device"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn holder")
}

/// Whether the child has exited (reaping it if so).
fn exited_within(child: &mut Child, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if child.try_wait().expect("wait").is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Whether this test runs as root (and so can start another user's process).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// Sets a path's modification time to `days` ago.
fn age(path: &std::path::Path, days: u32) {
    let status = Command::new("touch")
        .args(["-h", "-d", &format!("{days} days ago")])
        .arg(path)
        .status()
        .expect("touch");
    assert!(status.success());
}

#[test]
fn cleanup_ends_only_the_runner_users_leftovers_and_trims_stale_workspaces() {
    let project = Project::new();
    let devices = project.path().join("dev");
    std::fs::create_dir(&devices).expect("mkdir");
    let device = devices.join("nvidia0");
    std::fs::write(&device, b"").expect("device");
    let prefix = devices.join("nvidia").display().to_string();

    let mut polite = holder(&device, "exec sleep 600", &[]);
    // An ignored signal stays ignored across exec: this one only goes with SIGKILL.
    let mut stubborn = holder(&device, "trap '' TERM; exec sleep 600", &[]);
    let mut bystander = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let root = is_root();
    let mut foreign = root.then(|| {
        holder(
            &device,
            "exec sleep 600",
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ],
        )
    });

    let work = project.path().join("_work");
    for dir in [
        "_temp",
        "_actions/actions/checkout",
        "_tool",
        "old/old",
        "job/job",
    ] {
        std::fs::create_dir_all(work.join(dir)).expect("mkdir");
    }
    std::fs::write(work.join("old/old/big.parquet"), vec![0u8; 4096]).expect("write");
    std::fs::write(work.join("job/job/model.bin"), b"x").expect("write");
    for path in ["old/old/big.parquet", "old/old", "old", "job/job", "job"] {
        age(&work.join(path), 5);
    }
    let workspace = work.join("job").display().to_string();
    let work_arg = work.display().to_string();
    let mut args = vec![
        "runner",
        "cleanup",
        "--grace-secs",
        "1",
        "--work-dir",
        &work_arg,
    ];
    if root {
        args.push("--allow-root");
    }
    let env = [
        ("MLGATE_GPU_DEVICE_PREFIX", prefix.as_str()),
        ("RUNNER_WORKSPACE", workspace.as_str()),
    ];

    let mut dry = args.clone();
    dry.push("--dry-run");
    let plan = project.mlgate_env(&dry, &env);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    for pid in [polite.id(), stubborn.id()] {
        assert!(
            plan.stdout.contains(&format!(
                "would end pid {pid} sleep (holds {}",
                device.display()
            )),
            "{}",
            plan.stdout
        );
    }
    assert!(plan.stdout.contains("would trim `"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("old` (0.00 GiB, unused for 120 h)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains(&format!("pid {}", bystander.id())));
    assert!(!exited_within(&mut polite, Duration::from_millis(200)));
    assert!(!exited_within(&mut stubborn, Duration::ZERO));
    assert!(work.join("old/old/big.parquet").exists());

    let started = Instant::now();
    let done = project.mlgate_env(&args, &env);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert!(
        done.stdout
            .contains(&format!("ended   pid {} sleep", polite.id()))
            && done.stdout.contains("exited on SIGTERM"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains(&format!("ended   pid {} sleep", stubborn.id()))
            && done.stdout.contains("killed after 1 s"),
        "{}",
        done.stdout
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(exited_within(&mut polite, Duration::from_secs(5)));
    assert!(exited_within(&mut stubborn, Duration::from_secs(5)));
    assert!(!exited_within(&mut bystander, Duration::ZERO));
    if let Some(foreign) = foreign.as_mut() {
        assert!(
            done.stdout.contains(&format!(
                "spared  pid {} sleep: another user's",
                foreign.id()
            )),
            "{}",
            done.stdout
        );
        assert!(!exited_within(foreign, Duration::ZERO));
    }

    assert!(work.join("old").is_dir());
    assert_eq!(
        std::fs::read_dir(work.join("old")).expect("read").count(),
        0
    );
    assert!(
        work.join("job/job/model.bin").exists(),
        "the current job's workspace stays"
    );
    assert!(work.join("_actions/actions/checkout").is_dir());

    let again = project.mlgate_env(&args, &env);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("no leftover process"),
        "{}",
        again.stdout
    );

    for child in [Some(&mut bystander), foreign.as_mut()]
        .into_iter()
        .flatten()
    {
        child.kill().expect("kill");
        child.wait().expect("wait");
    }
}

#[test]
fn cleanup_refuses_a_directory_that_is_not_a_runner_work_directory() {
    let project = Project::new();
    std::fs::create_dir(project.path().join("thesis")).expect("mkdir");
    let home = project.path().display().to_string();
    let run = project.mlgate_env(
        &["runner", "cleanup", "--work-dir", &home, "--allow-root"],
        &[("MLGATE_GPU_DEVICE_PREFIX", "/nonexistent/nvidia")],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("is not a runner work directory"),
        "{}",
        run.stderr
    );
    assert!(project.path().join("thesis").is_dir());
}
