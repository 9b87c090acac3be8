//! `mlgate run`: validate, train and evaluate in one command, the way CI will, then report.

use crate::cli::{EvaluateArgs, RunArgs, TrainArgs, ValidateArgs};
use crate::exit::Status;
use crate::report::run_dir::RunFiles;
use crate::workflow::Workflow;

/// Runs the stages in order; a failed validation stops before training unless `--keep-going`.
/// The stages leave the job summary to the report, which holds all of them.
pub fn run(args: &RunArgs) -> anyhow::Result<Status> {
    let workflow = Workflow::from_env();
    let stages = workflow.without_summary();
    println!("== validate");
    let validated = super::validate::run_in(
        &ValidateArgs {
            config: args.config.clone(),
            infer: false,
            force: false,
            reference: args.reference.clone(),
            no_drift: args.no_drift,
            out: args.out.clone(),
            json: None,
        },
        &stages,
    )?;
    if validated != Status::Passed && !args.keep_going {
        println!("data validation failed; not training (pass `--keep-going` to train anyway)");
        // Model files in the directory belong to an earlier run: report the validation alone.
        report(args, &workflow, RunFiles::load_validation(&args.out)?)?;
        return Ok(validated);
    }
    println!("\n== train");
    super::train::run(&TrainArgs {
        config: args.config.clone(),
        out: args.out.clone(),
    })?;
    println!("\n== evaluate");
    let evaluated = super::evaluate::run_in(
        &EvaluateArgs {
            config: args.config.clone(),
            baseline: args.baseline.clone(),
            base: args.base.clone(),
            cache: args.cache.clone(),
            download: args.download,
            token: args.token.clone(),
            candidate: None,
            out: args.out.clone(),
            json: None,
        },
        &stages,
    )?;
    report(args, &workflow, RunFiles::load(&args.out)?)?;
    Ok(if validated != Status::Passed {
        validated
    } else {
        evaluated
    })
}

/// The report stage.
fn report(args: &RunArgs, workflow: &Workflow, files: RunFiles) -> anyhow::Result<()> {
    println!("\n== report");
    let options = super::report::options(&args.report);
    super::report::write(&args.out, &files, &options, workflow)
}
