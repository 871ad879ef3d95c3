//! Reading an ELF file into what the loader needs: segments, an image laid out by virtual
//! address, and the dynamic section decoded (symbols, versions, hash tables, relocations).
//!
//! Headers are read with the `object` crate; everything reachable from `PT_DYNAMIC` is read
//! from the laid-out image by address, as a real loader does (section headers are never trusted
//! for loading, only for naming symbols in fault reports).

use crate::arch::Arch;
use crate::error::{HarnessError, Result};
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{Object as _, ObjectSymbol as _};

/// ELF constants as plain integers (the values of the gABI and GNU extensions).
pub mod abi {
    pub const SHN_UNDEF: u16 = 0x0;
    pub const SHN_ABS: u16 = 0xfff1;
    pub const STB_LOCAL: u8 = 0x0;
    pub const STB_GLOBAL: u8 = 0x1;
    pub const STB_WEAK: u8 = 0x2;
    pub const STB_GNU_UNIQUE: u8 = 0xa;
    pub const STT_SECTION: u8 = 0x3;
    pub const STT_FILE: u8 = 0x4;
    pub const STT_TLS: u8 = 0x6;
    pub const STT_GNU_IFUNC: u8 = 0xa;
    pub const STV_PROTECTED: u8 = 0x3;
    pub const ELFCLASS32: u8 = 0x1;
    pub const ELFCLASS64: u8 = 0x2;
    pub const ELFDATA2LSB: u8 = 0x1;
    pub const EM_ARM: u16 = 0x28;
    pub const EM_X86_64: u16 = 0x3e;
    pub const PF_X: u32 = 0x1;
    pub const PF_W: u32 = 0x2;
    pub const PF_R: u32 = 0x4;
    pub const ET_EXEC: u16 = 0x2;
    pub const ET_DYN: u16 = 0x3;
    pub const SHT_DYNSYM: u32 = 0xb;
    pub const PT_LOAD: u32 = 0x1;
    pub const PT_DYNAMIC: u32 = 0x2;
    pub const PT_TLS: u32 = 0x7;
    pub const PT_INTERP: u32 = 0x3;
    pub const PT_GNU_RELRO: u32 = 0x6474e552;
    pub const DT_NEEDED: u32 = 0x1;
    pub const DT_PLTRELSZ: u32 = 0x2;
    pub const DT_PLTGOT: u32 = 0x3;
    pub const DT_HASH: u32 = 0x4;
    pub const DT_STRTAB: u32 = 0x5;
    pub const DT_SYMTAB: u32 = 0x6;
    pub const DT_RELA: u32 = 0x7;
    pub const DT_RELASZ: u32 = 0x8;
    pub const DT_STRSZ: u32 = 0xa;
    pub const DT_SYMENT: u32 = 0xb;
    pub const DT_INIT: u32 = 0xc;
    pub const DT_FINI: u32 = 0xd;
    pub const DT_SONAME: u32 = 0xe;
    pub const DT_SYMBOLIC: u32 = 0x10;
    pub const DT_REL: u32 = 0x11;
    pub const DT_RELSZ: u32 = 0x12;
    pub const DT_PLTREL: u32 = 0x14;
    pub const DT_TEXTREL: u32 = 0x16;
    pub const DT_JMPREL: u32 = 0x17;
    pub const DT_BIND_NOW: u32 = 0x18;
    pub const DT_INIT_ARRAY: u32 = 0x19;
    pub const DT_FINI_ARRAY: u32 = 0x1a;
    pub const DT_INIT_ARRAYSZ: u32 = 0x1b;
    pub const DT_FINI_ARRAYSZ: u32 = 0x1c;
    pub const DT_FLAGS: u32 = 0x1e;
    pub const DT_GNU_HASH: u32 = 0x6ffffef5;
    pub const DT_VERSYM: u32 = 0x6ffffff0;
    pub const DT_FLAGS_1: u32 = 0x6ffffffb;
    pub const DT_VERDEF: u32 = 0x6ffffffc;
    pub const DT_VERNEED: u32 = 0x6ffffffe;
    pub const DF_SYMBOLIC: u64 = 0x2;
    pub const DF_TEXTREL: u64 = 0x4;
    pub const DF_BIND_NOW: u64 = 0x8;
    pub const DF_1_NOW: u64 = 0x1;
}

pub const PAGE: u64 = 0x1000;

pub fn page_down(v: u64) -> u64 {
    v & !(PAGE - 1)
}
pub fn page_up(v: u64) -> u64 {
    (v + PAGE - 1) & !(PAGE - 1)
}

#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub filesz: u64,
    pub offset: u64,
    /// ELF p_flags: PF_X = 1, PF_W = 2, PF_R = 4.
    pub flags: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct TlsSegment {
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

/// A relocation decoded to a neutral form; `addend` is None for REL (implicit addend).
#[derive(Debug, Clone, Copy)]
pub struct Reloc {
    pub offset: u64,
    pub r_type: u32,
    pub sym: u32,
    pub addend: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DynSym {
    pub name: String,
    pub value: u64,
    pub size: u64,
    pub bind: u8,
    pub kind: u8,
    pub visibility: u8,
    pub shndx: u16,
    /// Version index from `.gnu.version` (0 local, 1 global/base, ≥2 a named version).
    pub version_index: u16,
    /// Bit 15 of the `.gnu.version` entry: a non-default (`foo@V1`) definition.
    pub version_hidden: bool,
}

impl DynSym {
    pub fn is_defined(&self) -> bool {
        self.shndx != abi::SHN_UNDEF
    }
    pub fn is_weak(&self) -> bool {
        self.bind == abi::STB_WEAK
    }
}

#[derive(Debug, Clone)]
pub enum HashTable {
    Sysv {
        buckets: Vec<u32>,
        chains: Vec<u32>,
    },
    Gnu {
        symoffset: u32,
        buckets: Vec<u32>,
        /// Chain words, indexed from `symoffset`.
        chain: Vec<u32>,
    },
}

/// What `PT_DYNAMIC` says, with addresses relative to the link-time base.
#[derive(Debug, Clone, Default)]
pub struct Dynamic {
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub init: Option<u64>,
    pub fini: Option<u64>,
    pub init_array: Vec<u64>,
    pub init_array_addr: u64,
    pub fini_array: Vec<u64>,
    pub fini_array_addr: u64,
    pub pltgot: Option<u64>,
    pub jmprel: Vec<Reloc>,
    pub jmprel_addr: u64,
    pub relocs: Vec<Reloc>,
    pub symbolic: bool,
    pub bind_now: bool,
    pub textrel: bool,
    pub symbols: Vec<DynSym>,
    pub hash: Option<HashTable>,
    /// Version names by index, from `.gnu.version_d` (definitions) and `.gnu.version_r`
    /// (requirements; these also carry the file the version is needed from).
    pub version_names: Vec<(u16, String, Option<String>)>,
}

impl Dynamic {
    pub fn version_name(&self, index: u16) -> Option<&str> {
        if index < 2 {
            return None;
        }
        self.version_names
            .iter()
            .find(|(i, _, _)| *i == index)
            .map(|(_, n, _)| n.as_str())
    }
    pub fn has_version_definitions(&self) -> bool {
        self.version_names.iter().any(|(_, _, file)| file.is_none())
    }
}

/// A parsed ELF object, laid out by virtual address, not yet mapped.
pub struct ElfObject {
    pub path: String,
    pub arch: Arch,
    pub e_type: u16,
    /// e_entry (link-time address).
    pub entry: u64,
    /// PT_INTERP present: a program rather than a library.
    pub has_interp: bool,
    pub segments: Vec<Segment>,
    pub tls: Option<TlsSegment>,
    pub relro: Option<(u64, u64)>,
    /// The image covers link-time addresses `[0, image.len())` (page-rounded).
    pub image: Vec<u8>,
    pub max_align: u64,
    pub dynamic: Dynamic,
    pub dynamic_vaddr: Option<u64>,
    /// Every named symbol from `.symtab` and `.dynsym` (link-time value, size, name), sorted
    /// by value, for naming fault locations.
    pub all_symbols: Vec<(u64, u64, String)>,
    pub warnings: Vec<String>,
}

fn bad(path: &str, message: impl Into<String>) -> HarnessError {
    HarnessError::BadElf {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Detects the architecture of an ELF file from its header.
pub fn detect_arch(data: &[u8], path: &str) -> Result<Arch> {
    if data.len() < 20 || &data[..4] != b"\x7fELF" {
        return Err(bad(path, "not an ELF file"));
    }
    let machine = u16::from_le_bytes([data[18], data[19]]);
    match (data[4], data[5], machine) {
        (abi::ELFCLASS32, abi::ELFDATA2LSB, abi::EM_ARM) => Ok(Arch::Arm),
        (abi::ELFCLASS64, abi::ELFDATA2LSB, abi::EM_X86_64) => Ok(Arch::X86_64),
        (c, d, m) => Err(bad(
            path,
            format!("unsupported ELF (class {c}, data {d}, machine {m}): only ELF32 ARM little-endian and ELF64 x86-64"),
        )),
    }
}

pub fn parse(data: &[u8], path: &str) -> Result<ElfObject> {
    let arch = detect_arch(data, path)?;
    match arch {
        Arch::Arm => parse_with::<elf::FileHeader32<object::LittleEndian>>(data, path, arch),
        Arch::X86_64 => parse_with::<elf::FileHeader64<object::LittleEndian>>(data, path, arch),
    }
}

fn parse_with<H: FileHeader<Endian = object::LittleEndian>>(
    data: &[u8],
    path: &str,
    arch: Arch,
) -> Result<ElfObject> {
    let header = H::parse(data).map_err(|e| bad(path, e.to_string()))?;
    let endian = object::LittleEndian;
    let e_type = header.e_type(endian).0;
    let entry: u64 = header.e_entry(endian).into();
    let mut has_interp = false;
    if e_type != abi::ET_DYN && e_type != abi::ET_EXEC {
        return Err(bad(
            path,
            format!("ELF type {e_type} is neither ET_DYN nor ET_EXEC"),
        ));
    }
    let phdrs = header
        .program_headers(endian, data)
        .map_err(|e| bad(path, e.to_string()))?;
    let mut segments = Vec::new();
    let mut tls = None;
    let mut relro = None;
    let mut dynamic_vaddr = None;
    let mut max_align = PAGE;
    let mut warnings = Vec::new();
    for ph in phdrs {
        let vaddr: u64 = ph.p_vaddr(endian).into();
        let memsz: u64 = ph.p_memsz(endian).into();
        let filesz: u64 = ph.p_filesz(endian).into();
        let offset: u64 = ph.p_offset(endian).into();
        let align: u64 = ph.p_align(endian).into();
        match ph.p_type(endian).0 {
            abi::PT_LOAD => {
                if filesz > memsz {
                    return Err(bad(
                        path,
                        format!("PT_LOAD at {vaddr:#x}: p_filesz > p_memsz"),
                    ));
                }
                if offset
                    .checked_add(filesz)
                    .is_none_or(|end| end > data.len() as u64)
                {
                    return Err(bad(
                        path,
                        format!("PT_LOAD at {vaddr:#x} extends past the end of the file"),
                    ));
                }
                if align > 1 && (vaddr % align) != (offset % align) {
                    return Err(bad(path, format!("PT_LOAD at {vaddr:#x}: p_vaddr and p_offset disagree modulo p_align {align:#x}")));
                }
                if vaddr % PAGE != offset % PAGE {
                    return Err(bad(path, format!("PT_LOAD at {vaddr:#x}: p_vaddr and p_offset disagree modulo the page size")));
                }
                let flags = ph.p_flags(endian).0;
                if flags & abi::PF_W != 0 && flags & abi::PF_X != 0 {
                    warnings.push(format!(
                        "PT_LOAD at {vaddr:#x} is both writable and executable"
                    ));
                }
                if let Some(prev) = segments.last() {
                    let prev: &Segment = prev;
                    if vaddr < prev.vaddr + prev.memsz {
                        return Err(bad(path, format!("PT_LOAD at {vaddr:#x} overlaps or precedes the previous one at {:#x}", prev.vaddr)));
                    }
                }
                max_align = max_align.max(align);
                segments.push(Segment {
                    vaddr,
                    memsz,
                    filesz,
                    offset,
                    flags,
                });
            }
            abi::PT_TLS => {
                tls = Some(TlsSegment {
                    vaddr,
                    filesz,
                    memsz,
                    align: align.max(1),
                });
            }
            abi::PT_GNU_RELRO => relro = Some((vaddr, memsz)),
            abi::PT_DYNAMIC => dynamic_vaddr = Some(vaddr),
            abi::PT_INTERP => has_interp = true,
            _ => {}
        }
    }
    let Some(last) = segments.last() else {
        return Err(bad(path, "no PT_LOAD segment"));
    };
    // Far larger than any real library; a bigger span is a corrupt header, not a reason to
    // allocate gigabytes.
    const MAX_SPAN: u64 = 1 << 30;
    let end = last
        .vaddr
        .checked_add(last.memsz)
        .filter(|&e| e <= MAX_SPAN);
    let Some(span) = end.map(page_up) else {
        return Err(bad(
            path,
            "segments span more than 1 GiB, more than the harness maps",
        ));
    };
    let mut image = vec![0u8; span as usize];
    for s in &segments {
        let src = &data[s.offset as usize..(s.offset + s.filesz) as usize];
        image[s.vaddr as usize..(s.vaddr + s.filesz) as usize].copy_from_slice(src);
    }
    let mut obj = ElfObject {
        path: path.to_string(),
        arch,
        e_type,
        entry,
        has_interp,
        segments,
        tls,
        relro,
        image,
        max_align,
        dynamic: Dynamic::default(),
        dynamic_vaddr,
        all_symbols: Vec::new(),
        warnings,
    };
    if let Some(dv) = dynamic_vaddr {
        if !obj.in_segment(dv) {
            return Err(bad(
                path,
                format!("PT_DYNAMIC at {dv:#x} lies outside every PT_LOAD"),
            ));
        }
        // Section headers are optional for loading; when present, .dynsym's size lets the
        // hash tables be checked against every symbol it holds.
        let dynsym_count = header.sections(endian, data).ok().and_then(|sections| {
            sections
                .iter()
                .find(|sh| sh.sh_type(endian).0 == abi::SHT_DYNSYM)
                .and_then(|sh| {
                    let size: u64 = sh.sh_size(endian).into();
                    let ent: u64 = sh.sh_entsize(endian).into();
                    (ent != 0).then(|| u32::try_from(size / ent).ok()).flatten()
                })
        });
        obj.dynamic = read_dynamic(&obj, dv, dynsym_count)?;
    }
    obj.all_symbols = naming_symbols(data, &obj.dynamic.symbols);
    Ok(obj)
}

/// Names for fault reports: `.symtab` when present, otherwise `.dynsym`.
fn naming_symbols(data: &[u8], dynsyms: &[DynSym]) -> Vec<(u64, u64, String)> {
    let mut out: Vec<(u64, u64, String)> = Vec::new();
    if let Ok(file) = object::File::parse(data) {
        for s in file.symbols().chain(file.dynamic_symbols()) {
            if s.is_definition() {
                if let Ok(n) = s.name() {
                    if !n.is_empty() && !n.starts_with('$') {
                        out.push((s.address(), s.size(), n.to_string()));
                    }
                }
            }
        }
    }
    for s in dynsyms {
        if s.is_defined() && !s.name.is_empty() {
            out.push((s.value, s.size, s.name.clone()));
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0 && a.2 == b.2);
    out
}

impl ElfObject {
    pub fn is64(&self) -> bool {
        self.arch == Arch::X86_64
    }
    pub fn word_size(&self) -> u64 {
        if self.is64() {
            8
        } else {
            4
        }
    }
    pub fn in_segment(&self, vaddr: u64) -> bool {
        self.segments
            .iter()
            .any(|s| vaddr >= s.vaddr && vaddr < s.vaddr + s.memsz)
    }
    pub fn bytes(&self, vaddr: u64, len: u64) -> Result<&[u8]> {
        let end = vaddr
            .checked_add(len)
            .filter(|&e| e <= self.image.len() as u64);
        match end {
            Some(end) => Ok(&self.image[vaddr as usize..end as usize]),
            None => Err(bad(
                &self.path,
                format!("dynamic data at {vaddr:#x}+{len:#x} lies outside the image"),
            )),
        }
    }
    pub fn u16_at(&self, vaddr: u64) -> Result<u16> {
        let b = self.bytes(vaddr, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32_at(&self, vaddr: u64) -> Result<u32> {
        let b = self.bytes(vaddr, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64_at(&self, vaddr: u64) -> Result<u64> {
        let b = self.bytes(vaddr, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    pub fn word_at(&self, vaddr: u64) -> Result<u64> {
        if self.is64() {
            self.u64_at(vaddr)
        } else {
            self.u32_at(vaddr).map(u64::from)
        }
    }
    fn cstr_at(&self, vaddr: u64) -> Result<String> {
        let rest = self.bytes(vaddr, (self.image.len() as u64).saturating_sub(vaddr))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| bad(&self.path, format!("unterminated string at {vaddr:#x}")))?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
}

fn read_dynamic(obj: &ElfObject, dv: u64, dynsym_count: Option<u32>) -> Result<Dynamic> {
    let w = obj.word_size();
    let mut entries = Vec::new();
    let mut at = dv;
    loop {
        let tag = obj.word_at(at)?;
        let val = obj.word_at(at + w)?;
        if tag == 0 {
            break;
        }
        entries.push((tag as u32, val));
        at += 2 * w;
    }
    let get = |t: u32| entries.iter().find(|(tag, _)| *tag == t).map(|(_, v)| *v);
    let check = |name: &str, v: u64| -> Result<u64> {
        if obj.in_segment(v) {
            Ok(v)
        } else {
            Err(bad(
                &obj.path,
                format!("{name} = {v:#x} points outside every PT_LOAD"),
            ))
        }
    };
    let strtab = check(
        "DT_STRTAB",
        get(abi::DT_STRTAB).ok_or_else(|| bad(&obj.path, "no DT_STRTAB"))?,
    )?;
    let symtab = check(
        "DT_SYMTAB",
        get(abi::DT_SYMTAB).ok_or_else(|| bad(&obj.path, "no DT_SYMTAB"))?,
    )?;
    let string = |off: u64| obj.cstr_at(strtab + off);
    let mut d = Dynamic::default();
    for &(tag, val) in &entries {
        match tag {
            abi::DT_NEEDED => d.needed.push(string(val)?),
            abi::DT_SONAME => d.soname = Some(string(val)?),
            abi::DT_SYMBOLIC => d.symbolic = true,
            abi::DT_TEXTREL => d.textrel = true,
            abi::DT_BIND_NOW => d.bind_now = true,
            abi::DT_FLAGS => {
                d.symbolic |= val & abi::DF_SYMBOLIC != 0;
                d.bind_now |= val & abi::DF_BIND_NOW != 0;
                d.textrel |= val & abi::DF_TEXTREL != 0;
            }
            abi::DT_FLAGS_1 => d.bind_now |= val & abi::DF_1_NOW != 0,
            _ => {}
        }
    }
    d.init = get(abi::DT_INIT).map(|v| check("DT_INIT", v)).transpose()?;
    d.fini = get(abi::DT_FINI).map(|v| check("DT_FINI", v)).transpose()?;
    d.pltgot = get(abi::DT_PLTGOT)
        .map(|v| check("DT_PLTGOT", v))
        .transpose()?;
    let read_array = |addr_tag: u32, size_tag: u32, name: &str| -> Result<(u64, Vec<u64>)> {
        let Some(addr) = get(addr_tag) else {
            return Ok((0, Vec::new()));
        };
        let addr = check(name, addr)?;
        let size = get(size_tag).unwrap_or(0);
        if addr
            .checked_add(size)
            .is_none_or(|end| end > obj.image.len() as u64)
        {
            return Err(bad(
                &obj.path,
                format!("{name} at {addr:#x} with {size:#x} bytes runs past the image"),
            ));
        }
        // Entries are relocated later (RELATIVE); here only the address matters.
        Ok((addr, vec![0; (size / w) as usize]))
    };
    (d.init_array_addr, d.init_array) =
        read_array(abi::DT_INIT_ARRAY, abi::DT_INIT_ARRAYSZ, "DT_INIT_ARRAY")?;
    (d.fini_array_addr, d.fini_array) =
        read_array(abi::DT_FINI_ARRAY, abi::DT_FINI_ARRAYSZ, "DT_FINI_ARRAY")?;

    let read_relocs = |addr: u64, size: u64, rela: bool| -> Result<Vec<Reloc>> {
        let addr = check("relocation table", addr)?;
        let ent = if rela { 3 * w } else { 2 * w };
        let mut out = Vec::new();
        for i in 0..size / ent {
            let at = addr + i * ent;
            let offset = obj.word_at(at)?;
            let info = obj.word_at(at + w)?;
            let (sym, r_type) = if obj.is64() {
                ((info >> 32) as u32, (info & 0xffff_ffff) as u32)
            } else {
                ((info >> 8) as u32, (info & 0xff) as u32)
            };
            let addend = if rela {
                Some(obj.word_at(at + 2 * w)? as i64)
            } else {
                None
            };
            out.push(Reloc {
                offset,
                r_type,
                sym,
                addend,
            });
        }
        Ok(out)
    };
    if let (Some(a), Some(s)) = (get(abi::DT_REL), get(abi::DT_RELSZ)) {
        d.relocs.extend(read_relocs(a, s, false)?);
    }
    if let (Some(a), Some(s)) = (get(abi::DT_RELA), get(abi::DT_RELASZ)) {
        d.relocs.extend(read_relocs(a, s, true)?);
    }
    if let (Some(a), Some(s)) = (get(abi::DT_JMPREL), get(abi::DT_PLTRELSZ)) {
        let rela = get(abi::DT_PLTREL) == Some(u64::from(abi::DT_RELA));
        d.jmprel_addr = a;
        d.jmprel = read_relocs(a, s, rela)?;
    }

    // Hash tables give the symbol count; .dynsym is read up to it.
    let sysv = get(abi::DT_HASH).map(|a| check("DT_HASH", a)).transpose()?;
    let gnu = get(abi::DT_GNU_HASH)
        .map(|a| check("DT_GNU_HASH", a))
        .transpose()?;
    let (hash, nsyms) = if let Some(a) = gnu {
        let nbuckets = obj.u32_at(a)?;
        let symoffset = obj.u32_at(a + 4)?;
        let bloom_size = u64::from(obj.u32_at(a + 8)?);
        let buckets_at = a + 16 + bloom_size * w;
        let buckets = (0..u64::from(nbuckets))
            .map(|i| obj.u32_at(buckets_at + 4 * i))
            .collect::<Result<Vec<_>>>()?;
        let chain_at = buckets_at + 4 * u64::from(nbuckets);
        let mut nsyms = symoffset;
        if let Some(&maxb) = buckets.iter().max() {
            if maxb >= symoffset {
                let mut i = maxb;
                while obj.u32_at(chain_at + 4 * u64::from(i - symoffset))? & 1 == 0 {
                    i += 1;
                }
                nsyms = i + 1;
            }
        }
        let chain = (0..u64::from(nsyms - symoffset))
            .map(|i| obj.u32_at(chain_at + 4 * i))
            .collect::<Result<Vec<_>>>()?;
        (
            Some(HashTable::Gnu {
                symoffset,
                buckets,
                chain,
            }),
            nsyms,
        )
    } else if let Some(a) = sysv {
        let nbucket = obj.u32_at(a)?;
        let nchain = obj.u32_at(a + 4)?;
        let buckets = (0..u64::from(nbucket))
            .map(|i| obj.u32_at(a + 8 + 4 * i))
            .collect::<Result<Vec<_>>>()?;
        let chains = (0..u64::from(nchain))
            .map(|i| obj.u32_at(a + 8 + 4 * u64::from(nbucket) + 4 * i))
            .collect::<Result<Vec<_>>>()?;
        (Some(HashTable::Sysv { buckets, chains }), nchain)
    } else {
        (None, 0)
    };
    if hash.is_none() {
        return Err(bad(
            &obj.path,
            "neither DT_HASH nor DT_GNU_HASH: symbols cannot be looked up",
        ));
    }
    // A program may export nothing, so the hash table can cover fewer symbols than its
    // relocations use: read .dynsym far enough for both.
    let nsyms = d
        .relocs
        .iter()
        .chain(&d.jmprel)
        .map(|r| r.sym + 1)
        .fold(nsyms, u32::max)
        .max(dynsym_count.unwrap_or(0));
    let versym = get(abi::DT_VERSYM)
        .map(|a| check("DT_VERSYM", a))
        .transpose()?;
    let syment = get(abi::DT_SYMENT).unwrap_or(if obj.is64() { 24 } else { 16 });
    for i in 0..u64::from(nsyms) {
        let at = symtab + i * syment;
        let (name_off, value, size, info, other, shndx) = if obj.is64() {
            let b = obj.bytes(at, 24)?;
            (
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                obj.u64_at(at + 8)?,
                obj.u64_at(at + 16)?,
                b[4],
                b[5],
                u16::from_le_bytes([b[6], b[7]]),
            )
        } else {
            let b = obj.bytes(at, 16)?;
            (
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                u64::from(obj.u32_at(at + 4)?),
                u64::from(obj.u32_at(at + 8)?),
                b[12],
                b[13],
                u16::from_le_bytes([b[14], b[15]]),
            )
        };
        let (version_index, version_hidden) = match versym {
            Some(v) => {
                let raw = obj.u16_at(v + 2 * i)?;
                (raw & 0x7fff, raw & 0x8000 != 0)
            }
            None => (1, false),
        };
        d.symbols.push(DynSym {
            name: string(u64::from(name_off))?,
            value,
            size,
            bind: info >> 4,
            kind: info & 0xf,
            visibility: other & 3,
            shndx,
            version_index,
            version_hidden,
        });
    }
    d.hash = hash;

    if let Some(mut at) = get(abi::DT_VERDEF)
        .map(|a| check("DT_VERDEF", a))
        .transpose()?
    {
        loop {
            let ndx = obj.u16_at(at + 4)?;
            let aux = u64::from(obj.u32_at(at + 12)?);
            let next = u64::from(obj.u32_at(at + 16)?);
            let name = string(u64::from(obj.u32_at(at + aux)?))?;
            d.version_names.push((ndx, name, None));
            if next == 0 {
                break;
            }
            at += next;
        }
    }
    if let Some(mut at) = get(abi::DT_VERNEED)
        .map(|a| check("DT_VERNEED", a))
        .transpose()?
    {
        loop {
            let cnt = obj.u16_at(at + 2)?;
            let file = string(u64::from(obj.u32_at(at + 4)?))?;
            let mut aux_at = at + u64::from(obj.u32_at(at + 8)?);
            for _ in 0..cnt {
                let other = obj.u16_at(aux_at + 6)?;
                let name = string(u64::from(obj.u32_at(aux_at + 8)?))?;
                d.version_names.push((other, name, Some(file.clone())));
                let next = u64::from(obj.u32_at(aux_at + 12)?);
                if next == 0 {
                    break;
                }
                aux_at += next;
            }
            let next = u64::from(obj.u32_at(at + 12)?);
            if next == 0 {
                break;
            }
            at += next;
        }
    }
    Ok(d)
}
