//! `.eh_frame_hdr` for the output: its size before layout (one table row per FDE of the
//! live input `.eh_frame` sections) and its contents from the final `.eh_frame` bytes.

use crate::error::{LinkError, Result};
use crate::link::Link;

/// Number of FDEs in the live input `.eh_frame` sections, or `None` when there are none.
pub fn count_fdes(link: &Link) -> Result<Option<u64>> {
    let mut count = 0u64;
    let mut any = false;
    for (f, obj) in link.objects.iter().enumerate() {
        for (s, sec) in obj
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live && s.name == b".eh_frame")
        {
            any = true;
            let fdes = walk(sec.data)
                .map_err(|what| LinkError::malformed(&obj.name, format!(".eh_frame: {what}")))?;
            count += fdes.len() as u64 - link.dead_fdes(f, s).len() as u64;
        }
    }
    Ok(any.then_some(count))
}

/// Offsets of the FDEs in a run of CIE/FDE records (stops at a zero terminator).
fn walk(data: &[u8]) -> std::result::Result<Vec<usize>, &'static str> {
    let mut fdes = Vec::new();
    let mut pos = 0usize;
    while pos + 4 <= data.len() {
        let len =
            u32::from_le_bytes(data[pos..pos + 4].try_into().map_err(|_| "truncated")?) as usize;
        if len == 0 {
            break;
        }
        if len == 0xffff_ffff {
            return Err("64-bit DWARF records are not supported");
        }
        let end = pos
            .checked_add(4 + len)
            .filter(|&e| e <= data.len())
            .ok_or("record runs past the section end")?;
        let id = u32::from_le_bytes(
            data.get(pos + 4..pos + 8)
                .ok_or("truncated record")?
                .try_into()
                .map_err(|_| "truncated")?,
        );
        if id != 0 {
            fdes.push(pos);
        }
        pos = end;
    }
    Ok(fdes)
}

fn read_u32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a ULEB128 at `*pos`.
fn uleb(d: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *d.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift.min(63);
        shift += 7;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
}

/// The FDE pointer encoding a CIE declares ('R' augmentation), default absptr.
fn cie_fde_encoding(d: &[u8], cie: usize) -> Option<u8> {
    let mut p = cie + 8;
    let version = *d.get(p)?;
    p += 1;
    let aug_start = p;
    while *d.get(p)? != 0 {
        p += 1;
    }
    let aug = &d[aug_start..p];
    p += 1;
    uleb(d, &mut p)?; // code alignment
                      // data alignment (SLEB128): skip its bytes.
    while d.get(p)? & 0x80 != 0 {
        p += 1;
    }
    p += 1;
    if version == 1 {
        p += 1;
    } else {
        uleb(d, &mut p)?;
    }
    if aug.first() != Some(&b'z') {
        return Some(0);
    }
    uleb(d, &mut p)?;
    for &c in &aug[1..] {
        match c {
            b'R' => return d.get(p).copied(),
            b'P' => {
                let enc = *d.get(p)?;
                p += 1 + encoded_size(enc)?;
            }
            b'L' => p += 1,
            _ => {}
        }
    }
    Some(0)
}

fn encoded_size(enc: u8) -> Option<usize> {
    match enc & 0x0f {
        0x00 => Some(8),
        0x02 | 0x0a => Some(2),
        0x03 | 0x0b => Some(4),
        0x04 | 0x0c => Some(8),
        _ => None,
    }
}

/// Builds `.eh_frame_hdr` (at `hdr_addr`, `size` bytes) from the final `.eh_frame`.
pub fn build(
    eh_frame: &[u8],
    eh_addr: u64,
    hdr_addr: u64,
    size: usize,
) -> std::result::Result<Vec<u8>, String> {
    let fdes = walk(eh_frame).map_err(str::to_string)?;
    let mut rows: Vec<(i64, i64)> = Vec::with_capacity(fdes.len());
    for fde in fdes {
        let cie_ptr = read_u32(eh_frame, fde + 4).ok_or("truncated FDE")? as usize;
        let cie = (fde + 4)
            .checked_sub(cie_ptr)
            .ok_or("FDE points before the section")?;
        let enc = cie_fde_encoding(eh_frame, cie).ok_or("malformed CIE")?;
        let field = fde + 8;
        let raw = match enc & 0x0f {
            0x0b | 0x03 => i64::from(read_u32(eh_frame, field).ok_or("truncated FDE")? as i32),
            0x00 | 0x04 | 0x0c => i64::from_le_bytes(
                eh_frame
                    .get(field..field + 8)
                    .ok_or("truncated FDE")?
                    .try_into()
                    .map_err(|_| "truncated")?,
            ),
            _ => return Err(format!("unsupported FDE pointer encoding {enc:#x}")),
        };
        let pc = match enc & 0x70 {
            0x00 => raw,
            0x10 => (eh_addr as i64) + field as i64 + raw,
            _ => return Err(format!("unsupported FDE pointer application {enc:#x}")),
        };
        rows.push((
            pc - hdr_addr as i64,
            eh_addr as i64 + fde as i64 - hdr_addr as i64,
        ));
    }
    rows.sort();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&[1, 0x1b, 0x03, 0x3b]);
    let eh_ptr = eh_addr as i64 - (hdr_addr as i64 + 4);
    out.extend_from_slice(&(eh_ptr as i32).to_le_bytes());
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for (pc, fde) in rows {
        let pc = i32::try_from(pc).map_err(|_| "code too far from .eh_frame_hdr".to_string())?;
        let fde =
            i32::try_from(fde).map_err(|_| ".eh_frame too far from .eh_frame_hdr".to_string())?;
        out.extend_from_slice(&pc.to_le_bytes());
        out.extend_from_slice(&fde.to_le_bytes());
    }
    out.resize(size, 0);
    Ok(out)
}
