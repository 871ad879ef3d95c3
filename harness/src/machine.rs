//! The Unicorn instance and the little state its hooks keep: the last blocks executed (for
//! fault reports), the block budget, and why emulation stopped.

use crate::arch::Arch;
use crate::error::{HarnessError, Result};
use std::collections::VecDeque;
use unicorn_engine::unicorn_const::{HookType, MemType, Mode, Prot};
use unicorn_engine::Unicorn;

pub type Emu = Unicorn<'static, HookState>;

pub const RECENT_BLOCKS: usize = 8;

/// The largest single host access to guest memory (the biggest mapped region is smaller).
pub const MAX_ACCESS: usize = 1 << 28;

#[derive(Debug, Default)]
pub struct HookState {
    pub recent_blocks: VecDeque<u64>,
    pub blocks_run: u64,
    pub block_budget: u64,
    pub budget_exceeded: bool,
    /// The access that stopped emulation: (kind, address).
    pub bad_access: Option<(MemType, u64)>,
    pub interrupt: Option<u32>,
    /// The guest executed `syscall` / `sysenter` (x86-64).
    pub system_call: bool,
    /// Sorted block addresses to note when entered (a static program's IFUNC resolvers).
    pub watch: Vec<u64>,
    pub watch_hits: Vec<u64>,
    /// Breakpoints, watchpoints and stepping when gdb is attached (`src/gdb/`).
    pub debug: crate::gdb::DebugHooks,
}

/// The translated-code buffer. Unicorn's default (1 GiB on 64-bit hosts) fills with fresh
/// translations as a guest that calls the host re-enters emulation, so a long run grows the
/// harness by hundreds of MiB; with this bound it is flushed and refilled instead.
const CODE_BUFFER: u32 = 32 << 20;

fn limit_code_buffer(emu: &mut Emu) -> Result<()> {
    use unicorn_engine::unicorn_const::{uc_ctl, uc_error, ControlType};
    let control = ControlType(ControlType::TCG_BUFFER_SIZE.0 | ControlType::IO_WRITE.0);
    // SAFETY: the handle is live and TCG_BUFFER_SIZE takes one uint32_t; it must be set
    // before the engine's first use, which is now.
    let r = unsafe { uc_ctl(emu.get_handle(), control, CODE_BUFFER) };
    if r == uc_error::OK {
        Ok(())
    } else {
        Err(HarnessError::emu("set the code buffer size", r))
    }
}

pub fn create(arch: Arch, block_budget: u64) -> Result<Emu> {
    let state = HookState {
        block_budget,
        ..HookState::default()
    };
    let (uarch, mode) = match arch {
        Arch::Arm => (unicorn_engine::unicorn_const::Arch::ARM, Mode::ARM),
        Arch::X86_64 => (unicorn_engine::unicorn_const::Arch::X86, Mode::MODE_64),
    };
    let mut emu =
        Unicorn::new_with_data(uarch, mode, state).map_err(|e| HarnessError::emu("open", e))?;
    limit_code_buffer(&mut emu)?;
    if arch == Arch::Arm {
        emu.ctl_set_cpu_model(unicorn_engine::ArmCpuModel::CORTEX_A15 as i32)
            .map_err(|e| HarnessError::emu("set CPU model", e))?;
    }
    // One hook per basic block (not per instruction): keeps the trail and enforces the budget.
    emu.add_block_hook(1, 0, |uc, addr, _size| {
        let s = uc.get_data_mut();
        if s.recent_blocks.len() == RECENT_BLOCKS {
            s.recent_blocks.pop_front();
        }
        s.recent_blocks.push_back(addr);
        s.blocks_run += 1;
        // Bounded: a resolver entered in a loop must not grow this without limit.
        if s.watch_hits.len() < 4096 && s.watch.binary_search(&addr).is_ok() {
            s.watch_hits.push(addr);
        }
        if s.blocks_run > s.block_budget {
            s.budget_exceeded = true;
            let _ = uc.emu_stop();
        }
    })
    .map_err(|e| HarnessError::emu("add block hook", e))?;
    let bad = HookType::MEM_READ_UNMAPPED
        | HookType::MEM_WRITE_UNMAPPED
        | HookType::MEM_FETCH_UNMAPPED
        | HookType::MEM_READ_PROT
        | HookType::MEM_WRITE_PROT
        | HookType::MEM_FETCH_PROT;
    emu.add_mem_hook(bad, 1, 0, |uc, kind, addr, _size, _value| {
        uc.get_data_mut().bad_access = Some((kind, addr));
        false
    })
    .map_err(|e| HarnessError::emu("add memory hook", e))?;
    emu.add_intr_hook(|uc, intno| {
        uc.get_data_mut().interrupt = Some(intno);
        let _ = uc.emu_stop();
    })
    .map_err(|e| HarnessError::emu("add interrupt hook", e))?;
    if arch == Arch::X86_64 {
        // Without a hook Unicorn treats `syscall` as a no-op; there is no kernel here.
        for insn in [
            unicorn_engine::X86Insn::SYSCALL,
            unicorn_engine::X86Insn::SYSENTER,
        ] {
            emu.add_insn_sys_hook(insn, 1, 0, |uc| {
                uc.get_data_mut().system_call = true;
                let _ = uc.emu_stop();
            })
            .map_err(|e| HarnessError::emu("add syscall hook", e))?;
        }
    }
    Ok(emu)
}

pub fn prot_from_flags(p_flags: u32) -> Prot {
    let mut p = Prot::NONE;
    if p_flags & 4 != 0 {
        p |= Prot::READ;
    }
    if p_flags & 2 != 0 {
        p |= Prot::WRITE;
    }
    if p_flags & 1 != 0 {
        p |= Prot::EXEC;
    }
    p
}

pub fn map(emu: &mut Emu, addr: u64, size: u64, prot: Prot) -> Result<()> {
    emu.mem_map(addr, size, prot)
        .map_err(|e| HarnessError::Emulator {
            operation: format!("map {addr:#x}+{size:#x}"),
            message: format!("{e:?}"),
        })
}

/// Reads guest memory; a bad address is a host-function fault naming it.
pub fn read(emu: &Emu, addr: u64, len: usize) -> Result<Vec<u8>> {
    // No guest region is larger; a bigger request is a bad length, not a reason to abort.
    if len > MAX_ACCESS {
        return Err(bad_pointer(addr, len));
    }
    let mut v = vec![0u8; len];
    emu.mem_read(addr, &mut v)
        .map_err(|_| bad_pointer(addr, len))?;
    Ok(v)
}

pub fn write(emu: &mut Emu, addr: u64, bytes: &[u8]) -> Result<()> {
    emu.mem_write(addr, bytes)
        .map_err(|_| bad_pointer(addr, bytes.len()))
}

fn bad_pointer(addr: u64, len: usize) -> HarnessError {
    HarnessError::Fault(Box::new(crate::error::Fault {
        kind: crate::error::FaultKind::HostFunction(format!(
            "host access to unmapped guest memory {addr:#x}+{len:#x}"
        )),
        pc: 0,
        address: Some(addr),
        location: None,
        registers: Vec::new(),
        recent_blocks: Vec::new(),
    }))
}

pub fn read_u32(emu: &Emu, addr: u64) -> Result<u32> {
    let b = read(emu, addr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub fn read_u64(emu: &Emu, addr: u64) -> Result<u64> {
    let b = read(emu, addr, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(&b);
    Ok(u64::from_le_bytes(a))
}

pub fn read_word(emu: &Emu, arch: Arch, addr: u64) -> Result<u64> {
    match arch {
        Arch::Arm => read_u32(emu, addr).map(u64::from),
        Arch::X86_64 => read_u64(emu, addr),
    }
}

pub fn write_word(emu: &mut Emu, arch: Arch, addr: u64, value: u64) -> Result<()> {
    match arch {
        Arch::Arm => write(emu, addr, &(value as u32).to_le_bytes()),
        Arch::X86_64 => write(emu, addr, &value.to_le_bytes()),
    }
}

/// Reads a NUL-terminated string (at most `limit` bytes).
pub fn read_cstr(emu: &Emu, addr: u64, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < limit {
        // Read up to the end of the current page so a string near a mapping's end still works.
        let chunk = (0x1000 - (at & 0xfff)) as usize;
        let bytes = read(emu, at, chunk)?;
        if let Some(p) = bytes.iter().position(|&b| b == 0) {
            out.extend_from_slice(&bytes[..p]);
            return Ok(out);
        }
        out.extend_from_slice(&bytes);
        at += chunk as u64;
    }
    Ok(out)
}
