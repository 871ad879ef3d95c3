//! The relocation fuzzing properties, on both architectures. `PROPTEST_CASES` sets the number
//! of cases (CI runs the defaults below); each property prints how many ran.

use tether_harness::fuzz::{self, encodings};

#[test]
fn every_relocation_encoding_executes_as_intended_or_is_refused() {
    let cases = fuzz::cases_from_env(10_000);
    let stats = fuzz::run_encodings(
        encodings::PROBES,
        &encodings::tether_writer,
        cases,
        None,
        || {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "relocation encodings: {cases} cases, {} applied and executed, {} refused out of range",
        stats.passed, stats.refused
    );
    for (kind, n) in &stats.per_label {
        eprintln!("  {kind}: {n}");
    }
    // Every probe ran in range at least once, and some cases were out of range.
    for probe in encodings::PROBES {
        assert!(
            stats.per_label.get(probe.name).copied().unwrap_or(0) > 0,
            "{} never applied in {cases} cases",
            probe.name
        );
    }
    assert!(stats.refused > 0);
}

#[test]
fn a_wrong_pc32_addend_is_caught_and_shrunk() {
    // A field writer that adds one to every R_X86_64_PC32 value, as a linker with a wrong
    // addend would: the property fails, naming the relocation and what the CPU computed.
    let pc32 = encodings::PROBES
        .iter()
        .position(|p| p.name == "R_X86_64_PC32")
        .expect("PC32 probe");
    let broken = |target: &dyn tether_linker::arch::Arch,
                  howto: &tether_linker::arch::RelocHowto,
                  site: &mut [u8],
                  value: i64| { target.write_field(howto, site, value + 1) };
    let only_pc32 = &encodings::PROBES[pc32..pc32 + 1];
    let err = fuzz::run_encodings(only_pc32, &broken, 200, Some(1), || {})
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("R_X86_64_PC32 at "), "{err}");
    assert!(err.contains("register "), "{err}");
    // Shrinking brings the case down to the simplest place and target.
    assert!(err.contains("distance: 0,"), "{err}");
}

#[test]
fn an_off_by_one_arm_branch_is_caught() {
    let call = encodings::PROBES
        .iter()
        .position(|p| p.name == "R_ARM_CALL")
        .expect("CALL probe");
    let broken = |target: &dyn tether_linker::arch::Arch,
                  howto: &tether_linker::arch::RelocHowto,
                  site: &mut [u8],
                  value: i64| { target.write_field(howto, site, value + 4) };
    let err = fuzz::run_encodings(
        &encodings::PROBES[call..call + 1],
        &broken,
        200,
        Some(2),
        || {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("R_ARM_CALL at "), "{err}");
    assert!(err.contains("landed at "), "{err}");
}

#[test]
fn generated_objects_linked_by_tether_compute_their_targets_on_both_architectures() {
    let cases = fuzz::cases_from_env(300);
    for arm in [false, true] {
        let stats = fuzz::run_objects(arm, cases, None, || {}).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "generated objects ({}): {} cases linked, loaded and checked",
            if arm { "ARM and Thumb" } else { "x86-64" },
            stats.passed
        );
        assert_eq!(stats.passed, u64::from(cases));
    }
}

/// Cases that once failed while the property was written (each exposed a mistake in how the
/// property modelled the CPU, not in tether): kept so that they keep running.
#[test]
fn regression_cases() {
    use encodings::FieldCase;
    let probe = |name: &str| {
        encodings::PROBES
            .iter()
            .position(|p| p.name == name)
            .expect("probe")
    };
    let cases = [
        // A Thumb BL whose addend is written as BL, then retargeted to ARM code (BLX).
        FieldCase {
            probe: probe("R_ARM_THM_CALL"),
            place: 0,
            distance: 0,
            addend_delta: -19,
            bits: 19_658_752,
            absolute: 0,
        },
        // An x86-64 call landing on an odd address.
        FieldCase {
            probe: probe("R_X86_64_PLT32"),
            place: 0,
            distance: 934_836,
            addend_delta: -31,
            bits: 0,
            absolute: 0,
        },
        // An ARM BL whose target page is not mapped.
        FieldCase {
            probe: probe("R_ARM_CALL"),
            place: 0,
            distance: 7964,
            addend_delta: 57,
            bits: 298_042_880,
            absolute: 0,
        },
    ];
    for case in &cases {
        encodings::check(case, encodings::PROBES, &encodings::tether_writer)
            .unwrap_or_else(|e| panic!("{e}\n{case:?}"));
    }
    // And fixed seeds for both properties, so every run also covers the same cases.
    for seed in [1, 2, 3] {
        fuzz::run_encodings(
            encodings::PROBES,
            &encodings::tether_writer,
            500,
            Some(seed),
            || {},
        )
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for arm in [false, true] {
            fuzz::run_objects(arm, 20, Some(seed), || {})
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }
}

#[test]
fn tether_fuzz_runs_a_campaign() {
    let out = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["fuzz", "--cases", "50", "--seed", "9", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("encodings x86_64: 50 cases, "),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "objects x86_64: 50 generated objects linked, loaded and checked"
    );
    assert!(lines[2].starts_with("encodings arm: 50 cases, "), "{text}");
    assert_eq!(
        lines[3],
        "objects arm: 50 generated objects linked, loaded and checked"
    );
    // Nothing failed, so nothing was written.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}
