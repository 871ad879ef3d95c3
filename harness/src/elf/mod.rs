//! Reading an ELF file into what the loader needs: segments, an image laid out by virtual
//! address, and the dynamic section decoded (symbols, versions, hash tables, relocations).
//!
//! Headers are read with the `object` crate; everything reachable from `PT_DYNAMIC` is read
//! from the laid-out image by address, as a real loader does. Section headers are optional:
//! they only size `.dynsym` for the hash-table cross-check and name symbols in fault reports.

use crate::arch::Arch;
use crate::error::{HarnessError, Result};
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{Object as _, ObjectSymbol as _};

pub mod abi;
mod dynamic;

use dynamic::read_dynamic;
pub use dynamic::{relr_offsets, DynSym, Dynamic, HashTable, Reloc};

pub const PAGE: u64 = 0x1000;
/// Far larger than any real library; a bigger span is a corrupt header, not a reason to
/// allocate gigabytes.
const MAX_SPAN: u64 = 256 << 20;
/// Largest TLS template size or alignment accepted; bigger is a corrupt header.
const MAX_TLS: u64 = 1 << 20;

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
                if vaddr.checked_add(memsz).is_none_or(|end| end > MAX_SPAN) {
                    return Err(bad(
                        path,
                        format!("PT_LOAD at {vaddr:#x} with p_memsz {memsz:#x} ends beyond the 256 MiB the harness maps"),
                    ));
                }
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
                // glibc refuses these too; a huge one would overflow placing the object.
                if align > 1 && (!align.is_power_of_two() || align > MAX_SPAN) {
                    return Err(bad(
                        path,
                        format!("PT_LOAD at {vaddr:#x}: p_align {align:#x} is not a power of two up to 256 MiB"),
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
                // The static TLS area is a few pages; a template must fit in it whole.
                if filesz > memsz
                    || memsz > MAX_TLS
                    || !align.max(1).is_power_of_two()
                    || align > MAX_TLS
                {
                    return Err(bad(
                        path,
                        format!("PT_TLS at {vaddr:#x}: p_filesz {filesz:#x}, p_memsz {memsz:#x} and p_align {align:#x} do not describe a TLS template the harness can hold"),
                    ));
                }
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
    let end = last
        .vaddr
        .checked_add(last.memsz)
        .filter(|&e| e <= MAX_SPAN);
    let Some(span) = end.map(page_up) else {
        return Err(bad(
            path,
            "segments span more than 256 MiB, more than the harness maps",
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
    /// Whether `[vaddr, vaddr + len)` lies within the file-backed part of one PT_LOAD: tables
    /// are bounded by the bytes of the file, not by a segment's zero-filled tail.
    pub fn in_file(&self, vaddr: u64, len: u64) -> bool {
        vaddr.checked_add(len).is_some_and(|end| {
            self.segments
                .iter()
                .any(|s| vaddr >= s.vaddr && end <= s.vaddr + s.filesz)
        })
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
        Ok(printable(&rest[..end]))
    }
}

/// A name from the file as text: UTF-8 as it is, any other byte as `\xNN`, so that messages
/// and traces never show replacement characters for a corrupt string table.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}
