//! Merging `SHF_MERGE` sections: strings (`SHF_STRINGS`, `.rodata.str1.1`, `.debug_str`,
//! `.comment`) and fixed-size constants (`.rodata.cst16`) are split into pieces, and each
//! distinct piece is kept once for every input that shares the output section, flags and
//! entry size. The merged bytes stand in the output where the first input of the group
//! would have been; every input's offsets are translated through its piece map, for symbols
//! and for relocations against section symbols (whose offset is `value + addend`, as GNU ld
//! reads them). Groups are merged in parallel: in a real link with debug information this is
//! the expensive part.

use crate::link::Link;
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

/// One merged group: the bytes and where they go.
#[derive(Debug, Default)]
pub struct MergedGroup {
    pub data: Vec<u8>,
    pub align: u64,
    /// The input section whose place in the output the merged bytes take.
    pub representative: (u32, u32),
    /// The `SHF_MERGE`/`SHF_STRINGS` flags and entry size its inputs share.
    pub key: (u64, u64),
}

/// Where each piece of one input section went: (input offset, merged offset), by input
/// offset.
#[derive(Debug, Default)]
struct PieceMap {
    pieces: Vec<(u64, u64)>,
}

impl PieceMap {
    fn translate(&self, offset: u64) -> u64 {
        let i = self.pieces.partition_point(|&(start, _)| start <= offset);
        match i.checked_sub(1).map(|i| self.pieces[i]) {
            Some((start, out)) => out + (offset - start),
            None => offset,
        }
    }
}

#[derive(Debug, Default)]
pub struct Merged {
    pub groups: Vec<MergedGroup>,
    /// For each merged input section: its group and piece map.
    maps: Vec<(u32, PieceMap)>,
    /// Per object, per section: the index into `maps`, or `NOT_MERGED`. Asked for every
    /// symbol's address, so a flat table rather than a hashed lookup.
    index: Vec<Vec<u32>>,
}

const NOT_MERGED: u32 = u32::MAX;

impl Merged {
    /// The group input section `(file, sec)` was merged into, if it was.
    pub fn group_of(&self, file: usize, sec: usize) -> Option<&MergedGroup> {
        self.entry(file, sec)
            .map(|(g, _)| &self.groups[*g as usize])
    }

    fn entry(&self, file: usize, sec: usize) -> Option<&(u32, PieceMap)> {
        let i = *self.index.get(file)?.get(sec)?;
        (i != NOT_MERGED).then(|| &self.maps[i as usize])
    }

    /// `SHF_MERGE` (with `SHF_STRINGS` for strings) and the entry size an output section
    /// keeps when every one of its inputs `list` was merged with the same flags and size.
    pub fn output_flags(&self, list: &[(u32, u32)]) -> Option<(u64, u64)> {
        let mut common = None;
        for &(f, s) in list {
            let key = self.group_of(f as usize, s as usize)?.key;
            if common.is_some_and(|c| c != key) {
                return None;
            }
            common = Some(key);
        }
        common
    }

    /// Where `offset` of input section `(file, sec)` is within its group's merged bytes;
    /// `None` when the section was not merged.
    pub fn translate(&self, file: usize, sec: usize, offset: u64) -> Option<u64> {
        self.entry(file, sec).map(|(_, map)| map.translate(offset))
    }
}

/// The key inputs must share to be merged together.
#[derive(Clone, PartialEq, Eq, Hash)]
struct GroupKey<'d> {
    output: &'d [u8],
    flags: u64,
    entsize: u64,
    /// GNU ld merges only sections of one alignment: `.rodata.str1.1` and `.rodata.str1.8`
    /// stay apart, so the byte strings of the first need no padding.
    align: u64,
}

/// Merges the live `SHF_MERGE` sections of every input. A section whose contents cannot be
/// split (a string without its terminator, a size that is no multiple of the entry size)
/// or that has relocations of its own is left as it is.
pub fn merge(link: &Link) -> Merged {
    let mut keys: Vec<GroupKey> = Vec::new();
    let mut members: Vec<Vec<(u32, u32)>> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::default();
    for (f, obj) in link.objects.iter().enumerate() {
        for (s, sec) in obj.sections.iter().enumerate() {
            if !mergeable(sec) {
                continue;
            }
            let key = GroupKey {
                output: crate::layout::output_name(sec.name),
                flags: sec.flags & !object::elf::SHF_GROUP.0,
                entsize: sec.entsize,
                align: sec.align.max(1),
            };
            let g = *index.entry(key.clone()).or_insert_with(|| {
                keys.push(key);
                members.push(Vec::new());
                members.len() - 1
            });
            members[g].push((f as u32, s as u32));
        }
    }
    let results: Vec<GroupResult> = keys
        .par_iter()
        .zip(members.par_iter())
        .map(|(key, list)| merge_group(link, key, list))
        .collect();
    let mut merged = Merged {
        index: link
            .objects
            .iter()
            .map(|o| vec![NOT_MERGED; o.sections.len()])
            .collect(),
        ..Merged::default()
    };
    for (g, (group, maps)) in results.into_iter().enumerate() {
        for ((f, s), map) in maps {
            merged.index[f as usize][s as usize] = merged.maps.len() as u32;
            merged.maps.push((g as u32, map));
        }
        merged.groups.push(group);
    }
    merged
}

fn mergeable(sec: &crate::object_file::InputSection) -> bool {
    use object::elf;
    sec.live
        && sec.flags & elf::SHF_MERGE.0 != 0
        && sec.sh_type == elf::SHT_PROGBITS.0
        && sec.entsize > 0
        && sec.relocs.is_empty()
        && sec.size == sec.data.len() as u64
        && sec.size % sec.entsize == 0
        && (sec.flags & elf::SHF_STRINGS.0 == 0 || ends_with_terminator(sec.data, sec.entsize))
}

fn ends_with_terminator(data: &[u8], entsize: u64) -> bool {
    let n = entsize as usize;
    data.is_empty() || (data.len() >= n && data[data.len() - n..].iter().all(|&b| b == 0))
}

/// The pieces of a section: (offset, bytes), strings with their terminator.
fn pieces(data: &[u8], entsize: usize, strings: bool) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let mut start = 0;
    if !strings {
        while start < data.len() {
            out.push((start as u64, &data[start..start + entsize]));
            start += entsize;
        }
        return out;
    }
    let mut at = 0;
    while at < data.len() {
        let unit = &data[at..at + entsize];
        at += entsize;
        if unit.iter().all(|&b| b == 0) {
            out.push((start as u64, &data[start..at]));
            start = at;
        }
    }
    out
}

type GroupResult = (MergedGroup, Vec<((u32, u32), PieceMap)>);

/// The alignment a piece keeps, as GNU ld's `bfd/merge.c` gives it: that of its offset in
/// the input, at most the section's.
fn piece_alignment(offset: u64, section_align: u64) -> u64 {
    match offset {
        0 => section_align,
        _ => (1u64 << offset.trailing_zeros()).min(section_align),
    }
}

/// The merged bytes of `unique` pieces (each with its alignment) and each piece's offset in
/// them. With `tails`, a string that ends another (`"bar"` in `"foobar"`, the empty string
/// in any) is not stored again but points into it when that keeps its alignment, as GNU ld
/// does; the others keep their first-seen order.
fn lay_out_pieces(unique: &[(&[u8], u64)], tails: bool) -> (Vec<u8>, Vec<u64>) {
    let mut host: Vec<Option<u32>> = vec![None; unique.len()];
    if tails {
        // Sorted by reversed contents, longest first among equal endings, a string's host
        // (a string it ends) is the last non-suffix seen before it.
        // The last eight bytes, reversed and zero-padded, order most strings by themselves
        // (a tie falls back to the whole reversed strings): comparing packed words is far
        // cheaper than walking two reversed iterators.
        let mut order: Vec<(u64, u32)> = unique
            .par_iter()
            .enumerate()
            .map(|(i, &(piece, _))| (reversed_prefix(piece), i as u32))
            .collect();
        // Distinct strings never compare equal, so the unstable sort's order is the only one.
        order.par_sort_unstable_by(|&(ka, a), &(kb, b)| {
            kb.cmp(&ka).then_with(|| {
                let (a, b) = (unique[a as usize].0, unique[b as usize].0);
                b.iter().rev().cmp(a.iter().rev())
            })
        });
        let order = order.into_iter().map(|(_, i)| i);
        let mut last: Option<u32> = None;
        for i in order {
            let (piece, align) = unique[i as usize];
            match last {
                Some(h) if fits_in(unique[h as usize], piece, align) => host[i as usize] = Some(h),
                _ => last = Some(i),
            }
        }
    }
    let mut data = Vec::new();
    let mut offsets = vec![0u64; unique.len()];
    for (i, &(piece, align)) in unique.iter().enumerate() {
        if host[i].is_none() {
            let at = (data.len() as u64).next_multiple_of(align);
            data.resize(at as usize, 0);
            data.extend_from_slice(piece);
            offsets[i] = at;
        }
    }
    for (i, &(piece, _)) in unique.iter().enumerate() {
        if let Some(h) = host[i] {
            let h = h as usize;
            offsets[i] = offsets[h] + (unique[h].0.len() - piece.len()) as u64;
        }
    }
    (data, offsets)
}

/// The first eight bytes of `piece` read backwards, zero-padded, as a big-endian word: words
/// compare as the reversed strings' first eight bytes do (padding sorts a string before the
/// longer ones it ends, as the reversed comparison does).
fn reversed_prefix(piece: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (w, &b) in word.iter_mut().zip(piece.iter().rev()) {
        *w = b;
    }
    u64::from_be_bytes(word)
}

/// Whether `piece` (aligned to `align`) can stand at the end of `host`.
fn fits_in(host: (&[u8], u64), piece: &[u8], align: u64) -> bool {
    host.0.ends_with(piece) && host.1 >= align && (host.0.len() - piece.len()) as u64 % align == 0
}

/// Hash shards the pieces of a group are deduplicated in, in parallel.
const SHARDS: usize = 32;

/// A piece of an input: its offset there, its bytes and their hash.
type Piece<'d> = (u64, &'d [u8], u64);

/// The shard a piece's hash files it in.
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize % SHARDS
}

/// The distinct pieces of a group's inputs in first-seen order, each with the largest
/// alignment any copy needs, and each input's pieces as (offset, index into them). Inputs
/// are split and hashed in parallel; each hash shard is deduplicated on its own, and sorting
/// the shards' firsts by position gives the same order as one pass would. Every step but the
/// sort of the firsts runs in parallel, per input or per shard: `.debug_str` of a large
/// link is half a million pieces.
#[allow(clippy::type_complexity)]
fn dedupe_pieces<'d>(
    link: &Link<'d>,
    key: &GroupKey,
    list: &[(u32, u32)],
    strings: bool,
) -> (Vec<(&'d [u8], u64)>, Vec<Vec<(u64, u32)>>) {
    let split: Vec<Vec<Piece<'d>>> = list
        .par_iter()
        .map(|&(f, s)| {
            let sec = &link.objects[f as usize].sections[s as usize];
            pieces(sec.data, key.entsize as usize, strings)
                .into_iter()
                .map(|(offset, bytes)| (offset, bytes, crate::symbols::name_hash(bytes)))
                .collect()
        })
        .collect();
    // Where each input's pieces start in each shard's list (pieces of a shard in input order).
    let counts: Vec<[u32; SHARDS]> = split
        .par_iter()
        .map(|input| {
            let mut n = [0u32; SHARDS];
            for piece in input {
                n[shard_of(piece.2)] += 1;
            }
            n
        })
        .collect();
    let mut starts = vec![[0u32; SHARDS]; split.len()];
    let mut totals = [0u32; SHARDS];
    for (i, n) in counts.iter().enumerate() {
        starts[i] = totals;
        for k in 0..SHARDS {
            totals[k] += n[k];
        }
    }
    // Each shard's pieces (input, piece, the piece), copied out by the inputs in parallel,
    // each into its own stretch of every shard's list.
    let mut by_shard: Vec<Vec<(u32, u32, Piece<'d>)>> = totals
        .iter()
        .map(|&n| vec![(0, 0, (0, &[][..], 0)); n as usize])
        .collect();
    {
        let mut stretches: Vec<Vec<&mut [(u32, u32, Piece<'d>)]>> = (0..split.len())
            .map(|_| Vec::with_capacity(SHARDS))
            .collect();
        for list in by_shard.iter_mut() {
            let mut rest = list.as_mut_slice();
            for (i, n) in counts.iter().enumerate() {
                let k = stretches[i].len();
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(n[k] as usize);
                stretches[i].push(mine);
                rest = tail;
            }
        }
        split
            .par_iter()
            .zip(stretches.par_iter_mut())
            .enumerate()
            .for_each(|(i, (input, out))| {
                let mut next = [0usize; SHARDS];
                for (p, &piece) in input.iter().enumerate() {
                    let k = shard_of(piece.2);
                    out[k][next[k]] = (i as u32, p as u32, piece);
                    next[k] += 1;
                }
            });
    }
    // Per shard: its distinct pieces as (input, piece) of their first occurrence with the
    // alignment they need, and for every piece of the shard, in order, the index of its
    // distinct piece.
    type Shard = (Vec<(u32, u32, u64)>, Vec<u32>);
    let shards: Vec<Shard> = by_shard
        .into_par_iter()
        .map(|own| {
            // Filed by the hash the split already computed: no piece is hashed twice. Each
            // distinct piece keeps its bytes and hash beside it, for the comparisons.
            let mut seen: hashbrown::HashTable<u32> = hashbrown::HashTable::new();
            let mut distinct: Vec<(&[u8], u64)> = Vec::new();
            let mut firsts: Vec<(u32, u32, u64)> = Vec::new();
            let mut members = Vec::with_capacity(own.len());
            for (i, p, (offset, bytes, hash)) in own {
                let align = piece_alignment(offset, key.align);
                let local = match seen.entry(
                    hash,
                    |&l| distinct[l as usize].1 == hash && distinct[l as usize].0 == bytes,
                    |&l| distinct[l as usize].1,
                ) {
                    hashbrown::hash_table::Entry::Occupied(e) => *e.get(),
                    hashbrown::hash_table::Entry::Vacant(v) => {
                        distinct.push((bytes, hash));
                        firsts.push((i, p, align));
                        *v.insert(firsts.len() as u32 - 1).get()
                    }
                };
                let need = &mut firsts[local as usize].2;
                *need = (*need).max(align);
                members.push(local);
            }
            (firsts, members)
        })
        .collect();
    let mut order: Vec<(u32, u32, u32, u32)> = shards
        .iter()
        .enumerate()
        .flat_map(|(k, (firsts, _))| {
            firsts
                .iter()
                .enumerate()
                .map(move |(l, &(i, p, _))| (i, p, k as u32, l as u32))
        })
        .collect();
    order.par_sort_unstable();
    let mut global: Vec<Vec<u32>> = shards.iter().map(|(f, _)| vec![0; f.len()]).collect();
    let unique: Vec<(&'d [u8], u64)> = order
        .iter()
        .enumerate()
        .map(|(g, &(i, p, k, l))| {
            global[k as usize][l as usize] = g as u32;
            (
                split[i as usize][p as usize].1,
                shards[k as usize].0[l as usize].2,
            )
        })
        .collect();
    // Each input's pieces walk the shards' member lists from where the input starts in them.
    let per_input: Vec<Vec<(u64, u32)>> = split
        .par_iter()
        .zip(starts.par_iter())
        .map(|(input, start)| {
            let mut next = start.map(|s| s as usize);
            input
                .iter()
                .map(|&(offset, _, hash)| {
                    let k = shard_of(hash);
                    let local = shards[k].1[next[k]];
                    next[k] += 1;
                    (offset, global[k][local as usize])
                })
                .collect()
        })
        .collect();
    (unique, per_input)
}

fn merge_group(link: &Link, key: &GroupKey, list: &[(u32, u32)]) -> GroupResult {
    let strings = key.flags & object::elf::SHF_STRINGS.0 != 0;
    let (unique, per_input) = dedupe_pieces(link, key, list, strings);
    let (data, placed) = lay_out_pieces(&unique, strings);
    let maps = list
        .iter()
        .zip(per_input)
        .map(|(&section, pieces)| {
            let map = PieceMap {
                pieces: pieces
                    .into_iter()
                    .map(|(offset, id)| (offset, placed[id as usize]))
                    .collect(),
            };
            (section, map)
        })
        .collect();
    let group = MergedGroup {
        data,
        align: key.align,
        representative: list[0],
        key: (
            key.flags & (object::elf::SHF_MERGE.0 | object::elf::SHF_STRINGS.0),
            key.entsize,
        ),
    };
    (group, maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_split_at_terminators_of_their_width() {
        let data = b"ab\0c\0\0";
        let p = pieces(data, 1, true);
        assert_eq!(
            p,
            vec![(0, &b"ab\0"[..]), (3, &b"c\0"[..]), (5, &b"\0"[..])]
        );
        let wide = [b'a', 0, 0, 0, b'b', 0, 0, 0];
        assert_eq!(pieces(&wide, 2, true).len(), 2);
    }

    #[test]
    fn reversed_prefixes_order_as_the_reversed_strings() {
        let strings: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"a\0",
            b"ba\0",
            b"\0a\0",
            b"abcdefghij\0",
            b"zbcdefghij\0",
            b"hij\0",
            b"\xff\0",
            b"a\0\0",
            b"12345678",
            b"2345678",
        ];
        for a in &strings {
            for b in &strings {
                let full = a.iter().rev().cmp(b.iter().rev());
                let (ka, kb) = (reversed_prefix(a), reversed_prefix(b));
                if ka != kb {
                    assert_eq!(ka.cmp(&kb), full, "{a:?} against {b:?}");
                }
            }
        }
    }

    #[test]
    fn a_string_that_ends_another_points_into_it() {
        let unique: Vec<(&[u8], u64)> =
            vec![(b"bar\0", 1), (b"foobar\0", 1), (b"\0", 1), (b"oo\0", 1)];
        let (data, offsets) = lay_out_pieces(&unique, true);
        assert_eq!(data, b"foobar\0oo\0");
        assert_eq!(offsets, vec![3, 0, 9, 7]);
        let (plain, _) = lay_out_pieces(&unique, false);
        assert_eq!(plain, b"bar\0foobar\0\0oo\0");
        // An 8-aligned "bar" cannot sit 3 bytes into "foobar"; a 2-aligned "ar" two bytes
        // into "obar" can; each piece starts at a multiple of its alignment.
        let aligned: Vec<(&[u8], u64)> = vec![(b"foobar\0", 8), (b"bar\0", 8), (b"x\0", 1)];
        let (data, offsets) = lay_out_pieces(&aligned, true);
        assert_eq!(data, b"foobar\0\0bar\0x\0");
        assert_eq!(offsets, vec![0, 8, 12]);
        assert!(fits_in((b"obar\0", 4), b"ar\0", 2));
        assert_eq!(
            (
                piece_alignment(0, 8),
                piece_alignment(12, 8),
                piece_alignment(3, 8)
            ),
            (8, 4, 1)
        );
    }

    #[test]
    fn offsets_inside_a_piece_keep_their_distance() {
        let map = PieceMap {
            pieces: vec![(0, 10), (4, 2), (9, 30)],
        };
        assert_eq!(map.translate(0), 10);
        assert_eq!(map.translate(2), 12);
        assert_eq!(map.translate(5), 3);
        assert_eq!(map.translate(9), 30);
    }
}
