//! `.eh_frame_hdr` for the output: its size before layout (one table row per live FDE of the
//! input `.eh_frame` sections) and its contents from the final `.eh_frame` bytes, both on top
//! of [`crate::eh_frame`]'s record splitter and table builder.

use crate::eh_frame::{build_eh_frame_hdr, split_records, RecordKind};
use crate::error::{LinkError, Result};
use crate::link::Link;

/// Number of live FDEs in the input `.eh_frame` sections, or `None` when there are none.
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
            let records =
                split_records(sec.data).map_err(|e| LinkError::malformed(&obj.name, e))?;
            let fdes = records
                .iter()
                .filter(|r| matches!(r.kind, RecordKind::Fde { .. }))
                .count() as u64;
            count += fdes - link.dead_fdes(f, s).len() as u64;
        }
    }
    Ok(any.then_some(count))
}

/// Builds `.eh_frame_hdr` (at `hdr_addr`, exactly `size` bytes) from the final `.eh_frame`.
pub fn build(
    eh_frame: &[u8],
    eh_addr: u64,
    hdr_addr: u64,
    size: usize,
    address_size: u8,
) -> std::result::Result<Vec<u8>, String> {
    let mut out =
        build_eh_frame_hdr(eh_frame, eh_addr, hdr_addr, address_size).map_err(|e| e.to_string())?;
    if out.len() != size {
        return Err(format!(
            "internal error: .eh_frame_hdr planned for {size} bytes, built {}",
            out.len()
        ));
    }
    out.truncate(size);
    Ok(out)
}
