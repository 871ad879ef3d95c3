//! The harness as a backend of the scenario corpus (`tether check`): it loads the libraries
//! the scenario's program needs, runs their initialisers, makes the manifest's calls in place
//! of `main`, runs the finalisers, and reports what it saw in the corpus's common terms.

use crate::arch::RelocKind;
use crate::{Arch, Event, HarnessError, Options, Session};
use std::collections::HashMap;
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
    fn run_with(&self, built: &BuiltScenario, options: Options) -> Observation {
        let arch = match built.arch() {
            tether_emu_tests::Arch::Arm => Arch::Arm,
            tether_emu_tests::Arch::X86_64 => Arch::X86_64,
        };
        let mut session = match Session::new(arch, options) {
            Ok(s) => s,
            Err(e) => {
                return Observation {
                    error: Some(e.to_string()),
                    ..Observation::default()
                }
            }
        };
        let mut returns = Vec::new();
        let mut exit_code = None;
        let error = play_main(&mut session, built, &mut returns, &mut exit_code).err();
        observe(&session, returns, exit_code, error)
    }
}

/// What the scenario's `main` would do: load, init, the calls, fini. Stops at the first error.
fn play_main(
    session: &mut Session,
    built: &BuiltScenario,
    returns: &mut Vec<CallReturn>,
    exit_code: &mut Option<i32>,
) -> Result<(), HarnessError> {
    session.add_search_dir(&built.out_dir);
    for library in &built.libraries {
        session.add_library(&library.path);
    }
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
