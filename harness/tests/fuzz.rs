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
        stats.applied, stats.refused
    );
    for (kind, n) in &stats.per_kind {
        eprintln!("  {kind}: {n}");
    }
    // Every probe ran in range at least once, and some cases were out of range.
    for probe in encodings::PROBES {
        assert!(
            stats.per_kind.get(probe.name).copied().unwrap_or(0) > 0,
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
    let err = fuzz::run_encodings(only_pc32, &broken, 200, Some(1), || {}).unwrap_err();
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
    .unwrap_err();
    assert!(err.starts_with("R_ARM_CALL at "), "{err}");
    assert!(err.contains("landed at "), "{err}");
}
