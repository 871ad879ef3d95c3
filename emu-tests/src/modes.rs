//! Lazy ≡ eager: every scenario that runs with lazy binding runs again with every slot bound
//! at load (`LD_BIND_NOW=1` for glibc, `--bind-now` in the harness). Both runs must print the
//! same, and every JUMP_SLOT must end at the same target, in each loader and across loaders
//! (the harness's final GOT against glibc's `LD_DEBUG=bindings`). The lazy path's hand-off
//! through PLT0 and GOT[1]/GOT[2] is where linkers break, and only a lazy run goes through it.

use crate::compare::{log_lines_around, Difference};
use crate::corpus::Scenario;
use crate::observation::Observation;

/// Whether the two modes can be compared: not when the scenario expects an error (an
/// undefined function fails at load under eager binding, at its first call under lazy).
pub fn compares(scenario: &Scenario) -> bool {
    scenario.manifest.expect.error.is_none()
}

fn found(
    what: String,
    expected: String,
    observed: String,
    lazy: &Observation,
    needle: Option<String>,
) -> Difference {
    Difference {
        what,
        expected,
        observed,
        context: log_lines_around(&lazy.log, needle.as_deref()),
        needle,
        others: Vec::new(),
    }
}

/// The first way the lazy run differs from the eager one on the same backend.
pub fn lazy_eager_difference(lazy: &Observation, eager: &Observation) -> Option<Difference> {
    const EAGER: &str = "with eager binding";
    if lazy.error != eager.error {
        let show = |e: &Option<String>| e.clone().unwrap_or_else(|| "no error".into());
        return Some(found(
            "lazy ≡ eager: the run's outcome".into(),
            format!("{} ({EAGER})", show(&eager.error)),
            show(&lazy.error),
            lazy,
            None,
        ));
    }
    let (l, e): (Vec<&str>, Vec<&str>) = (
        lazy.stdout.lines().collect(),
        eager.stdout.lines().collect(),
    );
    if let Some(i) = (0..l.len().max(e.len())).find(|&i| l.get(i) != e.get(i)) {
        let show = |v: Option<&&str>| v.map_or("end of output".to_string(), |s| format!("{s:?}"));
        return Some(found(
            format!("lazy ≡ eager: stdout line {}", i + 1),
            format!("{} ({EAGER})", show(e.get(i))),
            show(l.get(i)),
            lazy,
            l.get(i).map(|s| s.to_string()),
        ));
    }
    if lazy.exit_code != eager.exit_code {
        return Some(found(
            "lazy ≡ eager: the exit code".into(),
            format!("{:?} ({EAGER})", eager.exit_code),
            format!("{:?}", lazy.exit_code),
            lazy,
            None,
        ));
    }
    for b in &lazy.bindings {
        let same = |x: &&crate::ObservedBinding| x.from == b.from && x.symbol == b.symbol;
        let eager_to: Vec<&str> = eager
            .bindings
            .iter()
            .filter(same)
            .map(|x| x.to.as_str())
            .collect();
        if !eager_to.is_empty() && !eager_to.contains(&b.to.as_str()) {
            return Some(found(
                format!("lazy ≡ eager: {}'s binding of `{}'", b.from, b.symbol),
                format!("in {} ({EAGER})", eager_to.join(", ")),
                format!("in {}", b.to),
                lazy,
                Some(format!("`{}'", b.symbol)),
            ));
        }
    }
    slot_difference(lazy, eager)
}

/// Every slot the lazy run bound must hold what the eager run left in it.
fn slot_difference(lazy: &Observation, eager: &Observation) -> Option<Difference> {
    let (Some(ls), Some(es)) = (&lazy.jump_slots, &eager.jump_slots) else {
        return None;
    };
    for s in ls {
        let theirs = es
            .iter()
            .find(|e| e.object == s.object && e.offset == s.offset);
        let expected = theirs.map_or("unbound".to_string(), |e| e.target.clone());
        if expected != s.target {
            return Some(found(
                format!(
                    "lazy ≡ eager: {}'s JUMP_SLOT for `{}' at the end",
                    s.object, s.symbol
                ),
                format!("{expected} (with eager binding)"),
                s.target.clone(),
                lazy,
                Some(format!("`{}'", s.symbol)),
            ));
        }
    }
    None
}

/// The in-process loader's final GOT against a real loader's eager bindings: every slot from
/// one scenario library into another must point into the object glibc bound it to.
pub fn got_difference(
    scenario: &Scenario,
    in_process: &Observation,
    real_eager: &Observation,
    real_name: &str,
) -> Option<Difference> {
    let libraries = scenario.library_names();
    let slots = in_process.jump_slots.as_ref()?;
    for s in slots {
        if !libraries.contains(&s.object.as_str()) || !libraries.contains(&s.target_object.as_str())
        {
            continue;
        }
        let glibc: Vec<&str> = real_eager
            .bindings
            .iter()
            .filter(|b| b.from == s.object && b.symbol == s.symbol)
            .filter(|b| b.version.is_none() || s.version.is_none() || b.version == s.version)
            .map(|b| b.to.as_str())
            .collect();
        if !glibc.is_empty() && !glibc.contains(&s.target_object.as_str()) {
            return Some(found(
                format!(
                    "{}'s JUMP_SLOT for `{}', the final GOT against {real_name}'s LD_DEBUG=bindings with LD_BIND_NOW=1",
                    s.object, s.symbol
                ),
                format!("in {}", glibc.join(", ")),
                s.target.clone(),
                in_process,
                Some(format!("`{}'", s.symbol)),
            ));
        }
    }
    None
}
