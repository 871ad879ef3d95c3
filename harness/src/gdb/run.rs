//! The session's run loop with gdb attached: the same servicing of host calls and the
//! resolver as `session/execute.rs`, but every stop (a breakpoint, a finished step, a
//! watchpoint, a fault, a loader event, an interrupt) is reported to gdb first.

use super::{arm, x86_64, Hit};
use crate::arch::Arch;
use crate::error::{FaultKind, HarnessError, Result};
use crate::session::Serviced;
use crate::Session;
use gdbstub::common::Signal;
use gdbstub::stub::SingleThreadStopReason as Stop;
use unicorn_engine::unicorn_const::{uc_error, Query};

/// How long the guest runs between looks at the connection for an interrupt (microseconds).
const SLICE_US: u64 = 100_000;

impl Session {
    fn set_guest_pc(&mut self, pc: u64) -> Result<()> {
        match self.arch {
            Arch::Arm => arm::set_pc(&mut self.emu, pc),
            Arch::X86_64 => x86_64::set_pc(&mut self.emu, pc),
        }
    }

    pub(super) fn guest_pc(&self) -> u64 {
        match self.arch {
            Arch::Arm => arm::resume_pc(&self.emu),
            Arch::X86_64 => x86_64::resume_pc(&self.emu),
        }
    }

    fn stepping(&self) -> bool {
        self.debugger.as_ref().is_some_and(|d| d.step)
    }

    /// Reports the stop a loader event asked for, if any.
    fn serve_pending(&mut self) -> Result<()> {
        if let Some(m) = self.debugger.as_mut().and_then(|d| d.pending.take()) {
            self.serve_stop(Some(Stop::Signal(Signal::SIGTRAP)), Some(m))?;
        }
        Ok(())
    }

    /// Tells gdb of objects loaded since it last read the library list, as glibc's loader
    /// does with its debugger breakpoint: gdb reads the list and resumes by itself.
    fn serve_new_libraries(&mut self) -> Result<()> {
        let count = self.objects().len();
        let Some(d) = self.debugger.as_mut() else {
            return Ok(());
        };
        if d.objects_reported >= count {
            return Ok(());
        }
        d.objects_reported = count;
        self.serve_stop(Some(Stop::Library(())), None)
    }

    /// Shows gdb a fault as the signal a kernel would deliver. When gdb resumes with that
    /// signal (a plain `continue`) the error ends the run; without it (`signal 0`, after
    /// fixing registers or memory) the guest retries the faulting instruction.
    fn serve_fault(&mut self, e: HarnessError) -> Result<()> {
        let signal = match &e {
            HarnessError::Fault(f) => match f.kind {
                FaultKind::UndefinedInstruction => Signal::SIGILL,
                FaultKind::BudgetExceeded => Signal::SIGXCPU,
                FaultKind::SystemCall | FaultKind::Interrupt(_) => Signal::SIGSYS,
                _ => Signal::SIGSEGV,
            },
            _ => Signal::SIGABRT,
        };
        if let Some(d) = self.debugger.as_mut() {
            d.fatal = Some(signal);
        }
        // The first line names the fault, its pc and address; the registers are gdb's to show.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        self.serve_stop(Some(Stop::Signal(signal)), Some(format!("tether: {first}")))?;
        let Some(d) = self.debugger.as_mut() else {
            return Err(e);
        };
        if d.signal.is_some() {
            return Err(e);
        }
        d.fatal = None;
        // A runaway gdb let go on gets a fresh budget.
        let hooks = self.emu.get_data_mut();
        hooks.blocks_run = 0;
        hooks.budget_exceeded = false;
        Ok(())
    }

    pub(crate) fn run_debugged(&mut self, pc: u64) -> Result<u64> {
        self.set_guest_pc(pc)?;
        loop {
            if self.debugger.is_none() {
                // gdb went away: finish the run without it.
                let pc = self.guest_pc();
                return self.run(pc);
            }
            if self.gdb_first_contact() {
                self.serve_stop(None, None)?;
            }
            self.serve_new_libraries()?;
            self.serve_pending()?;
            let pc = self.guest_pc();
            if self.arch.layout().is_trap(pc) {
                // The host's code runs as one instruction: a step ends after it.
                match self.service_trap(pc)? {
                    Some(Serviced::Returned(v)) => return Ok(v),
                    Some(Serviced::Resume(next)) => self.set_guest_pc(next)?,
                    None => {
                        let e = self.fault(FaultKind::FetchUnmapped, Some(pc));
                        self.serve_fault(e)?;
                        continue;
                    }
                }
                if self.stepping() {
                    self.serve_stop(Some(Stop::DoneStep), None)?;
                }
                continue;
            }
            if let Some(stop) = self.emulate_slice(pc)? {
                self.serve_stop(Some(stop), None)?;
            }
        }
    }

    /// Runs the guest from `pc` until a stop gdb should hear of (returned), a trap fetch (the
    /// pc is left at the trap), or the end of a time slice.
    fn emulate_slice(&mut self, pc: u64) -> Result<Option<Stop<u64>>> {
        let layout = self.arch.layout();
        let step = self.stepping();
        let resuming = self
            .debugger
            .as_mut()
            .and_then(|d| d.resume_from.take())
            .is_some_and(|from| from == pc);
        self.clear_stop_state();
        {
            let d = &mut self.emu.get_data_mut().debug;
            d.resuming = resuming;
            d.stepping = step;
            d.hit = None;
            d.watched = None;
        }
        let timeout = if step { 0 } else { SLICE_US };
        let r = self
            .emu
            .emu_start(pc, layout.trap + layout.trap_size - 2, timeout, 0);
        // A static program's system call: served, and the guest goes on after it.
        if self.kernel_call_pending() {
            let next = self.system_call()?;
            self.set_guest_pc(next)?;
            return Ok(step.then_some(Stop::DoneStep));
        }
        if let Some(e) = self.hook_stop() {
            return self.serve_fault(e).map(|()| None);
        }
        let hit = self.emu.get_data_mut().debug.hit.take();
        match (r, hit) {
            (_, Some(Hit::Step)) => Ok(Some(Stop::DoneStep)),
            (_, Some(Hit::Break)) => Ok(Some(Stop::SwBreak(()))),
            (_, Some(Hit::Watch { kind, addr })) => Ok(Some(Stop::Watch {
                tid: (),
                kind,
                addr,
            })),
            (Err(uc_error::FETCH_UNMAPPED), None) => {
                let bad = self.emu.get_data().bad_access;
                let addr = bad.map_or_else(|| self.arch.pc(&self.emu), |b| b.1);
                if !layout.is_trap(addr) {
                    let e = self.fault(FaultKind::FetchUnmapped, Some(addr));
                    return self.serve_fault(e).map(|()| None);
                }
                // Stop at the host function's address when stepping into it; the next move
                // runs it.
                self.set_guest_pc(addr)?;
                Ok(step.then_some(Stop::DoneStep))
            }
            (Err(e), None) => {
                let e = self.emulation_error(e);
                self.serve_fault(e).map(|()| None)
            }
            (Ok(()), None) => {
                if self.emu.query(Query::TIMEOUT).unwrap_or(0) == 0 {
                    let e = self.fault(FaultKind::Halted, None);
                    return self.serve_fault(e).map(|()| None);
                }
                let interrupted = self.poll_gdb()?;
                Ok(interrupted.then_some(Stop::Signal(Signal::SIGINT)))
            }
        }
    }
}
