//! Symbol resolution in the global scope, as glibc's `_dl_lookup_symbol_x` does it.

use super::*;

/// The object name a resolution to an undefined weak symbol (value 0) reports.
pub(crate) const UNDEFINED_WEAK: &str = "(undefined weak)";

impl Session {
    /// The built-in host library's definition of `name` (a function's trap address, or data).
    pub(super) fn lookup_host(&self, name: &str, version: Option<&str>) -> Option<Resolved> {
        let ok = |versions: &[String]| match version {
            Some(v) => versions.is_empty() || versions.iter().any(|x| x == v),
            None => true,
        };
        let (address, size) = match self
            .host_fns
            .iter()
            .position(|h| h.name == name && ok(&h.versions))
        {
            Some(i) => (self.arch.layout().host_fn_trap(i), 0),
            None => self
                .host_data
                .iter()
                .find(|d| d.name == name && ok(&d.versions))
                .map(|d| (d.address, d.size))?,
        };
        Some(Resolved {
            address,
            size,
            object: HOST_SONAMES[0].to_string(),
            object_index: None,
            is_tls: false,
            is_ifunc: false,
        })
    }

    /// The version a reference (symbol `sym_index` of object `i`) asks for.
    /// A reference through one of the object's own named versions (index 2 and up, as
    /// libgcc_s's `__cpu_indicator_init@GCC_4.8.0`, a non-default one) asks for that version,
    /// as in glibc's `l_versions`; the base version (1) asks for none.
    pub(super) fn wanted_version(&self, i: usize, sym: &DynSym) -> Option<String> {
        let d = &self.objects[i].elf.dynamic;
        d.version_names
            .iter()
            .find(|(idx, _, file)| *idx == sym.version_index && (file.is_some() || *idx >= 2))
            .map(|(_, n, _)| n.clone())
    }

    pub(super) fn symbol_in_object(
        &self,
        j: usize,
        name: &str,
        version: Option<&str>,
    ) -> Option<Resolved> {
        self.symbol_in_object_for(j, name, version, false)
    }

    /// `plt`: a JUMP_SLOT's lookup, which passes over canonical PLT entries.
    fn symbol_in_object_for(
        &self,
        j: usize,
        name: &str,
        version: Option<&str>,
        plt: bool,
    ) -> Option<Resolved> {
        let o = &self.objects[j];
        let k = symbols::lookup_for(&o.elf.dynamic, name, version, plt)?;
        let s = &o.elf.dynamic.symbols[k];
        let is_tls = s.kind == crate::elf::abi::STT_TLS;
        let address = if is_tls || s.shndx == crate::elf::abi::SHN_ABS {
            s.value
        } else {
            o.base.wrapping_add(s.value)
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
        self.resolve_reference(i, sym_index, skip_self, false)
    }

    /// [`Session::resolve_symbol`] for a PLT-class reference (`plt`: a JUMP_SLOT), which is
    /// never bound to a program's canonical PLT entry.
    pub(crate) fn resolve_reference(
        &self,
        i: usize,
        sym_index: u32,
        skip_self: bool,
        plt: bool,
    ) -> Result<Resolved> {
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
            // A TLS symbol's value is an offset in its module's block, not an address (mold
            // refers to local TLS symbols through .dynsym).
            let is_tls = sym.kind == crate::elf::abi::STT_TLS;
            return Ok(Resolved {
                address: if sym_index == 0 {
                    0
                } else if is_tls {
                    sym.value
                } else {
                    o.base.wrapping_add(sym.value)
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
                    let found = self.symbol_in_object_for(j, &sym.name, version.as_deref(), plt);
                    if let Some(r) = found {
                        return Ok(r);
                    }
                }
                ScopeItem::Host => {
                    if let Some(r) = self.lookup_host(&sym.name, version.as_deref()) {
                        return Ok(r);
                    }
                }
            }
        }
        if sym.is_weak() {
            return Ok(Resolved {
                address: 0,
                size: 0,
                object: UNDEFINED_WEAK.to_string(),
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
    pub(crate) fn target_of(&mut self, res: &Resolved) -> Result<u64> {
        if res.is_ifunc {
            self.call_address(res.address, &[])
        } else {
            Ok(res.address)
        }
    }

    /// The name and requested version of symbol `sym_index` of object `i`, for events.
    pub(super) fn symbol_label(&self, i: usize, sym_index: u32) -> (String, Option<String>) {
        let o = &self.objects[i];
        match o.elf.dynamic.symbols.get(sym_index as usize) {
            Some(s) if sym_index != 0 => (s.name.clone(), self.wanted_version(i, s)),
            _ => (String::new(), None),
        }
    }

    /// The address of a symbol in the global scope (host library included); Thumb functions
    /// keep bit 0 set. An IFUNC gives its resolver's address; [`Session::function_address`]
    /// calls the resolver.
    pub fn symbol_address(&self, name: &str) -> Option<u64> {
        self.global_definition(name).map(|r| r.address)
    }

    /// What a reference by name from the host (a call, `dlsym(RTLD_DEFAULT)`) reaches: the
    /// symbol's address, or for an IFUNC the implementation its resolver picks.
    pub fn function_address(&mut self, name: &str) -> Result<Option<u64>> {
        match self.global_definition(name) {
            Some(r) => self.target_of(&r).map(Some),
            None => Ok(None),
        }
    }

    fn global_definition(&self, name: &str) -> Option<Resolved> {
        for item in &self.scope {
            match *item {
                ScopeItem::Object(j) => {
                    if let Some(r) = self.symbol_in_object(j, name, None) {
                        return Some(r);
                    }
                }
                ScopeItem::Host => {
                    if let Some(r) = self.lookup_host(name, None) {
                        return Some(r);
                    }
                }
            }
        }
        None
    }

    /// `dlsym(handle, name)`: the object and its dependencies, breadth-first (then the host
    /// library). The lookup is logged as a binding of the handle's object, as glibc logs it;
    /// an IFUNC gives the implementation its resolver picks.
    pub fn symbol_in_handle(&mut self, handle: u64, name: &str) -> Result<Option<u64>> {
        let Some(root) = self.object_by_handle(handle) else {
            return Ok(None);
        };
        let mut queue = vec![root];
        let mut k = 0;
        let mut found = None;
        while k < queue.len() && found.is_none() {
            let i = queue[k];
            k += 1;
            found = self.symbol_in_object(i, name, None);
            for n in &self.objects[i].elf.dynamic.needed {
                if let Some(j) = self.find_loaded(n) {
                    if !queue.contains(&j) {
                        queue.push(j);
                    }
                }
            }
        }
        let found = found.or_else(|| self.lookup_host(name, None));
        let Some(res) = found else {
            return Ok(None);
        };
        let value = self.target_of(&res)?;
        self.record(Event::Dlsym {
            object: self.objects[root].name.clone(),
            symbol: name.to_string(),
            target_object: res.object,
            value,
        });
        Ok(Some(value))
    }
}
