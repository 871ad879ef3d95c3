//! `-t`/`--trace` (each input file as it is opened, on stdout) and `-y`/`--trace-symbol`
//! (each input that defines or references a traced symbol, on stderr), in GNU ld's words.

use crate::object_file::SymPlace;
use crate::options::Options;
use crate::resolve::Resolved;

/// `-t`: GNU ld prints the file as named or found, linker scripts included.
pub fn opened(trace: bool, path: &std::path::Path) {
    if trace {
        println!("{}", path.display());
    }
}

/// `-y`: every mention of a traced name by an object (in load order), then by a library.
pub fn symbols(opts: &Options, resolved: &Resolved) {
    if opts.trace_symbols.is_empty() {
        return;
    }
    let traced = |name: &[u8]| opts.trace_symbols.iter().any(|t| t.as_bytes() == name);
    for obj in &resolved.objects {
        for sym in obj.symbols.iter().skip(obj.first_global) {
            if traced(sym.name()) {
                let what = match sym.place {
                    SymPlace::Undefined => "reference to",
                    SymPlace::Common => "common",
                    _ => "definition of",
                };
                eprintln!("ld.tether: {}: {what} {}", obj.name, show(sym.name()));
            }
        }
    }
    for dso in &resolved.dsos {
        for sym in dso.symbols.iter().filter(|s| traced(s.name)) {
            eprintln!("ld.tether: {}: definition of {}", dso.name, show(sym.name));
        }
        for name in dso.undefined.iter().filter(|n| traced(n)) {
            eprintln!("ld.tether: {}: reference to {}", dso.name, show(name));
        }
    }
}

fn show(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}
