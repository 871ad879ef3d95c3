//! Structured mutations of real inputs: ELF header and table fields set to values that break
//! readers (zero, one, huge, past the end, off by one), string tables without their NULs,
//! truncation, archive member headers, and token soup in linker and version scripts.
//!
//! Every mutation is a pure function of the input and a [`Rng`], so a case is reproduced from
//! its seed; each returns what it did, for the failure report.

use super::fields::{self, Field};

/// splitmix64: tiny, seedable, and good enough to choose mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A value for a numeric field: the boundaries readers get wrong, and the original nudged.
fn interesting(rng: &mut Rng, original: u64, file_len: u64) -> u64 {
    const VALUES: &[u64] = &[
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        15,
        16,
        0x7f,
        0x80,
        0xff,
        0x100,
        0xfff,
        0x1000,
        0xffff,
        0x1_0000,
        1 << 20,
        1 << 30,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        1 << 32,
        1 << 38,
        1 << 62,
        1 << 63,
        u64::MAX,
        u64::MAX - 1,
    ];
    match rng.below(6) {
        0 | 1 => *rng.pick(VALUES),
        2 => original.wrapping_add(1 + rng.below(16) as u64),
        3 => original.wrapping_sub(1 + rng.below(16) as u64),
        4 => file_len.wrapping_add(rng.below(64) as u64).wrapping_sub(32),
        _ => rng.next_u64(),
    }
}

/// What a mutation did, e.g. `section 3 sh_size = 0xffffffff (was 0x40)`.
pub type Note = String;

/// One to three mutations of an ELF file.
pub fn elf(rng: &mut Rng, data: &mut Vec<u8>) -> Vec<Note> {
    let count = 1 + rng.below(3);
    (0..count).map(|_| elf_once(rng, data)).collect()
}

fn elf_once(rng: &mut Rng, data: &mut Vec<u8>) -> Note {
    if data.is_empty() {
        return "nothing left to mutate".into();
    }
    let layout = fields::layout(data);
    match rng.below(20) {
        0 => truncate(rng, data),
        1 if !layout.strtabs.is_empty() => {
            let &(offset, size) = rng.pick(&layout.strtabs);
            let end = offset.saturating_add(size).min(data.len());
            let start = offset.min(end);
            for b in &mut data[start..end] {
                if *b == 0 {
                    *b = b'A';
                }
            }
            format!("string table at {offset:#x}: every NUL replaced by 'A'")
        }
        2 => {
            let at = rng.below(data.len());
            let bit = rng.below(8);
            data[at] ^= 1 << bit;
            format!("bit {bit} of byte {at:#x} flipped")
        }
        _ if layout.fields.is_empty() => truncate(rng, data),
        _ => {
            let f: &Field = rng.pick(&layout.fields);
            let old = fields::read(data, f);
            let new = interesting(rng, old, data.len() as u64);
            fields::write(data, f, new);
            let mask = if f.width >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * f.width)) - 1
            };
            format!("{} = {:#x} (was {old:#x})", f.what, new & mask)
        }
    }
}

fn truncate(rng: &mut Rng, data: &mut Vec<u8>) -> Note {
    let len = rng.below(data.len());
    data.truncate(len);
    format!("truncated to {len} bytes")
}

/// An `ar` archive: a member header field, the symbol table, or an ELF member inside.
pub fn archive(rng: &mut Rng, data: &mut Vec<u8>) -> Vec<Note> {
    let members = members(data);
    let note = match rng.below(8) {
        _ if members.is_empty() => truncate(rng, data),
        0 => truncate(rng, data),
        1..=3 => {
            // name[16] date[12] uid[6] gid[6] mode[8] size[10] fmag[2]
            const FIELDS: &[(&str, usize, usize)] = &[
                ("name", 0, 16),
                ("date", 16, 12),
                ("mode", 40, 8),
                ("size", 48, 10),
                ("fmag", 58, 2),
            ];
            let &(header, _) = rng.pick(&members);
            let &(name, at, width) = rng.pick(FIELDS);
            const TEXTS: &[&str] = &[
                "",
                "0",
                "-1",
                "9999999999",
                "4294967296",
                "18446744073709551615",
                "abc",
                "/",
                "//",
                "/0",
                "/99999999",
                "/-1",
                "#1/20",
                "`\n",
                "  12  ",
                "\0\0\0",
            ];
            let text = rng.pick(TEXTS).as_bytes();
            let field = &mut data[header + at..header + at + width];
            field.fill(b' ');
            let n = text.len().min(width);
            field[..n].copy_from_slice(&text[..n]);
            format!(
                "member header at {header:#x}: {name} = {:?}",
                String::from_utf8_lossy(&text[..n])
            )
        }
        4 => {
            // The first member is the symbol table ("/"): its count is a big-endian word.
            let &(header, size) = &members[0];
            let at = header + 60;
            if size >= 4 && at + 4 <= data.len() {
                let v = *rng.pick(&[0u32, 1, 0xffff, 0x7fff_ffff, u32::MAX]);
                data[at..at + 4].copy_from_slice(&v.to_be_bytes());
                format!("symbol table count = {v:#x}")
            } else {
                truncate(rng, data)
            }
        }
        _ => {
            let elves: Vec<_> = members
                .iter()
                .filter(|(h, s)| data.get(h + 60..h + 64) == Some(b"\x7fELF") && *s > 64)
                .copied()
                .collect();
            if elves.is_empty() {
                return vec![truncate(rng, data)];
            }
            let &(header, size) = rng.pick(&elves);
            let mut member = data[header + 60..header + 60 + size].to_vec();
            let notes = elf(rng, &mut member);
            // Same length keeps the archive's offsets valid (a truncation pads with zeros).
            member.resize(size, 0);
            data[header + 60..header + 60 + size].copy_from_slice(&member);
            format!("member at {header:#x}: {}", notes.join("; "))
        }
    };
    vec![note]
}

/// (header offset, member size) of each member, as long as the headers parse.
fn members(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if !data.starts_with(b"!<arch>\n") {
        return out;
    }
    let mut at = 8;
    while at + 60 <= data.len() {
        let size = std::str::from_utf8(&data[at + 48..at + 58])
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        let Some(size) = size.filter(|&s| at + 60 + s <= data.len()) else {
            break;
        };
        out.push((at, size));
        at += 60 + size + (size & 1);
    }
    out
}

/// Tokens that mean something to a linker script or a version script, and some that break
/// lexers: unbalanced comments and quotes, NULs, invalid UTF-8, very long names.
const SCRIPT_TOKENS: &[&str] = &[
    "GROUP",
    "INPUT",
    "AS_NEEDED",
    "OUTPUT_FORMAT",
    "OUTPUT_ARCH",
    "SEARCH_DIR",
    "ENTRY",
    "SECTIONS",
    "PROVIDE",
    "INCLUDE",
    "(",
    ")",
    "((",
    "))",
    ",",
    ";",
    "{",
    "}",
    "=",
    "*",
    "?",
    "/*",
    "*/",
    "\"",
    "'",
    "-l",
    "-lb",
    "-l:libb.a",
    "=/lib",
    "a.o",
    "libb.a",
    "libb.so",
    "/nonexistent/x.o",
    "\0",
    "\n",
    "\t",
    "global:",
    "local:",
    "extern",
    "\"C++\"",
    "\"C\"",
    "VERS_1",
    "VERS_2",
    "VERS_1.1",
    "entry",
    "lib_*",
    "counter",
    "#",
    "[",
    "]",
    "!",
];

/// Token soup: the script's own tokens dropped, repeated, swapped, or mixed with others.
pub fn script(rng: &mut Rng, data: &mut Vec<u8>) -> Vec<Note> {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut tokens: Vec<String> = tokenize(&text);
    let mut notes = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(tokens.len() + 1);
        match rng.below(7) {
            0 if !tokens.is_empty() => {
                let t = tokens.remove(at.min(tokens.len() - 1));
                notes.push(format!("token {at} ({t:?}) dropped"));
            }
            1 if !tokens.is_empty() => {
                let t = tokens[at.min(tokens.len() - 1)].clone();
                // At most a few MiB of script, whatever the token: the case must stay small.
                let n = (*rng.pick(&[2usize, 10, 1000, 20_000])).min((2 << 20) / (t.len() + 1));
                for _ in 0..n {
                    tokens.insert(at.min(tokens.len()), t.clone());
                }
                notes.push(format!("token {t:?} repeated {n} times at {at}"));
            }
            2 if tokens.len() > 1 => {
                let other = rng.below(tokens.len());
                let at = at.min(tokens.len() - 1);
                tokens.swap(at, other);
                notes.push(format!("tokens {at} and {other} swapped"));
            }
            3 => {
                let name = "x".repeat(*rng.pick(&[256usize, 4096, 1 << 20]));
                notes.push(format!("a {}-byte name inserted at {at}", name.len()));
                tokens.insert(at, name);
            }
            _ => {
                let t = rng.pick(SCRIPT_TOKENS).to_string();
                notes.push(format!("{t:?} inserted at {at}"));
                tokens.insert(at, t);
            }
        }
    }
    *data = tokens.join(" ").into_bytes();
    if rng.below(8) == 0 {
        notes.push(truncate(rng, data));
    }
    if rng.below(16) == 0 {
        data.extend_from_slice(&[0xff, 0xfe, 0x80]);
        notes.push("invalid UTF-8 appended".into());
    }
    notes
}

fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() || "(){};,=".contains(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutation() {
        let seed = b"GROUP ( a.o AS_NEEDED ( libb.so ) )".to_vec();
        let (mut a, mut b) = (seed.clone(), seed.clone());
        let na = script(&mut Rng::new(7), &mut a);
        let nb = script(&mut Rng::new(7), &mut b);
        assert_eq!((a, na), (b, nb));
    }

    #[test]
    fn chained_mutations_never_panic() {
        // An ELF-looking start, then whatever the mutations make of it, many times over.
        let mut elf_bytes = b"\x7fELF\x02\x01\x01".to_vec();
        elf_bytes.resize(4096, 0x41);
        let mut ar = b"!<arch>\n".to_vec();
        for _ in 0..3 {
            ar.extend_from_slice(b"x.o/            0           0     0     644     64        `\n");
            ar.extend_from_slice(&elf_bytes[..64]);
        }
        let mut rng = Rng::new(99);
        for round in 0..500 {
            let (mut e, mut a, mut s) = (elf_bytes.clone(), ar.clone(), b"GROUP ( a.o )".to_vec());
            for _ in 0..1 + round % 5 {
                elf(&mut rng, &mut e);
                archive(&mut rng, &mut a);
            }
            script(&mut rng, &mut s);
        }
    }

    #[test]
    fn tokens_split_at_punctuation() {
        assert_eq!(
            tokenize("V1 { global: f; };"),
            ["V1", "{", "global:", "f", ";", "}", ";"]
        );
    }
}
