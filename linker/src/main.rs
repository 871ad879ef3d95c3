//! `ld.tether` (built as `ld-tether`): a GNU ld compatible command line over tether's linker.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: tether_linker::big_alloc::BigAlloc = tether_linker::big_alloc::BigAlloc;

use tether_linker::detach;
use tether_linker::options::{self, Invocation};

fn main() -> ExitCode {
    tether_linker::big_alloc::tune_malloc();
    let invocation = match options::parse(std::env::args_os().skip(1)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("ld.tether: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match invocation {
        Invocation::Help(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Invocation::Version => {
            println!("tether {} (GNU ld compatible)", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Invocation::Link(opts) => {
            // The phase times are printed at the very end: timing keeps one process. (gcc
            // passes its LTO plugin to every link; see `detach::hold` for when it matters.)
            tether_linker::timing::enable(opts.time_trace);
            let fork = opts.fork.unwrap_or_else(|| detach::worth_forking(&opts));
            if fork && !tether_linker::timing::enabled() {
                if let Some(status) = detach::fork() {
                    return ExitCode::from(status);
                }
            }
            let status = match tether_linker::link::run(&opts) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("ld.tether: error: {e}");
                    1
                }
            };
            detach::report(status);
            ExitCode::from(status)
        }
    }
}
