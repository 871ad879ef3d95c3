//! Copy relocations: a program whose code addresses imported data directly (non-PIC code,
//! or gcc's x86-64 PIE code, which assumes copy relocations) gets its own copy of the data in
//! `.dynbss`; the loader copies the initial value there (`R_*_COPY`) and binds every other
//! reference, the library's own included, to the copy. Aliases of the data in the same
//! library (`environ` and `__environ`) share one copy. Copies of data the library never
//! writes go to a RELRO `.data.rel.ro` instead, as GNU ld puts them, so they become read-only
//! once the loader has copied them.

use crate::link::Link;
use crate::symbols::{Def, SymbolId};
use rustc_hash::FxHashMap as HashMap;

/// One copy of a library's data object.
#[derive(Clone, Debug)]
pub struct CopySlot {
    pub dso: u32,
    /// The object's address in the library (aliases share it).
    pub value: u64,
    pub size: u64,
    pub align: u64,
    /// In `.data.rel.ro` rather than `.dynbss`.
    pub read_only: bool,
    /// Offset within its section.
    pub offset: u64,
    /// The symbol the COPY relocation names, then its aliases.
    pub symbols: Vec<SymbolId>,
}

/// Size and alignment of one of the two sections copies go to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Region {
    pub size: u64,
    pub align: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Copies {
    pub slots: Vec<CopySlot>,
    slot_of: HashMap<SymbolId, u32>,
    /// `.dynbss` (writable data).
    pub writable: Region,
    /// The RELRO `.data.rel.ro` (data the library never writes).
    pub read_only: Region,
}

impl Copies {
    /// The copy holding symbol `id`, if the program has one.
    pub fn slot(&self, id: SymbolId) -> Option<&CopySlot> {
        self.slot_of.get(&id).map(|&i| &self.slots[i as usize])
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether some copy goes to the section for read-only (or writable) data.
    pub fn any(&self, read_only: bool) -> bool {
        self.slots.iter().any(|s| s.read_only == read_only)
    }
}

/// The largest alignment a copy can need; GNU ld caps it by the library's section, which the
/// dynamic symbol table does not tell.
const MAX_COPY_ALIGN: u64 = 32;

/// Plans one copy per imported object in `wanted` (symbol ids, in scan order), with the
/// aliases that share its address.
pub fn plan(link: &Link, wanted: &[SymbolId]) -> Copies {
    let mut copies = Copies::default();
    let mut by_address: HashMap<(u32, u64), u32> = HashMap::default();
    for &id in wanted {
        if copies.slot_of.contains_key(&id) {
            continue;
        }
        let Def::Shared { dso, sym } = link.symtab.get(id).def else {
            continue;
        };
        let d = &link.dsos[dso as usize].symbols[sym as usize];
        let key = (dso, d.value);
        let index = *by_address.entry(key).or_insert_with(|| {
            let align = (1u64 << d.value.trailing_zeros().min(63)).min(MAX_COPY_ALIGN);
            copies.slots.push(CopySlot {
                dso,
                value: d.value,
                size: d.size,
                align,
                read_only: d.read_only,
                offset: 0,
                symbols: Vec::new(),
            });
            copies.slots.len() as u32 - 1
        });
        let slot = &mut copies.slots[index as usize];
        slot.size = slot.size.max(d.size);
        slot.symbols.push(id);
        copies.slot_of.insert(id, index);
    }
    add_aliases(link, &mut copies, &by_address);
    let mut regions = [Region { size: 0, align: 1 }; 2];
    for slot in &mut copies.slots {
        let region = &mut regions[usize::from(slot.read_only)];
        slot.offset = region.size.next_multiple_of(slot.align);
        region.size = slot.offset + slot.size;
        region.align = region.align.max(slot.align);
    }
    [copies.writable, copies.read_only] = regions;
    copies
}

/// Every other symbol of the same library at a copied address joins that copy.
fn add_aliases(link: &Link, copies: &mut Copies, by_address: &HashMap<(u32, u64), u32>) {
    if by_address.is_empty() {
        return;
    }
    for id in 0..link.symtab.len() as SymbolId {
        if copies.slot_of.contains_key(&id) {
            continue;
        }
        let Def::Shared { dso, sym } = link.symtab.get(id).def else {
            continue;
        };
        let value = link.dsos[dso as usize].symbols[sym as usize].value;
        if let Some(&index) = by_address.get(&(dso, value)) {
            copies.slots[index as usize].symbols.push(id);
            copies.slot_of.insert(id, index);
        }
    }
}
