//! The `mlgate` binary: parse the command line, run the command, map the outcome to an exit code.
//!
//! Everything else lives in the library so that tests drive the same code paths.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mlgate::cli::Cli::parse();
    match mlgate::commands::run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            let status = mlgate::exit::Status::for_error(&err);
            eprintln!("{}", mlgate::exit::render_error(&err));
            status.into()
        }
    }
}
