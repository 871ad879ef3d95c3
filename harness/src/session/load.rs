//! Mapping objects: reading the ELF, finding DT_NEEDED libraries, placing segments with
//! their permissions, the static TLS block, RELRO.

use super::*;

impl Session {
    pub(super) fn read_elf(&self, path: &Path) -> Result<ElfObject> {
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

    pub(super) fn find_loaded(&self, name: &str) -> Option<usize> {
        self.objects.iter().position(|o| {
            o.name == name
                || o.elf.dynamic.soname.as_deref() == Some(name)
                || Path::new(&o.path).file_name().and_then(|f| f.to_str()) == Some(name)
                || o.path == name
        })
    }

    /// Finds the file for a DT_NEEDED name: a path when it has a slash, then the libraries
    /// given with `add_library` (by SONAME, then file name), then the search directories.
    pub(super) fn find_needed(&self, name: &str, needed_by: &str) -> Result<PathBuf> {
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
        // A file already mapped (as a dependency, say) is not mapped twice, as with dlopen.
        if let Ok(wanted) = path.canonicalize() {
            let same =
                |o: &LoadedObject| Path::new(&o.path).canonicalize().ok() == Some(wanted.clone());
            if let Some(i) = self.objects.iter().position(same) {
                return Ok(i);
            }
        }
        let first_new = self.objects.len();
        let elf = self.read_elf(path)?;
        if process::is_static(&elf) {
            return self.load_static(elf, path);
        }
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
        // The host library is always reachable, after everything loaded so far.
        if !self.scope.contains(&ScopeItem::Host) {
            self.scope.push(ScopeItem::Host);
        }
        for i in first_new..self.objects.len() {
            self.record_canonical_plt(i);
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

    pub(super) fn map_object(&mut self, elf: ElfObject, path: &Path) -> Result<usize> {
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let name = elf
            .dynamic
            .soname
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or(file_name);
        for w in &elf.warnings {
            if self.options.strict {
                return Err(HarnessError::BadElf {
                    path: path.display().to_string(),
                    message: w.clone(),
                });
            }
            self.record(Event::Warning {
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
            let (at, len) = (base + p as u64 * PAGE, (q - p) as u64 * PAGE);
            machine::map(&mut self.emu, at, len, machine::prot_from_flags(prot[p]))
                .map_err(|e| placement_error(path, at, len, &e))?;
            p = q;
        }
        for s in &elf.segments {
            // Fresh mappings are zero: only file-backed bytes need writing (.bss is free).
            let bytes = &elf.image[s.vaddr as usize..(s.vaddr + s.filesz) as usize];
            machine::write(&mut self.emu, base + s.vaddr, bytes)
                .map_err(|e| placement_error(path, base + s.vaddr, s.filesz, &e))?;
        }
        // A static program's start-up makes its own TLS block.
        let tls = match elf.tls {
            Some(t) if !process::is_static(&elf) => Some(self.allocate_tls(&elf, t)?),
            _ => None,
        };
        let lazy = !self.options.bind_now && !elf.dynamic.bind_now && elf.dynamic.pltgot.is_some();
        self.record(Event::Loaded {
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
        // Breadth-first load order is the scope order; a library loaded by a later `load`
        // goes after the host library, as a dlopen'ed library follows libc in glibc.
        self.scope.push(ScopeItem::Object(i));
        Ok(i)
    }

    /// Places the object's TLS block in the static TLS area (variant 1 on ARM, 2 on x86-64)
    /// and copies its initialisation image. Returns (module id, block address).
    pub(super) fn allocate_tls(
        &mut self,
        elf: &ElfObject,
        t: elf::TlsSegment,
    ) -> Result<(u64, u64)> {
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
            return Err(HarnessError::BadElf {
                path: elf.path.clone(),
                message: format!(
                    "its TLS template ({:#x} bytes aligned to {align:#x}) does not fit in the static TLS area left",
                    t.memsz
                ),
            });
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

    pub(super) fn protect_relro(&mut self, i: usize) -> Result<()> {
        let o = &self.objects[i];
        if let Some((vaddr, memsz)) = o.elf.relro {
            // Clamp to the object: a PT_GNU_RELRO beyond it is ignored rather than trusted.
            let end_off = vaddr.saturating_add(memsz).min(o.size);
            let start = page_down(o.base + vaddr.min(o.size));
            let end = page_down(o.base + end_off);
            if end > start {
                self.emu
                    .mem_protect(start, end - start, Prot::READ)
                    .map_err(|e| HarnessError::emu("protect RELRO", e))?;
            }
        }
        Ok(())
    }

    /// `dlopen`: finds `name` as DT_NEEDED would (a path when it has a slash), loads it and
    /// its dependencies into the global scope and runs their initialisers. Returns the
    /// object's handle (its base address). Already loaded objects are not loaded again.
    pub fn open_library(&mut self, name: &str) -> Result<u64> {
        if let Some(i) = self.find_loaded(name) {
            return Ok(self.objects[i].base);
        }
        let path = self.find_needed(name, "dlopen")?;
        let i = self.load(path)?;
        self.run_init()?;
        Ok(self.objects[i].base)
    }

    /// The object whose handle (base address) is `handle`.
    pub fn object_by_handle(&self, handle: u64) -> Option<usize> {
        self.objects.iter().position(|o| o.base == handle)
    }
}

/// A mapping the emulator refused, named by the library it was for (a fixed-address program
/// that overlaps the harness's own regions, say).
fn placement_error(path: &Path, at: u64, len: u64, e: &HarnessError) -> HarnessError {
    HarnessError::BadElf {
        path: path.display().to_string(),
        message: format!("cannot map {len:#x} bytes at {at:#x} into the emulator: {e}"),
    }
}
