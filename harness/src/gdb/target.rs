//! The session as a `gdbstub` target: registers, memory, resume and step, breakpoints and
//! watchpoints, the library list, auxv, the executable's name and the target description.

use super::{arm, x86_64, GuestArch, GuestRegs};
use crate::arch::Arch;
use crate::Session;
use gdbstub::common::{Pid, Signal};
use gdbstub::target::ext::auxv::{Auxv, AuxvOps};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::ext::exec_file::{ExecFile, ExecFileOps};
use gdbstub::target::ext::libraries::{LibrariesSvr4, LibrariesSvr4Ops};
use gdbstub::target::ext::target_description_xml_override::{
    TargetDescriptionXmlOverride, TargetDescriptionXmlOverrideOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};

/// Copies the part of `data` gdb asked for (`qXfer` objects are read in pieces).
fn window(data: &[u8], offset: u64, length: usize, buf: &mut [u8]) -> usize {
    let start = (offset as usize).min(data.len());
    let end = start.saturating_add(length).min(data.len());
    let n = (end - start).min(buf.len());
    buf[..n].copy_from_slice(&data[start..start + n]);
    n
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Session {
    /// The program run from its entry point, if the session has one (libraries are driven by
    /// the host instead).
    fn program_index(&self) -> Option<usize> {
        (0..self.objects().len()).find(|&i| self.is_program(i))
    }

    /// glibc's link map as gdb reads it: each object's file, load bias and `_DYNAMIC`.
    fn libraries_xml(&self) -> String {
        let main = self.program_index();
        let mut x = String::from(r#"<library-list-svr4 version="1.0""#);
        if let Some(m) = main {
            x.push_str(&format!(r#" main-lm="{:#x}""#, self.objects()[m].base + 1));
        }
        x.push('>');
        for (i, o) in self.objects().iter().enumerate() {
            if Some(i) == main {
                continue;
            }
            let path = std::fs::canonicalize(&o.path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| o.path.clone());
            // `lm` only has to be unique and non-zero: nothing reads it.
            x.push_str(&format!(
                r#"<library name="{}" lm="{:#x}" l_addr="{:#x}" l_ld="{:#x}" lmid="0x0"/>"#,
                xml_escape(&path),
                o.base + 1,
                o.base,
                o.elf.dynamic_vaddr.map_or(0, |d| o.base + d)
            ));
        }
        x.push_str("</library-list-svr4>");
        x
    }

    /// The auxiliary vector a kernel would give the program: where its headers and entry are.
    fn auxv_bytes(&self) -> Vec<u8> {
        const AT_PHDR: u64 = 3;
        const AT_PHENT: u64 = 4;
        const AT_PHNUM: u64 = 5;
        const AT_PAGESZ: u64 = 6;
        const AT_BASE: u64 = 7;
        const AT_ENTRY: u64 = 9;
        let mut pairs = vec![(AT_PAGESZ, crate::elf::PAGE), (AT_BASE, 0)];
        if let Some(o) = self.program_index().map(|m| &self.objects()[m]) {
            let img = &o.elf.image;
            let (phoff, phent, phnum) = if o.elf.is64() {
                (
                    read_le(img, 32, 8),
                    read_le(img, 54, 2),
                    read_le(img, 56, 2),
                )
            } else {
                (
                    read_le(img, 28, 4),
                    read_le(img, 42, 2),
                    read_le(img, 44, 2),
                )
            };
            // The headers sit in the first loaded segment, which maps file offset 0.
            let first = o.elf.segments.iter().find(|s| s.offset == 0);
            if let Some(seg) = first {
                pairs.push((AT_PHDR, o.base + seg.vaddr + phoff));
            }
            pairs.extend([
                (AT_PHENT, phent),
                (AT_PHNUM, phnum),
                (AT_ENTRY, o.base + o.elf.entry),
            ]);
        }
        pairs.push((0, 0));
        let w = self.arch().word_size() as usize;
        pairs
            .iter()
            .flat_map(|&(k, v)| [k, v])
            .flat_map(|v| v.to_le_bytes()[..w].to_vec())
            .collect()
    }
}

fn read_le(bytes: &[u8], at: usize, len: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(b) = bytes.get(at..at + len) {
        v[..len].copy_from_slice(b);
    }
    u64::from_le_bytes(v)
}

impl Target for Session {
    type Arch = GuestArch;
    type Error = String;

    fn base_ops(&mut self) -> BaseOps<'_, GuestArch, String> {
        BaseOps::SingleThread(self)
    }
    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
    fn support_libraries_svr4(&mut self) -> Option<LibrariesSvr4Ops<'_, Self>> {
        Some(self)
    }
    fn support_auxv(&mut self) -> Option<AuxvOps<'_, Self>> {
        Some(self)
    }
    fn support_exec_file(&mut self) -> Option<ExecFileOps<'_, Self>> {
        Some(self)
    }
    fn support_target_description_xml_override(
        &mut self,
    ) -> Option<TargetDescriptionXmlOverrideOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadBase for Session {
    fn read_registers(&mut self, regs: &mut GuestRegs) -> TargetResult<(), Self> {
        let fatal = |e: crate::HarnessError| TargetError::Fatal(e.to_string());
        *regs = match self.arch {
            Arch::Arm => GuestRegs::Arm(Box::new(arm::read(&self.emu).map_err(fatal)?)),
            Arch::X86_64 => GuestRegs::X86(Box::new(x86_64::read(&self.emu).map_err(fatal)?)),
        };
        Ok(())
    }

    fn write_registers(&mut self, regs: &GuestRegs) -> TargetResult<(), Self> {
        let r = match (self.arch, regs) {
            (Arch::Arm, GuestRegs::Arm(r)) => arm::write(&mut self.emu, r),
            (Arch::X86_64, GuestRegs::X86(r)) => x86_64::write(&mut self.emu, r),
            _ => return Err(TargetError::NonFatal),
        };
        r.map_err(|e| TargetError::Fatal(e.to_string()))
    }

    /// The trap region reads as return instructions (host functions are leaf frames to
    /// gdb); elsewhere, what is mapped, up to the first unmapped byte.
    fn read_addrs(&mut self, start: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        let layout = self.arch.layout();
        if layout.is_trap(start) {
            let code = match self.arch {
                Arch::Arm => arm::HOST_CODE,
                Arch::X86_64 => x86_64::HOST_CODE,
            };
            for (i, b) in data.iter_mut().enumerate() {
                *b = code[(start as usize + i) % 4];
            }
            return Ok(data.len());
        }
        if let Ok(bytes) = self.read_memory(start, data.len()) {
            data.copy_from_slice(&bytes);
            return Ok(data.len());
        }
        let mut n = 0;
        while n < data.len() {
            match self.read_memory(start + n as u64, 1) {
                Ok(b) => data[n] = b[0],
                Err(_) => break,
            }
            n += 1;
        }
        if n == 0 {
            return Err(TargetError::Errno(14));
        }
        Ok(n)
    }

    fn write_addrs(&mut self, start: u64, data: &[u8]) -> TargetResult<(), Self> {
        self.write_memory(start, data)
            .map_err(|_| TargetError::Errno(14))
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for Session {
    fn resume(&mut self, signal: Option<Signal>) -> Result<(), String> {
        if let Some(d) = self.debugger.as_mut() {
            d.step = false;
            d.signal = signal;
        }
        Ok(())
    }
    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadSingleStep for Session {
    fn step(&mut self, signal: Option<Signal>) -> Result<(), String> {
        if let Some(d) = self.debugger.as_mut() {
            d.step = true;
            d.signal = signal;
        }
        Ok(())
    }
}

impl Breakpoints for Session {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }
    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

/// Software and hardware breakpoints are the same thing here: addresses the code hook stops
/// at, with no instruction patched into guest memory.
impl SwBreakpoint for Session {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        // Inserting one already there is no error: gdb may set two at one address.
        self.emu.get_data_mut().debug.breakpoints.insert(addr & !1);
        Ok(true)
    }
    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self
            .emu
            .get_data_mut()
            .debug
            .breakpoints
            .remove(&(addr & !1)))
    }
}

impl HwBreakpoint for Session {
    fn add_hw_breakpoint(&mut self, addr: u64, kind: usize) -> TargetResult<bool, Self> {
        self.add_sw_breakpoint(addr, kind)
    }
    fn remove_hw_breakpoint(&mut self, addr: u64, kind: usize) -> TargetResult<bool, Self> {
        self.remove_sw_breakpoint(addr, kind)
    }
}

impl HwWatchpoint for Session {
    fn add_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        self.emu
            .get_data_mut()
            .debug
            .watchpoints
            .push((addr, len, kind));
        Ok(true)
    }
    fn remove_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        let w = &mut self.emu.get_data_mut().debug.watchpoints;
        let before = w.len();
        w.retain(|&x| x != (addr, len, kind));
        Ok(w.len() != before)
    }
}

impl LibrariesSvr4 for Session {
    fn get_libraries_svr4(
        &self,
        offset: u64,
        length: usize,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        Ok(window(self.libraries_xml().as_bytes(), offset, length, buf))
    }
}

impl Auxv for Session {
    fn get_auxv(&self, offset: u64, length: usize, buf: &mut [u8]) -> TargetResult<usize, Self> {
        Ok(window(&self.auxv_bytes(), offset, length, buf))
    }
}

impl ExecFile for Session {
    /// The program's path; a session driving libraries has none.
    fn get_exec_file(
        &self,
        _pid: Option<Pid>,
        offset: u64,
        length: usize,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        let Some(m) = self.program_index() else {
            return Err(TargetError::NonFatal);
        };
        let path = std::fs::canonicalize(&self.objects()[m].path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| self.objects()[m].path.clone());
        Ok(window(path.as_bytes(), offset, length, buf))
    }
}

impl TargetDescriptionXmlOverride for Session {
    fn target_description_xml(
        &self,
        _annex: &[u8],
        offset: u64,
        length: usize,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        let xml = match self.arch {
            Arch::Arm => arm::target_xml(),
            Arch::X86_64 => x86_64::target_xml(),
        };
        Ok(window(xml.as_bytes(), offset, length, buf))
    }
}
