//! Range-extension and interworking thunks (veneers), placed after layout.
//!
//! The target says which branches need a thunk ([`crate::arch::Arch::needs_thunk`]); this
//! module collects one thunk per (kind, destination), shared by every branch that needs it, in
//! a synthetic section just before `.text` (after `.plt`, so thunks in front of PLT entries
//! are short hops). Adding thunks moves what follows them, which can make further branches
//! need one: the driver lays out again until the set stops growing (it only grows, so this
//! ends). Limit: one thunk section per output, so a caller must be within branch reach of it.

use crate::arch::{SymbolFacts, ThunkSpec};
use crate::layout::{Layout, Synth};
use crate::link::Link;
use crate::relocate::{branch_dest, target_address};

#[derive(Debug, Default, Clone)]
pub struct Thunks {
    /// Each thunk, its destination (bit 0 set for Thumb) and offset in the thunk section.
    pub entries: Vec<(ThunkSpec, u64, u64)>,
    pub size: u64,
    pub align: u64,
}

impl Thunks {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Address of the thunk of `spec` to `dest`, if there is one.
    pub fn addr(&self, layout: &Layout, spec: ThunkSpec, dest: u64) -> Option<u64> {
        self.entries
            .iter()
            .find(|(s, d, _)| s.kind == spec.kind && *d == dest)
            .map(|(_, _, off)| layout.addr_of(Synth::Thunks) + off)
    }

    fn add(&mut self, spec: ThunkSpec, dest: u64) -> bool {
        if self
            .entries
            .iter()
            .any(|(s, d, _)| s.kind == spec.kind && *d == dest)
        {
            return false;
        }
        let offset = self.size.next_multiple_of(spec.align.max(1));
        self.entries.push((spec, dest, offset));
        self.size = offset + spec.size;
        self.align = self.align.max(spec.align);
        true
    }
}

/// Adds the thunks the branches need at `layout`'s addresses; true if any was added.
pub fn grow(link: &Link, layout: &Layout, thunks: &mut Thunks) -> bool {
    let arch = link.arch;
    let mut added = false;
    for (file, obj) in link.objects.iter().enumerate() {
        for (sec, section) in obj.sections.iter().enumerate() {
            if !section.live || !section.is_alloc() {
                continue;
            }
            let Some(base) = layout.input_addr(file, sec) else {
                continue;
            };
            for r in &section.relocs {
                let Some(howto) = arch.classify(r.r_type) else {
                    continue;
                };
                if howto.expr != crate::arch::RelExpr::Plt {
                    continue;
                }
                let info = link.target_info(file, r.sym);
                let s = target_address(link, layout, info.target);
                let dest = branch_dest(link, layout, &info, s);
                let facts = SymbolFacts {
                    binds_locally: info.binds_locally,
                    is_function: info.is_function,
                    undefined_weak: info.undefined_weak,
                };
                if let Some(spec) = arch.needs_thunk(r.r_type, base + r.offset, dest, facts) {
                    added |= thunks.add(spec, dest);
                }
            }
        }
    }
    added
}
