//! `mlgate train`: fit the configured model and write `model/` and `predictions.csv`.

use std::io::Write;

use crate::cli::TrainArgs;
use crate::config::LoadedConfig;
use crate::exit::Status;
use crate::train::{self, Trained};
use crate::workflow::Workflow;

/// Runs the command.
pub fn run(args: &TrainArgs) -> anyhow::Result<Status> {
    let config = LoadedConfig::load(&args.config)?;
    let trained = train::train(&config, &args.out)?;
    print_summary(&trained)?;
    publish(&trained)?;
    Ok(Status::Passed)
}

/// One paragraph a person reads in the log.
pub fn print_summary(trained: &Trained) -> anyhow::Result<()> {
    let m = &trained.manifest;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "trained {} ({}) on {} rows in {:.2} s; scored {} evaluation rows{}",
        m.model_kind,
        match m.task {
            crate::config::TaskKind::Classification => format!("{} classes", m.classes.len()),
            crate::config::TaskKind::Regression => "regression".into(),
        },
        m.split.train_rows,
        m.training_seconds,
        m.split.eval_rows,
        m.prediction_rows_per_second
            .map(|r| format!(" ({} rows/s)", crate::report::number(r)))
            .unwrap_or_default()
    )?;
    if let Some(grid) = &m.grid {
        let results = grid["results"].as_array().map_or(0, Vec::len);
        let best = &grid["results"][grid["best"].as_u64().unwrap_or(0) as usize];
        writeln!(
            stdout,
            "grid search: {results} combinations x {} folds; best {} with {} {} +/- {}",
            grid["folds"],
            best["params"],
            grid["metric"].as_str().unwrap_or(""),
            best["mean"]
                .as_f64()
                .map_or("-".into(), crate::report::number),
            best["std"]
                .as_f64()
                .map_or("-".into(), crate::report::number),
        )?;
    }
    for file in &m.files {
        writeln!(
            stdout,
            "wrote `{}` ({} bytes, sha256 {})",
            trained.model_dir.join(&file.name).display(),
            file.bytes,
            file.sha256
        )?;
    }
    writeln!(stdout, "wrote `{}`", trained.predictions.display())?;
    Ok(())
}

/// Step outputs.
fn publish(trained: &Trained) -> anyhow::Result<()> {
    Workflow::from_env().set_outputs(&[
        ("model_dir", trained.model_dir.display().to_string()),
        ("predictions", trained.predictions.display().to_string()),
        ("eval_rows", trained.manifest.split.eval_rows.to_string()),
        (
            "training_seconds",
            format!("{:.3}", trained.manifest.training_seconds),
        ),
    ])
}
