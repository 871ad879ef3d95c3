//! Every global symbol's address and PLT entry, computed once after layout (in parallel).
//! Relocating then reads one word per reference instead of following symbol → definition →
//! input section → output section for each of the millions of relocations of a large link.

use crate::got_plt::Target;
use crate::layout::{Layout, Synth};
use crate::link::Link;
use crate::relocate::{plt_entry, target_address};
use crate::symbols::SymbolId;
use rayon::prelude::*;

/// What the relocation pass reads about targets, indexed by [`SymbolId`].
pub struct Addresses {
    symbol: Vec<u64>,
    /// The PLT entry's address, or [`NO_PLT`].
    plt: Vec<u64>,
    /// `.got.plt`'s address (GOT-relative expressions are measured from it).
    pub got_origin: u64,
}

const NO_PLT: u64 = u64::MAX;

impl Addresses {
    pub fn compute(link: &Link, layout: &Layout) -> Addresses {
        let ids = 0..link.symtab.len() as SymbolId;
        let symbol = ids
            .clone()
            .into_par_iter()
            .map(|id| target_address(link, layout, Target::Global(id)))
            .collect();
        let plt = ids
            .into_par_iter()
            .map(|id| plt_entry(link, layout, Target::Global(id)).unwrap_or(NO_PLT))
            .collect();
        Addresses {
            symbol,
            plt,
            got_origin: layout.addr_of(Synth::GotPlt),
        }
    }

    /// [`target_address`] from the table for globals.
    pub fn of(&self, link: &Link, layout: &Layout, target: Target) -> u64 {
        match target {
            Target::Global(id) => self.symbol[id as usize],
            Target::Local { .. } => target_address(link, layout, target),
        }
    }

    /// Asks for the word [`Addresses::of`] or [`Addresses::branch_dest`] will read for global
    /// `id`.
    #[inline(always)]
    pub fn prefetch(&self, id: SymbolId, via_plt: bool) {
        let table = if via_plt { &self.plt } else { &self.symbol };
        if let Some(word) = table.get(id as usize) {
            crate::prefetch::read(word);
        }
    }

    /// [`crate::relocate::branch_dest`] from the table for globals.
    pub fn branch_dest(&self, link: &Link, layout: &Layout, target: Target, via_plt: bool) -> u64 {
        let plt = match (via_plt, target) {
            (false, _) => None,
            (true, Target::Global(id)) => Some(self.plt[id as usize]).filter(|&a| a != NO_PLT),
            (true, Target::Local { .. }) => plt_entry(link, layout, target),
        };
        plt.unwrap_or_else(|| self.of(link, layout, target))
    }
}
