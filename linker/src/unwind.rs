//! Input `.eh_frame` sections: finding the FDEs that describe discarded code (the losing
//! copies of COMDAT groups), so neither the output `.eh_frame` nor `.eh_frame_hdr` points
//! into nothing.
//!
//! Records are not moved: a dead FDE is folded into the record before it as trailing
//! `DW_CFA_nop` padding (its length grows, the FDE's bytes become zero), which keeps every
//! other offset — and so every relocation — where the compiler put it.

use crate::link::Link;
use crate::object_file::SymPlace;

/// A dead FDE at `[start, end)` of an input `.eh_frame`, and the live record (CIE or FDE) at
/// `host` whose length absorbs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadFde {
    pub start: u64,
    pub end: u64,
    pub host: u64,
}

/// Finds the dead FDEs of every live input `.eh_frame` (indexed by object, then section).
pub fn find_dead_fdes(link: &Link) -> Vec<Vec<(u32, Vec<DeadFde>)>> {
    link.objects
        .iter()
        .enumerate()
        .map(|(f, obj)| {
            let mut per_section = Vec::new();
            for (s, sec) in obj.sections.iter().enumerate() {
                if !sec.live || sec.name != b".eh_frame" {
                    continue;
                }
                let dead = dead_in_section(link, f, s);
                if !dead.is_empty() {
                    per_section.push((s as u32, dead));
                }
            }
            per_section
        })
        .collect()
}

fn dead_in_section(link: &Link, f: usize, s: usize) -> Vec<DeadFde> {
    let obj = &link.objects[f];
    let sec = &obj.sections[s];
    let data = sec.data;
    let mut dead = Vec::new();
    let mut host = 0u64;
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let len =
            u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        if len == 0 || len == 0xffff_ffff {
            break;
        }
        let Some(end) = pos.checked_add(4 + len).filter(|&e| e <= data.len()) else {
            break;
        };
        let id = u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
        let is_dead = id != 0 && {
            // The FDE's initial location is the relocation at +8.
            let at = (pos + 8) as u64;
            sec.relocs.iter().find(|r| r.offset == at).is_some_and(|r| {
                match link.global_id(f, r.sym) {
                    Some(_) => false,
                    None => match obj.symbols.get(r.sym as usize).map(|s| s.place) {
                        Some(SymPlace::Section(t)) => !obj.sections[t as usize].live,
                        _ => false,
                    },
                }
            })
        };
        if is_dead {
            dead.push(DeadFde {
                start: pos as u64,
                end: end as u64,
                host,
            });
        } else {
            host = pos as u64;
        }
        pos = end;
    }
    dead
}

/// Whether input offset `offset` lies inside one of `dead`.
pub fn is_dead(dead: &[DeadFde], offset: u64) -> bool {
    dead.iter().any(|d| offset >= d.start && offset < d.end)
}

/// Folds the dead FDEs of a copied `.eh_frame` into their hosts.
pub fn fold(out: &mut [u8], dead: &[DeadFde]) {
    for d in dead {
        let (start, end, host) = (d.start as usize, d.end as usize, d.host as usize);
        out[start..end].fill(0);
        let len = u32::from_le_bytes([out[host], out[host + 1], out[host + 2], out[host + 3]]);
        let grown = len + (end - start) as u32;
        out[host..host + 4].copy_from_slice(&grown.to_le_bytes());
    }
}
