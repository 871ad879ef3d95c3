//! The harness as a backend of the scenario corpus (`tether check`): it loads the libraries
//! the scenario's program needs, runs their initialisers, makes the manifest's calls in place
//! of `main`, runs the finalisers, and reports what it saw in the corpus's common terms. A
//! scenario without calls has its program run from `_start` instead (after any library that
//! also runs as a program, each in a session of its own).

use crate::arch::RelocKind;
use crate::{Arch, Event, HarnessError, Options, Session};
use std::collections::HashMap;
use std::path::Path;
use tether_emu_tests::{
    Backend, BuiltScenario, CallReturn, JumpSlot, Observation, ObservedBinding,
};

/// The in-process Unicorn loader, for both architectures.
#[derive(Debug, Clone, Default)]
pub struct UnicornBackend {
    pub options: Options,
}

impl Backend for UnicornBackend {
    fn name(&self) -> &str {
        "unicorn"
    }

    fn supports_arch(&self, _arch: tether_emu_tests::Arch) -> bool {
        true
    }

    fn runs_program(&self) -> bool {
        false
    }

    fn run(&self, built: &BuiltScenario) -> Observation {
        self.run_with(built, self.options.clone())
    }

    fn run_bind_now(&self, built: &BuiltScenario) -> Option<Observation> {
        let options = Options {
            bind_now: true,
            ..self.options.clone()
        };
        Some(self.run_with(built, options))
    }
}

impl UnicornBackend {
    /// The scenario's calls, or its program (and the libraries that run directly) from
    /// their entry points, each in a session of its own.
    fn run_with(&self, built: &BuiltScenario, options: Options) -> Observation {
        let manifest = &built.scenario.manifest;
        if !manifest.runs_program_in_process() {
            return self.in_session(built, &options, |session, returns, exit_code| {
                play_main(session, built, returns, exit_code)
            });
        }
        let mut before = Observation::default();
        for library in manifest.libraries_run_directly() {
            let path = built.out_dir.join(&library.name);
            let run = self.in_session(built, &options, |session, _, exit_code| {
                run_program(session, &path, exit_code)
            });
            let failed = run.error.is_some() || run.exit_code != Some(0);
            before = joined(before, run);
            if failed {
                before.error = Some(format!(
                    "{} run directly: {}",
                    library.name,
                    before
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("exit code {:?}", before.exit_code))
                ));
                return before;
            }
        }
        let Some(program) = &built.program else {
            before.error = Some("the scenario has no program to run".into());
            return before;
        };
        let run = self.in_session(built, &options, |session, _, exit_code| {
            run_program(session, &program.path, exit_code)
        });
        joined(before, run)
    }

    /// A fresh session with the scenario's libraries known, `play` run in it, and what it saw.
    fn in_session(
        &self,
        built: &BuiltScenario,
        options: &Options,
        play: impl FnOnce(
            &mut Session,
            &mut Vec<CallReturn>,
            &mut Option<i32>,
        ) -> Result<(), HarnessError>,
    ) -> Observation {
        let arch = match built.arch() {
            tether_emu_tests::Arch::Arm => Arch::Arm,
            tether_emu_tests::Arch::X86_64 => Arch::X86_64,
        };
        let mut session = match Session::new(arch, options.clone()) {
            Ok(s) => s,
            Err(e) => {
                return Observation {
                    error: Some(e.to_string()),
                    ..Observation::default()
                }
            }
        };
        session.add_search_dir(&built.out_dir);
        for library in &built.libraries {
            session.add_library(&library.path);
        }
        let mut returns = Vec::new();
        let mut exit_code = None;
        let error = play(&mut session, &mut returns, &mut exit_code).err();
        observe(&session, returns, exit_code, error)
    }
}

/// Two runs one after the other: the later one's output and events follow the earlier one's.
fn joined(mut first: Observation, second: Observation) -> Observation {
    first.stdout.push_str(&second.stdout);
    first.log.push_str(&second.log);
    first.bindings.extend(second.bindings);
    Observation {
        stdout: first.stdout,
        log: first.log,
        bindings: first.bindings,
        ..second
    }
}

/// What the kernel and glibc's loader do with an executable: load it with its libraries, run
/// the initialisers, start it at its entry point, and run the finalisers after `exit`.
fn run_program(
    session: &mut Session,
    path: &Path,
    exit_code: &mut Option<i32>,
) -> Result<(), HarnessError> {
    let root = session.load(path)?;
    // Without PT_INTERP (or ET_EXEC) the kernel would start a dynamic object with no loader to
    // relocate it; a library meant to run directly must carry its own .interp. (A static-pie
    // program, once the harness runs static programs, is the one ET_DYN without it.)
    if !session.is_program(root) {
        return Err(HarnessError::BadDynamic {
            object: session.objects()[root].name.clone(),
            message: "has no PT_INTERP: run directly, nothing would load its libraries or \
                      relocate it"
                .into(),
        });
    }
    session.run_init()?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    *exit_code = Some(session.run_entry(root, &[&name])?);
    session.run_fini()
}

/// What the scenario's `main` would do: load, init, the calls, fini. Stops at the first error.
fn play_main(
    session: &mut Session,
    built: &BuiltScenario,
    returns: &mut Vec<CallReturn>,
    exit_code: &mut Option<i32>,
) -> Result<(), HarnessError> {
    for library in built.initial_libraries() {
        session.load(&library.path)?;
    }
    session.run_init()?;
    for call in &built.scenario.manifest.calls {
        let args: Vec<u64> = call.args.iter().map(|&a| a as u64).collect();
        match session.call(&call.symbol, &args) {
            // The calls stand for C functions returning int: the low 32 bits, sign-extended.
            Ok(value) => returns.push(CallReturn {
                symbol: call.symbol.clone(),
                value: i64::from(value as u32 as i32),
            }),
            Err(HarnessError::Exit { code }) => {
                *exit_code = Some(code);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    session.run_fini()
}

fn observe(
    session: &Session,
    returns: Vec<CallReturn>,
    exit_code: Option<i32>,
    error: Option<HarnessError>,
) -> Observation {
    let mut init_order: Vec<String> = Vec::new();
    let mut fini_order: Vec<String> = Vec::new();
    let mut bindings = Vec::new();
    let mut log = String::new();
    let output = session.output();
    let mut output_lines = output.lines();
    let mut lines_logged = 0;
    for (index, event) in session.events().iter().enumerate() {
        let lines_before = session.output_lines_before(index).unwrap_or(0);
        // The guest's output goes into the log where it was written, between the events.
        while lines_logged < lines_before {
            if let Some(line) = output_lines.next() {
                log.push_str(&format!("out    {line}\n"));
            }
            lines_logged += 1;
        }
        log.push_str(&format!("{event}\n"));
        let bound = match event {
            // One entry per object, however many initialisers it has (as glibc's log does).
            Event::Init { object, .. } if init_order.last() != Some(object) => {
                init_order.push(object.clone());
                None
            }
            Event::Fini { object, .. } if fini_order.last() != Some(object) => {
                fini_order.push(object.clone());
                None
            }
            Event::Bound {
                object,
                symbol,
                version,
                target_object,
                ..
            }
            | Event::Relocated {
                object,
                symbol,
                version,
                target_object: Some(target_object),
                ..
            } => Some(ObservedBinding {
                from: object.clone(),
                symbol: symbol.clone(),
                to: target_object.clone(),
                version: version.clone(),
                after_lines: Some(lines_before),
            }),
            Event::Dlsym {
                object,
                symbol,
                target_object,
                ..
            } => Some(ObservedBinding {
                from: object.clone(),
                symbol: symbol.clone(),
                to: target_object.clone(),
                version: None,
                after_lines: Some(lines_before),
            }),
            // The host plays `main`: its call by name is main's reference bound to the object
            // that defines the function.
            Event::Call {
                function, address, ..
            } => session
                .objects()
                .iter()
                .find(|o| (o.base..o.base + o.size).contains(&(address & !1)))
                .map(|o| ObservedBinding {
                    from: "main".to_string(),
                    symbol: function.clone(),
                    to: o.name.clone(),
                    version: None,
                    after_lines: Some(lines_before),
                }),
            _ => None,
        };
        if let Some(b) = bound {
            // The check finds a binding in the log by glibc's quoting.
            log.push_str(&format!("       symbol `{}'\n", b.symbol));
            bindings.push(b);
        }
    }
    for line in output_lines {
        log.push_str(&format!("out    {line}\n"));
    }
    if let Some(e) = &error {
        log.push_str(&format!("error  {e}\n"));
    }
    Observation {
        stdout: output,
        exit_code,
        init_order: Some(init_order),
        fini_order: Some(fini_order),
        bindings,
        returns,
        error: error.map(|e| e.to_string()),
        log,
        jump_slots: Some(final_jump_slots(session)),
    }
}

/// Every JUMP_SLOT the session bound (lazily or at load) and where it points now: the final
/// GOT, read back from guest memory.
fn final_jump_slots(session: &Session) -> Vec<JumpSlot> {
    // The symbol and version each bound slot was looked up by.
    let bound: HashMap<u64, (String, Option<String>)> = session
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Bound {
                slot,
                symbol,
                version,
                ..
            } => Some((*slot, (symbol.clone(), version.clone()))),
            _ => None,
        })
        .collect();
    let mut slots = Vec::new();
    for o in session.objects() {
        for r in &o.elf.dynamic.jmprel {
            let slot = o.base + r.offset;
            let Some((symbol, version)) = bound.get(&slot) else {
                continue;
            };
            if session.arch().classify(r.r_type) != Some(RelocKind::JumpSlot) {
                continue;
            }
            let Ok(value) = session.read_word(slot) else {
                continue;
            };
            let code = value & !1;
            let target_object = session
                .objects()
                .iter()
                .find(|t| (t.base..t.base + t.size).contains(&code))
                .map(|t| t.name.clone())
                .unwrap_or_else(|| "libc.so.6".to_string());
            slots.push(JumpSlot {
                object: o.name.clone(),
                offset: r.offset,
                symbol: symbol.clone(),
                version: version.clone(),
                target_object,
                target: session
                    .describe_address(value)
                    .unwrap_or_else(|| format!("{value:#x}")),
            });
        }
    }
    slots
}
