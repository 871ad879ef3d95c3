//! `ld.tether` (built as `ld-tether`): a GNU ld compatible command line over tether's linker.

use std::process::ExitCode;
use tether_linker::options::{self, Invocation};

fn main() -> ExitCode {
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
        Invocation::Link(opts) => match tether_linker::link::run(&opts) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ld.tether: error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
