//! Which input sections a relocatable output keeps and where each goes.
//!
//! As GNU ld's `-r`, output sections keep the input names (`.text.foo` is not folded into
//! `.text`); inputs of the same name, kind and entry size are concatenated in input order,
//! each at its alignment. A member of a kept COMDAT group is an output section of its own, so
//! the group can be carried over; an `SHF_LINK_ORDER` section (`.ARM.exidx`) joins others
//! only when they describe the same output section. `SHF_MERGE` contents are not merged.

use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::object_file::{InputSection, ObjectFile};
use object::elf;
use std::collections::HashMap;

/// An input section placed at `offset` of its output section.
#[derive(Clone, Copy, Debug)]
pub struct Piece {
    pub file: u32,
    pub sec: u32,
    pub offset: u64,
}

#[derive(Debug)]
pub struct OutSection<'d> {
    pub name: &'d [u8],
    pub sh_type: u32,
    pub flags: u64,
    pub align: u64,
    pub entsize: u64,
    pub size: u64,
    pub pieces: Vec<Piece>,
    /// For an `SHF_LINK_ORDER` section: the output section it describes.
    pub link: Option<usize>,
    /// The contents (empty for `SHT_NOBITS`), built by [`build_contents`].
    pub data: Vec<u8>,
}

/// A kept COMDAT group: the object that won it, its signature symbol there, and the output
/// sections of its members.
#[derive(Debug)]
pub struct OutGroup {
    pub file: u32,
    pub signature_sym: u32,
    pub members: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct Plan<'d> {
    pub sections: Vec<OutSection<'d>>,
    pub groups: Vec<OutGroup>,
    /// Per object, per input section: (output section, offset in it).
    place: Vec<Vec<Option<(usize, u64)>>>,
    /// FDEs of discarded code in the input `.eh_frame`s, folded into padding.
    pub dead_fdes: super::dead_fdes::DeadFdes,
}

impl Plan<'_> {
    /// Where input section `sec` of object `file` went, if it was kept.
    pub fn place(&self, file: usize, sec: usize) -> Option<(usize, u64)> {
        self.place.get(file)?.get(sec).copied().flatten()
    }
}

/// Sections that merge when their name, kind, entry size and described section agree.
type Key<'d> = (&'d [u8], bool, u64, Option<usize>);

const MERGE_FLAGS: u64 = elf::SHF_MERGE.0 | elf::SHF_STRINGS.0;

/// Whether a relocatable output carries the input section. `.note.GNU-stack` says whether
/// the object needs an executable stack, which the final link still has to know.
fn kept(sec: &InputSection) -> bool {
    sec.live || (sec.name == b".note.GNU-stack" && sec.sh_type == elf::SHT_PROGBITS.0)
}

fn is_link_order(sec: &InputSection) -> bool {
    sec.flags & elf::SHF_LINK_ORDER.0 != 0
}

/// Places every kept input section. Link-order sections go second, once the sections they
/// describe have their places.
pub fn plan<'d>(link: &Link<'d>) -> Result<Plan<'d>> {
    let mut p = Planner {
        plan: Plan {
            place: link
                .objects
                .iter()
                .map(|o| vec![None; o.sections.len()])
                .collect(),
            ..Default::default()
        },
        by_key: HashMap::new(),
        group_of: HashMap::new(),
    };
    for link_order in [false, true] {
        for (f, obj) in link.objects.iter().enumerate() {
            for (s, sec) in obj.sections.iter().enumerate() {
                if !kept(sec) || is_link_order(sec) != link_order {
                    continue;
                }
                let described = match link_order {
                    false => None,
                    // Unwind data of dropped code goes with it.
                    true => match p.plan.place(f, sec.link as usize) {
                        Some((out, _)) => Some(out),
                        None => continue,
                    },
                };
                let group = obj
                    .groups
                    .iter()
                    .position(|g| g.members.contains(&(s as u32)));
                let out = match group {
                    Some(g) => p.group_member(f, g, obj.groups[g].signature_sym, sec, described),
                    None => p.shared_section(sec, described),
                };
                p.append(out, f, s, sec);
            }
        }
    }
    keep_common_property_note(link, &mut p);
    Ok(p.plan)
}

/// `.note.gnu.property` (x86 CET and ISA markings) states what every input supports. It is
/// kept when all inputs carry the same note; otherwise it is dropped, and the output then
/// claims no feature, which is safe where GNU ld would combine the notes.
fn keep_common_property_note<'d>(link: &Link<'d>, p: &mut Planner<'d>) {
    fn note<'a, 'd>(obj: &'a ObjectFile<'d>) -> Option<(usize, &'a InputSection<'d>)> {
        let mut notes = obj
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name == b".note.gnu.property" && s.relocs.is_empty());
        match (notes.next(), notes.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }
    let Some((s, first)) = link.objects.first().and_then(note) else {
        return;
    };
    let same = link
        .objects
        .iter()
        .all(|o| note(o).is_some_and(|(_, n)| n.data == first.data && n.sh_type == first.sh_type));
    if same {
        let out = p.shared_section(first, None);
        p.append(out, 0, s, first);
    }
}

struct Planner<'d> {
    plan: Plan<'d>,
    by_key: HashMap<Key<'d>, usize>,
    /// (object, its group index) → output group.
    group_of: HashMap<(usize, usize), usize>,
}

impl<'d> Planner<'d> {
    /// A new output section for a member of group `g` of object `file`.
    fn group_member(
        &mut self,
        file: usize,
        g: usize,
        signature_sym: u32,
        sec: &InputSection<'d>,
        described: Option<usize>,
    ) -> usize {
        let out = new_section(&mut self.plan, sec, described);
        let groups = &mut self.plan.groups;
        let og = *self.group_of.entry((file, g)).or_insert_with(|| {
            groups.push(OutGroup {
                file: file as u32,
                signature_sym,
                members: Vec::new(),
            });
            groups.len() - 1
        });
        groups[og].members.push(out);
        out
    }

    /// The output section an ungrouped input joins, made on first use.
    fn shared_section(&mut self, sec: &InputSection<'d>, described: Option<usize>) -> usize {
        let key = (
            sec.name,
            sec.sh_type == elf::SHT_NOBITS.0,
            sec.entsize,
            described,
        );
        if let Some(&out) = self.by_key.get(&key) {
            merge_header(&mut self.plan.sections[out], sec);
            return out;
        }
        let out = new_section(&mut self.plan, sec, described);
        self.plan.sections[out].flags &= !elf::SHF_GROUP.0;
        self.by_key.insert(key, out);
        out
    }

    /// Places input section `s` of object `f` at the end of output section `out`.
    fn append(&mut self, out: usize, f: usize, s: usize, sec: &InputSection) {
        let o = &mut self.plan.sections[out];
        let offset = o.size.next_multiple_of(sec.align);
        o.size = offset + sec.size;
        o.pieces.push(Piece {
            file: f as u32,
            sec: s as u32,
            offset,
        });
        self.plan.place[f][s] = Some((out, offset));
    }
}

fn new_section<'d>(plan: &mut Plan<'d>, sec: &InputSection<'d>, link: Option<usize>) -> usize {
    plan.sections.push(OutSection {
        name: sec.name,
        sh_type: sec.sh_type,
        flags: sec.flags,
        align: sec.align,
        entsize: sec.entsize,
        size: 0,
        pieces: Vec::new(),
        link,
        data: Vec::new(),
    });
    plan.sections.len() - 1
}

/// Another input joins `out`: the strictest alignment, every flag any input has, but
/// mergeable only when every input is.
fn merge_header(out: &mut OutSection, sec: &InputSection) {
    out.align = out.align.max(sec.align);
    let mergeable = out.flags & sec.flags & MERGE_FLAGS;
    out.flags = ((out.flags | sec.flags) & !MERGE_FLAGS) | mergeable;
}

/// Fills every output section's contents: the target's merge where it has one
/// (`.ARM.attributes`), otherwise the inputs copied in place with the FDEs of discarded code
/// folded into padding.
pub fn build_contents(link: &Link, plan: &mut Plan) -> Result<()> {
    for out in plan.sections.iter_mut() {
        if out.sh_type == elf::SHT_NOBITS.0 {
            continue;
        }
        let inputs: Vec<(&str, &[u8])> = out
            .pieces
            .iter()
            .map(|p| {
                let obj = &link.objects[p.file as usize];
                (obj.name.as_str(), obj.sections[p.sec as usize].data)
            })
            .collect();
        if let Some(merged) = link.arch.merge_sections(out.sh_type, &inputs) {
            out.data = merged.map_err(|e| {
                LinkError::Other(format!("{}: {e}", crate::error::sym_name(out.name)))
            })?;
            out.size = out.data.len() as u64;
            for p in out.pieces.iter_mut() {
                p.offset = 0;
            }
            continue;
        }
        let mut data = vec![0u8; out.size as usize];
        for (p, (_, bytes)) in out.pieces.iter().zip(&inputs) {
            let at = &mut data[p.offset as usize..p.offset as usize + bytes.len()];
            at.copy_from_slice(bytes);
            super::dead_fdes::fold(at, plan.dead_fdes.of(p.file as usize, p.sec as usize));
        }
        out.data = data;
    }
    Ok(())
}
