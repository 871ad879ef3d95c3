//! A GDB remote-serial-protocol server over the Unicorn session (`tether run --gdb`), built on
//! the `gdbstub` crate. The loader owns the link map, so gdb gets every library at its load
//! address (`qXfer:libraries-svr4:read`) and can stop where a loader does things: right after
//! the lazy resolver writes a slot (`--break-on-bind`) and before each initialiser
//! (`--break-on-init`).
//!
//! The session stays in charge of execution: its run loop asks the server for the next move at
//! every stop (`run.rs`), and the server answers gdb's packets with the session as the
//! `gdbstub` target (`target.rs`). Host functions and the resolver live at never-mapped
//! addresses; gdb reads a return instruction there, so it sees each as a leaf frame it can
//! step over. Register layouts per architecture are in `arm.rs` and `x86_64.rs`.

mod arm;
mod run;
mod target;
mod x86_64;

use crate::error::{HarnessError, Result};
use crate::events::Event;
use crate::Session;
use gdbstub::arch::Registers;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::GdbStub;
use gdbstub::target::ext::breakpoints::WatchKind;
use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};

type Machine = GdbStubStateMachine<'static, Session, TcpStream>;

/// What `tether run --gdb` stops at besides gdb's own breakpoints.
#[derive(Debug, Clone, Default)]
pub struct DebugOptions {
    /// Stop right after the lazy resolver writes the slot of one of these symbols.
    pub break_on_bind: Vec<String>,
    /// Stop before each initialiser (DT_PREINIT_ARRAY, DT_INIT, DT_INIT_ARRAY).
    pub break_on_init: bool,
}

/// The server's state between stops, kept in the session.
pub(crate) struct Debugger {
    /// Taken out while a stop is being served (the session is then the target).
    machine: Option<Machine>,
    options: DebugOptions,
    /// A stop the loader asked for, with the message gdb shows; reported before the guest's
    /// next instruction.
    pending: Option<String>,
    /// gdb asked for one instruction rather than a continue.
    step: bool,
    /// The signal gdb resumed with (it passes a fault's signal on unless told not to).
    signal: Option<gdbstub::common::Signal>,
    /// The signal of a fault already reported: the session ends with it.
    fatal: Option<gdbstub::common::Signal>,
    /// Where gdb last saw the guest stopped: the instruction there runs before a breakpoint
    /// on it counts, as gdb resumes over it.
    resume_from: Option<u64>,
    /// How many loaded objects gdb has been told of: more means a library stop, after which
    /// gdb reads the list again (and sets pending breakpoints in the new libraries).
    objects_reported: usize,
}

/// What the emulator hooks watch for while a debugger is attached (kept in the hook state).
#[derive(Debug, Default)]
pub struct DebugHooks {
    /// Breakpoint addresses (bit 0 clear).
    pub breakpoints: HashSet<u64>,
    pub watchpoints: Vec<(u64, u64, WatchKind)>,
    pub stepping: bool,
    /// The instruction emulation resumes at runs before any stop is considered.
    pub resuming: bool,
    pub hit: Option<Hit>,
    /// A watched access by the instruction running now: it stops before the next one, once
    /// the access is done (a memory hook runs before the store).
    pub watched: Option<Hit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Step,
    Break,
    Watch { kind: WatchKind, addr: u64 },
}

/// The gdbstub architecture of a session: ARM or x86-64, decided at run time (the register
/// packet's layout follows the session's architecture; addresses are carried as u64).
pub enum GuestArch {}

impl gdbstub::arch::Arch for GuestArch {
    type Usize = u64;
    type Registers = GuestRegs;
    type BreakpointKind = usize;
    type RegId = ();
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestRegs {
    // Boxed: gdbstub moves register sets around by value.
    Arm(Box<arm::ArmRegs>),
    X86(Box<x86_64::X86Regs>),
}

impl Default for GuestRegs {
    fn default() -> Self {
        GuestRegs::Arm(Box::default())
    }
}

impl Registers for GuestRegs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        match self {
            GuestRegs::Arm(r) => u64::from(r.core.pc),
            GuestRegs::X86(r) => r.core.rip,
        }
    }

    fn gdb_serialize(&self, out: impl FnMut(Option<u8>)) {
        match self {
            GuestRegs::Arm(r) => r.serialize(out),
            GuestRegs::X86(r) => r.serialize(out),
        }
    }

    /// The two layouts have different sizes, which tells them apart.
    fn gdb_deserialize(&mut self, bytes: &[u8]) -> std::result::Result<(), ()> {
        *self = match bytes.len() {
            arm::PACKET_SIZE => {
                GuestRegs::Arm(Box::new(arm::ArmRegs::deserialize(bytes).ok_or(())?))
            }
            x86_64::PACKET_SIZE => {
                GuestRegs::X86(Box::new(x86_64::X86Regs::deserialize(bytes).ok_or(())?))
            }
            _ => return Err(()),
        };
        Ok(())
    }
}

fn gdb_error(what: impl std::fmt::Display) -> HarnessError {
    HarnessError::Io {
        path: "gdb connection".into(),
        message: what.to_string(),
    }
}

impl Session {
    /// Listens on `address` (a loopback address and port), waits for gdb to connect and
    /// attaches it: the first guest instruction will wait for gdb's orders.
    pub fn attach_gdb(&mut self, address: &str, options: DebugOptions) -> Result<()> {
        let listener = TcpListener::bind(address).map_err(gdb_error)?;
        let bound = listener.local_addr().map_err(gdb_error)?;
        eprintln!("tether: waiting for gdb on {bound} (target remote {bound})");
        eprintln!("tether: the guest stops before its first instruction");
        let (stream, _) = listener.accept().map_err(gdb_error)?;
        stream.set_nodelay(true).map_err(gdb_error)?;
        self.install_debug_hooks()?;
        let machine = GdbStub::new(stream)
            .run_state_machine(self)
            .map_err(gdb_error)?;
        self.debugger = Some(Box::new(Debugger {
            machine: Some(machine),
            options,
            pending: None,
            step: false,
            signal: None,
            fatal: None,
            objects_reported: 0,
            resume_from: None,
        }));
        Ok(())
    }

    fn install_debug_hooks(&mut self) -> Result<()> {
        self.emu
            .add_code_hook(1, 0, |uc, addr, _size| {
                let d = &mut uc.get_data_mut().debug;
                let arm_mask = !1u64;
                if let Some(hit) = d.watched.take() {
                    d.hit = Some(hit);
                } else if std::mem::take(&mut d.resuming) {
                    return;
                } else if d.stepping {
                    d.hit = Some(Hit::Step);
                } else if d.breakpoints.contains(&(addr & arm_mask)) {
                    d.hit = Some(Hit::Break);
                } else {
                    return;
                }
                let _ = uc.emu_stop();
            })
            .map_err(|e| HarnessError::emu("add gdb code hook", e))?;
        use unicorn_engine::unicorn_const::{HookType, MemType};
        self.emu
            .add_mem_hook(
                HookType::MEM_READ | HookType::MEM_WRITE,
                1,
                0,
                |uc, access, addr, size, _value| {
                    let d = &mut uc.get_data_mut().debug;
                    let write = access == MemType::WRITE;
                    let end = addr.saturating_add(size as u64);
                    let hit = d.watchpoints.iter().find(|(a, len, kind)| {
                        addr < a.saturating_add(*len)
                            && *a < end
                            && match kind {
                                WatchKind::Write => write,
                                WatchKind::Read => !write,
                                WatchKind::ReadWrite => true,
                            }
                    });
                    if let Some(&(a, _, kind)) = hit {
                        d.watched = Some(Hit::Watch { kind, addr: a });
                    }
                    true
                },
            )
            .map_err(|e| HarnessError::emu("add gdb watchpoint hook", e))?;
        Ok(())
    }

    /// The loader did something a debugger may want to stop at.
    pub(crate) fn debug_observe(&mut self, event: &Event) {
        let Some(d) = self.debugger.as_mut() else {
            return;
        };
        match event {
            Event::Init {
                object,
                kind,
                address,
            } if d.options.break_on_init => {
                d.pending = Some(format!(
                    "tether: before {object}'s initialiser {kind} at {address:#x}"
                ));
            }
            Event::Bound {
                object,
                slot,
                symbol,
                target,
                target_object,
                lazy: true,
                ..
            } if d.options.break_on_bind.contains(symbol) => {
                d.pending = Some(format!(
                    "tether: the lazy resolver bound {object}'s slot {slot:#x} for {symbol} to {target:#x} in {target_object}"
                ));
            }
            _ => {}
        }
    }

    /// Tells gdb the session ended: the guest exited with `code`, or died of the signal of a
    /// fault gdb was shown. Then closes the connection.
    pub fn finish_gdb(&mut self, code: i32) {
        use gdbstub::stub::SingleThreadStopReason as Stop;
        let Some(fatal) = self.debugger.as_ref().map(|d| d.fatal) else {
            return;
        };
        let reason = match fatal {
            Some(signal) => Stop::Terminated(signal),
            None => Stop::Exited(code as u8),
        };
        if let Err(e) = self.serve_stop(Some(reason), None) {
            eprintln!("tether: {e}");
        }
        self.debugger = None;
    }

    /// Reports `reason` (when gdb is waiting for one) with `message` on gdb's console, then
    /// answers gdb until it resumes the guest.
    pub(crate) fn serve_stop(
        &mut self,
        reason: Option<gdbstub::stub::SingleThreadStopReason<u64>>,
        message: Option<String>,
    ) -> Result<()> {
        let Some(mut machine) = self.debugger.as_mut().and_then(|d| d.machine.take()) else {
            return Ok(());
        };
        let mut reason = reason;
        let mut message = message;
        let exiting = matches!(
            reason,
            Some(gdbstub::stub::SingleThreadStopReason::Exited(_))
                | Some(gdbstub::stub::SingleThreadStopReason::Terminated(_))
        );
        if matches!(machine, GdbStubStateMachine::Idle(_)) && !exiting {
            // gdb already knows the guest is stopped (it has just connected). An exit is still
            // told, once gdb resumes: the session may end before any guest code ran.
            reason = None;
            if let Some(m) = message.take() {
                eprintln!("{m}");
            }
        }
        loop {
            machine = match machine {
                GdbStubStateMachine::Running(mut inner) => match reason.take() {
                    Some(r) => {
                        if let Some(m) = message.take() {
                            console(inner.borrow_conn(), &m)?;
                        }
                        let next = inner.report_stop(self, r).map_err(gdb_error)?;
                        if exiting {
                            return Ok(());
                        }
                        next
                    }
                    None => {
                        machine = GdbStubStateMachine::Running(inner);
                        break;
                    }
                },
                GdbStubStateMachine::CtrlCInterrupt(inner) => {
                    use gdbstub::stub::SingleThreadStopReason as Stop;
                    reason = None;
                    let sigint = Some(Stop::Signal(gdbstub::common::Signal::SIGINT));
                    inner.interrupt_handled(self, sigint).map_err(gdb_error)?
                }
                GdbStubStateMachine::Idle(mut inner) => {
                    let byte = inner.borrow_conn().read().map_err(gdb_error)?;
                    inner.incoming_data(self, byte).map_err(gdb_error)?
                }
                GdbStubStateMachine::Disconnected(inner) => {
                    self.debugger = None;
                    self.emu.get_data_mut().debug = DebugHooks::default();
                    if inner.get_reason() == gdbstub::stub::DisconnectReason::Kill {
                        return Err(HarnessError::Emulator {
                            operation: "gdb".into(),
                            message: "gdb killed the guest".into(),
                        });
                    }
                    // gdb detached or quit: the guest runs on without it.
                    eprintln!("tether: gdb disconnected");
                    return Ok(());
                }
            };
        }
        let pc = self.guest_pc();
        if let Some(d) = self.debugger.as_mut() {
            d.machine = Some(machine);
            d.resume_from = Some(pc);
        }
        Ok(())
    }

    /// gdb has just connected and believes the guest stopped: it must resume it before any
    /// stop can be reported.
    pub(crate) fn gdb_first_contact(&self) -> bool {
        let machine = self.debugger.as_ref().and_then(|d| d.machine.as_ref());
        matches!(machine, Some(GdbStubStateMachine::Idle(_)))
    }

    /// While the guest runs: has gdb sent anything (an interrupt)? Feeds it to the server.
    pub(crate) fn poll_gdb(&mut self) -> Result<bool> {
        let Some(machine) = self.debugger.as_mut().and_then(|d| d.machine.take()) else {
            return Ok(false);
        };
        let machine = match machine {
            GdbStubStateMachine::Running(mut inner) => {
                match inner.borrow_conn().peek().map_err(gdb_error)? {
                    Some(_) => {
                        let byte = inner.borrow_conn().read().map_err(gdb_error)?;
                        inner.incoming_data(self, byte).map_err(gdb_error)?
                    }
                    None => GdbStubStateMachine::Running(inner),
                }
            }
            other => other,
        };
        let interrupted = matches!(machine, GdbStubStateMachine::CtrlCInterrupt(_));
        if let Some(d) = self.debugger.as_mut() {
            d.machine = Some(machine);
        }
        Ok(interrupted)
    }
}

/// Writes `message` as an `O` packet: gdb prints it while it waits for a stop reply.
fn console(conn: &mut TcpStream, message: &str) -> Result<()> {
    use std::io::Write;
    let hex: String = format!("{message}\n")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let body = format!("O{hex}");
    let sum = body.bytes().fold(0u8, |a, b| a.wrapping_add(b));
    conn.write_all(format!("${body}#{sum:02x}").as_bytes())
        .map_err(gdb_error)
}
