//! ARM EABI Linux: `svc #0` with the number in r7 and arguments in r0–r5, the result in r0.
//! The thread pointer is set with the ARM-private `set_tls` (0xf0005) and read back from
//! TPIDRURO (`mrc p15, 0, rX, c13, c0, 3`).

use super::{Call, Entry};
use crate::error::{HarnessError, Result};
use crate::machine::Emu;
use unicorn_engine::RegisterARM as R;

/// Where anonymous mmaps go (start, size): between the program break's limit and the heap.
pub const MMAP_AREA: (u64, u64) = (0x4000_0000, 0x1000_0000);

macro_rules! entries {
    ($($n:literal $call:ident $name:literal $args:literal),* $(,)?) => {
        &[$(Entry { number: $n, call: Call::$call, name: $name, args: $args }),*]
    };
}

pub const TABLE: &[Entry] = entries![
    1 Exit "exit" 1,
    3 Read "read" 3,
    4 Write "write" 3,
    6 Close "close" 1,
    20 Getpid "getpid" 0,
    45 Brk "brk" 1,
    54 Ioctl "ioctl" 3,
    85 Readlink "readlink" 3,
    91 Munmap "munmap" 2,
    122 Uname "uname" 1,
    125 Mprotect "mprotect" 3,
    146 Writev "writev" 3,
    174 RtSigaction "rt_sigaction" 4,
    175 RtSigprocmask "rt_sigprocmask" 4,
    191 Getrlimit "ugetrlimit" 2,
    192 Mmap "mmap2" 6,
    197 Fstat "fstat64" 2,
    220 Madvise "madvise" 3,
    224 Gettid "gettid" 0,
    240 Futex "futex" 6,
    248 ExitGroup "exit_group" 1,
    256 SetTidAddress "set_tid_address" 1,
    268 Tgkill "tgkill" 3,
    327 Fstatat "fstatat64" 4,
    332 Readlinkat "readlinkat" 4,
    338 SetRobustList "set_robust_list" 2,
    369 Prlimit64 "prlimit64" 4,
    384 Getrandom "getrandom" 3,
    397 Statx "statx" 5,
    398 Rseq "rseq" 4,
    0xf0005 SetThreadPointer "set_tls" 1,
    163 Mremap "mremap" 5,
];

/// Linux's name for any system call number (the `syscalls` crate's table).
pub fn name(number: u64) -> Option<&'static str> {
    let n = usize::try_from(number).ok()?;
    syscalls::arm::Sysno::new(n).map(|s| s.name())
}

fn rd(emu: &Emu, r: R) -> Result<u64> {
    emu.reg_read(r)
        .map_err(|e| HarnessError::emu("read register", e))
}

pub fn request(emu: &Emu) -> Result<(u64, [u64; 6])> {
    let mut a = [0u64; 6];
    for (k, r) in [R::R0, R::R1, R::R2, R::R3, R::R4, R::R5]
        .into_iter()
        .enumerate()
    {
        a[k] = rd(emu, r)?;
    }
    Ok((rd(emu, R::R7)?, a))
}

/// Unicorn reports `svc` with pc already past it; Thumb state comes from CPSR.T.
pub fn finish(emu: &mut Emu, result: i64) -> Result<u64> {
    emu.reg_write(R::R0, result as u64 & 0xffff_ffff)
        .map_err(|e| HarnessError::emu("write register", e))?;
    let pc = rd(emu, R::PC)?;
    let thumb = rd(emu, R::CPSR)? & (1 << 5) != 0;
    Ok(pc | u64::from(thumb))
}

pub fn set_tls(emu: &mut Emu, value: u64) -> Result<i64> {
    emu.reg_write(R::C13_C0_3, value & 0xffff_ffff)
        .map_err(|e| HarnessError::emu("write TPIDRURO", e))?;
    Ok(0)
}

/// `struct stat64` (104 bytes): the mode, one link and the block size.
pub fn stat64(mode: u32, blksize: u32) -> Vec<u8> {
    let mut b = vec![0u8; 104];
    b[16..20].copy_from_slice(&mode.to_le_bytes());
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    b[56..60].copy_from_slice(&blksize.to_le_bytes());
    b
}

/// AT_PLATFORM and AT_HWCAP for the emulated Cortex-A15: swp, half, thumb, fastmult, vfp,
/// edsp, neon, vfpv3, tls, vfpv4, idiva, idivt, vfpd32, lpae.
pub const PLATFORM: &str = "v7l";
pub const HWCAP: u64 = 0x001f_b0d7;

/// The registers `_start` reads besides the stack: r0 is the loader's finaliser, none here.
pub fn clear_for_start(emu: &mut Emu) -> Result<()> {
    emu.reg_write(R::R0, 0)
        .map_err(|e| HarnessError::emu("write register", e))
}
