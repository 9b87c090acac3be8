//! `mlgate init`: write the config, the schema and the workflows into a repository.

use crate::cli::InitArgs;
use crate::exit::Status;
use crate::release::version::check_name;
use crate::runner::{GpuProbe as _, HostProbe};
use crate::scaffold::gpu_runner::{self, ProfileRequest, Target};
use crate::scaffold::{self, Request};

/// Runs the command.
pub fn run(args: &InitArgs) -> anyhow::Result<Status> {
    if let Some(dir) = &args.gpu_runner {
        write_gpu_runner(args, dir)?;
    }
    match (&args.data, &args.target) {
        (Some(data), Some(target)) => write_repository(args, data, target),
        _ => Ok(Status::Passed),
    }
}

/// The GPU runner profile, labelled with this host's GPU when it has one.
fn write_gpu_runner(args: &InitArgs, dir: &std::path::Path) -> anyhow::Result<()> {
    let target = match (&args.runner_repo, &args.runner_org) {
        (Some(repo), _) => {
            crate::github::context::Repo::parse(repo)?;
            Target::Repo(repo.clone())
        }
        (None, Some(org)) => Target::Org(org.clone()),
        (None, None) => Target::Unset,
    };
    let snapshot = HostProbe::from_env().snapshot().unwrap_or(None);
    let detected_labels = snapshot
        .as_ref()
        .map(|s| crate::runner::default_labels(Some(s)));
    let planned = gpu_runner::plan(&ProfileRequest {
        target: target.clone(),
        detected_labels: detected_labels.clone(),
    })?;
    scaffold::write(dir, &planned, args.force)?;
    for file in &planned {
        println!("wrote {}", dir.join(&file.path).display());
    }
    match detected_labels {
        Some(labels) => println!("labels from this host's GPU: {}", labels.join(", ")),
        None => println!("no GPU here: each runner's labels are detected when it registers"),
    }
    if target == Target::Unset {
        println!(
            "next: set MLGATE_RUNNER_REPO or MLGATE_RUNNER_ORG in {}",
            dir.join("runner.conf").display()
        );
    }
    println!(
        "next: on the GPU machine, `sudo ./provision.sh` in {} (docs/gpu-runner.md)",
        dir.display()
    );
    Ok(())
}

/// The config, schema and workflows.
fn write_repository(
    args: &InitArgs,
    data: &std::path::Path,
    target: &str,
) -> anyhow::Result<Status> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.dir)?,
    };
    check_name(&name).map_err(|e| {
        anyhow::anyhow!("`{name}` cannot name a model registry ({e}); pass `--name`")
    })?;
    let request = Request {
        dir: args.dir.clone(),
        data: data.to_path_buf(),
        target: target.to_string(),
        id: args.id.clone(),
        name,
        action: args.action.clone(),
        build_from_source: args.build_from_source,
    };
    let planned = scaffold::plan(&request)?;
    scaffold::write(&args.dir, &planned, args.force)?;
    for file in &planned {
        println!("wrote {}", file.path.display());
    }
    println!(
        "next: review mlgate.yml and mlgate.schema.yml, run `mlgate run`, then commit them with .github/workflows/"
    );
    Ok(Status::Passed)
}

/// The directory's name, lowercased, with characters GTO names refuse replaced by `-`.
fn default_name(dir: &std::path::Path) -> anyhow::Result<String> {
    let absolute = std::path::absolute(dir)?;
    let base = absolute
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    if name.is_empty() {
        anyhow::bail!(
            "cannot derive a model name from `{}`; pass `--name`",
            dir.display()
        );
    }
    Ok(name)
}
