//! The output `.eh_frame`, rewritten as GNU ld writes it (`bfd/elf-eh-frame.c`):
//!
//! - an FDE whose code was discarded (`--gc-sections`, a losing COMDAT copy, `/DISCARD/`)
//!   is dropped, and so is a CIE no kept FDE uses;
//! - a CIE identical to one kept earlier (same bytes, and its relocations — the personality
//!   routine — reach the same targets) is dropped, its FDEs pointing at the first copy,
//!   possibly in another input;
//! - a zero terminator is kept only in the last input `.eh_frame` (crtend.o's
//!   `__FRAME_END__`): a static program's unwinder walks from crtbeginT.o's
//!   `__EH_FRAME_BEGIN__` to the first zero word, so one in the middle would hide the rest.
//!
//! Each input section gets its new bytes and, computed once, the output offset of every
//! relocation (or none when its record went) and of every record, for symbols. A CIE
//! pointer into another input is written once addresses are known ([`EhFrames::write`]):
//! the inputs are read in the order the layout places them (object order), so the kept copy
//! of a CIE always lies before the FDEs pointing at it, as the unsigned pointer requires.

use super::parse::{read_u32, split_records, Record, RecordKind};
use crate::layout::Layout;
use crate::link::Link;
use crate::object_file::{InputSection, SymPlace};
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

/// An input `.eh_frame` after the rewrite, described against the input's bytes rather than
/// copied: the output is the input's kept records, a few words changed.
#[derive(Debug, Default)]
pub struct Rewritten {
    /// Output size: the kept records, padded to a word.
    size: u32,
    /// Runs of kept records: (input offset, output offset, length).
    pieces: Vec<(u32, u32, u32)>,
    /// Words of the output that differ from the input's: (output offset, value). A CIE
    /// pointer of an FDE that moved closer to its CIE, and the length of a last record padded
    /// to a word.
    patches: Vec<(u32, u32)>,
    /// Per relocation of the input section (same order): its output offset, or
    /// [`DROPPED`] when the record holding it was dropped.
    reloc_offsets: Vec<u32>,
    /// Per input record, by input offset: (input offset, output offset, kept). A dropped
    /// record's output offset is where the next kept one starts.
    records: Vec<(u32, u32, bool)>,
    /// FDEs whose CIE is the kept copy in another input: (offset of the CIE pointer field,
    /// that input (object, section), the CIE's offset in its output bytes).
    foreign_cies: Vec<(u32, (u32, u32), u32)>,
    fdes: u64,
}
// Offsets are 32-bit: an input `.eh_frame` of 4 GiB or more is copied as it is
// ([`Unrewritten`]), and these tables hold an entry per FDE of the link.

/// Marks a relocation whose record was dropped.
pub const DROPPED: u32 = u32::MAX;

#[derive(Debug, Default)]
pub struct EhFrames {
    sections: Vec<Rewritten>,
    /// Per object, per section: index into `sections`, or `u32::MAX`.
    index: Vec<Vec<u32>>,
    /// Whether any input has `.eh_frame` at all (`.eh_frame_hdr` is made only then).
    any: bool,
    /// The FDEs of inputs copied as they are.
    unrewritten_fdes: u64,
    /// The first input that could not be parsed: it is copied as it is, and no header can
    /// be built over it.
    pub malformed: Option<(usize, String)>,
}

impl EhFrames {
    pub fn get(&self, file: usize, sec: usize) -> Option<&Rewritten> {
        let i = *self.index.get(file)?.get(sec)?;
        self.sections.get(i as usize)
    }

    /// The kept FDEs of the whole output, or `None` when it keeps none: GNU ld then writes
    /// no `.eh_frame_hdr` (ARM code unwinds through `.ARM.exidx`; its crt files' `.eh_frame`
    /// sections are empty).
    pub fn fde_count(&self) -> Option<u64> {
        let count = self.unrewritten_fdes + self.sections.iter().map(|s| s.fdes).sum::<u64>();
        (self.any && count > 0).then_some(count)
    }

    /// The output size of input section `(file, sec)` if it was rewritten.
    pub fn size(&self, file: usize, sec: usize) -> Option<u64> {
        self.get(file, sec).map(|r| u64::from(r.size))
    }

    /// Where input offset `offset` (a symbol's value) of `(file, sec)` went.
    pub fn translate(&self, file: usize, sec: usize, offset: u64) -> Option<u64> {
        let r = self.get(file, sec)?;
        let i = r
            .records
            .partition_point(|&(start, _, _)| u64::from(start) <= offset);
        Some(match i.checked_sub(1).map(|i| r.records[i]) {
            Some((start, out, true)) => u64::from(out) + (offset - u64::from(start)),
            Some((_, out, false)) => u64::from(out),
            None => offset,
        })
    }

    /// Writes the rewritten bytes of `(file, sec)`, whose input bytes are `input`, into
    /// `out` and points its FDEs at CIEs kept in other inputs, now that `layout` places them.
    pub fn write(
        &self,
        (file, sec): (usize, usize),
        input: &[u8],
        out: &mut [u8],
        addr: u64,
        layout: &Layout,
    ) {
        let Some(r) = self.get(file, sec) else {
            return;
        };
        r.write_into(input, out);
        for &(field, (cf, cs), cie) in &r.foreign_cies {
            let Some(base) = layout.input_addr(cf as usize, cs as usize) else {
                continue;
            };
            let pointer = (addr + u64::from(field)).wrapping_sub(base + u64::from(cie)) as u32;
            let field = field as usize;
            out[field..field + 4].copy_from_slice(&pointer.to_le_bytes());
        }
    }
}

impl Rewritten {
    #[cfg(test)]
    fn bytes(&self, input: &[u8]) -> Vec<u8> {
        let mut out = vec![0xee; self.size as usize];
        self.write_into(input, &mut out);
        out
    }

    /// The output bytes but for the CIE pointers into other inputs.
    fn write_into(&self, input: &[u8], out: &mut [u8]) {
        let out = &mut out[..self.size as usize];
        let mut end = 0;
        for &(from, to, len) in &self.pieces {
            let (from, to, len) = (from as usize, to as usize, len as usize);
            out[to..to + len].copy_from_slice(&input[from..from + len]);
            end = to + len;
        }
        out[end..].fill(0);
        for &(at, value) in &self.patches {
            out[at as usize..at as usize + 4].copy_from_slice(&value.to_le_bytes());
        }
    }

    /// The output offset of relocation `index` of the input section, or `None` when its
    /// record was dropped.
    pub fn reloc_offset(&self, index: usize) -> Option<u64> {
        self.reloc_offsets
            .get(index)
            .copied()
            .filter(|&o| o != DROPPED)
            .map(u64::from)
    }
}

/// What a relocation inside a CIE reaches, for telling identical CIEs apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Reach {
    Global(u32),
    Local { file: u32, sec: u32, value: u64 },
    Other { file: u32, sym: u32 },
}

/// A CIE's identity: its bytes and its relocations (offset in the record, type, addend,
/// target).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CieKey {
    bytes: Vec<u8>,
    relocs: Vec<(u64, u32, i64, Reach)>,
}

/// One input section, read: its records, which are kept, and each kept CIE's key.
struct Parsed {
    file: u32,
    sec: u32,
    records: Vec<Record>,
    /// Per record: kept (an FDE of live code, a CIE one of those uses, a terminator of the
    /// last input).
    keep: Vec<bool>,
    /// Per record: the index of the first relocation at or after it.
    first_reloc: Vec<usize>,
    /// Per record (CIEs only): its key.
    keys: Vec<Option<CieKey>>,
}

/// Rewrites every live input `.eh_frame`.
pub fn rewrite(link: &Link) -> EhFrames {
    let inputs: Vec<(usize, usize)> = link
        .objects
        .iter()
        .enumerate()
        .flat_map(|(f, o)| {
            o.sections
                .iter()
                .enumerate()
                .filter(|(_, s)| s.live && s.name == b".eh_frame")
                .map(move |(s, _)| (f, s))
        })
        .collect();
    let last = inputs.last().copied();
    let parsed: Vec<Result<Result<Parsed, Unrewritten>, (usize, String)>> = inputs
        .par_iter()
        .map(|&(f, s)| parse(link, f, s, Some((f, s)) == last))
        .collect();
    let mut out = EhFrames {
        index: link
            .objects
            .iter()
            .map(|o| vec![u32::MAX; o.sections.len()])
            .collect(),
        any: !inputs.is_empty(),
        ..EhFrames::default()
    };
    let mut kept_cies: HashMap<CieKey, ((u32, u32), u64)> = HashMap::default();
    for p in parsed {
        match p {
            Ok(Err(Unrewritten(fdes))) => out.unrewritten_fdes += fdes,
            Ok(Ok(p)) => {
                let sec = &link.objects[p.file as usize].sections[p.sec as usize];
                out.index[p.file as usize][p.sec as usize] = out.sections.len() as u32;
                out.sections.push(lay_out(sec, p, &mut kept_cies));
            }
            Err(e) => {
                out.malformed.get_or_insert(e);
            }
        }
    }
    out
}

/// An input that is copied as it is, with the number of its FDEs.
struct Unrewritten(u64);

/// Reads one input and decides which of its records stay; `Unrewritten` for a section whose
/// relocations are out of order (no assembler writes one).
fn parse(
    link: &Link,
    f: usize,
    s: usize,
    last: bool,
) -> Result<Result<Parsed, Unrewritten>, (usize, String)> {
    let sec = &link.objects[f].sections[s];
    let records = split_records(sec.data).map_err(|e| (f, e.to_string()))?;
    if !sec.relocs.iter().is_sorted_by_key(|r| r.offset) || sec.data.len() >= u32::MAX as usize {
        let fdes = records
            .iter()
            .filter(|r| matches!(r.kind, RecordKind::Fde { .. }))
            .count();
        return Ok(Err(Unrewritten(fdes as u64)));
    }
    let mut first_reloc = Vec::with_capacity(records.len());
    let mut cursor = 0;
    for r in &records {
        while sec
            .relocs
            .get(cursor)
            .is_some_and(|x| x.offset < r.offset as u64)
        {
            cursor += 1;
        }
        first_reloc.push(cursor);
    }
    let mut keep = vec![false; records.len()];
    for (i, r) in records.iter().enumerate() {
        keep[i] = match r.kind {
            RecordKind::Fde { .. } => !describes_dropped_code(link, f, sec, r, first_reloc[i]),
            RecordKind::Cie => false,
            RecordKind::Terminator => last,
        };
    }
    for (i, r) in records.iter().enumerate() {
        if let (true, RecordKind::Fde { cie_offset }) = (keep[i], r.kind) {
            if let Ok(c) = records.binary_search_by_key(&cie_offset, |x| x.offset) {
                keep[c] = true;
            }
        }
    }
    let keys = records
        .iter()
        .enumerate()
        .map(|(i, r)| (keep[i] && r.kind == RecordKind::Cie).then(|| cie_key(link, f, sec, r)))
        .collect();
    Ok(Ok(Parsed {
        file: f as u32,
        sec: s as u32,
        records,
        keep,
        first_reloc,
        keys,
    }))
}

/// Relocations within `record`, starting at index `first`.
fn relocs_in<'a>(
    sec: &'a InputSection,
    record: &Record,
    first: usize,
) -> impl Iterator<Item = (usize, crate::object_file::Reloc)> + 'a {
    let end = (record.offset + record.size) as u64;
    sec.relocs
        .iter()
        .enumerate()
        .skip(first)
        .take_while(move |(_, r)| r.offset < end)
}

/// Whether an FDE's initial location (the relocation just after its CIE pointer) lies in
/// a section the output dropped.
fn describes_dropped_code(
    link: &Link,
    f: usize,
    sec: &InputSection,
    record: &Record,
    first: usize,
) -> bool {
    let at = (record.id_offset(sec.data) + 4) as u64;
    let obj = &link.objects[f];
    let Some((_, r)) = relocs_in(sec, record, first).find(|(_, r)| r.offset == at) else {
        return false;
    };
    let place = match link.global_id(f, r.sym) {
        Some(id) => match link.symtab.get(id).def {
            crate::symbols::Def::Regular { file, sym } => link.objects[file as usize]
                .symbols
                .get(sym as usize)
                .map(|s| (file as usize, s.place)),
            _ => None,
        },
        None => obj.symbols.get(r.sym as usize).map(|s| (f, s.place)),
    };
    matches!(place, Some((file, SymPlace::Section(t)))
        if link.objects[file].sections.get(t as usize).is_some_and(|s| !s.live))
}

fn cie_key(link: &Link, f: usize, sec: &InputSection, record: &Record) -> CieKey {
    let start = record.offset as u64;
    let first = sec.relocs.partition_point(|r| r.offset < start);
    let obj = &link.objects[f];
    let relocs = relocs_in(sec, record, first)
        .map(|(_, r)| {
            let reach = match link.global_id(f, r.sym) {
                Some(id) => Reach::Global(id),
                None => match obj.symbols.get(r.sym as usize) {
                    Some(s) => match s.place {
                        SymPlace::Section(t) => Reach::Local {
                            file: f as u32,
                            sec: t,
                            value: s.value,
                        },
                        _ => Reach::Other {
                            file: f as u32,
                            sym: r.sym,
                        },
                    },
                    None => Reach::Other {
                        file: f as u32,
                        sym: r.sym,
                    },
                },
            };
            (r.offset - start, r.r_type, r.addend, reach)
        })
        .collect();
    CieKey {
        bytes: sec.data[record.offset..record.offset + record.size].to_vec(),
        relocs,
    }
}

/// Writes the kept records of one input and maps its relocations and records; a CIE seen
/// before (in `kept_cies`) is not written again.
fn lay_out(
    sec: &InputSection,
    p: Parsed,
    kept_cies: &mut HashMap<CieKey, ((u32, u32), u64)>,
) -> Rewritten {
    let me = (p.file, p.sec);
    let mut out = Rewritten {
        reloc_offsets: vec![DROPPED; sec.relocs.len()],
        pieces: Vec::with_capacity(1),
        records: Vec::with_capacity(p.records.len()),
        ..Rewritten::default()
    };
    // Input CIE offset -> where its kept copy is.
    let mut cie_at: HashMap<usize, ((u32, u32), u64)> = HashMap::default();
    // The input and output offsets of the last CIE or FDE written.
    let mut last = None;
    let mut here = 0u64;
    for (i, (r, key)) in p.records.iter().zip(p.keys).enumerate() {
        out.records.push((r.offset as u32, here as u32, p.keep[i]));
        if !p.keep[i] {
            continue;
        }
        if let Some(key) = key {
            match kept_cies.get(&key) {
                Some(&copy) => {
                    cie_at.insert(r.offset, copy);
                    out.records.last_mut().expect("pushed").2 = false;
                    continue;
                }
                None => {
                    kept_cies.insert(key, (me, here));
                    cie_at.insert(r.offset, (me, here));
                }
            }
        }
        let (from, to, len) = (r.offset as u32, here as u32, r.size as u32);
        match out.pieces.last_mut() {
            Some(run) if run.0 + run.2 == from && run.1 + run.2 == to => run.2 += len,
            _ => out.pieces.push((from, to, len)),
        }
        here += r.size as u64;
        for (ri, x) in relocs_in(sec, r, p.first_reloc[i]) {
            out.reloc_offsets[ri] = (u64::from(to) + (x.offset - r.offset as u64)) as u32;
        }
        if let RecordKind::Fde { cie_offset } = r.kind {
            out.fdes += 1;
            let field_in = r.id_offset(sec.data);
            let field = u64::from(to) + (field_in - r.offset) as u64;
            match cie_at.get(&cie_offset) {
                Some(&(owner, cie)) if owner == me => {
                    let pointer = (field - cie) as u32;
                    if read_u32(sec.data, field_in).ok() != Some(pointer) {
                        out.patches.push((field as u32, pointer));
                    }
                }
                Some(&(owner, cie)) => out.foreign_cies.push((field as u32, owner, cie as u32)),
                // `parse` keeps the CIE of every kept FDE.
                None => {}
            }
        }
        last = (r.kind != RecordKind::Terminator).then_some((r.offset, to));
    }
    out.size = here as u32;
    let length = last.and_then(|(from, to)| Some((to, read_u32(sec.data, from).ok()?)));
    if let Some((at, (pad, padded))) = length.and_then(|(at, l)| Some((at, padding(here, l)?))) {
        out.size += pad;
        out.patches.push((at, padded));
    }
    out
}

/// Inputs are placed 4-aligned, and a zero word of padding between two of them would read
/// as a terminator: a section that does not end on a word is padded inside its last record
/// (`DW_CFA_nop`s, its length grown), as GNU ld pads.
/// The padding after an output of `size` bytes whose last record has length field `length`,
/// and that field grown over it; `None` when none is needed or the record is a 64-bit one.
fn padding(size: u64, length: u32) -> Option<(u32, u32)> {
    let pad = (size.next_multiple_of(4) - size) as u32;
    (pad > 0 && length != 0xffff_ffff).then(|| (pad, length + pad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object_file::Reloc;

    /// A "zR" CIE of 24 bytes.
    fn cie() -> Vec<u8> {
        let mut v = 20u32.to_le_bytes().to_vec();
        v.extend_from_slice(&[0, 0, 0, 0, 1, b'z', b'R', 0, 1, 0x78, 16, 1, 0x1b]);
        v.extend_from_slice(&[0x0c, 7, 8, 0x90, 1, 0, 0]);
        v
    }

    /// An FDE of 24 bytes at `at` using the CIE at `cie_at`.
    fn fde(at: usize, cie_at: usize) -> Vec<u8> {
        let mut v = 20u32.to_le_bytes().to_vec();
        v.extend_from_slice(&((at + 4 - cie_at) as u32).to_le_bytes());
        v.extend_from_slice(&[0; 16]);
        v
    }

    fn section<'d>(data: &'d [u8], relocs: &[u64]) -> InputSection<'d> {
        InputSection {
            name: b".eh_frame",
            sh_type: object::elf::SHT_PROGBITS.0,
            flags: object::elf::SHF_ALLOC.0,
            align: 8,
            size: data.len() as u64,
            data,
            entsize: 0,
            link: 0,
            relocs: relocs
                .iter()
                .map(|&offset| Reloc {
                    offset,
                    r_type: 2,
                    sym: 1,
                    addend: 0,
                })
                .collect(),
            live: true,
        }
    }

    /// `sec` read, with the records `keep` says stay and `key` for each CIE.
    fn parsed(file: u32, sec: &InputSection, keep: Vec<bool>, key: &CieKey) -> Parsed {
        let records = split_records(sec.data).unwrap();
        Parsed {
            file,
            sec: 1,
            first_reloc: records
                .iter()
                .map(|r| sec.relocs.partition_point(|x| x.offset < r.offset as u64))
                .collect(),
            keys: records
                .iter()
                .map(|r| (r.kind == RecordKind::Cie).then(|| key.clone()))
                .collect(),
            keep,
            records,
        }
    }

    #[test]
    fn dropped_fdes_merged_cies_and_the_last_terminator() {
        let key = CieKey {
            bytes: cie(),
            relocs: Default::default(),
        };
        // First input: a CIE, a kept FDE, an FDE of discarded code.
        let mut a = cie();
        a.extend(fde(24, 0));
        a.extend(fde(48, 0));
        // Second input: the same CIE, a kept FDE, the terminator (it is the last input).
        let mut b = cie();
        b.extend(fde(24, 0));
        b.extend_from_slice(&[0; 4]);
        let (sa, sb) = (section(&a, &[32, 56]), section(&b, &[32]));
        let mut kept = HashMap::default();
        let pa = parsed(0, &sa, vec![true, true, false], &key);
        let pb = parsed(1, &sb, vec![true, true, true], &key);
        let ra = lay_out(&sa, pa, &mut kept);
        let rb = lay_out(&sb, pb, &mut kept);

        assert_eq!(ra.bytes(&a), a[..48].to_vec());
        assert_eq!((ra.reloc_offset(0), ra.reloc_offset(1)), (Some(32), None));
        assert_eq!(ra.fdes, 1);
        // The second CIE is the first's: only its FDE and the terminator are written, the
        // FDE pointing back at the first input's CIE once addresses are known.
        let mut want = fde(0, 0);
        want[4..8].copy_from_slice(&[0; 4]);
        want.extend_from_slice(&[0; 4]);
        let mut got = rb.bytes(&b);
        got[4..8].copy_from_slice(&[0; 4]);
        assert_eq!(got, want);
        assert_eq!(rb.foreign_cies, vec![(4, (0, 1), 0)]);
        assert_eq!(rb.reloc_offset(0), Some(8));
        assert_eq!(rb.fdes, 1);

        let frames = EhFrames {
            sections: vec![ra, rb],
            index: vec![vec![u32::MAX, 0], vec![u32::MAX, 1]],
            any: true,
            unrewritten_fdes: 0,
            malformed: None,
        };
        assert_eq!(frames.fde_count(), Some(2));
        assert_eq!(frames.size(1, 1), Some(28));
        // Symbols: inside a kept record, in a dropped one (where the next would start), at
        // the end; crtend.o's __FRAME_END__ stands on the terminator.
        assert_eq!(frames.translate(0, 1, 30), Some(30));
        assert_eq!(frames.translate(0, 1, 50), Some(48));
        assert_eq!(frames.translate(1, 1, 0), Some(0));
        assert_eq!(frames.translate(1, 1, 48), Some(24));
        assert_eq!(frames.translate(1, 1, 26), Some(2));
        assert_eq!(frames.get(0, 0).map(|_| ()), None);
    }

    #[test]
    fn a_section_ending_off_a_word_is_padded_inside_its_last_record() {
        let key = CieKey {
            bytes: cie(),
            relocs: Default::default(),
        };
        // A CIE and an FDE of 22 bytes (length 18): two bytes short of a word.
        let mut data = cie();
        data.extend_from_slice(&[0x14, 0, 0, 0, 0x1c, 0, 0, 0]);
        data.extend_from_slice(&[0xaa; 14]);
        data[24..28].copy_from_slice(&18u32.to_le_bytes());
        let sec = section(&data, &[]);
        let p = parsed(0, &sec, vec![true, true], &key);
        let out = lay_out(&sec, p, &mut HashMap::default()).bytes(&data);
        assert_eq!(out.len(), 48);
        assert_eq!(&out[24..28], &20u32.to_le_bytes());
        assert_eq!((&out[..24], &out[28..46]), (&data[..24], &data[28..46]));
        assert_eq!(&out[46..], &[0, 0]);
        assert_eq!(split_records(&out).unwrap().len(), 2);
        assert_eq!(padding(48, 20), None);
        assert_eq!(padding(46, 0xffff_ffff), None);
    }

    #[test]
    fn an_fde_points_at_a_cie_kept_earlier_in_its_own_input() {
        let key = CieKey {
            bytes: cie(),
            relocs: Default::default(),
        };
        // CIE, dropped FDE, kept FDE: the kept one moves 24 bytes closer to its CIE.
        let mut a = cie();
        a.extend(fde(24, 0));
        a.extend(fde(48, 0));
        let sa = section(&a, &[32, 56]);
        let pa = parsed(0, &sa, vec![true, false, true], &key);
        let ra = lay_out(&sa, pa, &mut HashMap::default());
        let bytes = ra.bytes(&a);
        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[28..32], &28u32.to_le_bytes());
        assert!(ra.foreign_cies.is_empty());
        assert_eq!((ra.reloc_offset(0), ra.reloc_offset(1)), (None, Some(32)));
        let records = split_records(&bytes).unwrap();
        assert_eq!(records[1].kind, RecordKind::Fde { cie_offset: 0 });
    }
}
