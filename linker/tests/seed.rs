//! The seed scenario: libgo.so's DT_INIT (named with -init=go_init) calls libtest.so, which
//! calls back into libgo. tether links both libraries; gcc with GNU ld links main.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn seed_scenario_runs_natively() {
    Cc::Gcc.require();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../emu-tests/scenarios/seed");
    let w = Work::new();
    let test = w.compile(Cc::Gcc, "-O2", &seed.join("libtest.c"), "libtest.o", false);
    let go = w.compile(Cc::Gcc, "-O2", &seed.join("libgo.c"), "libgo.o", false);
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["-shared", "-o", "libtest.so"])
        .arg(&test));
    ok(w.driver(Cc::Gcc, Linker::Tether, false)
        .args(["-shared", "-o", "libgo.so", "-Wl,-init=go_init"])
        .arg(&go)
        .args(["-L.", "-ltest"]));
    ok(Command::new("gcc")
        .arg(seed.join("main.c"))
        .args(["-o", "main", "-L.", "-lgo", "-ltest"])
        .current_dir(w.dir.path()));
    let expected = std::fs::read_to_string(seed.join("expected.txt")).expect("expected.txt");
    assert_eq!(w.run_program("main"), expected);
    for lib in ["libtest.so", "libgo.so"] {
        check_readelf(&w.path(lib));
        check_elflint(&w.path(lib));
    }
}
