//! Shared libraries (`ET_DYN`) as link inputs: their SONAME, exported dynamic symbols and
//! version definitions, so that references resolve to them and are recorded in
//! `.gnu.version_r` (a reference to `memcpy` becomes `memcpy@GLIBC_2.14`).

use crate::error::{LinkError, Result};
use object::elf;
use object::read::elf::{Dyn as _, FileHeader, SectionHeader as _, Sym as _};
use object::Endianness;

#[derive(Clone, Copy, Debug)]
pub struct DsoSymbol<'d> {
    pub name: &'d [u8],
    /// Version index into [`SharedFile::versions`]; 0/1 when unversioned.
    pub version: u16,
    pub ty: u8,
    pub size: u64,
    pub weak: bool,
    /// `st_value`: aliases (`environ`, `__environ`) share it, and share a copy relocation.
    pub value: u64,
    /// STV_PROTECTED: the library binds its own references to it, so a copy would split it.
    pub protected: bool,
    /// Defined in a section the library never writes: a program's copy of it can be made
    /// read-only after relocation (`.data.rel.ro`).
    pub read_only: bool,
    /// A non-default version (`name@VER`): only an explicit `name@VER` reference reaches it.
    pub hidden: bool,
}

#[derive(Debug)]
pub struct SharedFile<'d> {
    pub name: String,
    /// DT_SONAME, or the file name when the library has none.
    pub soname: String,
    /// The library has a DT_SONAME (else `soname` is its file name, until the caller knows
    /// better: GNU ld records a library given by path under that path).
    pub declares_soname: bool,
    pub machine: u16,
    /// Defined dynamic symbols (a name may appear once per version).
    pub symbols: Vec<DsoSymbol<'d>>,
    /// Version names by version index (index 0 and 1 are `None`).
    pub versions: Vec<Option<&'d [u8]>>,
    /// Listed under `--as-needed` (or `AS_NEEDED` in a script): DT_NEEDED only if used.
    pub as_needed: bool,
    /// Names the library imports: a program exports its definitions of them, so that the
    /// library's references (callbacks) bind to the program.
    pub undefined: Vec<&'d [u8]>,
    /// Whether each of `undefined` is a weak reference (the loader may leave it 0).
    pub undefined_weak: Vec<bool>,
    /// DT_NEEDED: the libraries this one is linked against.
    pub needed: Vec<&'d [u8]>,
    /// DT_RUNPATH, else DT_RPATH: where the loader looks for `needed` (`:`-separated).
    pub runpath: Option<&'d [u8]>,
}

impl<'d> SharedFile<'d> {
    pub fn parse(name: String, data: &'d [u8], as_needed: bool) -> Result<Self> {
        match data.get(4) {
            Some(&c) if c == elf::ELFCLASS64.0 => {
                parse::<elf::FileHeader64<Endianness>>(name, data, as_needed)
            }
            Some(&c) if c == elf::ELFCLASS32.0 => {
                parse::<elf::FileHeader32<Endianness>>(name, data, as_needed)
            }
            _ => Err(LinkError::malformed(&name, "not an ELF file (bad class)")),
        }
    }

    pub fn version_name(&self, index: u16) -> Option<&'d [u8]> {
        self.versions.get(usize::from(index)).copied().flatten()
    }
}

fn parse<'d, E: FileHeader<Endian = Endianness>>(
    name: String,
    data: &'d [u8],
    as_needed: bool,
) -> Result<SharedFile<'d>> {
    let bad = |what: &dyn std::fmt::Display| LinkError::malformed(&name, what);
    let header = E::parse(data).map_err(|e| bad(&format!("ELF header: {e}")))?;
    let endian = header
        .endian()
        .map_err(|e| bad(&format!("ELF header: {e}")))?;
    let table = header
        .sections(endian, data)
        .map_err(|e| bad(&format!("section headers: {e}")))?;
    let dynsym = table
        .symbols(endian, data, elf::SHT_DYNSYM)
        .map_err(|e| bad(&format!(".dynsym: {e}")))?;
    let strings = dynsym.strings();

    let mut soname = None;
    let mut needed = Vec::new();
    let (mut runpath, mut rpath) = (None, None);
    if let Some((entries, link)) = table
        .dynamic(endian, data)
        .map_err(|e| bad(&format!(".dynamic: {e}")))?
    {
        let dynstr = table.strings(endian, data, link).map_err(|e| {
            bad(&format!(
                ".dynamic's string table (section {}): {e}",
                link.0
            ))
        })?;
        for entry in entries {
            let tag = entry.d_tag(endian);
            let string = || {
                let offset: u64 = entry.d_val(endian).into();
                dynstr.get(offset as u32).map_err(|_| {
                    bad(&format!(
                        "dynamic tag {tag:?}: string offset {offset:#x} lies outside .dynstr"
                    ))
                })
            };
            match tag {
                elf::DT_SONAME => soname = Some(crate::error::sym_name(string()?)),
                elf::DT_NEEDED => needed.push(string()?),
                elf::DT_RUNPATH => runpath = Some(string()?),
                elf::DT_RPATH => rpath = Some(string()?),
                _ => {}
            }
        }
    }
    let declares_soname = soname.is_some();
    let soname = soname.unwrap_or_else(|| {
        std::path::Path::new(&name)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.clone())
    });

    let mut versions: Vec<Option<&'d [u8]>> = Vec::new();
    let verdef = |e: &dyn std::fmt::Display| bad(&format!(".gnu.version_d: {e}"));
    if let Some((mut defs, link)) = table.gnu_verdef(endian, data).map_err(|e| verdef(&e))? {
        let vstrings = table.strings(endian, data, link).map_err(|e| verdef(&e))?;
        while let Some((def, mut aux)) = defs.next().map_err(|e| verdef(&e))? {
            let index = usize::from(def.vd_ndx.get(endian).0);
            let first = aux.next().map_err(|e| verdef(&e))?;
            if let Some(aux) = first {
                if versions.len() <= index {
                    versions.resize(index + 1, None);
                }
                let name = aux.name(endian, vstrings).map_err(|_| {
                    verdef(&format!(
                        "the name of version {index} lies outside its string table"
                    ))
                })?;
                versions[index] = Some(name);
            }
        }
    }
    // The base version (VER_FLG_BASE, index 1) names the file, not a symbol version.
    if versions.len() > 1 {
        versions[1] = None;
    }

    let versym = table
        .gnu_versym(endian, data)
        .map_err(|e| bad(&format!(".gnu.version: {e}")))?
        .map(|(v, _)| v);
    let mut symbols = Vec::new();
    let mut undefined = Vec::new();
    let mut undefined_weak = Vec::new();
    for (index, sym) in dynsym.enumerate() {
        if sym.st_bind() == elf::STB_LOCAL {
            continue;
        }
        if sym.is_undefined(endian) {
            if index.0 != 0 {
                undefined.push(sym.name(endian, strings).map_err(|e| bad(&e))?);
                undefined_weak.push(sym.st_bind() == elf::STB_WEAK);
            }
            continue;
        }
        let raw = versym
            .and_then(|v| v.get(index.0))
            .map(|v| v.0.get(endian))
            .unwrap_or(elf::VersymIndex(1));
        if raw.index() == elf::VER_NDX_LOCAL {
            continue;
        }
        symbols.push(DsoSymbol {
            name: sym.name(endian, strings).map_err(|_| {
                bad(&format!(
                    ".dynsym symbol {}: its name (offset {:#x}) lies outside .dynstr or has no terminating NUL",
                    index.0,
                    sym.st_name(endian)
                ))
            })?,
            version: raw.index().0,
            ty: sym.st_type().0,
            size: sym.st_size(endian).into(),
            weak: sym.st_bind() == elf::STB_WEAK,
            value: sym.st_value(endian).into(),
            protected: sym.st_visibility() == elf::STV_PROTECTED,
            read_only: table
                .section(object::SectionIndex(usize::from(sym.st_shndx(endian).0)))
                .is_ok_and(|sec| sec.sh_flags(endian).0 & elf::SHF_WRITE.0 == 0),
            hidden: raw.is_hidden(),
        });
    }
    Ok(SharedFile {
        name,
        soname,
        declares_soname,
        machine: header.e_machine(endian).0,
        symbols,
        versions,
        as_needed,
        undefined,
        undefined_weak,
        needed,
        runpath: runpath.or(rpath),
    })
}
