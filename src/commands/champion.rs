//! `mlgate champion`: find the champion and write `champion.json`, `history.json` and
//! `champion/`.

use crate::baseline::{self, Source};
use crate::cli::ChampionArgs;
use crate::config::LoadedConfig;
use crate::exit::Status;
use crate::workflow::Workflow;

/// Runs the command.
pub fn run(args: &ChampionArgs) -> anyhow::Result<Status> {
    let config = LoadedConfig::load(&args.config)?;
    let base = args.base.clone().unwrap_or_else(baseline::default_base);
    let found = super::find_champion(
        &config,
        &base,
        args.cache.as_deref(),
        args.download.then(|| args.token.clone()),
        &args.out,
    )?;
    baseline::write(&args.out, &found)?;
    let report = &found.report;
    match (&report.tag, report.source) {
        (Some(tag), source @ (Source::Cache | Source::Release)) => println!(
            "champion {tag} (commit {}), model from the {}, verified, in `{}`",
            short(report.commit.as_deref()),
            if source == Source::Cache {
                "cache"
            } else {
                "release"
            },
            args.out.join(baseline::CHAMPION_DIR).display()
        ),
        (Some(tag), _) => println!(
            "champion {tag} (commit {}): recorded metrics only",
            short(report.commit.as_deref())
        ),
        (None, _) => println!(
            "no version of `{}` is reachable from `{base}`: the next model is the first",
            report.name
        ),
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    println!(
        "{} promoted version(s) in `{}`",
        found.history.versions.len(),
        args.out.join(baseline::HISTORY_FILE).display()
    );
    let source = serde_json::to_value(report.source)?;
    Workflow::from_env().set_outputs(&[
        ("champion_tag", report.tag.clone().unwrap_or_default()),
        (
            "champion_source",
            source.as_str().unwrap_or_default().to_string(),
        ),
        (
            "champion_json",
            args.out.join(baseline::CHAMPION_FILE).display().to_string(),
        ),
    ])?;
    Ok(Status::Passed)
}

/// The first 12 characters of a commit id.
fn short(commit: Option<&str>) -> &str {
    commit.map_or("?", |c| &c[..c.len().min(12)])
}
