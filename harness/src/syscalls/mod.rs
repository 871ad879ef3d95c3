//! A small Linux system-call layer: what glibc's static start-up, stdio and malloc ask of the
//! kernel when a static or static-pie program runs with no loader. Only the calls those need
//! are served; any other is a fault naming it (Linux's name, from the `syscalls` crate), its
//! number and the pc.
//!
//! Generic behaviour lives here once; the numbers, the register convention, the `struct stat`
//! layout and the thread-pointer call differ per architecture (`arm.rs`, `x86_64.rs`).

pub mod arm;
mod memory;
pub mod x86_64;

pub use memory::AddressSpace;

use crate::arch::Arch;
use crate::error::{FaultKind, HarnessError, Result};
use crate::events::Event;
use crate::machine::Emu;
use crate::session::Session;

/// What a system call asks for, whatever its number on this architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Read,
    Write,
    Writev,
    Close,
    Brk,
    /// `mmap` (byte offset) or ARM's `mmap2` (offset in pages): only anonymous maps.
    Mmap,
    Munmap,
    Mprotect,
    Madvise,
    Mremap,
    /// x86-64 `arch_prctl(ARCH_SET_FS, …)` / ARM `set_tls`: the thread pointer.
    SetThreadPointer,
    SetTidAddress,
    SetRobustList,
    Rseq,
    Prlimit64,
    /// ARM `ugetrlimit`: a `struct rlimit` of two words.
    Getrlimit,
    Uname,
    Readlink,
    Readlinkat,
    Getrandom,
    /// `fstat` / ARM `fstat64`.
    Fstat,
    /// `newfstatat` / ARM `fstatat64`.
    Fstatat,
    Statx,
    Ioctl,
    Getpid,
    Gettid,
    RtSigaction,
    RtSigprocmask,
    /// `tgkill`: only ever `abort` raising SIGABRT here.
    Tgkill,
    Futex,
    Exit,
    ExitGroup,
}

/// One entry of an architecture's table: number, what it is, its name, how many arguments
/// the event log shows.
pub struct Entry {
    pub number: u64,
    pub call: Call,
    pub name: &'static str,
    pub args: usize,
}

const ENOENT: i64 = 2;
const EBADF: i64 = 9;
const ENODEV: i64 = 19;
const ENOMEM: i64 = 12;
const EFAULT: i64 = 14;
const EINVAL: i64 = 22;
const ENOTTY: i64 = 25;
const ENOSYS: i64 = 38;

const AT_EMPTY_PATH: u64 = 0x1000;
const S_IFIFO: u32 = 0o010000;
/// The program's process and thread id.
const PID: i64 = 1000;

/// The process state a kernel keeps for the one static program of a session.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// What `readlink("/proc/self/exe")` answers.
    pub exe: String,
    pub memory: AddressSpace,
    random_state: u64,
    /// IRELATIVE relocations the program applies itself: (place, resolver).
    pub irelative: Vec<(u64, u64)>,
    /// AT_PHDR, AT_PHENT, AT_PHNUM.
    pub program_headers: (u64, u64, u64),
}

impl Kernel {
    /// `image_end`: the end of the program's highest segment, where the break starts.
    pub fn new(arch: Arch, exe: String, image_end: u64) -> Kernel {
        Kernel {
            exe,
            memory: AddressSpace::new(arch, image_end),
            random_state: 0x9e37_79b9_7f4a_7c15,
            irelative: Vec::new(),
            program_headers: (0, 0, 0),
        }
    }

    /// Deterministic "random" bytes (getrandom, AT_RANDOM): runs must be reproducible.
    pub fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let mut x = self.random_state;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.random_state = x;
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

fn table(arch: Arch) -> &'static [Entry] {
    match arch {
        Arch::Arm => arm::TABLE,
        Arch::X86_64 => x86_64::TABLE,
    }
}

/// The system call's number and its six argument registers.
fn request(arch: Arch, emu: &Emu) -> Result<(u64, [u64; 6])> {
    match arch {
        Arch::Arm => arm::request(emu),
        Arch::X86_64 => x86_64::request(emu),
    }
}

impl Session {
    /// Serves the system call the guest just made; gives the pc to resume at. Every call is
    /// an [`Event::SystemCall`]; exit and exit_group end the run with [`HarnessError::Exit`].
    pub(crate) fn system_call(&mut self) -> Result<u64> {
        self.record_resolver_calls();
        let arch = self.arch;
        let (number, regs) = request(arch, &self.emu)?;
        let Some(entry) = table(arch).iter().find(|e| e.number == number) else {
            let name = match arch {
                Arch::Arm => arm::name(number),
                Arch::X86_64 => x86_64::name(number),
            };
            let kind = FaultKind::UnsupportedSystemCall {
                number,
                name: name.unwrap_or("unknown").into(),
            };
            return Err(self.fault(kind, None));
        };
        let width = if arch == Arch::Arm {
            0xffff_ffff
        } else {
            u64::MAX
        };
        let args: Vec<u64> = regs[..entry.args].iter().map(|&a| a & width).collect();
        let result = self.serve(entry.call, &args)?;
        self.record(Event::SystemCall {
            number,
            name: entry.name.to_string(),
            args: args.clone(),
            result,
        });
        match entry.call {
            Call::Exit | Call::ExitGroup => Err(HarnessError::Exit {
                code: args[0] as u8 as i32,
            }),
            // raise(SIGABRT) from abort; any other signal is beyond this layer.
            Call::Tgkill if args[2] == 6 => Err(self.fault(FaultKind::Abort, None)),
            Call::Tgkill => Err(self.fault(
                FaultKind::UnsupportedSystemCall {
                    number,
                    name: format!("tgkill with signal {}", args[2]),
                },
                None,
            )),
            _ => match arch {
                Arch::Arm => arm::finish(&mut self.emu, result),
                Arch::X86_64 => x86_64::finish(&mut self.emu, result),
            },
        }
    }

    pub(crate) fn kernel(&mut self) -> Result<&mut Kernel> {
        self.kernel
            .as_mut()
            .ok_or_else(|| HarnessError::Usage("system call outside a static program".into()))
    }

    /// The call's result as the kernel returns it: a value, or a negated errno.
    fn serve(&mut self, call: Call, a: &[u64]) -> Result<i64> {
        Ok(match call {
            Call::Write => self.sys_write(a[0], &[(a[1], a[2])]),
            Call::Writev => self.sys_writev(a[0], a[1], a[2])?,
            Call::Read => -EBADF,
            Call::Close => 0,
            Call::Brk => self.sys_brk(a[0])?,
            Call::Mmap => self.sys_mmap(a[0], a[1], a[2], a[3])?,
            Call::Munmap => self.sys_munmap(a[0], a[1])?,
            Call::Mprotect => self.sys_mprotect(a[0], a[1], a[2]),
            Call::Madvise | Call::SetRobustList | Call::RtSigaction | Call::RtSigprocmask => 0,
            Call::Futex => 0,
            Call::Mremap => self.sys_mremap(a[0], a[1], a[2], a[3])?,
            Call::SetThreadPointer => match self.arch {
                Arch::Arm => arm::set_tls(&mut self.emu, a[0])?,
                Arch::X86_64 => x86_64::arch_prctl(&mut self.emu, a[0], a[1])?,
            },
            Call::SetTidAddress | Call::Getpid | Call::Gettid => PID,
            // As under qemu-arm and older kernels: glibc then runs without restartable sequences.
            Call::Rseq => -ENOSYS,
            Call::Prlimit64 => self.sys_rlimit(a[1], a[3], 8)?,
            Call::Getrlimit => self.sys_rlimit(a[0], a[1], self.arch.word_size())?,
            Call::Uname => self.sys_uname(a[0])?,
            Call::Readlink => self.sys_readlink(a[0], a[1], a[2])?,
            Call::Readlinkat => self.sys_readlink(a[1], a[2], a[3])?,
            Call::Getrandom => self.sys_getrandom(a[0], a[1])?,
            Call::Fstat => self.sys_fstat(a[0], a[1])?,
            Call::Fstatat => self.sys_fstatat(a[0], a[1], a[2], a[3])?,
            Call::Statx => self.sys_statx(a[0], a[1], a[2], a[4])?,
            Call::Ioctl => match a[0] {
                0..=2 => -ENOTTY,
                _ => -EBADF,
            },
            Call::Tgkill | Call::Exit | Call::ExitGroup => 0,
        })
    }

    fn sys_write(&mut self, fd: u64, pieces: &[(u64, u64)]) -> i64 {
        if fd != 1 && fd != 2 {
            return -EBADF;
        }
        let mut total = 0i64;
        for &(p, n) in pieces {
            match self.read_memory(p, n as usize) {
                Ok(bytes) => self.write_stream(fd == 2, &bytes),
                Err(_) => return -EFAULT,
            }
            total += n as i64;
        }
        total
    }

    fn sys_writev(&mut self, fd: u64, iov: u64, count: u64) -> Result<i64> {
        // UIO_MAXIOV.
        if count > 1024 {
            return Ok(-EINVAL);
        }
        let w = self.arch.word_size();
        let mut pieces = Vec::new();
        for k in 0..count {
            let (Ok(base), Ok(len)) = (
                self.read_word(iov + 2 * w * k),
                self.read_word(iov + 2 * w * k + w),
            ) else {
                return Ok(-EFAULT);
            };
            pieces.push((base, len));
        }
        Ok(self.sys_write(fd, &pieces))
    }

    /// getrlimit / prlimit64's old value: an 8 MiB stack, 1024 files, the rest unlimited.
    fn sys_rlimit(&mut self, resource: u64, old: u64, field: u64) -> Result<i64> {
        if old == 0 {
            return Ok(0);
        }
        let infinity = if field == 8 { u64::MAX } else { 0xffff_ffff };
        let (cur, max) = match resource {
            3 => (8 << 20, infinity),
            7 => (1024, 4096),
            _ => (infinity, infinity),
        };
        let mut bytes = Vec::new();
        for v in [cur, max] {
            bytes.extend_from_slice(&v.to_le_bytes()[..field as usize]);
        }
        Ok(self.write_or_efault(old, &bytes))
    }

    fn sys_uname(&mut self, buf: u64) -> Result<i64> {
        let machine = match self.arch {
            Arch::Arm => "armv7l",
            Arch::X86_64 => "x86_64",
        };
        let fields = ["Linux", "tether", "6.1.0", "#1 tether", machine, "(none)"];
        let mut bytes = vec![0u8; 65 * fields.len()];
        for (k, f) in fields.iter().enumerate() {
            bytes[65 * k..65 * k + f.len()].copy_from_slice(f.as_bytes());
        }
        Ok(self.write_or_efault(buf, &bytes))
    }

    fn sys_readlink(&mut self, path: u64, buf: u64, size: u64) -> Result<i64> {
        let Ok(p) = self.read_c_string(path) else {
            return Ok(-EFAULT);
        };
        if p != b"/proc/self/exe" {
            return Ok(-ENOENT);
        }
        let exe = self.kernel()?.exe.clone().into_bytes();
        let n = exe.len().min(size as usize);
        Ok(match self.write_or_efault(buf, &exe[..n]) {
            0 => n as i64,
            e => e,
        })
    }

    fn sys_getrandom(&mut self, buf: u64, len: u64) -> Result<i64> {
        // The kernel may return fewer bytes than asked; a bounded answer keeps memory bounded.
        let n = len.min(1 << 16) as usize;
        let bytes = self.kernel()?.random_bytes(n);
        Ok(match self.write_or_efault(buf, &bytes) {
            0 => n as i64,
            e => e,
        })
    }

    fn sys_fstat(&mut self, fd: u64, buf: u64) -> Result<i64> {
        if fd > 2 {
            return Ok(-EBADF);
        }
        let bytes = match self.arch {
            Arch::Arm => arm::stat64(S_IFIFO | 0o600, 4096),
            Arch::X86_64 => x86_64::stat(S_IFIFO | 0o600, 4096),
        };
        Ok(self.write_or_efault(buf, &bytes))
    }

    /// Only `fstatat(fd, "", buf, AT_EMPTY_PATH)`: glibc's fstat. There is no file system.
    fn sys_fstatat(&mut self, fd: u64, path: u64, buf: u64, flags: u64) -> Result<i64> {
        match self.read_c_string(path) {
            Ok(p) if p.is_empty() && flags & AT_EMPTY_PATH != 0 => self.sys_fstat(fd, buf),
            Ok(_) => Ok(-ENOENT),
            Err(_) => Ok(-EFAULT),
        }
    }

    fn sys_statx(&mut self, fd: u64, path: u64, flags: u64, buf: u64) -> Result<i64> {
        match self.read_c_string(path) {
            Ok(p) if p.is_empty() && flags & AT_EMPTY_PATH != 0 => {}
            Ok(_) => return Ok(-ENOENT),
            Err(_) => return Ok(-EFAULT),
        }
        if fd > 2 {
            return Ok(-EBADF);
        }
        Ok(self.write_or_efault(buf, &statx(S_IFIFO | 0o600, 4096)))
    }

    fn write_or_efault(&mut self, addr: u64, bytes: &[u8]) -> i64 {
        match self.write_memory(addr, bytes) {
            Ok(()) => 0,
            Err(_) => -EFAULT,
        }
    }

    /// Turns the resolver entries the block hook saw into events, in the order they ran.
    pub(crate) fn record_resolver_calls(&mut self) {
        let hits = std::mem::take(&mut self.emu.get_data_mut().watch_hits);
        let Some(k) = self.kernel.as_ref() else {
            return;
        };
        let thumb = if self.arch == Arch::Arm { !1u64 } else { !0 };
        let mut found = Vec::new();
        for hit in hits {
            for &(place, resolver) in &k.irelative {
                if resolver & thumb == hit {
                    found.push((place, resolver));
                }
            }
        }
        let object = self.objects().first().map(|o| o.name.clone());
        for (place, resolver) in found {
            self.record(Event::IfuncResolver {
                object: object.clone().unwrap_or_default(),
                place,
                resolver,
                name: self.describe_address(resolver & thumb).unwrap_or_default(),
            });
        }
    }
}

/// `struct statx` (the same layout on every architecture): mask, blksize, mode, one link.
fn statx(mode: u32, blksize: u32) -> Vec<u8> {
    let mut b = vec![0u8; 256];
    // STATX_BASIC_STATS.
    b[0..4].copy_from_slice(&0x7ffu32.to_le_bytes());
    b[4..8].copy_from_slice(&blksize.to_le_bytes());
    b[16..20].copy_from_slice(&1u32.to_le_bytes());
    b[28..30].copy_from_slice(&(mode as u16).to_le_bytes());
    b
}
