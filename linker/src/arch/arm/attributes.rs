//! `.ARM.attributes` (build attributes, AAELF32 "Build Attributes"): the inputs' file-scope
//! `aeabi` attributes merged into one section, as readelf and the loader's tools expect one
//! well-formed section rather than the inputs' sections end to end.
//!
//! Merge rule: a numeric attribute takes the largest value any input gives (architecture
//! versions, FP and SIMD levels and alignment needs only grow); a string attribute keeps the
//! first value seen. Section- and symbol-scope attributes and other vendors' subsections are
//! dropped, as they describe single input sections. Float-ABI conflicts are reported from
//! `e_flags` (see [`super::check_flags`]).

use std::collections::BTreeMap;

const TAG_FILE: u64 = 1;
const TAG_CPU_RAW_NAME: u64 = 4;
const TAG_CPU_NAME: u64 = 5;
const TAG_COMPATIBILITY: u64 = 32;
const TAG_ALSO_COMPATIBLE_WITH: u64 = 65;
const TAG_CONFORMANCE: u64 = 67;
const TAG_ABI_FP_NUMBER_MODEL: u64 = 23;
const TAG_ABI_VFP_ARGS: u64 = 28;
/// Tag_ABI_VFP_args value of code that passes no floating-point arguments at all.
const VFP_ARGS_COMPATIBLE: u64 = 3;

fn describe_vfp_args(value: u64) -> &'static str {
    match value {
        0 => "the base (soft-float) procedure call standard, floating-point arguments in core registers",
        1 => "VFP register arguments (hard-float)",
        _ => "a toolchain-specific floating-point calling convention",
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Number(u64),
    Text(Vec<u8>),
    /// Tag_compatibility: a flag and a vendor name.
    Compat(u64, Vec<u8>),
}

/// Merges the `.ARM.attributes` sections of the named inputs.
pub fn merge(inputs: &[(&str, &[u8])]) -> Result<Vec<u8>, String> {
    let mut merged: BTreeMap<u64, Value> = BTreeMap::new();
    // The first input that passes floating-point values, and how (as GNU ld checks it: code
    // without a floating-point number model, or compatible with both, does not count).
    let mut float_convention: Option<(&str, u64)> = None;
    for &(name, data) in inputs {
        let attrs = parse(data).map_err(|e| format!("{name}: malformed .ARM.attributes: {e}"))?;
        let number = |tag: u64| {
            attrs.iter().find_map(|(t, v)| match v {
                Value::Number(n) if *t == tag => Some(*n),
                _ => None,
            })
        };
        let uses_float = number(TAG_ABI_FP_NUMBER_MODEL).unwrap_or(0) != 0;
        let vfp_args = number(TAG_ABI_VFP_ARGS).unwrap_or(0);
        if uses_float && vfp_args != VFP_ARGS_COMPATIBLE {
            match float_convention {
                None => float_convention = Some((name, vfp_args)),
                Some((first, theirs)) if theirs != vfp_args => {
                    return Err(format!(
                        "{name} uses {}, but {first} uses {}: soft-float and hard-float code cannot be linked together",
                        describe_vfp_args(vfp_args),
                        describe_vfp_args(theirs)
                    ))
                }
                Some(_) => {}
            }
        }
        for (tag, value) in attrs {
            match (merged.get_mut(&tag), &value) {
                (None, _) => {
                    merged.insert(tag, value);
                }
                (Some(Value::Number(old)), Value::Number(new)) => *old = (*old).max(*new),
                _ => {}
            }
        }
    }
    // The output passes floating-point values the way its float-using inputs do (the maximum
    // would wrongly prefer "compatible with both").
    if let Some((_, vfp_args)) = float_convention {
        merged.insert(TAG_ABI_VFP_ARGS, Value::Number(vfp_args));
    }
    Ok(write(&merged))
}

/// Whether merged attributes say floating-point arguments go in VFP registers (hard-float:
/// Tag_ABI_VFP_args = 1, as GNU ld sets EF_ARM_ABI_FLOAT_HARD); `None` if unreadable.
pub fn vfp_args(data: &[u8]) -> Option<bool> {
    let attrs = parse(data).ok()?;
    Some(
        attrs
            .iter()
            .any(|(tag, value)| *tag == TAG_ABI_VFP_ARGS && *value == Value::Number(1)),
    )
}

/// File-scope attributes of the `aeabi` subsection, in order.
fn parse(data: &[u8]) -> Result<Vec<(u64, Value)>, String> {
    let mut out = Vec::new();
    let Some((&b'A', mut rest)) = data.split_first() else {
        return Err("does not start with format version 'A'".into());
    };
    while !rest.is_empty() {
        let (len, _) = read_u32(rest)?;
        let sub = rest.get(..len).ok_or("subsection runs past the end")?;
        rest = &rest[len..];
        let body = sub.get(4..).ok_or("subsection too short")?;
        let (vendor, mut body) = read_ntbs(body)?;
        if vendor != b"aeabi" {
            continue;
        }
        while !body.is_empty() {
            let (tag, after_tag) = read_uleb(body)?;
            let (size, _) = read_u32(after_tag)?;
            // The block's own header: its tag and its 4-byte size.
            let header = body.len() - after_tag.len() + 4;
            let block = body
                .get(..size)
                .ok_or("attribute block runs past the end")?;
            body = &body[size..];
            if tag != TAG_FILE {
                continue;
            }
            let mut attrs = block.get(header..).ok_or("attribute block too short")?;
            while !attrs.is_empty() {
                let (tag, after) = read_uleb(attrs)?;
                let (value, after) = match tag {
                    TAG_COMPATIBILITY => {
                        let (flag, after) = read_uleb(after)?;
                        let (text, after) = read_ntbs(after)?;
                        (Value::Compat(flag, text.to_vec()), after)
                    }
                    _ if is_text(tag) => {
                        let (text, after) = read_ntbs(after)?;
                        (Value::Text(text.to_vec()), after)
                    }
                    _ => {
                        let (n, after) = read_uleb(after)?;
                        (Value::Number(n), after)
                    }
                };
                out.push((tag, value));
                attrs = after;
            }
        }
    }
    Ok(out)
}

/// Which tags carry a string: a few named ones, then by convention odd tags from 32 up.
fn is_text(tag: u64) -> bool {
    matches!(
        tag,
        TAG_CPU_RAW_NAME | TAG_CPU_NAME | TAG_ALSO_COMPATIBLE_WITH | TAG_CONFORMANCE
    ) || (tag > TAG_COMPATIBILITY && tag % 2 == 1)
}

fn write(attrs: &BTreeMap<u64, Value>) -> Vec<u8> {
    let mut list = Vec::new();
    // Tag_conformance comes first (AAELF32).
    let conformance = attrs.get_key_value(&TAG_CONFORMANCE);
    for (&tag, value) in conformance
        .into_iter()
        .chain(attrs.iter().filter(|(&t, _)| t != TAG_CONFORMANCE))
    {
        write_uleb(&mut list, tag);
        match value {
            Value::Number(n) => write_uleb(&mut list, *n),
            Value::Text(text) => {
                list.extend_from_slice(text);
                list.push(0);
            }
            Value::Compat(flag, text) => {
                write_uleb(&mut list, *flag);
                list.extend_from_slice(text);
                list.push(0);
            }
        }
    }
    let file_size = 1 + 4 + list.len() as u32;
    let sub_size = 4 + 6 + file_size;
    let mut out = vec![b'A'];
    out.extend_from_slice(&sub_size.to_le_bytes());
    out.extend_from_slice(b"aeabi\0");
    out.push(TAG_FILE as u8);
    out.extend_from_slice(&file_size.to_le_bytes());
    out.extend_from_slice(&list);
    out
}

fn read_u32(data: &[u8]) -> Result<(usize, &[u8]), String> {
    let bytes = data.get(..4).ok_or("truncated length")?;
    let n = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if n < 4 {
        return Err(format!("length {n} too small"));
    }
    Ok((n, &data[4..]))
}

fn read_uleb(data: &[u8]) -> Result<(u64, &[u8]), String> {
    let mut value = 0u64;
    for (i, &byte) in data.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, &data[i + 1..]));
        }
    }
    Err("truncated ULEB128".into())
}

fn read_ntbs(data: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let end = data
        .iter()
        .position(|&b| b == 0)
        .ok_or("unterminated string")?;
    Ok((&data[..end], &data[end + 1..]))
}

fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_block_followed_by_another_parses() {
        // 'A', a 23-byte aeabi subsection: a File block (Tag_CPU_arch = 10), then a Section
        // block. Reading the File block's header used to underflow when a block followed.
        let mut data = b"A".to_vec();
        data.extend_from_slice(&23u32.to_le_bytes());
        data.extend_from_slice(b"aeabi\0");
        data.extend_from_slice(&[1, 7, 0, 0, 0, 6, 10]);
        data.extend_from_slice(&[2, 6, 0, 0, 0, 0]);
        assert_eq!(parse(&data), Ok(vec![(6, Value::Number(10))]));
    }

    #[test]
    fn merge_takes_maxima_and_first_strings() {
        let mut a = BTreeMap::new();
        a.insert(TAG_CPU_NAME, Value::Text(b"7-A".to_vec()));
        a.insert(6, Value::Number(10)); // Tag_CPU_arch v7
        a.insert(TAG_CONFORMANCE, Value::Text(b"2.09".to_vec()));
        let mut b = BTreeMap::new();
        b.insert(TAG_CPU_NAME, Value::Text(b"other".to_vec()));
        b.insert(6, Value::Number(8));
        b.insert(10, Value::Number(5)); // Tag_FP_arch
        let (a, b) = (write(&a), write(&b));
        let merged = merge(&[("a.o", &a), ("b.o", &b)]).expect("merge");
        let attrs = parse(&merged).expect("parse");
        assert_eq!(
            attrs,
            vec![
                (TAG_CONFORMANCE, Value::Text(b"2.09".to_vec())),
                (TAG_CPU_NAME, Value::Text(b"7-A".to_vec())),
                (6, Value::Number(10)),
                (10, Value::Number(5)),
            ]
        );
        assert!(merge(&[("bad.o", b"B")]).unwrap_err().contains("bad.o"));
    }

    #[test]
    fn soft_and_hard_float_code_do_not_mix() {
        let object = |attrs: &[(u64, u64)]| {
            let map = attrs.iter().map(|&(t, v)| (t, Value::Number(v))).collect();
            write(&map)
        };
        let hard = object(&[(TAG_ABI_FP_NUMBER_MODEL, 3), (TAG_ABI_VFP_ARGS, 1)]);
        let soft = object(&[(TAG_ABI_FP_NUMBER_MODEL, 3)]);
        let no_float = object(&[(6, 10)]);
        let compatible = object(&[(TAG_ABI_FP_NUMBER_MODEL, 3), (TAG_ABI_VFP_ARGS, 3)]);
        let err = merge(&[("hard.o", &hard), ("none.o", &no_float), ("soft.o", &soft)])
            .expect_err("mixing must fail");
        assert!(err.starts_with("soft.o uses the base"), "{err}");
        assert!(
            err.contains("but hard.o uses VFP register arguments"),
            "{err}"
        );
        let merged = merge(&[
            ("c.o", &compatible),
            ("hard.o", &hard),
            ("none.o", &no_float),
        ])
        .expect("ok");
        assert_eq!(
            vfp_args(&merged),
            Some(true),
            "hard-float wins over compatible"
        );
        assert_eq!(
            vfp_args(&merge(&[("soft.o", &soft)]).expect("ok")),
            Some(false)
        );
    }
}
