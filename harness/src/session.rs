//! A loader session: one emulated CPU, the objects mapped into it, the global scope, the host
//! library, and the event log.

use crate::arch::{Arch, RelocKind};
use crate::elf::{self, page_down, page_up, DynSym, ElfObject, Reloc, PAGE};
use crate::error::{Fault, FaultKind, HarnessError, Result};
use crate::events::Event;
use crate::host_libc::{self, Heap};
use crate::machine::{self, Emu};
use crate::symbols;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use unicorn_engine::unicorn_const::{uc_error, MemType, Prot};

/// A host function: reads its arguments through the session (`Session::arg`), may touch guest
/// memory or call back into the guest, and returns the value for r0 / rax.
pub type HostFn = Rc<dyn Fn(&mut Session) -> Result<u64>>;

/// Sonames the built-in host library answers to.
pub const HOST_SONAMES: &[&str] = &[
    "libc.so.6",
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind_now: false,
            block_budget: 20_000_000,
            strict: false,
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
    events: Vec<Event>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    output: Vec<u8>,
    next_base: u64,
    thread_pointer: u64,
    tls_used: u64,
    next_tls_module: u64,
    init_order: Vec<usize>,
    depth: usize,
    pub(crate) stdout_file: u64,
    pub(crate) stderr_file: u64,
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
        let thread_pointer = match arch {
            // Variant 1: TP at the TCB, blocks above it.
            Arch::Arm => layout.tls,
            // Variant 2: blocks below TP; the TCB (one page) above it.
            Arch::X86_64 => layout.tls + layout.tls_size - PAGE,
        };
        arch.setup_cpu(&mut emu, thread_pointer)?;
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
            events: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            output: Vec::new(),
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
        &self.events
    }
    /// Everything the guest wrote to stdout and stderr, interleaved as written.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn objects(&self) -> &[LoadedObject] {
        &self.objects
    }
    pub fn thread_pointer(&self) -> u64 {
        self.thread_pointer
    }

    pub(crate) fn write_stream(&mut self, stderr: bool, bytes: &[u8]) {
        if stderr {
            self.stderr.extend_from_slice(bytes);
        } else {
            self.stdout.extend_from_slice(bytes);
        }
        self.output.extend_from_slice(bytes);
    }

    // ---- guest memory, for host functions and users ----

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

    // ---- host library ----

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

    fn lookup_host(&self, name: &str, version: Option<&str>) -> Option<(u64, u64)> {
        let ok = |versions: &[String]| match version {
            Some(v) => versions.is_empty() || versions.iter().any(|x| x == v),
            None => true,
        };
        if let Some(i) = self
            .host_fns
            .iter()
            .position(|h| h.name == name && ok(&h.versions))
        {
            return Some((self.arch.layout().host_fn_trap(i), 0));
        }
        self.host_data
            .iter()
            .find(|d| d.name == name && ok(&d.versions))
            .map(|d| (d.address, d.size))
    }

    // ---- loading ----

    fn read_elf(&self, path: &Path) -> Result<ElfObject> {
        let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
        let obj = elf::parse(&data, &path.display().to_string())?;
        if obj.arch != self.arch {
            return Err(HarnessError::WrongArch {
                path: path.display().to_string(),
                expected: self.arch.to_string(),
                found: obj.arch.to_string(),
            });
        }
        Ok(obj)
    }

    fn find_loaded(&self, name: &str) -> Option<usize> {
        self.objects.iter().position(|o| {
            o.name == name
                || o.elf.dynamic.soname.as_deref() == Some(name)
                || Path::new(&o.path).file_name().and_then(|f| f.to_str()) == Some(name)
                || o.path == name
        })
    }

    /// Finds the file for a DT_NEEDED name: a path when it has a slash, then the libraries
    /// given with `add_library` (by SONAME, then file name), then the search directories.
    fn find_needed(&self, name: &str, needed_by: &str) -> Result<PathBuf> {
        if name.contains('/') {
            let p = PathBuf::from(name);
            if p.exists() {
                return Ok(p);
            }
        }
        for p in &self.available {
            if let Ok(data) = std::fs::read(p) {
                if let Ok(o) = elf::parse(&data, &p.display().to_string()) {
                    if o.dynamic.soname.as_deref() == Some(name) {
                        return Ok(p.clone());
                    }
                }
            }
        }
        let base = Path::new(name).file_name();
        for p in &self.available {
            if p.file_name() == base {
                return Ok(p.clone());
            }
        }
        for d in &self.search_dirs {
            let p = d.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
        Err(HarnessError::LibraryNotFound {
            name: name.to_string(),
            needed_by: needed_by.to_string(),
        })
    }

    /// Loads `path` and, breadth-first, everything it needs; relocates them; returns the
    /// index of the object loaded for `path`. Like `dlopen(path, RTLD_GLOBAL)`.
    pub fn load(&mut self, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let first_new = self.objects.len();
        let elf = self.read_elf(path)?;
        let root = self.map_object(elf, path)?;
        let mut queue = vec![root];
        let mut qi = 0;
        while qi < queue.len() {
            let i = queue[qi];
            qi += 1;
            let needed = self.objects[i].elf.dynamic.needed.clone();
            for name in needed {
                if HOST_SONAMES.contains(&name.as_str()) {
                    if !self.scope.contains(&ScopeItem::Host) {
                        self.scope.push(ScopeItem::Host);
                    }
                    continue;
                }
                if self.find_loaded(&name).is_some() {
                    continue;
                }
                let p = self.find_needed(&name, &self.objects[i].name.clone())?;
                let elf = self.read_elf(&p)?;
                let j = self.map_object(elf, &p)?;
                queue.push(j);
            }
        }
        // The host library is always reachable, after everything else.
        if !self.scope.contains(&ScopeItem::Host) {
            self.scope.push(ScopeItem::Host);
        } else if let Some(pos) = self.scope.iter().position(|s| *s == ScopeItem::Host) {
            // Keep objects loaded later ahead of the host only if they came after it in BFS.
            let _ = pos;
        }
        // Dependencies first, as glibc relocates (matters for COPY and IRELATIVE resolvers).
        for i in (first_new..self.objects.len()).rev() {
            self.relocate(i)?;
        }
        for i in first_new..self.objects.len() {
            self.protect_relro(i)?;
        }
        Ok(root)
    }

    fn map_object(&mut self, elf: ElfObject, path: &Path) -> Result<usize> {
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let name = elf.dynamic.soname.clone().unwrap_or(file_name);
        for w in &elf.warnings {
            if self.options.strict {
                return Err(HarnessError::BadElf {
                    path: path.display().to_string(),
                    message: w.clone(),
                });
            }
            self.events.push(Event::Warning {
                object: name.clone(),
                message: w.clone(),
            });
        }
        if let Err(m) = symbols::cross_check(&elf.dynamic) {
            return Err(HarnessError::BadElf {
                path: path.display().to_string(),
                message: format!("hash table disagrees with .dynsym: {m}"),
            });
        }
        let size = elf.image.len() as u64;
        let base = if elf.e_type == crate::elf::abi::ET_EXEC {
            0
        } else {
            let align = elf.max_align.max(PAGE);
            let b = self.next_base.div_ceil(align) * align;
            self.next_base = page_up(b + size) + 0x10000;
            b
        };
        // Per-page permissions: the union of the segments touching the page.
        let pages = (size / PAGE) as usize;
        let mut prot = vec![0u32; pages];
        for s in &elf.segments {
            let first = page_down(s.vaddr) / PAGE;
            let last = page_up(s.vaddr + s.memsz) / PAGE;
            for p in first..last {
                prot[p as usize] |= s.flags;
            }
        }
        let mut p = 0;
        while p < pages {
            if prot[p] == 0 {
                p += 1;
                continue;
            }
            let mut q = p;
            while q < pages && prot[q] == prot[p] {
                q += 1;
            }
            machine::map(
                &mut self.emu,
                base + p as u64 * PAGE,
                (q - p) as u64 * PAGE,
                machine::prot_from_flags(prot[p]),
            )?;
            p = q;
        }
        for s in &elf.segments {
            let bytes = &elf.image[s.vaddr as usize..(s.vaddr + s.memsz) as usize];
            machine::write(&mut self.emu, base + s.vaddr, bytes)?;
        }
        let tls = match elf.tls {
            Some(t) => Some(self.allocate_tls(&elf, t)?),
            None => None,
        };
        let lazy = !self.options.bind_now && !elf.dynamic.bind_now && elf.dynamic.pltgot.is_some();
        self.events.push(Event::Loaded {
            object: name.clone(),
            path: path.display().to_string(),
            base,
            size,
        });
        self.objects.push(LoadedObject {
            name,
            path: path.display().to_string(),
            base,
            size,
            elf,
            tls,
            lazy,
            relocated: false,
            init_started: false,
            fini_done: false,
        });
        let i = self.objects.len() - 1;
        let host_pos = self.scope.iter().position(|s| *s == ScopeItem::Host);
        match host_pos {
            // libc is conventionally last; an object loaded after it still precedes nothing.
            Some(_) | None => self.scope.push(ScopeItem::Object(i)),
        }
        Ok(i)
    }

    /// Places the object's TLS block in the static TLS area (variant 1 on ARM, 2 on x86-64)
    /// and copies its initialisation image. Returns (module id, block address).
    fn allocate_tls(&mut self, elf: &ElfObject, t: elf::TlsSegment) -> Result<(u64, u64)> {
        let layout = self.arch.layout();
        let align = t.align.max(1);
        let block = match self.arch {
            Arch::Arm => {
                let off = self.tls_used.div_ceil(align) * align;
                self.tls_used = off + t.memsz;
                self.thread_pointer + off
            }
            Arch::X86_64 => {
                let off = (self.tls_used + t.memsz).div_ceil(align) * align;
                self.tls_used = off;
                self.thread_pointer - off
            }
        };
        if block < layout.tls || block + t.memsz > layout.tls + layout.tls_size {
            return Err(HarnessError::Usage(format!(
                "{}: static TLS area full ({:#x} bytes needed)",
                elf.path, t.memsz
            )));
        }
        let init = elf.bytes(t.vaddr, t.filesz)?.to_vec();
        machine::write(&mut self.emu, block, &init)?;
        let module = self.next_tls_module;
        self.next_tls_module += 1;
        Ok((module, block))
    }

    pub(crate) fn tls_block(&self, module: u64) -> Option<u64> {
        self.objects
            .iter()
            .find_map(|o| o.tls.filter(|t| t.0 == module).map(|t| t.1))
    }

    fn protect_relro(&mut self, i: usize) -> Result<()> {
        let o = &self.objects[i];
        if let Some((vaddr, memsz)) = o.elf.relro {
            let start = page_down(o.base + vaddr);
            let end = page_down(o.base + vaddr + memsz);
            if end > start {
                self.emu
                    .mem_protect(start, end - start, Prot::READ)
                    .map_err(|e| HarnessError::emu("protect RELRO", e))?;
            }
        }
        Ok(())
    }

    /// The version a reference (symbol `sym_index` of object `i`) asks for.
    fn wanted_version(&self, i: usize, sym: &DynSym) -> Option<String> {
        let d = &self.objects[i].elf.dynamic;
        d.version_names
            .iter()
            .find(|(idx, _, file)| *idx == sym.version_index && file.is_some())
            .map(|(_, n, _)| n.clone())
    }

    fn symbol_in_object(&self, j: usize, name: &str, version: Option<&str>) -> Option<Resolved> {
        let o = &self.objects[j];
        let k = symbols::lookup(&o.elf.dynamic, name, version)?;
        let s = &o.elf.dynamic.symbols[k];
        let is_tls = s.kind == crate::elf::abi::STT_TLS;
        let address = if is_tls || s.shndx == crate::elf::abi::SHN_ABS {
            s.value
        } else {
            o.base + s.value
        };
        Some(Resolved {
            address,
            size: s.size,
            object: o.name.clone(),
            object_index: Some(j),
            is_tls,
            is_ifunc: s.kind == crate::elf::abi::STT_GNU_IFUNC,
        })
    }

    /// Resolves symbol `sym_index` of object `i` as glibc would: the object itself first
    /// under DT_SYMBOLIC or for a protected definition, then the global scope in order.
    /// `skip_self` is for COPY relocations. Undefined weak gives address 0.
    pub fn resolve_symbol(&self, i: usize, sym_index: u32, skip_self: bool) -> Result<Resolved> {
        let o = &self.objects[i];
        let sym = o
            .elf
            .dynamic
            .symbols
            .get(sym_index as usize)
            .ok_or_else(|| HarnessError::BadDynamic {
                object: o.name.clone(),
                message: format!("relocation refers to symbol index {sym_index} beyond .dynsym"),
            })?;
        if sym.bind == crate::elf::abi::STB_LOCAL || sym_index == 0 {
            return Ok(Resolved {
                address: if sym_index == 0 {
                    0
                } else {
                    o.base + sym.value
                },
                size: sym.size,
                object: o.name.clone(),
                object_index: Some(i),
                is_tls: sym.kind == crate::elf::abi::STT_TLS,
                is_ifunc: sym.kind == crate::elf::abi::STT_GNU_IFUNC,
            });
        }
        let version = self.wanted_version(i, sym);
        let self_first = !skip_self
            && sym.is_defined()
            && (o.elf.dynamic.symbolic || sym.visibility == crate::elf::abi::STV_PROTECTED);
        if self_first {
            if let Some(r) = self.symbol_in_object(i, &sym.name, version.as_deref()) {
                return Ok(r);
            }
        }
        for item in &self.scope {
            match *item {
                ScopeItem::Object(j) => {
                    if skip_self && j == i {
                        continue;
                    }
                    if let Some(r) = self.symbol_in_object(j, &sym.name, version.as_deref()) {
                        return Ok(r);
                    }
                }
                ScopeItem::Host => {
                    if let Some((address, size)) = self.lookup_host(&sym.name, version.as_deref()) {
                        return Ok(Resolved {
                            address,
                            size,
                            object: "libc.so.6 (host)".to_string(),
                            object_index: None,
                            is_tls: false,
                            is_ifunc: false,
                        });
                    }
                }
            }
        }
        if sym.is_weak() {
            return Ok(Resolved {
                address: 0,
                size: 0,
                object: "(undefined weak)".to_string(),
                object_index: None,
                is_tls: false,
                is_ifunc: false,
            });
        }
        Err(HarnessError::UndefinedSymbol {
            object: o.name.clone(),
            symbol: sym.name.clone(),
            version,
        })
    }

    /// The address a reference should hold: an IFUNC's resolver is called for it.
    fn target_of(&mut self, res: &Resolved) -> Result<u64> {
        if res.is_ifunc {
            self.call_address(res.address, &[])
        } else {
            Ok(res.address)
        }
    }

    fn symbol_label(&self, i: usize, sym_index: u32) -> String {
        let o = &self.objects[i];
        match o.elf.dynamic.symbols.get(sym_index as usize) {
            Some(s) if sym_index != 0 => match self.wanted_version(i, s) {
                Some(v) => format!("{}@{v}", s.name),
                None => s.name.clone(),
            },
            _ => String::new(),
        }
    }

    fn relocate(&mut self, i: usize) -> Result<()> {
        if self.objects[i].relocated {
            return Ok(());
        }
        self.objects[i].relocated = true;
        let arch = self.arch;
        let base = self.objects[i].base;
        let relocs: Vec<Reloc> = self.objects[i].elf.dynamic.relocs.clone();
        let mut relative = 0u64;
        for r in &relocs {
            if arch.classify(r.r_type) == Some(RelocKind::Relative) {
                relative += 1;
            }
            self.apply_reloc(i, r, false)?;
        }
        if relative > 0 {
            let object = self.objects[i].name.clone();
            self.events.push(Event::RelativeRelocations {
                object,
                count: relative,
            });
        }
        let jmprel: Vec<Reloc> = self.objects[i].elf.dynamic.jmprel.clone();
        if self.objects[i].lazy {
            let pltgot = self.objects[i].elf.dynamic.pltgot.unwrap_or(0) + base;
            let w = arch.word_size();
            // GOT[1] identifies the object, GOT[2] is the resolver (glibc's protocol).
            self.write_word(pltgot + w, base)?;
            self.write_word(pltgot + 2 * w, arch.layout().resolver_trap())?;
            for r in &jmprel {
                match arch.classify(r.r_type) {
                    Some(RelocKind::JumpSlot) => {
                        // The slot holds the link-time address of the PLT code that enters the
                        // resolver: add the load bias.
                        let slot = base + r.offset;
                        let v = self.read_word(slot)?;
                        self.write_word(slot, v.wrapping_add(base))?;
                    }
                    _ => self.apply_reloc(i, r, true)?,
                }
            }
        } else {
            for r in &jmprel {
                self.apply_reloc(i, r, true)?;
            }
        }
        Ok(())
    }

    fn apply_reloc(&mut self, i: usize, r: &Reloc, plt: bool) -> Result<()> {
        let arch = self.arch;
        let o = &self.objects[i];
        let base = o.base;
        let place = base + r.offset;
        let object = o.name.clone();
        let kind = arch
            .classify(r.r_type)
            .ok_or_else(|| HarnessError::UnsupportedRelocation {
                object: object.clone(),
                name: arch.reloc_name(r.r_type),
                r_type: r.r_type,
                offset: r.offset,
            })?;
        if !o.elf.in_segment(r.offset) {
            return Err(HarnessError::BadDynamic {
                object,
                message: format!(
                    "{} at {:#x} is outside every PT_LOAD",
                    arch.reloc_name(r.r_type),
                    r.offset
                ),
            });
        }
        let addend = |s: &Self| -> Result<u64> {
            match r.addend {
                Some(a) => Ok(a as u64),
                None => s.read_word(place),
            }
        };
        let value = match kind {
            RelocKind::None => return Ok(()),
            RelocKind::Relative => base.wrapping_add(addend(self)?),
            RelocKind::Absolute => {
                let a = addend(self)?;
                self.resolve_symbol(i, r.sym, false)?
                    .address
                    .wrapping_add(a)
            }
            RelocKind::GlobDat | RelocKind::JumpSlot => {
                let res = self.resolve_symbol(i, r.sym, false)?;
                let v = res.address.wrapping_add(r.addend.unwrap_or(0) as u64);
                if kind == RelocKind::JumpSlot || plt {
                    let before = self.read_word(place)?;
                    let symbol = self.symbol_label(i, r.sym);
                    self.write_word(place, v)?;
                    self.events.push(Event::Bound {
                        object,
                        slot: place,
                        symbol,
                        target: v,
                        target_object: res.object,
                        before,
                        after: v,
                        lazy: false,
                    });
                    return Ok(());
                }
                v
            }
            RelocKind::DtpMod => {
                let res = self.resolve_symbol(i, r.sym, false)?;
                let module_of = if r.sym == 0 {
                    Some(i)
                } else {
                    res.object_index
                };
                match module_of.and_then(|j| self.objects[j].tls) {
                    Some((m, _)) => m,
                    None if res.address == 0 && res.object_index.is_none() => 0,
                    None => {
                        return Err(HarnessError::BadDynamic {
                            object,
                            message: format!(
                                "{} at {:#x}: symbol's object has no PT_TLS",
                                arch.reloc_name(r.r_type),
                                r.offset
                            ),
                        })
                    }
                }
            }
            RelocKind::DtpOff => {
                let a = addend(self)?;
                self.resolve_symbol(i, r.sym, false)?
                    .address
                    .wrapping_add(a)
            }
            RelocKind::TpOff => {
                let a = addend(self)?;
                let res = self.resolve_symbol(i, r.sym, false)?;
                let module_of = if r.sym == 0 {
                    Some(i)
                } else {
                    res.object_index
                };
                let block = module_of
                    .and_then(|j| self.objects[j].tls)
                    .map(|t| t.1)
                    .ok_or_else(|| HarnessError::BadDynamic {
                        object: object.clone(),
                        message: format!(
                            "{} at {:#x}: symbol's object has no PT_TLS",
                            arch.reloc_name(r.r_type),
                            r.offset
                        ),
                    })?;
                let tp_off = block.wrapping_sub(self.thread_pointer);
                res.address.wrapping_add(a).wrapping_add(tp_off)
            }
            RelocKind::IRelative => {
                let resolver = base.wrapping_add(addend(self)?);
                self.call_address(resolver, &[])?
            }
            RelocKind::Copy => {
                let res = self.resolve_symbol(i, r.sym, true)?;
                let sym_size = self.objects[i]
                    .elf
                    .dynamic
                    .symbols
                    .get(r.sym as usize)
                    .map_or(0, |s| s.size);
                let bytes = self.read_memory(res.address, sym_size as usize)?;
                self.write_memory(place, &bytes)?;
                let symbol = self.symbol_label(i, r.sym);
                self.events.push(Event::Relocated {
                    object,
                    kind: arch.reloc_name(r.r_type),
                    address: place,
                    symbol,
                    value: res.address,
                });
                return Ok(());
            }
        };
        self.write_word(place, value)?;
        if kind != RelocKind::Relative {
            let symbol = self.symbol_label(i, r.sym);
            self.events.push(Event::Relocated {
                object,
                kind: arch.reloc_name(r.r_type),
                address: place,
                symbol,
                value,
            });
        }
        Ok(())
    }

    // ---- init / fini ----

    /// Dependencies before the objects that need them (depth-first post-order over DT_NEEDED).
    fn dependency_order(&self) -> Vec<usize> {
        fn visit(s: &Session, i: usize, seen: &mut HashSet<usize>, out: &mut Vec<usize>) {
            if !seen.insert(i) {
                return;
            }
            for n in &s.objects[i].elf.dynamic.needed {
                if let Some(j) = s.find_loaded(n) {
                    visit(s, j, seen, out);
                }
            }
            out.push(i);
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for i in 0..self.objects.len() {
            visit(self, i, &mut seen, &mut out);
        }
        out
    }

    /// Runs DT_INIT then DT_INIT_ARRAY of every loaded object not yet initialised,
    /// dependencies first.
    pub fn run_init(&mut self) -> Result<()> {
        let layout = self.arch.layout();
        let argv = layout.host_data + 0x100;
        let envp = layout.host_data + 0x100 + 2 * self.arch.word_size();
        for i in self.dependency_order() {
            if self.objects[i].init_started {
                continue;
            }
            self.objects[i].init_started = true;
            self.init_order.push(i);
            let (base, name) = (self.objects[i].base, self.objects[i].name.clone());
            if let Some(init) = self.objects[i].elf.dynamic.init {
                self.events.push(Event::Init {
                    object: name.clone(),
                    kind: "DT_INIT".into(),
                    address: base + init,
                });
                self.call_address(base + init, &[1, argv, envp])?;
            }
            let arr = self.objects[i].elf.dynamic.init_array_addr;
            for k in 0..self.objects[i].elf.dynamic.init_array.len() as u64 {
                let f = self.read_word(base + arr + k * self.arch.word_size())?;
                if f == 0 || f == self.mask(u64::MAX) {
                    continue;
                }
                self.events.push(Event::Init {
                    object: name.clone(),
                    kind: format!("DT_INIT_ARRAY[{k}]"),
                    address: f,
                });
                self.call_address(f, &[1, argv, envp])?;
            }
        }
        Ok(())
    }

    fn mask(&self, v: u64) -> u64 {
        match self.arch {
            Arch::Arm => v & 0xffff_ffff,
            Arch::X86_64 => v,
        }
    }

    /// Runs the remaining `atexit`/`__cxa_atexit` handlers, then DT_FINI_ARRAY (reversed) and
    /// DT_FINI of every initialised object, in the reverse of the order they were initialised.
    pub fn run_fini(&mut self) -> Result<()> {
        host_libc::run_atexit(self, None)?;
        let order: Vec<usize> = self.init_order.iter().rev().copied().collect();
        for i in order {
            if self.objects[i].fini_done {
                continue;
            }
            self.objects[i].fini_done = true;
            let (base, name) = (self.objects[i].base, self.objects[i].name.clone());
            let arr = self.objects[i].elf.dynamic.fini_array_addr;
            let n = self.objects[i].elf.dynamic.fini_array.len() as u64;
            for k in (0..n).rev() {
                let f = self.read_word(base + arr + k * self.arch.word_size())?;
                if f == 0 || f == self.mask(u64::MAX) {
                    continue;
                }
                self.events.push(Event::Fini {
                    object: name.clone(),
                    kind: format!("DT_FINI_ARRAY[{k}]"),
                    address: f,
                });
                self.call_address(f, &[])?;
            }
            if let Some(fini) = self.objects[i].elf.dynamic.fini {
                self.events.push(Event::Fini {
                    object: name.clone(),
                    kind: "DT_FINI".into(),
                    address: base + fini,
                });
                self.call_address(base + fini, &[])?;
            }
        }
        Ok(())
    }

    /// Is object `i` a program (PT_INTERP or ET_EXEC) rather than a library?
    pub fn is_program(&self, i: usize) -> bool {
        self.objects
            .get(i)
            .is_some_and(|o| o.elf.has_interp || o.elf.e_type == crate::elf::abi::ET_EXEC)
    }

    /// Runs a program from its ELF entry point with the initial process stack a kernel builds
    /// (argc, argv, envp, an empty auxv). `_start` reaches the host's `__libc_start_main`,
    /// which calls `main` and then `exit`. Returns the exit status.
    pub fn run_entry(&mut self, i: usize, args: &[&str]) -> Result<i32> {
        let o = self
            .objects
            .get(i)
            .ok_or_else(|| HarnessError::Usage(format!("no object {i}")))?;
        let entry = o.base + o.elf.entry;
        let layout = self.arch.layout();
        let w = self.arch.word_size();
        let mut ptrs = Vec::new();
        for a in args {
            ptrs.push(self.alloc_c_string(a)?);
        }
        // argc, argv[], NULL, envp NULL, auxv AT_NULL pair.
        let mut words = vec![ptrs.len() as u64];
        words.extend(&ptrs);
        words.extend([0, 0, 0, 0]);
        let sp = (layout.stack_top - 0x1000) & !15;
        for (k, v) in words.iter().enumerate() {
            self.write_word(sp + k as u64 * w, *v)?;
        }
        self.events.push(Event::Call {
            function: "_start".into(),
            address: entry,
            args: Vec::new(),
        });
        match self.start_at(entry, sp) {
            Err(HarnessError::Exit { code }) => Ok(code),
            Err(e) => Err(e),
            Ok(_) => Err(self.fault(FaultKind::Emulator("_start returned".into()), None)),
        }
    }

    fn start_at(&mut self, pc: u64, sp: u64) -> Result<u64> {
        let s = self.emu.get_data_mut();
        s.blocks_run = 0;
        s.budget_exceeded = false;
        // No return address: _start never returns (a return lands in the return trap).
        self.arch.prepare_call(&mut self.emu, pc, &[], sp + 8)?;
        self.arch.set_sp(&mut self.emu, sp)?;
        self.depth += 1;
        let r = self.run(pc);
        self.depth -= 1;
        r
    }

    // ---- calling ----

    /// The address of a symbol in the global scope (host library included); Thumb functions
    /// keep bit 0 set.
    pub fn symbol_address(&self, name: &str) -> Option<u64> {
        for item in &self.scope {
            match *item {
                ScopeItem::Object(j) => {
                    if let Some(r) = self.symbol_in_object(j, name, None) {
                        return Some(r.address);
                    }
                }
                ScopeItem::Host => {
                    if let Some((a, _)) = self.lookup_host(name, None) {
                        return Some(a);
                    }
                }
            }
        }
        None
    }

    /// Calls a function exported in the global scope with integer/pointer arguments (each
    /// passed as one register-sized argument) and returns r0 / rax.
    pub fn call(&mut self, symbol: &str, args: &[u64]) -> Result<u64> {
        let address = self
            .symbol_address(symbol)
            .ok_or_else(|| HarnessError::NoSuchSymbol {
                symbol: symbol.to_string(),
            })?;
        self.events.push(Event::Call {
            function: symbol.to_string(),
            address,
            args: args.to_vec(),
        });
        let value = self.call_address(address, args)?;
        self.events.push(Event::Return {
            function: symbol.to_string(),
            value,
        });
        Ok(value)
    }

    /// Calls guest code at `address` (bit 0 set = Thumb). Usable from inside host functions:
    /// the interrupted guest state is saved and restored around the nested call.
    pub fn call_address(&mut self, address: u64, args: &[u64]) -> Result<u64> {
        let layout = self.arch.layout();
        if self.depth == 0 {
            let s = self.emu.get_data_mut();
            s.blocks_run = 0;
            s.budget_exceeded = false;
            let sp = layout.stack_top - 64;
            let pc = self.arch.prepare_call(&mut self.emu, address, args, sp)?;
            self.depth += 1;
            let r = self.run(pc);
            self.depth -= 1;
            return r;
        }
        let mut ctx = self
            .emu
            .context_alloc()
            .map_err(|e| HarnessError::emu("allocate context", e))?;
        self.emu
            .context_save(&mut ctx)
            .map_err(|e| HarnessError::emu("save context", e))?;
        // Below the interrupted frame and the x86-64 red zone.
        let sp = self.arch.sp(&self.emu)? - 256;
        let pc = self.arch.prepare_call(&mut self.emu, address, args, sp)?;
        self.depth += 1;
        let r = self.run(pc);
        self.depth -= 1;
        self.emu
            .context_restore(&ctx)
            .map_err(|e| HarnessError::emu("restore context", e))?;
        r
    }

    /// Runs from `pc` until the guest returns to the return trap, servicing host calls and
    /// the lazy resolver on the way.
    fn run(&mut self, mut pc: u64) -> Result<u64> {
        let layout = self.arch.layout();
        loop {
            {
                let s = self.emu.get_data_mut();
                s.bad_access = None;
                s.interrupt = None;
            }
            let r = self.emu.emu_start(pc, 0, 0, 0);
            let (bad, intr, budget) = {
                let s = self.emu.get_data();
                (s.bad_access, s.interrupt, s.budget_exceeded)
            };
            if budget {
                return Err(self.fault(FaultKind::BudgetExceeded, None));
            }
            if let Some(n) = intr {
                let kind = if self.arch == Arch::Arm && n == 1 {
                    FaultKind::UndefinedInstruction
                } else {
                    FaultKind::Interrupt(n)
                };
                return Err(self.fault(kind, None));
            }
            match r {
                Err(uc_error::FETCH_UNMAPPED) => {
                    let addr = bad.map_or_else(|| self.arch.pc(&self.emu), |b| b.1);
                    if addr == layout.return_trap() {
                        return self.arch.return_value(&self.emu);
                    }
                    if addr == layout.resolver_trap() {
                        pc = self.lazy_bind()?;
                        continue;
                    }
                    if let Some(k) = layout
                        .host_fn_index(addr)
                        .filter(|&k| k < self.host_fns.len())
                    {
                        pc = self.host_call(k)?;
                        continue;
                    }
                    return Err(self.fault(FaultKind::FetchUnmapped, Some(addr)));
                }
                Err(e) => {
                    let kind = match e {
                        uc_error::READ_UNMAPPED => FaultKind::ReadUnmapped,
                        uc_error::WRITE_UNMAPPED => FaultKind::WriteUnmapped,
                        uc_error::READ_PROT => FaultKind::ReadProtected,
                        uc_error::WRITE_PROT => FaultKind::WriteProtected,
                        uc_error::FETCH_PROT => FaultKind::FetchProtected,
                        uc_error::INSN_INVALID => FaultKind::UndefinedInstruction,
                        other => FaultKind::Emulator(format!("{other:?}")),
                    };
                    let addr = bad.map(|b| b.1);
                    let _: Option<MemType> = bad.map(|b| b.0);
                    return Err(self.fault(kind, addr));
                }
                Ok(()) => {
                    return Err(self.fault(
                        FaultKind::Emulator(
                            "emulation stopped without reaching the return address".into(),
                        ),
                        None,
                    ))
                }
            }
        }
    }

    fn host_call(&mut self, k: usize) -> Result<u64> {
        let f = self.host_fns[k].f.clone();
        let from = self.arch.caller(&self.emu)?;
        self.events.push(Event::HostCall {
            function: self.host_fns[k].name.clone(),
            from,
        });
        let value = f(self).map_err(|e| self.locate_host_error(e))?;
        self.arch.finish_host_call(&mut self.emu, value)
    }

    /// Host functions report faults without a pc; fill in where the guest called from.
    fn locate_host_error(&self, e: HarnessError) -> HarnessError {
        match e {
            HarnessError::Fault(mut f) if f.pc == 0 && f.registers.is_empty() => {
                let full = self.fault(f.kind.clone(), f.address);
                if let HarnessError::Fault(full) = full {
                    f.pc = full.pc;
                    f.location = full.location;
                    f.registers = full.registers;
                    f.recent_blocks = full.recent_blocks;
                }
                HarnessError::Fault(f)
            }
            other => other,
        }
    }

    fn lazy_bind(&mut self) -> Result<u64> {
        let (handle, index) = self.arch.resolver_entry(&self.emu)?;
        let Some(i) = self.objects.iter().position(|o| o.base == handle && o.lazy) else {
            return Err(self.fault(
                FaultKind::HostFunction(format!(
                    "lazy resolver entered with unknown object handle {handle:#x}"
                )),
                None,
            ));
        };
        let Some(r) = self.objects[i]
            .elf
            .dynamic
            .jmprel
            .get(index as usize)
            .copied()
        else {
            return Err(self.fault(
                FaultKind::HostFunction(format!(
                    "lazy resolver: relocation index {index} beyond {}'s .rel(a).plt",
                    self.objects[i].name
                )),
                None,
            ));
        };
        let slot = self.objects[i].base + r.offset;
        let before = self.read_word(slot)?;
        let res = self.resolve_symbol(i, r.sym, false)?;
        let target = self
            .target_of(&res)?
            .wrapping_add(r.addend.unwrap_or(0) as u64);
        self.write_word(slot, target)?;
        let symbol = self.symbol_label(i, r.sym);
        self.events.push(Event::Bound {
            object: self.objects[i].name.clone(),
            slot,
            symbol,
            target,
            target_object: res.object,
            before,
            after: target,
            lazy: true,
        });
        self.arch.resolver_exit(&mut self.emu, target)
    }

    // ---- faults ----

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
