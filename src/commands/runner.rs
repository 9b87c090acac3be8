//! `mlgate runner`: the GPU host's health report (`doctor`), the job-started check (`check`), the
//! job-completed cleanup (`cleanup`) and just-in-time registration (`register`).

use std::path::PathBuf;

use comfy_table::{presets, Table};

use anyhow::Context as _;

use crate::cli::{CheckArgs, CleanupArgs, DoctorArgs, RegisterArgs, RunnerCommand};
use crate::exit::Status;
use crate::github::context::{GithubContext, Repo};
use crate::github::runner::{self as jit, Registration, Scope};
use crate::report::markdown::escape;
use crate::runner::cleanup::{self, Ended};
use crate::runner::health::{self, Finding, Limits};
use crate::runner::{nvml, GpuProbe, HostProbe, Snapshot, SCHEMA_VERSION};
use crate::workflow::Workflow;

/// Runs the subcommand.
pub fn run(command: &RunnerCommand) -> anyhow::Result<Status> {
    let probe = HostProbe::from_env();
    match command {
        RunnerCommand::Doctor(args) => doctor(&probe, args),
        RunnerCommand::Check(args) => check(&probe, args),
        RunnerCommand::Cleanup(args) => cleanup(args),
        RunnerCommand::Register(args) => register(&probe, args),
    }
}

/// The message for a host without a GPU.
fn no_gpu() -> Status {
    eprintln!("{}", no_gpu_message(nvml::LOADABLE));
    Status::NoGpu
}

/// What [`no_gpu`] says, by whether this build can load NVML: a static build must not blame
/// a driver that may well be installed.
fn no_gpu_message(nvml_loadable: bool) -> &'static str {
    if nvml_loadable {
        "error: no NVIDIA GPU found: neither NVML (`libnvidia-ml.so.1`) nor `nvidia-smi` lists one\nhint: on a GPU host, install the driver (docs/gpu-runner.md); MLGATE_NVML / MLGATE_NVIDIA_SMI name the library / program when they are elsewhere"
    } else {
        "error: no NVIDIA GPU found: `nvidia-smi` lists none, and this mlgate, a static build, cannot load NVML (`libnvidia-ml.so.1`)\nhint: on a GPU host, put the driver's `nvidia-smi` on PATH or name it in MLGATE_NVIDIA_SMI, or build mlgate from source (the action's `build-from-source: true`) to read NVML (docs/gpu-runner.md)"
    }
}

/// `doctor`: a table or JSON of every GPU.
fn doctor(probe: &dyn GpuProbe, args: &DoctorArgs) -> anyhow::Result<Status> {
    let Some(snapshot) = probe.snapshot()? else {
        return Ok(no_gpu());
    };
    if args.json {
        let json = serde_json::json!({"schema_version": SCHEMA_VERSION, "snapshot": snapshot, "label": snapshot.model_label()});
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{}", gpu_table(&snapshot));
    }
    Ok(Status::Passed)
}

/// The GPUs and their processes as a terminal table.
fn gpu_table(snapshot: &Snapshot) -> String {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "gpu",
        "model",
        "uuid",
        "driver",
        "cuda",
        "memory used / total",
        "temp",
        "ecc",
        "processes",
    ]);
    for gpu in &snapshot.gpus {
        let processes: Vec<String> = snapshot
            .processes
            .iter()
            .filter(|p| p.gpu_uuid == gpu.uuid)
            .map(|p| format!("{} {} {} MiB", p.pid, p.name, p.used_mib.unwrap_or(0)))
            .collect();
        let unknown = || "-".to_string();
        table.add_row([
            gpu.index.to_string(),
            gpu.name.clone(),
            gpu.uuid.clone(),
            gpu.driver_version.clone(),
            snapshot.cuda_version.clone().unwrap_or_else(unknown),
            format!("{} / {} MiB", gpu.memory_used_mib, gpu.memory_total_mib),
            gpu.temperature_c.map_or_else(unknown, |t| format!("{t} C")),
            gpu.ecc_uncorrected.map_or_else(unknown, |e| e.to_string()),
            if processes.is_empty() {
                "none".into()
            } else {
                processes.join("\n")
            },
        ]);
    }
    table.to_string()
}

/// `check`: the job-start rules, reported to the terminal and the job summary.
fn check(probe: &dyn GpuProbe, args: &CheckArgs) -> anyhow::Result<Status> {
    let Some(snapshot) = probe.snapshot()? else {
        return Ok(no_gpu());
    };
    if !(args.min_free_disk_gib.is_finite() && args.min_free_disk_gib >= 0.0) {
        anyhow::bail!(
            "`--min-free-disk-gib` must be a number of GiB, not {}",
            args.min_free_disk_gib
        );
    }
    let work_dir = args.work_dir.clone().unwrap_or_else(|| {
        std::env::var_os("GITHUB_WORKSPACE").map_or_else(|| PathBuf::from("."), PathBuf::from)
    });
    let limits = Limits {
        max_foreign_mib: args.max_foreign_mib,
        min_free_disk: (args.min_free_disk_gib * 1024.0 * 1024.0 * 1024.0) as u64,
    };
    let findings = health::check(&snapshot, &health::read_host(&work_dir), limits);
    println!("{}", gpu_table(&snapshot));
    for finding in &findings {
        println!(
            "{} {}: {}",
            if finding.ok { "ok  " } else { "FAIL" },
            finding.check,
            finding.message
        );
    }
    Workflow::from_env().append_summary(&summary(&snapshot, &findings))?;
    if findings.iter().all(|f| f.ok) {
        Ok(Status::Passed)
    } else {
        eprintln!("error: the GPU runner is not healthy; see the failed checks above");
        Ok(Status::GateFailed)
    }
}

/// The job summary: the GPUs and every finding.
fn summary(snapshot: &Snapshot, findings: &[Finding]) -> String {
    let mut out = String::from("### GPU runner check\n\n| gpu | model | driver | CUDA | memory used / total |\n| --- | --- | --- | --- | --- |\n");
    for gpu in &snapshot.gpus {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} / {} MiB |\n",
            gpu.index,
            escape(&gpu.name),
            escape(&gpu.driver_version),
            escape(snapshot.cuda_version.as_deref().unwrap_or("-")),
            gpu.memory_used_mib,
            gpu.memory_total_mib
        ));
    }
    out.push_str("\n| check | result | detail |\n| --- | --- | --- |\n");
    for f in findings {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            f.check,
            if f.ok { "ok" } else { "**fail**" },
            escape(&f.message)
        ));
    }
    out
}

/// Where the GPU device nodes are (`MLGATE_GPU_DEVICE_PREFIX` moves them, for tests).
fn gpu_device_prefix() -> String {
    std::env::var("MLGATE_GPU_DEVICE_PREFIX").unwrap_or_else(|_| "/dev/nvidia".into())
}

/// `cleanup`: ends the runner user's leftovers on the GPUs, then trims stale workspaces.
fn cleanup(args: &CleanupArgs) -> anyhow::Result<Status> {
    let proc_root = std::path::Path::new("/proc");
    let mut healthy = true;
    let uid = cleanup::own_uid(proc_root).context("cannot read /proc/self/status")?;
    if uid == 0 && !args.allow_root {
        eprintln!("warning: running as root: no process is ended (a runner should run as its own user; `--allow-root` ends root's leftovers too)");
    } else {
        let processes =
            cleanup::scan(proc_root, &gpu_device_prefix()).context("cannot read /proc")?;
        let plan = cleanup::plan_processes(&processes, std::process::id(), uid);
        for (process, why) in &plan.spared {
            println!(
                "spared  pid {} {}: {why}",
                process.pid,
                escape_terminal(&process.name)
            );
        }
        if plan.end.is_empty() {
            println!("no leftover process of uid {uid} holds a GPU device");
        }
        for process in &plan.end {
            let what = format!(
                "pid {} {} (holds {})",
                process.pid,
                escape_terminal(&process.name),
                process.devices.join(", ")
            );
            if args.dry_run {
                println!("would end {what}");
                continue;
            }
            match cleanup::end_process(
                proc_root,
                process,
                std::time::Duration::from_secs(args.grace_secs),
            ) {
                Ok(Ended::Terminated) => println!("ended   {what}: exited on SIGTERM"),
                Ok(Ended::Killed) => println!("ended   {what}: killed after {} s", args.grace_secs),
                Ok(Ended::Gone) => println!("gone    {what}: had already exited"),
                Ok(Ended::Stuck) => {
                    healthy = false;
                    println!("STUCK   {what}: still there after SIGKILL (stuck in the driver?)");
                }
                Err(err) => {
                    healthy = false;
                    println!("FAILED  {what}: {err}");
                }
            }
        }
    }
    let work = args.work_dir.clone().or_else(|| {
        std::env::var_os("RUNNER_WORKSPACE")
            .map(PathBuf::from)
            .and_then(|w| w.parent().map(std::path::Path::to_path_buf))
    });
    let Some(work) = work else {
        println!("no work directory (`--work-dir`, or `$RUNNER_WORKSPACE`): nothing trimmed");
        return Ok(cleanup_status(healthy));
    };
    if !work.exists() {
        println!("`{}` does not exist yet: nothing to trim", work.display());
        return Ok(cleanup_status(healthy));
    }
    let current = std::env::var_os("RUNNER_WORKSPACE").map(PathBuf::from);
    let keep = std::time::Duration::from_secs(args.keep_hours.saturating_mul(3600));
    let stale = cleanup::stale_workspaces(
        &work,
        current.as_deref(),
        keep,
        std::time::SystemTime::now(),
    )?;
    if stale.is_empty() {
        println!(
            "no workspace under `{}` is older than {} h",
            work.display(),
            args.keep_hours
        );
    }
    for workspace in &stale {
        let what = format!(
            "`{}` ({:.2} GiB, unused for {} h)",
            workspace.path.display(),
            workspace.bytes as f64 / (1024.0 * 1024.0 * 1024.0),
            workspace.last_used.elapsed().unwrap_or_default().as_secs() / 3600
        );
        if args.dry_run {
            println!("would trim {what}");
            continue;
        }
        match cleanup::trim(&workspace.path) {
            Ok(()) => println!("trimmed {what}"),
            Err(err) => {
                healthy = false;
                println!("FAILED  trimming {what}: {err}");
            }
        }
    }
    Ok(cleanup_status(healthy))
}

/// Exit 1 when something could not be ended or trimmed: the host needs a person.
fn cleanup_status(healthy: bool) -> Status {
    if healthy {
        Status::Passed
    } else {
        eprintln!("error: the cleanup left something behind; see the lines above");
        Status::GateFailed
    }
}

/// A process name as printable text (a name is whatever the process chose).
fn escape_terminal(name: &str) -> String {
    name.chars().flat_map(char::escape_debug).collect()
}

/// `register`: an ephemeral JIT runner; the configuration goes to stdout or `--output`, never
/// the token.
fn register(probe: &dyn GpuProbe, args: &RegisterArgs) -> anyhow::Result<Status> {
    let repository = args
        .repo
        .clone()
        .or_else(|| {
            std::env::var("GITHUB_REPOSITORY")
                .ok()
                .filter(|r| !r.is_empty())
        })
        // The organisation's routes need no repository; `.github` only satisfies the context.
        .or_else(|| args.org.as_ref().map(|org| format!("{org}/.github")))
        .context(
            "no repository: pass `--repo OWNER/NAME` or `--org ORG`, or set `GITHUB_REPOSITORY`",
        )?;
    let context = GithubContext::from_lookup(&|name| match name {
        "GITHUB_REPOSITORY" => Some(repository.clone()),
        _ => std::env::var(name).ok(),
    })?;
    let scope = match &args.org {
        Some(org) => Scope::Org(Repo::parse(&format!("{org}/x"))?.owner),
        None => Scope::Repo(context.repo.clone()),
    };
    let snapshot = probe.snapshot().unwrap_or(None);
    let registration = Registration {
        name: match &args.name {
            Some(name) => name.clone(),
            None => default_runner_name()?,
        },
        labels: if args.labels.is_empty() {
            crate::runner::default_labels(snapshot.as_ref())
        } else {
            args.labels.clone()
        },
        runner_group_id: args.runner_group_id,
        work_folder: args.work_folder.clone(),
    };
    let client = super::github_client(&context, args.token.clone(), "administration: write")?;
    let config = jit::register(&client, &scope, &registration)
        .with_context(|| format!("could not register the runner `{}`", registration.name))?;
    eprintln!(
        "registered runner {} (id {}) with labels {}",
        config.runner.name,
        config.runner.id,
        registration.labels.join(", ")
    );
    match &args.output {
        Some(path) => {
            write_private(path, config.encoded_jit_config.as_bytes())?;
            eprintln!(
                "its configuration is in `{}`: run `./run.sh --jitconfig \"$(cat {})\"`",
                path.display(),
                path.display()
            );
        }
        None => println!("{}", config.encoded_jit_config),
    }
    Ok(Status::Passed)
}

/// `mlgate-gpu-HOST-SECONDS`.
fn default_runner_name() -> anyhow::Result<String> {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(format!("mlgate-gpu-{host}-{seconds}"))
}

/// Writes a credential readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    file.write_all(bytes)?;
    // `mode` applies only when the file is created; an existing one is narrowed too.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_build_says_it_cannot_load_nvml_instead_of_blaming_the_driver() {
        let dynamic = no_gpu_message(true);
        assert!(dynamic.contains("neither NVML") && dynamic.contains("install the driver"));
        let fixed = no_gpu_message(false);
        assert!(fixed.contains("static build, cannot load NVML"), "{fixed}");
        assert!(fixed.contains("build-from-source: true"), "{fixed}");
        assert!(!fixed.contains("install the driver"), "{fixed}");
    }
}
