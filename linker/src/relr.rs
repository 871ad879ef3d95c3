//! Packed relative relocations (`-z pack-relative-relocs`, DT_RELR of the generic ABI).
//!
//! Instead of one `Elf_Rel[a]` per RELATIVE relocation, `.relr.dyn` lists the relocated
//! words as a sequence of address-sized entries: an even entry is the address of a word to
//! relocate, and an odd entry is a bitmap whose bit `i` (from 1) stands for the word `i - 1`
//! places after the last address covered, each bitmap covering the next 63 (ELF64) or 31
//! (ELF32) words. The loader adds the load bias to each word named; the word already holds
//! the link-time address (the addend), on REL and RELA targets alike.
//!
//! Which relocations are packed is decided in the scan ([`packable`], as GNU ld decides:
//! even offsets in sections aligned to 2 or more) and stored as
//! [`crate::decide::DynWord::PackedRelative`] and [`crate::decide::GotFill::PackedRelative`];
//! the section's size depends on the addresses, so layout grows it until it holds them
//! ([`grow`]), and a grown section is padded with empty bitmaps rather than shrunk, which
//! keeps the layout rounds finite.

use crate::decide::{DynWord, GotFill};
use crate::layout::{Layout, Synth};
use crate::link::Link;
use crate::scan::RelocAction;

/// An empty bitmap: covers words but relocates none (what a grown section is padded with).
const EMPTY_BITMAP: u64 = 1;

/// The packing decided for the link: how many words are packed, and the section's size.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relr {
    /// Relocated words and GOT entries that go to `.relr.dyn`.
    pub count: u64,
    /// Bytes of `.relr.dyn` the current layout reserves.
    pub size: u64,
}

/// Whether a RELATIVE relocation at `offset` of an input section aligned to `align` goes to
/// `.relr.dyn`: the format can only name even addresses, and GNU ld leaves the relocations
/// of byte-aligned sections unpacked.
pub fn packable(link: &Link, align: u64, offset: u64) -> bool {
    link.opts.z.pack_relative_relocs && link.kind.is_pic() && align > 1 && offset % 2 == 0
}

/// `fill` as `-z pack-relative-relocs` changes it: a GOT entry's RELATIVE relocation is
/// always packable (GOT entries are word-aligned).
pub fn got_fill(link: &Link, fill: GotFill) -> GotFill {
    match fill {
        GotFill::Relative if link.opts.z.pack_relative_relocs => GotFill::PackedRelative,
        other => other,
    }
}

/// Records how many words are packed, before the first layout reserves their section.
pub fn plan(link: &mut Link, packed_words: u64) {
    let got = link
        .got
        .entries
        .iter()
        .filter(|e| e.fill == GotFill::PackedRelative)
        .count() as u64;
    let count = packed_words + got;
    let word = link.arch.class().word_size();
    link.relr = Relr {
        count,
        // At least one address entry; [`grow`] makes room for the rest.
        size: if count > 0 { word } else { 0 },
    };
}

/// The run-time addresses of the packed words in `layout`, sorted.
pub fn addresses(link: &Link, layout: &Layout, actions: &[Vec<Vec<RelocAction>>]) -> Vec<u64> {
    let mut out = Vec::with_capacity(link.relr.count as usize);
    for (f, per_section) in actions.iter().enumerate() {
        for (s, list) in per_section.iter().enumerate() {
            let Some(base) = section_address(link, layout, f, s) else {
                continue;
            };
            let relocs = &link.objects[f].sections[s].relocs;
            out.extend(
                relocs
                    .iter()
                    .zip(list)
                    .filter(|(_, a)| a.dynamic == DynWord::PackedRelative)
                    .map(|(r, a)| base + a.offset(&r)),
            );
        }
    }
    if let Some((_, got)) = layout.find(Synth::Got) {
        let entry = link.arch.got_entry_size();
        out.extend(
            link.got
                .entries
                .iter()
                .filter(|e| e.fill == GotFill::PackedRelative)
                .map(|e| got.addr + e.word * entry),
        );
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Where input section `s` of object `f` is written, as the writer relocates it (a merged
/// section only through its group's representative).
fn section_address(link: &Link, layout: &Layout, f: usize, s: usize) -> Option<u64> {
    let (out, off) = layout.placement.get(f)?.get(s).copied().flatten()?;
    if let Some(g) = link.merged.group_of(f, s) {
        if g.representative != (f as u32, s as u32) {
            return None;
        }
    }
    Some(layout.sections[out as usize].addr + off)
}

/// Makes `.relr.dyn` big enough for `layout`'s addresses; `true` when it grew (lay out
/// again).
pub fn grow(link: &mut Link, layout: &Layout, actions: &[Vec<Vec<RelocAction>>]) -> bool {
    if link.relr.count == 0 {
        return false;
    }
    let word = link.arch.class().word_size();
    let needed = encode(&addresses(link, layout, actions), word).len() as u64 * word;
    if needed > link.relr.size {
        link.relr.size = needed;
        true
    } else {
        false
    }
}

/// `.relr.dyn`'s contents for `layout`, padded to the section's size.
pub fn contents(
    link: &Link,
    layout: &Layout,
    actions: &[Vec<Vec<RelocAction>>],
    out: &mut [u8],
) -> Result<(), String> {
    let word = link.arch.class().word_size() as usize;
    let entries = encode(&addresses(link, layout, actions), word as u64);
    if entries.len() * word > out.len() {
        return Err(format!(
            "internal error: .relr.dyn needs {} bytes, {} reserved",
            entries.len() * word,
            out.len()
        ));
    }
    let padding = std::iter::repeat(EMPTY_BITMAP);
    for (chunk, e) in out
        .chunks_exact_mut(word)
        .zip(entries.into_iter().chain(padding))
    {
        chunk.copy_from_slice(&e.to_le_bytes()[..word]);
    }
    Ok(())
}

/// Encodes sorted, distinct, even addresses of `word`-byte words as RELR entries.
pub fn encode(addresses: &[u64], word: u64) -> Vec<u64> {
    // Bits of a bitmap entry that name words (the lowest marks the entry a bitmap).
    let span = word * 8 - 1;
    let mut out = Vec::new();
    let mut i = 0;
    while i < addresses.len() {
        out.push(addresses[i]);
        let mut next = addresses[i] + word;
        i += 1;
        loop {
            let mut bitmap = 0u64;
            while let Some(&a) = addresses.get(i) {
                let delta = a.wrapping_sub(next);
                if a < next || delta % word != 0 || delta / word >= span {
                    break;
                }
                bitmap |= 1 << (delta / word);
                i += 1;
            }
            if bitmap == 0 {
                break;
            }
            out.push((bitmap << 1) | 1);
            next += span * word;
        }
    }
    out
}

/// Decodes RELR entries back to addresses (the loader's reading, used by the tests).
pub fn decode(entries: &[u64], word: u64) -> Vec<u64> {
    let span = word * 8 - 1;
    let mut out = Vec::new();
    let mut next = 0u64;
    for &e in entries {
        if e & 1 == 0 {
            out.push(e);
            next = e + word;
        } else {
            for bit in 0..span {
                if (e >> (bit + 1)) & 1 != 0 {
                    out.push(next + bit * word);
                }
            }
            next += span * word;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(addresses: &[u64], word: u64) -> Vec<u64> {
        let entries = encode(addresses, word);
        assert_eq!(decode(&entries, word), addresses, "{entries:x?}");
        entries
    }

    #[test]
    fn consecutive_words_share_one_bitmap() {
        let a: Vec<u64> = (0..10).map(|i| 0x4000 + 8 * i).collect();
        assert_eq!(round_trip(&a, 8), vec![0x4000, (0x1ff << 1) | 1]);
    }

    #[test]
    fn a_bitmap_covers_63_or_31_words_then_a_new_one_follows() {
        let a: Vec<u64> = (0..100).map(|i| 0x1000 + 8 * i).collect();
        let e = round_trip(&a, 8);
        assert_eq!(e.len(), 3, "{e:x?}");
        let b: Vec<u64> = (0..40).map(|i| 0x1000 + 4 * i).collect();
        let e = round_trip(&b, 4);
        assert_eq!(e.len(), 3, "{e:x?}");
        assert!(e[1..]
            .iter()
            .all(|w| w & 1 == 1 && *w <= u64::from(u32::MAX)));
    }

    #[test]
    fn far_or_misaligned_addresses_start_new_entries() {
        let a = [0x1000, 0x1008, 0x9000, 0x9002, 0x9010];
        let e = round_trip(&a, 8);
        assert_eq!(e, vec![0x1000, 0b11, 0x9000, 0x9002, 0x9010]);
        assert!(encode(&[], 8).is_empty());
    }

    #[test]
    fn gaps_within_a_bitmap_are_zero_bits() {
        let a = [0x2000, 0x2010, 0x2000 + 8 * 63];
        assert_eq!(round_trip(&a, 8), vec![0x2000, (1 << 2) | (1 << 63) | 1]);
    }
}
