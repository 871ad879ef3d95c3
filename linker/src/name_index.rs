//! The global symbol table's index from name to [`SymbolId`]: open addressing with linear
//! probing over one flat vector of 16-byte slots, each the id, 32 bits of the name's hash and
//! the name itself (its address and length packed in one word).
//!
//! Written here rather than taken from hashbrown (which the rest of the linker uses) for one
//! reason: resolution knows the hashes of an object's names before it looks them up, so it
//! asks for the slot of a name several names ahead ([`NameIndex::prefetch_slot`]), then for
//! the name that slot holds ([`NameIndex::prefetch_candidate`]). On a large link the slot and
//! the name it is compared with are each a cache miss, and resolution, which is sequential,
//! spent most of its time waiting on them. hashbrown's API cannot say where a probe will
//! land. The slot is 16 bytes so that a large link's table stays within its memory budget.

use crate::symbols::SymbolId;
use std::marker::PhantomData;

#[derive(Clone, Copy)]
struct Slot {
    /// The name's address in the low [`ADDRESS_BITS`] and its length above them, or
    /// [`UNPACKED`] for a name that does not fit (compared through the caller instead).
    name: u64,
    hash: u32,
    id: SymbolId,
}

const ADDRESS_BITS: u32 = 47;
const UNPACKED: u64 = u64::MAX;
const EMPTY: SymbolId = SymbolId::MAX;
const VACANT: Slot = Slot {
    name: UNPACKED,
    hash: 0,
    id: EMPTY,
};

pub struct NameIndex<'d> {
    /// A power of two in length, at most three quarters full.
    slots: Vec<Slot>,
    len: usize,
    /// 64 − log2(slots.len()): a slot is picked from the top bits of a mixed hash.
    shift: u32,
    /// The packed names borrow from the inputs.
    names: PhantomData<&'d [u8]>,
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

/// The part of a 64-bit name hash a slot keeps.
fn short(hash: u64) -> u32 {
    (hash >> 32) as u32
}

fn pack(name: &[u8]) -> u64 {
    let address = name.as_ptr() as u64;
    let len = name.len() as u64;
    // User addresses fit in 47 bits on x86-64 and AArch64 Linux; anything else (and any
    // name of 128 KiB or more) is simply compared the slow way.
    if address >> ADDRESS_BITS == 0 && len < (1 << (64 - ADDRESS_BITS)) - 1 {
        address | (len << ADDRESS_BITS)
    } else {
        UNPACKED
    }
}

impl<'d> NameIndex<'d> {
    fn with_slots_log2(bits: u32) -> Self {
        NameIndex {
            slots: vec![VACANT; 1 << bits],
            len: 0,
            shift: 64 - bits,
            names: PhantomData,
        }
    }

    /// The slot a hash starts probing at, from its kept part mixed again (Fibonacci
    /// hashing), so that growing needs nothing but the slots.
    #[inline(always)]
    fn home(&self, short: u32) -> usize {
        ((short as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    #[inline(always)]
    fn next(&self, i: usize) -> usize {
        (i + 1) & (self.slots.len() - 1)
    }

    /// The name a slot holds, if it is packed.
    #[inline(always)]
    fn name_of(slot: &Slot) -> Option<&'d [u8]> {
        if slot.name == UNPACKED {
            return None;
        }
        let address = (slot.name & ((1 << ADDRESS_BITS) - 1)) as usize;
        let len = (slot.name >> ADDRESS_BITS) as usize;
        // SAFETY: `pack` took the address and length from a `&'d [u8]` handed to
        // `find_or_insert`, and `'d` outlives this index.
        Some(unsafe { std::slice::from_raw_parts(address as *const u8, len) })
    }

    /// Whether `slot` holds `name` (filed under `hash`); `is_name` answers for a name that
    /// is not packed.
    #[inline(always)]
    fn holds(slot: &Slot, name: &[u8], hash: u32, is_name: &impl Fn(SymbolId) -> bool) -> bool {
        slot.hash == hash
            && match Self::name_of(slot) {
                Some(filed) => filed == name,
                None => is_name(slot.id),
            }
    }

    /// Asks for the slot a lookup of `hash` reads first.
    #[inline(always)]
    pub fn prefetch_slot(&self, hash: u64) {
        crate::prefetch::read(&self.slots[self.home(short(hash))]);
    }

    /// Asks for the name a lookup of `hash` will most likely compare with: the one in its
    /// first slot (asked for earlier with [`NameIndex::prefetch_slot`]), if the hashes agree.
    #[inline(always)]
    pub fn prefetch_candidate(&self, hash: u64) {
        let slot = &self.slots[self.home(short(hash))];
        if slot.id != EMPTY && slot.hash == short(hash) && slot.name != UNPACKED {
            crate::prefetch::read_at((slot.name & ((1 << ADDRESS_BITS) - 1)) as usize);
        }
    }

    /// The id filed under `name`; `is_name` tells whether a symbol is called `name`, for
    /// names the index could not pack.
    pub fn find(
        &self,
        name: &[u8],
        hash: u64,
        is_name: impl Fn(SymbolId) -> bool,
    ) -> Option<SymbolId> {
        let h = short(hash);
        let mut i = self.home(h);
        loop {
            let slot = &self.slots[i];
            if slot.id == EMPTY {
                return None;
            }
            if Self::holds(slot, name, h, &is_name) {
                return Some(slot.id);
            }
            i = self.next(i);
        }
    }

    /// [`NameIndex::find`], or else files `name` under `new_id`.
    pub fn find_or_insert(
        &mut self,
        name: &'d [u8],
        hash: u64,
        new_id: SymbolId,
        is_name: impl Fn(SymbolId) -> bool,
    ) -> Filed {
        let h = short(hash);
        let mut i = self.home(h);
        loop {
            let slot = &self.slots[i];
            if slot.id == EMPTY {
                break;
            }
            if Self::holds(slot, name, h, &is_name) {
                return Filed::Found(slot.id);
            }
            i = self.next(i);
        }
        self.slots[i] = Slot {
            name: pack(name),
            hash: h,
            id: new_id,
        };
        self.len += 1;
        if self.len * 4 > self.slots.len() * 3 {
            self.grow();
        }
        Filed::Inserted
    }

    /// Doubles the slots; every entry moves by its kept hash, without reading a name.
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
        let never = |_: SymbolId| -> bool { unreachable!("every name here is packed") };
        let mut index = NameIndex::default();
        for (id, name) in names.iter().enumerate() {
            let filed = index.find_or_insert(name, name_hash(name), id as SymbolId, never);
            assert!(matches!(filed, Filed::Inserted));
        }
        for (id, name) in names.iter().enumerate() {
            assert_eq!(
                index.find(name, name_hash(name), never),
                Some(id as SymbolId)
            );
            let filed = index.find_or_insert(name, name_hash(name), 99_999, never);
            assert!(matches!(filed, Filed::Found(found) if found == id as SymbolId));
        }
        assert_eq!(index.find(b"absent", name_hash(b"absent"), never), None);
        // Two names under one hash, as a collision files them, are told apart by name.
        let mut index = NameIndex::default();
        assert!(matches!(
            index.find_or_insert(b"a", 7, 0, never),
            Filed::Inserted
        ));
        assert!(matches!(
            index.find_or_insert(b"b", 7, 1, never),
            Filed::Inserted
        ));
        assert_eq!(index.find(b"a", 7, never), Some(0));
        assert_eq!(index.find(b"b", 7, never), Some(1));
        assert_eq!(index.find(b"c", 7, never), None);
    }

    #[test]
    fn a_name_too_long_to_pack_is_compared_through_the_caller() {
        let long = vec![b'x'; 200_000];
        let other = vec![b'x'; 200_000];
        assert_eq!(pack(&long), UNPACKED);
        let mut index = NameIndex::default();
        let is_long = |id: SymbolId| id == 0;
        assert!(matches!(
            index.find_or_insert(&long, 5, 0, is_long),
            Filed::Inserted
        ));
        assert_eq!(index.find(&other, 5, is_long), Some(0));
        assert_eq!(index.find(&other, 5, |_| false), None);
    }
}
