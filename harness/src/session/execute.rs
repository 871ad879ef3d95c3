//! Running guest code: calls from the host, the run loop that services host functions and
//! the resolver, and programs started from their entry point.

use super::*;

/// What servicing a trap led to.
pub(crate) enum Serviced {
    /// The guest returned to the host with this value.
    Returned(u64),
    /// Guest code goes on at this pc.
    Resume(u64),
}

impl Session {
    /// Is object `i` a program (PT_INTERP, ET_EXEC or static-pie) rather than a library?
    pub fn is_program(&self, i: usize) -> bool {
        self.objects.get(i).is_some_and(|o| {
            o.elf.has_interp
                || o.elf.e_type == crate::elf::abi::ET_EXEC
                || process::is_static(&o.elf)
        })
    }

    /// Runs a program from its ELF entry point with the initial process stack a kernel builds
    /// (argc, argv, envp, an empty auxv). `_start` reaches the host's `__libc_start_main`,
    /// which calls `main` and then `exit`. Returns the exit status. A static program gets the
    /// stack with its auxiliary vector and runs glibc's own start-up (`process.rs`).
    pub fn run_entry(&mut self, i: usize, args: &[&str]) -> Result<i32> {
        if self.kernel.is_some() {
            return self.run_static_entry(i, args);
        }
        let o = self
            .objects
            .get(i)
            .ok_or_else(|| HarnessError::Usage(format!("no object {i}")))?;
        let entry = o.base.wrapping_add(o.elf.entry);
        let layout = self.arch.layout();
        let w = self.arch.word_size();
        let mut ptrs = Vec::new();
        for a in args {
            ptrs.push(self.alloc_c_string(a)?);
        }
        // argc, argv[], NULL, envp NULL, auxv AT_NULL pair.
        let mut words = vec![ptrs.len() as u64];
        words.extend(&ptrs);
        words.extend([0, 0, 0, 0]);
        let sp = (layout.stack_top - 0x1000) & !15;
        for (k, v) in words.iter().enumerate() {
            self.write_word(sp + k as u64 * w, *v)?;
        }
        self.record(Event::Call {
            function: "_start".into(),
            address: entry,
            args: Vec::new(),
        });
        match self.start_at(entry, sp) {
            Err(HarnessError::Exit { code }) => Ok(code),
            Err(e) => Err(e),
            Ok(_) => Err(self.fault(FaultKind::Emulator("_start returned".into()), None)),
        }
    }

    pub(super) fn start_at(&mut self, pc: u64, sp: u64) -> Result<u64> {
        let s = self.emu.get_data_mut();
        s.blocks_run = 0;
        s.budget_exceeded = false;
        s.recent_blocks.clear();
        // No return address: _start never returns (a return lands in the return trap).
        self.arch.prepare_call(&mut self.emu, pc, &[], sp + 8)?;
        self.arch.set_sp(&mut self.emu, sp)?;
        self.depth += 1;
        let r = self.run(pc);
        self.depth -= 1;
        r
    }

    /// Calls a function exported in the global scope with integer/pointer arguments (each
    /// passed as one register-sized argument) and returns r0 / rax.
    pub fn call(&mut self, symbol: &str, args: &[u64]) -> Result<u64> {
        let address = self
            .function_address(symbol)?
            .ok_or_else(|| HarnessError::NoSuchSymbol {
                symbol: symbol.to_string(),
                searched: self.objects.iter().map(|o| o.path.clone()).collect(),
            })?;
        self.record(Event::Call {
            function: symbol.to_string(),
            address,
            args: args.to_vec(),
        });
        let value = self.call_address(address, args)?;
        self.record(Event::Return {
            function: symbol.to_string(),
            value,
        });
        Ok(value)
    }

    /// Calls guest code at `address` (bit 0 set = Thumb). Usable from inside host functions:
    /// the interrupted guest state is saved and restored around the nested call.
    pub fn call_address(&mut self, address: u64, args: &[u64]) -> Result<u64> {
        let layout = self.arch.layout();
        if self.depth == 0 {
            let s = self.emu.get_data_mut();
            s.blocks_run = 0;
            s.budget_exceeded = false;
            s.recent_blocks.clear();
            let sp = layout.stack_top - 64;
            let pc = self.arch.prepare_call(&mut self.emu, address, args, sp)?;
            self.depth += 1;
            let r = self.run(pc);
            self.depth -= 1;
            return r;
        }
        let mut ctx = self
            .emu
            .context_alloc()
            .map_err(|e| HarnessError::emu("allocate context", e))?;
        self.emu
            .context_save(&mut ctx)
            .map_err(|e| HarnessError::emu("save context", e))?;
        // Below the interrupted frame and the x86-64 red zone.
        let sp = self.arch.sp(&self.emu)? - 256;
        let pc = self.arch.prepare_call(&mut self.emu, address, args, sp)?;
        self.depth += 1;
        let r = self.run(pc);
        self.depth -= 1;
        self.emu
            .context_restore(&ctx)
            .map_err(|e| HarnessError::emu("restore context", e))?;
        r
    }

    /// Runs from `pc` until the guest returns to the return trap, servicing host calls and
    /// the lazy resolver on the way.
    pub(crate) fn run(&mut self, mut pc: u64) -> Result<u64> {
        if self.debugger.is_some() {
            return self.run_debugged(pc);
        }
        let layout = self.arch.layout();
        loop {
            self.clear_stop_state();
            // `until` must be an address no guest reaches: with 0, a call through a null pointer
            // would end emulation "normally" instead of faulting.
            let r = self
                .emu
                .emu_start(pc, layout.trap + layout.trap_size - 2, 0, 0);
            // A static program's system calls go to the kernel layer; anyone else's are faults.
            if self.kernel_call_pending() {
                pc = self.system_call()?;
                continue;
            }
            if let Some(e) = self.hook_stop() {
                return Err(e);
            }
            match r {
                Err(uc_error::FETCH_UNMAPPED) => {
                    let bad = self.emu.get_data().bad_access;
                    let addr = bad.map_or_else(|| self.arch.pc(&self.emu), |b| b.1);
                    match self.service_trap(addr)? {
                        Some(Serviced::Returned(v)) => return Ok(v),
                        Some(Serviced::Resume(next)) => pc = next,
                        None => return Err(self.fault(FaultKind::FetchUnmapped, Some(addr))),
                    }
                }
                Err(e) => return Err(self.emulation_error(e)),
                // Emulation only ends without an error when the CPU halts.
                Ok(()) => return Err(self.fault(FaultKind::Halted, None)),
            }
        }
    }

    pub(crate) fn clear_stop_state(&mut self) {
        let s = self.emu.get_data_mut();
        s.bad_access = None;
        s.interrupt = None;
        s.system_call = false;
    }

    /// Why the hooks stopped emulation, if they did: the budget, a system call, an exception.
    /// Whether emulation stopped at a static program's system call, which the kernel layer
    /// serves (a budget overrun comes first).
    pub(crate) fn kernel_call_pending(&self) -> bool {
        let s = self.emu.get_data();
        let svc = matches!((self.arch, s.interrupt), (Arch::X86_64, None) if s.system_call)
            || self.arch == Arch::Arm && s.interrupt == Some(2);
        svc && self.kernel.is_some() && !s.budget_exceeded
    }

    pub(crate) fn hook_stop(&self) -> Option<HarnessError> {
        let s = self.emu.get_data();
        if s.budget_exceeded {
            return Some(self.fault(FaultKind::BudgetExceeded, None));
        }
        if s.system_call {
            return Some(self.fault(FaultKind::SystemCall, None));
        }
        let n = s.interrupt?;
        // ARM exception numbers: 1 undefined instruction, 2 svc.
        let kind = match (self.arch, n) {
            (Arch::Arm, 1) => FaultKind::UndefinedInstruction,
            (Arch::Arm, 2) => FaultKind::SystemCall,
            _ => FaultKind::Interrupt(n),
        };
        Some(self.fault(kind, None))
    }

    /// The fault an emulation error stands for, with the access that caused it.
    pub(crate) fn emulation_error(&self, e: uc_error) -> HarnessError {
        let kind = match e {
            uc_error::READ_UNMAPPED => FaultKind::ReadUnmapped,
            uc_error::WRITE_UNMAPPED => FaultKind::WriteUnmapped,
            uc_error::FETCH_UNMAPPED => FaultKind::FetchUnmapped,
            uc_error::READ_PROT => FaultKind::ReadProtected,
            uc_error::WRITE_PROT => FaultKind::WriteProtected,
            uc_error::FETCH_PROT => FaultKind::FetchProtected,
            uc_error::INSN_INVALID => FaultKind::UndefinedInstruction,
            other => FaultKind::Emulator(format!("{other:?}")),
        };
        let addr = self.emu.get_data().bad_access.map(|b| b.1);
        self.fault(kind, addr)
    }

    /// A fetch from the trap region: the host's side of a return, a resolver entry or a host
    /// function call. None when `addr` is no trap this session uses.
    pub(crate) fn service_trap(&mut self, addr: u64) -> Result<Option<Serviced>> {
        let layout = self.arch.layout();
        if addr == layout.return_trap() {
            return Ok(Some(Serviced::Returned(self.arch.return_value(&self.emu)?)));
        }
        if addr == layout.resolver_trap() {
            return Ok(Some(Serviced::Resume(self.lazy_bind()?)));
        }
        match layout
            .host_fn_index(addr)
            .filter(|&k| k < self.host_fns.len())
        {
            Some(k) => Ok(Some(Serviced::Resume(self.host_call(k)?))),
            None => Ok(None),
        }
    }

    pub(super) fn host_call(&mut self, k: usize) -> Result<u64> {
        let f = self.host_fns[k].f.clone();
        let from = self.arch.caller(&self.emu)?;
        self.record(Event::HostCall {
            function: self.host_fns[k].name.clone(),
            from,
        });
        let value = f(self).map_err(|e| self.locate_host_error(e))?;
        self.arch.finish_host_call(&mut self.emu, value)
    }

    /// Host functions report faults without a pc; fill in where the guest called from.
    pub(super) fn locate_host_error(&self, e: HarnessError) -> HarnessError {
        match e {
            HarnessError::Fault(mut f) if f.pc == 0 && f.registers.is_empty() => {
                let full = self.fault(f.kind.clone(), f.address);
                if let HarnessError::Fault(full) = full {
                    f.pc = full.pc;
                    f.location = full.location;
                    f.registers = full.registers;
                    f.recent_blocks = full.recent_blocks;
                }
                HarnessError::Fault(f)
            }
            other => other,
        }
    }
}
