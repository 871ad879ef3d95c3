//! x86-64 (SysV): relocation kinds, glibc's lazy-binding stack protocol, the calling convention.

use super::{Layout, RelocKind, VarArgs};
use crate::error::{HarnessError, Result};
use crate::machine::{self, Emu};
use unicorn_engine::RegisterX86 as R;

// Relocation numbers from the psABI.
const R_X86_64_NONE: u32 = 0;
const R_X86_64_64: u32 = 1;
const R_X86_64_PC32: u32 = 2;
const R_X86_64_GOT32: u32 = 3;
const R_X86_64_PLT32: u32 = 4;
const R_X86_64_COPY: u32 = 5;
const R_X86_64_GLOB_DAT: u32 = 6;
const R_X86_64_JUMP_SLOT: u32 = 7;
const R_X86_64_RELATIVE: u32 = 8;
const R_X86_64_GOTPCREL: u32 = 9;
const R_X86_64_32: u32 = 10;
const R_X86_64_32S: u32 = 11;
const R_X86_64_16: u32 = 12;
const R_X86_64_PC16: u32 = 13;
const R_X86_64_8: u32 = 14;
const R_X86_64_PC8: u32 = 15;
const R_X86_64_DTPMOD64: u32 = 16;
const R_X86_64_DTPOFF64: u32 = 17;
const R_X86_64_TPOFF64: u32 = 18;
const R_X86_64_PC64: u32 = 24;
const R_X86_64_TLSDESC: u32 = 36;
const R_X86_64_IRELATIVE: u32 = 37;
const R_X86_64_RELATIVE64: u32 = 38;

pub const LAYOUT: Layout = Layout {
    first_object: 0x7f00_0000_0000,
    heap: 0x6000_0000_0000,
    heap_size: 0x0100_0000,
    stack_top: 0x7ffe_0000_0000,
    stack_size: 0x0010_0000,
    tls: 0x7e00_0000_0000,
    tls_size: 0x0001_0000,
    host_data: 0x7d00_0000_0000,
    host_data_size: 0x0001_0000,
    trap: 0x7c00_0000_0000,
    trap_size: 0x0001_0000,
};

const ARGS: [R; 6] = [R::RDI, R::RSI, R::RDX, R::RCX, R::R8, R::R9];

pub fn classify(r_type: u32) -> Option<RelocKind> {
    Some(match r_type {
        R_X86_64_NONE => RelocKind::None,
        R_X86_64_RELATIVE => RelocKind::Relative,
        R_X86_64_64 => RelocKind::Absolute,
        R_X86_64_GLOB_DAT => RelocKind::GlobDat,
        R_X86_64_JUMP_SLOT => RelocKind::JumpSlot,
        R_X86_64_DTPMOD64 => RelocKind::DtpMod,
        R_X86_64_DTPOFF64 => RelocKind::DtpOff,
        R_X86_64_TPOFF64 => RelocKind::TpOff,
        R_X86_64_IRELATIVE => RelocKind::IRelative,
        R_X86_64_COPY => RelocKind::Copy,
        _ => return None,
    })
}

pub fn reloc_name(r_type: u32) -> String {
    let name = match r_type {
        R_X86_64_NONE => "R_X86_64_NONE",
        R_X86_64_64 => "R_X86_64_64",
        R_X86_64_PC32 => "R_X86_64_PC32",
        R_X86_64_GOT32 => "R_X86_64_GOT32",
        R_X86_64_PLT32 => "R_X86_64_PLT32",
        R_X86_64_COPY => "R_X86_64_COPY",
        R_X86_64_GLOB_DAT => "R_X86_64_GLOB_DAT",
        R_X86_64_JUMP_SLOT => "R_X86_64_JUMP_SLOT",
        R_X86_64_RELATIVE => "R_X86_64_RELATIVE",
        R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL",
        R_X86_64_32 => "R_X86_64_32",
        R_X86_64_32S => "R_X86_64_32S",
        R_X86_64_16 => "R_X86_64_16",
        R_X86_64_PC16 => "R_X86_64_PC16",
        R_X86_64_8 => "R_X86_64_8",
        R_X86_64_PC8 => "R_X86_64_PC8",
        R_X86_64_DTPMOD64 => "R_X86_64_DTPMOD64",
        R_X86_64_DTPOFF64 => "R_X86_64_DTPOFF64",
        R_X86_64_TPOFF64 => "R_X86_64_TPOFF64",
        R_X86_64_PC64 => "R_X86_64_PC64",
        R_X86_64_TLSDESC => "R_X86_64_TLSDESC",
        R_X86_64_IRELATIVE => "R_X86_64_IRELATIVE",
        R_X86_64_RELATIVE64 => "R_X86_64_RELATIVE64",
        _ => return format!("R_X86_64_<{r_type}>"),
    };
    name.to_string()
}

fn rd(emu: &Emu, r: R) -> Result<u64> {
    emu.reg_read(r)
        .map_err(|e| HarnessError::emu("read register", e))
}
fn wr(emu: &mut Emu, r: R, v: u64) -> Result<()> {
    emu.reg_write(r, v)
        .map_err(|e| HarnessError::emu("write register", e))
}

pub fn setup_cpu(emu: &mut Emu, thread_pointer: u64) -> Result<()> {
    // TLS variant 2: FS base points at the TCB, whose first word points to itself.
    wr(emu, R::FS_BASE, thread_pointer)?;
    // SSE: CR0.EM clear, CR0.MP set; CR4.OSFXSR | OSXMMEXCPT.
    let cr0 = rd(emu, R::CR0)?;
    wr(emu, R::CR0, (cr0 & !(1 << 2)) | (1 << 1))?;
    let cr4 = rd(emu, R::CR4)?;
    wr(emu, R::CR4, cr4 | (1 << 9) | (1 << 10))?;
    Ok(())
}

pub fn prepare_call(emu: &mut Emu, target: u64, args: &[u64], sp: u64) -> Result<u64> {
    let stack_args: Vec<u64> = args.iter().skip(6).copied().collect();
    // At the call instruction rsp is 16-aligned; the pushed return address makes it 8 mod 16.
    let mut rsp = (sp - 8 * stack_args.len() as u64) & !15;
    for (i, &a) in stack_args.iter().enumerate() {
        machine::write(emu, rsp + 8 * i as u64, &a.to_le_bytes())?;
    }
    rsp -= 8;
    machine::write(emu, rsp, &LAYOUT.return_trap().to_le_bytes())?;
    for (i, &a) in args.iter().take(6).enumerate() {
        wr(emu, ARGS[i], a)?;
    }
    // %al = number of vector registers used by a variadic call: none.
    wr(emu, R::RAX, 0)?;
    wr(emu, R::RSP, rsp)?;
    Ok(target)
}

pub fn return_value(emu: &Emu) -> Result<u64> {
    rd(emu, R::RAX)
}

pub fn arg(emu: &Emu, index: usize) -> Result<u64> {
    if index < 6 {
        rd(emu, ARGS[index])
    } else {
        let rsp = rd(emu, R::RSP)?;
        machine::read_u64(emu, rsp + 8 + 8 * (index as u64 - 6))
    }
}

pub fn caller(emu: &Emu) -> Result<u64> {
    let rsp = rd(emu, R::RSP)?;
    machine::read_u64(emu, rsp)
}

pub fn finish_host_call(emu: &mut Emu, value: u64) -> Result<u64> {
    let rsp = rd(emu, R::RSP)?;
    let ret = machine::read_u64(emu, rsp)?;
    wr(emu, R::RAX, value)?;
    wr(emu, R::RSP, rsp + 8)?;
    Ok(ret)
}

/// glibc's protocol: the PLT entry pushed the relocation index, PLT0 pushed `GOT[1]`.
pub fn resolver_entry(emu: &Emu) -> Result<(u64, u64)> {
    let rsp = rd(emu, R::RSP)?;
    Ok((
        machine::read_u64(emu, rsp)?,
        machine::read_u64(emu, rsp + 8)?,
    ))
}

pub fn resolver_exit(emu: &mut Emu, target: u64) -> Result<u64> {
    let rsp = rd(emu, R::RSP)?;
    wr(emu, R::RSP, rsp + 16)?;
    Ok(target)
}

pub fn registers(emu: &Emu) -> Vec<(String, u64)> {
    let regs = [
        (R::RAX, "rax"),
        (R::RBX, "rbx"),
        (R::RCX, "rcx"),
        (R::RDX, "rdx"),
        (R::RSI, "rsi"),
        (R::RDI, "rdi"),
        (R::RBP, "rbp"),
        (R::RSP, "rsp"),
        (R::R8, "r8"),
        (R::R9, "r9"),
        (R::R10, "r10"),
        (R::R11, "r11"),
        (R::R12, "r12"),
        (R::R13, "r13"),
        (R::R14, "r14"),
        (R::R15, "r15"),
        (R::RIP, "rip"),
        (R::EFLAGS, "rflags"),
    ];
    regs.iter()
        .map(|&(r, n)| (n.to_string(), emu.reg_read(r).unwrap_or(0)))
        .collect()
}

pub fn pc(emu: &Emu) -> u64 {
    emu.reg_read(R::RIP).unwrap_or(0)
}

pub fn sp(emu: &Emu) -> Result<u64> {
    rd(emu, R::RSP)
}

fn stack_slot(va: &mut VarArgs, emu: &Emu) -> Result<u64> {
    let rsp = rd(emu, R::RSP)?;
    let v = machine::read_u64(emu, rsp + 8 + 8 * va.next_stack as u64)?;
    va.next_stack += 1;
    Ok(v)
}

pub fn va_int(va: &mut VarArgs, emu: &Emu) -> Result<u64> {
    if va.next_int < 6 {
        let v = rd(emu, ARGS[va.next_int])?;
        va.next_int += 1;
        Ok(v)
    } else {
        stack_slot(va, emu)
    }
}

pub fn va_double(va: &mut VarArgs, emu: &Emu) -> Result<f64> {
    if va.next_fp < 8 {
        let regs = [
            R::XMM0,
            R::XMM1,
            R::XMM2,
            R::XMM3,
            R::XMM4,
            R::XMM5,
            R::XMM6,
            R::XMM7,
        ];
        let bytes = emu
            .reg_read_long(regs[va.next_fp])
            .map_err(|e| HarnessError::emu("read xmm", e))?;
        va.next_fp += 1;
        let mut a = [0u8; 8];
        a.copy_from_slice(&bytes[..8]);
        Ok(f64::from_le_bytes(a))
    } else {
        stack_slot(va, emu).map(f64::from_bits)
    }
}
