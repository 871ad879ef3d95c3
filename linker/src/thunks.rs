//! Range-extension and interworking thunks (veneers), placed after layout.
//!
//! The target says which branches need a thunk ([`crate::arch::Arch::needs_thunk`]). Thunks
//! live in two islands: `.text.thunks` just before `.text` (after `.plt`, so thunks to PLT
//! entries are short hops) and `.text.thunks.end` just after it; a branch uses the island
//! nearer to it, so a `.text` up to twice a branch's reach is covered. One thunk per (island,
//! kind, destination symbol) is shared by every branch that needs it. Thunks are keyed by
//! symbol, not address, because adding thunks moves code: the driver lays out again until no
//! branch needs a new thunk (the set only grows and is bounded by the relocations).
//!
//! Assumption (as for every ARM toolchain we know): a branch that needs a thunk targets its
//! symbol with the standard PC-bias addend, so the thunk goes to the symbol (or its PLT entry).

use crate::arch::{SymbolFacts, ThunkSpec};
use crate::got_plt::Target;
use crate::layout::{Layout, Synth};
use crate::link::Link;
use crate::relocate::branch_dest;
use rayon::prelude::*;

/// Output section names of the islands, in island order.
pub const ISLAND_NAMES: [&[u8]; 2] = [b".text.thunks", b".text.thunks.end"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThunkEntry {
    pub spec: ThunkSpec,
    pub target: Target,
    pub via_plt: bool,
    /// Offset in its island.
    pub offset: u64,
}

#[derive(Debug, Default, Clone)]
pub struct Island {
    pub entries: Vec<ThunkEntry>,
    pub size: u64,
    pub align: u64,
}

#[derive(Debug, Default, Clone)]
pub struct Thunks {
    pub islands: [Island; 2],
}

/// The island a branch at `place` uses: the one on its side of the middle of `.text`.
pub fn island_for(layout: &Layout, place: u64) -> usize {
    match layout.by_name(b".text") {
        Some(text) if place >= text.addr + text.size / 2 => 1,
        _ => 0,
    }
}

impl Thunks {
    pub fn is_empty(&self) -> bool {
        self.islands.iter().all(|i| i.entries.is_empty())
    }

    /// Address of the thunk a branch at `place` uses to reach `target`, if there is one.
    pub fn addr(
        &self,
        layout: &Layout,
        place: u64,
        spec: ThunkSpec,
        target: Target,
        via_plt: bool,
    ) -> Option<u64> {
        let island = island_for(layout, place);
        self.islands[island]
            .entries
            .iter()
            .find(|e| e.spec == spec && e.target == target && e.via_plt == via_plt)
            .map(|e| layout.addr_of(Synth::Thunks(island as u8)) + e.offset)
    }

    fn add(&mut self, island: usize, spec: ThunkSpec, target: Target, via_plt: bool) -> bool {
        let island = &mut self.islands[island];
        if island
            .entries
            .iter()
            .any(|e| e.spec == spec && e.target == target && e.via_plt == via_plt)
        {
            return false;
        }
        let offset = island.size.next_multiple_of(spec.align.max(1));
        island.entries.push(ThunkEntry {
            spec,
            target,
            via_plt,
            offset,
        });
        island.size = offset + spec.size;
        island.align = island.align.max(spec.align);
        true
    }
}

/// Adds the thunks the branches need at `layout`'s addresses; true if any was added. The
/// branches are examined per object in parallel; the thunks are added in object order, so
/// the islands come out the same whatever the thread count.
pub fn grow(
    link: &Link,
    layout: &Layout,
    actions: &[Vec<Vec<crate::scan::RelocAction>>],
    thunks: &mut Thunks,
) -> bool {
    if !link.arch.has_thunks() {
        return false;
    }
    let wanted: Vec<Vec<Wanted>> = (0..link.objects.len())
        .into_par_iter()
        .map(|file| branches_needing_thunks(link, layout, actions, file))
        .collect();
    let mut added = false;
    for w in wanted.into_iter().flatten() {
        added |= thunks.add(w.island, w.spec, w.target, w.via_plt);
    }
    added
}

/// A branch that cannot reach its destination: which thunk it needs, and where.
struct Wanted {
    island: usize,
    spec: ThunkSpec,
    target: Target,
    via_plt: bool,
}

fn branches_needing_thunks(
    link: &Link,
    layout: &Layout,
    actions: &[Vec<Vec<crate::scan::RelocAction>>],
    file: usize,
) -> Vec<Wanted> {
    let mut wanted = Vec::new();
    for (sec, section) in link.objects[file].sections.iter().enumerate() {
        if !section.live || !section.is_alloc() {
            continue;
        }
        let Some(base) = layout.input_addr(file, sec) else {
            continue;
        };
        let Some(section_actions) = actions.get(file).and_then(|a| a.get(sec)) else {
            continue;
        };
        for (r, action) in section.relocs.iter().zip(section_actions) {
            if action.howto.expr != crate::arch::RelExpr::Plt {
                continue;
            }
            let (info, _) = link.reference(file, r.sym);
            let dest = branch_dest(link, layout, info.target, action.via_plt);
            let facts = SymbolFacts {
                binds_locally: !action.via_plt,
                is_function: info.is_function,
                undefined_weak: info.undefined_weak,
            };
            let place = base + action.offset(&r);
            if let Some(spec) = link.arch.needs_thunk(r.r_type, place, dest, facts) {
                wanted.push(Wanted {
                    island: island_for(layout, place),
                    spec,
                    target: info.target,
                    via_plt: action.via_plt,
                });
            }
        }
    }
    wanted
}
