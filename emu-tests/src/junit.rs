//! The check's report as JUnit XML, the format CI systems read: one `<testsuite>` per
//! scenario, one `<testcase>` per target × backend × linker, the first difference as the
//! failure's message.

use crate::check::{Outcome, Report};

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters, even escaped.
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The report as a JUnit document.
pub fn to_junit(report: &Report) -> String {
    let mut scenarios: Vec<&str> = Vec::new();
    for c in &report.cases {
        if !scenarios.contains(&c.scenario.as_str()) {
            scenarios.push(&c.scenario);
        }
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"tether check\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3}\">\n",
        report.cases.len(),
        report.failed(),
        report.seconds
    ));
    for scenario in scenarios {
        let cases: Vec<_> = report
            .cases
            .iter()
            .filter(|c| c.scenario == scenario)
            .collect();
        let failed = cases.iter().filter(|c| !c.passed()).count();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\">\n",
            escape(scenario),
            cases.len()
        ));
        for c in cases {
            let name = format!("{} {} {}", c.target, c.backend, c.linker);
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&c.scenario),
                escape(&name)
            );
            match &c.outcome {
                Outcome::Pass => x.push_str(&format!("{open}/>\n")),
                Outcome::Fail { difference } => {
                    let message = format!(
                        "{}: expected {}, observed {}",
                        difference.what, difference.expected, difference.observed
                    );
                    x.push_str(&format!(
                        "{open}>\n      <failure message=\"{}\" type=\"difference\">{}</failure>\n    </testcase>\n",
                        escape(&message),
                        escape(&difference.to_string())
                    ));
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
