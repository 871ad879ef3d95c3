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

/// The kernel's user helper page (Documentation/arm/kernel_user_helpers.rst): code at fixed
/// addresses that pre-ARMv6K code calls for the thread pointer and atomics. ARMv7 versions,
/// as the kernel installs them (assembled with arm-linux-gnueabihf-as; each is position
/// independent).
const KUSER_PAGE: u64 = 0xffff_0000;
const KUSER_HELPERS: &[(u64, &[u32])] = &[
    // __kuser_cmpxchg64(const u64 *old, const u64 *new, volatile u64 *ptr): 0 when swapped.
    (
        0xf60,
        &[
            0xe92d00f0, // push {r4, r5, r6, r7}
            0xe1c040d0, // ldrd r4, r5, [r0]
            0xe1c160d0, // ldrd r6, r7, [r1]
            0xe1b20f9f, // 1: ldrexd r0, r1, [r2]
            0xe0303004, // eors r3, r0, r4
            0x00313005, // eorseq r3, r1, r5
            0x01a23f96, // strexdeq r3, r6, r7, [r2]
            0x03330001, // teqeq r3, #1
            0x0afffff9, // beq 1b
            0xe2730000, // rsbs r0, r3, #0
            0xe8bd00f0, // pop {r4, r5, r6, r7}
            0xe12fff1e, // bx lr
        ],
    ),
    // __kuser_memory_barrier.
    (0xfa0, &[0xf57ff05b, 0xe12fff1e]), // dmb ish; bx lr
    // __kuser_cmpxchg(old, new, volatile int *ptr): 0 (and C set) when swapped.
    (
        0xfc0,
        &[
            0xe1923f9f, // 1: ldrex r3, [r2]
            0xe0533000, // subs r3, r3, r0
            0x01823f91, // strexeq r3, r1, [r2]
            0x03330001, // teqeq r3, #1
            0x0afffffa, // beq 1b
            0xe2730000, // rsbs r0, r3, #0
            0xe12fff1e, // bx lr
        ],
    ),
    // __kuser_get_tls: TPIDRURO.
    (0xfe0, &[0xee1d0f70, 0xe12fff1e]), // mrc p15, 0, r0, c13, c0, 3; bx lr
    // __kuser_helper_version: the number of 32-byte helper slots.
    (0xffc, &[5]),
];

/// Maps the user helper page, read and execute, as the kernel does for every ARM process.
pub fn map_kuser_helpers(emu: &mut Emu) -> Result<()> {
    let rx = unicorn_engine::unicorn_const::Prot::READ | unicorn_engine::unicorn_const::Prot::EXEC;
    crate::machine::map(emu, KUSER_PAGE, crate::elf::PAGE, rx)?;
    for (offset, words) in KUSER_HELPERS {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        crate::machine::write(emu, KUSER_PAGE + offset, &bytes)?;
    }
    Ok(())
}
