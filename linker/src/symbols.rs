//! The global symbol table: a flat vector indexed by [`SymbolId`], names borrowed from the
//! mapped inputs, and the rules deciding which definition wins.

use object::elf;

pub type SymbolId = u32;

/// Where the winning definition of a global symbol lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Def {
    Undefined,
    /// Defined by input symbol `sym` of object `file`.
    Regular {
        file: u32,
        sym: u32,
    },
    /// A COMMON symbol of object `file`, allocated in `.bss` by the linker.
    Common {
        file: u32,
        sym: u32,
    },
    /// Exported by shared library `dso` (index into its symbol list).
    Shared {
        dso: u32,
        sym: u32,
    },
    /// Defined by the linker (`_DYNAMIC`, `_GLOBAL_OFFSET_TABLE_`, ...).
    Linker(LinkerSymbol),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkerSymbol {
    Dynamic,
    GlobalOffsetTable,
    /// `__start_NAME`: the first byte of output section NAME (a C identifier).
    SectionStart,
    /// `__stop_NAME`: one past its last byte.
    SectionStop,
    /// `__ehdr_start`, `__executable_start`: the ELF header, the first byte of the image.
    ImageStart,
    /// `etext`, `_etext`, `__etext`: the end of the code.
    TextEnd,
    /// `edata`, `_edata`: the end of the initialised data.
    DataEnd,
    /// `__bss_start`: where zero-initialised data begins.
    BssStart,
    /// `end`, `_end`: the end of the image in memory.
    End,
    /// `__preinit_array_start` … `__fini_array_end`, `__exidx_start`/`__exidx_end` (ARM's
    /// unwind table, which a static program's unwinder walks): the bounds of the output
    /// section the name says, or of nothing.
    ArrayStart,
    ArrayEnd,
    /// `__rela_iplt_start`/`__rel_iplt_start` and their ends: the IRELATIVE relocations of a
    /// static program, which glibc's start-up applies (empty in any other output).
    IpltStart,
    IpltEnd,
    /// `_TLS_MODULE_BASE_`: the start of this module's TLS block (TLS offset 0), which
    /// x86-64 TLS descriptor code uses for local-dynamic accesses.
    TlsModuleBase,
    /// A `--defsym` number: this value wherever the output loads.
    Absolute(u64),
    /// Assigned by a script or a `--defsym` expression: its value comes after layout
    /// (`Layout::script_values`). `absolute`: `SHN_ABS` in `.symtab`, by GNU ld's rules for
    /// expressions; `fixed`: relocations treat it as not moving with the load address,
    /// which GNU ld does only for `--defsym` (a script's "absolute" symbols are relocated in
    /// position-independent output: bfd's `ldscript_def`).
    Script {
        absolute: bool,
        fixed: bool,
    },
}

/// The image and segment bounds the linker provides under these names (beyond `_DYNAMIC`,
/// `_GLOBAL_OFFSET_TABLE_` and `__start_`/`__stop_`).
const PROVIDED: [(&[u8], LinkerSymbol); 23] = [
    (b"__ehdr_start", LinkerSymbol::ImageStart),
    (b"__executable_start", LinkerSymbol::ImageStart),
    (b"etext", LinkerSymbol::TextEnd),
    (b"_etext", LinkerSymbol::TextEnd),
    (b"__etext", LinkerSymbol::TextEnd),
    (b"edata", LinkerSymbol::DataEnd),
    (b"_edata", LinkerSymbol::DataEnd),
    (b"__bss_start", LinkerSymbol::BssStart),
    (b"end", LinkerSymbol::End),
    (b"_end", LinkerSymbol::End),
    (b"__preinit_array_start", LinkerSymbol::ArrayStart),
    (b"__init_array_start", LinkerSymbol::ArrayStart),
    (b"__fini_array_start", LinkerSymbol::ArrayStart),
    (b"__exidx_start", LinkerSymbol::ArrayStart),
    (b"__preinit_array_end", LinkerSymbol::ArrayEnd),
    (b"__init_array_end", LinkerSymbol::ArrayEnd),
    (b"__fini_array_end", LinkerSymbol::ArrayEnd),
    (b"__exidx_end", LinkerSymbol::ArrayEnd),
    (b"__rela_iplt_start", LinkerSymbol::IpltStart),
    (b"__rel_iplt_start", LinkerSymbol::IpltStart),
    (b"__rela_iplt_end", LinkerSymbol::IpltEnd),
    (b"__rel_iplt_end", LinkerSymbol::IpltEnd),
    (b"_TLS_MODULE_BASE_", LinkerSymbol::TlsModuleBase),
];

impl LinkerSymbol {
    /// The symbol the linker provides under `name`, if any (beyond `_DYNAMIC`,
    /// `_GLOBAL_OFFSET_TABLE_` and `__start_`/`__stop_`).
    pub fn by_name(name: &[u8]) -> Option<LinkerSymbol> {
        PROVIDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, which)| which)
    }

    /// Every name [`LinkerSymbol::by_name`] knows, with its symbol.
    pub fn provided() -> impl Iterator<Item = (&'static [u8], LinkerSymbol)> {
        PROVIDED.iter().copied()
    }
}

/// The output section an `__init_array_start`-style symbol brackets.
pub fn array_section(name: &[u8]) -> Option<&'static [u8]> {
    if name.starts_with(b"__exidx_") {
        Some(b".ARM.exidx")
    } else if name.starts_with(b"__preinit_array") {
        Some(b".preinit_array")
    } else if name.starts_with(b"__init_array") {
        Some(b".init_array")
    } else if name.starts_with(b"__fini_array") {
        Some(b".fini_array")
    } else {
        None
    }
}

/// The output section a `__start_`/`__stop_` symbol names.
pub fn start_stop_section(name: &[u8]) -> Option<&[u8]> {
    let section = name
        .strip_prefix(b"__start_")
        .or_else(|| name.strip_prefix(b"__stop_"))?;
    let is_c_identifier = !section.is_empty()
        && !section[0].is_ascii_digit()
        && section
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_');
    is_c_identifier.then_some(section)
}

#[derive(Clone, Debug)]
pub struct Symbol<'d> {
    pub name: &'d [u8],
    pub def: Def,
    /// The winning definition is weak.
    pub weak_def: bool,
    /// Some object refers to the symbol with a non-weak undefined entry.
    pub strong_ref: bool,
    /// Some object refers to it at all (or defines it).
    pub referenced: bool,
    /// A shared library refers to it with a non-weak undefined entry: like an object's
    /// reference, that pulls in the archive member defining it, as in GNU ld.
    pub dso_ref: bool,
    /// The most constraining visibility among every mention (STV_*).
    pub visibility: u8,
    pub ty: u8,
    pub size: u64,
    /// First object referencing it while undefined (for "undefined symbol" messages).
    pub first_ref: Option<u32>,
    /// Made local by `--exclude-libs` or a version script's `local:`.
    pub forced_local: bool,
    /// Version index to give the symbol in `.gnu.version` when it is exported
    /// (1 = global unversioned, 2.. = version-script nodes).
    pub export_version: u16,
    /// Whether the object spelt it with a version (`name@VER`, `name@@VER`): see
    /// [`SymbolTable::symver`].
    pub has_symver: bool,
}

// One per global name of the link, read by every phase: kept within one cache line.
const _: () = assert!(std::mem::size_of::<Symbol>() <= 64);

impl Symbol<'_> {
    pub fn is_defined(&self) -> bool {
        !matches!(self.def, Def::Undefined | Def::Shared { .. })
    }
    pub fn is_undefined(&self) -> bool {
        self.def == Def::Undefined
    }
    /// The binding `.symtab` and `.dynsym` give a global: weak if its definition is weak, or
    /// if it is undefined and only weakly referenced.
    pub fn output_binding(&self) -> u8 {
        let defined = self.is_defined();
        if (defined && self.weak_def) || (!defined && !self.strong_ref) {
            elf::STB_WEAK.0
        } else {
            elf::STB_GLOBAL.0
        }
    }
    /// The type `.symtab` and `.dynsym` give a global: an imported IFUNC is an ordinary
    /// function to this output (the provider resolves it).
    pub fn output_type(&self) -> u8 {
        if !self.is_defined() && self.ty == elf::STT_GNU_IFUNC.0 {
            elf::STT_FUNC.0
        } else {
            self.ty
        }
    }
}

/// Splits a `.symver` name: `foo@@V` → (`foo`, V, default), `foo@V` → (`foo`, V, hidden).
pub fn split_symver(name: &[u8]) -> Option<(&[u8], &[u8], bool)> {
    let at = memchr::memchr(b'@', name)?;
    let (base, rest) = (&name[..at], &name[at + 1..]);
    match rest.strip_prefix(b"@") {
        Some(version) => Some((base, version, false)),
        None => Some((base, rest, true)),
    }
}

/// The name a symbol is exported under: its `.symver` version suffix removed.
pub fn dynamic_name(name: &[u8]) -> &[u8] {
    split_symver(name).map(|(base, _, _)| base).unwrap_or(name)
}

/// Combines visibilities: the most restrictive wins (hidden/internal > protected > default).
pub fn merge_visibility(a: u8, b: u8) -> u8 {
    let rank = |v: u8| match v {
        v if v == elf::STV_DEFAULT.0 => 0,
        v if v == elf::STV_PROTECTED.0 => 1,
        _ => 2,
    };
    let pick = if rank(a) >= rank(b) { a } else { b };
    if pick == elf::STV_INTERNAL.0 {
        elf::STV_HIDDEN.0
    } else {
        pick
    }
}

/// The hash [`SymbolTable`] files names under; objects compute it for their globals while
/// they are parsed in parallel ([`crate::object_file::ObjectFile::global_hashes`]). String
/// tables and merged pieces are hashed with it too.
pub fn name_hash(name: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(name)
}

#[derive(Default)]
pub struct SymbolTable<'d> {
    by_name: crate::name_index::NameIndex<'d>,
    pub symbols: Vec<Symbol<'d>>,
    /// The few symbols with a `.symver` version, kept aside so that every other symbol's
    /// record stays small.
    symvers: rustc_hash::FxHashMap<SymbolId, (&'d [u8], bool)>,
}

impl<'d> SymbolTable<'d> {
    /// The version given in the object itself with `.symver` (`name@VER`, or `name@@VER`
    /// for the default version): (VER, hidden).
    pub fn symver(&self, id: SymbolId) -> Option<(&'d [u8], bool)> {
        match self.symbols.get(id as usize)?.has_symver {
            true => self.symvers.get(&id).copied(),
            false => None,
        }
    }

    pub fn set_symver(&mut self, id: SymbolId, version: &'d [u8], hidden: bool) {
        if let Some(s) = self.symbols.get_mut(id as usize) {
            s.has_symver = true;
            self.symvers.insert(id, (version, hidden));
        }
    }

    pub fn lookup(&self, name: &[u8]) -> Option<SymbolId> {
        self.by_name.find(name, name_hash(name), |id| {
            self.symbols[id as usize].name == name
        })
    }

    /// Asks for what interning a name of hash `hash` reads, in the order it reads it: the
    /// name index's slot, then the name in it. The second looks at what the first brought
    /// in, so the two are called some names apart (see [`crate::name_index`]).
    #[inline(always)]
    pub fn prefetch_slot(&self, hash: u64) {
        self.by_name.prefetch_slot(hash);
    }

    #[inline(always)]
    pub fn prefetch_candidate(&self, hash: u64) {
        self.by_name.prefetch_candidate(hash);
    }

    /// The id of `name`, inserting an undefined symbol if it is new.
    pub fn intern(&mut self, name: &'d [u8]) -> SymbolId {
        self.intern_hashed(name, name_hash(name))
    }

    /// [`SymbolTable::intern`] with `hash == name_hash(name)` already known.
    pub fn intern_hashed(&mut self, name: &'d [u8], hash: u64) -> SymbolId {
        let id = self.symbols.len() as SymbolId;
        let symbols = &self.symbols;
        if let crate::name_index::Filed::Found(found) =
            self.by_name
                .find_or_insert(name, hash, id, |id| symbols[id as usize].name == name)
        {
            return found;
        }
        self.symbols.push(Symbol {
            name,
            def: Def::Undefined,
            weak_def: false,
            strong_ref: false,
            referenced: false,
            dso_ref: false,
            visibility: elf::STV_DEFAULT.0,
            ty: elf::STT_NOTYPE.0,
            size: 0,
            first_ref: None,
            forced_local: false,
            export_version: 1,
            has_symver: false,
        });
        id
    }

    pub fn get(&self, id: SymbolId) -> &Symbol<'d> {
        &self.symbols[id as usize]
    }

    /// Asks the processor to bring symbol `id`'s record into the cache ahead of its use.
    #[inline(always)]
    pub fn prefetch(&self, id: SymbolId) {
        if let Some(s) = self.symbols.get(id as usize) {
            crate::prefetch::read(s);
        }
    }

    pub fn get_mut(&mut self, id: SymbolId) -> &mut Symbol<'d> {
        &mut self.symbols[id as usize]
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}
