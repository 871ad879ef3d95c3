//! ARM's registers for gdb: the core set (r0–r15, CPSR with the T bit) and the VFPv3 set
//! (d0–d31, FPSCR) that a hard-float guest uses, in the order the target description numbers
//! them.

use crate::error::{HarnessError, Result};
use crate::machine::Emu;
use gdbstub_arch::arm::reg::ArmCoreRegs;
use unicorn_engine::RegisterARM as R;

/// CPSR's Thumb bit.
pub const CPSR_T: u64 = 1 << 5;

/// The `g` packet: r0–r15, cpsr, d0–d31, fpscr.
pub const PACKET_SIZE: usize = 16 * 4 + 4 + 32 * 8 + 4;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArmRegs {
    pub core: ArmCoreRegs,
    pub d: [u64; 32],
    pub fpscr: u32,
}

/// gdb's arm-core feature (cpsr keeps its historical number 25, after the FPA registers this
/// target does not have) and the VFPv3 feature with 32 double registers.
pub fn target_xml() -> String {
    let mut x = String::from(
        r#"<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0"><architecture>arm</architecture><osabi>GNU/Linux</osabi><feature name="org.gnu.gdb.arm.core">"#,
    );
    for r in 0..13 {
        x.push_str(&format!(r#"<reg name="r{r}" bitsize="32" type="uint32"/>"#));
    }
    x.push_str(r#"<reg name="sp" bitsize="32" type="data_ptr"/><reg name="lr" bitsize="32"/><reg name="pc" bitsize="32" type="code_ptr"/><reg name="cpsr" bitsize="32" regnum="25"/></feature><feature name="org.gnu.gdb.arm.vfp">"#);
    for d in 0..32 {
        x.push_str(&format!(
            r#"<reg name="d{d}" bitsize="64" type="ieee_double"/>"#
        ));
    }
    x.push_str(r#"<reg name="fpscr" bitsize="32" type="int" group="float"/></feature></target>"#);
    x
}

impl ArmRegs {
    pub fn serialize(&self, mut out: impl FnMut(Option<u8>)) {
        let mut word = |v: &[u8]| v.iter().for_each(|b| out(Some(*b)));
        for r in &self.core.r {
            word(&r.to_le_bytes());
        }
        for r in [self.core.sp, self.core.lr, self.core.pc, self.core.cpsr] {
            word(&r.to_le_bytes());
        }
        for d in &self.d {
            word(&d.to_le_bytes());
        }
        word(&self.fpscr.to_le_bytes());
    }

    pub fn deserialize(bytes: &[u8]) -> Option<ArmRegs> {
        if bytes.len() != PACKET_SIZE {
            return None;
        }
        let w = |i: usize| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap_or([0; 4]));
        let mut r = ArmRegs::default();
        for (i, reg) in r.core.r.iter_mut().enumerate() {
            *reg = w(i);
        }
        (r.core.sp, r.core.lr, r.core.pc, r.core.cpsr) = (w(13), w(14), w(15), w(16));
        for (k, d) in r.d.iter_mut().enumerate() {
            let at = 68 + 8 * k;
            *d = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        }
        r.fpscr = w(PACKET_SIZE / 4 - 1);
        Some(r)
    }
}

const CORE: [R; 13] = [
    R::R0,
    R::R1,
    R::R2,
    R::R3,
    R::R4,
    R::R5,
    R::R6,
    R::R7,
    R::R8,
    R::R9,
    R::R10,
    R::R11,
    R::R12,
];

fn d_reg(k: usize) -> i32 {
    R::D0 as i32 + k as i32
}

fn err(e: unicorn_engine::unicorn_const::uc_error) -> HarnessError {
    HarnessError::emu("gdb register access", e)
}

pub fn read(emu: &Emu) -> Result<ArmRegs> {
    let rd = |r: R| emu.reg_read(r).map(|v| v as u32).map_err(err);
    let mut regs = ArmRegs::default();
    for (slot, r) in regs.core.r.iter_mut().zip(CORE) {
        *slot = rd(r)?;
    }
    regs.core.sp = rd(R::SP)?;
    regs.core.lr = rd(R::LR)?;
    regs.core.pc = rd(R::PC)?;
    regs.core.cpsr = rd(R::CPSR)?;
    for (k, d) in regs.d.iter_mut().enumerate() {
        *d = emu.reg_read(d_reg(k)).map_err(err)?;
    }
    regs.fpscr = rd(R::FPSCR)?;
    Ok(regs)
}

pub fn write(emu: &mut Emu, regs: &ArmRegs) -> Result<()> {
    for (v, r) in regs.core.r.iter().zip(CORE) {
        emu.reg_write(r, u64::from(*v)).map_err(err)?;
    }
    // CPSR first: it selects the state (and bank) the other writes land in.
    emu.reg_write(R::CPSR, u64::from(regs.core.cpsr))
        .map_err(err)?;
    emu.reg_write(R::SP, u64::from(regs.core.sp)).map_err(err)?;
    emu.reg_write(R::LR, u64::from(regs.core.lr)).map_err(err)?;
    // Unicorn takes the state from bit 0 of a PC write.
    let thumb = u64::from(regs.core.cpsr) & CPSR_T != 0;
    emu.reg_write(R::PC, u64::from(regs.core.pc) | u64::from(thumb))
        .map_err(err)?;
    for (k, d) in regs.d.iter().enumerate() {
        emu.reg_write(d_reg(k), *d).map_err(err)?;
    }
    emu.reg_write(R::FPSCR, u64::from(regs.fpscr)).map_err(err)
}

/// The address to resume at: PC with bit 0 set in Thumb state, as `emu_start` wants it.
pub fn resume_pc(emu: &Emu) -> u64 {
    let pc = emu.reg_read(R::PC).unwrap_or(0);
    let cpsr = emu.reg_read(R::CPSR).unwrap_or(0);
    if cpsr & CPSR_T != 0 {
        pc | 1
    } else {
        pc
    }
}

/// Puts the CPU at `pc` (bit 0 = Thumb) so that gdb sees where the guest is about to run.
pub fn set_pc(emu: &mut Emu, pc: u64) -> Result<()> {
    let cpsr = emu.reg_read(R::CPSR).map_err(err)?;
    let cpsr = if pc & 1 != 0 {
        cpsr | CPSR_T
    } else {
        cpsr & !CPSR_T
    };
    emu.reg_write(R::CPSR, cpsr).map_err(err)?;
    // Unicorn takes the state from bit 0 of a PC write.
    emu.reg_write(R::PC, pc).map_err(err)
}

/// What gdb reads in place of a host function: `bx lr`, so that it unwinds the host frame as
/// a leaf whose caller is in lr.
pub const HOST_CODE: [u8; 4] = [0x1e, 0xff, 0x2f, 0xe1];
