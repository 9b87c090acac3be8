//! `mlgate init`: write the config, the schema and the workflows into a repository.

use crate::cli::InitArgs;
use crate::exit::Status;
use crate::release::version::check_name;
use crate::scaffold::{self, Request};

/// Runs the command.
pub fn run(args: &InitArgs) -> anyhow::Result<Status> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.dir)?,
    };
    check_name(&name).map_err(|e| {
        anyhow::anyhow!("`{name}` cannot name a model registry ({e}); pass `--name`")
    })?;
    let request = Request {
        dir: args.dir.clone(),
        data: args.data.clone(),
        target: args.target.clone(),
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
