//! Backends run a built scenario and report what they observed.
//!
//! This crate implements [`RealLoader`] (glibc's loader natively or under qemu-user); the
//! harness implements [`Backend`] for its in-process Unicorn loader, which plays the program's
//! part by making the manifest's `calls` after loading [`BuiltScenario::initial_libraries`], or
//! runs the program from its entry point when the scenario lists no calls.

use crate::build::BuiltScenario;
use crate::corpus::Scenario;
use crate::observation::{Observation, ObservedBinding};
use crate::target::Target;
use std::time::Duration;
use tether_qemu::{Arch, ExitStatus, Machine, RunSpec};

/// Something that can run a built scenario.
pub trait Backend: Send + Sync {
    /// Short name shown in the matrix (`qemu`, `native`, `unicorn`).
    fn name(&self) -> &str;

    /// Whether this backend runs `arch`. A backend that does not is left out of that column.
    fn supports_arch(&self, arch: Arch) -> bool;

    /// True for a real loader (runs the program); false for an in-process loader (makes the
    /// manifest's `calls`, or runs the program when there are none). Scenarios marked
    /// `real_loader_only` skip in-process backends.
    fn runs_program(&self) -> bool;

    /// Runs `built` and reports what happened. A failed run is an `Observation` with `error`
    /// set, not a Rust error: the check compares it with the expectation like anything else.
    fn run(&self, built: &BuiltScenario) -> Observation;

    /// Runs `built` again with every PLT slot bound at load (`LD_BIND_NOW=1`, `--bind-now`),
    /// for the lazy ≡ eager comparison; `None` for a backend that cannot.
    fn run_bind_now(&self, _built: &BuiltScenario) -> Option<Observation> {
        None
    }
}

/// Whether `backend` runs `scenario`'s program (rather than making its calls).
pub fn needs_program(backend: &dyn Backend, scenario: &Scenario) -> bool {
    backend.runs_program() || scenario.manifest.runs_program_in_process()
}

/// Whether `backend` applies to `scenario` built for `target`.
pub fn applies(backend: &dyn Backend, scenario: &Scenario, target: Target) -> bool {
    backend.supports_arch(target.arch)
        && scenario.manifest.applies_to_target(target)
        && (backend.runs_program() || !scenario.manifest.real_loader_only)
        && (!backend.runs_program() || scenario.manifest.program.is_some())
}

/// glibc's own loader running the scenario's program: on the host (`native`) or under qemu-user.
#[derive(Debug, Clone)]
pub struct RealLoader {
    kind: RealLoaderKind,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RealLoaderKind {
    Native,
    Qemu,
}

impl RealLoader {
    /// qemu-user (`qemu-arm -L /usr/arm-linux-gnueabihf`, `qemu-x86_64`) for both architectures.
    pub fn qemu() -> RealLoader {
        RealLoader {
            kind: RealLoaderKind::Qemu,
            timeout: Duration::from_secs(30),
        }
    }

    /// The host's loader, for the host's architecture only.
    pub fn native() -> RealLoader {
        RealLoader {
            kind: RealLoaderKind::Native,
            timeout: Duration::from_secs(30),
        }
    }

    fn machine(&self, arch: Arch) -> Result<Machine, tether_qemu::Error> {
        match self.kind {
            RealLoaderKind::Native => Machine::native(arch),
            RealLoaderKind::Qemu => Machine::qemu(arch),
        }
    }
}

impl Backend for RealLoader {
    fn name(&self) -> &str {
        match self.kind {
            RealLoaderKind::Native => "native",
            RealLoaderKind::Qemu => "qemu",
        }
    }

    fn supports_arch(&self, arch: Arch) -> bool {
        match self.kind {
            RealLoaderKind::Native => Arch::host() == Some(arch),
            RealLoaderKind::Qemu => true,
        }
    }

    fn runs_program(&self) -> bool {
        true
    }

    fn run(&self, built: &BuiltScenario) -> Observation {
        self.run_program(built, false)
    }

    fn run_bind_now(&self, built: &BuiltScenario) -> Option<Observation> {
        Some(self.run_program(built, true))
    }
}

impl RealLoader {
    fn run_program(&self, built: &BuiltScenario, bind_now: bool) -> Observation {
        let Some(program) = &built.program else {
            return failed("the scenario has no program for a real loader to run".into());
        };
        let machine = match self.machine(built.arch()) {
            Ok(m) => m,
            Err(e) => return failed(e.to_string()),
        };
        // Libraries that are programs too run first, each on its own; their output comes
        // before the program's in the expectation.
        let mut before = Observation::default();
        for library in built.scenario.manifest.libraries_run_directly() {
            let path = built.out_dir.join(&library.name);
            let run = self.run_one(&machine, built, &path, false, bind_now);
            before.stdout.push_str(&run.stdout);
            before.log.push_str(&run.log);
            before.bindings.extend(run.bindings);
            if run.error.is_some() || run.exit_code != Some(0) {
                let why = run
                    .error
                    .unwrap_or_else(|| format!("exit code {:?}", run.exit_code));
                before.error = Some(format!("{} run directly: {why}", library.name));
                return before;
            }
        }
        let logs_start = !built.scenario.manifest.program_kind().is_static();
        let mut observation = self.run_one(&machine, built, &program.path, logs_start, bind_now);
        observation.stdout.insert_str(0, &before.stdout);
        observation.log.insert_str(0, &before.log);
        before.bindings.append(&mut observation.bindings);
        observation.bindings = before.bindings;
        observation
    }
}

fn failed(error: String) -> Observation {
    Observation {
        error: Some(error),
        ..Observation::default()
    }
}

impl RealLoader {
    /// Runs one executable of `built`. `logs_start`: the loader logs that it transferred
    /// control to it (glibc does not for a library run directly, and a static program has no
    /// loader), so a run without that line failed to start.
    fn run_one(
        &self,
        machine: &Machine,
        built: &BuiltScenario,
        path: &std::path::Path,
        logs_start: bool,
        bind_now: bool,
    ) -> Observation {
        let mut spec = RunSpec::new(path);
        spec.cwd = Some(built.out_dir.clone());
        spec.library_path = vec![built.out_dir.clone()];
        spec.timeout = self.timeout;
        if bind_now {
            spec.env.push(("LD_BIND_NOW".into(), "1".into()));
        }
        let outcome = match machine.run(&spec) {
            Ok(o) => o,
            Err(e) => return failed(e.to_string()),
        };
        let error = match outcome.status {
            _ if !outcome.started && logs_start => Some(format!(
                "the loader did not start the program ({}): {}",
                outcome.status,
                outcome.output.trim_end()
            )),
            ExitStatus::Signal(s) => Some(format!("the program was killed by signal {s}")),
            ExitStatus::TimedOut => Some(format!("the program timed out after {:?}", self.timeout)),
            // The loader reports a failed lazy lookup after the program started.
            ExitStatus::Code(c) if c != 0 && outcome.output.contains("symbol lookup error") => {
                outcome
                    .output
                    .lines()
                    .find(|l| l.contains("symbol lookup error"))
                    .map(str::to_string)
            }
            ExitStatus::Code(_) => None,
        };
        Observation {
            stdout: outcome.output,
            exit_code: match outcome.status {
                ExitStatus::Code(c) => Some(c),
                _ => None,
            },
            init_order: Some(outcome.inits),
            fini_order: Some(outcome.finis),
            bindings: outcome
                .bindings
                .into_iter()
                .map(|b| ObservedBinding {
                    from: b.binding.from,
                    symbol: b.binding.symbol,
                    to: b.binding.to,
                    version: b.binding.version,
                    after_lines: Some(b.after_lines),
                })
                .collect(),
            returns: Vec::new(),
            error,
            log: outcome.log,
            jump_slots: None,
        }
    }
}
