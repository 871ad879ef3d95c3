//! Everything reachable from `PT_DYNAMIC`: needed libraries, init/fini, relocation tables,
//! `.dynsym` sized by the hash tables (and by relocations and the section table when they
//! reach further), and the version tables.

use super::{abi, bad, ElfObject};
use crate::error::Result;
use std::cell::Cell;

/// Bytes of names (symbols, needed libraries, versions) one object may decode. Real libraries
/// need well under a megabyte; the bound stops a table whose entries all point at one long
/// string from multiplying it.
const MAX_NAME_BYTES: u64 = 64 << 20;

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
    /// Programs only: run before any initialiser of any object.
    pub preinit_array: Vec<u64>,
    pub preinit_array_addr: u64,
    pub fini_array: Vec<u64>,
    pub fini_array_addr: u64,
    pub pltgot: Option<u64>,
    pub jmprel: Vec<Reloc>,
    pub jmprel_addr: u64,
    pub relocs: Vec<Reloc>,
    /// DT_RELR's entries, undecoded ([`relr_offsets`] reads them).
    pub relr: Vec<u64>,
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

pub(super) fn read_dynamic(obj: &ElfObject, dv: u64, dynsym_count: Option<u32>) -> Result<Dynamic> {
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
    let name_bytes = Cell::new(0u64);
    let string = |off: u64| -> Result<String> {
        let at = strtab
            .checked_add(off)
            .ok_or_else(|| bad(&obj.path, format!("string offset {off:#x} overflows")))?;
        let s = obj.cstr_at(at)?;
        name_bytes.set(name_bytes.get() + s.len() as u64 + 1);
        if name_bytes.get() > MAX_NAME_BYTES {
            return Err(bad(
                &obj.path,
                format!(
                    "the names in the dynamic section add up to more than {} MiB",
                    MAX_NAME_BYTES >> 20
                ),
            ));
        }
        Ok(s)
    };
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
        if !obj.in_file(addr, size) {
            return Err(bad(
                &obj.path,
                format!("{name} at {addr:#x} with {size:#x} bytes runs past its segment's file contents"),
            ));
        }
        // Entries are relocated later (RELATIVE); here only the address matters.
        Ok((addr, vec![0; (size / w) as usize]))
    };
    (d.init_array_addr, d.init_array) =
        read_array(abi::DT_INIT_ARRAY, abi::DT_INIT_ARRAYSZ, "DT_INIT_ARRAY")?;
    (d.fini_array_addr, d.fini_array) =
        read_array(abi::DT_FINI_ARRAY, abi::DT_FINI_ARRAYSZ, "DT_FINI_ARRAY")?;
    (d.preinit_array_addr, d.preinit_array) = read_array(
        abi::DT_PREINIT_ARRAY,
        abi::DT_PREINIT_ARRAYSZ,
        "DT_PREINIT_ARRAY",
    )?;

    let read_relocs = |addr: u64, size: u64, rela: bool| -> Result<Vec<Reloc>> {
        let addr = check("relocation table", addr)?;
        let ent = if rela { 3 * w } else { 2 * w };
        if !obj.in_file(addr, size) {
            return Err(bad(
                &obj.path,
                format!("relocation table at {addr:#x} with {size:#x} bytes runs past its segment's file contents"),
            ));
        }
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
    if let (Some(a), Some(s)) = (get(abi::DT_RELR), get(abi::DT_RELRSZ)) {
        let a = check("DT_RELR", a)?;
        if !obj.in_file(a, s) {
            return Err(bad(
                &obj.path,
                format!(
                    "DT_RELR at {a:#x} with {s:#x} bytes runs past its segment's file contents"
                ),
            ));
        }
        d.relr = (0..s / w)
            .map(|i| obj.word_at(a + i * w))
            .collect::<Result<_>>()?;
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
        if !obj.in_file(a, buckets_at - a + 4 * u64::from(nbuckets)) {
            return Err(bad(
                &obj.path,
                format!("DT_GNU_HASH at {a:#x}: {nbuckets} buckets and {bloom_size} bloom words run past the file contents"),
            ));
        }
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
        if !obj.in_file(a, 8 + 4 * (u64::from(nbucket) + u64::from(nchain))) {
            return Err(bad(
                &obj.path,
                format!("DT_HASH at {a:#x}: {nbucket} buckets and {nchain} chains run past the file contents"),
            ));
        }
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
        .map(|r| r.sym.saturating_add(1))
        .fold(nsyms, u32::max)
        .max(dynsym_count.unwrap_or(0));
    let versym = get(abi::DT_VERSYM)
        .map(|a| check("DT_VERSYM", a))
        .transpose()?;
    let sym_size = if obj.is64() { 24 } else { 16 };
    let syment = get(abi::DT_SYMENT).unwrap_or(sym_size);
    if syment != sym_size {
        return Err(bad(
            &obj.path,
            format!("DT_SYMENT is {syment}, but ELF symbols here are {sym_size} bytes"),
        ));
    }
    // Checked before anything is decoded: the count comes from the hash table, the
    // relocations and the section table, any of which may be corrupt.
    if !obj.in_file(symtab, u64::from(nsyms) * syment) {
        return Err(bad(
            &obj.path,
            format!(
                ".dynsym at DT_SYMTAB {symtab:#x} would need {nsyms} symbols (from the hash table, the relocations and the section headers), more than its segment's file contents hold"
            ),
        ));
    }
    if let Some(v) = versym {
        if !obj.in_file(v, 2 * u64::from(nsyms)) {
            return Err(bad(
                &obj.path,
                format!("DT_VERSYM at {v:#x} with {nsyms} entries runs past its segment's file contents"),
            ));
        }
    }
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

/// The offsets of the words DT_RELR `entries` relocate, in order: an even entry is an
/// offset, an odd one a bitmap of the `8 * word - 1` words after the last offset covered
/// (the generic ABI's packed relative relocations).
pub fn relr_offsets(entries: &[u64], word: u64) -> impl Iterator<Item = u64> + '_ {
    let span = word * 8 - 1;
    let mut next = 0u64;
    entries.iter().flat_map(move |&e| {
        let words: Vec<u64> = if e & 1 == 0 {
            next = e.wrapping_add(word);
            vec![e]
        } else {
            let start = next;
            next = next.wrapping_add(span * word);
            (0..span)
                .filter(|bit| (e >> (bit + 1)) & 1 != 0)
                .map(|bit| start.wrapping_add(bit * word))
                .collect()
        };
        words
    })
}

#[cfg(test)]
mod relr_tests {
    use super::relr_offsets;

    #[test]
    fn addresses_and_bitmaps() {
        let e = [0x1000, 0b111, 0x2000, (1u64 << 63) | 1];
        let got: Vec<u64> = relr_offsets(&e, 8).collect();
        assert_eq!(
            got,
            vec![0x1000, 0x1008, 0x1010, 0x2000, 0x2000 + 8 + 62 * 8]
        );
        let got: Vec<u64> = relr_offsets(&[0x100, 0b1011], 4).collect();
        assert_eq!(got, vec![0x100, 0x104, 0x10c]);
        // A bitmap after a bitmap continues 31 words on.
        let got: Vec<u64> = relr_offsets(&[0x100, 1, 0b11], 4).collect();
        assert_eq!(got, vec![0x100, 0x104 + 31 * 4]);
    }
}
