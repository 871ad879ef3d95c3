//! `--build-id`: the identifier and its `.note.gnu.build-id` section.
//!
//! Styles as ld.bfd 2.40 spells them: bare `--build-id` and `=sha1` (SHA-1, 20 bytes),
//! `=md5` (16 bytes), `=uuid` (16 bytes), `=0xHEX` (the bytes given; `-` and `:` may
//! separate digit pairs), `=none`. Where ld.bfd warns and ignores an unknown style or
//! malformed hex, [`parse_style`] returns an error.
//!
//! `uuid` differs on purpose: ld.bfd reads random bytes, which would break "same inputs,
//! same bytes". We derive the 16 bytes from the content instead: an RFC 4122 name-based
//! UUID (version 3: MD5 of the content with the version and variant bits set).
//!
//! What to hash: [`build_id`] digests the concatenation of `chunks`. ld.bfd hashes, in
//! order, the ELF header with `e_phoff` and `e_shoff` zeroed, every program header, then
//! for every section header (the null one included) the header with `sh_offset` zeroed
//! followed by the section's file contents, except for NOBITS, `.symtab`, `.strtab` and
//! `.shstrtab` (header only), and with the whole build-id note still zero (ld.bfd hashes
//! before writing the note, header included). [`elf_checksum_chunks`] lists exactly those
//! chunks for a finished image; the tests reproduce ld.bfd's ids with it.
//!
//! SHA-1 and MD5 come from RustCrypto's `sha1` and `md-5`, which use the CPU's SHA
//! instructions where it has them: hashing a large output is on the link's critical path.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildIdStyle {
    None,
    Sha1,
    Md5,
    Uuid,
    Hex(Vec<u8>),
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BuildIdError {
    #[error("--build-id={0}: unknown style (expected sha1, md5, uuid, 0xHEX or none)")]
    UnknownStyle(String),
    #[error("--build-id={value}: invalid hexadecimal at `{rest}` (need pairs of hex digits, optionally separated by `-` or `:`)")]
    BadHex { value: String, rest: String },
}

/// Parses the value of `--build-id=STYLE`; pass `""` for a bare `--build-id`.
pub fn parse_style(s: &str) -> Result<BuildIdStyle, BuildIdError> {
    match s {
        "" | "sha1" => Ok(BuildIdStyle::Sha1),
        "md5" => Ok(BuildIdStyle::Md5),
        "uuid" => Ok(BuildIdStyle::Uuid),
        "none" => Ok(BuildIdStyle::None),
        _ => {
            let digits = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .ok_or_else(|| BuildIdError::UnknownStyle(s.to_string()))?;
            let bad = |rest: &str| BuildIdError::BadHex {
                value: s.to_string(),
                rest: rest.to_string(),
            };
            let mut bytes = Vec::new();
            let mut rest = digits;
            while let Some(c) = rest.chars().next() {
                if c == '-' || c == ':' {
                    rest = &rest[1..];
                    continue;
                }
                let pair = rest.get(..2).ok_or_else(|| bad(rest))?;
                let byte = u8::from_str_radix(pair, 16).map_err(|_| bad(rest))?;
                if pair.starts_with('+') {
                    return Err(bad(rest));
                }
                bytes.push(byte);
                rest = &rest[2..];
            }
            if bytes.is_empty() {
                return Err(bad(digits));
            }
            Ok(BuildIdStyle::Hex(bytes))
        }
    }
}

/// Size of the descriptor a style produces (known before the content is).
pub fn id_len(style: &BuildIdStyle) -> usize {
    match style {
        BuildIdStyle::None => 0,
        BuildIdStyle::Sha1 => 20,
        BuildIdStyle::Md5 | BuildIdStyle::Uuid => 16,
        BuildIdStyle::Hex(bytes) => bytes.len(),
    }
}

/// The identifier for content given as `chunks` (hashed as if concatenated). Empty for
/// [`BuildIdStyle::None`].
pub fn build_id(style: &BuildIdStyle, chunks: &[&[u8]]) -> Vec<u8> {
    match style {
        BuildIdStyle::None => Vec::new(),
        BuildIdStyle::Hex(bytes) => bytes.clone(),
        BuildIdStyle::Sha1 => hash_chunks::<sha1::Sha1>(chunks),
        BuildIdStyle::Md5 => hash_chunks::<md5::Md5>(chunks),
        BuildIdStyle::Uuid => {
            let mut id = hash_chunks::<md5::Md5>(chunks);
            id[6] = (id[6] & 0x0f) | 0x30; // version 3: name-based, MD5
            id[8] = (id[8] & 0x3f) | 0x80; // RFC 4122 variant
            id
        }
    }
}

/// NT_GNU_BUILD_ID.
pub const NT_GNU_BUILD_ID: u32 = 3;

/// The `.note.gnu.build-id` section contents (little-endian, 4-byte aligned).
pub fn note_section(id: &[u8]) -> Vec<u8> {
    let mut note = Vec::with_capacity(16 + id.len().next_multiple_of(4));
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(&(id.len() as u32).to_le_bytes());
    note.extend_from_slice(&NT_GNU_BUILD_ID.to_le_bytes());
    note.extend_from_slice(b"GNU\0");
    note.extend_from_slice(id);
    note.resize(16 + id.len().next_multiple_of(4), 0);
    note
}

/// Offset of the descriptor inside [`note_section`]'s bytes.
pub const NOTE_DESC_OFFSET: usize = 16;

/// The chunks ld.bfd hashes for a finished little-endian ELF `image` (see the module
/// comment), to be passed to [`build_id`]. The build-id note's bytes in `image` must all
/// be zero (header and descriptor) to get ld.bfd's value. `None` when the headers are out
/// of bounds.
pub fn elf_checksum_chunks(image: &[u8]) -> Option<Vec<std::borrow::Cow<'_, [u8]>>> {
    use std::borrow::Cow;
    let is64 = *image.get(4)? == 2;
    let u16_at = |o: usize| Some(u16::from_le_bytes(image.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(image.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(image.get(o..o + 8)?.try_into().ok()?));
    let word_at = |o: usize| {
        if is64 {
            u64_at(o)
        } else {
            u32_at(o).map(u64::from)
        }
    };
    let (ehsize, phoff_at, shoff_at, phent_at) = if is64 {
        (64, 0x20, 0x28, 0x36)
    } else {
        (52, 0x1c, 0x20, 0x2a)
    };
    let word = if is64 { 8 } else { 4 };
    let phoff = word_at(phoff_at)? as usize;
    let shoff = word_at(shoff_at)? as usize;
    let phentsize = usize::from(u16_at(phent_at)?);
    let phnum = usize::from(u16_at(phent_at + 2)?);
    let shentsize = usize::from(u16_at(phent_at + 4)?);
    let shnum = usize::from(u16_at(phent_at + 6)?);
    let (want_phent, want_shent) = if is64 { (56, 64) } else { (32, 40) };
    if (phnum > 0 && phentsize != want_phent) || (shnum > 0 && shentsize != want_shent) {
        return None;
    }

    let mut chunks = Vec::new();
    let mut ehdr = image.get(..ehsize)?.to_vec();
    ehdr[phoff_at..phoff_at + word].fill(0);
    ehdr[shoff_at..shoff_at + word].fill(0);
    chunks.push(Cow::Owned(ehdr));
    for i in 0..phnum {
        let at = phoff.checked_add(i.checked_mul(phentsize)?)?;
        chunks.push(Cow::Borrowed(image.get(at..at.checked_add(phentsize)?)?));
    }
    let (offset_at, size_at) = if is64 { (0x18, 0x20) } else { (0x10, 0x14) };
    for i in 0..shnum {
        let at = shoff.checked_add(i * shentsize)?;
        let mut shdr = image.get(at..at.checked_add(shentsize)?)?.to_vec();
        let sh_type = u32_at(at + 4)?;
        let offset = word_at(at + offset_at)? as usize;
        let size = word_at(at + size_at)? as usize;
        shdr[offset_at..offset_at + word].fill(0);
        chunks.push(Cow::Owned(shdr));
        const SHT_NOBITS: u32 = 8;
        const SHT_SYMTAB: u32 = 2;
        const SHT_STRTAB: u32 = 3;
        const SHT_SYMTAB_SHNDX: u32 = 18;
        const SHF_ALLOC: u64 = 2;
        let flags = word_at(at + 8)?;
        // ld.bfd hashes the contents of sections it has a BFD section for; .symtab,
        // .strtab and .shstrtab (and .symtab_shndx) are pure ELF bookkeeping, so only their
        // headers count.
        let bookkeeping = matches!(sh_type, SHT_SYMTAB | SHT_SYMTAB_SHNDX)
            || (sh_type == SHT_STRTAB && flags & SHF_ALLOC == 0);
        if sh_type != SHT_NOBITS && size > 0 && !bookkeeping {
            chunks.push(Cow::Borrowed(image.get(offset..offset.checked_add(size)?)?));
        }
    }
    Some(chunks)
}

fn hash_chunks<D: sha1::Digest>(chunks: &[&[u8]]) -> Vec<u8> {
    let mut d = D::new();
    for c in chunks {
        d.update(c);
    }
    d.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn digest_test_vectors() {
        let sha1 = |s: &[u8]| hex(&build_id(&BuildIdStyle::Sha1, &[s]));
        let md5 = |s: &[u8]| hex(&build_id(&BuildIdStyle::Md5, &[s]));
        // FIPS 180 / RFC 3174 and RFC 1321 test suites.
        assert_eq!(sha1(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(sha1(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    /// Chunk boundaries do not matter, and long inputs agree with coreutils.
    #[test]
    fn chunked_input_matches_sha1sum_and_md5sum() {
        let data: Vec<u8> = (0..100_003u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, &data).unwrap();
        for (tool, style) in [
            ("sha1sum", BuildIdStyle::Sha1),
            ("md5sum", BuildIdStyle::Md5),
        ] {
            let out = Command::new(tool).arg(&file).output().unwrap_or_else(|e| {
                panic!("{tool} is needed by this test (Debian package coreutils): {e}")
            });
            let expected = String::from_utf8(out.stdout).unwrap();
            let expected = expected.split_whitespace().next().unwrap();
            let whole = build_id(&style, &[&data]);
            assert_eq!(hex(&whole), expected, "{tool}");
            for cut in [1usize, 63, 64, 65, 4096, 99_999] {
                let (a, b) = data.split_at(cut);
                let (b, c) = b.split_at(b.len() / 3);
                assert_eq!(build_id(&style, &[a, b, &[], c]), whole, "{tool} cut {cut}");
            }
        }
    }

    #[test]
    fn styles_parse_like_ld() {
        assert_eq!(parse_style(""), Ok(BuildIdStyle::Sha1));
        assert_eq!(parse_style("sha1"), Ok(BuildIdStyle::Sha1));
        // ld.bfd 2.40 warns "unrecognized --build-id style ignored" for these; we refuse.
        assert!(matches!(
            parse_style("tree"),
            Err(BuildIdError::UnknownStyle(_))
        ));
        assert_eq!(parse_style("md5"), Ok(BuildIdStyle::Md5));
        assert_eq!(parse_style("uuid"), Ok(BuildIdStyle::Uuid));
        assert_eq!(parse_style("none"), Ok(BuildIdStyle::None));
        assert_eq!(
            parse_style("0xdead-BE:ef01"),
            Ok(BuildIdStyle::Hex(vec![0xde, 0xad, 0xbe, 0xef, 0x01]))
        );
        assert_eq!(
            parse_style("sha256").unwrap_err().to_string(),
            "--build-id=sha256: unknown style (expected sha1, md5, uuid, 0xHEX or none)"
        );
        for bad in ["0x", "0xabc", "0xzz", "0x+1"] {
            assert!(
                matches!(parse_style(bad), Err(BuildIdError::BadHex { .. })),
                "{bad}"
            );
        }
        assert_eq!(id_len(&parse_style("").unwrap()), 20);
        assert_eq!(id_len(&parse_style("uuid").unwrap()), 16);
    }

    #[test]
    fn uuid_is_deterministic_rfc4122_v3() {
        let a = build_id(&BuildIdStyle::Uuid, &[b"content"]);
        assert_eq!(a, build_id(&BuildIdStyle::Uuid, &[b"con", b"tent"]));
        assert_ne!(a, build_id(&BuildIdStyle::Uuid, &[b"other"]));
        assert_eq!(a.len(), 16);
        assert_eq!(a[6] >> 4, 3);
        assert_eq!(a[8] >> 6, 0b10);
        assert!(build_id(&BuildIdStyle::None, &[b"x"]).is_empty());
    }

    #[test]
    fn note_layout() {
        assert_eq!(
            note_section(&[1, 2, 3, 4, 5]),
            vec![4, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, b'G', b'N', b'U', 0, 1, 2, 3, 4, 5, 0, 0, 0]
        );
        assert_eq!(note_section(&[0xaa; 20]).len(), 36);
    }

    #[test]
    fn checksum_chunks_reject_malformed_headers() {
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        assert_eq!(elf_checksum_chunks(&elf).map(|c| c.len()), Some(1));
        elf[0x3a..0x3c].copy_from_slice(&19u16.to_le_bytes()); // e_shentsize
        elf[0x3c..0x3e].copy_from_slice(&1u16.to_le_bytes()); // e_shnum
        assert!(elf_checksum_chunks(&elf).is_none());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes()); // e_shoff
        assert!(elf_checksum_chunks(&elf).is_none());
        assert!(elf_checksum_chunks(&elf[..10]).is_none());
    }

    /// ld.bfd's own notes and ids: same note bytes, and the same id from the chunks
    /// [`elf_checksum_chunks`] lists, for sha1 and md5 on x86-64 and ARM.
    #[test]
    fn reproduces_ld_bfd_build_ids() {
        use object::{Object, ObjectSection};
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("t.c");
        std::fs::write(&src, "int counter; int get(void) { return ++counter; }\n").unwrap();
        for (cc, ld, package) in [
            ("gcc", "ld.bfd", "gcc / binutils"),
            (
                "arm-linux-gnueabihf-gcc",
                "arm-linux-gnueabihf-ld.bfd",
                "gcc-arm-linux-gnueabihf / binutils-arm-linux-gnueabihf",
            ),
        ] {
            let obj = dir.path().join(format!("{cc}.o"));
            let out = Command::new(cc)
                .args(["-fPIC", "-O2", "-c"])
                .arg(&src)
                .arg("-o")
                .arg(&obj)
                .output()
                .unwrap_or_else(|e| {
                    panic!("{cc} is needed by this test (Debian package {package}): {e}")
                });
            assert!(out.status.success());
            for (opt, style) in [
                ("--build-id", BuildIdStyle::Sha1),
                ("--build-id=md5", BuildIdStyle::Md5),
            ] {
                let lib = dir.path().join(format!("{cc}-{}.so", id_len(&style)));
                let out = Command::new(ld)
                    .args(["-shared", opt])
                    .arg(&obj)
                    .arg("-o")
                    .arg(&lib)
                    .output()
                    .unwrap_or_else(|e| {
                        panic!("{ld} is needed by this test (Debian package {package}): {e}")
                    });
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let mut image = std::fs::read(&lib).unwrap();
                let file = object::File::parse(&*image).unwrap();
                let note = file.section_by_name(".note.gnu.build-id").unwrap();
                let (note_offset, _) = note.file_range().unwrap();
                let note_bytes = note.data().unwrap().to_vec();
                drop(file);
                let id = note_bytes[NOTE_DESC_OFFSET..].to_vec();
                assert_eq!(id.len(), id_len(&style));
                assert_eq!(note_section(&id), note_bytes, "{ld} {opt}");
                let note_offset = note_offset as usize;
                image[note_offset..note_offset + note_bytes.len()].fill(0);
                let chunks = elf_checksum_chunks(&image).unwrap();
                let chunks: Vec<&[u8]> = chunks.iter().map(|c| c.as_ref()).collect();
                assert_eq!(hex(&build_id(&style, &chunks)), hex(&id), "{ld} {opt}");
            }
        }
    }
}
