//! x86-64's registers for gdb: gdbstub_arch's core and SSE layout (general registers, rip,
//! eflags, segment selectors, x87, xmm0–15, mxcsr), then Linux's orig_rax (without which gdb
//! does not treat the target as Linux and ignores its library list) and the segment bases.

use crate::error::{HarnessError, Result};
use crate::machine::Emu;
use gdbstub::arch::Registers;
use gdbstub_arch::x86::reg::X86_64CoreRegs;
use unicorn_engine::RegisterX86 as R;

/// gdbstub_arch's core and SSE part of the `g` packet.
const CORE_SIZE: usize = 0x218;
pub const PACKET_SIZE: usize = CORE_SIZE + 24;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct X86Regs {
    pub core: X86_64CoreRegs,
    pub fs_base: u64,
    pub gs_base: u64,
}

/// gdb's 64bit-core, 64bit-sse and 64bit-segments features, register by register in the
/// order of the packet.
pub fn target_xml() -> String {
    let mut x = String::from(
        r#"<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0"><architecture>i386:x86-64</architecture><osabi>GNU/Linux</osabi><feature name="org.gnu.gdb.i386.core">"#,
    );
    let int64 = [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15",
    ];
    for r in int64 {
        let ty = match r {
            "rbp" | "rsp" => "data_ptr",
            _ => "int64",
        };
        x.push_str(&format!(r#"<reg name="{r}" bitsize="64" type="{ty}"/>"#));
    }
    x.push_str(r#"<reg name="rip" bitsize="64" type="code_ptr"/><reg name="eflags" bitsize="32" type="int32"/>"#);
    for s in ["cs", "ss", "ds", "es", "fs", "gs"] {
        x.push_str(&format!(r#"<reg name="{s}" bitsize="32" type="int32"/>"#));
    }
    for k in 0..8 {
        x.push_str(&format!(
            r#"<reg name="st{k}" bitsize="80" type="i387_ext"/>"#
        ));
    }
    for f in [
        "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
    ] {
        x.push_str(&format!(
            r#"<reg name="{f}" bitsize="32" type="int" group="float"/>"#
        ));
    }
    x.push_str(r#"</feature><feature name="org.gnu.gdb.i386.sse"><vector id="v4f" type="ieee_single" count="4"/><vector id="v2d" type="ieee_double" count="2"/><vector id="v16i8" type="int8" count="16"/><vector id="v8i16" type="int16" count="8"/><vector id="v4i32" type="int32" count="4"/><vector id="v2i64" type="int64" count="2"/><union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>"#);
    for k in 0..16 {
        x.push_str(&format!(
            r#"<reg name="xmm{k}" bitsize="128" type="vec128"/>"#
        ));
    }
    x.push_str(r#"<reg name="mxcsr" bitsize="32" type="int" group="vector"/></feature><feature name="org.gnu.gdb.i386.linux"><reg name="orig_rax" bitsize="64" type="int" regnum="57"/></feature><feature name="org.gnu.gdb.i386.segments"><reg name="fs_base" bitsize="64" type="int"/><reg name="gs_base" bitsize="64" type="int"/></feature></target>"#);
    x
}

impl X86Regs {
    pub fn serialize(&self, mut out: impl FnMut(Option<u8>)) {
        self.core.gdb_serialize(&mut out);
        // orig_rax: no system call is ever interrupted here.
        for v in [u64::MAX, self.fs_base, self.gs_base] {
            v.to_le_bytes().iter().for_each(|b| out(Some(*b)));
        }
    }

    pub fn deserialize(bytes: &[u8]) -> Option<X86Regs> {
        if bytes.len() != PACKET_SIZE {
            return None;
        }
        let mut r = X86Regs::default();
        r.core.gdb_deserialize(&bytes[..CORE_SIZE]).ok()?;
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        r.fs_base = word(CORE_SIZE + 8);
        r.gs_base = word(CORE_SIZE + 16);
        Some(r)
    }
}

/// gdb's order of the general registers.
const GENERAL: [R; 16] = [
    R::RAX,
    R::RBX,
    R::RCX,
    R::RDX,
    R::RSI,
    R::RDI,
    R::RBP,
    R::RSP,
    R::R8,
    R::R9,
    R::R10,
    R::R11,
    R::R12,
    R::R13,
    R::R14,
    R::R15,
];
const SEGMENTS: [R; 6] = [R::CS, R::SS, R::DS, R::ES, R::FS, R::GS];
const XMM: [R; 16] = [
    R::XMM0,
    R::XMM1,
    R::XMM2,
    R::XMM3,
    R::XMM4,
    R::XMM5,
    R::XMM6,
    R::XMM7,
    R::XMM8,
    R::XMM9,
    R::XMM10,
    R::XMM11,
    R::XMM12,
    R::XMM13,
    R::XMM14,
    R::XMM15,
];
const ST: [R; 8] = [
    R::ST0,
    R::ST1,
    R::ST2,
    R::ST3,
    R::ST4,
    R::ST5,
    R::ST6,
    R::ST7,
];

fn err(e: unicorn_engine::unicorn_const::uc_error) -> HarnessError {
    HarnessError::emu("gdb register access", e)
}

pub fn read(emu: &Emu) -> Result<X86Regs> {
    let rd = |r: R| emu.reg_read(r).map_err(err);
    let mut regs = X86Regs::default();
    for (slot, r) in regs.core.regs.iter_mut().zip(GENERAL) {
        *slot = rd(r)?;
    }
    regs.core.rip = rd(R::RIP)?;
    regs.core.eflags = rd(R::EFLAGS)? as u32;
    let s = &mut regs.core.segments;
    let sel: Vec<u32> = SEGMENTS
        .iter()
        .map(|&r| rd(r).map(|v| v as u32))
        .collect::<Result<_>>()?;
    (s.cs, s.ss, s.ds, s.es, s.fs, s.gs) = (sel[0], sel[1], sel[2], sel[3], sel[4], sel[5]);
    for (slot, r) in regs.core.st.iter_mut().zip(ST) {
        let v = emu.reg_read_long(r).map_err(err)?;
        slot.copy_from_slice(&v[..10]);
    }
    regs.core.fpu.fctrl = rd(R::FPCW)? as u32;
    regs.core.fpu.fstat = rd(R::FPSW)? as u32;
    regs.core.fpu.ftag = rd(R::FPTAG)? as u32;
    for (slot, r) in regs.core.xmm.iter_mut().zip(XMM) {
        let v = emu.reg_read_long(r).map_err(err)?;
        *slot = u128::from_le_bytes(v[..16].try_into().unwrap_or([0; 16]));
    }
    regs.core.mxcsr = rd(R::MXCSR)? as u32;
    regs.fs_base = rd(R::FS_BASE)?;
    regs.gs_base = rd(R::GS_BASE)?;
    Ok(regs)
}

/// Writes what a debugger may change: general registers, rip, eflags, SSE and the segment
/// bases (the selectors and x87 state stay as the session set them up).
pub fn write(emu: &mut Emu, regs: &X86Regs) -> Result<()> {
    for (v, r) in regs.core.regs.iter().zip(GENERAL) {
        emu.reg_write(r, *v).map_err(err)?;
    }
    emu.reg_write(R::RIP, regs.core.rip).map_err(err)?;
    emu.reg_write(R::EFLAGS, u64::from(regs.core.eflags))
        .map_err(err)?;
    for (v, r) in regs.core.xmm.iter().zip(XMM) {
        emu.reg_write_long(r, &v.to_le_bytes()).map_err(err)?;
    }
    emu.reg_write(R::MXCSR, u64::from(regs.core.mxcsr))
        .map_err(err)?;
    emu.reg_write(R::FS_BASE, regs.fs_base).map_err(err)?;
    emu.reg_write(R::GS_BASE, regs.gs_base).map_err(err)
}

pub fn resume_pc(emu: &Emu) -> u64 {
    emu.reg_read(R::RIP).unwrap_or(0)
}

pub fn set_pc(emu: &mut Emu, pc: u64) -> Result<()> {
    emu.reg_write(R::RIP, pc).map_err(err)
}

/// What gdb reads in place of a host function: `ret`, so that it unwinds the host frame as a
/// leaf whose return address is at the stack pointer.
pub const HOST_CODE: [u8; 4] = [0xc3, 0xc3, 0xc3, 0xc3];
