//! `.plt.got` (x86-64): a function that is both called through the PLT and loaded from a GOT
//! entry the loader fills by name (GLOB_DAT) needs no lazy PLT entry and JUMP_SLOT of its
//! own: as GNU ld does, its calls go to an 8-byte `.plt.got` entry that jumps through that
//! GOT entry. Decided once, when GOT and PLT entries are allocated, and stored here.

use crate::decide::GotFill;
use crate::got_plt::{GotKind, Target};
use crate::layout::{Layout, Synth};
use crate::link::Link;
use rustc_hash::FxHashMap as HashMap;

/// The `.plt.got` entries, in order.
#[derive(Default, Debug)]
pub struct PltGot {
    pub targets: Vec<Target>,
    index: HashMap<Target, usize>,
}

impl PltGot {
    fn add(&mut self, target: Target) {
        if !self.index.contains_key(&target) {
            self.index.insert(target, self.targets.len());
            self.targets.push(target);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    pub fn index_of(&self, target: Target) -> Option<usize> {
        self.index.get(&target).copied()
    }
}

/// Whether calls to `target` go through `.plt.got`: the target has such entries, the GOT
/// entry is looked up by name, and no PLT entry must stand for the function's address (a
/// canonical PLT entry in a program; an IFUNC's IRELATIVE slot).
pub fn wanted(link: &Link, target: Target, canonical: bool, local_ifunc: bool) -> bool {
    link.arch.plt_got_entry_size().is_some()
        && !canonical
        && !local_ifunc
        && link
            .got
            .entry(GotKind::Address, target)
            .is_some_and(|e| e.fill == GotFill::Symbolic)
}

/// Splits the PLT targets the scan asked for between `.plt` and `.plt.got`.
pub fn allocate(link: &mut Link, targets: &[Target], canonical: &[crate::symbols::SymbolId]) {
    let mut is_canonical_id = vec![false; link.symtab.len()];
    for &id in canonical {
        is_canonical_id[id as usize] = true;
    }
    for &target in targets {
        // The scan asks once per call; a target is placed the first time.
        if link.plt.index_of(target).is_some() || link.plt_got.index_of(target).is_some() {
            continue;
        }
        let is_canonical = matches!(target, Target::Global(id) if is_canonical_id[id as usize]);
        let local_ifunc = link.is_local_ifunc(target);
        if wanted(link, target, is_canonical, local_ifunc) {
            link.plt_got.add(target);
        } else {
            link.plt.add(target, local_ifunc);
        }
    }
}

/// Size of an entry: 8 bytes, 16 in the IBT form ([`crate::ibt_plt`]).
pub fn entry_size(link: &Link) -> Option<u64> {
    let size = link.arch.plt_got_entry_size()?;
    Some(if link.plt.ibt {
        crate::ibt_plt::ENTRY_SIZE
    } else {
        size
    })
}

/// The address of `target`'s `.plt.got` entry, if it has one.
pub fn entry_address(link: &Link, layout: &Layout, target: Target) -> Option<u64> {
    let n = link.plt_got.index_of(target)?;
    let size = entry_size(link)?;
    Some(layout.addr_of(Synth::PltGot) + size * n as u64)
}

/// `.plt.got`'s contents: each entry jumps through its target's GOT entry.
pub fn contents(link: &Link, layout: &Layout, addr: u64, out: &mut [u8]) -> Result<(), String> {
    let Some(size) = entry_size(link) else {
        return Ok(());
    };
    let got = layout.addr_of(Synth::Got);
    let word = link.arch.got_entry_size();
    for (n, &target) in link.plt_got.targets.iter().enumerate() {
        let slot = link
            .got
            .word_of(GotKind::Address, target)
            .ok_or_else(|| "internal error: .plt.got entry without a GOT entry".to_string())?;
        let at = n * size as usize;
        let entry = addr + size * n as u64;
        let buf = &mut out[at..at + size as usize];
        let slot = got + slot * word;
        let written = if link.plt.ibt {
            link.arch.write_ibt_branch_entry(buf, entry, slot)
        } else {
            link.arch.write_plt_got_entry(buf, entry, slot)
        };
        written.map_err(|e| format!(".plt.got: {e}"))?;
    }
    Ok(())
}
