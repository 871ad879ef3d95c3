//! `.eh_frame_hdr`: its size before layout (one table row per FDE the rewrite keeps) and its
//! contents, read from the final, relocated `.eh_frame` at its output address, as ld.bfd
//! writes them for `--eh-frame-hdr`. Format: LSB 5.0 "EH Frame Header".

use super::parse::parse_cie;
use super::parse::{pe, read_encoded, split_records, EhFrameError, Record, RecordKind, Result};
use crate::error::{LinkError, Result as LinkResult};
use crate::link::Link;

/// Number of FDEs the output `.eh_frame` keeps, or `None` when no input has `.eh_frame`.
/// An input that could not be read cannot be described.
pub fn count_fdes(link: &Link) -> LinkResult<Option<u64>> {
    match &link.eh_frames.malformed {
        Some((file, what)) => Err(LinkError::malformed(&link.objects[*file].name, what)),
        None => Ok(link.eh_frames.fde_count()),
    }
}

/// Builds `.eh_frame_hdr` (at `hdr_addr`, exactly `size` bytes) from the final `.eh_frame`.
pub fn build(
    eh_frame: &[u8],
    eh_addr: u64,
    hdr_addr: u64,
    size: usize,
    address_size: u8,
) -> std::result::Result<Vec<u8>, String> {
    let out =
        build_eh_frame_hdr(eh_frame, eh_addr, hdr_addr, address_size).map_err(|e| e.to_string())?;
    if out.len() != size {
        return Err(format!(
            "internal error: .eh_frame_hdr planned for {size} bytes, built {}",
            out.len()
        ));
    }
    Ok(out)
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
