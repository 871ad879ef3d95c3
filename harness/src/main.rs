//! `tether`: the harness's command line, a small dispatcher over subcommand modules.

use clap::{Parser, Subcommand};
use tether_harness::cli;

#[derive(Parser)]
#[command(
    name = "tether",
    about = "Load and run ARM32 / x86-64 shared libraries under Unicorn and show what the loader did"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a library with its dependencies, run init, optionally call a function, run fini.
    Run(cli::run::RunArgs),
    /// Run the built-in scenario corpus: every scenario, target, backend and linker.
    Check(cli::check::CheckArgs),
    /// A relocation fuzzing campaign (encodings and generated objects) with a progress bar.
    Fuzz(cli::fuzz::FuzzArgs),
}

fn main() {
    let cli = Cli::parse();
    let status = match &cli.command {
        Command::Run(a) => cli::run::run(a),
        Command::Check(a) => cli::check::run(a),
        Command::Fuzz(a) => cli::fuzz::run(a),
    };
    std::process::exit(status);
}
