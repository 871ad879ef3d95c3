//! `.note.gnu.property` on x86-64: the inputs' NT_GNU_PROPERTY_TYPE_0 properties combined as
//! GNU ld combines them, written as one note that PT_GNU_PROPERTY points at.
//!
//! The x86 properties are 32-bit masks whose type says how they combine (binutils'
//! `GNU_PROPERTY_X86_UINT32_*` ranges): an AND property (GNU_PROPERTY_X86_FEATURE_1_AND:
//! IBT, SHSTK) survives only if every input object has it, as the AND of their values; an OR
//! property (GNU_PROPERTY_X86_ISA_1_NEEDED) is the OR over the objects that have it; an
//! OR_AND one (GNU_PROPERTY_X86_ISA_1_USED) is the OR, kept only if every object has it.
//! `-z ibt` and `-z shstk` set their bits whatever the inputs say; `-z cet-report=` names the
//! objects lacking them. ARM has no such properties (GNU ld drops the section there too).

use crate::error::{LinkError, Result};
use crate::link::Link;
use crate::options::CetReport;
use std::collections::BTreeMap;

pub const NT_GNU_PROPERTY_TYPE_0: u32 = 5;
pub const FEATURE_1_AND: u32 = 0xc000_0002;
pub const FEATURE_1_IBT: u32 = 1;
pub const FEATURE_1_SHSTK: u32 = 2;
const AND_RANGE: std::ops::RangeInclusive<u32> = 0xc000_0002..=0xc000_7fff;
const OR_RANGE: std::ops::RangeInclusive<u32> = 0xc000_8000..=0xc000_ffff;
const OR_AND_RANGE: std::ops::RangeInclusive<u32> = 0xc001_0000..=0xc001_7fff;

/// One object's x86 properties by type (none when it has no note).
type Properties = BTreeMap<u32, u32>;

/// The merged note's bytes (`None`: no property survives), after reporting what
/// `-z cet-report` asks; an error for a malformed note or `cet-report=error`.
pub fn merge(link: &Link) -> Result<Option<Vec<u8>>> {
    if !link.arch.has_x86_properties() {
        warn_ignored(link)?;
        return Ok(None);
    }
    let mut inputs = Vec::with_capacity(link.objects.len());
    for obj in &link.objects {
        let mut props = Properties::new();
        for s in obj
            .sections
            .iter()
            .filter(|s| s.name == b".note.gnu.property")
        {
            read_note(s.data, &mut props)
                .map_err(|e| LinkError::Other(format!("{}: .note.gnu.property: {e}", obj.name)))?;
        }
        inputs.push(props);
    }
    report_cet(link, &inputs)?;
    let mut merged = combine(&inputs);
    let z = &link.opts.z;
    let forced = (u32::from(z.ibt) * FEATURE_1_IBT) | (u32::from(z.shstk) * FEATURE_1_SHSTK);
    if forced != 0 {
        *merged.entry(FEATURE_1_AND).or_insert(0) |= forced;
    }
    merged.retain(|_, v| *v != 0);
    Ok((!merged.is_empty()).then(|| encode(&merged)))
}

/// Whether the merged note marks the output IBT-enabled (its PLT then needs `endbr64`).
pub fn has_ibt(note: Option<&[u8]>) -> bool {
    let mut props = Properties::new();
    note.is_some_and(|n| read_note(n, &mut props).is_ok())
        && props
            .get(&FEATURE_1_AND)
            .is_some_and(|v| v & FEATURE_1_IBT != 0)
}

/// On a target without x86 properties, GNU ld ignores the x86 keywords with a warning each.
fn warn_ignored(link: &Link) -> Result<()> {
    let ignored = link.opts.z.x86_only_keywords();
    for k in &ignored {
        eprintln!("ld.tether: warning: -z {k} ignored");
    }
    if link.opts.fatal_warnings && !ignored.is_empty() {
        return Err(LinkError::Other(crate::options::FATAL_WARNINGS.into()));
    }
    Ok(())
}

fn combine(inputs: &[Properties]) -> Properties {
    let mut out = Properties::new();
    let types: std::collections::BTreeSet<u32> =
        inputs.iter().flat_map(|p| p.keys().copied()).collect();
    for t in types {
        let values: Vec<Option<u32>> = inputs.iter().map(|p| p.get(&t).copied()).collect();
        let all = values.iter().all(Option::is_some);
        let value = if AND_RANGE.contains(&t) && all {
            values.iter().flatten().fold(u32::MAX, |a, v| a & v)
        } else if OR_RANGE.contains(&t) || (OR_AND_RANGE.contains(&t) && all) {
            values.iter().flatten().fold(0, |a, v| a | v)
        } else {
            continue;
        };
        out.insert(t, value);
    }
    out
}

/// `-z cet-report=warning|error`: each object whose FEATURE_1_AND lacks IBT or SHSTK.
fn report_cet(link: &Link, inputs: &[Properties]) -> Result<()> {
    if link.opts.z.cet_report == CetReport::None {
        return Ok(());
    }
    let mut errors = Vec::new();
    for (obj, props) in link.objects.iter().zip(inputs) {
        let bits = props.get(&FEATURE_1_AND).copied().unwrap_or(0);
        let what = match (bits & FEATURE_1_IBT != 0, bits & FEATURE_1_SHSTK != 0) {
            (true, true) => continue,
            (false, false) => "IBT and SHSTK properties",
            (false, true) => "IBT property",
            (true, false) => "SHSTK property",
        };
        // An error is prefixed "error: " where it is printed.
        if link.opts.z.cet_report == CetReport::Error {
            errors.push(format!("{}: missing {what}", obj.name));
        } else {
            eprintln!("ld.tether: {}: warning: missing {what}", obj.name);
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(LinkError::Many(errors)),
    }
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Adds the x86 properties of the NT_GNU_PROPERTY_TYPE_0 notes in `data` (ELF64 layout:
/// 8-byte aligned descriptors and properties) to `props`.
fn read_note(data: &[u8], props: &mut Properties) -> std::result::Result<(), String> {
    let mut at = 0usize;
    while at < data.len() {
        let bad = |what: &str| format!("{what} at offset {at:#x}");
        let (namesz, descsz, ty) =
            match (u32_at(data, at), u32_at(data, at + 4), u32_at(data, at + 8)) {
                (Some(n), Some(d), Some(t)) => (n as usize, d as usize, t),
                _ => return Err(bad("truncated note header")),
            };
        let name_at = at + 12;
        // Notes start 8-aligned; the descriptor is padded to 8 after the name.
        let desc_at = name_at
            .checked_add(namesz)
            .map(|e| e.next_multiple_of(8))
            .ok_or_else(|| bad("bad name size"))?;
        let end = desc_at
            .checked_add(descsz)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| bad("note runs past the section"))?;
        if ty == NT_GNU_PROPERTY_TYPE_0 && data.get(name_at..name_at + namesz) == Some(b"GNU\0") {
            read_properties(&data[desc_at..end], props).map_err(|e| bad(&e))?;
        }
        at = end.next_multiple_of(8);
    }
    Ok(())
}

fn read_properties(desc: &[u8], props: &mut Properties) -> std::result::Result<(), String> {
    let mut at = 0usize;
    while at < desc.len() {
        let (Some(ty), Some(size)) = (u32_at(desc, at), u32_at(desc, at + 4)) else {
            return Err("truncated property".into());
        };
        let data_at = at + 8;
        let end = data_at
            .checked_add(size as usize)
            .filter(|&e| e <= desc.len())
            .ok_or("property runs past its note")?;
        let x86 = AND_RANGE.contains(&ty) || OR_RANGE.contains(&ty) || OR_AND_RANGE.contains(&ty);
        if x86 {
            let value = (size == 4)
                .then(|| u32_at(desc, data_at))
                .flatten()
                .ok_or_else(|| format!("property {ty:#x} has size {size}, not 4"))?;
            // One object may carry several notes: the bits add up.
            *props.entry(ty).or_insert(0) |= value;
        }
        at = end.next_multiple_of(8);
    }
    Ok(())
}

/// The note: "GNU" NT_GNU_PROPERTY_TYPE_0 with each property 8-byte aligned, by type.
fn encode(props: &Properties) -> Vec<u8> {
    let desc_size = 16 * props.len();
    let mut out = Vec::with_capacity(16 + desc_size);
    for w in [4u32, desc_size as u32, NT_GNU_PROPERTY_TYPE_0] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(b"GNU\0");
    for (&ty, &value) in props {
        for w in [ty, 4, value, 0] {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(list: &[(u32, u32)]) -> Properties {
        list.iter().copied().collect()
    }

    #[test]
    fn and_needs_every_object_or_does_not() {
        const ISA_NEEDED: u32 = 0xc000_8002;
        const ISA_USED: u32 = 0xc001_0002;
        let a = props(&[(FEATURE_1_AND, 3), (ISA_NEEDED, 1), (ISA_USED, 1)]);
        let b = props(&[(FEATURE_1_AND, 1), (ISA_USED, 2)]);
        let merged = combine(&[a.clone(), b]);
        assert_eq!(
            merged,
            props(&[(FEATURE_1_AND, 1), (ISA_NEEDED, 1), (ISA_USED, 3)])
        );
        let merged = combine(&[a, Properties::new()]);
        assert_eq!(merged, props(&[(ISA_NEEDED, 1)]));
    }

    #[test]
    fn notes_round_trip() {
        let p = props(&[(FEATURE_1_AND, 3), (0xc000_8002, 1)]);
        let bytes = encode(&p);
        assert_eq!(bytes.len(), 16 + 32);
        let mut back = Properties::new();
        read_note(&bytes, &mut back).unwrap();
        assert_eq!(back, p);
        assert!(has_ibt(Some(&bytes)));
        assert!(read_note(&bytes[..20], &mut back).is_err());
    }
}
