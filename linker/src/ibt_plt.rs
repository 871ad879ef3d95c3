//! The IBT-enabled PLT (x86-64), as GNU ld lays it out when the output is marked IBT
//! (every input has it, or `-z ibt`) or `-z ibtplt` asks: PLT0 and lazy entries that start
//! with `endbr64` in `.plt`, and one 16-byte `.plt.sec` entry per symbol, `endbr64` and a jump
//! through the slot, which calls and canonical addresses use. `.plt.got` entries take the
//! same 16-byte form.

use crate::layout::{Layout, Synth};
use crate::link::Link;

/// Size of a `.plt.sec` entry (and of an IBT `.plt.got` entry).
pub const ENTRY_SIZE: u64 = 16;

/// Whether the link uses the IBT PLT.
pub fn enabled(link: &Link) -> bool {
    link.arch.has_ibt_plt()
        && (link.opts.z.ibt_plt() || crate::gnu_property::has_ibt(link.gnu_property.as_deref()))
}

/// The address calls to PLT entry `n` reach.
pub fn sec_entry(layout: &Layout, n: usize) -> u64 {
    layout.addr_of(Synth::PltSec) + ENTRY_SIZE * n as u64
}

/// `.plt.sec`'s contents: entry `n` jumps through `.got.plt` slot `n`.
pub fn write_sec(link: &Link, layout: &Layout, out: &mut [u8]) -> Result<(), String> {
    for n in 0..link.plt.len() {
        let at = n * ENTRY_SIZE as usize;
        let slot = crate::write::plt_addrs(link, layout, n).got_slot;
        link.arch
            .write_ibt_branch_entry(
                &mut out[at..at + ENTRY_SIZE as usize],
                sec_entry(layout, n),
                slot,
            )
            .map_err(|e| format!(".plt.sec: {e}"))?;
    }
    Ok(())
}
