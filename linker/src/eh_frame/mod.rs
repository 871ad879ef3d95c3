//! `.eh_frame`: reading its records ([`parse`]), rewriting the output's as GNU ld does —
//! FDEs of discarded code and unused CIEs dropped, identical CIEs merged, one terminator
//! ([`rewrite`]) — and the `.eh_frame_hdr` binary-search table over the result ([`hdr`]).
//!
//! [`RecordKind::Terminator`] marks a zero-length record (crtend.o's `__FRAME_END__`).
//! `build_eh_frame_hdr` takes `address_size` (4 for ELF32, 8 for ELF64) because an `absptr`
//! FDE encoding is as wide as an address.

pub mod hdr;
pub mod parse;
pub mod rewrite;

pub use hdr::{build_eh_frame_hdr, fde_locations, FdeLocation};
pub use parse::{
    parse_cie, parse_fde, pe, pointer_target, read_encoded, read_uleb, split_records, Cie,
    EhFrameError, EncodedPointer, Fde, Record, RecordKind,
};
pub use rewrite::EhFrames;

#[cfg(test)]
mod tests;
