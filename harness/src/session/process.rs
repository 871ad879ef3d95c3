//! Static and static-pie programs: no loader runs, only a kernel. The program is mapped as
//! the kernel maps it and started with the initial stack the kernel builds (argc, argv, envp,
//! auxv); glibc's own start-up then relocates it (static-pie), applies its IRELATIVE
//! relocations, sets up TLS, stdio and malloc through the system-call layer (`syscalls`).

use super::*;
use crate::elf::abi::{ET_DYN, ET_EXEC};
use crate::syscalls::{self, Kernel};

const DF_1_PIE: u64 = 0x0800_0000;

// Auxiliary vector keys (<elf.h>).
const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_HWCAP2: u64 = 26;
const AT_EXECFN: u64 = 31;

/// Where the program headers are in memory (link-time), their entry size and count.
#[derive(Debug, Clone, Copy)]
struct ProgramHeaders {
    vaddr: u64,
    entsize: u64,
    count: u64,
}

/// A program the kernel runs without a loader: no PT_INTERP, and either ET_EXEC or an ET_DYN
/// marked DF_1_PIE (static-pie).
pub fn is_static(elf: &ElfObject) -> bool {
    if elf.has_interp {
        return false;
    }
    match elf.e_type {
        ET_EXEC => true,
        ET_DYN => flags_1(elf) & DF_1_PIE != 0,
        _ => false,
    }
}

/// DT_FLAGS_1 from PT_DYNAMIC (0 when absent or unreadable).
fn flags_1(elf: &ElfObject) -> u64 {
    let Some(dynamic) = elf.dynamic_vaddr else {
        return 0;
    };
    let w = elf.word_size();
    let mut at = dynamic;
    while let (Ok(tag), Ok(value)) = (elf.word_at(at), elf.word_at(at + w)) {
        match tag {
            0 => break,
            t if t == u64::from(elf::abi::DT_FLAGS_1) => return value,
            _ => at += 2 * w,
        }
    }
    0
}

/// e_phoff/e_phentsize/e_phnum from the file header, placed by the segment that holds them.
fn program_headers(data: &[u8], elf: &ElfObject) -> Result<ProgramHeaders> {
    let field = |off: usize, len: usize| -> u64 {
        let mut b = [0u8; 8];
        b[..len].copy_from_slice(&data[off..off + len]);
        u64::from_le_bytes(b)
    };
    // The header was parsed already, so these offsets are inside it.
    let (phoff, entsize, count) = match elf.arch {
        Arch::X86_64 => (field(0x20, 8), field(0x36, 2), field(0x38, 2)),
        Arch::Arm => (field(0x1c, 4), field(0x2a, 2), field(0x2c, 2)),
    };
    let vaddr = elf
        .segments
        .iter()
        .find(|s| phoff >= s.offset && phoff + entsize * count <= s.offset + s.filesz)
        .map(|s| s.vaddr + (phoff - s.offset))
        .ok_or_else(|| HarnessError::BadElf {
            path: elf.path.clone(),
            message: format!("program headers at offset {phoff:#x} are in no PT_LOAD"),
        })?;
    Ok(ProgramHeaders {
        vaddr,
        entsize,
        count,
    })
}

/// The IRELATIVE relocations the program's start-up applies (link-time place, resolver):
/// `__rela_iplt_start`..`__rela_iplt_end` (`__rel_iplt_*` on ARM) in a static program, the
/// dynamic relocations in a static-pie one.
fn irelative_relocs(elf: &ElfObject, arch: Arch) -> Result<Vec<(u64, u64)>> {
    let is_irelative = |t: u32| arch.classify(t) == Some(RelocKind::IRelative);
    if elf.dynamic_vaddr.is_some() {
        let d = &elf.dynamic;
        return d
            .relocs
            .iter()
            .chain(&d.jmprel)
            .filter(|r| is_irelative(r.r_type))
            .map(|r| match r.addend {
                Some(a) => Ok((r.offset, a as u64)),
                None => elf.word_at(r.offset).map(|v| (r.offset, v)),
            })
            .collect();
    }
    let (prefix, entsize) = match arch {
        Arch::X86_64 => ("__rela_iplt", 24),
        Arch::Arm => ("__rel_iplt", 8),
    };
    let find = |suffix: &str| {
        let name = format!("{prefix}_{suffix}");
        elf.all_symbols
            .iter()
            .find(|(_, _, n)| *n == name)
            .map(|s| s.0)
    };
    let (Some(start), Some(end)) = (find("start"), find("end")) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut at = start;
    while at + entsize <= end {
        let (place, info) = match arch {
            Arch::X86_64 => (elf.u64_at(at)?, elf.u64_at(at + 8)? as u32),
            Arch::Arm => (u64::from(elf.u32_at(at)?), elf.u32_at(at + 4)? & 0xff),
        };
        if is_irelative(info) {
            let resolver = match arch {
                Arch::X86_64 => elf.u64_at(at + 16)?,
                Arch::Arm => elf.word_at(place)?,
            };
            out.push((place, resolver));
        }
        at += entsize;
    }
    Ok(out)
}

impl Session {
    /// Maps a static program as the kernel does: nothing relocated, no TLS block (glibc makes
    /// its own), no initialisers run by the host. It must be the session's only object.
    pub(super) fn load_static(&mut self, elf: ElfObject, path: &Path) -> Result<usize> {
        if !self.objects.is_empty() {
            return Err(HarnessError::Usage(format!(
                "{}: a static program runs alone, not in a session that has loaded objects",
                path.display()
            )));
        }
        let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
        let headers = program_headers(&data, &elf)?;
        let irelative = irelative_relocs(&elf, self.arch)?;
        let i = self.map_object(elf, path)?;
        if self.arch == Arch::Arm {
            syscalls::arm::map_kuser_helpers(&mut self.emu)?;
        }
        let o = &mut self.objects[i];
        o.relocated = true;
        o.init_started = true;
        o.fini_done = true;
        let (base, end) = (o.base, o.base + o.size);
        // The kernel's /proc/self/exe is absolute (glibc asserts it is).
        let exe = path.canonicalize().map_err(|e| io_err(path, e))?;
        let mut kernel = Kernel::new(self.arch, exe.display().to_string(), end);
        kernel.irelative = irelative
            .iter()
            .map(|&(p, r)| (base + p, base.wrapping_add(r)))
            .collect();
        let thumb = if self.arch == Arch::Arm { !1u64 } else { !0 };
        let mut watch: Vec<u64> = kernel.irelative.iter().map(|r| r.1 & thumb).collect();
        watch.sort_unstable();
        watch.dedup();
        self.emu.get_data_mut().watch = watch;
        kernel.program_headers = (base + headers.vaddr, headers.entsize, headers.count);
        self.kernel = Some(kernel);
        Ok(i)
    }

    /// Runs a static program from its entry point until it exits; returns the exit status.
    pub(super) fn run_static_entry(&mut self, i: usize, args: &[&str]) -> Result<i32> {
        let o = &self.objects[i];
        let entry = o.base.wrapping_add(o.elf.entry);
        let sp = self.initial_stack(entry, args)?;
        match self.arch {
            Arch::Arm => syscalls::arm::clear_for_start(&mut self.emu)?,
            Arch::X86_64 => syscalls::x86_64::clear_for_start(&mut self.emu)?,
        }
        self.record(Event::Call {
            function: "_start".into(),
            address: entry,
            args: Vec::new(),
        });
        let r = self.start_at(entry, sp);
        self.record_resolver_calls();
        match r {
            Err(HarnessError::Exit { code }) => Ok(code),
            Err(e) => Err(e),
            Ok(_) => Err(self.fault(FaultKind::Emulator("_start returned".into()), None)),
        }
    }

    /// The kernel's initial stack: strings and AT_RANDOM's bytes at the top, then (16-byte
    /// aligned, at sp) argc, argv[], NULL, an empty envp, the auxiliary vector. Returns sp.
    fn initial_stack(&mut self, entry: u64, args: &[&str]) -> Result<u64> {
        let layout = self.arch.layout();
        let w = self.arch.word_size();
        let mut top = layout.stack_top - 0x100;
        let mut push = |s: &mut Session, bytes: &[u8]| -> Result<u64> {
            top = (top - bytes.len() as u64) & !15;
            s.write_memory(top, bytes)?;
            Ok(top)
        };
        let random = self
            .kernel
            .as_mut()
            .map(|k| k.random_bytes(16))
            .unwrap_or_default();
        let random = push(self, &random)?;
        let platform = match self.arch {
            Arch::Arm => syscalls::arm::PLATFORM,
            Arch::X86_64 => syscalls::x86_64::PLATFORM,
        };
        let platform = push(self, &[platform.as_bytes(), b"\0"].concat())?;
        let mut argv = Vec::new();
        for a in args {
            argv.push(push(self, &[a.as_bytes(), b"\0"].concat())?);
        }
        let execfn = argv.first().copied().unwrap_or(0);
        let (phdr, phent, phnum) = self
            .kernel
            .as_ref()
            .map_or((0, 0, 0), |k| k.program_headers);
        let hwcap = match self.arch {
            Arch::Arm => syscalls::arm::HWCAP,
            Arch::X86_64 => syscalls::x86_64::HWCAP,
        };
        let auxv = [
            (AT_PHDR, phdr),
            (AT_PHENT, phent),
            (AT_PHNUM, phnum),
            (AT_PAGESZ, PAGE),
            (AT_BASE, 0),
            (AT_FLAGS, 0),
            (AT_ENTRY, entry),
            (AT_UID, 0),
            (AT_EUID, 0),
            (AT_GID, 0),
            (AT_EGID, 0),
            (AT_SECURE, 0),
            (AT_RANDOM, random),
            (AT_HWCAP, hwcap),
            (AT_HWCAP2, 0),
            (AT_CLKTCK, 100),
            (AT_PLATFORM, platform),
            (AT_EXECFN, execfn),
            (AT_NULL, 0),
        ];
        let mut words = vec![argv.len() as u64];
        words.extend(&argv);
        // argv's NULL, then envp's.
        words.extend([0, 0]);
        for (k, v) in auxv {
            words.extend([k, v]);
        }
        let sp = (top - words.len() as u64 * w) & !15;
        for (k, v) in words.iter().enumerate() {
            self.write_word(sp + k as u64 * w, *v)?;
        }
        Ok(sp)
    }
}
