//! The dynamic symbol hash tables: SysV `.hash` and GNU `.gnu.hash`.
//!
//! Table sizes follow ld.bfd 2.40 (without `-O`), so that for the same `.dynsym` order our
//! tables are byte-identical to GNU ld's (the tests check this against ld.bfd):
//! - bucket count: the largest of 1, 3, 17, 37, 67, ... not above the number of hashed
//!   symbols (at least 2 for `.gnu.hash`);
//! - `.gnu.hash` bloom filter: ld.bfd's size (about 2 to 4 bits per symbol, rounded to a
//!   power of two) and its second shift (log2 of the filter's bit count) rather than lld's
//!   fixed 26; the loader reads both from the header, so either is valid.
//!
//! Both tables use 32-bit words on ELF32 and ELF64 (only the bloom words follow the class),
//! little-endian.

/// The SysV ELF hash (`.hash`).
pub fn sysv_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let high = h & 0xf000_0000;
        h ^= high >> 24;
        h &= !high;
    }
    h
}

/// The GNU hash (`.gnu.hash`): Bernstein's h*33 + c from 5381.
pub fn gnu_hash(name: &[u8]) -> u32 {
    name.iter().fold(5381u32, |h, &c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

/// ld.bfd's bucket counts (elflink.c `elf_buckets`).
const BUCKET_SIZES: [u32; 19] = [
    1, 3, 17, 37, 67, 97, 131, 197, 263, 521, 1031, 2053, 4099, 8209, 16411, 32771, 65537, 131101,
    262147,
];

fn bucket_count(nsyms: usize) -> u32 {
    let mut best = BUCKET_SIZES[0];
    for &size in &BUCKET_SIZES {
        if (nsyms as u64) < u64::from(size) {
            break;
        }
        best = size;
    }
    best
}

/// `.hash` for a `.dynsym` whose names are `dynsym_names` (index 0 is the null symbol and
/// is not hashed; its name is ignored).
pub fn build_sysv_hash(dynsym_names: &[&[u8]]) -> Vec<u8> {
    let nchain = dynsym_names.len().max(1);
    let nbucket = bucket_count(nchain - 1) as usize;
    let mut buckets = vec![0u32; nbucket];
    let mut chains = vec![0u32; nchain];
    // Later symbols go first in a chain, as lld does (ld.bfd's chain order follows its
    // internal hash-table walk; the loader does not care).
    for (index, name) in dynsym_names.iter().enumerate().skip(1) {
        let bucket = sysv_hash(name) as usize % nbucket;
        chains[index] = buckets[bucket];
        buckets[bucket] = index as u32;
    }
    let mut out = Vec::with_capacity(4 * (2 + nbucket + nchain));
    for word in [nbucket as u32, nchain as u32]
        .into_iter()
        .chain(buckets)
        .chain(chains)
    {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out
}

/// Where the hashed (exported) symbols go at the end of `.dynsym`: `.gnu.hash` requires
/// them grouped by bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GnuHashLayout {
    /// Indices into the `names` given to [`gnu_hash_layout`], in `.dynsym` order.
    pub order: Vec<usize>,
    /// `gnu_hash` of each symbol, in `.dynsym` order (parallel to `order`).
    pub hashes: Vec<u32>,
    pub nbuckets: u32,
}

/// Orders the exported symbols by bucket; symbols sharing a bucket keep their given order.
pub fn gnu_hash_layout(names: &[&[u8]]) -> GnuHashLayout {
    use rayon::prelude::*;
    let nbuckets = bucket_count(names.len()).max(2);
    // Reading every exported name is the costly part: in parallel.
    let hashes: Vec<u32> = names.par_iter().map(|n| gnu_hash(n)).collect();
    // A stable counting sort by bucket (a comparison sort divided twice per comparison).
    let bucket_of: Vec<u32> = hashes.iter().map(|h| h % nbuckets).collect();
    let mut starts = vec![0usize; nbuckets as usize + 1];
    for &b in &bucket_of {
        starts[b as usize + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut order = vec![0usize; names.len()];
    for (i, &b) in bucket_of.iter().enumerate() {
        order[starts[b as usize]] = i;
        starts[b as usize] += 1;
    }
    let hashes = order.iter().map(|&i| hashes[i]).collect();
    GnuHashLayout {
        order,
        hashes,
        nbuckets,
    }
}

/// `.gnu.hash` for symbols placed at `.dynsym` indices `symoffset..` in `layout.order`.
/// `word_bits` is the ELF class: 32 or 64 (anything else is treated as 64).
pub fn build_gnu_hash(layout: &GnuHashLayout, symoffset: u32, word_bits: u32) -> Vec<u8> {
    let word_bytes = if word_bits == 32 { 4 } else { 8 };
    let mut out = Vec::new();
    let put32 = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    let nsyms = layout.hashes.len();
    if nsyms == 0 {
        // ld.bfd's empty table: one empty bucket, one zero bloom word, shift 0.
        for v in [1, symoffset, 1, 0] {
            put32(&mut out, v);
        }
        out.extend(std::iter::repeat_n(0u8, word_bytes));
        put32(&mut out, 0);
        return out;
    }

    let mut log2 = 1u32;
    let mut x = nsyms;
    while x > 1 {
        x >>= 1;
        log2 += 1;
    }
    let mut maskbits_log2 = if log2 < 3 {
        5
    } else if (1usize << (log2 - 2)) & nsyms != 0 {
        log2 + 3
    } else {
        log2 + 2
    };
    let word_log2 = if word_bytes == 8 { 6 } else { 5 };
    if word_bytes == 8 && maskbits_log2 == 5 {
        maskbits_log2 = 6;
    }
    let shift2 = maskbits_log2;
    let maskwords = 1usize << (maskbits_log2 - word_log2);
    let word_mask = (1u32 << word_log2) - 1;

    let mut bloom = vec![0u64; maskwords];
    let mut buckets = vec![0u32; layout.nbuckets as usize];
    let mut chains = Vec::with_capacity(nsyms);
    for (position, &h) in layout.hashes.iter().enumerate() {
        let word = ((h >> word_log2) as usize) & (maskwords - 1);
        bloom[word] |= 1u64 << (h & word_mask);
        bloom[word] |= 1u64 << ((h >> shift2) & word_mask);
        let bucket = (h % layout.nbuckets) as usize;
        if buckets[bucket] == 0 {
            buckets[bucket] = symoffset + position as u32;
        }
        let last_in_bucket = layout
            .hashes
            .get(position + 1)
            .is_none_or(|next| next % layout.nbuckets != h % layout.nbuckets);
        chains.push(if last_in_bucket { h | 1 } else { h & !1 });
    }

    for v in [layout.nbuckets, symoffset, maskwords as u32, shift2] {
        put32(&mut out, v);
    }
    for word in bloom {
        if word_bytes == 8 {
            out.extend_from_slice(&word.to_le_bytes());
        } else {
            out.extend_from_slice(&(word as u32).to_le_bytes());
        }
    }
    for v in buckets.into_iter().chain(chains) {
        put32(&mut out, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn word(table: &[u8], index: usize) -> u32 {
        u32::from_le_bytes(table[index * 4..index * 4 + 4].try_into().unwrap())
    }

    /// glibc's `do_lookup_x` for `.hash`: the `.dynsym` index of `name`.
    fn sysv_lookup(table: &[u8], names: &[&[u8]], name: &[u8]) -> Option<usize> {
        let nbucket = word(table, 0) as usize;
        let mut index = word(table, 2 + sysv_hash(name) as usize % nbucket) as usize;
        let mut steps = 0;
        while index != 0 {
            if names[index] == name {
                return Some(index);
            }
            index = word(table, 2 + nbucket + index) as usize;
            steps += 1;
            assert!(steps <= names.len(), "chain loop");
        }
        None
    }

    /// glibc's `.gnu.hash` lookup (bloom filter, bucket, chain with the end bit).
    fn gnu_lookup(table: &[u8], word_bits: u32, names: &[&[u8]], name: &[u8]) -> Option<usize> {
        let nbuckets = word(table, 0);
        let symoffset = word(table, 1) as usize;
        let maskwords = word(table, 2) as usize;
        let shift2 = word(table, 3);
        let h = gnu_hash(name);
        let bloom_at = 16 + (h / word_bits) as usize % maskwords * (word_bits as usize / 8);
        let bloom_word = if word_bits == 64 {
            u64::from_le_bytes(table[bloom_at..bloom_at + 8].try_into().unwrap())
        } else {
            u64::from(u32::from_le_bytes(
                table[bloom_at..bloom_at + 4].try_into().unwrap(),
            ))
        };
        if (bloom_word >> (h % word_bits)) & (bloom_word >> ((h >> shift2) % word_bits)) & 1 == 0 {
            return None;
        }
        let buckets_at = (16 + maskwords * (word_bits as usize / 8)) / 4;
        let mut index = word(table, buckets_at + (h % nbuckets) as usize) as usize;
        if index == 0 {
            return None;
        }
        let chains_at = buckets_at + nbuckets as usize;
        loop {
            let chain = word(table, chains_at + index - symoffset);
            if (chain | 1) == (h | 1) && names[index] == name {
                return Some(index);
            }
            if chain & 1 != 0 {
                return None;
            }
            index += 1;
        }
    }

    #[test]
    fn known_hash_values() {
        // Computed independently (Python transcription of the gABI and glibc definitions).
        assert_eq!(sysv_hash(b""), 0);
        assert_eq!(gnu_hash(b""), 5381);
        assert_eq!(sysv_hash(b"printf"), 0x077905a6);
        assert_eq!(gnu_hash(b"printf"), 0x156b2bb8);
        assert_eq!(sysv_hash(b"exit"), 0x0006cf04);
        assert_eq!(gnu_hash(b"exit"), 0x7c967e3f);
        // Exercises the high-nibble fold.
        assert_eq!(sysv_hash(b"freelocale"), 0x0c335095);
        assert_eq!(sysv_hash(b"\xff\xff\xff\xff\xff\xff\xff\xff"), 0x000010ef);
    }

    fn synthetic_names(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("sym_{i}_{}", "x".repeat(i % 7)).into_bytes())
            .collect()
    }

    #[test]
    fn round_trip_lookups_both_tables_both_classes() {
        for n in [0usize, 1, 2, 3, 5, 16, 17, 40, 300, 2000] {
            let owned = synthetic_names(n);
            let exported: Vec<&[u8]> = owned.iter().map(|v| v.as_slice()).collect();
            // Two unhashed symbols (null + one local) before the exported ones.
            let layout = gnu_hash_layout(&exported);
            let mut dynsym: Vec<&[u8]> = vec![b"", b"local_thing"];
            dynsym.extend(layout.order.iter().map(|&i| exported[i]));
            let sysv = build_sysv_hash(&dynsym);
            for (index, name) in dynsym.iter().enumerate().skip(1) {
                assert_eq!(sysv_lookup(&sysv, &dynsym, name), Some(index));
            }
            for word_bits in [32, 64] {
                let gnu = build_gnu_hash(&layout, 2, word_bits);
                for (index, name) in dynsym.iter().enumerate().skip(2) {
                    assert_eq!(
                        gnu_lookup(&gnu, word_bits, &dynsym, name),
                        Some(index),
                        "n={n}"
                    );
                }
                for absent in [&b"local_thing"[..], b"absent", b"sym_", b"sym_1_"] {
                    assert_eq!(gnu_lookup(&gnu, word_bits, &dynsym, absent), None);
                }
            }
            for absent in [&b"absent"[..], b"sym_", b"sym_1_"] {
                assert_eq!(sysv_lookup(&sysv, &dynsym, absent), None);
            }
        }
    }

    #[test]
    fn layout_groups_by_bucket_stably() {
        let owned = synthetic_names(100);
        let names: Vec<&[u8]> = owned.iter().map(|v| v.as_slice()).collect();
        let layout = gnu_hash_layout(&names);
        assert_eq!(layout.nbuckets, 97);
        let mut sorted = layout.order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        for pair in layout.order.windows(2) {
            let (a, b) = (gnu_hash(names[pair[0]]) % 97, gnu_hash(names[pair[1]]) % 97);
            assert!(a < b || (a == b && pair[0] < pair[1]));
        }
        assert_eq!(gnu_hash_layout(&[b"one"]).nbuckets, 2);
    }

    /// Reads `.dynsym` names, `.hash` and `.gnu.hash` of a linked library.
    struct Linked {
        names: Vec<Vec<u8>>,
        sysv: Vec<u8>,
        gnu: Vec<u8>,
    }

    fn read_linked(path: &std::path::Path) -> Linked {
        use object::{Object, ObjectSection};
        let data = std::fs::read(path).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let section = |name: &str| {
            file.section_by_name(name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .data()
                .unwrap()
                .to_vec()
        };
        let (dynsym, dynstr) = (section(".dynsym"), section(".dynstr"));
        let entsize = if file.is_64() { 24 } else { 16 };
        let names = dynsym
            .chunks(entsize)
            .map(|sym| {
                let off = u32::from_le_bytes(sym[..4].try_into().unwrap()) as usize;
                let len = dynstr[off..].iter().position(|&c| c == 0).unwrap();
                dynstr[off..off + len].to_vec()
            })
            .collect();
        Linked {
            names,
            sysv: section(".hash"),
            gnu: section(".gnu.hash"),
        }
    }

    fn run(cmd: &mut Command, tool: &str, package: &str) {
        crate::test_support::run_ok(cmd, tool, package);
    }

    /// Each bucket's members (chain order aside).
    fn sysv_bucket_sets(table: &[u8]) -> Vec<Vec<u32>> {
        let nbucket = word(table, 0) as usize;
        (0..nbucket)
            .map(|b| {
                let mut members = Vec::new();
                let mut index = word(table, 2 + b);
                while index != 0 && members.len() <= table.len() {
                    members.push(index);
                    index = word(table, 2 + nbucket + index as usize);
                }
                members.sort();
                members
            })
            .collect()
    }

    /// GNU ld's `.gnu.hash`, rebuilt from its `.dynsym` order, comes out byte-identical; its
    /// `.hash` has the same size and the same symbols in each bucket.
    fn compare_with_gnu_ld(cc: &str, ld: &str, package: &str, word_bits: u32) {
        let dir = tempfile::tempdir().unwrap();
        for n in [0usize, 1, 2, 3, 4, 17, 37, 40, 150] {
            let src = dir.path().join(format!("t{n}.c"));
            let mut text = String::from("static int hidden_local(void) { return 7; }\n");
            for i in 0..n {
                text += &format!(
                    "int fn_{i}_{}(void) {{ return hidden_local() + {i}; }}\n",
                    "q".repeat(i % 5)
                );
            }
            std::fs::write(&src, text).unwrap();
            let obj = dir.path().join(format!("t{n}.o"));
            let lib = dir.path().join(format!("lib{n}.so"));
            run(
                Command::new(cc)
                    .args(["-fPIC", "-O2", "-c"])
                    .arg(&src)
                    .arg("-o")
                    .arg(&obj),
                cc,
                package,
            );
            run(
                Command::new(ld)
                    .args(["-shared", "--hash-style=both"])
                    .arg(&obj)
                    .arg("-o")
                    .arg(&lib),
                ld,
                package,
            );
            let linked = read_linked(&lib);
            let dynsym: Vec<&[u8]> = linked.names.iter().map(|v| v.as_slice()).collect();

            let ours = build_sysv_hash(&dynsym);
            assert_eq!(word(&ours, 0), word(&linked.sysv, 0), "nbucket, n={n}");
            assert_eq!(word(&ours, 1), word(&linked.sysv, 1), "nchain, n={n}");
            assert_eq!(
                sysv_bucket_sets(&ours),
                sysv_bucket_sets(&linked.sysv),
                "{ld} .hash buckets, n={n}"
            );

            let symoffset = word(&linked.gnu, 1);
            let exported = &dynsym[symoffset as usize..];
            let layout = gnu_hash_layout(exported);
            assert_eq!(
                layout.order,
                (0..exported.len()).collect::<Vec<_>>(),
                "n={n}"
            );
            assert_eq!(
                build_gnu_hash(&layout, symoffset, word_bits),
                linked.gnu,
                "{ld} .gnu.hash, n={n}"
            );
            for (index, name) in dynsym.iter().enumerate().skip(symoffset as usize) {
                assert_eq!(
                    gnu_lookup(&linked.gnu, word_bits, &dynsym, name),
                    Some(index)
                );
            }
        }
    }

    #[test]
    fn identical_to_gnu_ld_x86_64() {
        compare_with_gnu_ld("gcc", "ld.bfd", "gcc / binutils", 64);
    }

    #[test]
    fn identical_to_gnu_ld_arm32() {
        compare_with_gnu_ld(
            "arm-linux-gnueabihf-gcc",
            "arm-linux-gnueabihf-ld.bfd",
            "gcc-arm-linux-gnueabihf / binutils-arm-linux-gnueabihf",
            32,
        );
    }
}
