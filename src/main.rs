//! The `mlgate` binary: parse the command line, run the command, map the outcome to an exit code.
//!
//! Everything else lives in the library so that tests drive the same code paths.

use std::process::ExitCode;

use clap::Parser;

/// musl's allocator returns freed memory to the kernel at once, so the scan's per-block buffers
/// fault their pages in again and again; jemalloc keeps them. Other targets keep the system
/// allocator, which does well there.
#[cfg(all(target_env = "musl", target_arch = "x86_64"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
