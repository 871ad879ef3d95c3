//! Corrupted inputs give errors, never a panic or a hang: the seed libraries with bytes
//! flipped at pseudo-random places, loaded, initialised and called.

mod common;
use common::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tether_harness::Options;

fn corrupted_libraries(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed = seed_dir();
    tc.shared(d, "libtest.so", &read(seed.join("libtest.c")), &[]);
    let go = tc.shared(
        d,
        "libgo.so",
        &read(seed.join("libgo.c")),
        &["-Wl,-init=go_init", "-ltest"],
    );
    let original = std::fs::read(&go).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mutant = d.join("mutant");
    std::fs::create_dir(&mutant).unwrap();
    std::fs::copy(d.join("libtest.so"), mutant.join("libtest.so")).unwrap();
    let (mut loaded, mut failed) = (0, 0);
    for round in 0..200 {
        let mut bytes = original.clone();
        // Most flips land in the headers and dynamic data, where the loader reads.
        let span = if round % 2 == 0 {
            bytes.len().min(0x1000)
        } else {
            bytes.len()
        };
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % span;
            bytes[at] ^= 1 << (next() % 8);
        }
        std::fs::write(mutant.join("libgo.so"), &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut s = session_with(
                tc,
                &mutant,
                Options {
                    block_budget: 100_000,
                    ..Options::default()
                },
            );
            s.load(mutant.join("libgo.so"))?;
            s.run_init()?;
            s.call("Go_callback", &[2])?;
            s.run_fini()
        }));
        match outcome {
            Ok(Ok(())) => loaded += 1,
            Ok(Err(e)) => {
                failed += 1;
                assert!(!e.to_string().is_empty());
            }
            Err(_) => panic!("round {round}: the harness panicked on a corrupted library"),
        }
    }
    assert!(loaded > 0 && failed > 0, "loaded {loaded}, failed {failed}");
}

for_each_toolchain!(corrupted_libraries);
