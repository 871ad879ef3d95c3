//! What is particular to dynamic programs: canonical PLT addresses. Non-PIC program code
//! that takes a function's address gets the program's PLT entry, so the linker gives the
//! undefined symbol that entry's address as its value; glibc then binds every non-PLT
//! reference (GLOB_DAT, ABS in libraries) to it, and only the program's own JUMP_SLOT to the
//! real definition (see `symbols::lookup_for`).

use super::*;

impl Session {
    /// Records an [`Event::CanonicalPlt`] for each canonical PLT address object `i` exports.
    pub(super) fn record_canonical_plt(&mut self, i: usize) {
        let o = &self.objects[i];
        let found: Vec<(String, u64)> = o
            .elf
            .dynamic
            .symbols
            .iter()
            .filter(|s| symbols::is_canonical_plt(s))
            .map(|s| (s.name.clone(), o.base.wrapping_add(s.value)))
            .collect();
        let object = o.name.clone();
        for (symbol, address) in found {
            self.record(Event::CanonicalPlt {
                object: object.clone(),
                symbol,
                address,
            });
        }
    }
}
