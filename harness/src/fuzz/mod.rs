//! Relocation fuzzing: properties over relocation encodings ([`encodings`]) and over whole
//! generated objects ([`objects`]), run by the tests and by `tether fuzz`.

pub mod encodings;

use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

/// The number of cases a property runs: `PROPTEST_CASES` when set, else `default`.
pub fn cases_from_env(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a run of property (a) saw.
#[derive(Debug, Default, Clone)]
pub struct EncodingStats {
    pub applied: u64,
    pub refused: u64,
    /// Cases per relocation name that were applied and executed.
    pub per_kind: std::collections::BTreeMap<&'static str, u64>,
}

/// Runs property (a) for `cases` cases over `probes`; `on_case` sees each case as it ends
/// (a progress bar). The error is the shrunk, minimal failing case and what went wrong.
pub fn run_encodings(
    probes: &'static [encodings::Probe],
    writer: &encodings::FieldWriter,
    cases: u32,
    seed: Option<u64>,
    on_case: impl Fn(),
) -> Result<EncodingStats, String> {
    let mut config = Config::with_cases(cases);
    config.failure_persistence = None;
    let mut runner = match seed {
        Some(seed) => TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &seed_bytes(seed),
            ),
        ),
        None => TestRunner::new(config),
    };
    let stats = std::cell::RefCell::new(EncodingStats::default());
    let result = runner.run(&encodings::field_case(probes), |case| {
        on_case();
        let verdict = encodings::check(&case, probes, writer).map_err(TestCaseError::fail)?;
        let mut s = stats.borrow_mut();
        match verdict {
            encodings::Verdict::Applied => {
                s.applied += 1;
                *s.per_kind.entry(probes[case.probe].name).or_default() += 1;
            }
            encodings::Verdict::Refused => s.refused += 1,
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(stats.into_inner()),
        Err(TestError::Fail(why, case)) => Err(format!("{why}\nminimal case: {case:?}")),
        Err(TestError::Abort(why)) => Err(format!("aborted: {why}")),
    }
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(
            &seed
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(i as u64)
                .to_le_bytes(),
        );
    }
    bytes
}
