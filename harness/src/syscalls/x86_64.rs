//! x86-64 Linux: `syscall` with the number in rax and arguments in rdi, rsi, rdx, r10, r8, r9;
//! the result in rax, rcx and r11 clobbered. `arch_prctl` sets the FS base (the thread pointer).

use super::{Call, Entry};
use crate::error::{HarnessError, Result};
use crate::machine::{self, Emu};
use unicorn_engine::RegisterX86 as R;

/// Where anonymous mmaps go (start, size): clear of the images, the harness's regions and the
/// program break.
pub const MMAP_AREA: (u64, u64) = (0x5000_0000_0000, 1 << 30);

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

macro_rules! entries {
    ($($n:literal $call:ident $name:literal $args:literal),* $(,)?) => {
        &[$(Entry { number: $n, call: Call::$call, name: $name, args: $args }),*]
    };
}

pub const TABLE: &[Entry] = entries![
    0 Read "read" 3,
    1 Write "write" 3,
    3 Close "close" 1,
    5 Fstat "fstat" 2,
    9 Mmap "mmap" 6,
    10 Mprotect "mprotect" 3,
    11 Munmap "munmap" 2,
    12 Brk "brk" 1,
    13 RtSigaction "rt_sigaction" 4,
    14 RtSigprocmask "rt_sigprocmask" 4,
    16 Ioctl "ioctl" 3,
    20 Writev "writev" 3,
    28 Madvise "madvise" 3,
    39 Getpid "getpid" 0,
    60 Exit "exit" 1,
    63 Uname "uname" 1,
    89 Readlink "readlink" 3,
    158 SetThreadPointer "arch_prctl" 2,
    186 Gettid "gettid" 0,
    202 Futex "futex" 6,
    218 SetTidAddress "set_tid_address" 1,
    231 ExitGroup "exit_group" 1,
    234 Tgkill "tgkill" 3,
    262 Fstatat "newfstatat" 4,
    267 Readlinkat "readlinkat" 4,
    273 SetRobustList "set_robust_list" 2,
    302 Prlimit64 "prlimit64" 4,
    318 Getrandom "getrandom" 3,
    332 Statx "statx" 5,
    334 Rseq "rseq" 4,
    25 Mremap "mremap" 5,
];

/// Linux's name for any system call number (the `syscalls` crate's table).
pub fn name(number: u64) -> Option<&'static str> {
    let n = usize::try_from(number).ok()?;
    syscalls::x86_64::Sysno::new(n).map(|s| s.name())
}

fn rd(emu: &Emu, r: R) -> Result<u64> {
    emu.reg_read(r)
        .map_err(|e| HarnessError::emu("read register", e))
}
fn wr(emu: &mut Emu, r: R, v: u64) -> Result<()> {
    emu.reg_write(r, v)
        .map_err(|e| HarnessError::emu("write register", e))
}

pub fn request(emu: &Emu) -> Result<(u64, [u64; 6])> {
    let mut a = [0u64; 6];
    for (k, r) in [R::RDI, R::RSI, R::RDX, R::R10, R::R8, R::R9]
        .into_iter()
        .enumerate()
    {
        a[k] = rd(emu, r)?;
    }
    Ok((rd(emu, R::RAX)?, a))
}

/// Unicorn has already stepped rip past the `syscall` instruction.
pub fn finish(emu: &mut Emu, result: i64) -> Result<u64> {
    let rip = rd(emu, R::RIP)?;
    wr(emu, R::RAX, result as u64)?;
    // What the instruction itself leaves: the return address and the flags.
    wr(emu, R::RCX, rip)?;
    let flags = rd(emu, R::EFLAGS)?;
    wr(emu, R::R11, flags)?;
    Ok(rip)
}

pub fn arch_prctl(emu: &mut Emu, code: u64, addr: u64) -> Result<i64> {
    let reg = match code {
        ARCH_SET_FS | ARCH_GET_FS => R::FS_BASE,
        ARCH_SET_GS | ARCH_GET_GS => R::GS_BASE,
        _ => return Ok(-super::EINVAL),
    };
    if code == ARCH_SET_FS || code == ARCH_SET_GS {
        wr(emu, reg, addr)?;
        return Ok(0);
    }
    let v = rd(emu, reg)?;
    Ok(match machine::write(emu, addr, &v.to_le_bytes()) {
        Ok(()) => 0,
        Err(_) => -super::EFAULT,
    })
}

/// `struct stat` (144 bytes): one link, the mode and the block size.
pub fn stat(mode: u32, blksize: u64) -> Vec<u8> {
    let mut b = vec![0u8; 144];
    b[16..24].copy_from_slice(&1u64.to_le_bytes());
    b[24..28].copy_from_slice(&mode.to_le_bytes());
    b[56..64].copy_from_slice(&blksize.to_le_bytes());
    b
}

/// AT_PLATFORM and AT_HWCAP as Linux gives them (CPUID.1:EDX of the emulated CPU's class).
pub const PLATFORM: &str = "x86_64";
pub const HWCAP: u64 = 0x0789_3fbf;

/// The registers `_start` reads besides the stack: rdx is the loader's finaliser, none here.
pub fn clear_for_start(emu: &mut Emu) -> Result<()> {
    wr(emu, R::RDX, 0)
}
