//! A loader session: one emulated CPU, the objects mapped into it, the global scope, the host
//! library, and the event log.

use crate::arch::{Arch, RelocKind};
use crate::elf::{self, page_down, page_up, DynSym, ElfObject, Reloc, PAGE};
use crate::error::{Fault, FaultKind, HarnessError, Result};
use crate::event_log::{EventLog, DEFAULT_MAX_EVENTS};
use crate::events::Event;
use crate::host_libc::{self, Heap};
use crate::machine::{self, Emu};
use crate::symbols;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use unicorn_engine::unicorn_const::{uc_error, Prot};

mod execute;
pub(crate) use execute::Serviced;
mod init_fini;
mod lazy;
mod load;
mod process;
mod program;
mod relocate;
mod resolve;

/// A host function: reads its arguments through the session (`Session::arg`), may touch guest
/// memory or call back into the guest, and returns the value for r0 / rax.
pub type HostFn = Rc<dyn Fn(&mut Session) -> Result<u64>>;

/// Sonames the built-in host library answers to.
pub const HOST_SONAMES: &[&str] = &[
    "libc.so.6",
    "libdl.so.2",
    "ld-linux-armhf.so.3",
    "ld-linux.so.3",
    "ld-linux-x86-64.so.2",
];

#[derive(Debug, Clone)]
pub struct Options {
    /// Bind every PLT slot at load time (as `LD_BIND_NOW`).
    pub bind_now: bool,
    /// Maximum basic blocks one top-level call may run before it is stopped as a runaway.
    pub block_budget: u64,
    /// Treat warnings (writable+executable segments, text relocations) as errors.
    pub strict: bool,
    /// Events kept in the log; past it they are counted and a `LogTruncated` event says so.
    pub max_events: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind_now: false,
            block_budget: 20_000_000,
            strict: false,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

/// An object mapped into the guest.
pub struct LoadedObject {
    /// SONAME when it has one, otherwise the file name.
    pub name: String,
    pub path: String,
    pub base: u64,
    pub size: u64,
    pub elf: ElfObject,
    /// TLS module id and the block's address, when the object has PT_TLS.
    pub tls: Option<(u64, u64)>,
    lazy: bool,
    relocated: bool,
    init_started: bool,
    fini_done: bool,
}

struct HostFunction {
    name: String,
    /// Version names this definition satisfies; empty = any.
    versions: Vec<String>,
    f: HostFn,
}

struct HostData {
    name: String,
    versions: Vec<String>,
    address: u64,
    size: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopeItem {
    Object(usize),
    Host,
}

/// Where a symbol reference resolved to.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub address: u64,
    pub size: u64,
    pub object: String,
    /// Index of the defining loaded object (None for the host library or an undefined weak).
    pub object_index: Option<usize>,
    pub is_tls: bool,
    /// An STT_GNU_IFUNC definition: `address` is its resolver.
    pub is_ifunc: bool,
}

pub(crate) struct AtExit {
    pub func: u64,
    pub arg: u64,
    pub dso: u64,
    pub with_arg: bool,
}

pub struct Session {
    pub(crate) arch: Arch,
    pub(crate) emu: Emu,
    options: Options,
    objects: Vec<LoadedObject>,
    scope: Vec<ScopeItem>,
    search_dirs: Vec<PathBuf>,
    /// Libraries given by path, found by SONAME or file name when something needs them.
    available: Vec<PathBuf>,
    host_fns: Vec<HostFunction>,
    host_data: Vec<HostData>,
    host_data_next: u64,
    pub(crate) heap: Heap,
    pub(crate) atexit: Vec<AtExit>,
    log: EventLog,
    next_base: u64,
    thread_pointer: u64,
    tls_used: u64,
    next_tls_module: u64,
    init_order: Vec<usize>,
    depth: usize,
    pub(crate) stdout_file: u64,
    pub(crate) stderr_file: u64,
    /// The message `dlerror` returns next (None once read).
    pub(crate) dl_error: Option<String>,
    /// The kernel's state for a static program (None: system calls are faults).
    pub(crate) kernel: Option<crate::syscalls::Kernel>,
    /// pthread keys' values for the one thread (`host_runtime`).
    pub(crate) thread_keys: std::collections::HashMap<u64, u64>,
    /// A gdb attached with `attach_gdb` (`src/gdb/`).
    pub(crate) debugger: Option<Box<crate::gdb::Debugger>>,
}

fn io_err(path: &Path, e: std::io::Error) -> HarnessError {
    HarnessError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl Session {
    /// A fresh session: CPU set up, stack, heap, TLS and host library mapped, nothing loaded.
    pub fn new(arch: Arch, options: Options) -> Result<Session> {
        let layout = arch.layout();
        let mut emu = machine::create(arch, options.block_budget)?;
        let rw = Prot::READ | Prot::WRITE;
        machine::map(
            &mut emu,
            layout.stack_top - layout.stack_size,
            layout.stack_size,
            rw,
        )?;
        machine::map(&mut emu, layout.heap, layout.heap_size, rw)?;
        machine::map(&mut emu, layout.tls, layout.tls_size, rw)?;
        machine::map(&mut emu, layout.host_data, layout.host_data_size, rw)?;
        machine::map(&mut emu, layout.stub_page(), PAGE, Prot::READ | Prot::EXEC)?;
        machine::write(&mut emu, layout.stub_page(), arch.stub_code())?;
        let thread_pointer = match arch {
            // Variant 1: TP at the TCB, blocks above it.
            Arch::Arm => layout.tls,
            // Variant 2: blocks below TP; the TCB (one page) above it.
            Arch::X86_64 => layout.tls + layout.tls_size - PAGE,
        };
        arch.setup_cpu(&mut emu, thread_pointer)?;
        let log = EventLog::new(options.max_events);
        let mut s = Session {
            arch,
            emu,
            options,
            objects: Vec::new(),
            scope: Vec::new(),
            search_dirs: Vec::new(),
            available: Vec::new(),
            host_fns: Vec::new(),
            host_data: Vec::new(),
            host_data_next: layout.host_data + 0x1000,
            heap: Heap::new(layout.heap, layout.heap_size),
            atexit: Vec::new(),
            log,
            next_base: layout.first_object,
            thread_pointer,
            tls_used: match arch {
                Arch::Arm => 8,
                Arch::X86_64 => 0,
            },
            next_tls_module: 1,
            init_order: Vec::new(),
            depth: 0,
            stdout_file: 0,
            stderr_file: 0,
            dl_error: None,
            kernel: None,
            thread_keys: Default::default(),
            debugger: None,
        };
        if arch == Arch::X86_64 {
            // The TCB: self pointer at %fs:0, stack-protector canary at %fs:0x28.
            machine::write_word(&mut s.emu, arch, thread_pointer, thread_pointer)?;
            machine::write_word(&mut s.emu, arch, thread_pointer + 0x28, host_libc::CANARY)?;
        }
        host_libc::install(&mut s)?;
        Ok(s)
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    pub fn add_search_dir(&mut self, dir: impl AsRef<Path>) {
        self.search_dirs.push(dir.as_ref().to_path_buf());
    }

    /// Makes a library available to satisfy DT_NEEDED (by SONAME or file name) without loading
    /// it into the scope now.
    pub fn add_library(&mut self, path: impl AsRef<Path>) {
        self.available.push(path.as_ref().to_path_buf());
    }

    pub fn events(&self) -> &[Event] {
        self.log.events()
    }
    /// Events past `Options::max_events` that were counted but not kept.
    pub fn dropped_events(&self) -> u64 {
        self.log.dropped_events()
    }
    /// How many complete lines of output the guest had written when event `index` happened:
    /// what tells a lazy binding at first call from one made at load.
    pub fn output_lines_before(&self, index: usize) -> Option<usize> {
        self.log.output_lines_before(index)
    }
    pub(crate) fn record(&mut self, event: Event) {
        if self.debugger.is_some() {
            self.debug_observe(&event);
        }
        self.log.record(event);
    }
    /// Everything the guest wrote to stdout and stderr, interleaved as written (the first
    /// `event_log::MAX_OUTPUT` bytes).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(self.log.output()).into_owned()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(self.log.stdout()).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(self.log.stderr()).into_owned()
    }
    /// Bytes of guest output past `event_log::MAX_OUTPUT`, not kept.
    pub fn dropped_output(&self) -> u64 {
        self.log.dropped_output()
    }
    pub fn objects(&self) -> &[LoadedObject] {
        &self.objects
    }
    pub fn thread_pointer(&self) -> u64 {
        self.thread_pointer
    }

    pub(crate) fn write_stream(&mut self, stderr: bool, bytes: &[u8]) {
        self.log.write_stream(stderr, bytes);
    }

    pub fn read_memory(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        machine::read(&self.emu, addr, len)
    }
    pub fn write_memory(&mut self, addr: u64, bytes: &[u8]) -> Result<()> {
        machine::write(&mut self.emu, addr, bytes)
    }
    pub fn read_word(&self, addr: u64) -> Result<u64> {
        machine::read_word(&self.emu, self.arch, addr)
    }
    pub fn write_word(&mut self, addr: u64, value: u64) -> Result<()> {
        machine::write_word(&mut self.emu, self.arch, addr, value)
    }
    pub fn read_c_string(&self, addr: u64) -> Result<Vec<u8>> {
        machine::read_cstr(&self.emu, addr, 1 << 20)
    }
    /// Allocates `len` bytes on the guest heap (as the guest's malloc would).
    pub fn alloc(&mut self, len: u64) -> Result<u64> {
        self.heap.alloc(len).ok_or_else(|| {
            host_libc::host_fault(format!("guest heap exhausted allocating {len:#x} bytes"))
        })
    }
    /// Copies a string into the guest heap, NUL-terminated; returns its address.
    pub fn alloc_c_string(&mut self, s: &str) -> Result<u64> {
        let a = self.alloc(s.len() as u64 + 1)?;
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        self.write_memory(a, &bytes)?;
        Ok(a)
    }
    /// The `index`-th integer argument of the host function being run.
    pub fn arg(&self, index: usize) -> Result<u64> {
        let v = self.arch.arg(&self.emu, index)?;
        Ok(match self.arch {
            Arch::Arm => v & 0xffff_ffff,
            Arch::X86_64 => v,
        })
    }

    /// Registers a host function under `name` (satisfying references to `name@version`, or
    /// any version when `version` is None). Returns its guest address, usable as a function
    /// pointer passed to the guest. Re-registering a name replaces the function.
    pub fn register_host_fn(
        &mut self,
        name: &str,
        version: Option<&str>,
        f: impl Fn(&mut Session) -> Result<u64> + 'static,
    ) -> u64 {
        let versions: Vec<String> = version.map(|v| vec![v.to_string()]).unwrap_or_default();
        let layout = self.arch.layout();
        if let Some(i) = self.host_fns.iter().position(|h| h.name == name) {
            self.host_fns[i] = HostFunction {
                name: name.to_string(),
                versions,
                f: Rc::new(f),
            };
            return layout.host_fn_trap(i);
        }
        self.host_fns.push(HostFunction {
            name: name.to_string(),
            versions,
            f: Rc::new(f),
        });
        layout.host_fn_trap(self.host_fns.len() - 1)
    }

    /// Also accept `name@extra` for an already registered host function.
    pub(crate) fn add_host_version(&mut self, name: &str, extra: &str) {
        if let Some(h) = self.host_fns.iter_mut().find(|h| h.name == name) {
            h.versions.push(extra.to_string());
        }
    }

    /// Reserves `size` bytes of host-library data exported as `name`; returns its address.
    pub fn register_host_data(
        &mut self,
        name: &str,
        version: Option<&str>,
        size: u64,
    ) -> Result<u64> {
        let layout = self.arch.layout();
        let address = (self.host_data_next + 15) & !15;
        if address + size > layout.host_data + layout.host_data_size {
            return Err(HarnessError::Usage(format!(
                "host data area full registering {name}"
            )));
        }
        self.host_data_next = address + size;
        self.host_data.push(HostData {
            name: name.to_string(),
            versions: version.map(|v| vec![v.to_string()]).unwrap_or_default(),
            address,
            size,
        });
        Ok(address)
    }

    pub fn host_fn_address(&self, name: &str) -> Option<u64> {
        let layout = self.arch.layout();
        self.host_fns
            .iter()
            .position(|h| h.name == name)
            .map(|i| layout.host_fn_trap(i))
    }

    /// `object:symbol+offset` for a guest address.
    pub fn describe_address(&self, addr: u64) -> Option<String> {
        let layout = self.arch.layout();
        if layout.is_trap(addr) {
            if addr == layout.return_trap() {
                return Some("host:return".into());
            }
            if addr == layout.resolver_trap() {
                return Some("host:lazy-resolver".into());
            }
            return layout
                .host_fn_index(addr)
                .and_then(|k| self.host_fns.get(k))
                .map(|h| format!("host:{}", h.name));
        }
        let o = self
            .objects
            .iter()
            .find(|o| addr >= o.base && addr < o.base + o.size)?;
        let off = addr - o.base;
        let thumb_mask = if self.arch == Arch::Arm { !1u64 } else { !0 };
        let best = o
            .elf
            .all_symbols
            .iter()
            .filter(|(v, _, _)| (v & thumb_mask) <= off)
            .max_by_key(|(v, _, _)| v & thumb_mask);
        Some(match best {
            Some((v, _, n)) => format!("{}:{}+{:#x}", o.name, n, off - (v & thumb_mask)),
            None => format!("{}+{:#x}", o.name, off),
        })
    }

    pub(crate) fn fault(&self, kind: FaultKind, address: Option<u64>) -> HarnessError {
        let pc = self.arch.pc(&self.emu);
        let blocks: Vec<u64> = self.emu.get_data().recent_blocks.iter().copied().collect();
        HarnessError::Fault(Box::new(Fault {
            kind,
            pc,
            address,
            location: self.describe_address(pc),
            registers: self.arch.registers(&self.emu),
            recent_blocks: blocks
                .iter()
                .map(|&b| match self.describe_address(b) {
                    Some(d) => format!("{b:#x} {d}"),
                    None => format!("{b:#x}"),
                })
                .collect(),
        }))
    }
}
