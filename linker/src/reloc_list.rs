//! An input section's relocations. RELA entries of 64-bit objects (x86-64) are read in place
//! from the mapped file: a copy would be the largest table of a big link after the inputs
//! themselves, and the entries are already in memory. REL inputs (ARM) are decoded once at
//! parse time, because their addends sit in the instruction fields and only the target can
//! read them.

use crate::indexed::{Iter, ReadAt};
use crate::object_file::Reloc;
use object::elf;
use object::read::elf::Rela as _;
use object::Endianness;

#[derive(Debug)]
pub enum RelocList<'d> {
    /// Checked when the object was parsed: every symbol index is in range.
    InPlace {
        entries: &'d [elf::Rela64<Endianness>],
        endian: Endianness,
    },
    Decoded(Vec<Reloc>),
}

impl Default for RelocList<'_> {
    fn default() -> Self {
        RelocList::Decoded(Vec::new())
    }
}

impl FromIterator<Reloc> for RelocList<'_> {
    fn from_iter<I: IntoIterator<Item = Reloc>>(iter: I) -> Self {
        RelocList::Decoded(iter.into_iter().collect())
    }
}

impl<'d> RelocList<'d> {
    pub fn len(&self) -> usize {
        match self {
            RelocList::InPlace { entries, .. } => entries.len(),
            RelocList::Decoded(list) => list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, index: usize) -> Option<Reloc> {
        match self {
            RelocList::InPlace { entries, endian } => {
                entries.get(index).map(|r| decode(r, *endian))
            }
            RelocList::Decoded(list) => list.get(index).copied(),
        }
    }

    pub fn iter(&self) -> Iter<'_, Self> {
        Iter::new(self)
    }

    /// The index of the first relocation for which `before` is false, the list being
    /// partitioned by it (as [`slice::partition_point`]).
    pub fn partition_point(&self, mut before: impl FnMut(&Reloc) -> bool) -> usize {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid) {
                Some(r) if before(&r) => low = mid + 1,
                _ => high = mid,
            }
        }
        low
    }
}

fn decode(r: &elf::Rela64<Endianness>, endian: Endianness) -> Reloc {
    Reloc {
        offset: r.r_offset(endian),
        r_type: r.r_type(endian, false).0,
        sym: r.r_sym(endian, false),
        addend: r.r_addend(endian),
    }
}

impl ReadAt for RelocList<'_> {
    type Entry = Reloc;

    fn entry_count(&self) -> usize {
        self.len()
    }

    fn read_at(&self, index: usize) -> Option<Reloc> {
        self.get(index)
    }
}

impl<'l, 'd> IntoIterator for &'l RelocList<'d> {
    type Item = Reloc;
    type IntoIter = Iter<'l, RelocList<'d>>;

    fn into_iter(self) -> Iter<'l, RelocList<'d>> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{I64, U64};

    fn entry(offset: u64, sym: u32, r_type: u32, addend: i64) -> elf::Rela64<Endianness> {
        let e = Endianness::Little;
        elf::Rela64 {
            r_offset: U64::new(e, offset),
            r_info: U64::new(e, (u64::from(sym) << 32) | u64::from(r_type)),
            r_addend: I64::new(e, addend),
        }
    }

    #[test]
    fn in_place_entries_read_as_decoded_ones() {
        let raw = [entry(8, 3, 4, -4), entry(16, 1, 2, 7), entry(32, 2, 9, 0)];
        let decoded: Vec<Reloc> = raw.iter().map(|r| decode(r, Endianness::Little)).collect();
        let in_place = RelocList::InPlace {
            entries: &raw,
            endian: Endianness::Little,
        };
        let copied = RelocList::Decoded(decoded.clone());
        for list in [&in_place, &copied] {
            assert_eq!(list.len(), 3);
            let got: Vec<(u64, u32, u32, i64)> = list
                .iter()
                .map(|r| (r.offset, r.sym, r.r_type, r.addend))
                .collect();
            assert_eq!(got, [(8, 3, 4, -4), (16, 1, 2, 7), (32, 2, 9, 0)]);
            assert_eq!(list.iter().next_back().map(|r| r.offset), Some(32));
            assert_eq!(list.partition_point(|r| r.offset < 16), 1);
            assert_eq!(list.partition_point(|r| r.offset < 17), 2);
            assert_eq!(list.partition_point(|_| true), 3);
            assert!(list.get(3).is_none());
        }
    }
}
