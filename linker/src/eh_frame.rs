//! `.eh_frame` records and the `.eh_frame_hdr` binary-search table.
//!
//! - [`split_records`] cuts an input (or output) `.eh_frame` into CIEs and FDEs, so the
//!   linker can drop FDEs of discarded sections and merge identical CIEs.
//! - [`parse_cie`] decodes a CIE's augmentation (`zR`, `zPLR`, `zPLRS`, ...): the FDE
//!   pointer encoding, the LSDA encoding and the personality pointer.
//! - [`parse_fde`] locates an FDE's `pc_begin`, range and LSDA pointer;
//!   [`pointer_target`] resolves `absptr`/`pcrel` pointers at an output address.
//! - [`build_eh_frame_hdr`] reads the final, relocated `.eh_frame` at its output address and
//!   writes the `.eh_frame_hdr` contents ld.bfd writes for `--eh-frame-hdr`.
//!
//! API note: `build_eh_frame_hdr` takes a fourth argument, `address_size` (4 for ELF32, 8
//! for ELF64), because an `absptr` FDE encoding is as wide as an address.
//! [`RecordKind::Terminator`] marks a zero-length record (crtend.o's `__FRAME_END__`).
//!
//! Formats: LSB 5.0 "Exception Frames" and "EH Frame Header"; DWARF 4 §6.4.1 for the CIE
//! fields. A 0xffffffff length introduces a 64-bit length; the CIE pointer stays 4 bytes,
//! as in LLVM's libunwind and lld.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EhFrameError {
    #[error(".eh_frame+{offset:#x}: truncated {what}")]
    Truncated { offset: usize, what: &'static str },
    #[error(".eh_frame+{offset:#x}: record of {size:#x} bytes runs past the end of the section ({section_size:#x} bytes)")]
    RecordOverflow {
        offset: usize,
        size: u64,
        section_size: usize,
    },
    #[error(".eh_frame+{offset:#x}: FDE's CIE pointer {pointer:#x} does not point at a CIE")]
    BadCiePointer { offset: usize, pointer: u32 },
    #[error(".eh_frame+{offset:#x}: unsupported CIE version {version}")]
    UnsupportedVersion { offset: usize, version: u8 },
    #[error(".eh_frame+{offset:#x}: unsupported pointer encoding {encoding:#04x}")]
    UnsupportedEncoding { offset: usize, encoding: u8 },
    #[error(".eh_frame+{offset:#x}: malformed LEB128 number")]
    BadLeb128 { offset: usize },
    #[error(".eh_frame_hdr: {what} {value:#x} does not fit in 32 bits (FDE at .eh_frame+{fde_offset:#x})")]
    OutOfRange {
        what: &'static str,
        value: i128,
        fde_offset: usize,
    },
    #[error(".eh_frame_hdr: .eh_frame at {eh_frame_addr:#x} is too far from the header at {hdr_addr:#x} for a 32-bit offset")]
    EhFrameTooFar { eh_frame_addr: u64, hdr_addr: u64 },
    #[error(".eh_frame_hdr: address size must be 4 or 8, not {0}")]
    BadAddressSize(u8),
}

type Result<T> = std::result::Result<T, EhFrameError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Cie,
    /// `cie_offset` is the section offset of the CIE this FDE uses.
    Fde {
        cie_offset: usize,
    },
    /// A zero length word: the end-of-list marker (4 bytes).
    Terminator,
}

/// One record: `offset` is where its length field starts, `size` counts every byte of it
/// including the length field(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub offset: usize,
    pub size: usize,
    pub kind: RecordKind,
}

impl Record {
    /// Offset of the CIE id / CIE pointer field (just after the length).
    fn id_offset(&self, data: &[u8]) -> usize {
        if read_u32(data, self.offset).ok() == Some(0xffff_ffff) {
            self.offset + 12
        } else {
            self.offset + 4
        }
    }
}

fn read_bytes<const N: usize>(data: &[u8], offset: usize, what: &'static str) -> Result<[u8; N]> {
    offset
        .checked_add(N)
        .and_then(|end| data.get(offset..end))
        .and_then(|s| s.try_into().ok())
        .ok_or(EhFrameError::Truncated { offset, what })
}

fn read_u32(data: &[u8], offset: usize) -> Result<u32> {
    read_bytes::<4>(data, offset, "word").map(u32::from_le_bytes)
}

/// Splits `.eh_frame` contents into records and checks each FDE points at a CIE.
pub fn split_records(data: &[u8]) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < data.len() {
        let length = read_bytes::<4>(data, offset, "record length").map(u32::from_le_bytes)?;
        if length == 0 {
            records.push(Record {
                offset,
                size: 4,
                kind: RecordKind::Terminator,
            });
            offset += 4;
            continue;
        }
        let (header, body_len) = if length == 0xffff_ffff {
            let long = read_bytes::<8>(data, offset + 4, "64-bit record length")?;
            (12usize, u64::from_le_bytes(long))
        } else {
            (4usize, u64::from(length))
        };
        let size = (header as u64).saturating_add(body_len);
        if size > (data.len() - offset) as u64 || body_len < 4 {
            return Err(EhFrameError::RecordOverflow {
                offset,
                size,
                section_size: data.len(),
            });
        }
        let size = size as usize;
        let id_offset = offset + header;
        let id = read_u32(data, id_offset)?;
        let kind = if id == 0 {
            RecordKind::Cie
        } else {
            let cie_offset =
                id_offset
                    .checked_sub(id as usize)
                    .ok_or(EhFrameError::BadCiePointer {
                        offset,
                        pointer: id,
                    })?;
            RecordKind::Fde { cie_offset }
        };
        records.push(Record { offset, size, kind });
        offset += size;
    }
    for record in &records {
        if let RecordKind::Fde { cie_offset } = record.kind {
            let points_at_cie = records
                .binary_search_by_key(&cie_offset, |r| r.offset)
                .is_ok_and(|i| records[i].kind == RecordKind::Cie);
            if !points_at_cie {
                let pointer = read_u32(data, record.id_offset(data))?;
                return Err(EhFrameError::BadCiePointer {
                    offset: record.offset,
                    pointer,
                });
            }
        }
    }
    Ok(records)
}

/// `DW_EH_PE_*` constants.
pub mod pe {
    pub const ABSPTR: u8 = 0x00;
    pub const ULEB128: u8 = 0x01;
    pub const UDATA2: u8 = 0x02;
    pub const UDATA4: u8 = 0x03;
    pub const UDATA8: u8 = 0x04;
    pub const SLEB128: u8 = 0x09;
    pub const SDATA2: u8 = 0x0a;
    pub const SDATA4: u8 = 0x0b;
    pub const SDATA8: u8 = 0x0c;
    pub const PCREL: u8 = 0x10;
    pub const TEXTREL: u8 = 0x20;
    pub const DATAREL: u8 = 0x30;
    pub const FUNCREL: u8 = 0x40;
    pub const ALIGNED: u8 = 0x50;
    pub const INDIRECT: u8 = 0x80;
    pub const OMIT: u8 = 0xff;
}

fn read_uleb(data: &[u8], pos: &mut usize) -> Result<u64> {
    let start = *pos;
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = *data.get(*pos).ok_or(EhFrameError::Truncated {
            offset: start,
            what: "LEB128 number",
        })?;
        *pos += 1;
        if shift < 64 {
            value |= u64::from(byte & 0x7f) << shift;
        } else if byte & 0x7f != 0 {
            return Err(EhFrameError::BadLeb128 { offset: start });
        }
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
}

fn read_sleb(data: &[u8], pos: &mut usize) -> Result<i64> {
    let start = *pos;
    let mut value = 0i64;
    let mut shift = 0;
    loop {
        let byte = *data.get(*pos).ok_or(EhFrameError::Truncated {
            offset: start,
            what: "LEB128 number",
        })?;
        *pos += 1;
        if shift < 64 {
            value |= i64::from(byte & 0x7f) << shift;
        } else if byte & 0x7f != 0 && byte & 0x7f != 0x7f {
            return Err(EhFrameError::BadLeb128 { offset: start });
        }
        shift += 7;
        if byte & 0x80 == 0 {
            if shift < 64 && byte & 0x40 != 0 {
                value |= -1i64 << shift;
            }
            return Ok(value);
        }
    }
}

/// Reads the stored value of a pointer with `encoding` at `*pos` (its format only; no
/// `pcrel`/`datarel` base is applied) as a sign- or zero-extended 64-bit number.
pub fn read_encoded(data: &[u8], pos: &mut usize, encoding: u8, address_size: u8) -> Result<u64> {
    let at = *pos;
    let format = encoding & 0x0f;
    let unsupported = EhFrameError::UnsupportedEncoding {
        offset: at,
        encoding,
    };
    let (value, width) = match format {
        pe::ABSPTR if address_size == 4 => (u64::from(read_u32(data, at)?), 4),
        pe::ABSPTR if address_size == 8 => {
            (u64::from_le_bytes(read_bytes::<8>(data, at, "pointer")?), 8)
        }
        pe::ABSPTR => return Err(EhFrameError::BadAddressSize(address_size)),
        pe::UDATA2 => (
            u64::from(u16::from_le_bytes(read_bytes::<2>(data, at, "pointer")?)),
            2,
        ),
        pe::UDATA4 => (u64::from(read_u32(data, at)?), 4),
        pe::UDATA8 => (u64::from_le_bytes(read_bytes::<8>(data, at, "pointer")?), 8),
        pe::SDATA2 => (
            i16::from_le_bytes(read_bytes::<2>(data, at, "pointer")?) as i64 as u64,
            2,
        ),
        pe::SDATA4 => (
            i32::from_le_bytes(read_bytes::<4>(data, at, "pointer")?) as i64 as u64,
            4,
        ),
        pe::SDATA8 => (u64::from_le_bytes(read_bytes::<8>(data, at, "pointer")?), 8),
        pe::ULEB128 => {
            let v = read_uleb(data, pos)?;
            return Ok(v);
        }
        pe::SLEB128 => {
            let v = read_sleb(data, pos)?;
            return Ok(v as u64);
        }
        _ => return Err(unsupported),
    };
    *pos += width;
    Ok(value)
}

/// A pointer stored in a CIE's augmentation data (the personality routine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedPointer {
    pub encoding: u8,
    /// Section offset of the stored value (where its relocation applies).
    pub offset: usize,
    /// The stored value, sign- or zero-extended, before any `pcrel` base is applied.
    pub raw: u64,
}

/// The decoded header of a CIE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cie {
    pub version: u8,
    pub augmentation: String,
    pub code_alignment: u64,
    pub data_alignment: i64,
    pub return_address_register: u64,
    /// How FDEs using this CIE store their initial location and range (`R`); absptr when
    /// the augmentation has no `R`.
    pub fde_encoding: u8,
    /// `L`: the encoding of each FDE's LSDA pointer (in the FDE's augmentation data).
    pub lsda_encoding: Option<u8>,
    /// `P`: the personality routine pointer.
    pub personality: Option<EncodedPointer>,
    /// `S`: a signal frame.
    pub signal_frame: bool,
}

/// Decodes the CIE at `record` (which must be a [`RecordKind::Cie`] from
/// [`split_records`] on the same `data`).
pub fn parse_cie(data: &[u8], record: &Record, address_size: u8) -> Result<Cie> {
    let end = record.offset + record.size;
    let data = &data[..end.min(data.len())];
    let mut pos = record.id_offset(data) + 4;
    let version = read_bytes::<1>(data, pos, "CIE version")?[0];
    if !matches!(version, 1 | 3 | 4) {
        return Err(EhFrameError::UnsupportedVersion {
            offset: record.offset,
            version,
        });
    }
    pos += 1;
    let aug_len = data
        .get(pos..)
        .and_then(|rest| rest.iter().position(|&c| c == 0))
        .ok_or(EhFrameError::Truncated {
            offset: pos,
            what: "CIE augmentation string",
        })?;
    let augmentation = String::from_utf8_lossy(&data[pos..pos + aug_len]).into_owned();
    pos += aug_len + 1;
    if augmentation.contains("eh") {
        pos += usize::from(address_size);
    }
    if version == 4 {
        pos += 2; // address_size, segment_selector_size
    }
    let code_alignment = read_uleb(data, &mut pos)?;
    let data_alignment = read_sleb(data, &mut pos)?;
    let return_address_register = if version == 1 {
        let r = read_bytes::<1>(data, pos, "return address register")?[0];
        pos += 1;
        u64::from(r)
    } else {
        read_uleb(data, &mut pos)?
    };
    let mut cie = Cie {
        version,
        augmentation: augmentation.clone(),
        code_alignment,
        data_alignment,
        return_address_register,
        fde_encoding: pe::ABSPTR,
        lsda_encoding: None,
        personality: None,
        signal_frame: false,
    };
    let Some(letters) = augmentation.strip_prefix('z') else {
        return Ok(cie);
    };
    let _aug_data_len = read_uleb(data, &mut pos)?;
    for letter in letters.chars() {
        match letter {
            'R' => {
                cie.fde_encoding = read_bytes::<1>(data, pos, "FDE encoding")?[0];
                pos += 1;
            }
            'L' => {
                cie.lsda_encoding = Some(read_bytes::<1>(data, pos, "LSDA encoding")?[0]);
                pos += 1;
            }
            'P' => {
                let encoding = read_bytes::<1>(data, pos, "personality encoding")?[0];
                pos += 1;
                let offset = pos;
                let raw = read_encoded(data, &mut pos, encoding & 0x7f, address_size)?;
                cie.personality = Some(EncodedPointer {
                    encoding,
                    offset,
                    raw,
                });
            }
            'S' => cie.signal_frame = true,
            // Letters carrying no data (AArch64 'B', MTE 'G') and anything unknown after
            // them: the augmentation length lets consumers skip the rest.
            _ => break,
        }
    }
    Ok(cie)
}

/// The fields of an FDE, located for relocation and GC: where `pc_begin` is stored and its
/// raw value, the range, and the LSDA pointer when the CIE has `L`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fde {
    pub pc_begin: EncodedPointer,
    /// The code size covered (stored in the FDE encoding's format, no base applied).
    pub pc_range: u64,
    /// `L` in the CIE: the LSDA pointer from the FDE's augmentation data.
    pub lsda: Option<EncodedPointer>,
}

/// Decodes the FDE at `record` given its CIE (from [`parse_cie`]).
pub fn parse_fde(data: &[u8], record: &Record, cie: &Cie, address_size: u8) -> Result<Fde> {
    let end = record.offset + record.size;
    let data = &data[..end.min(data.len())];
    let mut pos = record.id_offset(data) + 4;
    let format = cie.fde_encoding & 0x0f;
    let offset = pos;
    let raw = read_encoded(data, &mut pos, format, address_size)?;
    let pc_begin = EncodedPointer {
        encoding: cie.fde_encoding,
        offset,
        raw,
    };
    let pc_range = read_encoded(data, &mut pos, format, address_size)?;
    let mut lsda = None;
    if cie.augmentation.starts_with('z') {
        let aug_len = read_uleb(data, &mut pos)?;
        let aug_start = pos;
        if let Some(encoding) = cie.lsda_encoding.filter(|&e| e != pe::OMIT) {
            let offset = pos;
            let raw = read_encoded(data, &mut pos, encoding & 0x7f, address_size)?;
            if (pos - aug_start) as u64 > aug_len {
                return Err(EhFrameError::Truncated {
                    offset: aug_start,
                    what: "FDE augmentation data",
                });
            }
            lsda = Some(EncodedPointer {
                encoding,
                offset,
                raw,
            });
        }
    }
    Ok(Fde {
        pc_begin,
        pc_range,
        lsda,
    })
}

/// The address an encoded pointer stands for, for the `absptr` and `pcrel` applications
/// (`section_addr` is the output address of the section holding it). `None` for other
/// applications, whose base depends on the consumer.
pub fn pointer_target(
    pointer: &EncodedPointer,
    section_addr: u64,
    address_size: u8,
) -> Option<u64> {
    let value = match pointer.encoding & 0x70 {
        pe::ABSPTR => pointer.raw,
        pe::PCREL => section_addr
            .wrapping_add(pointer.offset as u64)
            .wrapping_add(pointer.raw),
        _ => return None,
    };
    Some(if address_size == 4 {
        value & 0xffff_ffff
    } else {
        value
    })
}

/// The address an FDE's `pc_begin` stands for, given the record and its CIE's encoding.
/// `eh_frame_addr` is the output address of `data[0]`; `datarel` is taken relative to
/// `hdr_addr` (LSB: relative to `.eh_frame_hdr`).
fn fde_initial_location(
    data: &[u8],
    record: &Record,
    encoding: u8,
    address_size: u8,
    eh_frame_addr: u64,
    hdr_addr: u64,
) -> Result<u64> {
    let mut pos = record.id_offset(data) + 4;
    let field = pos;
    let unsupported = EhFrameError::UnsupportedEncoding {
        offset: field,
        encoding,
    };
    if encoding == pe::OMIT || encoding & pe::INDIRECT != 0 {
        return Err(unsupported);
    }
    let raw = read_encoded(data, &mut pos, encoding, address_size)?;
    let base = match encoding & 0x70 {
        pe::ABSPTR => 0,
        pe::PCREL => eh_frame_addr.wrapping_add(field as u64),
        pe::DATAREL => hdr_addr,
        _ => return Err(unsupported),
    };
    let value = base.wrapping_add(raw);
    Ok(if address_size == 4 {
        value & 0xffff_ffff
    } else {
        value
    })
}

/// One FDE as the header's search table sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdeLocation {
    pub initial_location: u64,
    /// Section offset of the FDE record.
    pub fde_offset: usize,
}

/// Every FDE's initial location in a final `.eh_frame` placed at `eh_frame_addr`.
pub fn fde_locations(
    eh_frame: &[u8],
    eh_frame_addr: u64,
    hdr_addr: u64,
    address_size: u8,
) -> Result<Vec<FdeLocation>> {
    if address_size != 4 && address_size != 8 {
        return Err(EhFrameError::BadAddressSize(address_size));
    }
    let records = split_records(eh_frame)?;
    let mut cie_encodings: Vec<(usize, u8)> = Vec::new();
    let mut fdes = Vec::new();
    for record in &records {
        match record.kind {
            RecordKind::Cie => {
                let cie = parse_cie(eh_frame, record, address_size)?;
                cie_encodings.push((record.offset, cie.fde_encoding));
            }
            RecordKind::Fde { cie_offset } => {
                // split_records checked that the CIE exists; CIEs precede their FDEs in
                // practice but not necessarily, so parse on demand when needed.
                let encoding = match cie_encodings.iter().find(|(o, _)| *o == cie_offset) {
                    Some(&(_, e)) => e,
                    None => {
                        let cie_record = records.iter().find(|r| r.offset == cie_offset).ok_or(
                            EhFrameError::BadCiePointer {
                                offset: record.offset,
                                pointer: 0,
                            },
                        )?;
                        parse_cie(eh_frame, cie_record, address_size)?.fde_encoding
                    }
                };
                let initial_location = fde_initial_location(
                    eh_frame,
                    record,
                    encoding,
                    address_size,
                    eh_frame_addr,
                    hdr_addr,
                )?;
                fdes.push(FdeLocation {
                    initial_location,
                    fde_offset: record.offset,
                });
            }
            RecordKind::Terminator => {}
        }
    }
    Ok(fdes)
}

/// `.eh_frame_hdr` contents for the final `.eh_frame` (`eh_frame`, at `eh_frame_addr`) with
/// the header placed at `hdr_addr`: version 1, `eh_frame_ptr` pcrel|sdata4, `fde_count`
/// udata4, then the table of (initial location, FDE address) pairs as datarel|sdata4
/// sorted by initial location. A value that does not fit a signed 32-bit field is an error.
pub fn build_eh_frame_hdr(
    eh_frame: &[u8],
    eh_frame_addr: u64,
    hdr_addr: u64,
    address_size: u8,
) -> Result<Vec<u8>> {
    let mut fdes = fde_locations(eh_frame, eh_frame_addr, hdr_addr, address_size)?;
    fdes.sort_by_key(|f| (f.initial_location, f.fde_offset));
    let rel32 = |value: u64, base: u64, what: &'static str, fde_offset: usize| -> Result<[u8; 4]> {
        let delta = i128::from(value) - i128::from(base);
        i32::try_from(delta)
            .map(i32::to_le_bytes)
            .map_err(|_| EhFrameError::OutOfRange {
                what,
                value: delta,
                fde_offset,
            })
    };
    let mut out = Vec::with_capacity(12 + 8 * fdes.len());
    out.extend_from_slice(&[
        1,
        pe::PCREL | pe::SDATA4,
        pe::UDATA4,
        pe::DATAREL | pe::SDATA4,
    ]);
    let eh_frame_ptr =
        rel32(eh_frame_addr, hdr_addr.wrapping_add(4), "eh_frame_ptr", 0).map_err(|_| {
            EhFrameError::EhFrameTooFar {
                eh_frame_addr,
                hdr_addr,
            }
        })?;
    out.extend_from_slice(&eh_frame_ptr);
    let count = u32::try_from(fdes.len()).map_err(|_| EhFrameError::OutOfRange {
        what: "FDE count",
        value: fdes.len() as i128,
        fde_offset: 0,
    })?;
    out.extend_from_slice(&count.to_le_bytes());
    for fde in fdes {
        out.extend_from_slice(&rel32(
            fde.initial_location,
            hdr_addr,
            "initial location",
            fde.fde_offset,
        )?);
        let fde_addr = eh_frame_addr.wrapping_add(fde.fde_offset as u64);
        out.extend_from_slice(&rel32(fde_addr, hdr_addr, "FDE address", fde.fde_offset)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object, ObjectSection};
    use std::path::Path;
    use std::process::Command;

    use crate::test_support::run_ok as run;

    /// (offset, size, kind, FDE pc_begin) for each record `readelf -wf` lists.
    fn readelf_frames(readelf: &str, file: &Path) -> Vec<(usize, usize, RecordKind, Option<u64>)> {
        let text = run(
            Command::new(readelf).arg("-wf").arg(file),
            readelf,
            "binutils",
        );
        let mut frames = Vec::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let hex = |w: &str| u64::from_str_radix(w, 16).ok();
            let Some(offset) = words.first().filter(|w| w.len() == 8).and_then(|w| hex(w)) else {
                continue;
            };
            let offset = offset as usize;
            match words.as_slice() {
                [_, "ZERO", "terminator"] => frames.push((offset, 4, RecordKind::Terminator, None)),
                [_, len, _, "CIE", ..] => frames.push((
                    offset,
                    hex(len).unwrap() as usize + 4,
                    RecordKind::Cie,
                    None,
                )),
                [_, len, _, "FDE", cie, pc, ..] => {
                    let cie_offset = hex(cie.strip_prefix("cie=").unwrap()).unwrap() as usize;
                    let pc = pc.strip_prefix("pc=").unwrap().split("..").next().unwrap();
                    frames.push((
                        offset,
                        hex(len).unwrap() as usize + 4,
                        RecordKind::Fde { cie_offset },
                        hex(pc),
                    ))
                }
                _ => {}
            }
        }
        frames
    }

    struct Section {
        data: Vec<u8>,
        addr: u64,
    }

    fn section(file: &Path, name: &str) -> Section {
        let bytes = std::fs::read(file).unwrap();
        let obj = object::File::parse(&*bytes).unwrap();
        let s = obj
            .section_by_name(name)
            .unwrap_or_else(|| panic!("{}: no {name}", file.display()));
        Section {
            data: s.data().unwrap().to_vec(),
            addr: s.address(),
        }
    }

    /// Our records, CIE links and decoded initial locations agree with readelf's, and the
    /// header we build is byte-identical to the one ld.bfd wrote.
    fn check_linked(readelf: &str, lib: &Path, address_size: u8) -> usize {
        let eh = section(lib, ".eh_frame");
        let hdr = section(lib, ".eh_frame_hdr");
        let expected = readelf_frames(readelf, lib);
        let records = split_records(&eh.data).unwrap();
        let ours: Vec<_> = records.iter().map(|r| (r.offset, r.size, r.kind)).collect();
        let theirs: Vec<_> = expected.iter().map(|&(o, s, k, _)| (o, s, k)).collect();
        assert_eq!(ours, theirs, "{}", lib.display());
        let locations = fde_locations(&eh.data, eh.addr, hdr.addr, address_size).unwrap();
        let theirs: Vec<_> = expected
            .iter()
            .filter_map(|&(o, _, _, pc)| pc.map(|pc| (o, pc)))
            .collect();
        let ours: Vec<_> = locations
            .iter()
            .map(|l| (l.fde_offset, l.initial_location))
            .collect();
        assert_eq!(ours, theirs, "{}", lib.display());
        assert_eq!(
            build_eh_frame_hdr(&eh.data, eh.addr, hdr.addr, address_size).unwrap(),
            hdr.data,
            "{}",
            lib.display()
        );
        // parse_fde agrees with the header walk, and every LSDA points into
        // .gcc_except_table.
        let bytes = std::fs::read(lib).unwrap();
        let obj = object::File::parse(&*bytes).unwrap();
        let except = obj
            .section_by_name(".gcc_except_table")
            .map(|s| s.address()..s.address() + s.size());
        let mut lsdas = 0;
        for r in &records {
            let RecordKind::Fde { cie_offset } = r.kind else {
                continue;
            };
            let cie_record = records.iter().find(|c| c.offset == cie_offset).unwrap();
            let cie = parse_cie(&eh.data, cie_record, address_size).unwrap();
            let fde = parse_fde(&eh.data, r, &cie, address_size).unwrap();
            let start = pointer_target(&fde.pc_begin, eh.addr, address_size).unwrap();
            assert!(locations
                .iter()
                .any(|l| l.fde_offset == r.offset && l.initial_location == start));
            if let Some(lsda) = fde.lsda {
                let target = pointer_target(&lsda, eh.addr, address_size).unwrap();
                assert!(
                    except.as_ref().is_some_and(|e| e.contains(&target)),
                    "LSDA {target:#x}"
                );
                lsdas += 1;
            }
        }
        if except.is_some() {
            assert!(lsdas > 0, "{}: no LSDA decoded", lib.display());
        }
        locations.len()
    }

    const C_SOURCE: &str = r#"
        #include <stdio.h>
        static int helper(int x) { return x * 3 + 1; }
        int first(int x) { return helper(x) + printf("%d\n", x); }
        int second(int a, int b) { int v[64]; for (int i = 0; i < 64; i++) v[i] = a + i; return v[b & 63]; }
        void third(void) { puts("third"); }
    "#;

    const CXX_SOURCE: &str = r#"
        #include <stdexcept>
        int thrower(int x) { if (x) throw std::runtime_error("x"); return 1; }
        int catcher(int x) { try { return thrower(x); } catch (const std::exception &) { return 2; } }
        struct S { S(); ~S(); };
        S::S() {}
        S::~S() {}
        S global_s;
    "#;

    #[test]
    fn x86_64_headers_identical_to_ld_bfd() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("c.c"), C_SOURCE).unwrap();
        std::fs::write(d.join("x.cc"), CXX_SOURCE).unwrap();
        let mut fdes = 0;
        for (driver, src, extra) in [
            ("gcc", "c.c", "-O2"),
            ("gcc", "c.c", "-O0"),
            ("clang", "c.c", "-O2"),
            ("g++", "x.cc", "-O2"),
            ("clang++", "x.cc", "-O1"),
        ] {
            let lib = d.join(format!("lib-{driver}{extra}.so"));
            run(
                Command::new(driver)
                    .args([
                        "-fuse-ld=bfd",
                        "-shared",
                        "-fPIC",
                        extra,
                        "-Wl,--eh-frame-hdr",
                    ])
                    .arg(d.join(src))
                    .arg("-o")
                    .arg(&lib),
                driver,
                "gcc / g++ / clang",
            );
            fdes += check_linked("readelf", &lib, 8);
        }
        assert!(fdes >= 15, "only {fdes} FDEs seen");
    }

    #[test]
    fn arm32_header_identical_to_ld_bfd() {
        // ARM code unwinds through .ARM.exidx by default; .cfi_sections asks for .eh_frame.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut asm = String::from(".syntax unified\n.cfi_sections .eh_frame\n.text\n");
        for i in 0..5 {
            asm += &format!(
                ".globl f{i}\n.type f{i},%function\nf{i}:\n.cfi_startproc\npush {{r4, lr}}\n\
                 .cfi_def_cfa_offset 8\n.cfi_offset 4, -8\n.cfi_offset 14, -4\nmov r4, #{i}\n\
                 pop {{r4, pc}}\n.cfi_endproc\n"
            );
        }
        std::fs::write(d.join("a.s"), asm).unwrap();
        run(
            Command::new("arm-linux-gnueabihf-gcc")
                .arg("-c")
                .arg(d.join("a.s"))
                .arg("-o")
                .arg(d.join("a.o")),
            "arm-linux-gnueabihf-gcc",
            "gcc-arm-linux-gnueabihf",
        );
        let lib = d.join("liba.so");
        run(
            Command::new("arm-linux-gnueabihf-ld.bfd")
                .args(["-shared", "--eh-frame-hdr"])
                .arg(d.join("a.o"))
                .arg("-o")
                .arg(&lib),
            "arm-linux-gnueabihf-ld.bfd",
            "binutils-arm-linux-gnueabihf",
        );
        assert_eq!(check_linked("arm-linux-gnueabihf-readelf", &lib, 4), 5);
    }

    #[test]
    fn input_object_records_and_zplr_augmentation() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("x.cc"), CXX_SOURCE).unwrap();
        let obj = d.join("x.o");
        run(
            Command::new("g++")
                .args(["-fPIC", "-O2", "-c"])
                .arg(d.join("x.cc"))
                .arg("-o")
                .arg(&obj),
            "g++",
            "g++",
        );
        let eh = section(&obj, ".eh_frame");
        let records = split_records(&eh.data).unwrap();
        let theirs: Vec<_> = readelf_frames("readelf", &obj)
            .iter()
            .map(|&(o, s, k, _)| (o, s, k))
            .collect();
        let ours: Vec<_> = records.iter().map(|r| (r.offset, r.size, r.kind)).collect();
        assert_eq!(ours, theirs);
        let cies: Vec<Cie> = records
            .iter()
            .filter(|r| r.kind == RecordKind::Cie)
            .map(|r| parse_cie(&eh.data, r, 8).unwrap())
            .collect();
        let (zplr_record, zplr) = records
            .iter()
            .filter(|r| r.kind == RecordKind::Cie)
            .zip(&cies)
            .find(|(_, c)| c.augmentation == "zPLR")
            .expect("a zPLR CIE");
        assert_eq!(zplr.version, 1);
        assert_eq!((zplr.code_alignment, zplr.data_alignment), (1, -8));
        assert_eq!(zplr.return_address_register, 16);
        assert_eq!(zplr.fde_encoding, pe::PCREL | pe::SDATA4);
        assert_eq!(zplr.lsda_encoding, Some(pe::PCREL | pe::SDATA4));
        let personality = zplr.personality.unwrap();
        // Personality via a DW.ref indirection: indirect|pcrel|sdata4, relocated later (so 0).
        assert_eq!(personality.encoding, pe::INDIRECT | pe::PCREL | pe::SDATA4);
        assert_eq!(personality.raw, 0);
        // Augmentation "zPLR" begins at offset 9 of the CIE; the 'P' encoding byte follows
        // the code/data alignment, RA register and augmentation length: 9+5+1+1+1+1+1.
        assert_eq!(personality.offset - zplr_record.offset, 19);
        let zr = cies
            .iter()
            .find(|c| c.augmentation == "zR")
            .expect("a zR CIE");
        assert_eq!(zr.personality, None);
        assert_eq!(zr.lsda_encoding, None);
    }

    fn cie_bytes(aug: &[u8], aug_data: &[u8]) -> Vec<u8> {
        let mut body = vec![0, 0, 0, 0, 1];
        body.extend_from_slice(aug);
        body.push(0);
        body.extend_from_slice(&[1, 0x78, 16]);
        if !aug_data.is_empty() {
            body.push(aug_data.len() as u8);
            body.extend_from_slice(aug_data);
        }
        while (body.len() + 4) % 8 != 0 {
            body.push(0);
        }
        let mut rec = (body.len() as u32).to_le_bytes().to_vec();
        rec.extend(body);
        rec
    }

    #[test]
    fn long_length_escape_terminator_and_encodings() {
        // CIE "zR" with udata8|absptr-width FDEs, then a 64-bit-length FDE, a terminator,
        // and an sdata4|datarel CIE/FDE pair after it.
        let mut data = cie_bytes(b"zR", &[pe::UDATA8]);
        let fde_at = data.len();
        let mut fde = vec![0xff, 0xff, 0xff, 0xff];
        let body_len: u64 = 4 + 8 + 8;
        fde.extend_from_slice(&body_len.to_le_bytes());
        fde.extend_from_slice(&((fde_at + 12) as u32).to_le_bytes());
        fde.extend_from_slice(&0x1234_5678u64.to_le_bytes());
        fde.extend_from_slice(&0x10u64.to_le_bytes());
        data.extend(fde);
        let term_at = data.len();
        data.extend_from_slice(&[0, 0, 0, 0]);
        let cie2_at = data.len();
        data.extend(cie_bytes(b"zR", &[pe::DATAREL | pe::SDATA4]));
        let fde2_at = data.len();
        data.extend_from_slice(&12u32.to_le_bytes());
        data.extend_from_slice(&((fde2_at + 4 - cie2_at) as u32).to_le_bytes());
        data.extend_from_slice(&(-0x100i32).to_le_bytes());
        data.extend_from_slice(&4u32.to_le_bytes());

        let records = split_records(&data).unwrap();
        assert_eq!(
            records,
            vec![
                Record {
                    offset: 0,
                    size: fde_at,
                    kind: RecordKind::Cie
                },
                Record {
                    offset: fde_at,
                    size: 12 + 20,
                    kind: RecordKind::Fde { cie_offset: 0 }
                },
                Record {
                    offset: term_at,
                    size: 4,
                    kind: RecordKind::Terminator
                },
                Record {
                    offset: cie2_at,
                    size: fde2_at - cie2_at,
                    kind: RecordKind::Cie
                },
                Record {
                    offset: fde2_at,
                    size: 16,
                    kind: RecordKind::Fde {
                        cie_offset: cie2_at
                    }
                },
            ]
        );
        let locations = fde_locations(&data, 0x40_0000, 0x30_0000, 8).unwrap();
        assert_eq!(
            locations
                .iter()
                .map(|l| l.initial_location)
                .collect::<Vec<_>>(),
            vec![0x1234_5678, 0x30_0000 - 0x100]
        );
        let hdr = build_eh_frame_hdr(&data, 0x40_0000, 0x30_0000, 8).unwrap();
        let mut expected = vec![1, 0x1b, 0x03, 0x3b];
        expected.extend_from_slice(&(0x10_0000i32 - 4).to_le_bytes());
        expected.extend_from_slice(&2u32.to_le_bytes());
        for (loc, fde) in [(-0x100i32, fde2_at), (0x1234_5678 - 0x30_0000, fde_at)] {
            expected.extend_from_slice(&loc.to_le_bytes());
            expected.extend_from_slice(&((0x10_0000 + fde) as i32).to_le_bytes());
        }
        assert_eq!(hdr, expected);

        // The same section 4 GiB away from its header cannot be described.
        let err = build_eh_frame_hdr(&data, 0x1_0040_0000, 0x30_0000, 8).unwrap_err();
        assert_eq!(
            err.to_string(),
            ".eh_frame_hdr: .eh_frame at 0x100400000 is too far from the header at 0x300000 for a 32-bit offset"
        );
        // An FDE whose code lies more than 2 GiB from the header.
        let mut far = cie_bytes(b"zR", &[pe::UDATA8]);
        let at = far.len() as u32;
        far.extend_from_slice(&20u32.to_le_bytes());
        far.extend_from_slice(&(at + 4).to_le_bytes());
        far.extend_from_slice(&0x9000_0000u64.to_le_bytes());
        far.extend_from_slice(&4u64.to_le_bytes());
        assert_eq!(
            build_eh_frame_hdr(&far, 0x1000, 0x800, 8).unwrap_err().to_string(),
            ".eh_frame_hdr: initial location 0x8ffff800 does not fit in 32 bits (FDE at .eh_frame+0x18)"
        );
    }

    /// Corrupted and truncated copies of a valid section give errors or results, never a
    /// panic (deterministic xorshift, so a failure reproduces).
    #[test]
    fn corrupted_sections_never_panic() {
        let mut data = cie_bytes(b"zPLR", &[0x9b, 0, 0, 0, 0, 0x1b, 0x1b]);
        for i in 0..4u32 {
            let at = data.len() as u32;
            data.extend_from_slice(&20u32.to_le_bytes());
            data.extend_from_slice(&(at + 4).to_le_bytes());
            data.extend_from_slice(&(0x100 * i).to_le_bytes());
            data.extend_from_slice(&0x10u32.to_le_bytes());
            data.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0, 0]);
        }
        data.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(fde_locations(&data, 0x2000, 0x1000, 8).unwrap().len(), 4);
        let mut next = crate::test_support::xorshift();
        for _ in 0..20_000 {
            let mut d = data.clone();
            for _ in 0..1 + next() % 3 {
                let at = next() as usize % d.len();
                d[at] = next() as u8;
            }
            if next() % 4 == 0 {
                d.truncate(next() as usize % d.len());
            }
            if let Ok(records) = split_records(&d) {
                let cie = records
                    .iter()
                    .find(|r| r.kind == RecordKind::Cie)
                    .and_then(|r| parse_cie(&d, r, 4).ok());
                for r in records.iter().filter(|r| r.kind != RecordKind::Cie) {
                    if let Some(cie) = &cie {
                        let _ = parse_fde(&d, r, cie, 8);
                    }
                }
            }
            let _ = build_eh_frame_hdr(&d, next(), next(), 8);
            let _ = build_eh_frame_hdr(&d, 0x2000, 0x1000, 4);
        }
    }

    #[test]
    fn malformed_sections_are_errors() {
        let cie = cie_bytes(b"zR", &[0x1b]);
        assert_eq!(
            split_records(&cie[..cie.len() - 1])
                .unwrap_err()
                .to_string(),
            ".eh_frame+0x0: record of 0x18 bytes runs past the end of the section (0x17 bytes)"
        );
        assert_eq!(
            split_records(&[1, 0]).unwrap_err().to_string(),
            ".eh_frame+0x0: truncated record length"
        );
        let mut bad = cie.clone();
        bad.extend_from_slice(&12u32.to_le_bytes());
        bad.extend_from_slice(&8u32.to_le_bytes()); // points into the middle of the CIE
        bad.extend_from_slice(&[0; 8]);
        assert_eq!(
            split_records(&bad).unwrap_err().to_string(),
            ".eh_frame+0x18: FDE's CIE pointer 0x8 does not point at a CIE"
        );
        let mut textrel = cie_bytes(b"zR", &[pe::TEXTREL | pe::SDATA4]);
        let at = textrel.len() as u32;
        textrel.extend_from_slice(&12u32.to_le_bytes());
        textrel.extend_from_slice(&(at + 4).to_le_bytes());
        textrel.extend_from_slice(&[0; 8]);
        assert_eq!(
            build_eh_frame_hdr(&textrel, 0, 0, 8)
                .unwrap_err()
                .to_string(),
            ".eh_frame+0x20: unsupported pointer encoding 0x2b"
        );
        let mut v9 = cie_bytes(b"zR", &[0x1b]);
        v9[8] = 9;
        let rec = split_records(&v9).unwrap();
        assert_eq!(
            parse_cie(&v9, &rec[0], 8).unwrap_err().to_string(),
            ".eh_frame+0x0: unsupported CIE version 9"
        );
        assert_eq!(
            build_eh_frame_hdr(&cie, 0, 0, 2).unwrap_err().to_string(),
            ".eh_frame_hdr: address size must be 4 or 8, not 2"
        );
    }
}
