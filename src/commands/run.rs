//! `mlgate run`: validate, train and evaluate in one command, the way CI will.

use crate::cli::{EvaluateArgs, RunArgs, TrainArgs, ValidateArgs};
use crate::exit::Status;

/// Runs the stages in order; a failed validation stops before training unless `--keep-going`.
pub fn run(args: &RunArgs) -> anyhow::Result<Status> {
    println!("== validate");
    let validated = super::validate::run(&ValidateArgs {
        config: args.config.clone(),
        infer: false,
        force: false,
        reference: args.reference.clone(),
        no_drift: args.no_drift,
        out: args.out.clone(),
        json: None,
    })?;
    if validated != Status::Passed && !args.keep_going {
        println!("data validation failed; not training (pass `--keep-going` to train anyway)");
        return Ok(validated);
    }
    println!("\n== train");
    super::train::run(&TrainArgs {
        config: args.config.clone(),
        out: args.out.clone(),
    })?;
    println!("\n== evaluate");
    let evaluated = super::evaluate::run(&EvaluateArgs {
        config: args.config.clone(),
        baseline: args.baseline.clone(),
        base: args.base.clone(),
        cache: args.cache.clone(),
        candidate: None,
        out: args.out.clone(),
        json: None,
    })?;
    Ok(if validated != Status::Passed {
        validated
    } else {
        evaluated
    })
}
