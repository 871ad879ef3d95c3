//! Reading `.eh_frame` records: [`split_records`] cuts a section into CIEs, FDEs and
//! terminators; [`parse_cie`] decodes a CIE's augmentation (`zR`, `zPLR`, `zPLRS`, ...): the
//! FDE pointer encoding, the LSDA encoding and the personality pointer; [`parse_fde`]
//! locates an FDE's `pc_begin`, range and LSDA pointer; [`pointer_target`] resolves
//! `absptr`/`pcrel` pointers at an output address.
//!
//! Formats: LSB 5.0 "Exception Frames"; DWARF 4 §6.4.1 for the CIE fields. A 0xffffffff
//! length introduces a 64-bit length; the CIE pointer stays 4 bytes, as in LLVM's libunwind
//! and lld.

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

pub(super) type Result<T> = std::result::Result<T, EhFrameError>;

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
    pub fn id_offset(&self, data: &[u8]) -> usize {
        if read_u32(data, self.offset).ok() == Some(0xffff_ffff) {
            self.offset + 12
        } else {
            self.offset + 4
        }
    }
}

pub(super) fn read_bytes<const N: usize>(
    data: &[u8],
    offset: usize,
    what: &'static str,
) -> Result<[u8; N]> {
    offset
        .checked_add(N)
        .and_then(|end| data.get(offset..end))
        .and_then(|s| s.try_into().ok())
        .ok_or(EhFrameError::Truncated { offset, what })
}

pub(super) fn read_u32(data: &[u8], offset: usize) -> Result<u32> {
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

/// The ULEB128 number at `*pos`, which moves past it.
pub fn read_uleb(data: &[u8], pos: &mut usize) -> Result<u64> {
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
