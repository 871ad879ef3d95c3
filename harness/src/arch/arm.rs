//! ARM (EABI, hard-float): relocation kinds, glibc's lazy-binding register protocol, AAPCS.

use super::{Layout, RelocKind, VarArgs};
use crate::error::{HarnessError, Result};
use crate::machine::{self, Emu};
use unicorn_engine::RegisterARM as R;

// Relocation numbers from the psABI.
const R_ARM_NONE: u32 = 0;
const R_ARM_PC24: u32 = 1;
const R_ARM_ABS32: u32 = 2;
const R_ARM_REL32: u32 = 3;
const R_ARM_ABS16: u32 = 5;
const R_ARM_ABS8: u32 = 8;
const R_ARM_THM_CALL: u32 = 10;
const R_ARM_TLS_DTPMOD32: u32 = 17;
const R_ARM_TLS_DTPOFF32: u32 = 18;
const R_ARM_TLS_TPOFF32: u32 = 19;
const R_ARM_COPY: u32 = 20;
const R_ARM_GLOB_DAT: u32 = 21;
const R_ARM_JUMP_SLOT: u32 = 22;
const R_ARM_RELATIVE: u32 = 23;
const R_ARM_GOTOFF32: u32 = 24;
const R_ARM_CALL: u32 = 28;
const R_ARM_JUMP24: u32 = 29;
const R_ARM_TLS_DESC: u32 = 13;
const R_ARM_IRELATIVE: u32 = 160;

pub const LAYOUT: Layout = Layout {
    first_object: 0x1000_0000,
    heap: 0x6000_0000,
    heap_size: 0x0100_0000,
    stack_top: 0x7f00_0000,
    stack_size: 0x0010_0000,
    tls: 0x7000_0000,
    tls_size: 0x0001_0000,
    host_data: 0x7100_0000,
    host_data_size: 0x0001_0000,
    trap: 0xe000_0000,
    trap_size: 0x0001_0000,
};

const ARGS: [R; 4] = [R::R0, R::R1, R::R2, R::R3];

pub fn classify(r_type: u32) -> Option<RelocKind> {
    Some(match r_type {
        R_ARM_NONE => RelocKind::None,
        R_ARM_RELATIVE => RelocKind::Relative,
        R_ARM_ABS32 => RelocKind::Absolute,
        R_ARM_GLOB_DAT => RelocKind::GlobDat,
        R_ARM_JUMP_SLOT => RelocKind::JumpSlot,
        R_ARM_TLS_DTPMOD32 => RelocKind::DtpMod,
        R_ARM_TLS_DTPOFF32 => RelocKind::DtpOff,
        R_ARM_TLS_TPOFF32 => RelocKind::TpOff,
        R_ARM_IRELATIVE => RelocKind::IRelative,
        R_ARM_COPY => RelocKind::Copy,
        _ => return None,
    })
}

pub fn reloc_name(r_type: u32) -> String {
    let name = match r_type {
        R_ARM_NONE => "R_ARM_NONE",
        R_ARM_PC24 => "R_ARM_PC24",
        R_ARM_ABS32 => "R_ARM_ABS32",
        R_ARM_REL32 => "R_ARM_REL32",
        R_ARM_ABS16 => "R_ARM_ABS16",
        R_ARM_ABS8 => "R_ARM_ABS8",
        R_ARM_THM_CALL => "R_ARM_THM_CALL",
        R_ARM_TLS_DTPMOD32 => "R_ARM_TLS_DTPMOD32",
        R_ARM_TLS_DTPOFF32 => "R_ARM_TLS_DTPOFF32",
        R_ARM_TLS_TPOFF32 => "R_ARM_TLS_TPOFF32",
        R_ARM_COPY => "R_ARM_COPY",
        R_ARM_GLOB_DAT => "R_ARM_GLOB_DAT",
        R_ARM_JUMP_SLOT => "R_ARM_JUMP_SLOT",
        R_ARM_RELATIVE => "R_ARM_RELATIVE",
        R_ARM_GOTOFF32 => "R_ARM_GOTOFF32",
        R_ARM_CALL => "R_ARM_CALL",
        R_ARM_JUMP24 => "R_ARM_JUMP24",
        R_ARM_TLS_DESC => "R_ARM_TLS_DESC",
        R_ARM_IRELATIVE => "R_ARM_IRELATIVE",
        _ => return format!("R_ARM_<{r_type}>"),
    };
    name.to_string()
}

fn rd(emu: &Emu, r: R) -> Result<u64> {
    emu.reg_read(r)
        .map_err(|e| HarnessError::emu("read register", e))
}
fn wr(emu: &mut Emu, r: R, v: u64) -> Result<()> {
    emu.reg_write(r, v & 0xffff_ffff)
        .map_err(|e| HarnessError::emu("write register", e))
}

pub fn setup_cpu(emu: &mut Emu, thread_pointer: u64) -> Result<()> {
    // VFP/NEON are off at reset: grant CP10/CP11 access and set FPEXC.EN.
    let cpacr = rd(emu, R::C1_C0_2)?;
    wr(emu, R::C1_C0_2, cpacr | (0xf << 20))?;
    wr(emu, R::FPEXC, 0x4000_0000)?;
    // TPIDRURO: what `mrc p15, 0, rX, c13, c0, 3` reads (TLS variant 1).
    wr(emu, R::C13_C0_3, thread_pointer)?;
    Ok(())
}

pub fn prepare_call(emu: &mut Emu, target: u64, args: &[u64], sp: u64) -> Result<u64> {
    let stack_args = args.len().saturating_sub(4) as u64;
    // AAPCS: sp 8-byte aligned at the call.
    let new_sp = (sp - 4 * stack_args) & !7;
    for (i, &a) in args.iter().enumerate() {
        if i < 4 {
            wr(emu, ARGS[i], a)?;
        } else {
            machine::write(emu, new_sp + 4 * (i as u64 - 4), &(a as u32).to_le_bytes())?;
        }
    }
    wr(emu, R::SP, new_sp)?;
    wr(emu, R::LR, LAYOUT.return_trap())?;
    Ok(target)
}

pub fn return_value(emu: &Emu) -> Result<u64> {
    rd(emu, R::R0)
}

pub fn arg(emu: &Emu, index: usize) -> Result<u64> {
    if index < 4 {
        rd(emu, ARGS[index])
    } else {
        let sp = rd(emu, R::SP)?;
        machine::read_u32(emu, sp + 4 * (index as u64 - 4)).map(u64::from)
    }
}

pub fn caller(emu: &Emu) -> Result<u64> {
    rd(emu, R::LR)
}

pub fn finish_host_call(emu: &mut Emu, value: u64) -> Result<u64> {
    wr(emu, R::R0, value)?;
    wr(emu, R::R1, value >> 32)?;
    // Bit 0 of lr selects Thumb state; emu_start honours it.
    rd(emu, R::LR)
}

/// glibc's protocol: PLT0 pushed the caller's lr and left `lr = &GOT[2]`; the PLT entry left
/// `ip = &GOT[3 + n]`; so `n = (ip − lr − 4) / 4` and `GOT[1]` sits at `lr − 4`.
pub fn resolver_entry(emu: &Emu) -> Result<(u64, u64)> {
    let lr = rd(emu, R::LR)?;
    let ip = rd(emu, R::R12)?;
    let handle = u64::from(machine::read_u32(emu, lr.wrapping_sub(4))?);
    let index = ip.wrapping_sub(lr).wrapping_sub(4) / 4;
    Ok((handle, index))
}

pub fn resolver_exit(emu: &mut Emu, target: u64) -> Result<u64> {
    let sp = rd(emu, R::SP)?;
    let caller_lr = machine::read_u32(emu, sp)?;
    wr(emu, R::LR, u64::from(caller_lr))?;
    wr(emu, R::SP, sp + 4)?;
    Ok(target)
}

pub fn registers(emu: &Emu) -> Vec<(String, u64)> {
    let regs = [
        (R::R0, "r0"),
        (R::R1, "r1"),
        (R::R2, "r2"),
        (R::R3, "r3"),
        (R::R4, "r4"),
        (R::R5, "r5"),
        (R::R6, "r6"),
        (R::R7, "r7"),
        (R::R8, "r8"),
        (R::R9, "r9"),
        (R::R10, "r10"),
        (R::R11, "fp"),
        (R::R12, "ip"),
        (R::SP, "sp"),
        (R::LR, "lr"),
        (R::PC, "pc"),
        (R::CPSR, "cpsr"),
    ];
    regs.iter()
        .map(|&(r, n)| (n.to_string(), emu.reg_read(r).unwrap_or(0)))
        .collect()
}

pub fn pc(emu: &Emu) -> u64 {
    emu.reg_read(R::PC).unwrap_or(0)
}

pub fn sp(emu: &Emu) -> Result<u64> {
    rd(emu, R::SP)
}

/// Variadic arguments follow the base AAPCS even on hard-float: r0–r3, then the stack.
pub fn va_int(va: &mut VarArgs, emu: &Emu) -> Result<u64> {
    let v = arg(emu, va.next_int)?;
    va.next_int += 1;
    Ok(v)
}

pub fn va_int64(va: &mut VarArgs, emu: &Emu) -> Result<u64> {
    // Doubleword arguments start at an even register or an 8-aligned stack slot.
    va.next_int = (va.next_int + 1) & !1;
    let lo = arg(emu, va.next_int)?;
    let hi = arg(emu, va.next_int + 1)?;
    va.next_int += 2;
    Ok(lo | (hi << 32))
}
