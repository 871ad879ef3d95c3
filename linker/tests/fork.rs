//! ld.tether returns to its caller once the output is in place, leaving the unmapping and
//! freeing to a child process, as mold does (`--fork`; by default only when the inputs are
//! large, and `--no-fork` keeps one process). Whoever called it must still see the complete
//! output, every message, and the link's exit status.

mod common;
use common::*;
use std::process::Command;

fn tether_in(w: &Work, args: &[&str]) -> std::process::Output {
    run(Command::new(tether()).args(args).current_dir(w.dir.path()))
}

#[test]
fn the_caller_sees_the_finished_output_its_messages_and_the_status() {
    let w = Work::new();
    std::fs::write(
        w.path("lib.c"),
        "int missing(void);\nint get(void) { return 7; }\nint call(void) { return missing(); }\n",
    )
    .expect("write lib.c");
    w.compile(Cc::Gcc, "-O2", &w.path("lib.c"), "lib.o", false);

    // A warning printed before the output is committed reaches the caller.
    let forked = tether_in(
        &w,
        &[
            "--fork",
            "-shared",
            "-z",
            "frobnicate",
            "lib.o",
            "-o",
            "forked.so",
        ],
    );
    assert!(forked.status.success(), "{forked:?}");
    let said = String::from_utf8_lossy(&forked.stderr);
    assert!(said.contains("frobnicate"), "the warning was lost: {said}");
    let single = tether_in(&w, &["--no-fork", "-shared", "lib.o", "-o", "single.so"]);
    assert!(single.status.success(), "{single:?}");
    let read = |name: &str| std::fs::read(w.path(name)).expect("output");
    assert_eq!(read("forked.so"), read("single.so"));
    check_readelf(&w.path("forked.so"));

    // Replacing an output leaves nothing else behind by the time the caller goes on.
    let again = tether_in(&w, &["--fork", "-shared", "lib.o", "-o", "forked.so"]);
    assert!(again.status.success(), "{again:?}");
    let stray: Vec<String> = std::fs::read_dir(w.dir.path())
        .expect("work directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tether-"))
        .collect();
    assert!(stray.is_empty(), "left behind: {stray:?}");
    assert_eq!(read("forked.so"), read("single.so"));

    // A failed link exits 1 with its error, and leaves the previous output alone.
    std::fs::copy(w.path("forked.so"), w.path("kept.so")).expect("copy");
    let failed = tether_in(
        &w,
        &["--fork", "-shared", "-z", "defs", "lib.o", "-o", "kept.so"],
    );
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(said.contains("undefined symbol: missing"), "{said}");
    assert_eq!(read("kept.so"), read("single.so"));
    let failed = tether_in(
        &w,
        &["--fork", "-shared", "-z", "defs", "lib.o", "-o", "none.so"],
    );
    assert_eq!(failed.status.code(), Some(1));
    assert!(!w.path("none.so").exists());
}

/// The program can be run the moment the link returns: the child that is left to clean up
/// must not still hold the output mapped for writing, or `exec` fails with ETXTBSY ("Text
/// file busy"). A large output makes that unmapping take long enough to be seen.
#[test]
fn the_program_runs_as_soon_as_the_link_returns() {
    let w = Work::new();
    std::fs::write(
        w.path("main.c"),
        "#include <stdio.h>\nchar big[64 << 20] = {1};\nint main(void) { printf(\"%d\\n\", big[0] + big[sizeof big - 1]); return 0; }\n",
    )
    .expect("write main.c");
    let obj = w.compile(Cc::Gcc, "-O2", &w.path("main.c"), "main.o", false);
    for round in 0..6 {
        let exe = if round % 2 == 0 { "prog" } else { "other" };
        ok(w.driver(Cc::Gcc, Linker::Tether, false)
            .arg(&obj)
            .args(["-Wl,--fork", "-o", exe]));
        assert_eq!(w.run_program(exe).trim(), "1", "round {round}");
    }
}
