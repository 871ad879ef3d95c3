//! Runs the built-in corpus on the real-loader backends (qemu-user, native) until the `tether
//! check` subcommand is wired: `cargo run -p tether-emu-tests --example check -- [--linker PATH]
//! [--json] [--scenario NAME]... [--target NAME]... [--keep DIR]`. Without --linker: GNU ld.

use tether_emu_tests::check::{self, CheckOptions};
use tether_emu_tests::{corpus, Backend, Linker, RealLoader, Target};

fn main() {
    let mut options = CheckOptions::new(Vec::new());
    let mut json = false;
    let mut args = std::env::args().skip(1);
    let mut targets = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("check: {arg} needs a value");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--json" => json = true,
            "--linker" => options.linkers.push(Linker::at(value())),
            "--scenario" => options.scenarios.push(value()),
            "--keep" => options.keep_dir = Some(value().into()),
            "--target" => {
                let name = value();
                match Target::parse(&name) {
                    Some(t) => targets.push(t),
                    None => {
                        eprintln!("check: unknown target `{name}`");
                        std::process::exit(2)
                    }
                }
            }
            other => {
                eprintln!("check: unknown argument `{other}`");
                std::process::exit(2)
            }
        }
    }
    if options.linkers.is_empty() {
        options.linkers.push(Linker::GnuLd);
    }
    if !targets.is_empty() {
        options.targets = targets;
    }
    let scenarios = corpus().unwrap_or_else(|e| {
        eprintln!("check: {e}");
        std::process::exit(2)
    });
    let (qemu, native) = (RealLoader::qemu(), RealLoader::native());
    let backends: Vec<&dyn Backend> = vec![&native, &qemu];
    match check::run(&scenarios, &backends, &options) {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            std::process::exit(if report.success() { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("check: {e}");
            std::process::exit(2)
        }
    }
}
