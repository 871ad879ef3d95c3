//! Output sections from input sections: grouping by name, the target's merged sections,
//! ranking into segment classes, and where each input section goes within its output.

use super::{Content, OutSection, Synth};
use crate::error::{LinkError, Result};
use crate::link::Link;
use object::elf;

/// The output section an input section belongs to.
pub fn output_name(name: &[u8]) -> &[u8] {
    const PREFIXES: &[&[u8]] = &[
        b".text",
        b".rodata",
        b".data.rel.ro",
        b".data",
        b".bss",
        b".tdata",
        b".tbss",
        b".preinit_array",
        b".init_array",
        b".fini_array",
        b".gcc_except_table",
        // ARM unwind tables: `.ARM.exidx.text.f` goes with `.text.f` into one table.
        b".ARM.exidx",
        b".ARM.extab",
    ];
    for p in PREFIXES {
        if name == *p || (name.starts_with(p) && name.get(p.len()) == Some(&b'.')) {
            return p;
        }
    }
    name
}

/// Sort key: segment and position within it (see the module comment).
pub(super) fn rank(name: &[u8], sh_type: u32, flags: u64) -> u32 {
    let alloc = flags & elf::SHF_ALLOC.0 != 0;
    let write = flags & elf::SHF_WRITE.0 != 0;
    let exec = flags & elf::SHF_EXECINSTR.0 != 0;
    let tls = flags & elf::SHF_TLS.0 != 0;
    if !alloc {
        return match name {
            b".symtab" => 1050,
            b".strtab" => 1051,
            b".shstrtab" => 1100,
            _ => 1000,
        };
    }
    match name {
        b".interp" => return 5,
        b".note.gnu.property" => return 6,
        b".note.gnu.build-id" => return 10,
        b".hash" => return 20,
        b".gnu.hash" => return 21,
        b".dynsym" => return 22,
        b".dynstr" => return 23,
        b".gnu.version" => return 24,
        b".gnu.version_d" => return 25,
        b".gnu.version_r" => return 26,
        b".rela.dyn" | b".rel.dyn" => return 27,
        b".rela.plt" | b".rel.plt" => return 28,
        b".relr.dyn" => return 29,
        b".init" => return 30,
        b".plt" | b".plt.got" | b".plt.sec" | b".text.thunks" => return 31,
        b".text.thunks.end" => return 33,
        b".text" => return 32,
        b".fini" => return 34,
        b".rodata" => return 40,
        b".eh_frame_hdr" => return 42,
        b".eh_frame" => return 43,
        b".gcc_except_table" => return 44,
        b".tdata" => return 50,
        b".tbss" => return 51,
        b".preinit_array" => return 52,
        b".init_array" => return 53,
        b".fini_array" => return 54,
        b".data.rel.ro" => return 55,
        b".dynamic" => return 56,
        b".got" => return 57,
        b".got.plt" => return 60,
        b".data" => return 61,
        b".dynbss" => return 63,
        b".bss" => return 64,
        _ => {}
    }
    if sh_type == elf::SHT_NOTE.0 {
        11
    } else if tls {
        if sh_type == elf::SHT_NOBITS.0 {
            51
        } else {
            50
        }
    } else if exec {
        33
    } else if !write {
        41
    } else if sh_type == elf::SHT_NOBITS.0 {
        63
    } else {
        62
    }
}

/// The segment a rank belongs to: 0 = R (headers), 1 = RX, 2 = R, 3 = RW.
pub(super) fn segment_of(rank: u32) -> Option<usize> {
    match rank {
        0..=29 => Some(0),
        30..=39 => Some(1),
        40..=49 => Some(2),
        50..=99 => Some(3),
        _ => None,
    }
}

pub(super) fn is_relro(rank: u32) -> bool {
    (50..60).contains(&rank)
}

/// `.init_array.NNNNN` priority; plain `.init_array` runs after every prioritised one.
pub(super) fn init_priority(name: &[u8]) -> u32 {
    let digits = name.rsplit(|&b| b == b'.').next().unwrap_or(b"");
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(65536)
}

/// Input sections grouped by output name, in first-seen order (for determinism); init and fini
/// arrays sorted by priority.
pub(super) fn group_inputs(link: &Link) -> Vec<OutSection> {
    // Group input sections by output name, keeping first-seen order for determinism.
    let mut sections: Vec<OutSection> = Vec::new();
    let mut by_name = rustc_hash::FxHashMap::default();
    for (f, obj) in link.objects.iter().enumerate() {
        for (s, sec) in obj.sections.iter().enumerate() {
            if !sec.live || s == 0 {
                continue;
            }
            let idx = section_named(&mut sections, &mut by_name, output_name(sec.name));
            add_input(link, &mut sections[idx], f, s);
        }
    }
    sort_arrays_by_priority(link, &mut sections);
    sections
}

/// The position of the output section `name`, created empty if new.
pub(super) fn section_named(
    sections: &mut Vec<OutSection>,
    by_name: &mut rustc_hash::FxHashMap<Vec<u8>, usize>,
    name: &[u8],
) -> usize {
    *by_name.entry(name.to_vec()).or_insert_with(|| {
        sections.push(OutSection {
            name: name.to_vec(),
            sh_type: elf::SHT_NOBITS.0,
            flags: 0,
            align: 1,
            entsize: 0,
            content: Content::Inputs(Vec::new()),
            size: 0,
            addr: 0,
            offset: 0,
            rank: 0,
        });
        sections.len() - 1
    })
}

/// Appends input section `s` of object `f` to `out`, merging its type and flags in.
pub(super) fn add_input(link: &Link, out: &mut OutSection, f: usize, s: usize) {
    let sec = &link.objects[f].sections[s];
    // Merge-string flags cannot survive plain concatenation of differently sized entries.
    out.flags |= sec.flags & !(elf::SHF_MERGE.0 | elf::SHF_STRINGS.0 | elf::SHF_GROUP.0);
    if out.sh_type == elf::SHT_NOBITS.0 && sec.sh_type != elf::SHT_NOBITS.0 {
        out.sh_type = sec.sh_type;
    }
    if let Content::Inputs(list) = &mut out.content {
        list.push((f as u32, s as u32));
    }
}

/// `.init_array`, `.fini_array` and `.preinit_array` inputs in priority order.
pub(super) fn sort_arrays_by_priority(link: &Link, sections: &mut [OutSection]) {
    for out in sections.iter_mut() {
        if matches!(
            &out.name[..],
            b".init_array" | b".fini_array" | b".preinit_array"
        ) {
            if let Content::Inputs(list) = &mut out.content {
                list.sort_by_key(|&(f, s)| {
                    init_priority(link.objects[f as usize].sections[s as usize].name)
                });
            }
        }
    }
}

/// Replaces the inputs of the output sections the target merges rather than concatenates
/// (ARM build attributes) by their merged contents, returned in [`Synth::Merged`] order.
pub(super) fn merge_target_sections(
    link: &Link,
    sections: &mut [OutSection],
) -> Result<Vec<Vec<u8>>> {
    let arch = link.arch;
    let mut merged = Vec::new();
    for out in sections.iter_mut() {
        let Content::Inputs(list) = &out.content else {
            continue;
        };
        let inputs: Vec<(&str, &[u8])> = list
            .iter()
            .map(|&(f, s)| {
                let obj = &link.objects[f as usize];
                (obj.name.as_str(), obj.sections[s as usize].data)
            })
            .collect();
        if let Some((flags, entsize)) = link.merged.output_flags(list) {
            // Every input was merged alike: the output is still mergeable, as GNU ld's
            // `.comment` and `.debug_str` say.
            out.flags |= flags;
            out.entsize = entsize;
        }
        if let Some(result) = arch.merge_sections(out.sh_type, &inputs) {
            let bytes = result.map_err(LinkError::Other)?;
            out.size = bytes.len() as u64;
            out.content = Content::Synthetic(Synth::Merged(merged.len() as u32));
            merged.push(bytes);
        }
    }

    Ok(merged)
}

/// Sorts output sections by rank; equal ranks keep first-seen order (input sections before
/// the COMMON block).
pub(super) fn order(mut sections: Vec<OutSection>) -> Vec<OutSection> {
    for s in sections.iter_mut() {
        s.rank = rank(&s.name, s.sh_type, s.flags);
    }
    // Stable: equal ranks keep first-seen order (input sections before the COMMON block).
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.sort_by_key(|&i| sections[i].rank);
    let mut slots: Vec<Option<OutSection>> = sections.into_iter().map(Some).collect();
    order.iter().filter_map(|&i| slots[i].take()).collect()
}

/// Offsets of input sections within their output sections, and the output sections' sizes
/// and alignments: (output section position, offset) per object and input section.
pub(super) fn place_inputs(
    link: &Link,
    sections: &mut [OutSection],
    mut script: Option<&mut super::script_placement::Placer>,
) -> Vec<Vec<Option<(u32, u64)>>> {
    let arch = link.arch;
    let mut placement: Vec<Vec<Option<(u32, u64)>>> = link
        .objects
        .iter()
        .map(|o| vec![None; o.sections.len()])
        .collect();
    let code_sections = sections.iter().filter(|s| s.is_alloc_code()).count();
    for (oi, out) in sections.iter_mut().enumerate() {
        let Content::Inputs(list) = &out.content else {
            continue;
        };
        let mut size = 0u64;
        let mut align = 1u64;
        // `.eh_frame` is read as one list of records up to a zero word: padding between
        // inputs would end it early (crtbeginT.o's empty section marks where a static
        // program's unwinder starts), and records only need 4-byte alignment.
        let eh_frame = out.name == b".eh_frame";
        // A script's statements between inputs (`. = ALIGN(n)`, symbols) move the offset.
        let name = out.name.clone();
        let mut script_step = |at: usize, size: u64, align: &mut u64| match script.as_deref_mut() {
            Some(p) => p.step(&name, at, size, align),
            None => size,
        };
        for (at, &(f, s)) in list.iter().enumerate() {
            size = script_step(at, size, &mut align);
            let (f, s) = (f as usize, s as usize);
            let sec = &link.objects[f].sections[s];
            // A merged group's bytes stand where its first input would; the other inputs
            // share that place, their offsets translated through their piece maps.
            let (sec_align, sec_size) = match link.merged.group_of(f, s) {
                Some(g) if g.representative == (f as u32, s as u32) => {
                    (g.align, g.data.len() as u64)
                }
                Some(g) => {
                    let (rf, rs) = g.representative;
                    placement[f][s] = placement[rf as usize][rs as usize];
                    continue;
                }
                None if eh_frame => (
                    sec.align.min(4),
                    link.eh_frames.size(f, s).unwrap_or(sec.size),
                ),
                None => (sec.align, sec.size),
            };
            size = size.next_multiple_of(sec_align);
            placement[f][s] = Some((oi as u32, size));
            size += sec_size;
            align = align.max(sec_align);
        }
        size = script_step(list.len(), size, &mut align);
        out.size = size + arch.section_tail(out.sh_type, code_sections);
        out.align = align;
    }
    // A folded section is where its kept copy is, for its symbols and every reference.
    for ((f, s), (kf, ks)) in link.folded.iter() {
        placement[f as usize][s as usize] = placement[kf as usize][ks as usize];
    }
    placement
}

/// `.shstrtab` and each section's `sh_name`.
pub(super) fn names(sections: &mut [OutSection]) -> (Vec<u8>, Vec<u32>) {
    let mut shstrtab = vec![0u8];
    let mut sh_names = Vec::with_capacity(sections.len());
    for s in sections.iter() {
        sh_names.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(&s.name);
        shstrtab.push(0);
    }
    if let Some(s) = sections
        .iter_mut()
        .find(|s| matches!(s.content, Content::Synthetic(Synth::ShStrTab)))
    {
        s.size = shstrtab.len() as u64;
    }

    (shstrtab, sh_names)
}
