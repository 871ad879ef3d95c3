//! Comparing an observation with a scenario's expectation, stopping at the first difference.

use crate::corpus::Scenario;
use crate::manifest::{ErrorStage, ExpectedBinding};
use crate::observation::{Observation, ObservedBinding};
use serde::{Deserialize, Serialize};

/// The first way a run differed from what the scenario expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// What was compared (`stdout line 3`, `init order`, `binding of go_back`, ...).
    pub what: String,
    pub expected: String,
    pub observed: String,
    /// Lines of the backend's log around the difference.
    pub context: Vec<String>,
    /// What the context was searched for, to show the other backends' logs at the same point.
    #[serde(skip)]
    pub needle: Option<String>,
    /// The other backends that ran the same build: whether they passed, and their logs at the
    /// same point. One backend failing where another passes points at that backend.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<OtherBackend>,
}

/// Another backend's view of the same build, shown next to a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherBackend {
    pub backend: String,
    pub passed: bool,
    pub context: Vec<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}:", self.what)?;
        writeln!(f, "  expected: {}", self.expected)?;
        writeln!(f, "  observed: {}", self.observed)?;
        if !self.context.is_empty() {
            writeln!(f, "  log around it:")?;
            for line in &self.context {
                writeln!(f, "    | {line}")?;
            }
        }
        for other in &self.others {
            let verdict = if other.passed { "passed" } else { "failed too" };
            writeln!(
                f,
                "  {} on the same build {verdict}; its log there:",
                other.backend
            )?;
            for line in &other.context {
                writeln!(f, "    | {line}")?;
            }
        }
        Ok(())
    }
}

fn difference(
    what: impl Into<String>,
    expected: impl Into<String>,
    observed: impl Into<String>,
    context: Context,
) -> Difference {
    Difference {
        what: what.into(),
        expected: expected.into(),
        observed: observed.into(),
        context: context.lines,
        needle: context.needle,
        others: Vec::new(),
    }
}

/// Where in a log a difference shows: the text searched for, and the lines around it.
pub struct Context {
    needle: Option<String>,
    lines: Vec<String>,
}

fn context_around(log: &str, needle: Option<&str>) -> Context {
    Context {
        needle: needle.map(str::to_string),
        lines: log_lines_around(log, needle),
    }
}

/// Log lines around the first line containing `needle` (the log's tail if none does).
pub fn log_lines_around(log: &str, needle: Option<&str>) -> Vec<String> {
    // glibc separates its debug messages with empty ones (`  1234:\t`): they only take room.
    let blank_debug_line = |l: &str| {
        let t = l.trim();
        t.len() > 1 && t.ends_with(':') && t[..t.len() - 1].bytes().all(|b| b.is_ascii_digit())
    };
    let lines: Vec<&str> = log.lines().filter(|l| !blank_debug_line(l)).collect();
    let at = needle
        .filter(|n| !n.is_empty())
        .and_then(|n| lines.iter().position(|l| l.contains(n)))
        .unwrap_or(lines.len());
    let start = at.saturating_sub(6);
    let end = (at + 4).min(lines.len());
    lines[start..end].iter().map(|l| l.to_string()).collect()
}

fn describe_binding(b: &ExpectedBinding) -> String {
    let mut s = format!("{} -> `{}` in {}", b.from, b.symbol, b.to);
    if let Some(v) = &b.version {
        s.push_str(&format!(" [{v}]"));
    }
    if let Some(n) = b.after_lines {
        s.push_str(&format!(" after {n} output lines"));
    }
    s
}

fn describe_observed(b: &ObservedBinding) -> String {
    let mut s = format!("{} -> `{}` in {}", b.from, b.symbol, b.to);
    if let Some(v) = &b.version {
        s.push_str(&format!(" [{v}]"));
    }
    if let Some(n) = b.after_lines {
        s.push_str(&format!(" after {n} output lines"));
    }
    s
}

fn matches(expected: &ExpectedBinding, observed: &ObservedBinding) -> bool {
    expected.from == observed.from
        && expected.symbol == observed.symbol
        && expected.to == observed.to
        && expected
            .version
            .as_ref()
            .is_none_or(|v| observed.version.as_ref() == Some(v))
}

/// Compares a run with the scenario's expectation. `runs_program` says whether the backend ran
/// the program (exit code checked) or made the manifest's calls (return values checked).
pub fn first_difference(
    scenario: &Scenario,
    runs_program: bool,
    observed: &Observation,
) -> Option<Difference> {
    let expect = &scenario.manifest.expect;
    let log = &observed.log;

    if let Some(error) = &expect.error {
        if error.stage == ErrorStage::Run {
            let text = format!(
                "{}\n{}",
                observed.error.as_deref().unwrap_or(""),
                observed.stdout
            );
            return if observed.error.is_some() && text.contains(&error.contains) {
                None
            } else {
                Some(difference(
                    "run error",
                    format!(
                        "the run fails with a message containing `{}`",
                        error.contains
                    ),
                    observed
                        .error
                        .clone()
                        .unwrap_or_else(|| "the run succeeded".into()),
                    context_around(log, None),
                ))
            };
        }
        return Some(difference(
            "link error",
            format!(
                "linking fails with a message containing `{}`",
                error.contains
            ),
            "every module linked",
            Context {
                needle: None,
                lines: Vec::new(),
            },
        ));
    }
    if let Some(error) = &observed.error {
        return Some(difference(
            "run",
            "the run succeeds",
            error.clone(),
            context_around(log, None),
        ));
    }

    if let Some(stdout) = scenario.expected_stdout() {
        let want: Vec<&str> = stdout.lines().collect();
        let got: Vec<&str> = observed.stdout.lines().collect();
        for i in 0..want.len().max(got.len()) {
            let (w, g) = (want.get(i), got.get(i));
            if w != g {
                return Some(difference(
                    format!("stdout line {}", i + 1),
                    w.map_or("(end of output)".to_string(), |l| format!("{l:?}")),
                    g.map_or("(end of output)".to_string(), |l| format!("{l:?}")),
                    Context {
                        lines: log_lines_around(
                            log,
                            g.copied()
                                .or(i.checked_sub(1).and_then(|p| got.get(p).copied())),
                        ),
                        // Another backend that got it right shows the expected line.
                        needle: w.map(|l| l.to_string()),
                    },
                ));
            }
        }
    }

    if runs_program {
        if let (Some(want), Some(got)) = (expect.exit_code, observed.exit_code) {
            if want != got {
                return Some(difference(
                    "exit code",
                    want.to_string(),
                    got.to_string(),
                    context_around(log, None),
                ));
            }
        }
    } else {
        let want: Vec<(&str, i64)> = scenario
            .manifest
            .calls
            .iter()
            .filter_map(|c| c.returns.map(|r| (c.symbol.as_str(), r)))
            .collect();
        for (i, (symbol, value)) in want.iter().enumerate() {
            let got = observed
                .returns
                .iter()
                .filter(|r| r.symbol == *symbol)
                .nth(want[..i].iter().filter(|(s, _)| s == symbol).count());
            if got.map(|r| r.value) != Some(*value) {
                return Some(difference(
                    format!("return value of {symbol}"),
                    value.to_string(),
                    got.map_or("(no return recorded)".to_string(), |r| r.value.to_string()),
                    context_around(log, Some(symbol)),
                ));
            }
        }
    }

    let libraries = scenario.library_names();
    for (what, want, got) in [
        ("init order", &expect.init_order, &observed.init_order),
        ("fini order", &expect.fini_order, &observed.fini_order),
    ] {
        if let (Some(want), Some(got)) = (want, got) {
            let got: Vec<&str> = got
                .iter()
                .map(String::as_str)
                .filter(|o| libraries.contains(o))
                .collect();
            if *want != got {
                let first = want
                    .iter()
                    .zip(&got)
                    .position(|(w, g)| w != g)
                    .unwrap_or(want.len().min(got.len()));
                return Some(difference(
                    format!("{what} (scenario libraries)"),
                    want.join(", "),
                    got.join(", "),
                    context_around(log, got.get(first).copied()),
                ));
            }
        }
    }

    let mut from = 0;
    for expected in &expect.bindings {
        if expect.bindings_in_any_order {
            from = 0;
        }
        let found = observed.bindings[from..]
            .iter()
            .position(|b| matches(expected, b));
        match found {
            Some(offset) => {
                let b = &observed.bindings[from + offset];
                if let (Some(want), Some(got)) = (expected.after_lines, b.after_lines) {
                    if want != got {
                        return Some(difference(
                            format!("when `{}` was bound", expected.symbol),
                            describe_binding(expected),
                            describe_observed(b),
                            context_around(log, Some(&format!("`{}'", expected.symbol))),
                        ));
                    }
                }
                from += offset + 1;
            }
            None => {
                let same_symbol: Vec<String> = observed
                    .bindings
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.symbol == expected.symbol)
                    .map(|(i, b)| {
                        let mut s = describe_observed(b);
                        if i < from && matches(expected, b) {
                            s.push_str(" (but before the binding expected ahead of it)");
                        }
                        s
                    })
                    .collect();
                return Some(difference(
                    format!("binding of `{}`", expected.symbol),
                    describe_binding(expected),
                    if same_symbol.is_empty() {
                        "no such binding".to_string()
                    } else {
                        same_symbol.join("; ")
                    },
                    context_around(log, Some(&format!("`{}'", expected.symbol))),
                ));
            }
        }
    }

    let objects = scenario.object_names();
    for symbol in &expect.unbound {
        if let Some(b) = observed
            .bindings
            .iter()
            .find(|b| &b.symbol == symbol && objects.contains(&b.from.as_str()))
        {
            return Some(difference(
                format!("binding of `{symbol}`"),
                format!("`{symbol}` resolved at link time, never bound by the loader"),
                describe_observed(b),
                context_around(log, Some(&format!("`{symbol}'"))),
            ));
        }
    }
    None
}

/// Where an in-process backend and a real loader that both met the expectation still saw
/// different bindings between the scenario's libraries: every reference must be bound to the
/// same object. Order is left out here: glibc caches repeated lookups, and a real program's
/// buffered stdout makes "after N lines" approximate; the manifest's expectations check the
/// order that matters. The program's own references are left out too (an in-process backend
/// plays `main` by calling in by name).
pub fn disagreement(
    scenario: &Scenario,
    in_process: &Observation,
    real: &Observation,
    real_name: &str,
) -> Option<Difference> {
    let libraries = scenario.library_names();
    let between_libraries = |o: &'_ Observation| -> Vec<ObservedBinding> {
        o.bindings
            .iter()
            .filter(|b| libraries.contains(&b.from.as_str()) && libraries.contains(&b.to.as_str()))
            .cloned()
            .collect()
    };
    let (ours, theirs) = (between_libraries(in_process), between_libraries(real));
    let resolved = |list: &[ObservedBinding]| -> std::collections::BTreeSet<String> {
        list.iter()
            .map(|b| format!("{} -> `{}` in {}", b.from, b.symbol, b.to))
            .collect()
    };
    let (our_set, their_set) = (resolved(&ours), resolved(&theirs));
    if let Some(missing) = their_set.difference(&our_set).next() {
        return Some(disagreeing(
            real_name,
            "a binding",
            missing.clone(),
            "none such".into(),
            in_process,
        ));
    }
    if let Some(extra) = our_set.difference(&their_set).next() {
        return Some(disagreeing(
            real_name,
            "a binding",
            "none such".into(),
            extra.clone(),
            in_process,
        ));
    }
    None
}

fn disagreeing(
    real_name: &str,
    what: &str,
    expected: String,
    observed: String,
    in_process: &Observation,
) -> Difference {
    let symbol = [&expected, &observed]
        .iter()
        .find_map(|d| d.split('`').nth(1))
        .map(|s| format!("`{s}'"));
    difference(
        format!("{what} between the libraries, compared with {real_name} (the backends disagree)"),
        expected,
        observed,
        context_around(&in_process.log, symbol.as_deref()),
    )
}
