//! Applying dynamic relocations at load time (lazily bound PLT slots only get the bias).

use super::*;

impl Session {
    pub(super) fn relocate(&mut self, i: usize) -> Result<()> {
        if self.objects[i].relocated {
            return Ok(());
        }
        self.objects[i].relocated = true;
        let arch = self.arch;
        let base = self.objects[i].base;
        let relocs: Vec<Reloc> = self.objects[i].elf.dynamic.relocs.clone();
        // As glibc: the packed relative relocations first, then REL/RELA.
        let mut relative = self.apply_relr(i)?;
        for r in &relocs {
            if arch.classify(r.r_type) == Some(RelocKind::Relative) {
                relative += 1;
            }
            self.apply_reloc(i, r, false)?;
        }
        if relative > 0 {
            let object = self.objects[i].name.clone();
            self.record(Event::RelativeRelocations {
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
                        if !self.objects[i].elf.in_segment(r.offset) {
                            return Err(HarnessError::BadDynamic {
                                object: self.objects[i].name.clone(),
                                message: format!(
                                    "JUMP_SLOT at {:#x} is outside every PT_LOAD",
                                    r.offset
                                ),
                            });
                        }
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

    /// Applies DT_RELR: each word named holds a link-time address, which gets the load bias.
    fn apply_relr(&mut self, i: usize) -> Result<u64> {
        let entries = std::mem::take(&mut self.objects[i].elf.dynamic.relr);
        let base = self.objects[i].base;
        let mut count = 0u64;
        let mut result = Ok(());
        for offset in crate::elf::relr_offsets(&entries, self.arch.word_size()) {
            if !self.objects[i].elf.in_segment(offset) {
                result = Err(HarnessError::BadDynamic {
                    object: self.objects[i].name.clone(),
                    message: format!("DT_RELR names {offset:#x}, outside every PT_LOAD"),
                });
                break;
            }
            let place = base.wrapping_add(offset);
            let v = self.read_word(place)?;
            self.write_word(place, v.wrapping_add(base))?;
            count += 1;
        }
        self.objects[i].elf.dynamic.relr = entries;
        result.map(|()| count)
    }

    pub(super) fn apply_reloc(&mut self, i: usize, r: &Reloc, plt: bool) -> Result<()> {
        let arch = self.arch;
        let o = &self.objects[i];
        let base = o.base;
        let place = base.wrapping_add(r.offset);
        let object = o.name.clone();
        let kind = arch
            .classify(r.r_type)
            .ok_or_else(|| HarnessError::UnsupportedRelocation {
                object: named_with_path(&object, &o.path),
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
        if kind == RelocKind::None {
            return Ok(());
        }
        // Symbolic kinds look their symbol up once; a copy relocation skips the program itself.
        let res = match kind {
            RelocKind::Relative | RelocKind::IRelative => None,
            RelocKind::Copy => Some(self.resolve_symbol(i, r.sym, true)?),
            RelocKind::JumpSlot => Some(self.resolve_reference(i, r.sym, false, true)?),
            _ => Some(self.resolve_symbol(i, r.sym, false)?),
        };
        let resolved = || {
            res.clone()
                .expect("symbolic relocation kinds resolve first")
        };
        let mut write_place = true;
        let value = match kind {
            RelocKind::None | RelocKind::Relative => base.wrapping_add(addend(self)?),
            // An IFUNC's resolver picks the address, as for a PLT slot.
            RelocKind::Absolute => {
                let a = addend(self)?;
                self.target_of(&resolved())?.wrapping_add(a)
            }
            RelocKind::DtpOff => resolved().address.wrapping_add(addend(self)?),
            RelocKind::GlobDat | RelocKind::JumpSlot => {
                let res = resolved();
                let v = self
                    .target_of(&res)?
                    .wrapping_add(r.addend.unwrap_or(0) as u64);
                if kind == RelocKind::JumpSlot || plt {
                    let before = self.read_word(place)?;
                    let (symbol, version) = self.symbol_label(i, r.sym);
                    self.write_word(place, v)?;
                    self.record(Event::Bound {
                        object,
                        slot: place,
                        symbol,
                        version,
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
                let res = resolved();
                match self.tls_module(i, r, &res) {
                    Some((m, _)) => m,
                    None if res.address == 0 && res.object_index.is_none() => 0,
                    None => return Err(no_tls(object, arch, r)),
                }
            }
            RelocKind::TpOff => {
                let a = addend(self)?;
                let res = resolved();
                res.address
                    .wrapping_add(a)
                    .wrapping_add(self.tp_offset_of_module(i, r, &res, &object)?)
            }
            RelocKind::TlsDesc => {
                // Static TLS only, so every descriptor gets glibc's `_dl_tlsdesc_return`
                // behaviour: the entry returns the variable's offset from the thread pointer.
                let res = resolved();
                let tp_off = self.tp_offset_of_module(i, r, &res, &object)?;
                let w = arch.word_size();
                let stub = arch.layout().tlsdesc_stub();
                write_place = false;
                match arch {
                    // x86-64 {entry, argument}, RELA addend.
                    Arch::X86_64 => {
                        let v = res
                            .address
                            .wrapping_add(r.addend.unwrap_or(0) as u64)
                            .wrapping_add(tp_off);
                        self.write_word(place, stub)?;
                        self.write_word(place + w, v)?;
                        v
                    }
                    // ARM {argument, entry}; for a symbol GNU ld leaves its lazy-resolution
                    // marker in the argument word, for a local descriptor the offset.
                    Arch::Arm => {
                        let a = if r.sym == 0 {
                            self.read_word(place)?
                        } else {
                            0
                        };
                        let v = res.address.wrapping_add(a).wrapping_add(tp_off) & 0xffff_ffff;
                        self.write_word(place, v)?;
                        self.write_word(place + w, stub)?;
                        v
                    }
                }
            }
            RelocKind::IRelative => {
                let resolver = base.wrapping_add(addend(self)?);
                self.call_address(resolver, &[])?
            }
            RelocKind::Copy => {
                let res = resolved();
                let sym_size = self.objects[i]
                    .elf
                    .dynamic
                    .symbols
                    .get(r.sym as usize)
                    .map_or(0, |s| s.size);
                let bytes = self.read_memory(res.address, sym_size as usize)?;
                self.write_memory(place, &bytes)?;
                write_place = false;
                res.address
            }
        };
        if write_place {
            self.write_word(place, value)?;
        }
        if kind != RelocKind::Relative {
            // Only a global symbol is looked up (and counts as a binding, as in glibc's log);
            // a local one (gold, mold put section and local TLS symbols in .dynsym) is not.
            let looked_up = r.sym != 0
                && self.objects[i]
                    .elf
                    .dynamic
                    .symbols
                    .get(r.sym as usize)
                    .is_some_and(|s| s.bind != crate::elf::abi::STB_LOCAL);
            let (symbol, version) = self.symbol_label(i, r.sym);
            self.record(Event::Relocated {
                object,
                kind: arch.reloc_name(r.r_type),
                address: place,
                symbol,
                version,
                value,
                target_object: res
                    .filter(|res| looked_up && res.object != super::resolve::UNDEFINED_WEAK)
                    .map(|res| res.object),
            });
        }
        Ok(())
    }

    /// The thread-pointer offset of the static TLS block that holds `r`'s variable.
    fn tp_offset_of_module(
        &self,
        i: usize,
        r: &Reloc,
        res: &Resolved,
        object: &str,
    ) -> Result<u64> {
        let block = self
            .tls_module(i, r, res)
            .map(|t| t.1)
            .ok_or_else(|| no_tls(object.to_string(), self.arch, r))?;
        Ok(block.wrapping_sub(self.thread_pointer))
    }

    /// The TLS module (id, static block address) that holds `r`'s variable: the defining
    /// object's, or the object's own for a relocation against symbol 0.
    fn tls_module(&self, i: usize, r: &Reloc, res: &Resolved) -> Option<(u64, u64)> {
        let defining = if r.sym == 0 {
            Some(i)
        } else {
            res.object_index
        };
        defining.and_then(|j| self.objects[j].tls)
    }
}

fn no_tls(object: String, arch: Arch, r: &Reloc) -> HarnessError {
    HarnessError::BadDynamic {
        object,
        message: format!(
            "{} at {:#x}: symbol's object has no PT_TLS",
            arch.reloc_name(r.r_type),
            r.offset
        ),
    }
}

/// The object's name for an error, with its path when the name (a SONAME) is not the file's:
/// a corrupt DT_SONAME must not hide which file is at fault.
fn named_with_path(name: &str, path: &str) -> String {
    let file = std::path::Path::new(path).file_name();
    if file.is_some_and(|f| f.to_string_lossy() == name) {
        name.to_string()
    } else {
        format!("{name} ({path})")
    }
}
