//! `--compress-debug-sections=zlib|zstd`: the written image's debugging sections become
//! SHF_COMPRESSED (an ELF compression header, then the zlib or zstd stream), as GNU ld writes
//! them:
//! only where that makes the section smaller. The non-loaded sections from the first
//! compressed one on are then packed again and the section headers moved after them; loaded
//! sections never move (they come first in tether's output).

use crate::error::{LinkError, Result};
use flate2::write::ZlibEncoder;
use std::io::Write as _;

/// The `--compress-debug-sections` choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    None,
    Zlib,
    Zstd,
}

impl Compression {
    /// GNU ld's spellings; `zlib-gnu` (the old `.zdebug` form) is refused.
    pub fn parse(text: &str) -> std::result::Result<Compression, String> {
        match text {
            "none" => Ok(Compression::None),
            "zlib" | "zlib-gabi" => Ok(Compression::Zlib),
            "zstd" => Ok(Compression::Zstd),
            "zlib-gnu" => Err(format!(
                "--compress-debug-sections={text} is not supported (use zlib)"
            )),
            other => Err(format!(
                "invalid --compress-debug-sections option: `{other}'"
            )),
        }
    }
}

const SHF_ALLOC: u64 = 0x2;
const SHF_COMPRESSED: u64 = 0x800;
const SHT_NOBITS: u32 = 8;
const ELFCOMPRESS_ZLIB: u32 = 1;
const ELFCOMPRESS_ZSTD: u32 = 2;

/// A section header's fields that packing reads or changes.
struct Shdr {
    name: u32,
    sh_type: u32,
    flags: u64,
    offset: u64,
    size: u64,
    align: u64,
}

/// Little-endian field access for the ELF class of the image (both targets are LE).
struct Class {
    is64: bool,
}

impl Class {
    fn get(&self, b: &[u8], at: usize, wide: bool) -> u64 {
        if wide && self.is64 {
            u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
        } else {
            u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()))
        }
    }
    fn put(&self, b: &mut [u8], at: usize, wide: bool, v: u64) {
        if wide && self.is64 {
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        } else {
            b[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
        }
    }
    /// Offsets of sh_name, sh_type, sh_flags, sh_offset, sh_size, sh_addralign.
    fn fields(&self) -> [usize; 6] {
        if self.is64 {
            [0, 4, 8, 24, 32, 48]
        } else {
            [0, 4, 8, 16, 20, 32]
        }
    }
    fn read(&self, b: &[u8], at: usize) -> Shdr {
        let f = self.fields();
        Shdr {
            name: self.get(b, at + f[0], false) as u32,
            sh_type: self.get(b, at + f[1], false) as u32,
            flags: self.get(b, at + f[2], true),
            offset: self.get(b, at + f[3], true),
            size: self.get(b, at + f[4], true),
            align: self.get(b, at + f[5], true),
        }
    }
    fn write(&self, b: &mut [u8], at: usize, s: &Shdr) {
        let f = self.fields();
        self.put(b, at + f[2], true, s.flags);
        self.put(b, at + f[3], true, s.offset);
        self.put(b, at + f[4], true, s.size);
        self.put(b, at + f[5], true, s.align);
    }
    /// The compression header (Elf64_Chdr or Elf32_Chdr) for `size` bytes aligned `align`.
    fn chdr(&self, ch_type: u32, size: u64, align: u64) -> Vec<u8> {
        let mut h = ch_type.to_le_bytes().to_vec();
        if self.is64 {
            h.extend(0u32.to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend(align.to_le_bytes());
        } else {
            h.extend((size as u32).to_le_bytes());
            h.extend((align as u32).to_le_bytes());
        }
        h
    }
}

fn zlib(data: &[u8]) -> Result<Vec<u8>> {
    let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data)
        .and_then(|()| e.finish())
        .map_err(|err| LinkError::Other(format!("compressing debug sections: {err}")))
}

/// Compresses the image's `.debug_*` sections if `how` asks for it (zstd through the
/// pure-Rust `ruzstd` encoder).
pub fn apply(image: Vec<u8>, how: Compression) -> Result<Vec<u8>> {
    if how == Compression::None || image.len() < 64 {
        return Ok(image);
    }
    let class = Class {
        is64: image[4] == 2,
    };
    let (shoff, shentsize, shnum, shstrndx) = if class.is64 {
        (class.get(&image, 0x28, true), 0x3a, 0x3c, 0x3e)
    } else {
        (class.get(&image, 0x20, true), 0x2e, 0x30, 0x32)
    };
    let entsize = class.get(&image, shentsize, false) as usize & 0xffff;
    let count = class.get(&image, shnum, false) as usize & 0xffff;
    let strndx = class.get(&image, shstrndx, false) as usize & 0xffff;
    let at = |i: usize| shoff as usize + i * entsize;
    let shdrs: Vec<Shdr> = (0..count).map(|i| class.read(&image, at(i))).collect();
    let names = &shdrs[strndx];
    let name_of = |s: &Shdr| {
        let start = (names.offset + u64::from(s.name)) as usize;
        let end = image[start..]
            .iter()
            .position(|&b| b == 0)
            .map_or(start, |n| start + n);
        &image[start..end]
    };
    let mut contents: Vec<Option<Vec<u8>>> = vec![None; count];
    for (i, s) in shdrs.iter().enumerate() {
        let debug = name_of(s).starts_with(b".debug");
        if !debug || s.flags & (SHF_ALLOC | SHF_COMPRESSED) != 0 || s.sh_type == SHT_NOBITS {
            continue;
        }
        let data = &image[s.offset as usize..(s.offset + s.size) as usize];
        let packed = match how {
            Compression::Zstd => {
                let mut p = class.chdr(ELFCOMPRESS_ZSTD, s.size, s.align);
                p.extend(ruzstd::encoding::compress_to_vec(
                    data,
                    ruzstd::encoding::CompressionLevel::Fastest,
                ));
                p
            }
            _ => {
                let mut p = class.chdr(ELFCOMPRESS_ZLIB, s.size, s.align);
                p.extend(zlib(data)?);
                p
            }
        };
        if packed.len() < data.len() {
            contents[i] = Some(packed);
        }
    }
    let Some(first) = (0..count)
        .filter(|&i| contents[i].is_some())
        .map(|i| shdrs[i].offset)
        .min()
    else {
        return Ok(image);
    };
    repack(image, &class, shdrs, contents, first, (at(0), entsize))
}

/// Lays the sections at or after file offset `first` out again, then the section headers.
fn repack(
    image: Vec<u8>,
    class: &Class,
    mut shdrs: Vec<Shdr>,
    contents: Vec<Option<Vec<u8>>>,
    first: u64,
    (table, entsize): (usize, usize),
) -> Result<Vec<u8>> {
    let after = |s: &Shdr| s.offset >= first;
    let occupies = |s: &Shdr| s.sh_type != SHT_NOBITS && s.size > 0;
    let loaded = |s: &Shdr| s.flags & SHF_ALLOC != 0;
    if shdrs.iter().any(|s| after(s) && loaded(s) && occupies(s)) {
        return Err(LinkError::Other(
            "cannot compress debug sections placed before loaded sections".into(),
        ));
    }
    // Empty loaded sections at the end of the data segment keep their offset.
    let mut moved: Vec<usize> = (1..shdrs.len())
        .filter(|&i| after(&shdrs[i]) && !loaded(&shdrs[i]))
        .collect();
    moved.sort_by_key(|&i| shdrs[i].offset);
    let word = if class.is64 { 8 } else { 4 };
    let mut out = image[..first as usize].to_vec();
    for &i in &moved {
        let (start, size) = (shdrs[i].offset as usize, shdrs[i].size as usize);
        let s = &mut shdrs[i];
        let (bytes, align): (&[u8], u64) = match &contents[i] {
            Some(packed) => (packed, word),
            None if s.sh_type == SHT_NOBITS => (&[], s.align.max(1)),
            None => (&image[start..start + size], s.align.max(1)),
        };
        out.resize(out.len().next_multiple_of(align as usize), 0);
        s.offset = out.len() as u64;
        if contents[i].is_some() {
            s.flags |= SHF_COMPRESSED;
            s.size = bytes.len() as u64;
            s.align = align;
        }
        out.extend_from_slice(bytes);
    }
    out.resize(out.len().next_multiple_of(word as usize), 0);
    let shoff = out.len();
    out.extend_from_slice(&image[table..table + shdrs.len() * entsize]);
    for (i, s) in shdrs.iter().enumerate() {
        class.write(&mut out, shoff + i * entsize, s);
    }
    class.put(
        &mut out,
        if class.is64 { 0x28 } else { 0x20 },
        true,
        shoff as u64,
    );
    Ok(out)
}
