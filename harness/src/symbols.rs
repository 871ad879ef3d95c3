//! Symbol lookup through an object's hash table, with glibc's version-matching rules.

use crate::elf::abi;
use crate::elf::{DynSym, Dynamic, HashTable};

pub fn sysv_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

pub fn gnu_hash(name: &[u8]) -> u32 {
    name.iter().fold(5381u32, |h, &c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

/// Indices of the symbols the hash table reaches for `name` (before any filtering).
pub fn hash_candidates(d: &Dynamic, name: &str) -> Vec<usize> {
    let mut out = Vec::new();
    match &d.hash {
        Some(HashTable::Sysv { buckets, chains }) if !buckets.is_empty() => {
            let mut i = buckets[(sysv_hash(name.as_bytes()) as usize) % buckets.len()] as usize;
            let mut steps = 0;
            while i != 0 && i < chains.len() && steps <= chains.len() {
                if d.symbols.get(i).is_some_and(|s| s.name == name) {
                    out.push(i);
                }
                i = chains[i] as usize;
                steps += 1;
            }
        }
        Some(HashTable::Gnu {
            symoffset,
            buckets,
            chain,
        }) if !buckets.is_empty() => {
            let h = gnu_hash(name.as_bytes());
            let mut i = buckets[(h as usize) % buckets.len()] as usize;
            if i < *symoffset as usize {
                return out;
            }
            while let Some(&c) = chain.get(i - *symoffset as usize) {
                if c | 1 == h | 1 && d.symbols.get(i).is_some_and(|s| s.name == name) {
                    out.push(i);
                }
                if c & 1 != 0 {
                    break;
                }
                i += 1;
            }
        }
        _ => {}
    }
    out
}

/// Does definition `sym` (in an object described by `d`) satisfy a reference to
/// `name@version`? glibc's rules: a versioned reference needs that exact version name unless
/// the defining object has no version definitions at all; an unversioned reference takes the
/// default (non-hidden) definition.
pub fn version_matches(d: &Dynamic, sym: &DynSym, version: Option<&str>) -> bool {
    match version {
        Some(v) => {
            if !d.has_version_definitions() {
                return true;
            }
            match d.version_name(sym.version_index) {
                Some(name) => name == v,
                // Base (index 1) definitions satisfy any versioned reference, as glibc does
                // for objects that gained versions after the reference was linked.
                None => sym.version_index == 1,
            }
        }
        None => !sym.version_hidden,
    }
}

/// Looks `name@version` up among the defined, exported symbols of one object (and a
/// program's canonical PLT entries), for any reference but a JUMP_SLOT.
pub fn lookup(d: &Dynamic, name: &str, version: Option<&str>) -> Option<usize> {
    lookup_for(d, name, version, false)
}

/// An undefined function symbol with a value: a program's PLT entry that is the function's
/// canonical address (non-PIC code took its address).
pub fn is_canonical_plt(s: &crate::elf::DynSym) -> bool {
    !s.is_defined() && s.value != 0 && s.kind == abi::STT_FUNC
}

/// As glibc's `check_match`: a PLT-class reference (`plt`, a JUMP_SLOT) is never bound to an
/// undefined symbol; any other reference may be, when that symbol has a value (a canonical
/// PLT entry).
pub fn lookup_for(d: &Dynamic, name: &str, version: Option<&str>, plt: bool) -> Option<usize> {
    hash_candidates(d, name).into_iter().find(|&i| {
        let s = &d.symbols[i];
        (s.is_defined() || !plt && is_canonical_plt(s))
            && (s.bind == abi::STB_GLOBAL
                || s.bind == abi::STB_WEAK
                || s.bind == abi::STB_GNU_UNIQUE)
            && s.kind != abi::STT_SECTION
            && s.kind != abi::STT_FILE
            && version_matches(d, s, version)
    })
}

/// Every exported definition must be reachable through the hash table (what readelf and
/// eu-elflint check): a disagreement means lookups would silently miss symbols.
pub fn cross_check(d: &Dynamic) -> Result<(), String> {
    let first = match &d.hash {
        Some(HashTable::Gnu { symoffset, .. }) => *symoffset as usize,
        _ => 1,
    };
    for (i, s) in d.symbols.iter().enumerate().skip(1) {
        let exported = s.is_defined() && s.bind != abi::STB_LOCAL && !s.name.is_empty();
        if i < first {
            if exported {
                return Err(format!(
                    "symbol {} (index {i}) is exported but lies below DT_GNU_HASH's symoffset {first}",
                    s.name
                ));
            }
            continue;
        }
        if exported && !hash_candidates(d, &s.name).contains(&i) {
            return Err(format!(
                "symbol {} (index {i}) is in .dynsym but its hash chain does not reach it",
                s.name
            ));
        }
    }
    Ok(())
}
