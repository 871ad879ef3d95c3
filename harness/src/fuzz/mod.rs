//! Fuzzing: properties over relocation encodings ([`encodings`]), over whole generated objects
//! ([`objects`]), and over malformed real inputs ([`inputs`]), run by the tests and by
//! `tether fuzz`.

pub mod encodings;
pub mod inputs;
pub mod objects;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// The number of cases a property runs: `PROPTEST_CASES` when set, else `default`.
pub fn cases_from_env(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a property run saw: cases per label (a relocation kind, an architecture).
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub passed: u64,
    /// Cases that tether rightly refused (out-of-range values).
    pub refused: u64,
    pub per_label: BTreeMap<String, u64>,
}

/// A failing case after shrinking: what went wrong and the minimal input.
#[derive(Debug, Clone)]
pub struct Failure<T> {
    pub message: String,
    pub case: T,
}

impl<T: std::fmt::Debug> std::fmt::Display for Failure<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\nminimal case: {:?}", self.message, self.case)
    }
}

/// Outcome of one case: passed under a label, or refused (counted, not a failure).
pub enum CaseOutcome {
    Passed(String),
    Refused,
}

/// Runs `check` on `cases` values of `strategy` (from `seed`, or a random seed), shrinking a
/// failure to a minimal case. `on_case` is called after each case (a progress bar).
pub fn run_property<S: Strategy>(
    strategy: S,
    cases: u32,
    seed: Option<u64>,
    on_case: impl Fn(),
    check: impl Fn(&S::Value) -> Result<CaseOutcome, String>,
) -> Result<Stats, Failure<S::Value>> {
    let mut config = Config::with_cases(cases);
    // Regression seeds are kept explicitly (tests/fuzz.rs), not in files beside the sources.
    config.failure_persistence = None;
    let mut runner = match seed {
        Some(seed) => TestRunner::new_with_rng(
            config,
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)),
        ),
        None => TestRunner::new(config),
    };
    let stats = RefCell::new(Stats::default());
    let result = runner.run(&strategy, |case| {
        on_case();
        let outcome = check(&case).map_err(TestCaseError::fail)?;
        let mut s = stats.borrow_mut();
        match outcome {
            CaseOutcome::Passed(label) => {
                s.passed += 1;
                *s.per_label.entry(label).or_default() += 1;
            }
            CaseOutcome::Refused => s.refused += 1,
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(stats.into_inner()),
        Err(TestError::Fail(why, case)) => Err(Failure {
            message: why.message().to_string(),
            case,
        }),
        Err(TestError::Abort(why)) => panic!("proptest aborted: {why}"),
    }
}

/// Property (a) over `probes` with `writer` (tether's, or a broken one in tests).
pub fn run_encodings(
    probes: &'static [encodings::Probe],
    writer: &encodings::FieldWriter,
    cases: u32,
    seed: Option<u64>,
    on_case: impl Fn(),
) -> Result<Stats, Failure<encodings::FieldCase>> {
    run_property(
        encodings::field_case(probes),
        cases,
        seed,
        on_case,
        |case| {
            Ok(match encodings::check(case, probes, writer)? {
                encodings::Verdict::Applied => {
                    CaseOutcome::Passed(probes[case.probe].name.to_string())
                }
                encodings::Verdict::Refused => CaseOutcome::Refused,
            })
        },
    )
}

/// Property (b) for one architecture (ARM with Thumb, or x86-64).
pub fn run_objects(
    arm: bool,
    cases: u32,
    seed: Option<u64>,
    on_case: impl Fn(),
) -> Result<Stats, Failure<objects::GenObject>> {
    run_property(objects::gen_object(arm), cases, seed, on_case, |g| {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        objects::check(g, dir.path())?;
        Ok(CaseOutcome::Passed(
            if arm { "arm" } else { "x86_64" }.to_string(),
        ))
    })
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(i as u64);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}
