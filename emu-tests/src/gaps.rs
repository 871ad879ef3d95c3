//! Known gaps: failures the check expects of a linker, in one list ([`KNOWN_GAPS`]). A failure
//! a gap explains is shown as `gap` in the matrix and counted apart; a cell the gap says must
//! fail but that passed is reported as the gap closing, and fails the check, so that the gap is
//! removed from this list as soon as the work lands.

use crate::backend::{needs_program, Backend};
use crate::check::{CaseResult, Outcome};
use crate::corpus::Scenario;
use crate::manifest::ErrorStage;

/// A linker's known inability, and how its failures look.
#[derive(Debug)]
pub struct KnownGap {
    /// Report names of the linker it applies to.
    pub linkers: &'static [&'static str],
    /// What is missing, for the report.
    pub about: &'static str,
    /// The linker's refusals (of the output kind or of an option only executables take): one
    /// of these is in the output of every failed link the gap explains.
    pub refusals: &'static [&'static str],
}

/// Every known gap (none today: ld.tether links every program the corpus has).
pub const KNOWN_GAPS: &[KnownGap] = &[];

impl KnownGap {
    /// Whether this gap says the cell (scenario, backend, linker) cannot pass: the cell needs
    /// an executable linked by the linker (the backend runs the program, or a library runs
    /// directly), and nothing fails before it (a library's expected link error).
    pub fn predicts(&self, scenario: &Scenario, backend: &dyn Backend, linker: &str) -> bool {
        let manifest = &scenario.manifest;
        let links_executable = manifest.libraries_run_directly().next().is_some()
            || (manifest.program.is_some() && needs_program(backend, scenario));
        let library_link_error = manifest
            .expect
            .error
            .as_ref()
            .is_some_and(|e| e.stage == ErrorStage::Link);
        self.linkers.contains(&linker) && links_executable && !library_link_error
    }

    /// Whether a failed case is this gap: its build failed linking an executable with one of
    /// the linker's refusals.
    pub fn explains(&self, scenario: &Scenario, case: &CaseResult) -> bool {
        let Outcome::Fail { difference } = &case.outcome else {
            return false;
        };
        let manifest = &scenario.manifest;
        let executables = manifest
            .program
            .iter()
            .chain(manifest.libraries_run_directly())
            .map(|m| format!("linking {} with ", m.name));
        let linking_executable = executables
            .into_iter()
            .any(|prefix| difference.observed.starts_with(&prefix));
        let refused = difference
            .context
            .iter()
            .any(|line| self.refusals.iter().any(|r| line.contains(r)));
        self.linkers.contains(&case.linker.as_str())
            && difference.what == "build"
            && linking_executable
            && refused
    }
}

/// The known gap that explains a failed case, if one does.
pub fn explaining(scenario: &Scenario, case: &CaseResult) -> Option<&'static KnownGap> {
    KNOWN_GAPS.iter().find(|g| g.explains(scenario, case))
}

/// The known gap that says this cell must fail, if one does.
pub fn predicting(
    scenario: &Scenario,
    backend: &dyn Backend,
    linker: &str,
) -> Option<&'static KnownGap> {
    KNOWN_GAPS
        .iter()
        .find(|g| g.predicts(scenario, backend, linker))
}
