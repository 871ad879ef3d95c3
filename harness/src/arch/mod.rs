//! What differs between the two targets, behind one enum: relocation kinds, the lazy-binding
//! resolver's register protocol, the calling convention, CPU set-up and the memory layout.
//! Each architecture's details live in its own file.

pub mod arm;
pub mod x86_64;

use crate::error::Result;
use crate::machine::Emu;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// ELF32 little-endian ARM (EABI5, hard-float), ARM and Thumb-2 code.
    Arm,
    /// ELF64 x86-64 (SysV).
    X86_64,
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Arm => "arm",
            Arch::X86_64 => "x86-64",
        })
    }
}

/// What a dynamic relocation asks the loader to do, independent of its numeric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelocKind {
    None,
    /// B + A
    Relative,
    /// S + A
    Absolute,
    /// S (+ A on RELA targets)
    GlobDat,
    /// S; lazily bound when the object allows it
    JumpSlot,
    /// module id of S's object
    DtpMod,
    /// S + A, offset within the module's TLS block
    DtpOff,
    /// S + A + offset of the module's block from the thread pointer
    TpOff,
    /// the result of calling the resolver at B + A
    IRelative,
    /// copy S's bytes into the place
    Copy,
}

/// Guest address-space layout (all regions are 4 KiB aligned).
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub first_object: u64,
    pub heap: u64,
    pub heap_size: u64,
    pub stack_top: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub tls_size: u64,
    pub host_data: u64,
    pub host_data_size: u64,
    /// Never mapped: a fetch here is how guest code enters the host (functions, resolver,
    /// return from a host-initiated call).
    pub trap: u64,
    pub trap_size: u64,
}

impl Layout {
    pub fn return_trap(&self) -> u64 {
        self.trap
    }
    pub fn resolver_trap(&self) -> u64 {
        self.trap + 0x10
    }
    pub fn host_fn_trap(&self, index: usize) -> u64 {
        self.trap + 0x100 + 0x10 * index as u64
    }
    pub fn host_fn_index(&self, addr: u64) -> Option<usize> {
        let off = addr.checked_sub(self.trap + 0x100)?;
        (off % 0x10 == 0 && addr < self.trap + self.trap_size).then_some((off / 0x10) as usize)
    }
    pub fn is_trap(&self, addr: u64) -> bool {
        addr >= self.trap && addr < self.trap + self.trap_size
    }
}

impl Arch {
    pub fn word_size(self) -> u64 {
        match self {
            Arch::Arm => 4,
            Arch::X86_64 => 8,
        }
    }
    pub fn layout(self) -> Layout {
        match self {
            Arch::Arm => arm::LAYOUT,
            Arch::X86_64 => x86_64::LAYOUT,
        }
    }
    /// The version name glibc gives its oldest symbols on this target.
    pub fn glibc_base_version(self) -> &'static str {
        match self {
            Arch::Arm => "GLIBC_2.4",
            Arch::X86_64 => "GLIBC_2.2.5",
        }
    }
    pub fn classify(self, r_type: u32) -> Option<RelocKind> {
        match self {
            Arch::Arm => arm::classify(r_type),
            Arch::X86_64 => x86_64::classify(r_type),
        }
    }
    pub fn reloc_name(self, r_type: u32) -> String {
        match self {
            Arch::Arm => arm::reloc_name(r_type),
            Arch::X86_64 => x86_64::reloc_name(r_type),
        }
    }
    pub fn setup_cpu(self, emu: &mut Emu, thread_pointer: u64) -> Result<()> {
        match self {
            Arch::Arm => arm::setup_cpu(emu, thread_pointer),
            Arch::X86_64 => x86_64::setup_cpu(emu, thread_pointer),
        }
    }
    /// Sets registers and stack for a call of `target` with `args`, returning to the return
    /// trap; `sp` is the current top of the free stack. Returns the pc to start at.
    pub fn prepare_call(self, emu: &mut Emu, target: u64, args: &[u64], sp: u64) -> Result<u64> {
        match self {
            Arch::Arm => arm::prepare_call(emu, target, args, sp),
            Arch::X86_64 => x86_64::prepare_call(emu, target, args, sp),
        }
    }
    pub fn return_value(self, emu: &Emu) -> Result<u64> {
        match self {
            Arch::Arm => arm::return_value(emu),
            Arch::X86_64 => x86_64::return_value(emu),
        }
    }
    /// The `index`-th integer argument of a host function the guest just called.
    pub fn arg(self, emu: &Emu, index: usize) -> Result<u64> {
        match self {
            Arch::Arm => arm::arg(emu, index),
            Arch::X86_64 => x86_64::arg(emu, index),
        }
    }
    /// The return address of a host function the guest just called.
    pub fn caller(self, emu: &Emu) -> Result<u64> {
        match self {
            Arch::Arm => arm::caller(emu),
            Arch::X86_64 => x86_64::caller(emu),
        }
    }
    /// Returns from a host function with `value`; gives the pc to resume at.
    pub fn finish_host_call(self, emu: &mut Emu, value: u64) -> Result<u64> {
        match self {
            Arch::Arm => arm::finish_host_call(emu, value),
            Arch::X86_64 => x86_64::finish_host_call(emu, value),
        }
    }
    /// On entry to the lazy resolver: (value of the calling object's `GOT[1]`, relocation index).
    pub fn resolver_entry(self, emu: &Emu) -> Result<(u64, u64)> {
        match self {
            Arch::Arm => arm::resolver_entry(emu),
            Arch::X86_64 => x86_64::resolver_entry(emu),
        }
    }
    /// Leaves the resolver for `target` as glibc's trampoline does; gives the pc to resume at.
    pub fn resolver_exit(self, emu: &mut Emu, target: u64) -> Result<u64> {
        match self {
            Arch::Arm => arm::resolver_exit(emu, target),
            Arch::X86_64 => x86_64::resolver_exit(emu, target),
        }
    }
    pub fn registers(self, emu: &Emu) -> Vec<(String, u64)> {
        match self {
            Arch::Arm => arm::registers(emu),
            Arch::X86_64 => x86_64::registers(emu),
        }
    }
    pub fn pc(self, emu: &Emu) -> u64 {
        match self {
            Arch::Arm => arm::pc(emu),
            Arch::X86_64 => x86_64::pc(emu),
        }
    }
    pub fn sp(self, emu: &Emu) -> Result<u64> {
        match self {
            Arch::Arm => arm::sp(emu),
            Arch::X86_64 => x86_64::sp(emu),
        }
    }
    pub fn set_sp(self, emu: &mut Emu, sp: u64) -> Result<()> {
        let r = match self {
            Arch::Arm => emu.reg_write(unicorn_engine::RegisterARM::SP, sp),
            Arch::X86_64 => emu.reg_write(unicorn_engine::RegisterX86::RSP, sp),
        };
        r.map_err(|e| crate::error::HarnessError::emu("write sp", e))
    }
    /// Where the variadic arguments of a host function start, given its named integer
    /// argument count.
    pub fn var_args(self, named: usize) -> VarArgs {
        VarArgs {
            arch: self,
            next_int: named,
            next_fp: 0,
            next_stack: 0,
        }
    }
}

/// A cursor over a variadic host call's arguments (printf and friends).
#[derive(Debug, Clone)]
pub struct VarArgs {
    pub arch: Arch,
    pub next_int: usize,
    pub next_fp: usize,
    /// x86-64 only: stack slots consumed by overflowing arguments.
    pub next_stack: usize,
}

impl VarArgs {
    pub fn int(&mut self, emu: &Emu) -> Result<u64> {
        match self.arch {
            Arch::Arm => arm::va_int(self, emu),
            Arch::X86_64 => x86_64::va_int(self, emu),
        }
    }
    /// A 64-bit integer (two registers on ARM, aligned to an even pair).
    pub fn int64(&mut self, emu: &Emu) -> Result<u64> {
        match self.arch {
            Arch::Arm => arm::va_int64(self, emu),
            Arch::X86_64 => x86_64::va_int(self, emu),
        }
    }
    pub fn double(&mut self, emu: &Emu) -> Result<f64> {
        match self.arch {
            Arch::Arm => arm::va_int64(self, emu).map(f64::from_bits),
            Arch::X86_64 => x86_64::va_double(self, emu),
        }
    }
}
