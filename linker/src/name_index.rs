//! The global symbol table's index from name to [`SymbolId`]: open addressing with linear
//! probing over one flat vector of slots, each holding the name's hash beside it.
//!
//! Written here rather than taken from hashbrown (which the rest of the linker uses) for one
//! reason: resolution knows the hashes of an object's names before it looks them up, and
//! asks for the slot of a name several names ahead ([`NameIndex::prefetch_slot`]), then for
//! the bytes of the name found there ([`NameIndex::prefetch_name`]). On a large link the
//! slot and the name it is compared with are both cache misses, and resolution, which is
//! sequential, spent most of its time waiting on them. hashbrown's API cannot express where
//! a probe will land.

use crate::symbols::SymbolId;

#[derive(Clone, Copy)]
struct Slot<'d> {
    name: &'d [u8],
    hash: u64,
    id: SymbolId,
}

const EMPTY: SymbolId = SymbolId::MAX;
const VACANT: Slot<'static> = Slot {
    name: &[],
    hash: 0,
    id: EMPTY,
};

pub struct NameIndex<'d> {
    /// A power of two in length, at most half full.
    slots: Vec<Slot<'d>>,
    len: usize,
    /// 64 − log2(slots.len()): a slot is picked from the top bits of a mixed hash.
    shift: u32,
}

impl Default for NameIndex<'_> {
    fn default() -> Self {
        Self::with_slots_log2(6)
    }
}

/// What [`NameIndex::find_or_insert`] did.
pub enum Filed {
    /// The name was there, under this id.
    Found(SymbolId),
    /// It was not, and is now filed under the id given.
    Inserted,
}

impl<'d> NameIndex<'d> {
    fn with_slots_log2(bits: u32) -> Self {
        NameIndex {
            slots: vec![VACANT; 1 << bits],
            len: 0,
            shift: 64 - bits,
        }
    }

    /// The slot a hash starts probing at. The hash is mixed again (Fibonacci hashing) so that
    /// its top bits depend on all of it.
    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    #[inline(always)]
    fn next(&self, i: usize) -> usize {
        (i + 1) & (self.slots.len() - 1)
    }

    /// Asks for the slot a lookup of `hash` will read first.
    #[inline(always)]
    pub fn prefetch_slot(&self, hash: u64) {
        crate::prefetch::read(&self.slots[self.home(hash)]);
    }

    /// Asks for the name a lookup of `hash` will compare with, if its first slot (asked for
    /// earlier with [`NameIndex::prefetch_slot`]) holds that hash.
    #[inline(always)]
    pub fn prefetch_name(&self, hash: u64) {
        let slot = &self.slots[self.home(hash)];
        if slot.id != EMPTY && slot.hash == hash {
            if let Some(first) = slot.name.first() {
                crate::prefetch::read(first);
            }
        }
    }

    pub fn find(&self, name: &[u8], hash: u64) -> Option<SymbolId> {
        let mut i = self.home(hash);
        loop {
            let slot = &self.slots[i];
            if slot.id == EMPTY {
                return None;
            }
            if slot.hash == hash && slot.name == name {
                return Some(slot.id);
            }
            i = self.next(i);
        }
    }

    /// The id `name` is filed under, or files it under `new_id`.
    pub fn find_or_insert(&mut self, name: &'d [u8], hash: u64, new_id: SymbolId) -> Filed {
        let mut i = self.home(hash);
        loop {
            let slot = &self.slots[i];
            if slot.id == EMPTY {
                break;
            }
            if slot.hash == hash && slot.name == name {
                return Filed::Found(slot.id);
            }
            i = self.next(i);
        }
        self.slots[i] = Slot {
            name,
            hash,
            id: new_id,
        };
        self.len += 1;
        if self.len * 2 > self.slots.len() {
            self.grow();
        }
        Filed::Inserted
    }

    /// Doubles the slots; every name goes to its new place by its stored hash, without
    /// reading the name.
    fn grow(&mut self) {
        let bits = 64 - self.shift + 1;
        let old = std::mem::replace(self, Self::with_slots_log2(bits));
        self.len = old.len;
        for slot in old.slots.into_iter().filter(|s| s.id != EMPTY) {
            let mut i = self.home(slot.hash);
            while self.slots[i].id != EMPTY {
                i = self.next(i);
            }
            self.slots[i] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbols::name_hash;

    #[test]
    fn names_keep_their_ids_across_growth_and_colliding_hashes_stay_apart() {
        let names: Vec<Vec<u8>> = (0..5000).map(|n| format!("sym{n}").into_bytes()).collect();
        let mut index = NameIndex::default();
        for (id, name) in names.iter().enumerate() {
            assert!(matches!(
                index.find_or_insert(name, name_hash(name), id as SymbolId),
                Filed::Inserted
            ));
        }
        for (id, name) in names.iter().enumerate() {
            assert_eq!(index.find(name, name_hash(name)), Some(id as SymbolId));
            assert!(matches!(
                index.find_or_insert(name, name_hash(name), 99_999),
                Filed::Found(found) if found == id as SymbolId
            ));
        }
        assert_eq!(index.find(b"absent", name_hash(b"absent")), None);
        // Two names under one hash (as a collision would file them) are told apart by name.
        let mut index = NameIndex::default();
        assert!(matches!(index.find_or_insert(b"a", 7, 0), Filed::Inserted));
        assert!(matches!(index.find_or_insert(b"b", 7, 1), Filed::Inserted));
        assert_eq!(index.find(b"a", 7), Some(0));
        assert_eq!(index.find(b"b", 7), Some(1));
        assert_eq!(index.find(b"c", 7), None);
    }
}
