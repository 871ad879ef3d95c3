//! `-r` keeps every input `.eh_frame` with its relocations, but the FDEs that describe
//! discarded code (the losing copies of COMDAT groups) must not point into nothing. (A final
//! link rewrites `.eh_frame` instead: [`crate::eh_frame::rewrite`].)
//!
//! Records are not moved: a dead FDE is folded into the record before it as trailing
//! `DW_CFA_nop` padding (its length grows, the FDE's bytes become zero), which keeps every
//! other offset — and so every relocation — where the compiler put it.

use crate::eh_frame::{split_records, RecordKind};
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

/// The dead FDEs of every live input `.eh_frame`, by object: (section, its dead FDEs).
#[derive(Debug, Default)]
pub struct DeadFdes(Vec<Vec<(u32, Vec<DeadFde>)>>);

impl DeadFdes {
    /// The dead FDEs of input section `sec` of object `file` (empty for most sections).
    pub fn of(&self, file: usize, sec: usize) -> &[DeadFde] {
        self.0
            .get(file)
            .and_then(|v| v.iter().find(|(s, _)| *s as usize == sec))
            .map(|(_, d)| d.as_slice())
            .unwrap_or(&[])
    }
}

/// Finds the dead FDEs of every live input `.eh_frame`.
pub fn find(link: &Link) -> DeadFdes {
    DeadFdes(find_per_object(link))
}

fn find_per_object(link: &Link) -> Vec<Vec<(u32, Vec<DeadFde>)>> {
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
    // A malformed section is reported when the header is counted; here it just keeps all.
    let Ok(records) = split_records(sec.data) else {
        return Vec::new();
    };
    // Looked up once per FDE: a table, or a link with many FDEs is quadratic.
    let mut by_offset = std::collections::HashMap::new();
    for x in &sec.relocs {
        by_offset.entry(x.offset).or_insert(x.sym);
    }
    let mut dead = Vec::new();
    let mut host = None;
    for r in records {
        let is_dead = match r.kind {
            RecordKind::Fde { .. } => {
                // The FDE's initial location is the relocation just after its CIE pointer.
                let at = if r.size >= 12 && sec.data.get(r.offset..r.offset + 4) == Some(&[0xff; 4])
                {
                    r.offset + 16
                } else {
                    r.offset + 8
                };
                by_offset.get(&(at as u64)).is_some_and(|&sym| {
                    link.global_id(f, sym).is_none()
                        && matches!(obj.symbols.get(sym as usize).map(|s| s.place),
                        Some(SymPlace::Section(t)) if !obj.sections[t as usize].live)
                })
            }
            RecordKind::Cie => false,
            // Nothing after a terminator can host padding for a later dead FDE.
            RecordKind::Terminator => {
                host = None;
                continue;
            }
        };
        match (is_dead, host) {
            (true, Some(h)) => dead.push(DeadFde {
                start: r.offset as u64,
                end: (r.offset + r.size) as u64,
                host: h,
            }),
            (true, None) => {}
            (false, _) => host = Some(r.offset as u64),
        }
    }
    dead
}

/// Whether input offset `offset` lies inside one of `dead` (in record order, so sorted).
pub fn is_dead(dead: &[DeadFde], offset: u64) -> bool {
    let i = dead.partition_point(|d| d.end <= offset);
    dead.get(i).is_some_and(|d| offset >= d.start)
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

#[cfg(test)]
mod tests {
    use super::{is_dead, DeadFde};

    #[test]
    fn is_dead_finds_the_record_holding_an_offset() {
        let dead = [
            DeadFde {
                start: 8,
                end: 24,
                host: 0,
            },
            DeadFde {
                start: 40,
                end: 64,
                host: 24,
            },
        ];
        for (offset, expected) in [
            (0, false),
            (8, true),
            (23, true),
            (24, false),
            (39, false),
            (40, true),
            (63, true),
            (64, false),
        ] {
            assert_eq!(is_dead(&dead, offset), expected, "{offset}");
        }
        assert!(!is_dead(&[], 0));
    }
}
